//! LiteLLM proxy spend logs (`LiteLLM_SpendLogs`: a CSV dump of the table, or the proxy's
//! `/spend/logs` JSON) → canonical usage rows, one per request (docs/formats/gateways.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value;

use super::gateway::{self, find};
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{Cell, FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::model::{tags_json, Kind, Row};

pub static FORMAT: Format = Format {
    name: "litellm",
    kind: Kind::Usage,
    about: "LiteLLM proxy spend logs: a CSV dump of LiteLLM_SpendLogs or /spend/logs JSON",
    doc: "docs/formats/gateways.md",
    columns: &[
        "request_id",
        "call_type",
        "api_key",
        "spend",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "startTime",
        "endTime",
        "model",
        "model_group",
        "custom_llm_provider",
        "metadata",
        "request_tags",
        "team_id",
        "organization_id",
        "end_user",
        "session_id",
        "status",
    ],
    required: &["request_id", "startTime", "spend"],
    detect,
    parser: boxed,
};

fn detect(p: &Probe) -> u8 {
    if p.has_all(&["request_id", "starttime", "spend"]) {
        85
    } else {
        0
    }
}

fn boxed<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    _notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let c = |n: &str| find(headers, &[n]);
    let (Some(request_id), Some(start), Some(spend)) =
        (c("request_id"), c("startTime"), c("spend"))
    else {
        let missing: Vec<&str> = FORMAT
            .required
            .iter()
            .copied()
            .filter(|n| c(n).is_none())
            .collect();
        return Err(super::missing_columns(
            path,
            format!(
                "a LiteLLM spend log without the column(s) {}",
                missing.join(", ")
            ),
            "export the LiteLLM_SpendLogs table whole (docs/formats/gateways.md)",
            headers,
        ));
    };
    let cols = Cols {
        request_id,
        start,
        spend,
        end: c("endTime"),
        call_type: c("call_type"),
        api_key: c("api_key"),
        prompt: c("prompt_tokens"),
        completion: c("completion_tokens"),
        model: c("model"),
        model_group: c("model_group"),
        provider: c("custom_llm_provider"),
        metadata: c("metadata"),
        request_tags: c("request_tags"),
        team: c("team_id"),
        organization: c("organization_id"),
        end_user: c("end_user"),
        session: c("session_id"),
        status: c("status"),
    };
    Ok(Box::new(LiteLlmParser {
        cols: Arc::new(cols),
        opts,
        key: KeyHasher::new("litellm"),
        counts: ParseCounts::default(),
    }))
}

struct Cols {
    request_id: usize,
    start: usize,
    spend: usize,
    end: Option<usize>,
    call_type: Option<usize>,
    api_key: Option<usize>,
    prompt: Option<usize>,
    completion: Option<usize>,
    model: Option<usize>,
    model_group: Option<usize>,
    provider: Option<usize>,
    metadata: Option<usize>,
    request_tags: Option<usize>,
    team: Option<usize>,
    organization: Option<usize>,
    end_user: Option<usize>,
    session: Option<usize>,
    status: Option<usize>,
}

/// Parses spend-log records; one per worker thread.
pub struct LiteLlmParser<'a> {
    cols: Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    key: KeyHasher,
    counts: ParseCounts,
}

