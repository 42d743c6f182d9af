//! JSON inputs: JSON Lines (an object a line) and JSON documents (an API page
//! `{"data": [...]}`, an array of pages or of rows, one row object). A row inside a time
//! bucket (`{"start_time": .., "results": [..]}`, OpenAI and Anthropic report pages) also
//! carries the bucket's own keys. Each row is flattened into the cells its format names
//! ([`Format::columns`]), by dotted key path: `amount.value`, `cache_creation.ephemeral_5m_input_tokens`.

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value};

use super::record::{Cell, Record};
use super::registry::Format;
use super::{Rejected, RowParser, Sink};
use crate::error::{InputError, Place};
use crate::model::Row;

/// The largest JSON document read whole (JSON Lines have no limit).
pub const MAX_DOCUMENT: u64 = 1 << 30;

/// The rows of a parsed JSON value: (bucket, row).
pub fn rows(v: &Value) -> Vec<(Option<&Map<String, Value>>, &Value)> {
    let mut out = Vec::new();
    match v {
        Value::Array(items) => {
            for it in items {
                page_or_item(it, &mut out);
            }
        }
        other => page_or_item(other, &mut out),
    }
    out
}

fn page_or_item<'v>(v: &'v Value, out: &mut Vec<(Option<&'v Map<String, Value>>, &'v Value)>) {
    match v.get("data") {
        Some(Value::Array(items)) if v.is_object() => {
            for it in items {
                item(it, out)
            }
        }
        _ => item(v, out),
    }
}

fn item<'v>(v: &'v Value, out: &mut Vec<(Option<&'v Map<String, Value>>, &'v Value)>) {
    match (v, v.get("results")) {
        (Value::Object(bucket), Some(Value::Array(results))) => {
            for r in results {
                out.push((Some(bucket), r));
            }
        }
        _ => out.push((None, v)),
    }
}

/// Every key path of a row (objects recursed; the object's own path too), bucket keys
/// first: what detection sees.
pub fn paths(bucket: Option<&Map<String, Value>>, row: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = bucket {
        for (k, v) in b {
            if k != "results" && !v.is_object() && !v.is_array() {
                out.push(k.clone());
            }
        }
    }
    if let Value::Object(m) = row {
        walk_paths(m, "", &mut out);
    }
    out
}

fn walk_paths(m: &Map<String, Value>, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in m {
        let p = format!("{prefix}{k}");
        if let Value::Object(inner) = v {
            walk_paths(inner, &format!("{p}."), out);
        }
        out.push(p);
    }
}

/// Turns JSON rows into cells for one format's columns.
pub struct Flattener {
    headers: Vec<String>,
    index: HashMap<String, usize>,
}

impl Flattener {
    pub fn new(format: &Format) -> Flattener {
        let headers: Vec<String> = format.columns.iter().map(|c| c.to_string()).collect();
        let index = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        Flattener { headers, index }
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    fn fill<'v>(
        &self,
        bucket: Option<&'v Map<String, Value>>,
        row: &'v Map<String, Value>,
        cells: &mut Vec<Cell<'v>>,
    ) {
        cells.clear();
        cells.resize(self.headers.len(), Cell::Null);
        if let Some(b) = bucket {
            for (k, v) in b {
                if k != "results" {
                    if let Some(&i) = self.index.get(k.as_str()) {
                        cells[i] = Cell::of_json(v);
                    }
                }
            }
        }
        self.walk(row, "", cells);
    }

    fn walk<'v>(&self, m: &'v Map<String, Value>, prefix: &str, cells: &mut [Cell<'v>]) {
        for (k, v) in m {
            let found = if prefix.is_empty() {
                self.index.get(k.as_str())
            } else {
                self.index.get(format!("{prefix}{k}").as_str())
            };
            match (found, v) {
                (Some(&i), _) => cells[i] = Cell::of_json(v),
                (None, Value::Object(inner)) => self.walk(inner, &format!("{prefix}{k}."), cells),
                _ => {}
            }
        }
    }

