//! One input record as typed cells, whatever the syntax it came in: CSV text, a JSON row
//! (numbers as written, nested values whole) or a Parquet row (integers, DOUBLE, DECIMAL,
//! TIMESTAMP). Adapters read cells through the helpers here, which give every format the
//! same rules for nulls, amounts, instants and counts, and the same errors.

use std::borrow::Cow;

use serde_json::Value;

use super::identity::{is_null, KeyHasher, KeyKind};
use super::{FieldError, TextRecord};
use crate::error::quote;
use crate::money::{format_scaled, parse_formatted, Money};
use crate::timeparse::{parse_timestamp, rfc3339, Micros};

/// One value of a record.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'r> {
    Null,
    /// Text as written (a CSV field, a JSON string).
    Text(&'r str),
    /// A JSON number as written (exact: serde_json keeps the text).
    Number(&'r str),
    Int(i64),
    /// A Parquet DOUBLE or FLOAT (read as the decimal of its shortest round-trip text).
    Float(f64),
    /// A Parquet DECIMAL: units and scale.
    Decimal(i128, u32),
    Bool(bool),
    /// An instant in UTC microseconds (Parquet TIMESTAMP, DATE).
    Time(Micros),
    /// A JSON object or array, whole.
    Json(&'r Value),
}

impl<'r> Cell<'r> {
    /// The cell of a JSON value.
    pub fn of_json(v: &'r Value) -> Cell<'r> {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(*b),
            Value::Number(n) => Cell::Number(n.as_str()),
            Value::String(s) => Cell::Text(s),
            Value::Array(_) | Value::Object(_) => Cell::Json(v),
        }
    }

    /// Whether the cell holds nothing: null, empty or blank text, `NULL`.
    pub fn is_null(&self) -> bool {
        match self {
            Cell::Null => true,
            Cell::Text(s) => is_null(s),
            _ => false,
        }
    }

    /// The value as text (typed values as every engine prints them); None when null.
    pub fn to_text(&self) -> Option<Cow<'r, str>> {
        Some(match *self {
            Cell::Null => return None,
            Cell::Text(s) | Cell::Number(s) => {
                if is_null(s) {
                    return None;
                }
                Cow::Borrowed(s.trim_ascii())
            }
            Cell::Int(n) => Cow::Owned(n.to_string()),
            Cell::Float(f) => Cow::Owned(float_text(f)),
            Cell::Decimal(v, s) => Cow::Owned(format_scaled(v, s)),
            Cell::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            Cell::Time(t) => Cow::Owned(rfc3339(t)),
            Cell::Json(v) => Cow::Owned(v.to_string()),
        })
    }
}

/// A float's shortest round-trip text, never in E-notation: the digits
/// [`Money::from_f64`] reads (ties to even, as DuckDB and Python print them).
pub fn float_text(f: f64) -> String {
    if !f.is_finite() {
        return format!("{f}");
    }
    let text = ryu::Buffer::new().format_finite(f).to_string();
    let Some((mant, exp)) = text.split_once('e') else {
        return text
            .strip_suffix(".0")
            .map_or_else(|| text.clone(), str::to_string);
    };
    // `d.ddde±x` → plain digits.
    let exp: i64 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits = format!("{int}{frac}");
    let point = int.len() as i64 + exp;
    let mut out = String::with_capacity(digits.len() + exp.unsigned_abs() as usize + 3);
    if neg {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// Where a record's cells live.
#[derive(Clone, Copy)]
enum Body<'r> {
    Text(&'r TextRecord<'r>),
    Cells(&'r [Cell<'r>]),
    /// Row `.1` of a columnar source, read cell by cell as the parser asks.
    Columns(&'r dyn Columns, usize),
}

/// A columnar source (a Parquet row group): any cell of any row.
pub trait Columns: Sync {
    fn cell(&self, column: usize, row: usize) -> Cell<'_>;
    fn width(&self) -> usize;
    /// The cell as a rejects file shows the row: null for a column the source did not
    /// decode because the parser does not read it.
    fn shown(&self, column: usize, row: usize) -> Cell<'_> {
        self.cell(column, row)
    }
}

/// One record: cells addressed by the index of their column in `headers`.
#[derive(Clone, Copy)]
pub struct Record<'r> {
    headers: &'r [String],
    body: Body<'r>,
    line: u64,
}

