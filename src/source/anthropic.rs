//! Anthropic (docs/formats/anthropic.md): the Admin API cost report and the Console cost
//! CSV (`anthropic-cost`, bill rows); the messages usage report and the Console usage CSV
//! (`anthropic-usage`, usage rows priced from their tokens).
//!
//! The API and the Console name things differently (cents vs dollars, ids vs display
//! names): each parser reads either, chosen by the columns the file has.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::buckets::{self, find};
use super::identity::KeyHasher;
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::error::quote;
use crate::model::{Currency, Kind, Row};
use crate::money::{parse_scaled, Money, MoneyError};
use crate::pricing::{Aggregate, ServiceTier, Tokens};
use crate::timeparse::{Micros, Month, MICROS_PER_DAY};

const PROVIDER: &str = "anthropic";
const SERVICE: &str = "Claude API";
const MICROS_PER_HOUR: Micros = 3_600_000_000;

pub static COST: Format = Format {
    name: "anthropic-cost",
    kind: Kind::Bill,
    about: "Anthropic cost report pages (JSON, amounts in cents) and the Console cost CSV",
    doc: "docs/formats/anthropic.md",
    columns: &[
        "starting_at",
        "ending_at",
        "amount",
        "currency",
        "workspace_id",
        "description",
        "cost_type",
        "model",
        "token_type",
        "service_tier",
        "context_window",
        "inference_geo",
        "speed",
    ],
    required: &["amount", "currency", "starting_at"],
    detect: detect_cost,
    parser: cost_parser,
};

pub static USAGE: Format = Format {
    name: "anthropic-usage",
    kind: Kind::Usage,
    about: "Anthropic messages usage report pages (JSON) and the Console usage CSV",
    doc: "docs/formats/anthropic.md",
    columns: &[
        "starting_at",
        "ending_at",
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
        "speed",
        "account_id",
        "service_account_id",
        "uncached_input_tokens",
        "cache_read_input_tokens",
        "cache_creation.ephemeral_5m_input_tokens",
        "cache_creation.ephemeral_1h_input_tokens",
        "output_tokens",
        "server_tool_use.web_search_requests",
    ],
    required: &["starting_at", "uncached_input_tokens"],
    detect: detect_usage,
    parser: usage_parser,
};

fn detect_cost(p: &Probe) -> u8 {
    let api = p.has("amount") && p.has("currency") && !p.has("amount.value");
    let api_time = p.has("starting_at");
    let console = p.has("cost_usd");
    let console_time = p.has("usage_date_utc");
    if (api && api_time) || (console && console_time) {
        90
    } else if api || console || (api_time && p.has("cost_type")) {
        40
    } else {
        0
    }
}

fn detect_usage(p: &Probe) -> u8 {
    let api = p.has("uncached_input_tokens");
    let console = p.has("usage_input_tokens_no_cache");
    if (api && p.has("starting_at")) || (console && p.has("usage_date_utc")) {
        90
    } else if api || console {
        40
    } else {
        0
    }
}

/// A Console display name as the model's alias: `Claude Sonnet 4.5` → `claude-sonnet-4-5`,
/// `Claude 3.5 Haiku` → `claude-3-5-haiku`. An API id (no spaces) is kept as written.
pub fn model_id(name: &str) -> String {
    let t = name.trim();
    if !t.contains(char::is_whitespace) {
        return t.to_string();
    }
    t.to_lowercase()
        .replace('.', "-")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
}

/// The API's context-window labels for the Console's: `≤ 200k` → `0-200k`, `> 200k` →
/// `200k-1M`; others as written.
pub fn context_window(v: &str) -> String {
    let t = v.trim();
    let squeezed: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    match squeezed.to_ascii_lowercase().as_str() {
        "≤200k" | "<=200k" | "<200k" | "0-200k" => "0-200k".into(),
        ">200k" | "200k-1m" | "≥200k" | ">=200k" => "200k-1M".into(),
        _ => t.to_string(),
    }
}

/// A cost report amount: a decimal string in cents → dollars, exactly (one rounding, half
/// to even, past the 18th decimal place of dollars).
pub fn cents(text: &str) -> Result<Money, MoneyError> {
    let units = parse_scaled(text.trim_ascii().as_bytes(), crate::money::SCALE - 2)?;
    Money::from_decimal(units, crate::money::SCALE)
}

