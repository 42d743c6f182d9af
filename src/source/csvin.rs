//! CSV records for the adapters: the delimiter sniffed from the header, UTF-8 checked per
//! record, rows with the wrong number of fields turned into rejections.

use std::io::{BufRead, Read};
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

/// A place where a CSV file's quoting breaks RFC 4180.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The line (as the CSV reader counts them: every `\n`, from 1).
    pub line: u64,
    pub reason: &'static str,
}

impl Violation {
    pub const FIX: &'static str = "quote a value whole (\"like this\"), double any quote inside it (\"say \"\"hi\"\"\"), and put nothing between a closing quote and the next delimiter; re-export the file from its source";
}

/// Violations seen so far, shared between the checker (under the CSV reader) and the
/// thread that hands records out.
pub type Violations = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Violation>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Q {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Reads through to the CSV reader and checks the quoting on the way (the csv crate is
/// lenient: it reads `"2.5"9` as 2.59 and `"r1"x` as r1x). Each line's first violation
/// is recorded; the records they fall in are rejected.
pub struct QuoteCheck<R> {
    inner: R,
    delimiter: u8,
    state: Q,
    line: u64,
    /// The line where the open quoted value started.
    quote_line: u64,
    last_flagged: u64,
    violations: Violations,
}

impl<R> QuoteCheck<R> {
    pub fn new(inner: R, delimiter: u8) -> QuoteCheck<R> {
        QuoteCheck {
            inner,
            delimiter,
            state: Q::FieldStart,
            line: 1,
            quote_line: 0,
            last_flagged: 0,
            violations: Violations::default(),
        }
    }

    pub fn violations(&self) -> Violations {
        self.violations.clone()
    }

    fn flag(&mut self, line: u64, reason: &'static str) {
        if self.last_flagged != line {
            self.last_flagged = line;
            if let Ok(mut v) = self.violations.lock() {
                v.push_back(Violation { line, reason });
            }
        }
    }

    /// Checks `bytes`, the next piece of the stream, jumping from quote to quote (memchr)
    /// instead of stepping through every byte: for a file without quotes it is one vector
    /// scan and a newline count per piece. (`reference_scan`
    /// in the tests is the byte-by-byte definition it is checked against.)
    fn scan(&mut self, bytes: &[u8]) {
        let d = self.delimiter;
        let n = bytes.len();
        let mut i = 0;
        // Newlines before `counted` are in `self.line` already.
        let mut counted = 0;
        let line_at = |counted: &mut usize, line: &mut u64, at: usize| {
            *line += memchr::memchr_iter(b'\n', &bytes[*counted..at]).count() as u64;
            *counted = at;
        };
        while i < n {
            match self.state {
                Q::Quoted => match memchr::memchr(b'"', &bytes[i..]) {
                    None => i = n,
                    Some(k) => {
                        i += k + 1;
                        self.state = Q::QuoteInQuoted;
                    }
                },
                Q::QuoteInQuoted => {
                    let b = bytes[i];
                    if b == b'"' {
                        self.state = Q::Quoted;
                    } else if b == d || b == b'\n' || b == b'\r' {
                        self.state = Q::FieldStart;
                    } else {
                        line_at(&mut counted, &mut self.line, i);
                        self.flag(self.line, "text after the closing quote of a value");
                        self.state = Q::Unquoted;
                    }
                    i += 1;
                }
                // Outside quotes only a quote can be wrong, and whether it is depends only
                // on the byte before it (a delimiter or line end opens a quoted value):
                // jump from quote to quote.
                Q::FieldStart | Q::Unquoted => match memchr::memchr(b'"', &bytes[i..]) {
                    None => {
                        let last = bytes[n - 1];
                        self.state = if last == d || last == b'\n' || last == b'\r' {
                            Q::FieldStart
                        } else {
                            Q::Unquoted
                        };
                        i = n;
                    }
                    Some(k) => {
                        let at = i + k;
                        let opens = if k == 0 {
                            self.state == Q::FieldStart
                        } else {
                            let prev = bytes[at - 1];
                            prev == d || prev == b'\n' || prev == b'\r'
                        };
                        line_at(&mut counted, &mut self.line, at);
                        if opens {
                            self.quote_line = self.line;
                            self.state = Q::Quoted;
                        } else {
                            self.flag(self.line, "a quote inside an unquoted value (or blank space before an opening quote)");
                            self.state = Q::Unquoted;
                        }
                        i = at + 1;
                    }
                },
            }
        }
        line_at(&mut counted, &mut self.line, n);
    }
}

impl<R: Read> Read for QuoteCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if self.state == Q::Quoted {
                let at = self.quote_line;
                self.flag(at, "a quoted value that is never closed");
                self.state = Q::FieldStart;
            }
        } else {
            self.scan(&buf[..n]);
        }
        Ok(n)
    }
}

/// Takes the violations on lines before `before` (the records read so far).
pub fn take_violations(v: &Violations, before: u64) -> Vec<Violation> {
    let Ok(mut q) = v.lock() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while q.front().is_some_and(|x| x.line < before) {
        out.extend(q.pop_front());
    }
    out
}

/// A CSV input whose header has been read.
pub struct CsvInput {
    pub reader: csv::Reader<QuoteCheck<Box<dyn BufRead + Send>>>,
    /// Lines end in CR LF: the csv crate counts a record's CR LF line end only once the
    /// next record is read, so positions it gives are one line short
    /// ([`CsvInput::true_line`]).
    pub crlf: bool,
    headers: Vec<String>,
    pub delimiter: u8,
    pub violations: Violations,
}

