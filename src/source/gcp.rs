//! GCP Cloud Billing export (BigQuery standard/detailed tables) → canonical bill rows
//! (docs/formats/gcp.md): NDJSON of the nested rows, or a flattening query's CSV with
//! dotted (`service.description`) or underscore (`service_description`) names and arrays
//! as JSON text. Cost is net of credits; model and token direction come from the SKU text.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value;

use super::gateway::{find, json_text_value};
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{Cell, FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::error::quote;
use crate::model::{tags_json, ChargeCategory, Currency, Kind, Row};
use crate::money::Money;
use crate::timeparse::Month;

pub static FORMAT: Format = Format {
    name: "gcp-billing",
    kind: Kind::Bill,
    about: "GCP Cloud Billing export to BigQuery, as NDJSON or a flattened CSV (Vertex AI SKUs → model, tokens)",
    doc: "docs/formats/gcp.md",
    columns: &[
        "billing_account_id",
        "service.id",
        "service.description",
        "sku.id",
        "sku.description",
        "usage_start_time",
        "usage_end_time",
        "project.id",
        "project.labels",
        "labels",
        "system_labels",
        "tags",
        "location.location",
        "location.region",
        "resource.name",
        "cost",
        "currency",
        "usage.amount",
        "usage.unit",
        "credits",
        "invoice.month",
        "cost_type",
        "adjustment_info.id",
    ],
    required: &["cost", "usage_start_time"],
    detect,
    parser: boxed,
};

/// Columns only the billing export has (either spelling counts).
const SIGNATURE: &[&str] = &[
    "billing_account_id",
    "sku.description",
    "sku_description",
    "service.description",
    "service_description",
    "invoice.month",
    "invoice_month",
    "cost_type",
    "usage_end_time",
    "credits",
    "export_time",
];

fn detect(p: &Probe) -> u8 {
    if !p.has("cost") || !p.has("usage_start_time") {
        return 0;
    }
    if p.count(SIGNATURE) >= 2 {
        80
    } else {
        40
    }
}

fn boxed<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    Ok(Box::new(parser(path, headers, opts, notes)?))
}

struct Cols {
    cost: usize,
    start: usize,
    end: Option<usize>,
    account: Option<usize>,
    service_id: Option<usize>,
    service: Option<usize>,
    sku_id: Option<usize>,
    sku: Option<usize>,
    project: Option<usize>,
    project_labels: Option<usize>,
    labels: Option<usize>,
    system_labels: Option<usize>,
    rm_tags: Option<usize>,
    location: Option<usize>,
    region: Option<usize>,
    resource: Option<usize>,
    currency: Option<usize>,
    usage_amount: Option<usize>,
    usage_unit: Option<usize>,
    credits: Option<usize>,
    invoice_month: Option<usize>,
    cost_type: Option<usize>,
    adjustment_id: Option<usize>,
}

/// A column by its dotted name, or the same name with `_` for the dot (`invoice_month`).
fn col(headers: &[String], dotted: &str) -> Option<usize> {
    let flat = dotted.replace('.', "_");
    find(headers, &[dotted, &flat])
}

pub fn parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<GcpParser<'a>> {
    let (Some(cost), Some(start)) = (col(headers, "cost"), col(headers, "usage_start_time")) else {
        let missing: Vec<&str> = ["cost", "usage_start_time"]
            .into_iter()
            .filter(|c| col(headers, c).is_none())
            .collect();
        return Err(super::missing_columns(
            path,
            format!(
                "a GCP billing export without the column(s) {}",
                missing.join(", ")
            ),
            "export the billing table's cost and usage_start_time fields (docs/formats/gcp.md)",
            headers,
        ));
    };
    let c = |n: &str| col(headers, n);
    let cols = Cols {
        cost,
        start,
        end: c("usage_end_time"),
        account: c("billing_account_id"),
        service_id: c("service.id"),
        service: c("service.description"),
        sku_id: c("sku.id"),
        sku: c("sku.description"),
        project: c("project.id"),
        project_labels: c("project.labels"),
        labels: c("labels"),
        system_labels: c("system_labels"),
        rm_tags: c("tags"),
        location: c("location.location"),
        region: c("location.region"),
        resource: c("resource.name"),
        currency: c("currency"),
        usage_amount: c("usage.amount"),
        usage_unit: c("usage.unit"),
        credits: c("credits"),
        invoice_month: c("invoice.month"),
        cost_type: c("cost_type"),
        adjustment_id: c("adjustment_info.id"),
    };
    if cols.currency.is_none() {
        notes.push(format!(
            "no currency column: amounts are read as {} (--currency names another)",
            opts.default_currency
        ));
    }
    if cols.invoice_month.is_none() {
        notes.push("no invoice.month column: each charge is billed in its own month".into());
    }
    if cols.credits.is_none() {
        notes.push("no credits column: costs are taken as they are, before any credits".into());
    }
    Ok(GcpParser {
        cols: Arc::new(cols),
        opts,
        skus: HashMap::new(),
        key: KeyHasher::new("gcp-billing"),
        counts: ParseCounts::default(),
    })
}

