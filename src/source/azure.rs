//! Azure Cost Management cost details exports → canonical bill rows
//! (docs/formats/azure.md): EA and MCA, actual and amortized, the older pay-as-you-go
//! usage layout, and exports with localised headers (`Kategorie der Verbrauchseinheit
//! (MeterCategory)`). Headers are matched case-insensitively on their English name; Azure
//! OpenAI / Foundry token meters become a model and token counts.

use std::path::Path;

use anyhow::Result;

use super::cloud::{token_count, unit_multiplier, Columns};
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser, TagCache};
use crate::model::{parse_tags_object, tags_json, ChargeCategory, Kind, Row};
use crate::money::Money;
use crate::timeparse::Month;

pub static FORMAT: Format = Format {
    name: "azure-cost",
    kind: Kind::Bill,
    about: "Azure cost details exports: EA, MCA, pay-as-you-go, actual or amortized, incl. Azure OpenAI tokens",
    doc: "docs/formats/azure.md",
    columns: &[],
    required: &["Date", "CostInBillingCurrency", "MeterCategory"],
    detect,
    parser: boxed,
};

const DAY: i64 = 86_400_000_000;

/// A header's English name, lower case: `Kategorie der Verbrauchseinheit (MeterCategory)`
/// → `metercategory`, `costInBillingCurrency` → `costinbillingcurrency`.
pub fn norm(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}').trim();
    if let Some(open) = h.rfind('(') {
        if let Some(inner) = h[open + 1..].strip_suffix(')') {
            let inner = inner.trim();
            if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric()) {
                return inner.to_ascii_lowercase();
            }
        }
    }
    h.to_ascii_lowercase()
}

const COST: &[&str] = &["costinbillingcurrency", "cost", "pretaxcost"];
const DATE: &[&str] = &["date", "usagedatetime", "usagedate"];
const METER: &[&str] = &["metercategory", "metername", "meterid"];

fn detect(p: &Probe) -> u8 {
    let cols: Vec<String> = p.columns().iter().map(|c| norm(c)).collect();
    let any = |names: &[&str]| names.iter().any(|n| cols.iter().any(|c| c == n));
    if any(COST) && any(DATE) && any(METER) {
        80
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

/// Amount and rate columns: left out of a row's identity, so a restated amount replaces it.
const METRICS: &[&str] = &[
    "quantity",
    "usagequantity",
    "effectiveprice",
    "unitprice",
    "paygprice",
    "resourcerate",
    "cost",
    "costinbillingcurrency",
    "costinpricingcurrency",
    "costinusd",
    "paygcostinbillingcurrency",
    "paygcostinusd",
    "pretaxcost",
    "exchangeratepricingtobilling",
    "exchangerate",
    "exchangeratedate",
];

struct Cols {
    cost: usize,
    date: usize,
    currency: Option<usize>,
    period: Option<usize>,
    charge_type: Option<usize>,
    meter_category: Option<usize>,
    meter_sub: Option<usize>,
    meter_name: Option<usize>,
    consumed: Option<usize>,
    sku: Option<usize>,
    description: Option<usize>,
    quantity: Option<usize>,
    unit: Option<usize>,
    price: Option<usize>,
    account: Option<usize>,
    subscription: Option<usize>,
    group: Option<usize>,
    resource: Option<usize>,
    region: Option<usize>,
    tags: Option<usize>,
    key: Vec<(usize, String, KeyKind)>,
}

pub fn parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<AzureParser<'a>> {
    let c = Columns::new(headers, norm);
    let (cost, date) = (c.find(COST), c.find(DATE));
    let mut missing = Vec::new();
    if cost.is_none() {
        missing.push("CostInBillingCurrency (or Cost, PreTaxCost)");
    }
    if date.is_none() {
        missing.push("Date (or UsageDateTime)");
    }
    if !missing.is_empty() {
        return Err(super::missing_columns(
            path,
            format!(
                "an Azure cost export without required column(s) {}",
                missing.join(", ")
            ),
            "export \"Cost and usage details\" (actual or amortized) from Cost Management",
            headers,
        ));
    }
    let mut key: Vec<(usize, String, KeyKind)> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (i, norm(h)))
        .filter(|(_, h)| !METRICS.contains(&h.as_str()) && h != "tags")
        .map(|(i, h)| {
            let kind = if DATE.contains(&h.as_str()) || h.ends_with("date") {
                KeyKind::Time
            } else {
                KeyKind::Any
            };
            (i, h, kind)
        })
        .collect();
    key.sort_by(|a, b| a.1.cmp(&b.1));
    key.dedup_by(|a, b| a.1 == b.1);
    let cols = Cols {
        cost: cost.unwrap_or(0),
        date: date.unwrap_or(0),
        currency: c.find(&["billingcurrency", "billingcurrencycode", "currency"]),
        period: c.find(&["billingperiodstartdate"]),
        charge_type: c.find(&["chargetype"]),
        meter_category: c.find(&["metercategory"]),
        meter_sub: c.find(&["metersubcategory"]),
        meter_name: c.find(&["metername"]),
        consumed: c.find(&["consumedservice"]),
        sku: c.find(&["meterid", "partnumber", "productid"]),
        description: c.find(&["product", "productname", "metername"]),
        quantity: c.find(&["quantity", "usagequantity"]),
        unit: c.find(&["unitofmeasure"]),
        price: c.find(&["effectiveprice", "unitprice", "resourcerate"]),
        account: c.find(&["billingaccountid", "billingprofileid"]),
        subscription: c.find(&["subscriptionid", "subscriptionguid"]),
        group: c.find(&["resourcegroup", "resourcegroupname"]),
        resource: c.find(&["resourceid", "instanceid", "instancename"]),
        region: c.find(&["resourcelocation", "meterregion"]),
        tags: c.find(&["tags"]),
        key,
    };
    if cols.currency.is_none() {
        notes.push(format!(
            "no BillingCurrency column: amounts are read as {} (--currency names another)",
            opts.default_currency
        ));
    }
    if cols.period.is_none() {
        notes.push(
            "no BillingPeriodStartDate column: each charge is billed in its own month".into(),
        );
    }
    Ok(AzureParser {
        cols: std::sync::Arc::new(cols),
        opts,
        tag_cache: TagCache::default(),
        key: KeyHasher::new(FORMAT.name),
    })
}

