//! AWS Cost and Usage Reports → canonical bill rows (docs/formats/aws.md): the legacy CUR
//! CSV (`lineItem/UnblendedCost`, `resourceTags/user:Team`) and CUR 2.0 / Data Exports as
//! CSV or Parquet (`line_item_unblended_cost`, a `resource_tags` map). Legacy names are
//! read under their CUR 2.0 (Athena) spelling, so one parser reads both, and Amazon
//! Bedrock token usage types become a model and token counts.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Result;

use super::cloud::{token_count, unit_multiplier, Columns};
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::error::quote;
use crate::model::{tag_value_text, tags_json, ChargeCategory, Kind, Row};
use crate::money::Money;
use crate::timeparse::{parse_timestamp, Micros, Month};

pub static FORMAT: Format = Format {
    name: "aws-cur",
    kind: Kind::Bill,
    about: "AWS Cost and Usage Report: legacy CUR CSV and CUR 2.0 / Data Exports (CSV, Parquet), incl. Bedrock tokens",
    doc: "docs/formats/aws.md",
    columns: &[],
    required: &["identity_line_item_id", "line_item_unblended_cost"],
    detect,
    parser: boxed,
};

/// A header under its CUR 2.0 (Athena) spelling: `lineItem/UnblendedCost` →
/// `line_item_unblended_cost`, `product/regionCode` → `product_region_code`; snake_case
/// names are lower-cased.
pub fn snake(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}');
    let Some((group, name)) = h.split_once('/') else {
        return h.to_ascii_lowercase();
    };
    let mut out = String::with_capacity(h.len() + 8);
    camel(group, &mut out);
    out.push('_');
    camel(name, &mut out);
    out
}

/// `UnblendedCost` → `unblended_cost`, `SavingsPlanARN` → `savings_plan_arn`.
fn camel(s: &str, out: &mut String) {
    let c: Vec<char> = s.chars().collect();
    for (i, &ch) in c.iter().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            let prev = c[i - 1];
            let next_lower = c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
}

