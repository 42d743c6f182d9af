//! `finops ingest PATH...` (docs/commands/ingest.md): each file is one batch, committed
//! whole or not at all; the same content twice is a no-op; restated rows replace.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use crate::cli::IngestArgs;
use crate::context::Context;
use crate::error::{exit, InputError, Place};
use crate::model::{Currency, Row, SourceFormat};
use crate::money::Money;
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::pricing::PriceBook;
use crate::source::{self, ReadOptions, Rejected, Sink};
use crate::store::{Batch, BatchWriter, Commit, Store};
use crate::timeparse::{date_string, Month};

/// Extensions taken from directories (also with `.gz`).
const EXTENSIONS: &[&str] = &["csv", "tsv", "jsonl", "ndjson", "json", "parquet"];
/// Invalid rows shown in an error before "and N more".
const SHOWN_ERRORS: usize = 5;

/// Hashes that are already uniformly random pass through.
#[derive(Default)]
struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
type FpSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// What one file's read produced.
#[derive(Default)]
struct FileStats {
    rows: u64,
    rows_by_currency: BTreeMap<Currency, u64>,
    totals: BTreeMap<Currency, Money>,
    min_ts: Option<i64>,
    max_ts: Option<i64>,
    billing_periods: BTreeSet<Month>,
    rejected: u64,
    duplicates: u64,
    duplicate_lines: Vec<u64>,
}

struct IngestSink<'a> {
    path: &'a Path,
    ctx: &'a Context,
    writer: Option<BatchWriter>,
    skip_invalid: bool,
    stats: FileStats,
    seen: FpSet,
    repeats: HashMap<u64, u32>,
    errors: Vec<Rejected>,
    rejects: Option<csv::Writer<std::fs::File>>,
    rejects_path: Option<PathBuf>,
}

impl Sink for IngestSink<'_> {
    fn row(&mut self, row: &mut Row, line: u64) -> Result<()> {
        // Two rows of one file with the same identity are both kept: the later ones get
        // their occurrence number mixed into the id.
        let fp = row.record_id as u64;
        if !self.seen.insert(fp) {
            let n = self.repeats.entry(fp).or_insert(0);
            *n += 1;
            let mut h = Xxh3::new();
            h.update(&row.record_id.to_le_bytes());
            h.update(&n.to_le_bytes());
            row.record_id = h.digest128();
            self.stats.duplicates += 1;
            if self.stats.duplicate_lines.len() < SHOWN_ERRORS {
                self.stats.duplicate_lines.push(line);
            }
        }
        let s = &mut self.stats;
        s.rows += 1;
        let cur = row.currency.unwrap_or(Currency::USD);
        *s.rows_by_currency.entry(cur).or_default() += 1;
        let t = s.totals.entry(cur).or_default();
        *t = t.checked_add(row.cost).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: line {line}: the file's total overflows",
                self.path.display()
            )
        })?;
        s.min_ts = Some(
            s.min_ts
                .map_or(row.charge_start, |m| m.min(row.charge_start)),
        );
        s.max_ts = Some(
            s.max_ts
                .map_or(row.charge_start, |m| m.max(row.charge_start)),
        );
        if let Some(bp) = row.billing_period {
            s.billing_periods.insert(bp);
        }
        if self.errors.is_empty() || self.skip_invalid {
            if let Some(w) = self.writer.as_mut() {
                w.push(row)?;
            }
        }
        Ok(())
    }

    fn reject(&mut self, r: Rejected) -> Result<()> {
        self.stats.rejected += 1;
        if let Some(w) = self.rejects.as_mut() {
            w.write_record([
                r.line.to_string().as_str(),
                r.column.as_deref().unwrap_or(""),
                r.value.as_deref().unwrap_or(""),
                r.reason.as_str(),
                r.fix.as_deref().unwrap_or(""),
                r.record.as_str(),
            ])?;
        }
        if self.errors.len() < SHOWN_ERRORS {
            self.errors.push(r);
        }
        if !self.skip_invalid {
            // Nothing of this file will be written: stop spending effort on it.
            if let Some(w) = self.writer.take() {
                drop(w);
            }
        }
        Ok(())
    }

    fn note(&mut self, note: String) {
        self.ctx.note(format!("{}: {note}", self.path.display()));
    }
}