pub struct AzureParser<'a> {
    cols: std::sync::Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    tag_cache: TagCache,
    key: KeyHasher,
}

impl<'a> RowParser<'a> for AzureParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        fill(
            rec,
            &self.cols,
            self.opts,
            &mut self.tag_cache,
            &mut self.key,
            row,
        )
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(AzureParser {
            cols: self.cols.clone(),
            opts: self.opts,
            tag_cache: TagCache::default(),
            key: KeyHasher::new(FORMAT.name),
        })
    }

    fn counts(&self) -> ParseCounts {
        ParseCounts::default()
    }
}

/// `ChargeType` → charge category (missing: usage).
pub fn category(charge_type: &str) -> ChargeCategory {
    match charge_type.trim().to_ascii_lowercase().as_str() {
        "purchase" => ChargeCategory::Purchase,
        "refund" | "credit" => ChargeCategory::Credit,
        "tax" => ChargeCategory::Tax,
        "roundingadjustment" | "adjustment" => ChargeCategory::Adjustment,
        // Usage, UnusedReservation, UnusedSavingsPlan, and anything new.
        _ => ChargeCategory::Usage,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterTokens {
    Input,
    CachedInput,
    Output,
}

/// Model parts of Azure OpenAI / Foundry meter names (lower case, words joined by one
/// space) → model ids. Other models are kept as the meter writes them.
pub const AZURE_MODELS: &[(&str, &str)] = &[
    ("gpt 4o 0513", "gpt-4o-2024-05-13"),
    ("gpt 4o 0806", "gpt-4o-2024-08-06"),
    ("gpt 4o 1120", "gpt-4o-2024-11-20"),
    ("gpt 4o mini 0718", "gpt-4o-mini-2024-07-18"),
    ("gpt 4 8k", "gpt-4"),
    ("gpt 4.5 0227", "gpt-4.5-preview-2025-02-27"),
    ("gpt 5", "gpt-5"),
    ("r1", "DeepSeek-R1"),
];

const INPUT: &[&str] = &["inp", "input", "inpt"];
const OUTPUT: &[&str] = &["outp", "output", "outpt"];
/// Words that end the model part of a meter name.
const STOP: &[&str] = &[
    "inp", "input", "inpt", "outp", "output", "outpt", "cached", "batch", "glbl", "global",
    "regnl", "regional", "dzone", "tokens", "token",
];

/// Reads a token meter name: `gpt 4o 0513 Input global Tokens`,
/// `gpt-4o-mini-0718-Inp-glbl Tokens`, `gpt 4o 1120 cached Inp glbl`, `GPT 5 Inpt Glbl`.
/// None when the name has no input or output word (hourly PTU meters, other services).
pub fn meter_tokens(name: &str) -> Option<(String, MeterTokens)> {
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .collect();
    let low: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let is = |set: &[&str], w: &String| set.contains(&w.as_str());
    let kind = if low.iter().any(|w| is(OUTPUT, w)) {
        MeterTokens::Output
    } else if low.iter().any(|w| is(INPUT, w)) {
        if low.iter().any(|w| w == "cached") {
            MeterTokens::CachedInput
        } else {
            MeterTokens::Input
        }
    } else {
        return None;
    };
    let cut = low.iter().position(|w| is(STOP, w))?;
    if cut == 0 {
        return None;
    }
    let key = low[..cut].join(" ");
    let model = AZURE_MODELS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| words[..cut].join(" "), |(_, m)| m.to_string());
    Some((model, kind))
}

/// Whether a row is an AI model meter (Azure OpenAI, Foundry Models).
fn is_ai(rec: &Record, cols: &Cols) -> bool {
    let v = |i: Option<usize>| i.and_then(|i| rec.str(i)).unwrap_or("");
    v(cols.consumed).eq_ignore_ascii_case("Microsoft.CognitiveServices")
        || ["cognitive services", "foundry models", "azure openai"]
            .iter()
            .any(|c| v(cols.meter_category).eq_ignore_ascii_case(c))
        || v(cols.meter_sub).to_ascii_lowercase().contains("openai")
}

fn fill(
    rec: &Record,
    cols: &Cols,
    opts: &ReadOptions,
    tag_cache: &mut TagCache,
    key: &mut KeyHasher,
    row: &mut Row,
) -> Result<(), FieldError> {
    row.currency = Some(match cols.currency.and_then(|i| rec.str(i)) {
        Some(v) => super::currency(rec.name(cols.currency.unwrap_or(0)), v)?,
        None => opts.default_currency,
    });
    let currency = row.currency.unwrap_or(opts.default_currency);
    let money = |i: Option<usize>| -> Result<Option<Money>, FieldError> {
        match i {
            Some(i) => Ok(rec.money(i, currency.as_str())?.map(|(m, _)| m)),
            None => Ok(None),
        }
    };
    row.cost = money(Some(cols.cost))?.ok_or_else(|| {
        FieldError::new(
            rec.name(cols.cost),
            None,
            "the cost is empty",
            "every cost details row has a cost; 0 is a valid amount",
        )
    })?;
    let day = rec
        .time(cols.date)
        .map_err(|e| e.fix("Azure dates are MM/DD/YYYY (09/21/2023), M/D/YYYY or YYYY-MM-DD"))?
        .ok_or_else(|| {
            FieldError::new(
                rec.name(cols.date),
                None,
                "the date is empty",
                "every cost details row has a Date",
            )
        })?;
    row.charge_start = day;
    row.charge_end = day + DAY;
    row.billing_period = Some(
        match cols.period.map(|i| rec.time(i)).transpose()?.flatten() {
            Some(t) => Month::of_micros(t),
            None => Month::of_micros(day),
        },
    );
    row.charge_category = category(cols.charge_type.and_then(|i| rec.str(i)).unwrap_or(""));
    row.provider.push_str("azure");
    rec.push_text(cols.meter_category, &mut row.service)?;
    rec.push_text(cols.sku, &mut row.sku)?;
    rec.push_text(cols.description, &mut row.description)?;
    rec.push_text(cols.account, &mut row.billing_account)?;
    rec.push_text(cols.subscription, &mut row.sub_account)?;
    if let Some(g) = cols.group.and_then(|i| rec.str(i)) {
        row.project_id.push_str(&g.to_ascii_lowercase());
    }
    if let Some(r) = cols.resource.and_then(|i| rec.str(i)) {
        row.resource_id.push_str(&r.to_ascii_lowercase());
    }
    rec.push_text(cols.region, &mut row.region)?;

    if is_ai(rec, cols) {
        if let Some((model, kind)) = cols
            .meter_name
            .and_then(|i| rec.str(i))
            .and_then(meter_tokens)
        {
            row.model.push_str(&model);
            let unit = cols.unit.and_then(|i| rec.str(i)).unwrap_or("");
            if row.charge_category == ChargeCategory::Usage {
                if let (Some(q), Some(mult)) = (money(cols.quantity)?, unit_multiplier(unit)) {
                    let n = token_count(q, mult, money(cols.price)?, row.cost);
                    match kind {
                        MeterTokens::Input => row.input_tokens = n,
                        MeterTokens::CachedInput => {
                            row.input_tokens = n;
                            row.cached_input_tokens = n;
                        }
                        MeterTokens::Output => row.output_tokens = n,
                    }
                }
            }
        }
    }

    if let Some(i) = cols.tags {
        if let Some(raw) = rec.str(i) {
            match tag_cache.get(raw) {
                Some(t) => row.tags.push_str(t),
                None => {
                    let map = parse_tags_object(raw).map_err(|reason| {
                        FieldError::new(
                            rec.name(i),
                            Some(raw),
                            reason,
                            "Tags is a JSON object, with or without its braces: \"team\": \"search\",\"env\": \"prod\"",
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
    }

    // Identity: every non-metric column by its English name, typed, and the tags.
    key.reset(FORMAT.name);
    for (i, name, kind) in &cols.key {
        rec.key(key, name, *i, *kind);
    }
    key.canonical("tags", &row.tags);
    row.record_id = key.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localised_and_camel_headers() {
        assert_eq!(
            norm("Kategorie der Verbrauchseinheit (MeterCategory)"),
            "metercategory"
        );
        assert_eq!(norm("\u{feff}BillingAccountId"), "billingaccountid");
        assert_eq!(norm("costInBillingCurrency"), "costinbillingcurrency");
        assert_eq!(norm("Tags"), "tags");
        assert_eq!(norm("Maßeinheit (UnitOfMeasure)"), "unitofmeasure");
    }

    #[test]
    fn azure_openai_meters() {
        use MeterTokens::*;
        let m = |s: &str| meter_tokens(s);
        assert_eq!(
            m("gpt 4o 0513 Input global Tokens"),
            Some(("gpt-4o-2024-05-13".into(), Input))
        );
        assert_eq!(
            m("gpt 4o 0513 Output global Tokens"),
            Some(("gpt-4o-2024-05-13".into(), Output))
        );
        assert_eq!(
            m("gpt-4o-mini-0718-Inp-glbl Tokens"),
            Some(("gpt-4o-mini-2024-07-18".into(), Input))
        );
        assert_eq!(
            m("gpt-4o-mini-0718-Outp-glbl Tokens"),
            Some(("gpt-4o-mini-2024-07-18".into(), Output))
        );
        assert_eq!(
            m("gpt 4o 1120 cached Inp glbl"),
            Some(("gpt-4o-2024-11-20".into(), CachedInput))
        );
        assert_eq!(m("R1 Inp glbl Tokens"), Some(("DeepSeek-R1".into(), Input)));
        assert_eq!(
            m("gpt-4-8K-Batch-Inp-glbl Tokens"),
            Some(("gpt-4".into(), Input))
        );
        assert_eq!(
            m("gpt 4.5 0227 cached Inp DZone"),
            Some(("gpt-4.5-preview-2025-02-27".into(), CachedInput))
        );
        assert_eq!(m("GPT 5 Inpt Glbl"), Some(("gpt-5".into(), Input)));
        assert_eq!(
            m("Llama 3.3 70B Inp glbl Tokens"),
            Some(("Llama 3.3 70B".into(), Input))
        );
        assert_eq!(m("Provisioned Managed Global"), None);
        assert_eq!(m("D2 v3/D2s v3"), None);
    }

    #[test]
    fn charge_types() {
        use ChargeCategory::*;
        for (t, c) in [
            ("Usage", Usage),
            ("UnusedReservation", Usage),
            ("UnusedSavingsPlan", Usage),
            ("Purchase", Purchase),
            ("Refund", Credit),
            ("RoundingAdjustment", Adjustment),
            ("Tax", Tax),
            ("", Usage),
        ] {
            assert_eq!(category(t), c, "{t}");
        }
    }
}
