//! OpenAI (docs/formats/openai.md): Costs API pages and the dashboard cost export
//! (`openai-costs`, bill rows); Usage API pages and the dashboard activity exports
//! (`openai-usage`, usage rows priced from their tokens).
//!
//! Both read JSON (key paths such as `amount.value`) and the dashboard CSVs (flattened
//! names such as `amount_value`): columns are found by either spelling, so a file is read
//! the same whatever its syntax, and the two forms of one period give the same record ids.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::buckets::{self, find};
use super::identity::KeyHasher;
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::error::quote;
use crate::model::{Kind, Row};
use crate::money::Money;
use crate::pricing::{Aggregate, ServiceTier, Tokens};
use crate::timeparse::{Month, MICROS_PER_DAY};

const PROVIDER: &str = "openai";
const SERVICE: &str = "OpenAI API";

pub static COSTS: Format = Format {
    name: "openai-costs",
    kind: Kind::Bill,
    about: "OpenAI Costs API pages (JSON) and the dashboard cost export (cost_*.csv)",
    doc: "docs/formats/openai.md",
    columns: &[
        "start_time",
        "end_time",
        "amount.value",
        "amount.currency",
        "line_item",
        "project_id",
        "api_key_id",
        "user_id",
        "quantity",
        "quantity_unit",
        "organization_id",
    ],
    required: &["amount.value", "amount.currency", "start_time"],
    detect: detect_costs,
    parser: costs_parser,
};

pub static USAGE: Format = Format {
    name: "openai-usage",
    kind: Kind::Usage,
    about: "OpenAI Usage API pages (JSON) and the dashboard activity exports (completions_usage_*.csv, ...)",
    doc: "docs/formats/openai.md",
    columns: &[
        "start_time",
        "end_time",
        "object",
        "model",
        "project_id",
        "user_id",
        "api_key_id",
        "batch",
        "service_tier",
        "input_tokens",
        "input_cached_tokens",
        "input_cache_write_tokens",
        "output_tokens",
        "num_model_requests",
        "images",
        "characters",
        "seconds",
        "usage_bytes",
        "num_sessions",
        "num_requests",
    ],
    required: &["start_time", "num_model_requests"],
    detect: detect_usage,
    parser: usage_parser,
};

fn detect_costs(p: &Probe) -> u8 {
    let value = p.has("amount.value") || p.has("amount_value");
    let currency = p.has("amount.currency") || p.has("amount_currency");
    let time = p.has("start_time") || p.has("start_time_iso");
    match (value, currency, time) {
        (true, true, true) => 90,
        // Recognised, so that the parser names what is missing.
        (true, _, true) | (true, true, _) => 40,
        _ => 0,
    }
}

/// Usage API metrics: the one every kind but three has, and the others.
const METRICS: &[&str] = &[
    "num_model_requests",
    "input_tokens",
    "output_tokens",
    "images",
    "characters",
    "seconds",
    "usage_bytes",
    "num_sessions",
    "num_requests",
];

fn detect_usage(p: &Probe) -> u8 {
    let time = p.has("start_time") || p.has("start_time_iso");
    if !time || p.has("amount.value") || p.has("amount_value") {
        return 0;
    }
    if p.has("num_model_requests") {
        85
    } else if p.count(METRICS) > 0 {
        60
    } else {
        0
    }
}

// ---------------------------------------------------------------- line items and meters

/// A token meter of a Costs line item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meter {
    Input,
    Cached,
    CacheWrite,
    Output,
}

/// Splits a Costs `line_item` on its last `", "` into (model, meter) when the part before
/// it looks like a model id (no spaces): `gpt-5-nano, input_tokens` → (`gpt-5-nano`,
/// `input_tokens`); `web search tool calls` → (None, the whole text).
pub fn split_line_item(li: &str) -> (Option<&str>, &str) {
    let li = li.trim();
    if let Some((model, meter)) = li.rsplit_once(", ") {
        let model = model.trim();
        if !model.is_empty() && !model.contains(char::is_whitespace) {
            return (Some(model), meter.trim());
        }
    }
    (None, li)
}

