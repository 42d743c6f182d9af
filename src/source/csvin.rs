//! CSV records for the adapters: the delimiter sniffed from the header, UTF-8 checked per
//! record, rows with the wrong number of fields turned into rejections.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Records, Rejected};
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

pub struct CsvRecords {
    path: PathBuf,
    reader: csv::Reader<Box<dyn BufRead + Send>>,
    headers: Vec<String>,
    bytes: csv::ByteRecord,
    record: csv::StringRecord,
    delimiter: u8,
}

impl CsvRecords {
    pub fn new(path: &Path, input: Box<dyn BufRead + Send>, delimiter: u8) -> Result<CsvRecords> {
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
        Ok(CsvRecords {
            path: path.to_path_buf(),
            reader,
            headers,
            bytes: csv::ByteRecord::new(),
            record: csv::StringRecord::new(),
            delimiter,
        })
    }
}

impl Records for CsvRecords {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_record(&mut self) -> Result<Option<Result<(u64, &csv::StringRecord), Rejected>>> {
        // Reuse the previous record's buffer (after a rejection, `bytes` still has one).
        if self.bytes.is_empty() {
            self.bytes = std::mem::take(&mut self.record).into_byte_record();
        }
        let more = self.reader.read_byte_record(&mut self.bytes).map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            InputError::new(
                &self.path,
                Place::line(line),
                format!("cannot read CSV: {e}"),
            )
            .fix("the file is damaged or truncated; export it again")
        })?;
        if !more {
            return Ok(None);
        }
        let line = self.bytes.position().map(|p| p.line()).unwrap_or(0);
        if self.bytes.len() != self.headers.len() {
            // A blank line in the middle of a file is no record.
            if self.bytes.len() == 1 && self.bytes[0].is_empty() {
                return self.next_record();
            }
            let record = self.raw_bytes();
            let rej = Rejected {
                line,
                column: None,
                value: None,
                reason: format!(
                    "the record has {} fields but the header has {}",
                    self.bytes.len(),
                    self.headers.len()
                ),
                fix: Some(
                    "an unquoted delimiter inside a value, or a truncated file; quote the value or export the file again"
                        .into(),
                ),
                record,
            };
            return Ok(Some(Err(rej)));
        }
        match csv::StringRecord::from_byte_record(std::mem::take(&mut self.bytes)) {
            Ok(rec) => {
                self.record = rec;
                Ok(Some(Ok((line, &self.record))))
            }
            Err(e) => {
                self.bytes = e.into_byte_record();
                let field = self
                    .bytes
                    .iter()
                    .position(|f| std::str::from_utf8(f).is_err());
                let record = self.raw_bytes();
                let rej = Rejected {
                    line,
                    column: field.and_then(|i| self.headers.get(i).cloned()),
                    value: None,
                    reason: "not UTF-8 text (a Latin-1 / Windows-1252 export?)".into(),
                    fix: Some("re-export the file as UTF-8 (Excel: Save As → CSV UTF-8)".into()),
                    record,
                };
                Ok(Some(Err(rej)))
            }
        }
    }

    fn delimiter(&self) -> u8 {
        self.delimiter
    }
}

impl CsvRecords {
    fn raw_bytes(&self) -> String {
        join(&self.bytes, self.delimiter)
    }
}

/// A record as one CSV line (quoted as needed), for the rejects file.
pub fn join_record(rec: &csv::StringRecord, delimiter: u8) -> String {
    join(rec.as_byte_record(), delimiter)
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
