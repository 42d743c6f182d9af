//! The generic request log (docs/formats/usage-log.md), CSV or JSON Lines → canonical
//! usage rows. Rows without a cost are priced from their tokens.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use xxhash_rust::xxh3::xxh3_128;

use super::identity::KeyHasher;
use super::registry::{Format, Probe};
use super::{Cell, FieldError, ParseCounts, ReadOptions, Record, RowParser, TagCache};
use crate::error::{quote, InputError, Place};
use crate::model::{normalize_provider, tags_json, Currency, Kind, Row};
use crate::money::parse_formatted;
use crate::timeparse::parse_timestamp;

pub static FORMAT: Format = Format {
    name: "usage-log",
    kind: Kind::Usage,
    about: "the generic request log: a timestamp plus model, tokens and/or cost (CSV, JSON Lines)",
    doc: "docs/formats/usage-log.md",
    columns: &[
        "timestamp",
        "provider",
        "model",
        "request_id",
        "session_id",
        "user_id",
        "api_key_id",
        "project_id",
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "cost",
        "currency",
        "tags",
    ],
    required: &["timestamp", "cost"],
    detect,
    parser: boxed,
};

fn detect(p: &Probe) -> u8 {
    let has_time = p.has("timestamp");
    if p.is_json() {
        return if has_time { 50 } else { 0 };
    }
    if has_time && p.count(&["model", "input_tokens", "output_tokens", "cost"]) > 0 {
        50
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
    Ok(Box::new(csv_parser(path, headers, opts, notes)?))
}

/// The columns, in the order of [`Fields::v`].
const NAMES: [&str; 14] = [
    "timestamp",
    "provider",
    "model",
    "request_id",
    "session_id",
    "user_id",
    "api_key_id",
    "project_id",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "cost",
    "currency",
];
const TIMESTAMP: usize = 0;
const PROVIDER: usize = 1;
const MODEL: usize = 2;
const REQUEST_ID: usize = 3;
const SESSION_ID: usize = 4;
const USER_ID: usize = 5;
const API_KEY_ID: usize = 6;
const PROJECT_ID: usize = 7;
const INPUT: usize = 8;
const CACHED: usize = 9;
const CACHE_WRITE: usize = 10;
const OUTPUT: usize = 11;
const COST: usize = 12;
const CURRENCY: usize = 13;

/// One request's values as text; None is "not given".
struct Fields<'a> {
    v: [Option<&'a str>; 14],
}

/// What stays the same across the rows of a file.
struct State<'a> {
    opts: &'a ReadOptions<'a>,
    priced: u64,
    formatted: u64,
    unknown: super::UnknownModels,
    tag_cache: TagCache,
    key: String,
    keybuf: Vec<u8>,
    hasher: KeyHasher,
}

impl<'a> State<'a> {
    fn new(opts: &'a ReadOptions<'a>) -> Self {
        State {
            opts,
            priced: 0,
            formatted: 0,
            unknown: Default::default(),
            tag_cache: TagCache::default(),
            key: String::new(),
            keybuf: Vec::new(),
            hasher: KeyHasher::new("usage-log"),
        }
    }
}

/// The column layout of a CSV usage log.
struct Layout {
    idx: [Option<usize>; 14],
    tags_col: Option<usize>,
    tag_cols: Vec<(String, usize)>,
}

/// The usage-log row parser for a CSV file with these headers.
pub fn csv_parser<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<UsageParser<'a>> {
    let mut layout = Layout {
        idx: [None; 14],
        tags_col: None,
        tag_cols: Vec::new(),
    };
    let mut unknown = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let lower = h.trim_ascii().to_ascii_lowercase();
        if let Some(k) = NAMES.iter().position(|n| *n == lower) {
            layout.idx[k] = Some(i);
        } else if lower == "tags" {
            layout.tags_col = Some(i);
        } else if let Some(key) = h.trim_ascii().strip_prefix("tag:") {
            layout.tag_cols.push((key.to_string(), i));
        } else if !h.trim_ascii().is_empty() {
            unknown.push(h.clone());
        }
    }
    if layout.idx[TIMESTAMP].is_none() {
        return Err(InputError::new(
            path,
            Place::line(1),
            "a usage log without a \"timestamp\" column",
        )
        .fix(format!(
            "add a timestamp column (RFC 3339); found: {}",
            headers.join(", ")
        ))
        .into());
    }
    if !unknown.is_empty() {
        notes.push(format!(
            "columns ignored (not usage-log columns): {}",
            unknown.join(", ")
        ));
    }
    Ok(UsageParser {
        layout: std::sync::Arc::new(layout),
        st: State::new(opts),
    })
}

/// Parses usage-log CSV records; one per worker thread.
pub struct UsageParser<'a> {
    layout: std::sync::Arc<Layout>,
    st: State<'a>,
}

