//! CSV records for the adapters: the delimiter sniffed from the header, UTF-8 checked per
//! record, rows with the wrong number of fields turned into rejections.

use std::io::BufRead;
use std::path::Path;

use anyhow::Result;

use super::{Rejected, TextRecord};
use crate::error::{InputError, Place};

/// The delimiter of a CSV header line: the most frequent of `,` `;` tab `|` outside quotes.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = super::first_line(head);
    let mut counts = [0usize; 4];
    let cands = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = cands.iter().position(|&c| c == b) {
                counts[i] += 1;
            }
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], 4 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        cands[best]
    }
}

/// The fields of a header line.
pub fn header_fields(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(line);
    let mut rec = csv::StringRecord::new();
    match r.read_record(&mut rec) {
        Ok(true) => rec.iter().map(|s| s.trim().to_string()).collect(),
        _ => String::from_utf8_lossy(line)
            .split(delimiter as char)
            .map(|s| s.trim().to_string())
            .collect(),
    }
}

/// A CSV input whose header has been read.
pub struct CsvInput {
    pub reader: csv::Reader<Box<dyn BufRead + Send>>,
    headers: Vec<String>,
    pub delimiter: u8,
}

impl CsvInput {
    pub fn new(path: &Path, input: Box<dyn BufRead + Send>, delimiter: u8) -> Result<CsvInput> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(input);
        let headers: Vec<String> = reader
            .byte_headers()
            .map_err(|e| {
                InputError::new(path, Place::line(1), format!("cannot read the header: {e}"))
            })?
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        let mut seen = std::collections::HashSet::new();
        for h in &headers {
            if !h.is_empty() && !seen.insert(h.to_ascii_lowercase()) {
                return Err(InputError::new(
                    path,
                    Place::line(1),
                    format!("the header names column \"{h}\" twice"),
                )
                .fix("rename or remove one of the two columns")
                .into());
            }
        }
        Ok(CsvInput {
            reader,
            headers,
            delimiter,
        })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }
}

/// What a raw record is: text to parse, a blank line, or invalid.
pub enum Checked<'r> {
    Text(TextRecord<'r>),
    Blank,
    Invalid(Rejected),
}

/// Checks a record's field count and UTF-8.
pub fn check_record<'r>(
    bytes: &'r csv::ByteRecord,
    headers: &[String],
    delimiter: u8,
) -> Checked<'r> {
    let line = bytes.position().map(|p| p.line()).unwrap_or(0);
    if bytes.len() != headers.len() {
        if bytes.len() == 1 && bytes[0].is_empty() {
            return Checked::Blank;
        }
        return Checked::Invalid(Rejected {
            line,
            column: None,
            value: None,
            reason: format!(
                "the record has {} fields but the header has {}",
                bytes.len(),
                headers.len()
            ),
            fix: Some(
                "an unquoted delimiter inside a value, or a truncated file; quote the value or export the file again"
                    .into(),
            ),
            record: join_record(bytes, delimiter),
        });
    }
    match TextRecord::new(bytes) {
        Ok(rec) => Checked::Text(rec),
        Err(field) => Checked::Invalid(Rejected {
            line,
            column: field.and_then(|i| headers.get(i).cloned()),
            value: None,
            reason: "not UTF-8 text (a Latin-1 / Windows-1252 export?)".into(),
            fix: Some("re-export the file as UTF-8 (Excel: Save As → CSV UTF-8)".into()),
            record: join_record(bytes, delimiter),
        }),
    }
}

/// A record as one CSV line (quoted as needed), for the rejects file.
pub fn join_record(rec: &csv::ByteRecord, delimiter: u8) -> String {
    join(rec, delimiter)
}

fn join(rec: &csv::ByteRecord, delimiter: u8) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    let _ = w.write_byte_record(rec);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a,x\";b;c"), b';');
        assert_eq!(sniff_delimiter(b"single"), b',');
    }
}