/// The `[start, end)` of a Console row: `usage_date_utc` is a day, or an hour when it has
/// a time of day.
fn console_interval(rec: &Record, i: usize) -> Result<(Micros, Micros), FieldError> {
    let (start, _) = buckets::interval(rec, &[Some(i)], &[], rec.name(i), 0)?;
    let hourly = rec.str(i).is_some_and(|t| t.len() > 10);
    let width = if hourly {
        MICROS_PER_HOUR
    } else {
        MICROS_PER_DAY
    };
    Ok((start, start + width))
}

// ---------------------------------------------------------------- anthropic-cost

enum CostLayout {
    Api {
        amount: usize,
        currency: usize,
        start: usize,
        end: Option<usize>,
        workspace_id: Option<usize>,
        description: Option<usize>,
    },
    Console {
        cost: usize,
        list: Option<usize>,
        date: usize,
        api_key_id: Option<usize>,
        workspace: Option<usize>,
        api_key: Option<usize>,
        usage_type: Option<usize>,
        api_key_status: Option<usize>,
    },
}

struct CostCols {
    layout: CostLayout,
    model: Option<usize>,
    cost_type: Option<usize>,
    token_type: Option<usize>,
    service_tier: Option<usize>,
    context_window: Option<usize>,
    inference_geo: Option<usize>,
    speed: Option<usize>,
}

fn missing_error(path: &Path, what: &str, missing: &[&str], headers: &[String]) -> anyhow::Error {
    super::missing_columns(
        path,
        format!("{what} without {}", missing.join(", ")),
        "export it again unchanged (docs/formats/anthropic.md)",
        headers,
    )
}

fn cost_parser<'a>(
    path: &Path,
    headers: &[String],
    _opts: &'a ReadOptions<'a>,
    _notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let f = |n: &str| find(headers, &[n]);
    let layout = if f("cost_usd").is_some() || f("usage_date_utc").is_some() {
        let (Some(cost), Some(date)) = (f("cost_usd"), f("usage_date_utc")) else {
            let missing: Vec<&str> = ["cost_usd", "usage_date_utc"]
                .into_iter()
                .filter(|n| f(n).is_none())
                .collect();
            return Err(missing_error(
                path,
                "an Anthropic Console cost file",
                &missing,
                headers,
            ));
        };
        CostLayout::Console {
            cost,
            list: f("list_price_usd"),
            date,
            api_key_id: f("api_key_id"),
            workspace: f("workspace"),
            api_key: f("api_key"),
            usage_type: f("usage_type"),
            api_key_status: f("api_key_status"),
        }
    } else {
        let (Some(amount), Some(currency), Some(start)) =
            (f("amount"), f("currency"), f("starting_at"))
        else {
            let missing: Vec<&str> = ["amount", "currency", "starting_at"]
                .into_iter()
                .filter(|n| f(n).is_none())
                .collect();
            return Err(missing_error(
                path,
                "an Anthropic cost report",
                &missing,
                headers,
            ));
        };
        CostLayout::Api {
            amount,
            currency,
            start,
            end: f("ending_at"),
            workspace_id: f("workspace_id"),
            description: f("description"),
        }
    };
    let cols = CostCols {
        layout,
        model: f("model"),
        cost_type: f("cost_type"),
        token_type: f("token_type"),
        service_tier: f("service_tier"),
        context_window: f("context_window"),
        inference_geo: f("inference_geo"),
        speed: f("speed"),
    };
    Ok(Box::new(CostParser {
        cols: Arc::new(cols),
        counts: ParseCounts::default(),
        key: KeyHasher::new(COST.name),
    }))
}

struct CostParser {
    cols: Arc<CostCols>,
    counts: ParseCounts,
    key: KeyHasher,
}

/// A cell's text, owned (empty when null).
fn text(rec: &Record, i: Option<usize>) -> Result<String, FieldError> {
    let mut s = String::new();
    rec.push_text(i, &mut s)?;
    Ok(s)
}

