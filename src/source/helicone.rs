//! Helicone request exports (`@helicone/export` CSV, JSON or JSON Lines of
//! `HeliconeRequest` records) → canonical usage rows (docs/formats/gateways.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value;

use super::gateway::{self, find};
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::model::{tags_json, Kind, Row};

pub static FORMAT: Format = Format {
    name: "helicone",
    kind: Kind::Usage,
    about: "Helicone request exports (@helicone/export CSV, JSON, JSON Lines)",
    doc: "docs/formats/gateways.md",
    columns: &[
        "request_id",
        "response_id",
        "request_created_at",
        "response_created_at",
        "response_status",
        "request_properties",
        "request_user_id",
        "model",
        "response_model",
        "request_model",
        "provider",
        "prompt_tokens",
        "prompt_cache_read_tokens",
        "prompt_cache_write_tokens",
        "completion_tokens",
        "total_tokens",
        "costUSD",
        "cost",
    ],
    required: &["request_created_at", "response_id"],
    detect,
    parser: boxed,
};

fn detect(p: &Probe) -> u8 {
    if !p.has("request_created_at") {
        return 0;
    }
    if p.has("request_properties") {
        85
    } else if p.has("response_id") || p.has("request_id") {
        60
    } else {
        0
    }
}

const SESSION: &str = "Helicone-Session-Id";

fn boxed<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let c = |n: &str| find(headers, &[n]);
    let (Some(start), true) = (
        c("request_created_at"),
        c("request_id").is_some() || c("response_id").is_some(),
    ) else {
        return Err(super::missing_columns(
            path,
            "a Helicone export without request_created_at and a request_id or response_id column",
            "export with @helicone/export (docs/formats/gateways.md)",
            headers,
        ));
    };
    let cols = Cols {
        start,
        request_id: c("request_id"),
        response_id: c("response_id"),
        end: c("response_created_at"),
        status: c("response_status"),
        properties: c("request_properties"),
        user: c("request_user_id"),
        model: [c("model"), c("response_model"), c("request_model")],
        provider: c("provider"),
        prompt: c("prompt_tokens"),
        read: c("prompt_cache_read_tokens"),
        write: c("prompt_cache_write_tokens"),
        completion: c("completion_tokens"),
        total: c("total_tokens"),
        cost: [c("costUSD"), c("cost")],
    };
    if cols.properties.is_none() {
        notes.push("no request_properties column: no sessions and no tags".into());
    }
    Ok(Box::new(HeliconeParser {
        cols: Arc::new(cols),
        opts,
        key: KeyHasher::new("helicone"),
        counts: ParseCounts::default(),
    }))
}

struct Cols {
    start: usize,
    request_id: Option<usize>,
    response_id: Option<usize>,
    end: Option<usize>,
    status: Option<usize>,
    properties: Option<usize>,
    user: Option<usize>,
    model: [Option<usize>; 3],
    provider: Option<usize>,
    prompt: Option<usize>,
    read: Option<usize>,
    write: Option<usize>,
    completion: Option<usize>,
    total: Option<usize>,
    cost: [Option<usize>; 2],
}

/// Parses Helicone records; one per worker thread.
pub struct HeliconeParser<'a> {
    cols: Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    key: KeyHasher,
    counts: ParseCounts,
}

impl<'a> RowParser<'a> for HeliconeParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        let k = &mut self.key;
        k.reset("helicone");
        rec.push_text(c.request_id, &mut row.request_id)?;
        if !row.request_id.is_empty() {
            k.text("request_id", &row.request_id, KeyKind::Any);
        } else {
            rec.push_text(c.response_id, &mut row.request_id)?;
            if row.request_id.is_empty() {
                return Err(FieldError::new(
                    "request_id",
                    None,
                    "the record has neither a request_id nor a response_id",
                    "export the records whole; each has its request or response id",
                ));
            }
            k.text("response_id", &row.request_id, KeyKind::Any);
        }
        row.record_id = k.finish();
        row.charge_start = rec.time(c.start)?.ok_or_else(|| {
            FieldError::new(
                rec.name(c.start),
                None,
                "request_created_at is empty",
                "every record has request_created_at",
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
        if let Some(p) = c.provider.map(|i| rec.text(i)).transpose()?.flatten() {
            gateway::provider(&p, &mut row.provider);
        }
        rec.push_text(c.user, &mut row.user_id)?;
        if let Some(s) = c.status.map(|i| rec.text(i)).transpose()?.flatten() {
            if !s.starts_with('2') {
                row.description.push_str("status ");
                row.description.push_str(&s);
            }
        }
        let mut tags = BTreeMap::new();
        if let Some(props) = gateway::json_object(rec, c.properties, "request_properties")? {
            if let Value::Object(m) = &*props {
                for (key, v) in m {
                    if key.eq_ignore_ascii_case(SESSION) {
                        row.session_id.push_str(gateway::tag_text(v).trim());
                    } else {
                        tags.insert(key.clone(), gateway::tag_text(v));
                    }
                }
            }
        }
        row.tags.push_str(&tags_json(&tags));

        let prompt = gateway::count(rec, c.prompt)?;
        let read = gateway::count(rec, c.read)?;
        let write = gateway::count(rec, c.write)?;
        let completion = gateway::count(rec, c.completion)?;
        let total = gateway::count(rec, c.total)?;
        row.output_tokens = completion;
        row.cached_input_tokens = read;
        row.cache_write_tokens = write;
        row.input_tokens = prompt.map(|p| {
            gateway::input_by_total(
                p,
                completion.unwrap_or(0),
                read.unwrap_or(0),
                write.unwrap_or(0),
                total,
            )
        });
        let mut cost = None;
        for i in c.cost.into_iter().flatten() {
            if cost.is_none() {
                cost = gateway::usd(rec, i)?;
            }
        }
        gateway::finish(row, cost, self.opts, &mut self.counts)
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(HeliconeParser {
            cols: self.cols.clone(),
            opts: self.opts,
            key: KeyHasher::new("helicone"),
            counts: ParseCounts::default(),
        })
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}
