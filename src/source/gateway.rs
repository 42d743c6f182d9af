//! What the gateway adapters (LiteLLM, Helicone, Langfuse; docs/formats/gateways.md) share:
//! finding columns, tags from JSON maps and `k:v` strings, provider names, token counts in
//! JSON maps, and the fields every request row gets.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use super::{FieldError, ParseCounts, ReadOptions, Record};
use crate::error::quote;
use crate::model::{normalize_provider, Currency, Row};
use crate::money::Money;

/// The first of `names` present in `headers`, any case, surrounding blanks ignored.
pub fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| {
        headers
            .iter()
            .position(|h| h.trim_ascii().eq_ignore_ascii_case(n))
    })
}

/// A scalar JSON value as tag text: strings as they are, numbers as written, booleans as
/// `true`/`false`, null as `""`; None for objects and arrays.
pub fn json_text_value(v: &Value) -> Option<String> {
    crate::model::tag_value_text(v)
}

/// Any JSON value as tag text: scalars as [`json_text_value`], objects and arrays as their
/// compact JSON text (`{"arm":"b"}`).
pub fn tag_text(v: &Value) -> String {
    json_text_value(v).unwrap_or_else(|| v.to_string())
}

/// A `"k:v"` tag string split at its first colon, both sides trimmed; a string without a
/// colon is a key with an empty value; None for a blank string.
pub fn split_tag(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Some(match s.split_once(':') {
        Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
        None => (s.to_string(), String::new()),
    })
}

/// Adds the entries of a JSON object to `tags` (a later source wins on a key).
pub fn add_map_tags(m: &serde_json::Map<String, Value>, tags: &mut BTreeMap<String, String>) {
    for (k, v) in m {
        tags.insert(k.clone(), tag_text(v));
    }
}

/// Adds a JSON array of `"k:v"` strings to `tags`. `column` names the field in errors.
pub fn add_list_tags(
    column: &str,
    v: &Value,
    tags: &mut BTreeMap<String, String>,
) -> Result<(), FieldError> {
    let bad = || {
        FieldError::new(
            column,
            Some(&v.to_string()),
            format!("{} is not a list of tag strings", quote(&v.to_string())),
            format!("{column} is a JSON array of strings such as [\"team:search\", \"prod\"]"),
        )
    };
    match v {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for it in items {
                let Value::String(s) = it else {
                    return Err(bad());
                };
                if let Some((k, v)) = split_tag(s) {
                    tags.insert(k, v);
                }
            }
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// A column that holds a JSON value (nested in JSON input, JSON text in CSV); None when
/// absent or empty.
pub fn json_cell<'r>(
    rec: &Record<'r>,
    i: Option<usize>,
) -> Result<Option<Cow<'r, Value>>, FieldError> {
    match i {
        Some(i) => rec.json(i),
        None => Ok(None),
    }
}

/// A JSON object column; `null` and `{}` give None. Anything but an object is an error.
pub fn json_object<'r>(
    rec: &Record<'r>,
    i: Option<usize>,
    what: &str,
) -> Result<Option<Cow<'r, Value>>, FieldError> {
    let Some(v) = json_cell(rec, i)? else {
        return Ok(None);
    };
    match &*v {
        Value::Object(m) if m.is_empty() => Ok(None),
        Value::Object(_) => Ok(Some(v)),
        Value::Null => Ok(None),
        other => {
            let shown = other.to_string();
            Err(FieldError::new(
                i.map_or("", |i| rec.name(i)),
                Some(&shown),
                format!("{} is not a JSON object", quote(&shown)),
                format!("{what} is a JSON object such as {{\"team\": \"search\"}}"),
            ))
        }
    }
}

/// A token count inside a JSON map (`usage_object.cache_read_input_tokens`): a whole number
/// of 0 or more (`12.0` is 12, a numeric string too); null or absent is None.
pub fn json_count(column: &str, key: &str, v: Option<&Value>) -> Result<Option<i64>, FieldError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => other.to_string(),
    };
    let whole = text
        .strip_suffix(".0")
        .unwrap_or(&text)
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0);
    whole.map(Some).ok_or_else(|| {
        FieldError::new(
            column,
            Some(&text),
            format!("{key} {} is not a whole number of tokens", quote(&text)),
            "token counts are whole numbers of 0 or more",
        )
    })
}

/// Column `i` as a token count (`rec.count`), None when absent.
pub fn count(rec: &Record, i: Option<usize>) -> Result<Option<i64>, FieldError> {
    match i {
        Some(i) => rec.count(i),
        None => Ok(None),
    }
}

/// A gateway's provider name → finops' (`vertex_ai` → gcp, `bedrock` → aws, `OPENAI` →
/// openai, ...).
pub fn provider(raw: &str, out: &mut String) {
    let lower = raw.trim().to_ascii_lowercase();
    let known = match lower.as_str() {
        "vertex_ai"
        | "vertex_ai_beta"
        | "vertex_ai-language-models"
        | "gemini"
        | "google"
        | "vertex"
        | "google_ai_studio" => "gcp",
        "bedrock" | "bedrock_converse" | "sagemaker" | "aws" => "aws",
        "azure" | "azure_ai" | "azure_text" => "azure",
        "openai" | "text-completion-openai" | "openai_compatible" => "openai",
        _ => "",
    };
    if known.is_empty() {
        normalize_provider(raw, out);
    } else {
        out.clear();
        out.push_str(known);
    }
}

/// A USD cost column, exact. None when empty (then the row is priced).
pub fn usd(rec: &Record, i: usize) -> Result<Option<Money>, FieldError> {
    Ok(rec.money(i, "USD")?.map(|(m, _)| m))
}