/// The token field a meter counts, when that is unambiguous: `input`, `input_tokens`,
/// `cached input`, `cache read`, `cache write`, `output`, `output tokens`... (any case,
/// `_` read as a space). Audio, image and other meters: None.
pub fn meter(m: &str) -> Option<Meter> {
    let m = m.trim().to_ascii_lowercase().replace('_', " ");
    let m = m.strip_suffix(" tokens").unwrap_or(&m);
    match m {
        "input" => Some(Meter::Input),
        "cached input" | "input cached" | "cache read" => Some(Meter::Cached),
        "cache write" | "input cache write" => Some(Meter::CacheWrite),
        "output" => Some(Meter::Output),
        _ => None,
    }
}

/// Tokens from a quantity in `unit`: `tokens` ×1, `1000_tokens` ×1000; None for other
/// units, negative or fractional results.
pub fn token_count(quantity: Money, unit: &str) -> Option<i64> {
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "tokens" => 1,
        "1000_tokens" => 1000,
        _ => return None,
    };
    let q = quantity.checked_mul_int(factor)?;
    let one = 10i128.pow(crate::money::SCALE);
    if q.0 < 0 || q.0 % one != 0 {
        return None;
    }
    i64::try_from(q.0 / one).ok()
}

// ---------------------------------------------------------------- openai-costs

struct CostCols {
    width: usize,
    amount: usize,
    currency: usize,
    start: [Option<usize>; 2],
    end: [Option<usize>; 2],
    line_item: Option<usize>,
    project_id: Option<usize>,
    api_key_id: Option<usize>,
    user_id: Option<usize>,
    quantity: Option<usize>,
    quantity_unit: Option<usize>,
    organization_id: Option<usize>,
    tags: Vec<(&'static str, Option<usize>)>,
}

fn costs_parser<'a>(
    path: &Path,
    headers: &[String],
    _opts: &'a ReadOptions<'a>,
    _notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let f = |names: &[&str]| find(headers, names);
    let amount = f(&["amount.value", "amount_value"]);
    let currency = f(&["amount.currency", "amount_currency"]);
    let start = [f(&["start_time"]), f(&["start_time_iso"])];
    let mut missing = Vec::new();
    if amount.is_none() {
        missing.push("amount_value (API: amount.value)");
    }
    if currency.is_none() {
        missing.push("amount_currency (API: amount.currency)");
    }
    if start.iter().all(Option::is_none) {
        missing.push("start_time");
    }
    if !missing.is_empty() {
        return Err(super::missing_columns(
            path,
            format!("OpenAI cost data without {}", missing.join(", ")),
            "export the cost data again from the dashboard or the Costs API unchanged (docs/formats/openai.md)",
            headers,
        ));
    }
    let cols = CostCols {
        width: headers.len(),
        amount: amount.unwrap_or_default(),
        currency: currency.unwrap_or_default(),
        start,
        end: [f(&["end_time"]), f(&["end_time_iso"])],
        line_item: f(&["line_item"]),
        project_id: f(&["project_id"]),
        api_key_id: f(&["api_key_id"]),
        user_id: f(&["user_id"]),
        quantity: f(&["quantity"]),
        quantity_unit: f(&["quantity_unit"]),
        organization_id: f(&["organization_id"]),
        tags: [
            "project_name",
            "organization_name",
            "user_email",
            "api_source",
        ]
        .into_iter()
        .map(|k| (k, f(&[k])))
        .collect(),
    };
    Ok(Box::new(CostsParser {
        cols: Arc::new(cols),
        counts: ParseCounts::default(),
        key: KeyHasher::new(COSTS.name),
    }))
}

struct CostsParser {
    cols: Arc<CostCols>,
    counts: ParseCounts,
    key: KeyHasher,
}