impl<'r> Record<'r> {
    /// A CSV record.
    pub fn of_text(headers: &'r [String], rec: &'r TextRecord<'r>) -> Record<'r> {
        Record {
            headers,
            line: rec.line(),
            body: Body::Text(rec),
        }
    }

    /// A record of typed cells (JSON, Parquet), `cells[i]` under `headers[i]`.
    pub fn cells(headers: &'r [String], cells: &'r [Cell<'r>], line: u64) -> Record<'r> {
        Record {
            headers,
            line,
            body: Body::Cells(cells),
        }
    }

    /// Row `row` of a columnar source, its columns under `headers`; `line` its number.
    pub fn of_columns(
        headers: &'r [String],
        columns: &'r dyn Columns,
        row: usize,
        line: u64,
    ) -> Record<'r> {
        Record {
            headers,
            line,
            body: Body::Columns(columns, row),
        }
    }

    /// The line the record starts on (CSV, JSON Lines) or its row number (JSON documents,
    /// Parquet).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The name of column `i`, as the file writes it.
    pub fn name(&self, i: usize) -> &'r str {
        self.headers.get(i).map_or("", String::as_str)
    }

    /// The CSV record, when this is one: its fields are text already, read with
    /// [`TextRecord::value`] without the cell and error plumbing of [`Record::text`].
    #[inline]
    pub fn csv(&self) -> Option<&'r TextRecord<'r>> {
        match self.body {
            Body::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn cell(&self, i: usize) -> Cell<'r> {
        match self.body {
            Body::Text(t) => t.get(i).map_or(Cell::Null, Cell::Text),
            Body::Cells(c) => c.get(i).copied().unwrap_or(Cell::Null),
            Body::Columns(c, row) => c.cell(i, row),
        }
    }

    /// Text-like cells only (CSV fields, JSON strings and numbers), trimmed; None when
    /// null or typed. The fast path of text adapters.
    pub fn str(&self, i: usize) -> Option<&'r str> {
        match self.cell(i) {
            Cell::Text(s) | Cell::Number(s) if !is_null(s) => Some(s.trim_ascii()),
            _ => None,
        }
    }

    /// Column `i` as text; None when null; an object or array is an error.
    pub fn text(&self, i: usize) -> Result<Option<Cow<'r, str>>, FieldError> {
        // CSV, the hot path: a field, trimmed, or nothing.
        if let Body::Text(t) = self.body {
            return Ok(t
                .get(i)
                .filter(|s| !is_null(s))
                .map(|s| Cow::Borrowed(s.trim_ascii())));
        }
        match self.cell(i) {
            Cell::Json(v) => {
                let shown = v.to_string();
                let name = self.name(i);
                Err(FieldError::new(
                    name,
                    Some(&shown),
                    format!(
                        "{} is an object or array, not a text or number",
                        quote(&shown)
                    ),
                    format!("give {name} as a plain value"),
                ))
            }
            c => Ok(c.to_text()),
        }
    }

    /// Appends column `i`'s text to `out` (nothing when null).
    pub fn push_text(&self, i: Option<usize>, out: &mut String) -> Result<(), FieldError> {
        if let Some(i) = i {
            if let Some(t) = self.text(i)? {
                out.push_str(&t);
            }
        }
        Ok(())
    }

    /// An amount in `currency`, exact: decimal text and E-notation, JSON numbers as
    /// written, DECIMAL, DOUBLE by its shortest round-trip text. The flag is true when the
    /// text was written for people (`$1,234.50`) and read leniently.
    pub fn money(&self, i: usize, currency: &str) -> Result<Option<(Money, bool)>, FieldError> {
        let name = self.name(i);
        let text = match self.cell(i) {
            Cell::Decimal(v, s) => return decimal_money(name, v, s).map(|m| Some((m, false))),
            Cell::Int(n) => return decimal_money(name, n as i128, 0).map(|m| Some((m, false))),
            Cell::Float(f) => {
                return match Money::from_f64(f) {
                    Ok(m) => Ok(Some((m, false))),
                    Err(e) => Err(FieldError::money(name, &float_text(f), &e)),
                }
            }
            Cell::Bool(_) | Cell::Time(_) | Cell::Json(_) => {
                let shown = self.cell(i).to_text().unwrap_or_default().into_owned();
                return Err(FieldError::new(
                    name,
                    Some(&shown),
                    format!("{} is not an amount", quote(&shown)),
                    "an amount is a decimal number such as 12.50",
                ));
            }
            c => match c.to_text() {
                None => return Ok(None),
                Some(t) => t,
            },
        };
        match parse_formatted(&text, currency) {
            Ok((m, lenient)) => Ok(Some((m, lenient))),
            Err(e) => Err(FieldError::money(name, &text, &e)),
        }
    }

    /// An instant: ISO 8601 / RFC 3339 with or without zone (UTC), `YYYY-MM-DD HH:MM:SS`,
    /// dates, `M/D/YYYY`, Unix seconds (10 digits) or milliseconds (13), typed timestamps.
    pub fn time(&self, i: usize) -> Result<Option<Micros>, FieldError> {
        let text = match self.cell(i) {
            Cell::Time(t) => return Ok(Some(t)),
            c => match c.to_text() {
                None => return Ok(None),
                Some(t) => t,
            },
        };
        parse_timestamp(&text).map(Some).ok_or_else(|| {
            FieldError::new(
                self.name(i),
                Some(&text),
                format!("cannot read the date {}", quote(&text)),
                "use ISO 8601 (2026-10-01T00:00:00Z), a date (2026-10-01, 10/1/2026) or Unix seconds",
            )
        })
    }

