//! Input adapters: each turns one source format into canonical [`Row`]s.
//!
//! [`open`] reads a file's first bytes to find how it is encoded (gzip, a UTF-8 or
//! UTF-16 byte-order mark, Parquet) and what it is (FOCUS or the usage log, from its
//! header or first JSON object), then [`read`] streams it through the matching adapter
//! into a [`Sink`].

mod anthropic;
mod aws;
mod azure;
mod buckets;
mod cloud;
mod csvin;
mod focus;
mod gateway;
mod gcp;
mod helicone;
pub mod identity;
mod json_in;
mod langfuse;
mod litellm;
mod oci;
mod openai;
mod parallel;
mod parquet;
pub mod record;
pub mod registry;
mod usage_log;

use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::{InputError, Place};
use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Currency, Row};
use crate::money::Money;
use crate::pricing::PriceBook;
use crate::store::writer::Frame;
use crate::timeparse::Month;
pub use record::{Cell, Record};
pub use registry::SourceFormat;
use registry::{Detected, Probe};

pub use csvin::{join_record, sniff_delimiter};

/// Receives what an adapter reads, in file order.
pub trait Sink {
    /// A valid row from the record that starts on `line` (JSON Lines, Parquet).
    fn row(&mut self, row: &Row, line: u64) -> Result<()>;
    /// An invalid record.
    fn reject(&mut self, rejected: Rejected) -> Result<()>;
    /// A note about the file as a whole (shown once).
    fn note(&mut self, note: String);
    /// A chunk of records parsed and built by a worker (CSV).
    fn chunk(&mut self, chunk: Chunk) -> Result<()>;
    /// Whether rows should be built into columns: false for a dry run, or once a file
    /// without --skip-invalid has an invalid row.
    fn wants_frames(&self) -> bool;
}

/// A CSV record known to be UTF-8, read in place: its fields are slices of one validated
/// buffer (no copy, no allocation).
pub struct TextRecord<'r> {
    text: &'r str,
    rec: &'r csv::ByteRecord,
}

impl<'r> TextRecord<'r> {
    /// Checks the record's bytes once (SIMD: this runs on every record of a CSV); on
    /// invalid UTF-8, the index of the bad field.
    pub fn new(rec: &'r csv::ByteRecord) -> Result<TextRecord<'r>, Option<usize>> {
        match simdutf8::basic::from_utf8(rec.as_slice()) {
            Ok(text) => Ok(TextRecord { text, rec }),
            Err(_) => Err(rec.iter().position(|f| std::str::from_utf8(f).is_err())),
        }
    }

    /// Field `i`; field boundaries fall between characters (delimiters are ASCII).
    pub fn get(&self, i: usize) -> Option<&'r str> {
        self.rec.range(i).and_then(|r| self.text.get(r))
    }

    /// Field `i` as [`Record::text`] reads it: trimmed, None when null or absent.
    #[inline]
    pub fn value(&self, i: usize) -> Option<&'r str> {
        let t = self.get(i)?.trim_ascii();
        (!identity::is_null(t)).then_some(t)
    }

    pub fn line(&self) -> u64 {
        self.rec.position().map(|p| p.line()).unwrap_or(0)
    }

    pub fn byte_record(&self) -> &'r csv::ByteRecord {
        self.rec
    }
}

/// Canonical tag text by the raw text it came from; few distinct tag sets, looked up on
/// every row, so a fast hash (seeded per process: a file cannot choose colliding keys).
pub type TagCache = std::collections::HashMap<String, String, foldhash::fast::RandomState>;

/// Appends `part` to a [`TagCache`] key, length-prefixed: no cell text (control
/// characters included) can pose as two parts or as a part boundary.
pub fn push_key_part(key: &mut String, part: &str) {
    key.push_str(itoa::Buffer::new().format(part.len()));
    key.push(':');
    key.push_str(part);
}

/// Turns one record into a canonical row. Each worker thread has its own, made by
/// [`RowParser::fork`].
pub trait RowParser<'a>: Send {
    /// Fills a cleared `row` from `rec`. `row.record_id` gets the hash of the row's natural
    /// key; repeats within a file are made unique after the read.
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError>;
    fn fork(&self) -> Box<dyn RowParser<'a> + 'a>;
    fn counts(&self) -> ParseCounts;
    /// The columns (indices into the headers) this parser reads, when it can list them: a
    /// columnar input (Parquet) then decodes only those. None: every column (an identity
    /// that hashes every column needs them all).
    fn reads(&self) -> Option<Vec<usize>> {
        None
    }
}