impl<'a> RowParser<'a> for CostParser {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        row.provider.push_str(PROVIDER);
        row.service.push_str(SERVICE);
        let token_type = text(rec, c.token_type)?;
        let cost_type = text(rec, c.cost_type)?;
        let context = context_window(&text(rec, c.context_window)?);
        let inference_geo = text(rec, c.inference_geo)?;
        let speed = text(rec, c.speed)?;
        row.sku.push_str(if token_type.is_empty() {
            &cost_type
        } else {
            &token_type
        });
        let k = &mut self.key;
        k.reset(COST.name);
        match &c.layout {
            CostLayout::Api {
                amount,
                currency,
                start,
                end,
                workspace_id,
                description,
            } => {
                let cur_text = rec.str(*currency).ok_or_else(|| {
                    FieldError::new(
                        "currency",
                        None,
                        "the amount has no currency",
                        "every cost report row has a currency (USD); export the file unchanged",
                    )
                })?;
                let cur = super::currency("currency", cur_text)?;
                row.cost = self::amount(rec, *amount)?;
                row.currency = Some(cur);
                let (s, e) = buckets::interval(
                    rec,
                    &[Some(*start)],
                    &[*end],
                    "starting_at",
                    MICROS_PER_DAY,
                )?;
                row.charge_start = s;
                row.charge_end = e;
                rec.push_text(*workspace_id, &mut row.workspace_id)?;
                rec.push_text(*description, &mut row.description)?;
                rec.push_text(c.model, &mut row.model)?;
                k.int("charge_start", Some(s.into()));
                k.int("charge_end", Some(e.into()));
                k.canonical("currency", cur.as_str());
                buckets::key_texts(
                    k,
                    &[
                        ("workspace_id", &row.workspace_id),
                        ("description", &row.description),
                        ("model", &row.model),
                    ],
                );
                let service_tier = text(rec, c.service_tier)?;
                buckets::tags(
                    rec,
                    &[],
                    &[
                        ("cost_type", cost_type.clone()),
                        ("service_tier", service_tier.clone()),
                        ("context_window", context.clone()),
                        ("inference_geo", inference_geo.clone()),
                        ("speed", speed.clone()),
                    ],
                    &mut row.tags,
                )?;
                buckets::key_texts(k, &[("service_tier", &service_tier)]);
            }
            CostLayout::Console {
                cost,
                list,
                date,
                api_key_id,
                workspace,
                api_key,
                usage_type,
                api_key_status,
            } => {
                let (m, lenient) = rec.money(*cost, "USD")?.ok_or_else(|| {
                    FieldError::new(
                        "cost_usd",
                        None,
                        "the amount is empty",
                        "every row of the Console cost file has cost_usd; 0 is a valid amount",
                    )
                })?;
                self.counts.formatted += lenient as u64;
                row.cost = m;
                if let Some(l) = list {
                    if let Some((m, lenient)) = rec.money(*l, "USD")? {
                        self.counts.formatted += lenient as u64;
                        row.list_cost = Some(m);
                    }
                }
                row.currency = Some(Currency::USD);
                let (s, e) = console_interval(rec, *date)?;
                row.charge_start = s;
                row.charge_end = e;
                let display = text(rec, c.model)?;
                row.model.push_str(&model_id(&display));
                row.description.push_str(&display);
                rec.push_text(*api_key_id, &mut row.api_key_id)?;
                let workspace = text(rec, *workspace)?;
                let api_key = text(rec, *api_key)?;
                let usage_type = text(rec, *usage_type)?;
                buckets::tags(
                    rec,
                    &[],
                    &[
                        ("workspace", workspace.clone()),
                        ("api_key", api_key.clone()),
                        ("usage_type", usage_type.clone()),
                        ("cost_type", cost_type.clone()),
                        ("context_window", context.clone()),
                        ("inference_geo", inference_geo.clone()),
                        ("speed", speed.clone()),
                        ("api_key_status", text(rec, *api_key_status)?),
                    ],
                    &mut row.tags,
                )?;
                k.int("charge_start", Some(s.into()));
                k.int("charge_end", Some(e.into()));
                buckets::key_texts(
                    k,
                    &[
                        ("model", &display),
                        ("workspace", &workspace),
                        ("api_key", &api_key),
                        ("api_key_id", &row.api_key_id),
                        ("usage_type", &usage_type),
                    ],
                );
            }
        }
        row.billing_period = Some(Month::of_micros(row.charge_start));
        buckets::key_texts(
            k,
            &[
                ("token_type", &token_type),
                ("cost_type", &cost_type),
                ("context_window", &context),
                ("inference_geo", &inference_geo),
                ("speed", &speed),
            ],
        );
        row.record_id = k.finish();
        Ok(())
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(CostParser {
            cols: self.cols.clone(),
            counts: ParseCounts::default(),
            key: KeyHasher::new(COST.name),
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

/// The cost report's `amount`: a decimal string (or number) in cents, as dollars.
fn amount(rec: &Record, i: usize) -> Result<Money, FieldError> {
    let t = rec.text(i)?.ok_or_else(|| {
        FieldError::new(
            "amount",
            None,
            "the amount is empty",
            "every cost report row has an amount, a decimal string in cents (\"123.45\" = $1.2345)",
        )
    })?;
    cents(&t).map_err(|e| {
        FieldError::new(
            "amount",
            Some(&t),
            format!("{} {}", quote(&t), e.reason()),
            "the cost report's amount is a decimal string in cents, such as \"123.45\" ($1.2345); export the file unchanged",
        )
    })
}

// ---------------------------------------------------------------- anthropic-usage

struct UsageCols {
    console: bool,
    start: usize,
    end: Option<usize>,
    uncached: Option<usize>,
    read: Option<usize>,
    write_5m: Option<usize>,
    write_1h: Option<usize>,
    output: Option<usize>,
    web_search: Option<usize>,
    model: Option<usize>,
    api_key_id: Option<usize>,
    workspace_id: Option<usize>,
    account_id: Option<usize>,
    service_account_id: Option<usize>,
    service_tier: Option<usize>,
    context_window: Option<usize>,
    inference_geo: Option<usize>,
    speed: Option<usize>,
    /// Console: key and workspace names, usage type.
    api_key: Option<usize>,
    workspace: Option<usize>,
    usage_type: Option<usize>,
}

fn usage_parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    _notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let f = |n: &str| find(headers, &[n]);
    let console = f("usage_input_tokens_no_cache").is_some() || f("usage_date_utc").is_some();
    let (time, uncached) = if console {
        ("usage_date_utc", "usage_input_tokens_no_cache")
    } else {
        ("starting_at", "uncached_input_tokens")
    };
    let missing: Vec<&str> = [time, uncached]
        .into_iter()
        .filter(|n| f(n).is_none())
        .collect();
    if !missing.is_empty() {
        let what = if console {
            "an Anthropic Console usage file"
        } else {
            "an Anthropic usage report"
        };
        return Err(missing_error(path, what, &missing, headers));
    }
    let pick = |api: &str, csv: &str| if console { f(csv) } else { f(api) };
    let cols = UsageCols {
        console,
        start: f(time).unwrap_or_default(),
        end: if console { None } else { f("ending_at") },
        uncached: f(uncached),
        read: pick("cache_read_input_tokens", "usage_input_tokens_cache_read"),
        write_5m: pick(
            "cache_creation.ephemeral_5m_input_tokens",
            "usage_input_tokens_cache_write_5m",
        ),
        write_1h: pick(
            "cache_creation.ephemeral_1h_input_tokens",
            "usage_input_tokens_cache_write_1h",
        ),
        output: pick("output_tokens", "usage_output_tokens"),
        web_search: pick("server_tool_use.web_search_requests", "web_search_count"),
        model: pick("model", "model_version"),
        api_key_id: f("api_key_id"),
        workspace_id: f("workspace_id"),
        account_id: f("account_id"),
        service_account_id: f("service_account_id"),
        service_tier: f("service_tier"),
        context_window: f("context_window"),
        inference_geo: f("inference_geo"),
        speed: f("speed"),
        api_key: if console { f("api_key") } else { None },
        workspace: if console { f("workspace") } else { None },
        usage_type: if console { f("usage_type") } else { None },
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
    "or ingest the cost report (anthropic-cost) for the money; --skip-invalid ingests the other rows";

impl<'a> RowParser<'a> for UsageParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        let (start, end) = if c.console {
            console_interval(rec, c.start)?
        } else {
            buckets::interval(rec, &[Some(c.start)], &[c.end], "starting_at", 0)?
        };
        row.charge_start = start;
        row.charge_end = end;
        row.provider.push_str(PROVIDER);
        row.service.push_str(SERVICE);
        let count = |i: Option<usize>| i.map_or(Ok(None), |i| rec.count(i));
        let parts = [
            count(c.uncached)?,
            count(c.read)?,
            count(c.write_5m)?,
            count(c.write_1h)?,
            count(c.output)?,
        ];
        if parts.iter().all(Option::is_none) {
            return Err(FieldError::new(
                rec.name(c.uncached.unwrap_or_default()),
                None,
                "the row has no token counts",
                "every usage row has uncached_input_tokens, cache_read_input_tokens, cache_creation and output_tokens",
            ));
        }
        let [uncached, read, w5, w1h, output] = parts.map(|v| v.unwrap_or(0));
        let too_many = || {
            FieldError::new(
                rec.name(c.uncached.unwrap_or_default()),
                None,
                "the input token counts add up beyond any real usage",
                "check the token fields",
            )
        };
        let write = w5.checked_add(w1h).ok_or_else(too_many)?;
        let input = uncached
            .checked_add(read)
            .and_then(|v| v.checked_add(write))
            .ok_or_else(too_many)?;
        row.input_tokens = Some(input);
        row.cached_input_tokens = Some(read);
        row.cache_write_tokens = Some(write);
        row.output_tokens = Some(output);
        let model = text(rec, c.model)?;
        row.model.push_str(&model_id(&model));
        rec.push_text(c.api_key_id, &mut row.api_key_id)?;
        rec.push_text(c.workspace_id, &mut row.workspace_id)?;
        rec.push_text(c.account_id, &mut row.user_id)?;
        let service_tier = text(rec, c.service_tier)?;
        let context = context_window(&text(rec, c.context_window)?);
        let inference_geo = text(rec, c.inference_geo)?;
        let speed = text(rec, c.speed)?;
        let service_account = text(rec, c.service_account_id)?;
        let api_key = text(rec, c.api_key)?;
        let workspace = text(rec, c.workspace)?;
        let usage_type = text(rec, c.usage_type)?;
        let web = match count(c.web_search)? {
            Some(n) if n > 0 => n.to_string(),
            _ => String::new(),
        };
        buckets::tags(
            rec,
            &[],
            &[
                ("service_tier", service_tier.clone()),
                ("context_window", context.clone()),
                ("inference_geo", inference_geo.clone()),
                ("speed", speed.clone()),
                ("service_account_id", service_account.clone()),
                ("api_key", api_key.clone()),
                ("workspace", workspace.clone()),
                ("usage_type", usage_type.clone()),
                ("web_search_requests", web),
            ],
            &mut row.tags,
        )?;
        let agg = Aggregate {
            tokens: Tokens {
                input,
                cached: read,
                cache_write: write,
                output,
            },
            cache_write_1h: w1h,
            tier: ServiceTier::parse(&service_tier),
            // Anthropic says which side of 200k the requests were.
            request_input: if context == "200k-1M" { 200_001 } else { 0 },
        };
        buckets::price(self.opts, &mut self.counts, row, &agg, USAGE_FIX)?;

        let k = &mut self.key;
        k.reset(USAGE.name);
        k.int("charge_start", Some(start.into()));
        k.int("charge_end", Some(end.into()));
        buckets::key_texts(
            k,
            &[
                ("model", &model),
                ("api_key_id", &row.api_key_id),
                ("workspace_id", &row.workspace_id),
                ("account_id", &row.user_id),
                ("service_account_id", &service_account),
                ("service_tier", &service_tier),
                ("context_window", &context),
                ("inference_geo", &inference_geo),
                ("speed", &speed),
                ("api_key", &api_key),
                ("workspace", &workspace),
                ("usage_type", &usage_type),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_to_dollars_exactly() {
        let d = |s: &str| cents(s).unwrap().to_string();
        assert_eq!(d("123.45"), "1.2345");
        assert_eq!(d("2500"), "25");
        assert_eq!(d("0.001"), "0.00001");
        assert_eq!(d("12.3456789"), "0.123456789");
        assert_eq!(d("-50"), "-0.5");
        // 17 decimal places of cents: the 18th of dollars rounds half to even.
        assert_eq!(d("0.00000000000000025"), "0.000000000000000002");
        assert_eq!(d("0.00000000000000035"), "0.000000000000000004");
        assert!(cents("1,23").is_err());
        assert!(cents("12 USD").is_err());
        assert!(cents("").is_err());
    }

    #[test]
    fn console_names() {
        assert_eq!(model_id("Claude Sonnet 4.5"), "claude-sonnet-4-5");
        assert_eq!(model_id("Claude Haiku 4.5"), "claude-haiku-4-5");
        assert_eq!(model_id("Claude 3.5 Haiku"), "claude-3-5-haiku");
        assert_eq!(model_id("Claude Opus 4.1"), "claude-opus-4-1");
        assert_eq!(
            model_id(" claude-sonnet-4-5-20250929 "),
            "claude-sonnet-4-5-20250929"
        );
        assert_eq!(context_window("≤ 200k"), "0-200k");
        assert_eq!(context_window("> 200k"), "200k-1M");
        assert_eq!(context_window("0-200k"), "0-200k");
        assert_eq!(context_window("200k-1M"), "200k-1M");
        assert_eq!(context_window("1M+"), "1M+");
    }
}