/// Finishes a request row: one request, the end not before the start, a cost (logged, or
/// priced from tokens with [`super::price`], counted in `counts`), cache tokens within the input, a provider
/// (the price table's for the model when the log names none).
pub fn finish(
    row: &mut Row,
    cost: Option<Money>,
    opts: &ReadOptions,
    counts: &mut ParseCounts,
) -> Result<(), FieldError> {
    row.requests = Some(1);
    if row.charge_end < row.charge_start {
        row.charge_end = row.charge_start;
    }
    let input = row.input_tokens.unwrap_or(0);
    let cached = row.cached_input_tokens.unwrap_or(0);
    let written = row.cache_write_tokens.unwrap_or(0);
    if cached.saturating_add(written) > input {
        return Err(FieldError::new(
            "input_tokens",
            Some(&input.to_string()),
            format!(
                "cached ({cached}) plus cache-write ({written}) tokens exceed the input tokens ({input})"
            ),
            "the log's token counts disagree; check the request's usage",
        ));
    }
    match cost {
        Some(c) => {
            row.cost = c;
            row.currency = Some(Currency::USD);
        }
        None => {
            if row.model.is_empty() || (row.input_tokens.is_none() && row.output_tokens.is_none()) {
                return Err(FieldError::new(
                    "cost",
                    None,
                    "no cost, and no model with token counts to price the request from",
                    "the log's request has neither a cost nor a model and tokens; export it whole",
                ));
            }
            super::price(opts, &mut counts.unknown_models, row, None)?;
            counts.priced += 1;
        }
    }
    if row.provider.is_empty() && !row.model.is_empty() {
        if let Ok(table) = opts.prices.get() {
            if let Some(p) = table.lookup("", &row.model) {
                row.provider.push_str(&p.provider);
            }
        }
    }
    if row.provider.is_empty() {
        row.provider.push_str("unknown");
    }
    Ok(())
}

/// Input tokens from a prompt count and cache counts that it may or may not include,
/// decided by a total when one is given (docs/formats/gateways.md, Helicone): the first of
/// "prompt excludes both", "prompt includes both", "prompt includes reads only" that makes
/// `prompt + output + extra = total`; without a fitting total, prompt excludes both.
pub fn input_by_total(prompt: i64, output: i64, read: i64, write: i64, total: Option<i64>) -> i64 {
    let options = [read + write, 0, write];
    let extra = total
        .and_then(|t| options.into_iter().find(|e| prompt + output + e == t))
        .unwrap_or(read + write);
    prompt + extra
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_at_the_first_colon() {
        assert_eq!(
            split_tag(" team:search "),
            Some(("team".into(), "search".into()))
        );
        assert_eq!(split_tag("prod"), Some(("prod".into(), String::new())));
        assert_eq!(
            split_tag("url:https://a.example/x?y=1"),
            Some(("url".into(), "https://a.example/x?y=1".into()))
        );
        assert_eq!(split_tag("  "), None);
        let mut t = BTreeMap::new();
        add_list_tags("request_tags", &serde_json::json!(["a:1", "b", ""]), &mut t).unwrap();
        assert_eq!(t.len(), 2);
        assert!(add_list_tags("request_tags", &serde_json::json!([1]), &mut t).is_err());
        assert!(add_list_tags("request_tags", &serde_json::json!({"a": 1}), &mut t).is_err());
    }

    #[test]
    fn tag_values_become_text() {
        let v: Value =
            serde_json::from_str(r#"{"a":"x","b":2,"c":true,"d":null,"e":{"arm":"b"},"f":[1,2]}"#)
                .unwrap();
        let mut t = BTreeMap::new();
        add_map_tags(v.as_object().unwrap(), &mut t);
        let got: Vec<&str> = t.values().map(String::as_str).collect();
        assert_eq!(got, ["x", "2", "true", "", r#"{"arm":"b"}"#, "[1,2]"]);
    }

    #[test]
    fn providers_are_normalised() {
        let mut s = String::new();
        for (raw, want) in [
            ("vertex_ai", "gcp"),
            ("VERTEX", "gcp"),
            ("bedrock", "aws"),
            ("BEDROCK", "aws"),
            ("OPENAI", "openai"),
            ("ANTHROPIC", "anthropic"),
            ("azure", "azure"),
        ] {
            provider(raw, &mut s);
            assert_eq!(s, want, "{raw}");
        }
    }

    #[test]
    fn the_total_decides_what_the_prompt_count_includes() {
        // prompt is uncached: total counts everything
        assert_eq!(input_by_total(200, 300, 4800, 1500, Some(6800)), 6500);
        // prompt counts both
        assert_eq!(input_by_total(1400, 250, 1024, 0, Some(1650)), 1400);
        // prompt counts the reads, not the writes
        assert_eq!(input_by_total(2000, 100, 1000, 1500, Some(3600)), 3500);
        // no total (or none fits): uncached, as Helicone prices it
        assert_eq!(input_by_total(800, 120, 0, 0, None), 800);
        assert_eq!(input_by_total(100, 10, 50, 0, Some(7)), 150);
    }

    #[test]
    fn counts_in_json_maps() {
        let j = serde_json::json!({"a": 12, "b": "7", "c": 1.5, "d": -1, "e": null});
        assert_eq!(json_count("m", "a", j.get("a")).unwrap(), Some(12));
        assert_eq!(json_count("m", "b", j.get("b")).unwrap(), Some(7));
        assert!(json_count("m", "c", j.get("c")).is_err());
        assert!(json_count("m", "d", j.get("d")).is_err());
        assert_eq!(json_count("m", "e", j.get("e")).unwrap(), None);
        assert_eq!(json_count("m", "z", j.get("z")).unwrap(), None);
    }
}