/// Counts behind the closing notes of a read.
#[derive(Debug, Default, Clone)]
pub struct ParseCounts {
    /// Rows priced from tokens.
    pub priced: u64,
    /// Amounts written with symbols or separators, read leniently.
    pub formatted: u64,
    /// Records that are not rows of the format ([`FieldError::skip`]), and what they are.
    pub skipped: u64,
    pub skipped_what: &'static str,
    /// Rows without a cost whose model the price table lacks (rejected, never priced at 0).
    pub unknown_models: UnknownModels,
}

impl std::ops::AddAssign for ParseCounts {
    fn add_assign(&mut self, o: ParseCounts) {
        self.priced += o.priced;
        self.formatted += o.formatted;
        self.skipped += o.skipped;
        if self.skipped_what.is_empty() {
            self.skipped_what = o.skipped_what;
        }
        for (m, u) in o.unknown_models {
            let e = self.unknown_models.entry(m).or_default();
            e.rows += u.rows;
            e.input = e.input.saturating_add(u.input);
            e.output = e.output.saturating_add(u.output);
        }
    }
}

/// Token totals of rows that could not be priced, by model.
pub type UnknownModels = BTreeMap<String, Unpriced>;

#[derive(Debug, Default, Clone, Copy)]
pub struct Unpriced {
    pub rows: u64,
    pub input: i64,
    pub output: i64,
}

/// Prices a usage row that has tokens but no cost from the price table (cached and
/// cache-write tokens at their own prices): sets cost, USD and `cost_is_estimate`. A
/// model the table lacks is an error naming the model and its tokens, and is counted in
/// `unknown` for the closing note: never priced at zero. `input_text` is the input cell,
/// for the error.
pub fn price(
    opts: &ReadOptions,
    unknown: &mut UnknownModels,
    row: &mut Row,
    input_text: Option<&str>,
) -> Result<(), FieldError> {
    let tokens = crate::pricing::Tokens {
        input: row.input_tokens.unwrap_or(0),
        cached: row.cached_input_tokens.unwrap_or(0),
        cache_write: row.cache_write_tokens.unwrap_or(0),
        output: row.output_tokens.unwrap_or(0),
    };
    price_with(opts, unknown, row, input_text, |p| p.cost(tokens))
}

/// [`price`] with the cost computed by `cost` from the model's prices: aggregated usage
/// rows (a time bucket of many requests) use [`crate::pricing::ModelPrice::cost_aggregate`].
pub fn price_with(
    opts: &ReadOptions,
    unknown: &mut UnknownModels,
    row: &mut Row,
    input_text: Option<&str>,
    cost: impl FnOnce(&crate::pricing::ModelPrice) -> Option<Money>,
) -> Result<(), FieldError> {
    let table = opts.prices.get().map_err(|e| {
        FieldError::new(
            "cost",
            None,
            format!("cannot price the request: {e:#}"),
            "fix the price table (--prices or [pricing] file in the config), or give a cost",
        )
    })?;
    let input = row.input_tokens.unwrap_or(0);
    let output = row.output_tokens.unwrap_or(0);
    let Some(price) = table.lookup(&row.provider, &row.model) else {
        if unknown.len() < 10_000 || unknown.contains_key(&row.model) {
            let e = unknown.entry(row.model.clone()).or_default();
            e.rows += 1;
            e.input = e.input.saturating_add(input);
            e.output = e.output.saturating_add(output);
        }
        return Err(FieldError::new(
            "model",
            Some(&row.model),
            format!(
                "no cost, and the price table has no model {} ({input} input, {output} output tokens)",
                crate::error::quote(&row.model)
            ),
            "give a cost, or a price table that has this model (--prices FILE or [pricing] file)",
        ));
    };
    if row.provider.is_empty() || row.provider == "unknown" {
        row.provider.clear();
        row.provider.push_str(&price.provider);
    }
    row.cost = cost(price).ok_or_else(|| {
        FieldError::new(
            "input_tokens",
            input_text,
            "the token counts are too large to price (the cost would reach 10^20)",
            "check the token columns",
        )
    })?;
    row.currency = Some(Currency::USD);
    row.cost_is_estimate = true;
    Ok(())
}