fn detect(p: &Probe) -> u8 {
    let cols: Vec<String> = p.columns().iter().map(|c| snake(c)).collect();
    let has = |n: &str| cols.iter().any(|c| c == n);
    if has("identity_line_item_id") && has("line_item_unblended_cost") {
        85
    } else if has("line_item_unblended_cost") && has("line_item_usage_type") {
        70
    } else {
        0
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

/// Where a tag comes from.
enum TagCol {
    /// Legacy CSV `resourceTags/user:Team` (key `Team`), `resourceTags/aws:createdBy`
    /// (key `aws:createdBy`), or legacy Parquet `resource_tags_user_team` (key `team`).
    Column(usize, String),
    /// CUR 2.0 `resource_tags` map (JSON text in CSV, a map in Parquet).
    Map(usize),
}

impl TagCol {
    fn index(&self) -> usize {
        match self {
            TagCol::Column(i, _) | TagCol::Map(i) => *i,
        }
    }
}

struct Cols {
    id: usize,
    interval: Option<usize>,
    cost: usize,
    currency: Option<usize>,
    item_type: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    period: Option<usize>,
    product_code: Vec<usize>,
    billing_entity: Option<usize>,
    usage_type: Option<usize>,
    amount: Option<usize>,
    unit: Option<usize>,
    rate: Option<usize>,
    service: Option<usize>,
    sku: Option<usize>,
    description: Option<usize>,
    payer: Option<usize>,
    account: Option<usize>,
    resource: Option<usize>,
    region: Option<usize>,
    principal: Option<usize>,
    list_cost: Option<usize>,
    sp_effective: Option<usize>,
    ri_effective: Option<usize>,
    ri_unused_upfront: Option<usize>,
    ri_unused_recurring: Option<usize>,
    sp_total_commitment: Option<usize>,
    sp_used_commitment: Option<usize>,
    tags: Vec<TagCol>,
}

pub fn parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<AwsParser<'a>> {
    let c = Columns::new(headers, snake);
    let missing: Vec<&str> = [
        ("identity_line_item_id", "identity/LineItemId"),
        ("line_item_unblended_cost", "lineItem/UnblendedCost"),
    ]
    .iter()
    .filter(|(n, _)| !c.has(n))
    .map(|(n, legacy)| {
        if headers.iter().any(|h| h.contains('/')) {
            *legacy
        } else {
            *n
        }
    })
    .collect();
    if !missing.is_empty() {
        return Err(super::missing_columns(
            path,
            format!(
                "an AWS Cost and Usage Report without required column(s) {}",
                missing.join(", ")
            ),
            "export the CUR with its identity and line item columns",
            headers,
        ));
    }
    let mut tags = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        if let Some(k) = h.strip_prefix("resourceTags/") {
            let k = k.strip_prefix("user:").unwrap_or(k);
            tags.push(TagCol::Column(i, k.to_string()));
        } else if h.eq_ignore_ascii_case("resource_tags") {
            tags.push(TagCol::Map(i));
        } else if let Some(k) = h.to_ascii_lowercase().strip_prefix("resource_tags_") {
            let k = k.strip_prefix("user_").unwrap_or(k);
            tags.push(TagCol::Column(i, k.to_string()));
        }
    }
    let cols = Cols {
        id: c.find(&["identity_line_item_id"]).unwrap_or(0),
        interval: c.find(&["identity_time_interval"]),
        cost: c.find(&["line_item_unblended_cost"]).unwrap_or(0),
        currency: c.find(&["line_item_currency_code"]),
        item_type: c.find(&["line_item_line_item_type"]),
        start: c.find(&["line_item_usage_start_date"]),
        end: c.find(&["line_item_usage_end_date"]),
        period: c.find(&["bill_billing_period_start_date"]),
        product_code: ["line_item_product_code", "product_servicecode"]
            .iter()
            .filter_map(|n| c.find(&[n]))
            .collect(),
        billing_entity: c.find(&["bill_billing_entity"]),
        usage_type: c.find(&["line_item_usage_type"]),
        amount: c.find(&["line_item_usage_amount"]),
        unit: c.find(&["pricing_unit"]),
        rate: c.find(&["line_item_unblended_rate"]),
        service: c.find(&[
            "product_product_name",
            "product_servicename",
            "product_servicecode",
            "line_item_product_code",
        ]),
        sku: c.find(&["product_sku", "line_item_usage_type"]),
        description: c.find(&["line_item_line_item_description"]),
        payer: c.find(&["bill_payer_account_id"]),
        account: c.find(&["line_item_usage_account_id"]),
        resource: c.find(&["line_item_resource_id"]),
        region: c.find(&["product_region_code", "product_region"]),
        principal: c.find(&["line_item_iam_principal"]),
        list_cost: c.find(&["pricing_public_on_demand_cost"]),
        sp_effective: c.find(&["savings_plan_savings_plan_effective_cost"]),
        ri_effective: c.find(&["reservation_effective_cost"]),
        ri_unused_upfront: c.find(&["reservation_unused_amortized_upfront_fee_for_billing_period"]),
        ri_unused_recurring: c.find(&["reservation_unused_recurring_fee"]),
        sp_total_commitment: c.find(&["savings_plan_total_commitment_to_date"]),
        sp_used_commitment: c.find(&["savings_plan_used_commitment"]),
        tags,
    };
    if cols.currency.is_none() {
        notes.push(format!(
            "no line_item_currency_code column: amounts are read as {} (--currency names another)",
            opts.default_currency
        ));
    }
    if cols.interval.is_none() {
        notes.push(
            "no identity_time_interval column: a line item id is its row's whole identity".into(),
        );
    }
    if cols.period.is_none() {
        notes.push(
            "no bill_billing_period_start_date column: each charge is billed in its own month"
                .into(),
        );
    }
    Ok(AwsParser {
        cols: std::sync::Arc::new(cols),
        opts,
        key: KeyHasher::new(FORMAT.name),
        memo: Memo::default(),
    })
}

pub struct AwsParser<'a> {
    cols: std::sync::Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    key: KeyHasher,
    memo: Memo,
}