impl<'a> RowParser<'a> for CostsParser {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        if buckets::only(rec, c.width, &[c.start[0], c.start[1], c.end[0], c.end[1]]) {
            self.counts.skipped += 1;
            self.counts.skipped_what = buckets::SKIPPED;
            return Err(FieldError::skip());
        }
        let cur_text = rec.str(c.currency).ok_or_else(|| {
            FieldError::new(
                rec.name(c.currency),
                None,
                "the amount has no currency",
                "every cost row has amount.currency (e.g. usd); export the file unchanged",
            )
        })?;
        let currency = super::currency(rec.name(c.currency), cur_text)?;
        let (cost, lenient) = rec.money(c.amount, currency.as_str())?.ok_or_else(|| {
            FieldError::new(
                rec.name(c.amount),
                None,
                "the amount is empty",
                "every cost row has an amount in dollars; 0 is a valid amount",
            )
        })?;
        self.counts.formatted += lenient as u64;
        row.cost = cost;
        row.currency = Some(currency);
        let (start, end) = buckets::interval(rec, &c.start, &c.end, "start_time", MICROS_PER_DAY)?;
        row.charge_start = start;
        row.charge_end = end;
        row.billing_period = Some(Month::of_micros(start));
        row.provider.push_str(PROVIDER);
        row.service.push_str(SERVICE);
        rec.push_text(c.line_item, &mut row.sku)?;
        row.description.push_str(&row.sku);
        let (model, meter_text) = split_line_item(&row.sku);
        if let Some(m) = model {
            row.model.push_str(m);
        }
        if let (Some(m), Some(n)) = (meter(meter_text), self.quantity(rec)?) {
            match m {
                Meter::Input => row.input_tokens = Some(n),
                Meter::Cached => {
                    row.cached_input_tokens = Some(n);
                    row.input_tokens = Some(n);
                }
                Meter::CacheWrite => {
                    row.cache_write_tokens = Some(n);
                    row.input_tokens = Some(n);
                }
                Meter::Output => row.output_tokens = Some(n),
            }
        }
        rec.push_text(c.project_id, &mut row.project_id)?;
        rec.push_text(c.api_key_id, &mut row.api_key_id)?;
        rec.push_text(c.user_id, &mut row.user_id)?;
        rec.push_text(c.organization_id, &mut row.billing_account)?;
        buckets::tags(rec, &c.tags, &[], &mut row.tags)?;