/// The notes a read ends with.
pub fn closing_notes(counts: ParseCounts, opts: &ReadOptions) -> Vec<String> {
    let mut out = Vec::new();
    if counts.skipped > 0 {
        out.push(format!(
            "{} records skipped: {}",
            counts.skipped, counts.skipped_what
        ));
    }
    if counts.formatted > 0 {
        out.push(format!(
            "{} amount(s) were written with a currency symbol or thousands separators (\"$10,000.00\") and were read as plain numbers",
            counts.formatted
        ));
    }
    if !counts.unknown_models.is_empty() {
        let shown: Vec<String> = counts
            .unknown_models
            .iter()
            .take(10)
            .map(|(m, u)| {
                format!(
                    "{} ({} row(s), {} input / {} output tokens)",
                    crate::error::quote(m),
                    u.rows,
                    u.input,
                    u.output
                )
            })
            .collect();
        let more = counts.unknown_models.len().saturating_sub(10);
        out.push(format!(
            "{} model(s) are not in {} and their rows without a cost were not priced: {}{}; give --prices FILE with them",
            counts.unknown_models.len(),
            opts.prices.source(),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
    }
    if counts.priced > 0 {
        out.push(format!(
            "{} rows had no cost and were priced from their tokens with {} (cost_is_estimate)",
            counts.priced,
            opts.prices.source()
        ));
    }
    out
}

/// What the valid rows of a read add up to.
#[derive(Debug, Default, Clone)]
pub struct ReadStats {
    pub rows: u64,
    pub rows_by_currency: BTreeMap<Currency, u64>,
    pub totals: BTreeMap<Currency, Money>,
    pub min_ts: Option<i64>,
    pub max_ts: Option<i64>,
    pub billing_periods: BTreeSet<Month>,
    pub rejected: u64,
    /// Σ over rows of the largest magnitude among cost, effective and list cost, in
    /// 10⁻¹⁸ units: what the store bounds (docs/store.md#amounts-and-their-sums).
    pub magnitude: u128,
    /// The row with the largest such magnitude: (magnitude, its line), for messages.
    pub largest: Option<(u128, u64)>,
    /// The last line read.
    pub last_line: u64,
    /// (currency, rows, total) as rows come in; [`ReadStats::settle`] folds them in.
    per_currency: Vec<(Currency, u64, Money)>,
}

/// A read's amounts add up beyond what the store can sum ([`crate::money::LIMIT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The line by which the magnitudes passed the limit.
    pub by_line: u64,
    /// The largest row: (magnitude, line).
    pub largest: Option<(u128, u64)>,
}

impl TooLarge {
    /// The error for `path`: the line, what is wrong, the largest amount, the fix.
    pub fn at(&self, path: &Path) -> InputError {
        let mut reason = "the file's amounts add up beyond 10^20 in absolute value by this line, more than the store can sum exactly (its DECIMAL(38,18))".to_string();
        if let Some((m, line)) = self.largest {
            reason.push_str(&format!(
                "; the largest is {} at line {line}",
                Money(m.min(i128::MAX as u128) as i128)
            ));
        }
        InputError::new(path, Place::line(self.by_line), reason).fix(
            "check the amount columns and their unit (a quantity or an id in a cost column?); a real bill is far below this",
        )
    }
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: amounts add up beyond 10^20 in absolute value",
            self.by_line
        )
    }
}

impl std::error::Error for TooLarge {}