/// Parses billing export records; one per worker thread.
pub struct GcpParser<'a> {
    cols: Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    /// What the SKU rules made of each description seen (few distinct SKUs).
    skus: HashMap<String, Arc<Sku>>,
    key: KeyHasher,
    counts: ParseCounts,
}

impl<'a> RowParser<'a> for GcpParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        self.fill(rec, row)
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(GcpParser {
            cols: self.cols.clone(),
            opts: self.opts,
            skus: HashMap::new(),
            key: KeyHasher::new("gcp-billing"),
            counts: ParseCounts::default(),
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

impl GcpParser<'_> {
    fn fill(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let cols = self.cols.clone();
        let cols = &*cols;
        let currency = match cols.currency.map(|i| rec.text(i)).transpose()?.flatten() {
            Some(c) => super::currency(rec.name(cols.currency.unwrap_or(0)), &c)?,
            None => self.opts.default_currency,
        };
        let (gross, lenient) = rec.money(cols.cost, currency.as_str())?.ok_or_else(|| {
            FieldError::new(
                rec.name(cols.cost),
                None,
                "the cost is empty",
                "every billing row has a cost (0 when nothing was charged)",
            )
        })?;
        self.counts.formatted += lenient as u64;
        let credits = match cols.credits {
            Some(i) => credits(rec, i, currency)?,
            None => Money::ZERO,
        };
        let net = gross.try_add(credits).map_err(|_| {
            FieldError::new(
                rec.name(cols.cost),
                Some(&gross.to_string()),
                "the cost plus its credits is beyond 10^20",
                "check the cost and credits columns",
            )
        })?;
        row.provider.push_str("gcp");
        row.cost = net;
        row.effective_cost = Some(net);
        row.list_cost = Some(gross);
        row.currency = Some(currency);
        row.charge_start = rec.time(cols.start)?.ok_or_else(|| {
            FieldError::new(
                rec.name(cols.start),
                None,
                "usage_start_time is empty",
                "every billing row has a usage window (usage_start_time, usage_end_time)",
            )
        })?;
        row.charge_end = match cols.end {
            Some(i) => rec.time(i)?.unwrap_or(row.charge_start),
            None => row.charge_start,
        };
        row.billing_period = Some(match cols.invoice_month {
            Some(i) => match rec.text(i)? {
                Some(m) => invoice_month(&m).ok_or_else(|| {
                    FieldError::new(
                        rec.name(i),
                        Some(&m),
                        format!("{} is not an invoice month", quote(&m)),
                        "invoice.month is written YYYYMM, e.g. 202506",
                    )
                })?,
                None => Month::of_micros(row.charge_start),
            },
            None => Month::of_micros(row.charge_start),
        });
        row.charge_category = match cols.cost_type {
            Some(i) => match rec.text(i)? {
                Some(t) => category(&t).ok_or_else(|| {
                    FieldError::new(
                        rec.name(i),
                        Some(&t),
                        format!("{} is not a GCP cost_type", quote(&t)),
                        "cost_type is one of regular, tax, adjustment, rounding error",
                    )
                })?,
                None => ChargeCategory::Usage,
            },
            None => ChargeCategory::Usage,
        };
        rec.push_text(cols.service, &mut row.service)?;
        rec.push_text(cols.sku_id, &mut row.sku)?;
        rec.push_text(cols.sku, &mut row.description)?;
        rec.push_text(cols.account, &mut row.billing_account)?;
        rec.push_text(cols.project, &mut row.project_id)?;
        row.sub_account.push_str(&row.project_id);
        rec.push_text(cols.resource, &mut row.resource_id)?;
        rec.push_text(cols.region, &mut row.region)?;
        if row.region.is_empty() {
            rec.push_text(cols.location, &mut row.region)?;
        }
        self.tokens(rec, row)?;
        let mut tags = BTreeMap::new();
        // Lowest first: a later source wins on the same key (resource labels last).
        for i in [
            cols.rm_tags,
            cols.system_labels,
            cols.project_labels,
            cols.labels,
        ]
        .into_iter()
        .flatten()
        {
            labels(rec, i, &mut tags)?;
        }
        row.tags.push_str(&tags_json(&tags));
        self.identity(rec, row);
        Ok(())
    }

    /// Model and token counts from the SKU text (docs/formats/gcp.md#vertex-ai-skus).
    fn tokens(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        if row.description.is_empty() {
            return Ok(());
        }
        let sku = match self.skus.get(&row.description) {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(sku_rule(&row.description));
                if self.skus.len() < 100_000 {
                    self.skus.insert(row.description.clone(), s.clone());
                }
                s
            }
        };
        row.model.push_str(&sku.model);
        let Some(dir) = sku.direction else {
            return Ok(());
        };
        let cols = self.cols.clone();
        let unit = match cols.usage_unit {
            Some(i) => rec.text(i)?.map(|u| u.to_ascii_lowercase()),
            None => None,
        };
        if !matches!(unit.as_deref(), Some("count" | "token" | "tokens")) {
            return Ok(());
        }
        let Some(i) = cols.usage_amount else {
            return Ok(());
        };
        let Some(n) = token_count(rec, i)? else {
            return Ok(());
        };
        match dir {
            Direction::Output => row.output_tokens = Some(n),
            Direction::Input => row.input_tokens = Some(n),
            Direction::Cached => {
                row.input_tokens = Some(n);
                row.cached_input_tokens = Some(n);
            }
            Direction::CacheWrite => {
                row.input_tokens = Some(n);
                row.cache_write_tokens = Some(n);
            }
        }
        Ok(())
    }

    /// The row's dimensions, typed (not export_time, not the metrics): a re-export of the
    /// same rows replaces them; NDJSON and CSV of one export agree.
    fn identity(&mut self, rec: &Record, row: &mut Row) {
        let cols = self.cols.clone();
        let k = &mut self.key;
        k.reset("gcp-billing");
        let any = KeyKind::Any;
        for (name, i) in [
            ("billing_account_id", cols.account),
            ("service.id", cols.service_id.or(cols.service)),
            ("sku.id", cols.sku_id),
            ("sku.description", cols.sku),
            ("project.id", cols.project),
            ("resource.name", cols.resource),
            ("cost_type", cols.cost_type),
            ("adjustment_info.id", cols.adjustment_id),
        ] {
            if let Some(i) = i {
                rec.key(k, name, i, any);
            }
        }
        k.int("usage_start_time", Some(row.charge_start.into()));
        k.int("usage_end_time", Some(row.charge_end.into()));
        k.canonical("location", &row.region);
        k.canonical("tags", &row.tags);
        if let Some(m) = row.billing_period {
            k.canonical("invoice.month", &m.to_string());
        }
        if let Some(c) = row.currency {
            k.canonical("currency", c.as_str());
        }
        row.record_id = k.finish();
    }
}

