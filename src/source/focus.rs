//! FOCUS 1.0–1.3 cost and usage rows → canonical bill rows (docs/formats/focus.md).
//!
//! Columns are found by name, case-insensitively, so column order and extra columns
//! (`x_...`, the sample's `Id`) do not matter. Only `BilledCost` and `ChargePeriodStart`
//! are required: the FOCUS spec's own example tables leave out many mandatory columns.
//! `NULL` and empty cells are nulls.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;

use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser, TagCache};
use crate::error::quote;
use crate::error::{InputError, Place};
use crate::model::{normalize_provider, parse_tags_object, tags_json, ChargeCategory, Kind, Row};
use crate::money::Money;
use crate::timeparse::Month;

pub static FORMAT: Format = Format {
    name: "focus",
    kind: Kind::Bill,
    about: "FinOps FOCUS 1.0–1.3 cost and usage data (CSV, CSV.gz, Parquet)",
    doc: "docs/formats/focus.md",
    columns: &[],
    required: &["BilledCost", "ChargePeriodStart"],
    detect,
    parser: boxed,
};

/// FOCUS columns that, three together, say FOCUS even without BilledCost.
const SIGNATURE: &[&str] = &[
    "BilledCost",
    "ChargePeriodStart",
    "BillingCurrency",
    "BillingPeriodStart",
    "ChargeCategory",
    "EffectiveCost",
    "ProviderName",
    "ServiceName",
];

fn detect(p: &Probe) -> u8 {
    if p.has("BilledCost") {
        90
    } else if p.count(SIGNATURE) >= 3 {
        60
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

/// Metric columns: left out of a row's identity, so a restated amount replaces the row.
const METRICS: &[&str] = &[
    "billedcost",
    "effectivecost",
    "listcost",
    "contractedcost",
    "consumedquantity",
    "pricingquantity",
    "listunitprice",
    "contractedunitprice",
    "commitmentdiscountquantity",
    "pricingcurrencycontractedunitprice",
    "pricingcurrencyeffectivecost",
    "pricingcurrencylistunitprice",
    "amortizedcost",
    "usagequantity",
];

struct Cols {
    billed_cost: usize,
    charge_start: usize,
    charge_end: Option<usize>,
    billing_period: Option<usize>,
    currency: Option<usize>,
    category: Option<usize>,
    provider: Vec<usize>,
    service: Option<usize>,
    sku: Option<usize>,
    description: Option<usize>,
    effective_cost: Option<usize>,
    list_cost: Option<usize>,
    billing_account: Option<usize>,
    sub_account: Option<usize>,
    resource_id: Option<usize>,
    region: Option<usize>,
    tags: Option<usize>,
    /// Columns that make up a row's identity: (index, lower-case name, kind), by name.
    key: Vec<(usize, String, KeyKind)>,
}

/// FOCUS columns of type DateTime.
const TIMES: &[&str] = &[
    "billingperiodstart",
    "billingperiodend",
    "chargeperiodstart",
    "chargeperiodend",
];

/// The FOCUS row parser for a file with these headers. Checks the required columns and
/// adds notes about what the file lacks.
pub fn parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<FocusParser<'a>> {
    let index: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_ascii_lowercase(), i))
        .collect();
    let find = |names: &[&str]| names.iter().find_map(|n| index.get(*n).copied());
    let missing: Vec<&str> = [
        ("BilledCost", "billedcost"),
        ("ChargePeriodStart", "chargeperiodstart"),
    ]
    .iter()
    .filter(|(_, l)| !index.contains_key(*l))
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() {
        return Err(InputError::new(
            path,
            Place::line(1),
            format!(
                "FOCUS data without required column(s) {}",
                missing.join(", ")
            ),
        )
        .fix(format!(
            "export with the FOCUS columns BilledCost and ChargePeriodStart (found: {})",
            super::shown_columns(headers)
        ))
        .into());
    }
    let cols = Cols {
        billed_cost: index["billedcost"],
        charge_start: index["chargeperiodstart"],
        charge_end: find(&["chargeperiodend"]),
        billing_period: find(&["billingperiodstart"]),
        currency: find(&["billingcurrency"]),
        category: find(&["chargecategory", "chargetype"]),
        provider: [
            "serviceprovidername",
            "providername",
            "publishername",
            "invoiceissuername",
        ]
        .iter()
        .filter_map(|n| index.get(*n).copied())
        .collect(),
        service: find(&["servicename"]),
        sku: find(&["skuid", "skupriceid"]),
        description: find(&["chargedescription"]),
        effective_cost: find(&["effectivecost", "amortizedcost"]),
        list_cost: find(&["listcost"]),
        billing_account: find(&["billingaccountid"]),
        sub_account: find(&["subaccountid"]),
        resource_id: find(&["resourceid"]),
        region: find(&["regionid", "region"]),
        tags: find(&["tags"]),
        key: {
            let mut key: Vec<(usize, String, KeyKind)> = headers
                .iter()
                .enumerate()
                .map(|(i, h)| (i, h.to_ascii_lowercase()))
                .filter(|(_, h)| !METRICS.contains(&h.as_str()) && h != "tags")
                .map(|(i, h)| {
                    let kind = if TIMES.contains(&h.as_str()) {
                        KeyKind::Time
                    } else {
                        KeyKind::Any
                    };
                    (i, h, kind)
                })
                .collect();
            key.sort_by(|a, b| a.1.cmp(&b.1));
            key
        },
    };
    if cols.currency.is_none() {
        notes.push(format!(
            "no BillingCurrency column: amounts are read as {} (--currency names another)",
            opts.default_currency
        ));
    }
    if cols.billing_period.is_none() {
        notes.push("no BillingPeriodStart column: each charge is billed in its own month".into());
    }
    Ok(FocusParser {
        cols: std::sync::Arc::new(cols),
        opts,
        tag_cache: TagCache::default(),
        counts: ParseCounts::default(),
        key: KeyHasher::new("focus"),
    })
}