impl<'a> RowParser<'a> for UsageParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let mut owned: [Option<Cow<str>>; 14] = Default::default();
        let f = match rec.csv() {
            // CSV, the hot path: the fields are slices of the record.
            Some(t) => Fields {
                v: std::array::from_fn(|k| self.layout.idx[k].and_then(|i| t.value(i))),
            },
            None => {
                for (k, i) in self.layout.idx.iter().enumerate() {
                    if let Some(i) = *i {
                        owned[k] = rec.text(i)?;
                    }
                }
                Fields {
                    v: std::array::from_fn(|k| owned[k].as_deref()),
                }
            }
        };
        // Tags: a JSON object (JSON input) or its text (a CSV cell).
        let tags = match self.layout.tags_col {
            Some(i) => match rec.cell(i) {
                Cell::Json(j) => Some(Cow::Owned(j.to_string())),
                _ => rec.text(i)?,
            },
            None => None,
        };
        csv_tags(
            &mut self.st,
            tags.as_deref(),
            &self.layout.tag_cols,
            rec,
            &mut row.tags,
        )?;
        build(&f, &mut self.st, row)
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(UsageParser {
            layout: self.layout.clone(),
            st: State::new(self.st.opts),
        })
    }

    fn counts(&self) -> ParseCounts {
        ParseCounts {
            priced: self.st.priced,
            formatted: self.st.formatted,
            unknown_models: self.st.unknown.clone(),
            ..ParseCounts::default()
        }
    }
}

/// Canonical tags of a CSV row, appended to `out`: the `tags` JSON cell merged with
/// `tag:` columns (which win). Distinct tag sets are few, so they are cached.
fn csv_tags(
    st: &mut State,
    json: Option<&str>,
    tag_cols: &[(String, usize)],
    rec: &Record,
    out: &mut String,
) -> Result<(), FieldError> {
    if json.is_none() && tag_cols.is_empty() {
        return Ok(());
    }
    st.key.clear();
    super::push_key_part(&mut st.key, json.unwrap_or(""));
    for (_, i) in tag_cols {
        super::push_key_part(&mut st.key, rec.str(*i).unwrap_or(""));
    }
    if let Some(t) = st.tag_cache.get(&st.key) {
        out.push_str(t);
        return Ok(());
    }
    let mut map = match json {
        Some(j) => crate::model::parse_tags_object(j).map_err(|reason| {
            FieldError::new(
                "tags",
                Some(j),
                reason,
                "tags must be a JSON object such as {\"team\": \"search\"}",
            )
        })?,
        None => BTreeMap::new(),
    };
    for (k, i) in tag_cols {
        let v = rec.str(*i).unwrap_or("");
        if !v.is_empty() {
            map.insert(k.clone(), v.to_string());
        }
    }
    let canon = tags_json(&map);
    out.push_str(&canon);
    if st.tag_cache.len() < 100_000 {
        st.tag_cache.insert(st.key.clone(), canon);
    }
    Ok(())
}

fn int(f: &Fields, k: usize) -> Result<Option<i64>, FieldError> {
    let Some(v) = f.v[k] else { return Ok(None) };
    let t = v.trim_ascii();
    let t = t.strip_suffix(".0").unwrap_or(t);
    match t.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        Ok(_) => Err(FieldError::new(
            NAMES[k],
            Some(v),
            format!("{} is negative: a token count cannot be", quote(t)),
            "write token counts as whole numbers of 0 or more",
        )),
        Err(_) => Err(FieldError::new(
            NAMES[k],
            Some(v),
            format!("{} is not a whole number of tokens", quote(t)),
            "write token counts as plain integers, without separators",
        )),
    }
}