/// `YYYYMM` (also `YYYY-MM`) → a month.
fn invoice_month(t: &str) -> Option<Month> {
    let t = t.trim();
    let (y, m) = match t.len() {
        6 if t.bytes().all(|b| b.is_ascii_digit()) => (&t[..4], &t[4..]),
        7 if t.as_bytes()[4] == b'-' => (&t[..4], &t[5..]),
        _ => return None,
    };
    let (y, m): (i64, u32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then(|| Month::new(y, m))
}

fn category(t: &str) -> Option<ChargeCategory> {
    Some(match t.trim().to_ascii_lowercase().as_str() {
        "regular" | "" => ChargeCategory::Usage,
        "tax" => ChargeCategory::Tax,
        "adjustment" | "rounding error" => ChargeCategory::Adjustment,
        _ => return None,
    })
}

/// The sum of a row's credits: a JSON array of `{amount, ...}` (nested or as text), or one
/// number (a query's pre-summed credits), or nothing.
fn credits(rec: &Record, i: usize, currency: Currency) -> Result<Money, FieldError> {
    let name = rec.name(i);
    let is_array = match rec.cell(i) {
        Cell::Json(_) => true,
        Cell::Text(t) => t.trim_start().starts_with('['),
        _ => false,
    };
    if !is_array {
        return Ok(rec
            .money(i, currency.as_str())?
            .map_or(Money::ZERO, |m| m.0));
    }
    let v = rec.json(i)?.unwrap_or_default();
    let bad = |shown: &str, reason: String| {
        FieldError::new(
            name,
            Some(shown),
            reason,
            "credits are an array of {\"amount\": -1.5, ...} (or one number: their sum)",
        )
    };
    let Value::Array(items) = &*v else {
        return Err(bad(&v.to_string(), "credits are not an array".into()));
    };
    let mut sum = Money::ZERO;
    for c in items {
        let amount = match c.get("amount") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => continue,
            Some(other) => {
                return Err(bad(
                    &c.to_string(),
                    format!(
                        "a credit amount {} is not a number",
                        quote(&other.to_string())
                    ),
                ))
            }
        };
        let m = Money::parse(&amount).map_err(|e| FieldError::money(name, &amount, &e))?;
        sum = sum
            .try_add(m)
            .map_err(|_| bad(&amount, "the credits add up beyond 10^20".into()))?;
    }
    Ok(sum)
}