fn input_error(path: &Path, r: &Rejected) -> InputError {
    let place = Place {
        line: Some(r.line),
        column: r.column.clone(),
    };
    let mut e = InputError::new(path, place, r.reason.clone());
    if let Some(f) = &r.fix {
        e = e.fix(f.clone());
    }
    e
}

/// Files to ingest, in a stable order; directories are read recursively.
fn expand(paths: &[PathBuf], store_dir: &Path, ctx: &Context) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let store_abs = std::fs::canonicalize(store_dir).ok();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
            .context("nothing was ingested; check the path")?;
        if meta.is_file() {
            out.push(p.clone());
            continue;
        }
        let mut found = Vec::new();
        let mut skipped = 0usize;
        let mut stack = vec![p.clone()];
        while let Some(d) = stack.pop() {
            if store_abs.is_some() && std::fs::canonicalize(&d).ok() == store_abs {
                continue;
            }
            for e in
                std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?
            {
                let path = e?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let lower = name.to_ascii_lowercase();
                let base = lower.strip_suffix(".gz").unwrap_or(&lower);
                if EXTENSIONS.iter().any(|x| base.ends_with(&format!(".{x}"))) {
                    found.push(path);
                } else {
                    skipped += 1;
                }
            }
        }
        if skipped > 0 {
            ctx.note(format!(
                "{}: skipped {skipped} file(s) that are not .csv, .tsv, .jsonl, .ndjson, .json or .parquet (optionally .gz); name a file to ingest it anyway",
                p.display()
            ));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn content_hash(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:032x}", h.digest128()))
}

fn new_batch_id(hash: &str) -> String {
    let now = chrono::Utc::now();
    let salt = xxh3_128(
        format!(
            "{hash}{}{}",
            now.timestamp_nanos_opt().unwrap_or(0),
            std::process::id()
        )
        .as_bytes(),
    );
    format!(
        "{}-{:06x}",
        now.format("%Y%m%dT%H%M%SZ"),
        salt as u32 & 0xff_ffff
    )
}

/// One line of the summary.
struct FileResult {
    path: PathBuf,
    format: Option<SourceFormat>,
    status: &'static str,
    stats: FileStats,
    replaced: u64,
}