/// Fills `row` from the fields.
fn build(f: &Fields, st: &mut State, row: &mut Row) -> Result<(), FieldError> {
    let ts_text = f.v[TIMESTAMP].ok_or_else(|| {
        FieldError::new(
            "timestamp",
            None,
            "the timestamp is empty",
            "every request needs a timestamp (RFC 3339, e.g. 2026-10-03T14:05:09Z)",
        )
    })?;
    let ts = parse_timestamp(ts_text).ok_or_else(|| {
        FieldError::new(
            "timestamp",
            Some(ts_text),
            format!("cannot read the timestamp {}", quote(ts_text.trim_ascii())),
            "use RFC 3339 (2026-10-03T14:05:09Z), a date and time without zone for UTC, or Unix seconds (10 digits) or milliseconds (13 digits)",
        )
    })?;
    row.charge_start = ts;
    row.charge_end = ts;
    row.requests = Some(1);
    row.input_tokens = int(f, INPUT)?;
    row.cached_input_tokens = int(f, CACHED)?;
    row.cache_write_tokens = int(f, CACHE_WRITE)?;
    row.output_tokens = int(f, OUTPUT)?;
    let cached = row.cached_input_tokens.unwrap_or(0);
    let written = row.cache_write_tokens.unwrap_or(0);
    let cached_and_written = cached.checked_add(written).ok_or_else(|| {
        FieldError::new(
            "cached_input_tokens",
            f.v[CACHED],
            "cached plus cache-write tokens are beyond any real request",
            "check the token columns",
        )
    })?;
    if cached_and_written > 0 {
        let input = row.input_tokens.ok_or_else(|| {
            FieldError::new(
                "input_tokens",
                None,
                "cached or cache-write tokens are given but input_tokens is not",
                "input_tokens counts all input, including cached and cache-write tokens",
            )
        })?;
        if cached_and_written > input {
            return Err(FieldError::new(
                "cached_input_tokens",
                f.v[CACHED],
                format!(
                    "cached ({cached}) plus cache-write ({written}) tokens exceed input_tokens ({input})"
                ),
                "input_tokens must count all input, including cached and cache-write tokens (Anthropic reports uncached input separately: add them up)",
            ));
        }
    }
    if let Some(m) = f.v[MODEL] {
        row.model.push_str(m.trim_ascii());
    }
    if let Some(p) = f.v[PROVIDER] {
        normalize_provider(p, &mut row.provider);
    }
    for (k, dst) in [
        (REQUEST_ID, &mut row.request_id),
        (SESSION_ID, &mut row.session_id),
        (USER_ID, &mut row.user_id),
        (API_KEY_ID, &mut row.api_key_id),
        (PROJECT_ID, &mut row.project_id),
    ] {
        if let Some(v) = f.v[k] {
            dst.push_str(v.trim_ascii());
        }
    }
    let currency = match f.v[CURRENCY] {
        Some(c) => Some(super::currency("currency", c)?),
        None => None,
    };
    let mut given_cost = None;
    match f.v[COST] {
        Some(c) => {
            let cur = currency.unwrap_or(Currency::USD);
            let (cost, lenient) =
                parse_formatted(c, cur.as_str()).map_err(|e| FieldError::money("cost", c, &e))?;
            st.formatted += lenient as u64;
            row.cost = cost;
            row.currency = Some(cur);
            given_cost = Some(cost);
        }
        None => {
            let has_tokens = row.input_tokens.is_some() || row.output_tokens.is_some();
            if !has_tokens || row.model.is_empty() {
                return Err(FieldError::new(
                    "cost",
                    None,
                    "no cost, and no model with token counts to price the request from",
                    "give a cost, or model plus input_tokens/output_tokens",
                ));
            }
            if currency.is_some_and(|c| c != Currency::USD) {
                return Err(FieldError::new(
                    "currency",
                    f.v[CURRENCY],
                    "a row without a cost is priced in USD, but its currency is not USD",
                    "give the cost in that currency, or leave the currency empty",
                ));
            }
            super::price(st.opts, &mut st.unknown, row, f.v[INPUT])?;
            st.priced += 1;
        }
    }
    if row.provider.is_empty() {
        row.provider.push_str("unknown");
    }
    row.record_id = identity(st, row, ts, given_cost, currency);
    Ok(())
}

/// A request's identity: its provider and request id when it has one, else every typed
/// value of the request (source/identity.rs), so CSV and JSON Lines of one log agree.
fn identity(
    st: &mut State,
    row: &Row,
    ts: i64,
    given_cost: Option<crate::money::Money>,
    currency: Option<Currency>,
) -> u128 {
    if !row.request_id.is_empty() {
        // Fixed since the first store layout: xxh3-128("usage-log␟<provider>␟request␟<id>").
        let k = &mut st.keybuf;
        k.clear();
        k.extend_from_slice(b"usage-log\x1f");
        k.extend_from_slice(row.provider.as_bytes());
        k.extend_from_slice(b"\x1frequest\x1f");
        k.extend_from_slice(row.request_id.as_bytes());
        return xxh3_128(k);
    }
    let key = &mut st.hasher;
    key.reset("usage-log");
    key.canonical("provider", &row.provider);
    key.int("timestamp", Some(ts.into()));
    key.canonical("model", &row.model);
    key.canonical("session_id", &row.session_id);
    key.canonical("user_id", &row.user_id);
    key.canonical("api_key_id", &row.api_key_id);
    key.canonical("project_id", &row.project_id);
    for (name, n) in [
        ("input_tokens", row.input_tokens),
        ("cached_input_tokens", row.cached_input_tokens),
        ("cache_write_tokens", row.cache_write_tokens),
        ("output_tokens", row.output_tokens),
    ] {
        key.int(name, n.map(i128::from));
    }
    if let Some(c) = given_cost {
        key.canonical("cost", &c.to_string());
    }
    if let Some(c) = currency {
        key.canonical("currency", c.as_str());
    }
    key.canonical("tags", &row.tags);
    key.finish()
}