        let k = &mut self.key;
        k.reset(COSTS.name);
        k.int("charge_start", Some(start.into()));
        k.int("charge_end", Some(end.into()));
        buckets::key_texts(
            k,
            &[
                ("line_item", &row.sku),
                ("project_id", &row.project_id),
                ("api_key_id", &row.api_key_id),
                ("user_id", &row.user_id),
            ],
        );
        k.canonical("currency", currency.as_str());
        row.record_id = k.finish();
        Ok(())
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(CostsParser {
            cols: self.cols.clone(),
            counts: ParseCounts::default(),
            key: KeyHasher::new(COSTS.name),
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

impl CostsParser {
    /// The row's quantity in tokens, when its unit is one of tokens.
    fn quantity(&self, rec: &Record) -> Result<Option<i64>, FieldError> {
        let c = &*self.cols;
        let (Some(q), Some(u)) = (c.quantity, c.quantity_unit) else {
            return Ok(None);
        };
        let (Some(text), Some(unit)) = (rec.text(q)?, rec.str(u)) else {
            return Ok(None);
        };
        let quantity = Money::parse(&text).map_err(|_| {
            FieldError::new(
                rec.name(q),
                Some(&text),
                format!("{} is not a number", quote(&text)),
                "quantity is a plain number (735000, 1.5e3); export the file unchanged",
            )
        })?;
        Ok(token_count(quantity, unit))
    }
}

// ---------------------------------------------------------------- openai-usage

struct UsageCols {
    width: usize,
    start: [Option<usize>; 2],
    end: [Option<usize>; 2],
    object: Option<usize>,
    model: Option<usize>,
    project_id: Option<usize>,
    user_id: Option<usize>,
    api_key_id: Option<usize>,
    batch: Option<usize>,
    service_tier: Option<usize>,
    input: Option<usize>,
    cached: Option<usize>,
    cache_write: Option<usize>,
    output: Option<usize>,
    requests: Option<usize>,
    /// Metrics of the kinds without tokens (images, characters, ...), for messages.
    others: Vec<usize>,
}

fn usage_parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    _notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let f = |names: &[&str]| find(headers, names);
    let start = [f(&["start_time"]), f(&["start_time_iso"])];
    let has_metric = METRICS.iter().any(|m| f(&[m]).is_some());
    if start.iter().all(Option::is_none) || !has_metric {
        let mut missing = Vec::new();
        if start.iter().all(Option::is_none) {
            missing.push("start_time");
        }
        if !has_metric {
            missing.push("num_model_requests (or another Usage API metric)");
        }
        return Err(super::missing_columns(
            path,
            format!("OpenAI usage data without {}", missing.join(", ")),
            "export the activity data again from the dashboard or the Usage API unchanged (docs/formats/openai.md)",
            headers,
        ));
    }
    let cols = UsageCols {
        width: headers.len(),
        start,
        end: [f(&["end_time"]), f(&["end_time_iso"])],
        object: f(&["object"]),
        model: f(&["model"]),
        project_id: f(&["project_id"]),
        user_id: f(&["user_id"]),
        api_key_id: f(&["api_key_id"]),
        batch: f(&["batch"]),
        service_tier: f(&["service_tier"]),
        input: f(&["input_tokens"]),
        cached: f(&["input_cached_tokens"]),
        cache_write: f(&["input_cache_write_tokens"]),
        output: f(&["output_tokens"]),
        requests: f(&["num_model_requests"]),
        others: [
            "images",
            "characters",
            "seconds",
            "usage_bytes",
            "num_sessions",
            "num_requests",
        ]
        .iter()
        .filter_map(|m| f(&[m]))
        .collect(),
    };
    Ok(Box::new(UsageParser {
        cols: Arc::new(cols),
        opts,
        counts: ParseCounts::default(),
        key: KeyHasher::new(USAGE.name),
    }))
}

struct UsageParser<'a> {
    cols: Arc<UsageCols>,
    opts: &'a ReadOptions<'a>,
    counts: ParseCounts,
    key: KeyHasher,
}

const USAGE_FIX: &str =
    "or ingest the Costs API export (openai-costs) for the money; --skip-invalid ingests the other rows";

impl<'a> RowParser<'a> for UsageParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        if buckets::only(rec, c.width, &[c.start[0], c.start[1], c.end[0], c.end[1]]) {
            self.counts.skipped += 1;
            self.counts.skipped_what = buckets::SKIPPED;
            return Err(FieldError::skip());
        }
        let (start, end) = buckets::interval(rec, &c.start, &c.end, "start_time", 0)?;
        row.charge_start = start;
        row.charge_end = end;
        row.provider.push_str(PROVIDER);
        row.service.push_str(SERVICE);
        let count = |i: Option<usize>| i.map_or(Ok(None), |i| rec.count(i));
        row.input_tokens = count(c.input)?;
        row.cached_input_tokens = count(c.cached)?;
        row.cache_write_tokens = count(c.cache_write)?;
        row.output_tokens = count(c.output)?;
        row.requests = count(c.requests)?;
        rec.push_text(c.model, &mut row.model)?;
        rec.push_text(c.project_id, &mut row.project_id)?;
        rec.push_text(c.user_id, &mut row.user_id)?;
        rec.push_text(c.api_key_id, &mut row.api_key_id)?;
        if row.input_tokens.is_none() && row.output_tokens.is_none() {
            return Err(self.tokenless(rec, row));
        }
        buckets::check_tokens(row, "input_tokens")?;
        let batch = buckets::boolean(rec, c.batch)?;
        let service_tier = match c.service_tier {
            Some(i) => rec.text(i)?.map(|t| t.into_owned()).unwrap_or_default(),
            None => String::new(),
        };
        let batch_text = batch.map_or("", |b| if b { "true" } else { "false" });
        buckets::tags(
            rec,
            &[],
            &[
                ("batch", batch_text.to_string()),
                ("service_tier", service_tier.clone()),
            ],
            &mut row.tags,
        )?;
        let tier = if batch == Some(true) {
            ServiceTier::Batch
        } else {
            ServiceTier::parse(&service_tier)
        };
        let input = row.input_tokens.unwrap_or(0);
        let agg = Aggregate {
            tokens: Tokens {
                input,
                cached: row.cached_input_tokens.unwrap_or(0),
                cache_write: row.cache_write_tokens.unwrap_or(0),
                output: row.output_tokens.unwrap_or(0),
            },
            cache_write_1h: 0,
            tier,
            // The mean input per request, rounded up: above a threshold exactly when the
            // mean is.
            request_input: match row.requests {
                Some(r) if r > 0 => input / r + (input % r != 0) as i64,
                _ => 0,
            },
        };
        buckets::price(self.opts, &mut self.counts, row, &agg, USAGE_FIX)?;

