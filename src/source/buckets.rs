//! What the provider API adapters share (OpenAI Costs/Usage, Anthropic cost/usage
//! reports): columns found by any of their spellings (a JSON key path or a dashboard CSV
//! header), the time bucket of a row, tags from plain columns, and the pricing of an
//! aggregated usage row from its tokens (docs/pricing.md#aggregated-usage-rows).

use std::collections::BTreeMap;

use super::identity::KeyHasher;
use super::{FieldError, ParseCounts, ReadOptions, Record};
use crate::error::quote;
use crate::model::{tags_json, Row};
use crate::pricing::Aggregate;
use crate::timeparse::Micros;

/// The index of the first of `names` (any case) among `headers`.
pub fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(n))
    })
}

/// Whether every cell of `rec` outside `keep` is empty: a dashboard row of an empty time
/// bucket (only its time columns filled).
pub fn only(rec: &Record, width: usize, keep: &[Option<usize>]) -> bool {
    (0..width)
        .filter(|i| !keep.contains(&Some(*i)))
        .all(|i| rec.cell(i).is_null())
}

/// The first instant among `cols` that is given (e.g. `start_time`, then `start_time_iso`).
pub fn time(rec: &Record, cols: &[Option<usize>]) -> Result<Option<Micros>, FieldError> {
    for i in cols.iter().flatten() {
        if let Some(t) = rec.time(*i).map_err(|e| {
            e.fix("use Unix seconds (1790812800) or ISO 8601 (2026-10-01T00:00:00Z), as the API writes them")
        })? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// A bucket's `[start, end)`: the start is required; without an end, `start + default`.
pub fn interval(
    rec: &Record,
    start: &[Option<usize>],
    end: &[Option<usize>],
    start_name: &str,
    default: Micros,
) -> Result<(Micros, Micros), FieldError> {
    let s = time(rec, start)?.ok_or_else(|| {
        FieldError::new(
            start_name,
            None,
            format!("the row has no {start_name}"),
            "every row needs the start of its time bucket; export the file unchanged",
        )
    })?;
    let e = time(rec, end)?.unwrap_or(s + default);
    if e < s {
        let i = end.iter().flatten().next().copied().unwrap_or(0);
        return Err(FieldError::new(
            rec.name(i),
            rec.str(i),
            "the bucket ends before it starts",
            "check the start and end columns (swapped?)",
        ));
    }
    Ok((s, e))
}

/// Tags from plain columns: `(tag key, column)`; empty cells are left out. Numbers and
/// booleans are kept as their text (`true`, `3`).
pub fn tags(
    rec: &Record,
    cols: &[(&str, Option<usize>)],
    extra: &[(&str, String)],
    out: &mut String,
) -> Result<(), FieldError> {
    let mut map = BTreeMap::new();
    for (k, i) in cols {
        if let Some(i) = i {
            if let Some(v) = rec.text(*i)? {
                map.insert(k.to_string(), v.into_owned());
            }
        }
    }
    for (k, v) in extra {
        if !v.is_empty() {
            map.insert(k.to_string(), v.clone());
        }
    }
    out.push_str(&tags_json(&map));
    Ok(())
}

/// A boolean cell (`true`, `True`, `TRUE`, `1`, JSON true) as `true`/`false`; None when
/// empty.
pub fn boolean(rec: &Record, i: Option<usize>) -> Result<Option<bool>, FieldError> {
    let Some(i) = i else { return Ok(None) };
    let Some(t) = rec.text(i)? else {
        return Ok(None);
    };
    match t.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        _ => Err(FieldError::new(
            rec.name(i),
            Some(&t),
            format!("{} is not true or false", quote(&t)),
            "write true or false",
        )),
    }
}

/// Adds the canonical text parts of a key: ids and names as they are (trimmed).
pub fn key_texts(key: &mut KeyHasher, parts: &[(&str, &str)]) {
    for (name, v) in parts {
        key.text(name, v, super::identity::KeyKind::Any);
    }
}

/// The token counts of a row, for messages: `input 1234, cached 234, cache-write 0,
/// output 56 tokens, 3 requests`.
pub fn tokens_text(row: &Row) -> String {
    let n = |v: Option<i64>| v.unwrap_or(0);
    let mut s = format!(
        "input {}, cached {}, cache-write {}, output {} tokens",
        n(row.input_tokens),
        n(row.cached_input_tokens),
        n(row.cache_write_tokens),
        n(row.output_tokens)
    );
    if let Some(r) = row.requests {
        s.push_str(&format!(", {r} requests"));
    }
    s
}

/// Checks that cached and cache-write tokens are parts of the input (SPEC §2.2).
pub fn check_tokens(row: &Row, input_name: &str) -> Result<(), FieldError> {
    let input = row.input_tokens.unwrap_or(0);
    let parts = row
        .cached_input_tokens
        .unwrap_or(0)
        .checked_add(row.cache_write_tokens.unwrap_or(0));
    match parts {
        Some(p) if p <= input => Ok(()),
        _ => Err(FieldError::new(
            input_name,
            Some(&input.to_string()),
            format!(
                "cached ({}) plus cache-write ({}) tokens exceed the input tokens ({input})",
                row.cached_input_tokens.unwrap_or(0),
                row.cache_write_tokens.unwrap_or(0)
            ),
            "input tokens count all input, cached and cache-write included; export the file unchanged",
        )),
    }
}

/// What [`ParseCounts::skipped`] counts for these formats.
pub const SKIPPED: &str = "rows with only their time columns (time buckets without usage)";

/// Prices an aggregated usage row from its tokens through [`super::price_with`] (one
/// pricing function for every usage format): sets `cost`, USD and `cost_is_estimate`. A
/// row without a model, or whose model the price table lacks, is an error naming its
/// token counts (and the latter is listed in the closing note): never priced at zero.
pub fn price(
    opts: &ReadOptions,
    counts: &mut ParseCounts,
    row: &mut Row,
    agg: &Aggregate,
    fix: &str,
) -> Result<(), FieldError> {
    if row.model.is_empty() {
        return Err(FieldError::new(
            "model",
            None,
            format!(
                "no model to price the row from ({}): the report was not grouped by model",
                tokens_text(row)
            ),
            format!("pull the usage grouped by model; {fix}"),
        ));
    }
    let tokens = tokens_text(row);
    super::price_with(opts, &mut counts.unknown_models, row, None, |p| {
        p.cost_aggregate(agg)
    })
    .map_err(|e| {
        if e.column == "model" {
            // The shared message names input and output; these rows name every count.
            FieldError::new(
                "model",
                e.value.as_deref(),
                format!(
                    "no cost, and the price table has no model {} ({tokens})",
                    quote(e.value.as_deref().unwrap_or(""))
                ),
                format!("give a price table that has this model (--prices FILE or [pricing] file, docs/pricing.md); {fix}"),
            )
        } else {
            e
        }
    })?;
    counts.priced += 1;
    Ok(())
}