/// What the last lines said, per worker: CUR lines repeat their usage types, intervals,
/// line item types and tag sets, and reading them again is most of a line's cost.
#[derive(Default)]
struct Memo {
    /// Usage type → its Bedrock model and token kind (bounded: cleared when full).
    usage: HashMap<String, Option<BedrockUsage>, foldhash::fast::RandomState>,
    /// `identity_time_interval` texts and their instants (bounded like `usage`; a month
    /// has at most 744 hourly intervals, and lines need not come in their order).
    intervals: HashMap<String, (Micros, Micros), foldhash::fast::RandomState>,
    /// The last line item type, lower-cased, and its charge category (at first the
    /// empty type, whose category is the default, usage).
    item_type: String,
    item_type_lower: String,
    category: ChargeCategory,
    /// The last line's tag cells (null cells as None) and the tags they gave.
    tags_in: Option<Vec<Option<String>>>,
    tags_out: String,
}

/// Distinct usage types kept in [`Memo::usage`].
const USAGE_MEMO: usize = 4096;

impl Cols {
    /// Every column `fill` reads.
    fn all(&self) -> Vec<usize> {
        let c = self;
        let mut out = vec![c.id, c.cost];
        out.extend(
            [
                c.interval,
                c.currency,
                c.item_type,
                c.start,
                c.end,
                c.period,
                c.billing_entity,
                c.usage_type,
                c.amount,
                c.unit,
                c.rate,
                c.service,
                c.sku,
                c.description,
                c.payer,
                c.account,
                c.resource,
                c.region,
                c.principal,
                c.list_cost,
                c.sp_effective,
                c.ri_effective,
                c.ri_unused_upfront,
                c.ri_unused_recurring,
                c.sp_total_commitment,
                c.sp_used_commitment,
            ]
            .into_iter()
            .flatten(),
        );
        out.extend(&c.product_code);
        out.extend(c.tags.iter().map(TagCol::index));
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl<'a> RowParser<'a> for AwsParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        fill(
            rec,
            &self.cols,
            self.opts,
            &mut self.key,
            &mut self.memo,
            row,
        )
    }

    fn reads(&self) -> Option<Vec<usize>> {
        Some(self.cols.all())
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(AwsParser {
            cols: self.cols.clone(),
            opts: self.opts,
            key: KeyHasher::new(FORMAT.name),
            memo: Memo::default(),
        })
    }

    fn counts(&self) -> ParseCounts {
        ParseCounts::default()
    }
}

/// `line_item_line_item_type` → charge category.
pub fn category(item_type: &str) -> ChargeCategory {
    match item_type.trim().to_ascii_lowercase().as_str() {
        "usage" | "discountedusage" | "savingsplancoveredusage" => ChargeCategory::Usage,
        "tax" => ChargeCategory::Tax,
        "credit" | "refund" => ChargeCategory::Credit,
        "fee" | "rifee" | "savingsplanupfrontfee" | "savingsplanrecurringfee" => {
            ChargeCategory::Purchase
        }
        // SavingsPlanNegation, BundledDiscount, EdpDiscount, PrivateRateDiscount,
        // DistributorDiscount, SppDiscount, RiVolumeDiscount, and types AWS adds later.
        "" => ChargeCategory::Usage,
        _ => ChargeCategory::Adjustment,
    }
}

/// What a Bedrock token usage type says.
#[derive(Debug, PartialEq, Eq)]
pub struct BedrockUsage {
    /// The model id from [`BEDROCK_MODELS`], or the billing name when it is not listed.
    pub model: String,
    pub kind: TokenKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Input,
    Output,
    CacheRead,
    CacheWrite,
}