impl ReadStats {
    pub fn add(&mut self, row: &Row, line: u64) -> Result<(), TooLarge> {
        self.rows += 1;
        self.last_line = self.last_line.max(line);
        let m = [Some(row.cost), row.effective_cost, row.list_cost]
            .into_iter()
            .flatten()
            .map(Money::magnitude)
            .max()
            .unwrap_or(0);
        self.magnitude = self.magnitude.saturating_add(m);
        if self.largest.is_none_or(|(l, _)| m > l) {
            self.largest = Some((m, line));
        }
        if self.magnitude >= crate::money::LIMIT as u128 {
            return Err(self.too_large());
        }
        let cur = row.currency.unwrap_or(Currency::USD);
        // Files hold one currency or a few: a short list beats two map lookups a row.
        let i = match self.per_currency.iter().position(|(c, _, _)| *c == cur) {
            Some(i) => i,
            None => {
                self.per_currency.push((cur, 0, Money::ZERO));
                self.per_currency.len() - 1
            }
        };
        let e = &mut self.per_currency[i];
        e.1 += 1;
        // Cannot fail: |total| ≤ magnitude < LIMIT; checked all the same.
        e.2 =
            e.2.checked_add(row.cost)
                .ok_or_else(|| self_too_large(line))?;
        self.min_ts = Some(
            self.min_ts
                .map_or(row.charge_start, |m| m.min(row.charge_start)),
        );
        self.max_ts = Some(
            self.max_ts
                .map_or(row.charge_start, |m| m.max(row.charge_start)),
        );
        if let Some(bp) = row.billing_period {
            self.billing_periods.insert(bp);
        }
        Ok(())
    }

    fn too_large(&self) -> TooLarge {
        TooLarge {
            by_line: self.last_line,
            largest: self.largest,
        }
    }

    /// Folds the per-row accumulators into the per-currency maps.
    pub fn settle(&mut self) -> Result<(), TooLarge> {
        let line = self.last_line;
        for (c, n, m) in std::mem::take(&mut self.per_currency) {
            *self.rows_by_currency.entry(c).or_default() += n;
            let t = self.totals.entry(c).or_default();
            *t = t.checked_add(m).ok_or_else(|| self_too_large(line))?;
        }
        Ok(())
    }

    pub fn merge(&mut self, mut o: ReadStats) -> Result<(), TooLarge> {
        o.settle()?;
        self.settle()?;
        self.rows += o.rows;
        self.rejected += o.rejected;
        self.last_line = self.last_line.max(o.last_line);
        self.magnitude = self.magnitude.saturating_add(o.magnitude);
        if let Some((m, line)) = o.largest {
            if self.largest.is_none_or(|(l, _)| m > l) {
                self.largest = Some((m, line));
            }
        }
        if self.magnitude >= crate::money::LIMIT as u128 {
            return Err(self.too_large());
        }
        for (c, n) in o.rows_by_currency {
            *self.rows_by_currency.entry(c).or_default() += n;
        }
        let line = self.last_line;
        for (c, m) in o.totals {
            let t = self.totals.entry(c).or_default();
            *t = t.checked_add(m).ok_or_else(|| self_too_large(line))?;
        }
        self.min_ts = match (self.min_ts, o.min_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_ts = match (self.max_ts, o.max_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.billing_periods.extend(o.billing_periods);
        Ok(())
    }
}

fn self_too_large(line: u64) -> TooLarge {
    TooLarge {
        by_line: line,
        largest: None,
    }
}

/// A run of consecutive records, parsed (and built into columns) by a worker.
pub struct Chunk {
    pub stats: ReadStats,
    /// Low 64 bits of each valid row's identity.
    pub fps: Vec<u64>,
    /// Invalid records, in line order.
    pub rejects: Vec<Rejected>,
    /// The valid rows as column chunks, one per month.
    pub frames: Vec<Frame>,
}

/// An invalid record: where, what, why, how to fix it, and the record itself.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub line: u64,
    pub column: Option<String>,
    /// The offending cell, whole (the rejects file keeps it; messages clip it).
    pub value: Option<String>,
    pub reason: String,
    pub fix: String,
    /// The record as it was read (CSV fields re-joined, or the JSON line).
    pub record: String,
}

/// A field-level problem, turned into a [`Rejected`] by the adapter. Every one says how to
/// fix it: the rejects file's `fix` column is never empty.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub column: String,
    pub value: Option<String>,
    pub reason: String,
    pub fix: String,
    /// Not an error: the record is not a row of the format (a Langfuse SPAN among the
    /// generations) and is left out, neither stored nor rejected. The parser counts it in
    /// [`ParseCounts::skipped`].
    pub skip: bool,
}

