//! Langfuse observations (pages of `GET /api/public/observations` or `/v2/observations`)
//! → canonical usage rows, one per GENERATION (docs/formats/gateways.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use serde_json::{Map, Value};

use super::gateway::{self, find};
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::error::quote;
use crate::model::{tags_json, Kind, Row};
use crate::money::Money;

pub static FORMAT: Format = Format {
    name: "langfuse",
    kind: Kind::Usage,
    about: "Langfuse observations: pages of the public API (v1 or v2), GENERATION rows",
    doc: "docs/formats/gateways.md",
    columns: &[
        "id",
        "traceId",
        "type",
        "name",
        "startTime",
        "endTime",
        "model",
        "providedModelName",
        "usageDetails",
        "usage",
        "costDetails",
        "calculatedTotalCost",
        "totalCost",
        "metadata",
        "sessionId",
        "userId",
        "tags",
        "level",
        "projectId",
    ],
    required: &["id", "traceId", "type", "startTime"],
    detect,
    parser: boxed,
};

fn detect(p: &Probe) -> u8 {
    if p.has_all(&["traceid", "type", "starttime"]) {
        85
    } else {
        0
    }
}

const SKIPPED: &str = "Langfuse observations that are not GENERATION (spans, events, ...)";

fn boxed<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    _notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let c = |n: &str| find(headers, &[n]);
    let (Some(id), Some(kind), Some(start)) = (c("id"), c("type"), c("startTime")) else {
        return Err(super::missing_columns(
            path,
            "Langfuse observations without the id, type and startTime fields",
            "save the observations API's pages as they come (docs/formats/gateways.md)",
            headers,
        ));
    };
    let cols = Cols {
        id,
        kind,
        start,
        end: c("endTime"),
        name: c("name"),
        model: [c("model"), c("providedModelName")],
        usage_details: c("usageDetails"),
        usage: c("usage"),
        cost_details: c("costDetails"),
        cost: [c("calculatedTotalCost"), c("totalCost")],
        metadata: c("metadata"),
        session: c("sessionId"),
        user: c("userId"),
        tags: c("tags"),
        level: c("level"),
        project: c("projectId"),
    };
    Ok(Box::new(LangfuseParser {
        cols: Arc::new(cols),
        opts,
        key: KeyHasher::new("langfuse"),
        counts: ParseCounts {
            skipped_what: SKIPPED,
            ..ParseCounts::default()
        },
    }))
}

struct Cols {
    id: usize,
    kind: usize,
    start: usize,
    end: Option<usize>,
    name: Option<usize>,
    model: [Option<usize>; 2],
    usage_details: Option<usize>,
    usage: Option<usize>,
    cost_details: Option<usize>,
    cost: [Option<usize>; 2],
    metadata: Option<usize>,
    session: Option<usize>,
    user: Option<usize>,
    tags: Option<usize>,
    level: Option<usize>,
    project: Option<usize>,
}

/// Parses observations; one per worker thread.
pub struct LangfuseParser<'a> {
    cols: Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    key: KeyHasher,
    counts: ParseCounts,
}

