//! Parquet inputs (FOCUS exports from AWS and Azure): read with polars and handed to the
//! adapters as text records, so the FOCUS rules are the same for CSV and Parquet. Tags
//! stored as a Parquet map become a JSON object.

use std::fs::File;
use std::path::Path;

use anyhow::{Context as _, Result};
use polars::prelude::{AnyValue, DataFrame, ParquetReader, SerReader, Series, TimeUnit};

use crate::error::{InputError, Place};
use crate::model::SourceFormat;
use crate::money::format_scaled;
use crate::source::{Records, Rejected};

fn open(path: &Path) -> Result<ParquetReader<File>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(ParquetReader::new(f))
}

/// Runs a polars read of a file that may be damaged or hostile: a panic inside the reader
/// becomes an error naming the file, never a crash.
fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    match crate::error::catch_quietly(read) {
        Ok(r) => r,
        Err(_) => Err(InputError::new(
            path,
            Place::default(),
            "not a readable Parquet file (its metadata or pages are damaged)",
        )
        .fix("the file is damaged or truncated; export it again")
        .into()),
    }
}

/// The format of a Parquet input, from its column names.
pub fn detect(path: &Path) -> Result<SourceFormat> {
    guarded(path, || detect_unguarded(path))
}

fn detect_unguarded(path: &Path) -> Result<SourceFormat> {
    let mut r = open(path)?;
    let schema = r.schema().map_err(|e| {
        InputError::new(
            path,
            Place::default(),
            format!("not a readable Parquet file: {e}"),
        )
        .fix("the file is damaged or truncated; export it again")
    })?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    if names.iter().any(|n| n.eq_ignore_ascii_case("BilledCost")) {
        Ok(SourceFormat::Focus)
    } else {
        Err(InputError::new(
            path,
            Place::default(),
            format!(
                "cannot tell the format of this Parquet file (columns: {})",
                names
                    .iter()
                    .take(12)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .fix("finops reads FOCUS Parquet (with a BilledCost column); name the format with --source")
        .into())
    }
}

/// The rows of a Parquet file as text records.
pub fn records(path: &Path) -> Result<ParquetRecords> {
    guarded(path, || records_unguarded(path))
}

fn records_unguarded(path: &Path) -> Result<ParquetRecords> {
    let df = open(path)?.finish().map_err(|e| {
        InputError::new(path, Place::default(), format!("cannot read Parquet: {e}"))
            .fix("the file is damaged or truncated; export it again")
    })?;
    let headers = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    Ok(ParquetRecords {
        headers,
        df,
        next: 0,
        record: csv::StringRecord::new(),
    })
}

pub struct ParquetRecords {
    headers: Vec<String>,
    df: DataFrame,
    next: usize,
    record: csv::StringRecord,
}

fn text(v: &AnyValue) -> Option<String> {
    Some(match v {
        AnyValue::Null => return None,
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        // A float is the decimal of its shortest round-trip text (what DuckDB, pandas and
        // Spark print), never a rounded rendering: 1234567.891 stays 1234567.891.
        AnyValue::Float64(f) => format!("{f}"),
        AnyValue::Float32(f) => format!("{f}"),
        AnyValue::Int8(v) => v.to_string(),
        AnyValue::Int16(v) => v.to_string(),
        AnyValue::Int32(v) => v.to_string(),
        AnyValue::Int64(v) => v.to_string(),
        AnyValue::Int128(v) => v.to_string(),
        AnyValue::UInt8(v) => v.to_string(),
        AnyValue::UInt16(v) => v.to_string(),
        AnyValue::UInt32(v) => v.to_string(),
        AnyValue::UInt64(v) => v.to_string(),
        // A typed decimal keeps its scale, exactly.
        AnyValue::Decimal(v, _, scale) => format_scaled(*v, *scale as u32),
        AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
            let micros = match unit {
                TimeUnit::Nanoseconds => v.div_euclid(1000),
                TimeUnit::Microseconds => *v,
                TimeUnit::Milliseconds => v * 1000,
            };
            let secs = micros.div_euclid(1_000_000);
            let frac = micros.rem_euclid(1_000_000);
            let base = crate::timeparse::rfc3339(secs * 1_000_000);
            if frac == 0 {
                base
            } else {
                format!("{}.{frac:06}Z", base.trim_end_matches('Z'))
            }
        }
        AnyValue::Date(d) => {
            crate::timeparse::date_string(*d as i64 * crate::timeparse::MICROS_PER_DAY)
        }
        AnyValue::List(s) => list_json(s),
        other => other.to_string(),
    })
}

/// A Parquet map (a list of key/value structs) or a list, as JSON text.
fn list_json(s: &Series) -> String {
    if let Ok(st) = s.struct_() {
        let fields = st.fields_as_series();
        if fields.len() == 2 {
            let mut map = serde_json::Map::new();
            for i in 0..s.len() {
                let k = fields[0].get(i).ok().and_then(|v| text(&v));
                let v = fields[1].get(i).ok().and_then(|v| text(&v));
                if let Some(k) = k {
                    map.insert(
                        k,
                        v.map_or(serde_json::Value::Null, serde_json::Value::String),
                    );
                }
            }
            return serde_json::Value::Object(map).to_string();
        }
    }
    let items: Vec<serde_json::Value> = (0..s.len())
        .map(|i| {
            s.get(i)
                .ok()
                .and_then(|v| text(&v))
                .map_or(serde_json::Value::Null, serde_json::Value::String)
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

impl Records for ParquetRecords {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_record(&mut self) -> Result<Option<Result<(u64, &csv::StringRecord), Rejected>>> {
        if self.next >= self.df.height() {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        self.record.clear();
        for c in self.df.columns() {
            let v = c.get(i)?;
            self.record.push_field(text(&v).as_deref().unwrap_or(""));
        }
        // Row numbers count from 1, like data lines after a header.
        Ok(Some(Ok((i as u64 + 1, &self.record))))
    }

    fn delimiter(&self) -> u8 {
        b','
    }
}