impl FieldError {
    /// `reason` is the whole sentence (quote the value with [`crate::error::quote`], which
    /// clips it); `value` is kept whole for the rejects file.
    pub fn new(
        column: &str,
        value: Option<&str>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> FieldError {
        FieldError {
            column: column.to_string(),
            value: value.map(str::to_string),
            reason: reason.into(),
            fix: fix.into(),
            skip: false,
        }
    }

    /// The record is not a row of the format and is left out (see [`FieldError::skip`]).
    pub fn skip() -> FieldError {
        FieldError {
            column: String::new(),
            value: None,
            reason: String::new(),
            fix: String::new(),
            skip: true,
        }
    }

    /// A bad amount: `"1,234" is ambiguous: ...`, with the amount's own fix.
    pub fn money(column: &str, value: &str, e: &crate::money::MoneyError) -> FieldError {
        FieldError::new(
            column,
            Some(value),
            format!("{} {}", crate::error::quote(value.trim_ascii()), e.reason()),
            e.fix(),
        )
    }

    /// The same error with another fix.
    pub fn fix(mut self, fix: impl Into<String>) -> FieldError {
        self.fix = fix.into();
        self
    }

    pub fn into_rejected(self, line: u64, record: String) -> Rejected {
        Rejected {
            line,
            column: Some(self.column),
            value: self.value,
            reason: self.reason,
            fix: self.fix,
            record,
        }
    }
}

/// A currency cell: three letters, any case. (Codes ISO 4217 does not list are kept, and
/// ingest notes them once per file.)
pub fn currency(column: &str, v: &str) -> Result<Currency, FieldError> {
    Currency::parse(v).ok_or_else(|| {
        FieldError::new(
            column,
            Some(v),
            format!(
                "{} is not a currency code",
                crate::error::quote(v.trim_ascii())
            ),
            "use an ISO 4217 code such as USD or EUR",
        )
    })
}

/// The error for a file of a known format that lacks columns it needs: `reason` names them,
/// `fix` says how to export the file; the columns found are listed after it.
pub fn missing_columns(
    path: &Path,
    reason: impl Into<String>,
    fix: &str,
    headers: &[String],
) -> anyhow::Error {
    InputError::new(path, Place::line(1), reason)
        .fix(format!("{fix}; found: {}", shown_columns(headers)))
        .into()
}

/// Column names for a message: at most 12, each clipped.
pub fn shown_columns(headers: &[String]) -> String {
    let mut shown: Vec<String> = headers
        .iter()
        .take(12)
        .map(|h| crate::error::clip(h))
        .collect();
    if headers.len() > 12 {
        shown.push(format!("… ({} columns)", headers.len()));
    }
    shown.join(", ")
}

/// How the file's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `crlf`: lines end in CR LF (Windows exports), as the header line does.
    Csv {
        delimiter: u8,
        crlf: bool,
    },
    /// One JSON object a line.
    JsonLines,
    /// One JSON document: a page, a list of pages or rows, a row.
    Json,
    Parquet,
}

/// Settings adapters need.
pub struct ReadOptions<'a> {
    /// For inputs that name no currency.
    pub default_currency: Currency,
    /// Token prices, loaded on first use.
    pub prices: &'a PriceBook,
}

/// An opened, identified input.
pub struct Input {
    pub path: PathBuf,
    pub syntax: Syntax,
    pub format: SourceFormat,
    body: Body,
    /// What was noticed while opening (gzip, BOM, UTF-16).
    pub notes: Vec<String>,
}

/// What is left to read of an input.
enum Body {
    /// Decoded UTF-8 text (CSV, JSON Lines).
    Text(Box<dyn BufRead + Send>),
    /// A JSON document, parsed.
    Document(serde_json::Value),
    Parquet(Box<parquet::ParquetInput>),
}

const PEEK: u64 = 64 * 1024;
/// How far detection reads for the first line of JSON Lines.
const MAX_FIRST_LINE: u64 = 64 << 20;