impl<'a> RowParser<'a> for LangfuseParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        let kind = rec.text(c.kind)?.unwrap_or_default();
        if !kind.eq_ignore_ascii_case("GENERATION") {
            if kind.is_empty() {
                return Err(FieldError::new(
                    rec.name(c.kind),
                    None,
                    "the observation has no type",
                    "observations are GENERATION, SPAN, EVENT, ...; save the API's pages unchanged",
                ));
            }
            self.counts.skipped += 1;
            return Err(FieldError::skip());
        }
        rec.push_text(Some(c.id), &mut row.request_id)?;
        if row.request_id.is_empty() {
            return Err(FieldError::new(
                rec.name(c.id),
                None,
                "the observation has no id",
                "save the API's pages unchanged",
            ));
        }
        row.charge_start = rec.time(c.start)?.ok_or_else(|| {
            FieldError::new(
                rec.name(c.start),
                None,
                "startTime is empty",
                "every generation has a startTime",
            )
        })?;
        row.charge_end = match c.end {
            Some(i) => rec.time(i)?.unwrap_or(row.charge_start),
            None => row.charge_start,
        };
        for i in c.model {
            if row.model.is_empty() {
                rec.push_text(i, &mut row.model)?;
            }
        }
        rec.push_text(c.session, &mut row.session_id)?;
        rec.push_text(c.user, &mut row.user_id)?;
        rec.push_text(c.project, &mut row.project_id)?;
        rec.push_text(c.name, &mut row.description)?;
        if let Some(l) = c.level.map(|i| rec.text(i)).transpose()?.flatten() {
            if l.eq_ignore_ascii_case("ERROR") {
                row.description.push_str(" (ERROR)");
            }
        }

        let mut tags = BTreeMap::new();
        if let Some(v) = gateway::json_cell(rec, c.metadata)? {
            // Metadata is any JSON; only an object's entries are tags.
            if let Value::Object(m) = &*v {
                gateway::add_map_tags(m, &mut tags);
            }
        }
        if let Some(v) = gateway::json_cell(rec, c.tags)? {
            gateway::add_list_tags(c.tags.map_or("tags", |i| rec.name(i)), &v, &mut tags)?;
        }
        row.tags.push_str(&tags_json(&tags));

        let details = match gateway::json_object(rec, c.usage_details, "usageDetails")? {
            Some(v) => Some(v),
            None => gateway::json_object(rec, c.usage, "usage")?,
        };
        if let Some(Value::Object(u)) = details.as_deref() {
            tokens(u, row)?;
        }
        let cost = self.cost(rec)?;
        gateway::finish(row, cost, self.opts, &mut self.counts)?;
        let k = &mut self.key;
        k.reset("langfuse");
        k.text("id", &row.request_id, KeyKind::Any);
        row.record_id = k.finish();
        Ok(())
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(LangfuseParser {
            cols: self.cols.clone(),
            opts: self.opts,
            key: KeyHasher::new("langfuse"),
            counts: ParseCounts {
                skipped_what: SKIPPED,
                ..ParseCounts::default()
            },
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

impl LangfuseParser<'_> {
    /// calculatedTotalCost, totalCost, costDetails.total, the sum of costDetails; None when
    /// the observation has no cost at all.
    fn cost(&self, rec: &Record) -> Result<Option<Money>, FieldError> {
        let c = &*self.cols;
        for i in c.cost.into_iter().flatten() {
            if let Some(m) = gateway::usd(rec, i)? {
                return Ok(Some(m));
            }
        }
        let Some(v) = gateway::json_object(rec, c.cost_details, "costDetails")? else {
            return Ok(None);
        };
        let Value::Object(m) = &*v else {
            return Ok(None);
        };
        let amount = |k: &str, v: &Value| -> Result<Option<Money>, FieldError> {
            let text = match v {
                Value::Null => return Ok(None),
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Money::parse(&text).map(Some).map_err(|e| {
                FieldError::new(
                    "costDetails",
                    Some(&text),
                    format!("costDetails.{k} {} {}", quote(&text), e.reason()),
                    e.fix(),
                )
            })
        };
        if let Some(t) = m.get("total") {
            if let Some(total) = amount("total", t)? {
                return Ok(Some(total));
            }
        }
        let mut sum = Money::ZERO;
        let mut any = false;
        for (k, v) in m {
            if k == "total" {
                continue;
            }
            if let Some(a) = amount(k, v)? {
                any = true;
                sum = sum.try_add(a).map_err(|_| {
                    FieldError::new(
                        "costDetails",
                        Some(&v.to_string()),
                        "the cost details add up beyond 10^20",
                        "check the observation's costDetails",
                    )
                })?;
            }
        }
        Ok(any.then_some(sum))
    }
}

/// Token counts from `usageDetails` (docs/formats/gateways.md, Langfuse "Tokens").
fn tokens(u: &Map<String, Value>, row: &mut Row) -> Result<(), FieldError> {
    let n = |k: &str, v: &Value| gateway::json_count("usageDetails", k, Some(v));
    let (mut i0, mut o0) = (0i64, 0i64);
    let (mut cached, mut write, mut other_in, mut other_out) = (0i64, 0i64, 0i64, 0i64);
    let mut total = None;
    let mut any = false;
    for (k, v) in u {
        let l = k.to_ascii_lowercase();
        // The deprecated `usage` object also holds its unit and costs.
        if l == "unit" || l.contains("cost") {
            continue;
        }
        let Some(x) = n(k, v)? else { continue };
        let slot = match l.as_str() {
            "total" => {
                total = Some(x);
                continue;
            }
            "input" => &mut i0,
            "output" => &mut o0,
            _ if l.contains("output") || l.contains("completion") => &mut other_out,
            _ if l.contains("cache") && (l.contains("read") || l.contains("cached")) => &mut cached,
            _ if l.contains("cache")
                && (l.contains("creation") || l.contains("write") || l.contains("create")) =>
            {
                &mut write
            }
            _ if l.contains("input") || l.contains("prompt") || l.contains("cache") => {
                &mut other_in
            }
            _ => continue,
        };
        *slot = slot.saturating_add(x);
        any = true;
    }
    if !any {
        return Ok(());
    }
    let details_in = cached + write + other_in;
    let mut pick = (details_in, other_out);
    if let Some(t) = total {
        for (ie, oe) in [
            (details_in, other_out),
            (0, other_out),
            (details_in, 0),
            (0, 0),
        ] {
            if i0 + ie + o0 + oe == t {
                pick = (ie, oe);
                break;
            }
        }
    }
    row.input_tokens = Some(i0 + pick.0);
    row.output_tokens = Some(o0 + pick.1);
    row.cached_input_tokens = Some(cached);
    row.cache_write_tokens = Some(write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(j: &str) -> [Option<i64>; 4] {
        let v: Value = serde_json::from_str(j).unwrap();
        let mut row = Row::default();
        tokens(v.as_object().unwrap(), &mut row).unwrap();
        [
            row.input_tokens,
            row.cached_input_tokens,
            row.cache_write_tokens,
            row.output_tokens,
        ]
    }

    #[test]
    fn usage_details_keys() {
        // Langfuse's rule: total is the sum of the other keys
        assert_eq!(
            run(r#"{"input":376,"input_cached_tokens":1024,"output":250,"total":1650}"#),
            [Some(1400), Some(1024), Some(0), Some(250)]
        );
        assert_eq!(
            run(
                r#"{"input":200,"cache_read_input_tokens":4800,"cache_creation_input_tokens":1500,"output":300,"total":6800}"#
            ),
            [Some(6500), Some(4800), Some(1500), Some(300)]
        );
        // input already counts the cached tokens: the total says so
        assert_eq!(
            run(r#"{"input":3000,"input_cached_tokens":2000,"output":400,"total":3400}"#),
            [Some(3000), Some(2000), Some(0), Some(400)]
        );
        // reasoning split out of output, no total: added
        assert_eq!(
            run(r#"{"input":1000,"output":200,"output_reasoning_tokens":800}"#),
            [Some(1000), Some(0), Some(0), Some(1000)]
        );
        // a key that is not tokens is left out; legacy usage has a unit
        assert_eq!(
            run(r#"{"input":10,"output":5,"image":3,"unit":"TOKENS"}"#),
            [Some(10), Some(0), Some(0), Some(5)]
        );
        assert_eq!(run(r#"{}"#), [None, None, None, None]);
    }
}