impl<'a> RowParser<'a> for LiteLlmParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        rec.push_text(Some(c.request_id), &mut row.request_id)?;
        if row.request_id.is_empty() {
            return Err(FieldError::new(
                rec.name(c.request_id),
                None,
                "the request_id is empty",
                "every spend-log row has its request_id (the table's primary key)",
            ));
        }
        row.charge_start = rec.time(c.start)?.ok_or_else(|| {
            FieldError::new(
                rec.name(c.start),
                None,
                "startTime is empty",
                "every spend-log row has a startTime",
            )
        })?;
        row.charge_end = match c.end {
            Some(i) => rec.time(i)?.unwrap_or(row.charge_start),
            None => row.charge_start,
        };
        rec.push_text(c.model, &mut row.model)?;
        if row.model.is_empty() {
            rec.push_text(c.model_group, &mut row.model)?;
        }
        if let Some(p) = c.provider.map(|i| rec.text(i)).transpose()?.flatten() {
            gateway::provider(&p, &mut row.provider);
        }
        rec.push_text(c.session, &mut row.session_id)?;
        rec.push_text(c.end_user, &mut row.user_id)?;
        rec.push_text(c.api_key, &mut row.api_key_id)?;
        rec.push_text(c.team, &mut row.workspace_id)?;
        rec.push_text(c.organization, &mut row.sub_account)?;
        rec.push_text(c.call_type, &mut row.description)?;
        if let Some(s) = c.status.map(|i| rec.text(i)).transpose()?.flatten() {
            if s.eq_ignore_ascii_case("failure") {
                row.description.push_str(" (failure)");
            }
        }

        let meta = metadata(rec, c.metadata)?;
        let mut tags = BTreeMap::new();
        if let Some(Value::Object(m)) = &meta.spend_logs_metadata {
            gateway::add_map_tags(m, &mut tags);
        }
        if let Some(v) = gateway::json_cell(rec, c.request_tags)? {
            gateway::add_list_tags(c.request_tags.map_or("", |i| rec.name(i)), &v, &mut tags)?;
        }
        row.tags.push_str(&tags_json(&tags));

        let usage = meta.usage_object.as_ref().and_then(Value::as_object);
        let prompt = gateway::count(rec, c.prompt)?;
        let completion = gateway::count(rec, c.completion)?;
        tokens(prompt, completion, usage, row)?;

        let cost = gateway::usd(rec, c.spend)?;
        gateway::finish(row, cost, self.opts, &mut self.counts)?;
        let k = &mut self.key;
        k.reset("litellm");
        k.text("request_id", &row.request_id, KeyKind::Any);
        row.record_id = k.finish();
        Ok(())
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(LiteLlmParser {
            cols: self.cols.clone(),
            opts: self.opts,
            key: KeyHasher::new("litellm"),
            counts: ParseCounts::default(),
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

/// The two parts of `metadata` finops reads; the rest (request payloads, guardrail
/// details: most of the cell) is skipped without being built.
#[derive(Default, serde::Deserialize)]
struct Metadata {
    #[serde(default)]
    spend_logs_metadata: Option<Value>,
    #[serde(default)]
    usage_object: Option<Value>,
}

/// The `metadata` cell: JSON text (CSV) or an object (JSON); null, empty or `{}` is none.
fn metadata(rec: &Record, i: Option<usize>) -> Result<Metadata, FieldError> {
    use serde::Deserialize;
    let Some(i) = i else {
        return Ok(Metadata::default());
    };
    let parsed = match rec.cell(i) {
        Cell::Json(v) => Metadata::deserialize(v).map_err(|e| e.to_string()),
        c => match c.to_text() {
            None => return Ok(Metadata::default()),
            Some(t) if t.as_ref() == "null" => return Ok(Metadata::default()),
            Some(t) => serde_json::from_str::<Metadata>(&t).map_err(|e| e.to_string()),
        },
    };
    parsed.map_err(|e| {
        let shown = rec.cell(i).to_text().unwrap_or_default().into_owned();
        FieldError::new(
            rec.name(i),
            Some(&shown),
            format!("{} is not a JSON object: {e}", crate::error::quote(&shown)),
            "metadata is a JSON object such as {\"spend_logs_metadata\": {\"team\": \"search\"}}",
        )
    })
}

/// Token counts from the row's columns and `metadata.usage_object`
/// (docs/formats/gateways.md, LiteLLM "Tokens").
fn tokens(
    prompt: Option<i64>,
    completion: Option<i64>,
    usage: Option<&serde_json::Map<String, Value>>,
    row: &mut Row,
) -> Result<(), FieldError> {
    let col = "metadata.usage_object";
    let n = |k: &str| gateway::json_count(col, k, usage.and_then(|u| u.get(k)));
    let details = usage
        .and_then(|u| u.get("prompt_tokens_details"))
        .and_then(Value::as_object);
    let detail = |k: &str| gateway::json_count(col, k, details.and_then(|d| d.get(k)));
    let read = match n("cache_read_input_tokens")? {
        Some(r) if r > 0 => Some(r),
        r => detail("cached_tokens")?.or(r),
    };
    let write = n("cache_creation_input_tokens")?.or(detail("cache_creation_tokens")?);
    let (r, w) = (read.unwrap_or(0), write.unwrap_or(0));
    let anthropic_shape =
        usage.is_some_and(|u| u.contains_key("input_tokens") && !u.contains_key("prompt_tokens"));
    row.input_tokens = if anthropic_shape {
        n("input_tokens")?.map(|i| i + r + w)
    } else {
        prompt
            .or(n("prompt_tokens")?)
            .map(|p| if p < r + w { p + w } else { p })
    };
    row.output_tokens = completion
        .or(n("completion_tokens")?)
        .or(n("output_tokens")?);
    if usage.is_some() {
        row.cached_input_tokens = read.or(Some(0));
        row.cache_write_tokens = write.or(Some(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(prompt: i64, uo: &str) -> (Option<i64>, Option<i64>, Option<i64>) {
        let v: Value = serde_json::from_str(uo).unwrap();
        let mut row = Row::default();
        tokens(Some(prompt), Some(10), v.as_object(), &mut row).unwrap();
        (
            row.input_tokens,
            row.cached_input_tokens,
            row.cache_write_tokens,
        )
    }

    #[test]
    fn usage_object_shapes() {
        // OpenAI: prompt counts the cached tokens
        assert_eq!(
            run(
                1400,
                r#"{"prompt_tokens":1400,"prompt_tokens_details":{"cached_tokens":1024}}"#
            ),
            (Some(1400), Some(1024), Some(0))
        );
        // Anthropic's own shape: input_tokens leaves the cache out
        assert_eq!(
            run(
                5000,
                r#"{"input_tokens":200,"cache_read_input_tokens":4800,"cache_creation_input_tokens":100}"#
            ),
            (Some(5100), Some(4800), Some(100))
        );
        // older LiteLLM: prompt counts reads but not writes
        assert_eq!(
            run(
                3000,
                r#"{"prompt_tokens":3000,"cache_read_input_tokens":2000,"cache_creation_input_tokens":1500}"#
            ),
            (Some(4500), Some(2000), Some(1500))
        );
        // current LiteLLM: prompt counts both
        assert_eq!(
            run(
                4500,
                r#"{"prompt_tokens":4500,"cache_read_input_tokens":2000,"cache_creation_input_tokens":1500}"#
            ),
            (Some(4500), Some(2000), Some(1500))
        );
        // no usage object: prompt as it is, cache unknown
        let mut row = Row::default();
        tokens(Some(800), Some(120), None, &mut row).unwrap();
        assert_eq!(
            (row.input_tokens, row.cached_input_tokens),
            (Some(800), None)
        );
    }
}