/// Opens `path`, passing every raw byte read to `on_read` (progress, content hash), and
/// identifies its format (or takes `forced`).
pub fn open(
    path: &Path,
    forced: Option<SourceFormat>,
    on_read: impl FnMut(&[u8]) + Send + 'static,
) -> Result<Input> {
    let bad = |reason: String| InputError::new(path, Place::default(), reason);
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        return Err(bad("the file is empty (0 bytes): nothing to ingest".into())
            .fix("check that the export finished downloading")
            .into());
    }
    let counted = Counting {
        inner: file,
        on_read,
    };
    let mut raw: Box<dyn Read + Send> = Box::new(counted);
    let mut notes = Vec::new();
    let mut head = peek(&mut raw, PEEK).map_err(|e| bad(format!("cannot read: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::read::MultiGzDecoder::new(raw);
        raw = Box::new(gz);
        head = peek(&mut raw, PEEK).map_err(|e| {
            bad(format!("cannot decompress: {e}"))
                .fix("the .gz file is damaged or truncated; download it again")
        })?;
    }
    if head.starts_with(b"PAR1") {
        let pq = parquet::ParquetInput::open(path)?;
        let probe = Probe::new(Syntax::Parquet, pq.headers().to_vec());
        let format = identify(path, forced, &probe, None)?;
        return Ok(Input {
            path: path.to_path_buf(),
            syntax: Syntax::Parquet,
            format,
            body: Body::Parquet(Box::new(pq)),
            notes,
        });
    }
    // `peek` put the head back in front of the stream.
    let mut text: Box<dyn Read + Send> = raw;
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        let mut skip = [0u8; 3];
        text.read_exact(&mut skip)?;
        head.drain(..3);
    } else if let Some(le) = utf16_order(&head) {
        notes.push(format!(
            "decoded from UTF-16{} (as Excel saves 'Unicode Text')",
            if le { "LE" } else { "BE" }
        ));
        let has_bom = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
        if has_bom {
            let mut skip = [0u8; 2];
            text.read_exact(&mut skip)?;
        }
        text = Box::new(Utf16Reader::new(text, le));
        head = peek(&mut text, PEEK).map_err(|e| bad(format!("cannot decode UTF-16: {e}")))?;
    }
    let first = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Err(
            bad("the file has no content (only blank space): nothing to ingest".into())
                .fix("check that the export finished downloading")
                .into(),
        );
    };
    // An error with a length is a bad byte; one without is a character cut by the peek.
    if std::str::from_utf8(&head).is_err_and(|e| e.error_len().is_some()) {
        return Err(
            bad("not UTF-8 text (a Latin-1 / Windows-1252 export?)".into())
                .fix("re-export the file as UTF-8 (Excel: Save As → CSV UTF-8)")
                .into(),
        );
    }
    match head[first] {
        b'[' => document(path, forced, text, notes),
        b'{' => {
            // JSON Lines when the first line is a whole value, else a (pretty-printed)
            // document.
            let (n, line) = first_json_line(&mut text, path)?;
            match serde_json::from_slice::<serde_json::Value>(&line) {
                Ok(v) => {
                    let probe = json_probe(Syntax::JsonLines, &v);
                    let format = identify(path, forced, &probe, Some(n))?;
                    Ok(Input {
                        path: path.to_path_buf(),
                        syntax: Syntax::JsonLines,
                        format,
                        body: Body::Text(Box::new(BufReader::with_capacity(1 << 20, text))),
                        notes,
                    })
                }
                Err(e) if e.is_eof() => document(path, forced, text, notes),
                Err(e) => Err(InputError::new(path, Place::line(n), format!("not valid JSON: {e}"))
                    .fix("each line must be one complete JSON object (JSON Lines), or the file one JSON document")
                    .into()),
            }
        }
        _ => {
            let delimiter = sniff_delimiter(&head);
            let syntax = Syntax::Csv {
                delimiter,
                crlf: first_line_ends_crlf(&head),
            };
            let headers = csvin::header_fields(first_line(&head), delimiter);
            let format = identify(path, forced, &Probe::new(syntax, headers), Some(1))?;
            Ok(Input {
                path: path.to_path_buf(),
                syntax,
                format,
                body: Body::Text(Box::new(BufReader::with_capacity(1 << 20, text))),
                notes,
            })
        }
    }
}

/// A JSON document: read whole (bounded) and identified by its first row.
fn document(
    path: &Path,
    forced: Option<SourceFormat>,
    mut text: Box<dyn Read + Send>,
    notes: Vec<String>,
) -> Result<Input> {
    let doc = json_in::read_document(path, &mut text)?;
    let probe = json_probe(Syntax::Json, &doc);
    let format = identify(path, forced, &probe, None)?;
    Ok(Input {
        path: path.to_path_buf(),
        syntax: Syntax::Json,
        format,
        body: Body::Document(doc),
        notes,
    })
}