/// Parses FOCUS records; one per worker thread.
pub struct FocusParser<'a> {
    cols: std::sync::Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    tag_cache: TagCache,
    counts: ParseCounts,
    key: KeyHasher,
}

impl<'a> RowParser<'a> for FocusParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        fill(
            rec,
            &self.cols,
            self.opts,
            &mut self.tag_cache,
            &mut self.counts.formatted,
            &mut self.key,
            row,
        )
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(FocusParser {
            cols: self.cols.clone(),
            opts: self.opts,
            tag_cache: TagCache::default(),
            counts: ParseCounts::default(),
            key: KeyHasher::new("focus"),
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

#[allow(clippy::too_many_arguments)]
fn fill(
    rec: &Record,
    cols: &Cols,
    opts: &ReadOptions,
    tag_cache: &mut TagCache,
    formatted_amounts: &mut u64,
    key: &mut KeyHasher,
    row: &mut Row,
) -> Result<(), FieldError> {
    let name = |i: usize| rec.name(i);

    row.currency = Some(match cols.currency.and_then(|i| rec.str(i)) {
        Some(v) => super::currency(name(cols.currency.unwrap_or(0)), v)?,
        None => opts.default_currency,
    });
    let currency = row.currency.unwrap_or(opts.default_currency);
    let mut formatted = 0u32;
    let mut money = |i: usize, required: bool| -> Result<Option<Money>, FieldError> {
        match rec.money(i, currency.as_str())? {
            None if required => Err(FieldError::new(
                name(i),
                None,
                "the amount is empty",
                "every FOCUS row needs a BilledCost; 0 is a valid amount",
            )),
            None => Ok(None),
            Some((m, lenient)) => {
                formatted += lenient as u32;
                Ok(Some(m))
            }
        }
    };
    row.cost = money(cols.billed_cost, true)?.unwrap_or_default();
    row.effective_cost = cols
        .effective_cost
        .map(|i| money(i, false))
        .transpose()?
        .flatten();
    row.list_cost = cols
        .list_cost
        .map(|i| money(i, false))
        .transpose()?
        .flatten();
    *formatted_amounts += formatted as u64;

    let time = |i: usize| {
        rec.time(i)
            .map_err(|e| e.fix("use ISO 8601, e.g. 2026-10-01T00:00:00Z"))
    };
    row.charge_start = time(cols.charge_start)?.ok_or_else(|| {
        FieldError::new(
            name(cols.charge_start),
            None,
            "the charge period start is empty",
            "every FOCUS row needs a ChargePeriodStart",
        )
    })?;
    row.charge_end = match cols.charge_end {
        Some(i) => time(i)?.unwrap_or(row.charge_start),
        None => row.charge_start,
    };
    if row.charge_end < row.charge_start {
        return Err(FieldError::new(
            name(cols.charge_end.unwrap_or(cols.charge_start)),
            cols.charge_end.and_then(|i| rec.str(i)),
            "the charge period ends before it starts",
            "check ChargePeriodStart and ChargePeriodEnd (swapped, or in different time zones?)",
        ));
    }
    row.billing_period = Some(match cols.billing_period {
        Some(i) => time(i)?.map_or(Month::of_micros(row.charge_start), Month::of_micros),
        None => Month::of_micros(row.charge_start),
    });
    row.charge_category = match cols.category.and_then(|i| rec.str(i)) {
        None => ChargeCategory::Usage,
        Some(v) => ChargeCategory::parse(v).ok_or_else(|| {
            FieldError::new(
                name(cols.category.unwrap_or(0)),
                Some(v),
                format!("{} is not a FOCUS charge category", quote(v.trim_ascii())),
                "use Usage, Purchase, Tax, Credit or Adjustment",
            )
        })?,
    };
    match cols.provider.iter().find_map(|&i| rec.str(i)) {
        Some(p) => normalize_provider(p, &mut row.provider),
        None => row.provider.push_str("unknown"),
    }
    rec.push_text(cols.service, &mut row.service)?;
    rec.push_text(cols.sku, &mut row.sku)?;
    rec.push_text(cols.description, &mut row.description)?;
    rec.push_text(cols.billing_account, &mut row.billing_account)?;
    rec.push_text(cols.sub_account, &mut row.sub_account)?;
    rec.push_text(cols.resource_id, &mut row.resource_id)?;
    rec.push_text(cols.region, &mut row.region)?;
    if let Some(raw) = cols.tags.and_then(|i| rec.str(i)) {
        match tag_cache.get(raw) {
            Some(t) => row.tags.push_str(t),
            None => {
                let map = parse_tags_object(raw).map_err(|reason| {
                    FieldError::new(
                        name(cols.tags.unwrap_or(0)),
                        Some(raw),
                        reason,
                        "Tags must be a JSON object such as {\"team\": \"search\"}",
                    )
                })?;
                let canon = tags_json(&map);
                row.tags.push_str(&canon);
                if tag_cache.len() < 100_000 {
                    tag_cache.insert(raw.to_string(), canon);
                }
            }
        }
    }
    // Identity: every non-metric column, typed and normalised (source/identity.rs), and the
    // tags as their canonical JSON.
    key.reset("focus");
    for (i, lower, kind) in &cols.key {
        rec.key(key, lower, *i, *kind);
    }
    key.canonical("tags", &row.tags);
    row.record_id = key.finish();
    Ok(())
}