/// Labels into `tags`: an array of `{key, value}` or an object (nested or as JSON text);
/// a later key wins.
fn labels(rec: &Record, i: usize, tags: &mut BTreeMap<String, String>) -> Result<(), FieldError> {
    let Some(v) = rec.json(i)? else {
        return Ok(());
    };
    let name = rec.name(i);
    let bad = |shown: String, reason: &str| {
        FieldError::new(
            name,
            Some(&shown),
            format!("{}: {reason}", quote(&shown)),
            "labels are an array of {\"key\": ..., \"value\": ...} or an object {\"team\": \"search\"}",
        )
    };
    match &*v {
        Value::Array(items) => {
            for p in items {
                let Some(Value::String(k)) = p.get("key") else {
                    return Err(bad(p.to_string(), "a label without a text key"));
                };
                let value = match p.get("value") {
                    None => String::new(),
                    Some(x) => json_text_value(x)
                        .ok_or_else(|| bad(p.to_string(), "a label value that is not text"))?,
                };
                tags.insert(k.clone(), value);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let value = json_text_value(x)
                    .ok_or_else(|| bad(x.to_string(), "a label value that is not text"))?;
                tags.insert(k.clone(), value);
            }
        }
        Value::Null => {}
        other => return Err(bad(other.to_string(), "labels are not an array or object")),
    }
    Ok(())
}

/// `usage.amount` of a token SKU: a whole number of 0 or more, written any way a FLOAT64
/// comes out (`2500000.0`, `2.0E5`).
fn token_count(rec: &Record, i: usize) -> Result<Option<i64>, FieldError> {
    let Some(t) = rec.text(i)? else {
        return Ok(None);
    };
    let not_whole = || {
        FieldError::new(
            rec.name(i),
            Some(&t),
            format!(
                "{} is not a whole number of tokens (the SKU counts tokens)",
                quote(&t)
            ),
            "usage.amount of a token SKU is a count of tokens, 0 or more",
        )
    };
    let m = Money::parse(&t).map_err(|_| not_whole())?;
    let one = 10i128.pow(crate::money::SCALE);
    if m.0 < 0 || m.0 % one != 0 {
        return Err(not_whole());
    }
    i64::try_from(m.0 / one).map(Some).map_err(|_| not_whole())
}

/// Which token field a SKU's usage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Input,
    Cached,
    CacheWrite,
    Output,
}

/// What the SKU rules make of a description.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sku {
    model: String,
    direction: Option<Direction>,
}

const FAMILIES: &[&str] = &[
    "gemini",
    "gemma",
    "claude",
    "llama",
    "mistral",
    "mixtral",
    "codestral",
    "jamba",
];
/// Words that end a model's name.
const NOT_NAME: &[&str] = &[
    "input",
    "output",
    "text",
    "image",
    "video",
    "audio",
    "cached",
    "cache",
    "caching",
    "context",
    "tokens",
    "token",
    "characters",
    "character",
    "predictions",
    "prediction",
    "thinking",
    "reasoning",
    "batch",
    "long",
    "short",
    "tuning",
    "tuned",
    "grounding",
    "storage",
    "-",
];
/// Units other than tokens: a SKU naming one does not count tokens.
const NOT_TOKENS: &[&str] = &[
    "characters",
    "character",
    "storage",
    "seconds",
    "second",
    "hour",
    "hours",
    "requests",
    "request",
    "images",
    "node",
];