/// What detection sees of JSON: the key paths of the first row.
fn json_probe(syntax: Syntax, v: &serde_json::Value) -> Probe {
    let columns = json_in::rows(v)
        .first()
        .map(|(bucket, row)| json_in::paths(*bucket, row))
        .unwrap_or_default();
    Probe::new(syntax, columns)
}

/// The first non-blank line of JSON Lines and its number, read past the peek if need be.
fn first_json_line(text: &mut Box<dyn Read + Send>, path: &Path) -> Result<(u64, Vec<u8>)> {
    let mut want = PEEK;
    loop {
        let head = peek(text, want)
            .map_err(|e| InputError::new(path, Place::default(), format!("cannot read: {e}")))?;
        let complete = (head.len() as u64) < want;
        let mut n = 0u64;
        let mut rest: &[u8] = &head;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            n += 1;
            let line = &rest[..end];
            if !line.trim_ascii().is_empty() {
                return Ok((n, line.to_vec()));
            }
            rest = &rest[end + 1..];
        }
        if complete || want >= MAX_FIRST_LINE {
            return Ok((n + 1, rest.to_vec()));
        }
        want *= 4;
    }
}

/// The format of a file: `forced`, else the surest detection, else an error naming what
/// the file has, the closest format and what it lacks.
fn identify(
    path: &Path,
    forced: Option<SourceFormat>,
    probe: &Probe,
    line: Option<u64>,
) -> Result<SourceFormat> {
    if let Some(f) = forced {
        return Ok(f);
    }
    match registry::detect(probe) {
        Detected::Format(f) => Ok(f),
        Detected::Unknown { closest } => {
            let what = if probe.is_json() {
                "the first JSON row's keys"
            } else {
                "the columns"
            };
            let seen = if probe.columns().is_empty() {
                "none".to_string()
            } else {
                shown_columns(probe.columns())
            };
            let mut fix = match closest {
                Some((f, missing)) => format!(
                    "closest known format: {} ({}), which needs {}; ",
                    f.name,
                    f.about,
                    missing.join(", ")
                ),
                None => String::new(),
            };
            fix.push_str(&format!(
                "finops reads: {} (docs/formats/); name the format with --source if the file is one of them",
                registry::known_formats()
            ));
            let place = line.map_or_else(Place::default, Place::line);
            Err(InputError::new(
                path,
                place,
                format!("cannot tell the format from {what} ({seen})"),
            )
            .fix(fix)
            .into())
        }
    }
}

/// Streams an opened input through its adapter into `sink`.
pub fn read(input: Input, opts: &ReadOptions, batch_id: &str, sink: &mut dyn Sink) -> Result<()> {
    for n in &input.notes {
        sink.note(n.clone());
    }
    let path = input.path.clone();
    let format = input.format.format();
    let mut notes = Vec::new();
    let counts = match (input.body, input.syntax) {
        (Body::Text(reader), Syntax::Csv { delimiter, crlf }) => {
            let csv = csvin::CsvInput::new(&path, reader, delimiter, crlf)?;
            let parser = (format.parser)(&path, csv.headers(), opts, &mut notes)?;
            for n in notes.drain(..) {
                sink.note(n);
            }
            parallel::read(&path, csv, parser, input.format, batch_id, sink)?
        }
        (Body::Parquet(pq), _) => {
            let parser = (format.parser)(&path, pq.headers(), opts, &mut notes)?;
            for n in notes.drain(..) {
                sink.note(n);
            }
            pq.read(parser, input.format, batch_id, sink)?
        }
        (body, syntax) => {
            if format.columns.is_empty() {
                return Err(InputError::new(
                    &path,
                    Place::default(),
                    format!("{} data as JSON is not supported", format.name),
                )
                .fix(format!("export it as CSV or Parquet ({})", format.doc))
                .into());
            }
            let flat = json_in::Flattener::new(format);
            let mut parser = (format.parser)(&path, flat.headers(), opts, &mut notes)?;
            for n in notes.drain(..) {
                sink.note(n);
            }
            match (body, syntax) {
                (Body::Document(doc), _) => json_in::read_rows(&doc, &flat, &mut *parser, sink)?,
                (Body::Text(reader), _) => {
                    json_in::read_lines(&path, reader, &flat, &mut *parser, sink)?
                }
                (Body::Parquet(_), _) => unreachable!("handled above"),
            }
            parser.counts()
        }
    };
    for n in closing_notes(counts, opts) {
        sink.note(n);
    }
    Ok(())
}