/// Bedrock billing names (the model segment of a usage type) → model ids as the Bedrock
/// API names them. Names not listed are kept as written.
pub const BEDROCK_MODELS: &[(&str, &str)] = &[
    ("Claude4.6Sonnet", "anthropic.claude-sonnet-4-6"),
    ("Claude4.6Opus", "anthropic.claude-opus-4-6-v1"),
    (
        "Claude4.5Sonnet",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
    ),
    ("Claude4.5Haiku", "anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("Claude4.5Opus", "anthropic.claude-opus-4-5-20251101-v1:0"),
    ("Claude4.1Opus", "anthropic.claude-opus-4-1-20250805-v1:0"),
    ("Claude4Sonnet", "anthropic.claude-sonnet-4-20250514-v1:0"),
    ("Claude4Opus", "anthropic.claude-opus-4-20250514-v1:0"),
    (
        "Claude3.7Sonnet",
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
    ),
    ("Claude3.5Haiku", "anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("Nova2.0Lite", "amazon.nova-2-lite-v1:0"),
    ("NovaPro", "amazon.nova-pro-v1:0"),
    ("NovaLite", "amazon.nova-lite-v1:0"),
    ("NovaMicro", "amazon.nova-micro-v1:0"),
    ("NovaPremier", "amazon.nova-premier-v1:0"),
    ("openai.gpt-oss-120b", "openai.gpt-oss-120b-1:0"),
    ("openai.gpt-oss-20b", "openai.gpt-oss-20b-1:0"),
];

/// Service tier and routing suffixes, stripped before the token kind is read.
const SUFFIXES: &[&str] = &[
    "-cross-region-global",
    "-cross-region-geo",
    "-flex",
    "-priority",
    "-batch",
    "-standard",
];

const KINDS: &[(&str, TokenKind)] = &[
    ("-cache-read-input-token-count", TokenKind::CacheRead),
    ("-cache-write-input-token-count", TokenKind::CacheWrite),
    ("-input-tokens", TokenKind::Input),
    ("-output-tokens", TokenKind::Output),
];

/// Reads a Bedrock usage type: `USE1-Claude4.6Sonnet-input-tokens`,
/// `USE1-Nova2.0Lite-input-tokens-flex`,
/// `USE1-openai.gpt-oss-120b-mantle-input-tokens-standard`,
/// `USW2-Claude4Sonnet-cache-read-input-token-count-cross-region-global`. None for any
/// other usage type.
pub fn bedrock_usage(usage_type: &str) -> Option<BedrockUsage> {
    let mut t = usage_type.trim();
    while let Some(s) = SUFFIXES.iter().find(|s| t.ends_with(*s)) {
        t = &t[..t.len() - s.len()];
    }
    let (name, kind) = KINDS
        .iter()
        .find_map(|(suf, k)| t.strip_suffix(suf).map(|n| (n, *k)))?;
    let name = name.strip_suffix("-mantle").unwrap_or(name);
    // A region prefix: two to five capitals and digits (`USE1-`, `EUC1-`, `APN1-`).
    let is_region = |p: &str| {
        (2..=5).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && p.chars().next().is_some_and(|c| c.is_ascii_uppercase())
    };
    let name = match name.split_once('-') {
        Some((p, rest)) if is_region(p) && !rest.is_empty() => rest,
        _ => name,
    };
    if name.is_empty() || is_region(name) {
        return None;
    }
    let model = BEDROCK_MODELS
        .iter()
        .find(|(b, _)| *b == name)
        .map_or(name, |(_, id)| id);
    Some(BedrockUsage {
        model: model.to_string(),
        kind,
    })
}

/// `start/end` of `identity_time_interval`.
fn interval(rec: &Record, i: usize) -> Result<Option<(Micros, Micros)>, FieldError> {
    let Some(text) = rec.text(i)? else {
        return Ok(None);
    };
    let bad = || {
        FieldError::new(
            rec.name(i),
            Some(&text),
            format!("{} is not a time interval", quote(&text)),
            "identity_time_interval is written start/end, e.g. 2026-06-01T00:00:00Z/2026-06-02T00:00:00Z",
        )
    };
    let (a, b) = text.split_once('/').ok_or_else(bad)?;
    match (parse_timestamp(a.trim()), parse_timestamp(b.trim())) {
        (Some(a), Some(b)) if b >= a => Ok(Some((a, b))),
        _ => Err(bad()),
    }
}

/// Whether the line's tag cells are `last`, cell by cell.
fn same_cells(rec: &Record, tags: &[TagCol], last: &[Option<String>]) -> bool {
    tags.len() == last.len()
        && tags
            .iter()
            .zip(last)
            .all(|(t, l)| rec.cell(t.index()).to_text().as_deref() == l.as_deref())
}

fn fill(
    rec: &Record,
    cols: &Cols,
    opts: &ReadOptions,
    key: &mut KeyHasher,
    memo: &mut Memo,
    row: &mut Row,
) -> Result<(), FieldError> {
    row.currency = Some(match cols.currency.and_then(|i| rec.str(i)) {
        Some(v) => super::currency(rec.name(cols.currency.unwrap_or(0)), v)?,
        None => opts.default_currency,
    });
    let currency = row.currency.unwrap_or(opts.default_currency);
    let money = |i: usize| -> Result<Option<Money>, FieldError> {
        Ok(rec.money(i, currency.as_str())?.map(|(m, _)| m))
    };
    let opt_money = |i: Option<usize>| -> Result<Option<Money>, FieldError> {
        i.map(money).transpose().map(Option::flatten)
    };
    row.cost = money(cols.cost)?.ok_or_else(|| {
        FieldError::new(
            rec.name(cols.cost),
            None,
            "the amount is empty",
            "every CUR line has an unblended cost; 0 is a valid amount",
        )
    })?;
    let item_type = cols.item_type.and_then(|i| rec.str(i)).unwrap_or("");
    if memo.item_type != item_type {
        memo.item_type.clear();
        memo.item_type.push_str(item_type);
        memo.item_type_lower.clear();
        memo.item_type_lower.push_str(item_type);
        memo.item_type_lower.make_ascii_lowercase();
        memo.category = category(item_type);
    }
    row.charge_category = memo.category;

    let id = rec.text(cols.id)?.ok_or_else(|| {
        FieldError::new(
            rec.name(cols.id),
            None,
            "the line item id is empty",
            "every CUR line has an identity_line_item_id; export the report unchanged",
        )
    })?;
    let iv = match cols.interval {
        None => None,
        Some(i) => match rec.str(i).and_then(|t| memo.intervals.get(t)) {
            Some(v) => Some(*v),
            None => {
                let v = interval(rec, i)?;
                if let (Some(t), Some(v)) = (rec.str(i), v) {
                    if memo.intervals.len() >= USAGE_MEMO {
                        memo.intervals.clear();
                    }
                    memo.intervals.insert(t.to_string(), v);
                }
                v
            }
        },
    };
    let time = |i: Option<usize>| i.map(|i| rec.time(i)).transpose().map(Option::flatten);
    let start = time(cols.start)?.or(iv.map(|v| v.0)).ok_or_else(|| {
        FieldError::new(
            rec.name(cols.start.or(cols.interval).unwrap_or(cols.id)),
            None,
            "the line has no usage start date and no time interval",
            "export line_item_usage_start_date or identity_time_interval",
        )
    })?;
    row.charge_start = start;
    row.charge_end = time(cols.end)?.or(iv.map(|v| v.1)).unwrap_or(start);
    if row.charge_end < row.charge_start {
        return Err(FieldError::new(
            rec.name(cols.end.unwrap_or(cols.id)),
            cols.end.and_then(|i| rec.str(i)),
            "the usage ends before it starts",
            "check line_item_usage_start_date and line_item_usage_end_date",
        ));
    }
    row.billing_period = Some(match time(cols.period)? {
        Some(t) => Month::of_micros(t),
        None => Month::of_micros(start),
    });
    row.provider.push_str("aws");
    rec.push_text(cols.service, &mut row.service)?;
    rec.push_text(cols.sku, &mut row.sku)?;
    rec.push_text(cols.description, &mut row.description)?;
    rec.push_text(cols.payer, &mut row.billing_account)?;
    rec.push_text(cols.account, &mut row.sub_account)?;
    rec.push_text(cols.resource, &mut row.resource_id)?;
    rec.push_text(cols.region, &mut row.region)?;
    rec.push_text(cols.principal, &mut row.user_id)?;
    row.list_cost = opt_money(cols.list_cost)?;

    // Amortized cost, the community formula (AWS CID dashboards) where its columns exist.
    row.effective_cost = match memo.item_type_lower.as_str() {
        "savingsplancoveredusage" => opt_money(cols.sp_effective)?,
        "discountedusage" => opt_money(cols.ri_effective)?,
        "savingsplannegation" | "savingsplanupfrontfee" => Some(Money::ZERO),
        "rifee" if cols.ri_unused_upfront.is_some() || cols.ri_unused_recurring.is_some() => {
            let a = opt_money(cols.ri_unused_upfront)?.unwrap_or_default();
            let b = opt_money(cols.ri_unused_recurring)?.unwrap_or_default();
            a.checked_add(b)
        }
        "savingsplanrecurringfee" if cols.sp_total_commitment.is_some() => {
            let a = opt_money(cols.sp_total_commitment)?.unwrap_or_default();
            let b = opt_money(cols.sp_used_commitment)?.unwrap_or_default();
            a.try_sub(b).ok()
        }
        _ => Some(row.cost),
    };

    // Bedrock: model and tokens from the usage type.
    let bedrock_product = cols.product_code.iter().any(|&i| {
        rec.str(i)
            .is_some_and(|v| v.eq_ignore_ascii_case("AmazonBedrock"))
    }) || cols
        .billing_entity
        .and_then(|i| rec.str(i))
        .is_some_and(|v| v.eq_ignore_ascii_case("AWS Marketplace"));
    if bedrock_product {
        let usage = cols.usage_type.and_then(|i| rec.str(i)).and_then(|t| {
            if !memo.usage.contains_key(t) {
                if memo.usage.len() >= USAGE_MEMO {
                    memo.usage.clear();
                }
                memo.usage.insert(t.to_string(), bedrock_usage(t));
            }
            memo.usage.get(t)?.as_ref()
        });
        if let Some(b) = usage {
            row.model.push_str(&b.model);
            if row.charge_category == ChargeCategory::Usage {
                if let Some(amount) = opt_money(cols.amount)? {
                    let unit = cols.unit.and_then(|i| rec.str(i)).unwrap_or("");
                    if let Some(mult) = unit_multiplier(unit) {
                        let rate = opt_money(cols.rate)?;
                        let n = token_count(amount, mult, rate, row.cost);
                        match b.kind {
                            TokenKind::Input => row.input_tokens = n,
                            TokenKind::Output => row.output_tokens = n,
                            TokenKind::CacheRead => {
                                row.input_tokens = n;
                                row.cached_input_tokens = n;
                            }
                            TokenKind::CacheWrite => {
                                row.input_tokens = n;
                                row.cache_write_tokens = n;
                            }
                        }
                    }
                }
            }
        }
    }

    // Tags: the same cells as the last line's give the same tags.
    if !cols.tags.is_empty()
        && !memo
            .tags_in
            .as_deref()
            .is_some_and(|last| same_cells(rec, &cols.tags, last))
    {
        memo.tags_in = None;
        memo.tags_out.clear();
        fill_tags(rec, cols, &mut memo.tags_out)?;
        memo.tags_in = Some(
            cols.tags
                .iter()
                .map(|t| rec.cell(t.index()).to_text().map(|v| v.into_owned()))
                .collect(),
        );
    }
    row.tags.push_str(&memo.tags_out);

    // Identity: the line item id, its time interval and its billing period.
    key.reset(FORMAT.name);
    key.text("identity_line_item_id", &id, KeyKind::Any);
    if let Some((a, b)) = iv {
        key.time("interval_start", a);
        key.time("interval_end", b);
    }
    if let Some(i) = cols.period {
        rec.key(key, "bill_billing_period_start_date", i, KeyKind::Time);
    }
    row.record_id = key.finish();
    Ok(())
}

/// A line's tags as JSON text into `out`.
fn fill_tags(rec: &Record, cols: &Cols, out: &mut String) -> Result<(), FieldError> {
    {
        let mut map = BTreeMap::new();
        for t in &cols.tags {
            match t {
                TagCol::Column(i, k) => {
                    if let Some(v) = rec.text(*i)? {
                        map.insert(k.clone(), v.into_owned());
                    }
                }
                TagCol::Map(i) => {
                    let Some(v) = rec.json(*i)? else { continue };
                    let obj = v.as_object().ok_or_else(|| {
                        FieldError::new(
                            rec.name(*i),
                            Some(&v.to_string()),
                            "resource_tags is not a JSON object",
                            "resource_tags holds a map such as {\"user_team\": \"search\"}",
                        )
                    })?;
                    for (k, v) in obj {
                        let k = k.strip_prefix("user_").unwrap_or(k);
                        if let Some(v) = tag_value_text(v) {
                            map.insert(k.to_string(), v);
                        }
                    }
                }
            }
        }
        out.push_str(&tags_json(&map));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names_read_as_cur2() {
        assert_eq!(snake("lineItem/UnblendedCost"), "line_item_unblended_cost");
        assert_eq!(snake("identity/LineItemId"), "identity_line_item_id");
        assert_eq!(snake("product/regionCode"), "product_region_code");
        assert_eq!(snake("pricing/unit"), "pricing_unit");
        assert_eq!(
            snake("savingsPlan/SavingsPlanEffectiveCost"),
            "savings_plan_savings_plan_effective_cost"
        );
        assert_eq!(
            snake("savingsPlan/SavingsPlanARN"),
            "savings_plan_savings_plan_arn"
        );
        assert_eq!(snake("Line_Item_Usage_Type"), "line_item_usage_type");
    }

    #[test]
    fn bedrock_usage_types() {
        let b = |s: &str| bedrock_usage(s).map(|b| (b.model, b.kind));
        use TokenKind::*;
        assert_eq!(
            b("USE1-Claude4.6Sonnet-input-tokens"),
            Some(("anthropic.claude-sonnet-4-6".into(), Input))
        );
        assert_eq!(
            b("USE1-Claude4.6Sonnet-output-tokens"),
            Some(("anthropic.claude-sonnet-4-6".into(), Output))
        );
        assert_eq!(
            b("USE1-Claude4.6Sonnet-cache-read-input-token-count"),
            Some(("anthropic.claude-sonnet-4-6".into(), CacheRead))
        );
        assert_eq!(
            b("USE1-Claude4.6Sonnet-cache-write-input-token-count"),
            Some(("anthropic.claude-sonnet-4-6".into(), CacheWrite))
        );
        assert_eq!(
            b("USE1-Nova2.0Lite-input-tokens-flex"),
            Some(("amazon.nova-2-lite-v1:0".into(), Input))
        );
        assert_eq!(
            b("USE1-openai.gpt-oss-120b-mantle-input-tokens-standard"),
            Some(("openai.gpt-oss-120b-1:0".into(), Input))
        );
        assert_eq!(
            b("USW2-Claude4Sonnet-cache-read-input-token-count-cross-region-global"),
            Some(("anthropic.claude-sonnet-4-20250514-v1:0".into(), CacheRead))
        );
        assert_eq!(
            b("USE1-Claude4.6Opus-output-tokens-batch"),
            Some(("anthropic.claude-opus-4-6-v1".into(), Output))
        );
        // Unknown billing names are kept as written.
        assert_eq!(
            b("EUC1-Jamba9Ultra-input-tokens"),
            Some(("Jamba9Ultra".into(), Input))
        );
        assert_eq!(
            b("Claude4Opus-output-tokens"),
            Some(("anthropic.claude-opus-4-20250514-v1:0".into(), Output))
        );
        assert_eq!(b("USE1-BoxUsage:t3.medium"), None);
        assert_eq!(b("USE1-input-tokens"), None);
    }

    #[test]
    fn line_item_types() {
        use ChargeCategory::*;
        for (t, c) in [
            ("Usage", Usage),
            ("DiscountedUsage", Usage),
            ("SavingsPlanCoveredUsage", Usage),
            ("Tax", Tax),
            ("Credit", Credit),
            ("Refund", Credit),
            ("Fee", Purchase),
            ("RIFee", Purchase),
            ("SavingsPlanRecurringFee", Purchase),
            ("SavingsPlanNegation", Adjustment),
            ("EdpDiscount", Adjustment),
            ("BundledDiscount", Adjustment),
        ] {
            assert_eq!(category(t), c, "{t}");
        }
    }
}