    /// Parses one row (of a bucket or not) and hands it to the sink.
    fn row<'a>(
        &self,
        bucket: Option<&Map<String, Value>>,
        v: &Value,
        line: u64,
        parser: &mut dyn RowParser<'a>,
        out: &mut Row,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let Value::Object(m) = v else {
            return sink.reject(Rejected {
                line,
                column: None,
                value: None,
                reason: "a row that is not a JSON object".into(),
                fix: "each row (each item of \"data\", or each line) must be a JSON object".into(),
                record: crate::error::clip(&v.to_string()),
            });
        };
        let mut cells = Vec::new();
        self.fill(bucket, m, &mut cells);
        let rec = Record::cells(&self.headers, &cells, line);
        out.clear();
        match parser.parse(&rec, out) {
            Ok(()) => sink.row(out, line),
            Err(e) if e.skip => Ok(()),
            Err(e) => sink.reject(e.into_rejected(line, v.to_string())),
        }
    }
}

/// Reads a JSON document whole (bounded), refusing repeated keys.
pub fn read_document(path: &Path, reader: &mut dyn Read) -> Result<Value> {
    let mut text = String::new();
    reader
        .take(MAX_DOCUMENT + 1)
        .read_to_string(&mut text)
        .map_err(|e| {
            InputError::new(path, Place::default(), format!("cannot read: {e}"))
                .fix("the file is damaged or truncated (or not UTF-8); export it again")
        })?;
    if text.len() as u64 > MAX_DOCUMENT {
        return Err(
            InputError::new(path, Place::default(), "a JSON document larger than 1 GiB")
                .fix(
                    "write large logs as JSON Lines (one object a line) or CSV, which are streamed",
                )
                .into(),
        );
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        InputError::new(
            path,
            Place::line(e.line() as u64),
            format!("not valid JSON: {e}"),
        )
        .fix("the file must be one JSON document (a page, a list of pages or rows) or JSON Lines")
    })?;
    crate::json::check_duplicates(&text)
        .map_err(|e| InputError::new(path, Place::default(), e.to_string()).fix(e.fix()))?;
    Ok(v)
}

/// Streams a JSON document's rows through `parser`; rows are numbered from 1.
pub fn read_rows<'a>(
    doc: &Value,
    flat: &Flattener,
    parser: &mut dyn RowParser<'a>,
    sink: &mut dyn Sink,
) -> Result<()> {
    let mut row = Row::default();
    for (n, (bucket, v)) in rows(doc).into_iter().enumerate() {
        flat.row(bucket, v, n as u64 + 1, parser, &mut row, sink)?;
    }
    Ok(())
}

/// Streams JSON Lines through `parser`; a line holding a page gives each of its rows.
pub fn read_lines<'a>(
    path: &Path,
    mut reader: Box<dyn BufRead + Send>,
    flat: &Flattener,
    parser: &mut dyn RowParser<'a>,
    sink: &mut dyn Sink,
) -> Result<()> {
    let mut row = Row::default();
    let mut line = String::new();
    let mut n: u64 = 0;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| {
            InputError::new(path, Place::line(n + 1), format!("cannot read: {e}"))
                .fix("the file is damaged or truncated (or not UTF-8); export it again")
        })?;
        if read == 0 {
            break;
        }
        n += 1;
        let text = line.trim_ascii();
        // Blank lines are skipped wherever they are (also before the first object).
        if text.is_empty() {
            continue;
        }
        let obj = match crate::json::object(text) {
            Ok(o) => Value::Object(o),
            Err(e) => {
                sink.reject(Rejected {
                    line: n,
                    column: None,
                    value: None,
                    reason: e.to_string(),
                    fix: e.fix().into(),
                    record: text.to_string(),
                })?;
                continue;
            }
        };
        for (bucket, v) in rows(&obj) {
            flat.row(bucket, v, n, parser, &mut row, sink)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_buckets_and_lists_give_their_rows() {
        let page: Value = serde_json::from_str(
            r#"{"object":"page","data":[
                {"start_time":1,"end_time":2,"results":[{"a":1},{"a":2}]},
                {"start_time":2,"end_time":3,"results":[]}],"has_more":false}"#,
        )
        .unwrap();
        let r = rows(&page);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].0.unwrap()["start_time"], 1);
        let pages = Value::Array(vec![page.clone(), page]);
        assert_eq!(rows(&pages).len(), 4);
        let list: Value = serde_json::from_str(r#"[{"a":1},{"a":2},{"a":3}]"#).unwrap();
        assert_eq!(rows(&list).len(), 3);
        let one: Value = serde_json::from_str(r#"{"a":{"b":1}}"#).unwrap();
        assert_eq!(paths(None, rows(&one)[0].1), vec!["a.b", "a"]);
    }
}
