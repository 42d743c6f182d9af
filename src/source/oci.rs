//! Oracle Cloud (OCI) cost reports (`reports/cost-csv/*.csv.gz`) → canonical bill rows
//! (docs/formats/oracle.md).
//!
//! A correction (`lineItem/isCorrection` = true) carries the restated value of the line
//! whose `lineItem/referenceNo` is its `lineItem/backreferenceNo`, so it takes that line's
//! identity and replaces it in the store. When the corrected line is in the same file,
//! it is kept at 0 under an identity of its own, so the line counts once, at its corrected
//! amount.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use anyhow::Result;

use super::cloud::Columns;
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::error::{InputError, Place};
use crate::model::{tags_json, ChargeCategory, Kind, Row};
use crate::money::Money;
use crate::timeparse::Month;

pub static FORMAT: Format = Format {
    name: "oci-cost",
    kind: Kind::Bill,
    about: "Oracle Cloud (OCI) cost reports (reports/cost-csv, CSV or CSV.gz)",
    doc: "docs/formats/oracle.md",
    columns: &[],
    required: &[
        "lineItem/referenceNo",
        "lineItem/intervalUsageStart",
        "cost/myCost",
    ],
    detect,
    parser: boxed,
};

fn norm(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()
}

fn detect(p: &Probe) -> u8 {
    if p.has("lineItem/referenceNo") && p.has("cost/myCost") {
        85
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

struct Cols {
    reference: usize,
    start: usize,
    end: Option<usize>,
    cost: usize,
    currency: Option<usize>,
    correction: Option<usize>,
    back: Option<usize>,
    service: Option<usize>,
    sku: Option<usize>,
    description: Option<usize>,
    tenant: Option<usize>,
    compartment: Option<usize>,
    compartment_name: Option<usize>,
    resource: Option<usize>,
    region: Option<usize>,
    /// `tags/<key>` columns: (index, key).
    tags: Vec<(usize, String)>,
    /// referenceNos that a correction in this same file restates.
    corrected_here: HashSet<String>,
}

pub fn parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<OciParser<'a>> {
    let c = Columns::new(headers, norm);
    let missing: Vec<&str> = FORMAT
        .required
        .iter()
        .filter(|n| !c.has(&n.to_ascii_lowercase()))
        .copied()
        .collect();
    if !missing.is_empty() {
        let usage = c.has("usage/consumedquantity") && !c.has("cost/mycost");
        return Err(InputError::new(
            path,
            Place::line(1),
            format!(
                "an OCI cost report without required column(s) {}",
                missing.join(", ")
            ),
        )
        .fix(if usage {
            "this is an OCI usage report (reports/usage-csv), which has no costs: ingest the cost report (reports/cost-csv) instead".to_string()
        } else {
            format!(
                "ingest the cost report (reports/cost-csv) unchanged (found: {})",
                super::shown_columns(headers)
            )
        })
        .into());
    }
    let f = |n: &str| c.find(&[n]);
    let correction = f("lineitem/iscorrection");
    let back = f("lineitem/backreferenceno");
    let reference = f("lineitem/referenceno").unwrap_or(0);
    let corrected_here = match (correction, back) {
        (Some(ci), Some(bi)) => corrected_lines(path, reference, ci, bi)?,
        _ => HashSet::new(),
    };
    if !corrected_here.is_empty() {
        notes.push(format!(
            "{} line(s) of this file are restated by a correction in the same file: each counts once, at its corrected amount (the original is kept at 0)",
            corrected_here.len()
        ));
    }
    let cols = Cols {
        reference,
        start: f("lineitem/intervalusagestart").unwrap_or(0),
        end: f("lineitem/intervalusageend"),
        cost: f("cost/mycost").unwrap_or(0),
        currency: f("cost/currencycode"),
        correction,
        back,
        service: f("product/service"),
        sku: f("cost/productsku"),
        description: f("product/description"),
        tenant: f("lineitem/tenantid"),
        compartment: f("product/compartmentid"),
        compartment_name: f("product/compartmentname"),
        resource: f("product/resourceid"),
        region: f("product/region"),
        tags: headers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let h = h.trim();
                h.get(..5)
                    .filter(|p| p.eq_ignore_ascii_case("tags/"))
                    .map(|_| (i, h[5..].to_string()))
            })
            .collect(),
        corrected_here,
    };
    if cols.currency.is_none() {
        notes.push(format!(
            "no cost/currencyCode column: amounts are read as {} (--currency names another)",
            opts.default_currency
        ));
    }
    notes.push("OCI cost reports name no invoice month: each charge is billed in the month of its lineItem/intervalUsageStart".into());
    Ok(OciParser {
        cols: std::sync::Arc::new(cols),
        opts,
        key: KeyHasher::new(FORMAT.name),
    })
}