pub fn run(ctx: &Context, args: &IngestArgs) -> Result<u8> {
    let default_currency = match &args.currency {
        Some(c) => Currency::parse(c).ok_or_else(|| {
            anyhow::anyhow!("--currency {c:?} is not an ISO 4217 code (three letters, e.g. USD)")
        })?,
        None => ctx.default_currency()?,
    };
    let files = expand(&args.paths, &ctx.store_dir, ctx)?;
    if files.is_empty() {
        anyhow::bail!(
            "no input files found in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let prices = PriceBook::new(ctx.config.pricing.file.clone());
    let opts = ReadOptions {
        default_currency,
        prices: &prices,
    };
    let mut store = if args.dry_run {
        None
    } else {
        Some(Store::open_write(&ctx.store_dir, &|m| ctx.note(m))?)
    };
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let pb = ctx.progress_bar(total_bytes, "ingesting");
    let mut results = Vec::with_capacity(files.len());
    let mut failed = 0usize;
    let mut rejects_files = Vec::new();
    for path in &files {
        pb.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        match ingest_file(ctx, args, path, &opts, store.as_mut(), &pb) {
            Ok((r, rejects)) => {
                if let Some(p) = rejects {
                    rejects_files.push(p);
                }
                results.push(r);
            }
            Err(e) => {
                failed += 1;
                pb.suspend(|| eprintln!("finops: error: {e:#}"));
                results.push(FileResult {
                    path: path.clone(),
                    format: None,
                    status: "failed",
                    stats: FileStats::default(),
                    replaced: 0,
                });
            }
        }
    }
    pb.finish_and_clear();
    let report = summary(ctx, args, &results, &rejects_files, store.as_ref());
    crate::output::emit(ctx, report)?;
    if failed > 0 {
        ctx.note(format!(
            "{failed} of {} file(s) failed and left the store unchanged; fix them and run the same command again (files already ingested are skipped)",
            files.len()
        ));
        return Ok(exit::ERROR);
    }
    Ok(exit::OK)
}

fn ingest_file(
    ctx: &Context,
    args: &IngestArgs,
    path: &Path,
    opts: &ReadOptions,
    store: Option<&mut Store>,
    pb: &indicatif::ProgressBar,
) -> Result<(FileResult, Option<PathBuf>)> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let hash = content_hash(path)?;
    if let Some(b) = store
        .as_ref()
        .and_then(|s| s.manifest().batch_by_hash(&hash))
    {
        pb.inc(size);
        ctx.note(format!(
            "{}: already ingested as batch {} ({}): nothing changed",
            path.display(),
            b.batch_id,
            b.ingested_at
        ));
        return Ok((unchanged_result(path, b), None));
    }
    let counter = pb.clone();
    let input = source::open(path, args.source, move |n| counter.inc(n))?;
    let format = input.format;
    let batch_id = new_batch_id(&hash);
    let writer = match store.as_ref() {
        Some(s) => Some(BatchWriter::new(
            &s.staging_dir(&batch_id)?,
            &batch_id,
            format,
        )?),
        None => None,
    };
    let (rejects, rejects_path) = match (args.skip_invalid, store.as_ref()) {
        (true, Some(s)) => {
            let dir = s.root().join("rejects");
            std::fs::create_dir_all(&dir)?;
            let p = dir.join(format!("{batch_id}.csv"));
            let mut w = csv::Writer::from_path(&p)
                .with_context(|| format!("cannot create the rejects file {}", p.display()))?;
            w.write_record(["line", "column", "value", "reason", "fix", "record"])?;
            (Some(w), Some(p))
        }
        _ => (None, None),
    };
    let mut sink = IngestSink {
        path,
        ctx,
        writer,
        skip_invalid: args.skip_invalid,
        stats: FileStats::default(),
        seen: FpSet::default(),
        repeats: HashMap::new(),
        errors: Vec::new(),
        rejects,
        rejects_path,
    };
    let cleanup = |store: &Option<&mut Store>, sink: &mut IngestSink| {
        sink.writer.take();
        if let Some(s) = store {
            s.discard(&batch_id);
        }
        sink.rejects.take();
        if let Some(p) = sink.rejects_path.take() {
            let _ = std::fs::remove_file(p);
        }
    };
    if let Err(e) = source::read(input, opts, &mut sink) {
        cleanup(&store, &mut sink);
        return Err(e);
    }
    let stats = &sink.stats;
    if !sink.errors.is_empty() && !args.skip_invalid {
        let mut msg = input_error(path, &sink.errors[0]).to_string();
        for r in sink.errors.iter().skip(1) {
            msg.push_str(&format!("\n  also line {}: {}", r.line, r.reason));
        }
        let more = stats.rejected.saturating_sub(sink.errors.len() as u64);
        if more > 0 {
            msg.push_str(&format!("\n  and {more} more invalid row(s)"));
        }
        msg.push_str(&format!(
            "\n  nothing of this file was ingested ({} invalid of {} rows); --skip-invalid ingests the valid rows and writes the others to a rejects file",
            stats.rejected,
            stats.rejected + stats.rows
        ));
        cleanup(&store, &mut sink);
        anyhow::bail!(msg);
    }
    if stats.duplicates > 0 {
        let lines = format!(
            "lines {}{}",
            stats
                .duplicate_lines
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if stats.duplicates as usize > stats.duplicate_lines.len() {
                ", ..."
            } else {
                ""
            }
        );
        match format {
            SourceFormat::Focus => ctx.note(format!(
                "{}: {} row(s) have the same dimensions as an earlier row ({lines}); kept as separate charges",
                path.display(),
                stats.duplicates
            )),
            SourceFormat::UsageLog => ctx.warn(format!(
                "{}: {} row(s) repeat an earlier request ({lines}: same request_id, or identical rows); kept as separate rows — check the log was not shipped twice",
                path.display(),
                stats.duplicates
            )),
        }
    }
    if stats.rows == 0 {
        if stats.rejected > 0 {
            let first = input_error(path, &sink.errors[0]);
            let rejects = sink.rejects_path.clone();
            sink.writer.take();
            if let Some(s) = store.as_ref() {
                s.discard(&batch_id);
            }
            anyhow::bail!(
                "{first}\n  no valid rows: all {} rows were rejected{}",
                stats.rejected,
                rejects
                    .map(|p| format!(" (see {})", p.display()))
                    .unwrap_or_default()
            );
        }
        ctx.warn(format!(
            "{}: no rows (header only): nothing to ingest",
            path.display()
        ));
        cleanup(&store, &mut sink);
        return Ok((
            FileResult {
                path: path.to_path_buf(),
                format: Some(format),
                status: "empty",
                stats: FileStats::default(),
                replaced: 0,
            },
            None,
        ));
    }
    if let Some(w) = sink.rejects.as_mut() {
        w.flush()?;
    }
    let rejects_path = if sink.stats.rejected > 0 {
        sink.rejects_path.clone()
    } else {
        if let Some(p) = sink.rejects_path.take() {
            sink.rejects.take();
            let _ = std::fs::remove_file(p);
        }
        None
    };
    let writer = sink.writer.take();
    let stats = std::mem::take(&mut sink.stats);
    let Some(store) = store else {
        return Ok((
            FileResult {
                path: path.to_path_buf(),
                format: Some(format),
                status: "dry-run",
                stats,
                replaced: 0,
            },
            None,
        ));
    };
    let staged = match writer {
        Some(w) => w.finish(),
        None => Ok(Vec::new()),
    };
    let staged = match staged {
        Ok(s) => s,
        Err(e) => {
            store.discard(&batch_id);
            return Err(e);
        }
    };
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let batch = Batch {
        batch_id: batch_id.clone(),
        source_path: abs.display().to_string(),
        content_hash: hash,
        format: format.as_str().into(),
        kind: format.kind().as_str().into(),
        ingested_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        finops_version: env!("CARGO_PKG_VERSION").into(),
        rows: stats.rows,
        rows_rejected: stats.rejected,
        rows_replaced: 0,
        rows_superseded: 0,
        period_start: stats.min_ts.map(date_string),
        period_end: stats.max_ts.map(date_string),
        billing_periods: stats.billing_periods.iter().map(Month::to_string).collect(),
        totals: stats
            .totals
            .iter()
            .map(|(c, m)| (c.to_string(), m.to_string()))
            .collect(),
        rejects_file: rejects_path.as_ref().map(|p| p.display().to_string()),
    };
    match store.commit(batch, staged)? {
        Commit::Committed { replaced } => Ok((
            FileResult {
                path: path.to_path_buf(),
                format: Some(format),
                status: "ingested",
                stats,
                replaced,
            },
            rejects_path,
        )),
        Commit::Unchanged(b) => Ok((unchanged_result(path, &b), None)),
    }
}

fn unchanged_result(path: &Path, b: &Batch) -> FileResult {
    let mut stats = FileStats {
        rows: b.rows,
        rejected: b.rows_rejected,
        ..FileStats::default()
    };
    for (c, t) in &b.totals {
        if let (Some(c), Ok(m)) = (Currency::parse(c), Money::parse(t)) {
            stats.totals.insert(c, m);
        }
    }
    if stats.totals.len() == 1 {
        if let Some(c) = stats.totals.keys().next() {
            stats.rows_by_currency.insert(*c, b.rows);
        }
    }
    stats.min_ts = b
        .period_start
        .as_deref()
        .and_then(crate::timeparse::parse_timestamp);
    stats.max_ts = b
        .period_end
        .as_deref()
        .and_then(crate::timeparse::parse_timestamp);
    FileResult {
        path: path.to_path_buf(),
        format: SourceFormat::parse(&b.format),
        status: "unchanged",
        stats,
        replaced: 0,
    }
}

const COLUMNS: [Column; 10] = [
    Column::new("file", "File", ColumnKind::Text),
    Column::new("format", "Format", ColumnKind::Text),
    Column::new("kind", "Kind", ColumnKind::Text),
    Column::new("status", "Status", ColumnKind::Text),
    Column::new("rows", "Rows", ColumnKind::Int),
    Column::new("rejected", "Rejected", ColumnKind::Int),
    Column::new("replaced", "Replaced", ColumnKind::Int),
    Column::new("period", "Period", ColumnKind::Text),
    Column::new("currency", "Currency", ColumnKind::Text),
    Column::new("total", "Total", ColumnKind::Money),
];

fn summary(
    ctx: &Context,
    args: &IngestArgs,
    results: &[FileResult],
    rejects: &[PathBuf],
    store: Option<&Store>,
) -> Report {
    let mut r = Report::new("ingest", "Ingest summary", COLUMNS.to_vec());
    r.parameters
        .insert("store".into(), ctx.store_dir.display().to_string());
    r.parameters
        .insert("dry_run".into(), args.dry_run.to_string());
    r.parameters
        .insert("skip_invalid".into(), args.skip_invalid.to_string());
    let mut totals: BTreeMap<Currency, (u64, Money)> = BTreeMap::new();
    let (mut all_rejected, mut all_replaced) = (0u64, 0u64);
    for f in results {
        let s = &f.stats;
        let period = match (s.min_ts, s.max_ts) {
            (Some(a), Some(b)) => Cell::text(format!("{}..{}", date_string(a), date_string(b))),
            _ => Cell::Null,
        };
        let base = |first: bool| -> Vec<Cell> {
            vec![
                Cell::text(f.path.display().to_string()),
                Cell::opt_text(f.format.map(|x| x.as_str())),
                Cell::opt_text(f.format.map(|x| x.kind().as_str())),
                Cell::text(f.status),
                Cell::Int(0),
                if first {
                    Cell::Int(s.rejected as i64)
                } else {
                    Cell::Null
                },
                if first {
                    Cell::Int(f.replaced as i64)
                } else {
                    Cell::Null
                },
                period.clone(),
                Cell::Null,
                Cell::Null,
            ]
        };
        if f.status != "unchanged" {
            all_rejected += s.rejected;
            all_replaced += f.replaced;
        }
        if s.totals.is_empty() {
            let mut row = base(true);
            row[4] = Cell::Int(s.rows as i64);
            r.rows.push(row);
            continue;
        }
        for (i, (cur, total)) in s.totals.iter().enumerate() {
            let mut row = base(i == 0);
            let n = s.rows_by_currency.get(cur).copied().unwrap_or(0);
            row[4] = Cell::Int(n as i64);
            row[8] = Cell::text(cur.as_str());
            row[9] = Cell::money(*total, cur.as_str());
            if f.status != "unchanged" {
                let t = totals.entry(*cur).or_default();
                t.0 += n;
                t.1 += *total;
            }
            r.rows.push(row);
        }
    }
    // Totals cover what this run read (unchanged files are shown but not counted).
    // Rounding pairs each totals row with the rows of its currency, so unchanged rows of
    // the same currency are rounded on their own: keep them out of the totals' currency.
    for row in r.rows.iter_mut() {
        if matches!(&row[3], Cell::Text(s) if s == "unchanged") {
            if let Cell::Money {
                amount, currency, ..
            } = &row[9]
            {
                let d = crate::money::minor_digits(currency);
                row[9] = Cell::Money {
                    amount: *amount,
                    currency: currency.clone(),
                    rounded: Some(amount.round_to(d)),
                };
            }
        }
    }
    let single = totals.len() == 1;
    for (i, (cur, (n, total))) in totals.iter().enumerate() {
        r.totals.push(vec![
            Cell::text("total"),
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Int(*n as i64),
            if i == 0 {
                Cell::Int(all_rejected as i64)
            } else {
                Cell::Null
            },
            if i == 0 {
                Cell::Int(all_replaced as i64)
            } else {
                Cell::Null
            },
            Cell::Null,
            Cell::text(cur.as_str()),
            Cell::money(*total, cur.as_str()),
        ]);
    }
    if single {
        r.currency = totals.keys().next().map(|c| c.to_string());
    }
    let ingested = results.iter().filter(|f| f.status == "ingested").count();
    let unchanged = results.iter().filter(|f| f.status == "unchanged").count();
    if args.dry_run {
        r.notes
            .push("dry run: nothing was written to the store".into());
    } else if let Some(s) = store {
        let mut note = format!(
            "{} file(s) ingested, {} unchanged; store {} now holds {} batch(es), {} rows",
            ingested,
            unchanged,
            s.root().display(),
            s.manifest().batches.len(),
            s.manifest().files.iter().map(|f| f.rows).sum::<u64>()
        );
        if ingested == 0 && unchanged > 0 && results.iter().all(|f| f.status == "unchanged") {
            note = format!(
                "nothing changed: every file was already ingested; store {} holds {} batch(es)",
                s.root().display(),
                s.manifest().batches.len()
            );
        }
        r.notes.push(note);
    }
    for p in rejects {
        r.notes
            .push(format!("rejected rows and their reasons: {}", p.display()));
    }
    r
}