        let k = &mut self.key;
        k.reset(USAGE.name);
        k.int("charge_start", Some(start.into()));
        k.int("charge_end", Some(end.into()));
        buckets::key_texts(
            k,
            &[
                ("model", &row.model),
                ("project_id", &row.project_id),
                ("user_id", &row.user_id),
                ("api_key_id", &row.api_key_id),
                ("batch", batch_text),
                ("service_tier", &service_tier),
            ],
        );
        row.record_id = k.finish();
        Ok(())
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(UsageParser {
            cols: self.cols.clone(),
            opts: self.opts,
            counts: ParseCounts::default(),
            key: KeyHasher::new(USAGE.name),
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

impl UsageParser<'_> {
    /// The error for a result without tokens (images, audio, vector stores...): the price
    /// table prices tokens only.
    fn tokenless(&self, rec: &Record, row: &Row) -> FieldError {
        let c = &*self.cols;
        let kind = c
            .object
            .and_then(|i| rec.str(i))
            .map(|o| {
                o.trim_start_matches("organization.usage.")
                    .trim_end_matches(".result")
                    .to_string()
            })
            .unwrap_or_else(|| "this".to_string());
        let mut counts: Vec<String> = c
            .others
            .iter()
            .filter_map(|&i| rec.str(i).map(|v| format!("{} {v}", rec.name(i))))
            .collect();
        if let Some(r) = row.requests {
            counts.push(format!("num_model_requests {r}"));
        }
        if !row.model.is_empty() {
            counts.push(format!("model {}", row.model));
        }
        let shown = if counts.is_empty() {
            "no counts".to_string()
        } else {
            counts.join(", ")
        };
        FieldError::new(
            "input_tokens",
            None,
            format!(
                "{kind} usage has no token counts ({shown}): the price table prices tokens only, so the row cannot be priced"
            ),
            "its money is in the Costs API export (openai-costs); --skip-invalid ingests the other rows",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_items_split_on_the_last_comma() {
        assert_eq!(
            split_line_item("gpt-4o-2024-08-06, input"),
            (Some("gpt-4o-2024-08-06"), "input")
        );
        assert_eq!(
            split_line_item("gpt-5-nano, input_tokens"),
            (Some("gpt-5-nano"), "input_tokens")
        );
        assert_eq!(
            split_line_item("gpt-4o-mini, cached input"),
            (Some("gpt-4o-mini"), "cached input")
        );
        // The last ", " only.
        assert_eq!(
            split_line_item("ft:gpt-4o-mini:acme::abc123, input"),
            (Some("ft:gpt-4o-mini:acme::abc123"), "input")
        );
        assert_eq!(
            split_line_item("gpt-4o, x, output"),
            (None, "gpt-4o, x, output")
        );
        assert_eq!(
            split_line_item("web search tool calls"),
            (None, "web search tool calls")
        );
        assert_eq!(split_line_item("input_tokens"), (None, "input_tokens"));
        assert_eq!(
            split_line_item("Fine tuning, training"),
            (None, "Fine tuning, training")
        );
    }

    #[test]
    fn token_meters() {
        for (m, want) in [
            ("input", Some(Meter::Input)),
            ("input_tokens", Some(Meter::Input)),
            ("Input tokens", Some(Meter::Input)),
            ("cached input", Some(Meter::Cached)),
            ("cached_input_tokens", Some(Meter::Cached)),
            ("input_cached_tokens", Some(Meter::Cached)),
            ("cache write", Some(Meter::CacheWrite)),
            ("output", Some(Meter::Output)),
            ("output_tokens", Some(Meter::Output)),
            ("audio input", None),
            ("images", None),
            ("input audio tokens", None),
            ("", None),
        ] {
            assert_eq!(meter(m), want, "{m}");
        }
        let m = |s: &str| Money::parse(s).unwrap();
        assert_eq!(token_count(m("735000"), "tokens"), Some(735_000));
        assert_eq!(token_count(m("735000.0"), "tokens"), Some(735_000));
        assert_eq!(token_count(m("120"), "1000_tokens"), Some(120_000));
        assert_eq!(token_count(m("0.5"), "1000_tokens"), Some(500));
        assert_eq!(token_count(m("0.0005"), "1000_tokens"), None);
        assert_eq!(token_count(m("2.5"), "tokens"), None);
        assert_eq!(token_count(m("-3"), "tokens"), None);
        assert_eq!(token_count(m("4"), "images"), None);
    }
}