    /// A count (tokens, requests): a whole number of 0 or more (`12.0` is 12).
    pub fn count(&self, i: usize) -> Result<Option<i64>, FieldError> {
        let name = self.name(i);
        let text = match self.cell(i) {
            Cell::Int(n) if n >= 0 => return Ok(Some(n)),
            Cell::Decimal(v, s) if s == 0 && v >= 0 && v <= i64::MAX as i128 => {
                return Ok(Some(v as i64))
            }
            c => match c.to_text() {
                None => return Ok(None),
                Some(t) => t,
            },
        };
        let t = text.as_ref();
        let whole = t
            .strip_suffix(".0")
            .or_else(|| t.strip_suffix(".00"))
            .unwrap_or(t);
        match whole.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            Ok(_) => Err(FieldError::new(
                name,
                Some(t),
                format!("{} is negative: a count cannot be", quote(t)),
                "write counts as whole numbers of 0 or more",
            )),
            Err(_) => Err(FieldError::new(
                name,
                Some(t),
                format!("{} is not a whole number", quote(t)),
                "write counts as plain integers, without separators",
            )),
        }
    }

    /// A JSON object or array: a nested JSON value, or a text cell holding JSON.
    pub fn json(&self, i: usize) -> Result<Option<Cow<'r, Value>>, FieldError> {
        match self.cell(i) {
            Cell::Json(v) => Ok(Some(Cow::Borrowed(v))),
            c => match c.to_text() {
                None => Ok(None),
                Some(t) => serde_json::from_str::<Value>(&t)
                    .map(|v| Some(Cow::Owned(v)))
                    .map_err(|e| {
                        FieldError::new(
                            self.name(i),
                            Some(&t),
                            format!("{} is not JSON: {e}", quote(&t)),
                            "the column holds a JSON object or array; export it unchanged",
                        )
                    }),
            },
        }
    }

    /// Adds column `i` to a record key as `name = value`, normalised by type (an instant
    /// is its microseconds, a number its canonical decimal), so CSV, JSON and Parquet forms
    /// of one row get one id.
    pub fn key(&self, key: &mut KeyHasher, name: &str, i: usize, kind: KeyKind) {
        match self.cell(i) {
            Cell::Null => {}
            Cell::Text(s) | Cell::Number(s) => key.text(name, s, kind),
            Cell::Time(t) => key.time(name, t),
            Cell::Bool(b) => key.canonical(name, if b { "true" } else { "false" }),
            Cell::Json(v) => key.canonical(name, &v.to_string()),
            c => {
                if let Some(t) = c.to_text() {
                    key.text(name, &t, kind)
                }
            }
        }
    }

    /// The record as one line of text, for the rejects file.
    pub fn raw(&self, delimiter: u8) -> String {
        match self.body {
            Body::Text(t) => super::join_record(t.byte_record(), delimiter),
            Body::Cells(_) | Body::Columns(..) => {
                let mut w = csv::WriterBuilder::new()
                    .delimiter(delimiter)
                    .from_writer(Vec::new());
                let width = match self.body {
                    Body::Cells(cells) => cells.len(),
                    Body::Columns(c, _) => c.width(),
                    Body::Text(_) => 0,
                };
                let fields: Vec<String> = (0..width)
                    .map(|i| {
                        let cell = match self.body {
                            Body::Columns(c, row) => c.shown(i, row),
                            _ => self.cell(i),
                        };
                        cell.to_text().map(Cow::into_owned).unwrap_or_default()
                    })
                    .collect();
                let _ = w.write_record(&fields);
                let bytes = w.into_inner().unwrap_or_default();
                String::from_utf8_lossy(&bytes).trim_end().to_string()
            }
        }
    }
}

fn decimal_money(name: &str, v: i128, scale: u32) -> Result<Money, FieldError> {
    Money::from_decimal(v, scale).map_err(|e| FieldError::money(name, &format_scaled(v, scale), &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(h: &'a [String], c: &'a [Cell<'a>]) -> Record<'a> {
        Record::cells(h, c, 1)
    }

    #[test]
    fn typed_cells_read_like_their_text() {
        let h: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(String::from).to_vec();
        let j: Value = serde_json::from_str(r#"{"x": 1.837500000000000001}"#).unwrap();
        let cells = [
            Cell::Float(1234567.891),
            Cell::Decimal(150, 2),
            Cell::of_json(&j),
            Cell::Text(" 35.2E-7 "),
            Cell::Time(1_000_000),
            Cell::of_json(&j["x"]),
        ];
        let r = rec(&h, &cells);
        let m = |i| r.money(i, "USD").unwrap().unwrap().0.to_string();
        assert_eq!(m(0), "1234567.891");
        assert_eq!(m(1), "1.5");
        assert_eq!(m(3), "0.00000352");
        assert!(r.money(4, "USD").is_err());
        assert_eq!(r.time(4).unwrap(), Some(1_000_000));
        assert!(r.text(2).is_err());
        assert_eq!(m(5), "1.837500000000000001");
        assert!(r.count(1).is_err());
        assert_eq!(r.count(2).ok(), None);
    }
}
