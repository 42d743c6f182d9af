//! Every live row of a store with every column, read straight from its Parquet files (not
//! through finops): strings, integers and booleans as JSON values, decimals as their exact
//! text (`0.00472`, never a float), timestamps as UTC microseconds. For tests that compare
//! a store with independently computed answers (fixtures/*/expected.json).

use std::collections::BTreeMap;

use polars::prelude::{DataType, ParquetReader, SerReader};
use serde_json::Value;

use crate::util::Dir;

pub type StoreRow = BTreeMap<String, Value>;

pub fn table(dir: &Dir) -> Vec<StoreRow> {
    let m = dir.manifest();
    let mut out = Vec::new();
    for f in m["files"].as_array().unwrap() {
        let path = dir.path().join(".finops").join(f["path"].as_str().unwrap());
        let df = ParquetReader::new(std::fs::File::open(path).unwrap())
            .finish()
            .unwrap();
        let mut rows = vec![StoreRow::new(); df.height()];
        for col in df.columns() {
            let name = col.name().to_string();
            let n = df.height();
            let values: Vec<Value> = match col.dtype() {
                DataType::Binary if name == "record_id" => crate::util::record_id_texts(&df)
                    .into_iter()
                    .map(Value::String)
                    .collect(),
                DataType::String => {
                    let ca = col.str().unwrap();
                    (0..n)
                        .map(|i| ca.get(i).map_or(Value::Null, |s| Value::String(s.into())))
                        .collect()
                }
                DataType::Int64 => {
                    let ca = col.i64().unwrap();
                    (0..n)
                        .map(|i| ca.get(i).map_or(Value::Null, Value::from))
                        .collect()
                }
                DataType::Boolean => {
                    let ca = col.bool().unwrap();
                    (0..n)
                        .map(|i| ca.get(i).map_or(Value::Null, Value::Bool))
                        .collect()
                }
                DataType::Decimal(_, _) => {
                    let ca = col.decimal().unwrap();
                    let scale = ca.scale();
                    let phys = ca.physical();
                    (0..n)
                        .map(|i| {
                            phys.get(i)
                                .map_or(Value::Null, |u| Value::String(decimal(u, scale)))
                        })
                        .collect()
                }
                DataType::Datetime(_, _) => {
                    let phys = col.datetime().unwrap().physical();
                    (0..n)
                        .map(|i| phys.get(i).map_or(Value::Null, Value::from))
                        .collect()
                }
                other => panic!("store column {name} has an unexpected type {other:?}"),
            };
            for (r, v) in rows.iter_mut().zip(values) {
                r.insert(name.clone(), v);
            }
        }
        out.extend(rows);
    }
    out
}

/// `units × 10^-scale` as plain decimal text without trailing zeros (`-1.25`, `0`).
pub fn decimal(units: i128, scale: usize) -> String {
    let neg = units < 0;
    let digits = units.unsigned_abs().to_string();
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    let frac = frac.trim_end_matches('0');
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(int);
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// Exact sum of decimal texts (as 10^-18 units).
pub fn sum<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let total: i128 = values.into_iter().map(crate::util::atto).sum();
    decimal(total, 18)
}

/// A text column of a row ("" for null).
pub fn text<'a>(r: &'a StoreRow, col: &str) -> &'a str {
    r.get(col).and_then(Value::as_str).unwrap_or("")
}

/// An integer column of a row (0 for null).
pub fn int(r: &StoreRow, col: &str) -> i64 {
    r.get(col).and_then(Value::as_i64).unwrap_or(0)
}

/// A row's tags as a JSON object (empty when none).
pub fn tags(r: &StoreRow) -> Value {
    let t = text(r, "tags");
    if t.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(t).unwrap()
    }
}

/// The store's token sums, keyed like the fixtures' expected.json.
pub fn token_sums<'a>(rows: impl IntoIterator<Item = &'a StoreRow>) -> Value {
    let mut s = [0i64; 4];
    for r in rows {
        for (k, col) in [
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "output_tokens",
        ]
        .iter()
        .enumerate()
        {
            s[k] += int(r, col);
        }
    }
    serde_json::json!({"input": s[0], "cached": s[1], "cache_write": s[2], "output": s[3]})
}

/// A fixture's expected.json.
pub fn expected(provider: &str) -> Value {
    let text = std::fs::read_to_string(crate::util::fixture(&format!("{provider}/expected.json")))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn decimals_print_exactly() {
    assert_eq!(decimal(4_720_000_000_000_000, 18), "0.00472");
    assert_eq!(decimal(-1_250_000_000_000_000_000, 18), "-1.25");
    assert_eq!(decimal(0, 18), "0");
    assert_eq!(decimal(12, 0), "12");
    assert_eq!(sum(["0.1", "0.2", "-0.3"]), "0");
}