impl CsvInput {
    pub fn new(
        path: &Path,
        input: Box<dyn BufRead + Send>,
        delimiter: u8,
        crlf: bool,
    ) -> Result<CsvInput> {
        let check = QuoteCheck::new(input, delimiter);
        let violations = check.violations();
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(check);
        let headers: Vec<String> = reader
            .byte_headers()
            .map_err(|e| {
                InputError::new(path, Place::line(1), format!("cannot read the header: {e}"))
                    .fix("the file is damaged or truncated; export it again")
            })?
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        let after_header = reader.position().line();
        if let Some(v) = take_violations(&violations, after_header.max(2)).first() {
            return Err(InputError::new(
                path,
                Place::line(v.line),
                format!("malformed quoting in the header: {}", v.reason),
            )
            .fix(Violation::FIX)
            .into());
        }
        let mut seen = std::collections::HashSet::new();
        for h in &headers {
            if !h.is_empty() && !seen.insert(h.to_ascii_lowercase()) {
                return Err(InputError::new(
                    path,
                    Place::line(1),
                    format!("the header names column {} twice", crate::error::quote(h)),
                )
                .fix("rename or remove one of the two columns")
                .into());
            }
        }
        Ok(CsvInput {
            reader,
            crlf,
            headers,
            delimiter,
            violations,
        })
    }

    /// The true line of a line number the csv crate gives for a record or its position.
    pub fn true_line(crlf: bool, line: u64) -> u64 {
        line + crlf as u64
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
            fix: "an unquoted delimiter inside a value, or a truncated file: quote the value or export the file again"
                .into(),
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
            fix: "re-export the file as UTF-8 (Excel: Save As → CSV UTF-8)".into(),
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

    fn violations(text: &str) -> Vec<(u64, &'static str)> {
        let mut c = QuoteCheck::new(text.as_bytes(), b',');
        let mut sink = Vec::new();
        c.read_to_end(&mut sink).unwrap();
        let v = c.violations();
        take_violations(&v, u64::MAX)
            .into_iter()
            .map(|v| (v.line, v.reason))
            .collect()
    }

    /// The definition, byte by byte: what the fast scan must agree with.
    fn reference_scan(text: &[u8], d: u8) -> Vec<(u64, &'static str)> {
        let (mut state, mut line, mut quote_line) = (Q::FieldStart, 1u64, 0u64);
        let mut out: Vec<(u64, &'static str)> = Vec::new();
        let mut flag = |line: u64, r: &'static str| {
            if out.last().is_none_or(|(l, _)| *l != line) {
                out.push((line, r));
            }
        };
        for &b in text {
            match state {
                Q::FieldStart | Q::Unquoted => {
                    if b == d || b == b'\n' || b == b'\r' {
                        state = Q::FieldStart;
                    } else if b == b'"' {
                        if state == Q::FieldStart {
                            state = Q::Quoted;
                            quote_line = line;
                        } else {
                            flag(line, "a quote inside an unquoted value (or blank space before an opening quote)");
                        }
                    } else {
                        state = Q::Unquoted;
                    }
                }
                Q::Quoted => {
                    if b == b'"' {
                        state = Q::QuoteInQuoted;
                    }
                }
                Q::QuoteInQuoted => {
                    if b == b'"' {
                        state = Q::Quoted;
                    } else if b == d || b == b'\n' || b == b'\r' {
                        state = Q::FieldStart;
                    } else {
                        flag(line, "text after the closing quote of a value");
                        state = Q::Unquoted;
                    }
                }
            }
            if b == b'\n' {
                line += 1;
            }
        }
        if state == Q::Quoted {
            flag(quote_line, "a quoted value that is never closed");
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn the_fast_scan_agrees_with_the_definition(
            text in proptest::collection::vec(proptest::sample::select(b"ab,;\"\n\r 1".to_vec()), 0..300),
            piece in 1usize..40,
        ) {
            // Fed in pieces of any size, as reads arrive.
            let mut c = QuoteCheck::new(&b""[..], b',');
            for chunk in text.chunks(piece) {
                c.scan(chunk);
            }
            let mut tail = Vec::new();
            c.read_to_end(&mut tail).unwrap();
            let got: Vec<(u64, &'static str)> = take_violations(&c.violations(), u64::MAX)
                .into_iter()
                .map(|v| (v.line, v.reason))
                .collect();
            proptest::prop_assert_eq!(got, reference_scan(&text, b','));
        }
    }

    #[test]
    fn malformed_quoting_is_found_with_its_line() {
        assert!(violations("a,b\n\"x\",\"y \"\"z\"\"\"\n1,\"multi\nline\"\n").is_empty());
        let v = violations("a,b,c\nr1,\"r2\" ,\"2.5\"9\n");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, 2);
        assert!(v[0].1.contains("after the closing quote"));
        let v = violations("a,b\nx,y\n\"r1\"x,2\nok,1\nab\"c,3\n");
        assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 5]);
        // Blank space before an opening quote.
        assert_eq!(violations("a,b\nx, \"y\"\n")[0].0, 2);
        // Never closed: blamed on the line where the quote opened.
        let v = violations("a,b\nx,y\nz,\"open\n1,2\n3,4\n");
        assert_eq!(v, vec![(3, "a quoted value that is never closed")]);
        // CRLF and tabs.
        let mut c = QuoteCheck::new(&b"a\tb\r\n\"x\"\t\"y\"\r\n"[..], b'\t');
        let mut sink = Vec::new();
        c.read_to_end(&mut sink).unwrap();
        assert!(take_violations(&c.violations(), u64::MAX).is_empty());
    }

    #[test]
    fn sniffs() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a,x\";b;c"), b';');
        assert_eq!(sniff_delimiter(b"single"), b',');
    }
}