/// The SKU rules of docs/formats/gcp.md: model from a family word up to the first word that
/// is not part of a name; direction from Input/Output; cache reads and writes.
fn sku_rule(text: &str) -> Sku {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let Some(start) = words.iter().position(|w| FAMILIES.contains(&w.as_str())) else {
        return Sku::default();
    };
    let mut end = start + 1;
    while end < words.len()
        && !NOT_NAME.contains(&words[end].as_str())
        && !words[end].starts_with('(')
    {
        end += 1;
    }
    let model = words[start..end].join("-");
    let rest = &words[end..];
    let has = |w: &str| rest.iter().any(|r| r == w);
    if rest.iter().any(|r| NOT_TOKENS.contains(&r.as_str())) {
        return Sku {
            model,
            direction: None,
        };
    }
    let direction = match (has("input"), has("output")) {
        (true, false) => Some(if has("cached") || (has("cache") && has("read")) {
            Direction::Cached
        } else if has("cache") && (has("write") || has("creation")) {
            Direction::CacheWrite
        } else {
            Direction::Input
        }),
        (false, true) => Some(Direction::Output),
        _ => None,
    };
    Sku { model, direction }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(t: &str) -> (String, Option<Direction>) {
        let s = sku_rule(t);
        (s.model, s.direction)
    }

    #[test]
    fn vertex_skus_give_model_and_direction() {
        use Direction::*;
        let cases = [
            (
                "Gemini 2.5 Pro Input Text Tokens",
                "gemini-2.5-pro",
                Some(Input),
            ),
            (
                "Gemini 2.5 Pro Output Text Tokens",
                "gemini-2.5-pro",
                Some(Output),
            ),
            (
                "Gemini 2.5 Flash Text Input - Predictions",
                "gemini-2.5-flash",
                Some(Input),
            ),
            (
                "Gemini 2.5 Flash Text Output - Predictions",
                "gemini-2.5-flash",
                Some(Output),
            ),
            (
                "Gemini 2.5 Flash Cached Input Text Tokens",
                "gemini-2.5-flash",
                Some(Cached),
            ),
            (
                "Gemini 2.5 Flash Thinking Output Text Tokens",
                "gemini-2.5-flash",
                Some(Output),
            ),
            (
                "Gemini 2.5 Pro Long Input Text Tokens (>200K)",
                "gemini-2.5-pro",
                Some(Input),
            ),
            (
                "Gemini 2.0 Flash-Lite Audio Input",
                "gemini-2.0-flash-lite",
                Some(Input),
            ),
            (
                "Claude Sonnet 4.5 Output Tokens",
                "claude-sonnet-4.5",
                Some(Output),
            ),
            (
                "Claude Sonnet 4.5 Cache Write Input Tokens",
                "claude-sonnet-4.5",
                Some(CacheWrite),
            ),
            (
                "Claude Haiku 4.5 Cache Read Input Tokens",
                "claude-haiku-4.5",
                Some(Cached),
            ),
            // a model, but not tokens
            (
                "Gemini 2.5 Pro Context Cache Storage",
                "gemini-2.5-pro",
                None,
            ),
            ("Gemini 1.0 Pro Input Characters", "gemini-1.0-pro", None),
            // neither or both directions
            ("Gemini 2.5 Pro Grounding Requests", "gemini-2.5-pro", None),
            ("Gemini 2.5 Pro Batch Tokens", "gemini-2.5-pro", None),
            // no family word: no model
            ("Custom Model Serving n1-standard-4 Node Hours", "", None),
            ("Standard Storage US Multi-region", "", None),
            ("Tax", "", None),
            ("", "", None),
        ];
        for (text, model, dir) in cases {
            assert_eq!(rule(text), (model.to_string(), dir), "{text}");
        }
    }

    #[test]
    fn invoice_months_and_cost_types() {
        assert_eq!(invoice_month("202506"), Some(Month::new(2025, 6)));
        assert_eq!(invoice_month("2025-06"), Some(Month::new(2025, 6)));
        assert_eq!(invoice_month("202513"), None);
        assert_eq!(invoice_month("2025"), None);
        assert_eq!(category("Rounding Error"), Some(ChargeCategory::Adjustment));
        assert_eq!(category("tax"), Some(ChargeCategory::Tax));
        assert_eq!(category("refund"), None);
    }
}