/// Whether the first line ends in CR LF.
fn first_line_ends_crlf(head: &[u8]) -> bool {
    head.iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && head[i - 1] == b'\r')
}

pub(crate) fn first_line(head: &[u8]) -> &[u8] {
    let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = &head[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn peek(r: &mut Box<dyn Read + Send>, n: u64) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n as usize);
    r.by_ref().take(n).read_to_end(&mut head)?;
    let rest = std::mem::replace(r, Box::new(std::io::empty()));
    *r = Box::new(Cursor::new(head.clone()).chain(rest));
    Ok(head)
}

/// UTF-16 by its byte-order mark, or by NULs in every other byte of ASCII-ish text.
fn utf16_order(head: &[u8]) -> Option<bool> {
    if head.starts_with(&[0xFF, 0xFE]) {
        return Some(true);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Some(false);
    }
    let n = head.len().min(512) & !1;
    if n < 8 {
        return None;
    }
    let even_nul = head[..n].iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_nul = head[1..n].iter().step_by(2).filter(|&&b| b == 0).count();
    let half = n / 2;
    if odd_nul * 10 >= half * 9 && even_nul == 0 {
        Some(true)
    } else if even_nul * 10 >= half * 9 && odd_nul == 0 {
        Some(false)
    } else {
        None
    }
}

/// Shows raw bytes as they are read (progress bar, content hash).
struct Counting<R, F> {
    inner: R,
    on_read: F,
}

impl<R: Read, F: FnMut(&[u8])> Read for Counting<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(&buf[..n]);
        Ok(n)
    }
}

/// Decodes UTF-16 to UTF-8 as a stream.
struct Utf16Reader<R> {
    inner: R,
    le: bool,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Read> Utf16Reader<R> {
    fn new(inner: R, le: bool) -> Self {
        Utf16Reader {
            inner,
            le,
            inbuf: Vec::new(),
            out: Vec::new(),
            pos: 0,
            eof: false,
        }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 32 * 1024];
        while self.pos >= self.out.len() && !self.eof {
            self.out.clear();
            self.pos = 0;
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                self.eof = true;
                if !self.inbuf.is_empty() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the UTF-16 text ends in the middle of a character",
                    ));
                }
                return Ok(());
            }
            self.inbuf.extend_from_slice(&chunk[..n]);
            let pairs = self.inbuf.len() / 2;
            let mut units: Vec<u16> = (0..pairs)
                .map(|i| {
                    let b = [self.inbuf[2 * i], self.inbuf[2 * i + 1]];
                    if self.le {
                        u16::from_le_bytes(b)
                    } else {
                        u16::from_be_bytes(b)
                    }
                })
                .collect();
            let mut keep = self.inbuf.len() % 2;
            // A high surrogate at the end waits for its pair.
            if let Some(&last) = units.last() {
                if (0xD800..0xDC00).contains(&last) {
                    units.pop();
                    keep += 2;
                }
            }
            for c in char::decode_utf16(units.iter().copied()) {
                let c = c.map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "invalid UTF-16 text")
                })?;
                let mut b = [0u8; 4];
                self.out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
            let start = self.inbuf.len() - keep;
            self.inbuf.drain(..start);
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.fill()?;
        let n = (self.out.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_decodes_across_chunks() {
        let text = "timestamp,cost\n2026-10-01,1.5\n€𝄞 done\n".repeat(3000);
        let mut bytes = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let mut r = Utf16Reader::new(Cursor::new(bytes[2..].to_vec()), true);
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, text);
        assert_eq!(utf16_order(&bytes), Some(true));
        assert_eq!(utf16_order(&bytes[2..]), Some(true));
        assert_eq!(utf16_order(b"timestamp,cost\n2026"), None);
    }
}