/// The referenceNos restated by correction lines of the file (a first pass over a CSV or
/// CSV.gz; nothing for other files). A report holds a few hours, so the pass is short.
fn corrected_lines(
    path: &Path,
    reference: usize,
    correction: usize,
    back: usize,
) -> Result<HashSet<String>> {
    let bad = |e: String| InputError::new(path, Place::default(), format!("cannot read: {e}"));
    let mut file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(|e| bad(e.to_string()))?;
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let reader: Box<dyn Read> = if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if n == 4 && &magic == b"PAR1" {
        return Ok(HashSet::new());
    } else {
        Box::new(file)
    };
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let mut out = HashSet::new();
    let mut rec = csv::ByteRecord::new();
    // A read error here is reported by the main read, with its line.
    while let Ok(true) = csv.read_byte_record(&mut rec) {
        let is_corr = rec
            .get(correction)
            .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"true"));
        if !is_corr {
            continue;
        }
        if let Some(b) = rec
            .get(back)
            .map(<[u8]>::trim_ascii)
            .filter(|b| !b.is_empty())
        {
            if rec.get(reference).map(<[u8]>::trim_ascii) != Some(b) {
                out.insert(String::from_utf8_lossy(b).into_owned());
            }
        }
    }
    Ok(out)
}

pub struct OciParser<'a> {
    cols: std::sync::Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    key: KeyHasher,
}

impl<'a> RowParser<'a> for OciParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        fill(rec, &self.cols, self.opts, &mut self.key, row)
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(OciParser {
            cols: self.cols.clone(),
            opts: self.opts,
            key: KeyHasher::new(FORMAT.name),
        })
    }

    fn counts(&self) -> ParseCounts {
        ParseCounts::default()
    }
}

fn fill(
    rec: &Record,
    cols: &Cols,
    opts: &ReadOptions,
    key: &mut KeyHasher,
    row: &mut Row,
) -> Result<(), FieldError> {
    row.currency = Some(match cols.currency.and_then(|i| rec.str(i)) {
        Some(v) => super::currency(rec.name(cols.currency.unwrap_or(0)), v)?,
        None => opts.default_currency,
    });
    let currency = row.currency.unwrap_or(opts.default_currency);
    row.cost = rec
        .money(cols.cost, currency.as_str())?
        .map(|(m, _)| m)
        .ok_or_else(|| {
            FieldError::new(
                rec.name(cols.cost),
                None,
                "the cost is empty",
                "every cost report line has a cost/myCost; 0 is a valid amount",
            )
        })?;
    let reference = rec.text(cols.reference)?.ok_or_else(|| {
        FieldError::new(
            rec.name(cols.reference),
            None,
            "the line has no referenceNo",
            "every cost report line has a lineItem/referenceNo; ingest the report unchanged",
        )
    })?;
    row.charge_start = rec.time(cols.start)?.ok_or_else(|| {
        FieldError::new(
            rec.name(cols.start),
            None,
            "the usage interval start is empty",
            "every cost report line has a lineItem/intervalUsageStart",
        )
    })?;
    row.charge_end = match cols.end {
        Some(i) => rec.time(i)?.unwrap_or(row.charge_start),
        None => row.charge_start,
    };
    if row.charge_end < row.charge_start {
        return Err(FieldError::new(
            rec.name(cols.end.unwrap_or(cols.start)),
            cols.end.and_then(|i| rec.str(i)),
            "the usage interval ends before it starts",
            "check lineItem/intervalUsageStart and lineItem/intervalUsageEnd",
        ));
    }
    row.billing_period = Some(Month::of_micros(row.charge_start));
    row.charge_category = ChargeCategory::Usage;
    row.provider.push_str("oracle");
    rec.push_text(cols.service, &mut row.service)?;
    rec.push_text(cols.sku, &mut row.sku)?;
    rec.push_text(cols.description, &mut row.description)?;
    rec.push_text(cols.tenant, &mut row.billing_account)?;
    rec.push_text(cols.compartment, &mut row.sub_account)?;
    rec.push_text(cols.compartment_name, &mut row.project_id)?;
    rec.push_text(cols.resource, &mut row.resource_id)?;
    rec.push_text(cols.region, &mut row.region)?;
    if !cols.tags.is_empty() {
        let mut map = std::collections::BTreeMap::new();
        for (i, k) in &cols.tags {
            if let Some(v) = rec.text(*i)? {
                map.insert(k.clone(), v.into_owned());
            }
        }
        row.tags.push_str(&tags_json(&map));
    }

    // Identity: the line's referenceNo; a correction takes the referenceNo it restates.
    let is_correction = cols
        .correction
        .and_then(|i| rec.str(i))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let back = cols.back.and_then(|i| rec.str(i)).filter(|_| is_correction);
    key.reset(FORMAT.name);
    if let Some(back) = back {
        key.text("reference_no", back, KeyKind::Any);
    } else if cols.corrected_here.contains(reference.as_ref()) {
        // Restated by a correction further on in this file: counts once, there.
        row.cost = Money::ZERO;
        key.text("superseded_reference_no", &reference, KeyKind::Any);
    } else {
        key.text("reference_no", &reference, KeyKind::Any);
    }
    row.record_id = key.finish();
    Ok(())
}
