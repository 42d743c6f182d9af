//! `finops ingest PATH...` (docs/commands/ingest.md): each file is one batch, committed
//! whole or not at all; the same content twice is a no-op; restated rows replace.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use crate::store::writer::disambiguate;

use crate::cli::IngestArgs;
use crate::context::Context;
use crate::error::{exit, InputError, Place};
use crate::model::{Currency, Row};
use crate::money::Money;
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::pricing::PriceBook;
use crate::source::SourceFormat;
use crate::source::{self, Chunk, ReadOptions, ReadStats, Rejected, Sink};
use crate::store::{Batch, BatchWriter, Commit, Store};
use crate::timeparse::{date_string, Month};

/// Extensions taken from directories (also with `.gz`).
const EXTENSIONS: &[&str] = &["csv", "tsv", "jsonl", "ndjson", "json", "parquet"];
/// Invalid rows shown in an error before "and N more".
const SHOWN_ERRORS: usize = 5;

/// The low 64 bits of every row's identity, to find repeats once the file is read: 8
/// bytes a row in sorted chunks of 1M, merged at the end. Far cheaper than probing a hash
/// set per row, and memory grows by exactly 8 bytes a row.
#[derive(Default)]
struct Fingerprints {
    sorted: Vec<Vec<u64>>,
    current: Vec<u64>,
}

impl Fingerprints {
    /// Fingerprints per sorted run (small in tests, so that they make many runs).
    const CHUNK: usize = if cfg!(test) { 64 } else { 1 << 20 };

    fn push(&mut self, fp: u64) {
        self.extend(&[fp]);
    }

    fn extend(&mut self, mut fps: &[u64]) {
        while !fps.is_empty() {
            let room = Self::CHUNK - self.current.len();
            let (now, later) = fps.split_at(room.min(fps.len()));
            self.current.extend_from_slice(now);
            fps = later;
            if self.current.len() == Self::CHUNK {
                let mut full =
                    std::mem::replace(&mut self.current, Vec::with_capacity(Self::CHUNK));
                full.sort_unstable();
                self.sorted.push(full);
            }
        }
    }

    /// The fingerprints that occur more than once. The key range is split in one part per
    /// core (fingerprints are hashes, spread evenly), each merging its slices of the sorted
    /// runs on its own thread: no copy of the runs, and the end of an ingest does not wait
    /// on one core.
    fn repeated(mut self) -> HashSet<u64> {
        self.current.sort_unstable();
        self.sorted.push(std::mem::take(&mut self.current));
        let parts = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        // Where each run crosses into each part: part p holds [cuts[p], cuts[p + 1]).
        let cuts: Vec<Vec<usize>> = self
            .sorted
            .iter()
            .map(|r| {
                (0..=parts)
                    .map(|p| match p {
                        0 => 0,
                        p if p == parts => r.len(),
                        p => {
                            let bound = ((1u128 << 64) * p as u128 / parts as u128) as u64;
                            r.partition_point(|&v| v < bound)
                        }
                    })
                    .collect()
            })
            .collect();
        std::thread::scope(|scope| {
            let merges: Vec<_> = (0..parts)
                .map(|p| {
                    let slices: Vec<&[u64]> = self
                        .sorted
                        .iter()
                        .zip(&cuts)
                        .map(|(r, c)| &r[c[p]..c[p + 1]])
                        .collect();
                    scope.spawn(move || repeated_in(&slices))
                })
                .collect();
            merges
                .into_iter()
                .flat_map(|m| m.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }
}

/// The values that occur more than once in sorted runs, by a k-way merge.
fn repeated_in(runs: &[&[u64]]) -> Vec<u64> {
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut pos = vec![0usize; runs.len()];
    for (c, run) in runs.iter().enumerate() {
        if let Some(&v) = run.first() {
            heap.push(Reverse((v, c)));
        }
    }
    let mut out = Vec::new();
    let mut last = None;
    while let Some(Reverse((v, c))) = heap.pop() {
        if last == Some(v) && out.last() != Some(&v) {
            out.push(v);
        }
        last = Some(v);
        pos[c] += 1;
        if let Some(&next) = runs[c].get(pos[c]) {
            heap.push(Reverse((next, c)));
        }
    }
    out
}

struct IngestSink<'a> {
    path: &'a Path,
    ctx: &'a Context,
    writer: Option<BatchWriter>,
    skip_invalid: bool,
    stats: ReadStats,
    fps: Fingerprints,
    errors: Vec<Rejected>,
    rejects: Option<csv::Writer<std::fs::File>>,
    rejects_path: Option<PathBuf>,
}

impl IngestSink<'_> {
    /// Keeps the first invalid records for the message and writes all to the rejects
    /// file; without --skip-invalid, stops building the batch.
    fn handle_reject(&mut self, r: Rejected) -> Result<()> {
        if let Some(w) = self.rejects.as_mut() {
            w.write_record([
                r.line.to_string().as_str(),
                r.column.as_deref().unwrap_or(""),
                r.value.as_deref().unwrap_or(""),
                r.reason.as_str(),
                r.fix.as_str(),
                r.record.as_str(),
            ])?;
        }
        if self.errors.len() < SHOWN_ERRORS {
            self.errors.push(r);
        }
        if !self.skip_invalid {
            // Nothing of this file will be written.
            self.writer.take();
        }
        Ok(())
    }
}

impl Sink for IngestSink<'_> {
    fn row(&mut self, row: &Row, line: u64) -> Result<()> {
        self.fps.push(row.record_id as u64);
        self.stats.add(row, line).map_err(|e| e.at(self.path))?;
        if let Some(w) = self.writer.as_mut() {
            w.push(row)?;
        }
        Ok(())
    }

    fn reject(&mut self, r: Rejected) -> Result<()> {
        self.stats.rejected += 1;
        self.handle_reject(r)
    }

    fn note(&mut self, note: String) {
        self.ctx.note(format!("{}: {note}", self.path.display()));
    }

    fn chunk(&mut self, chunk: Chunk) -> Result<()> {
        self.stats.merge(chunk.stats).map_err(|e| e.at(self.path))?;
        self.fps.extend(&chunk.fps);
        for r in chunk.rejects {
            self.handle_reject(r)?;
        }
        if let Some(w) = self.writer.as_mut() {
            for f in chunk.frames {
                w.push_frame(f)?;
            }
        }
        Ok(())
    }

    fn wants_frames(&self) -> bool {
        self.writer.is_some()
    }
}

fn input_error(path: &Path, r: &Rejected) -> InputError {
    let place = Place {
        line: Some(r.line),
        column: r.column.clone(),
    };
    InputError::new(path, place, r.reason.clone()).fix(r.fix.clone())
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
    stats: ReadStats,
    replaced: u64,
}

pub fn run(ctx: &Context, args: &IngestArgs) -> Result<u8> {
    let default_currency = match &args.currency {
        Some(c) => Currency::parse(c).ok_or_else(|| {
            anyhow::anyhow!("--currency {c:?} is not an ISO 4217 code (three letters, e.g. USD)")
        })?,
        None => ctx.default_currency()?,
    };
    let found = crate::walk::inputs(&args.paths, EXTENSIONS, Some(&ctx.store_dir))?;
    for n in &found.notes {
        ctx.note(n);
    }
    for (p, why) in &found.problems {
        eprintln!("finops: error: {}: {why}", p.display());
    }
    let files = found.files;
    if files.is_empty() && found.problems.is_empty() {
        anyhow::bail!(
            "no input files found in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // --prices, else [pricing] file, else the bundled table.
    let from_flag = args.prices.is_some();
    let prices = PriceBook::new(args.prices.clone().or_else(|| {
        ctx.config
            .pricing
            .file
            .as_ref()
            .map(|f| f.get_ref().clone())
    }));
    if prices.is_custom() {
        // A broken price table is the caller's fault, not a data row's: say so before
        // reading any file.
        prices.get().with_context(|| {
            if from_flag {
                "--prices: the price table cannot be used; give a file in LiteLLM's model_prices_and_context_window.json shape".to_string()
            } else {
                format!(
                    "{}: key `[pricing] file`: the price table cannot be used; fix or remove the key",
                    ctx.config_path
                        .as_deref()
                        .map_or_else(|| "finops.toml".into(), |p| p.display().to_string())
                )
            }
        })?;
    }
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
                    stats: ReadStats::default(),
                    replaced: 0,
                });
            }
        }
    }
    pb.finish_and_clear();
    // Places the walk could not read count as failures: nothing of them was ingested.
    for (p, _) in &found.problems {
        failed += 1;
        results.push(FileResult {
            path: p.clone(),
            format: None,
            status: "failed",
            stats: ReadStats::default(),
            replaced: 0,
        });
    }
    let report = summary(ctx, args, &results, &rejects_files, store.as_ref())?;
    crate::output::emit(ctx, report)?;
    if failed > 0 {
        ctx.note(format!(
            "{failed} of {} input(s) failed and left the store unchanged; fix them and run the same command again (files already ingested are skipped)",
            results.len()
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
    // Only a file of a size already in the store can be a repeat: hash those first, and
    // the others while they are read (no second pass over a large file).
    let same_size = store
        .as_ref()
        .is_some_and(|s| s.manifest().batches.iter().any(|b| b.source_bytes == size));
    let pre_hash = if same_size {
        Some(content_hash(path)?)
    } else {
        None
    };
    if let Some(b) = pre_hash
        .as_ref()
        .and_then(|h| store.as_ref().and_then(|s| s.manifest().batch_by_hash(h)))
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
    let streamed = Arc::new(Mutex::new((Xxh3::new(), 0u64)));
    let (counter, hashing) = (pb.clone(), Arc::clone(&streamed));
    let input = source::open(path, args.source, move |bytes| {
        counter.inc(bytes.len() as u64);
        if let Ok(mut h) = hashing.lock() {
            h.0.update(bytes);
            h.1 += bytes.len() as u64;
        }
    })?;
    let format = input.format;
    let batch_id = new_batch_id(&format!("{}{size}", path.display()));
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
        stats: ReadStats::default(),
        fps: Fingerprints::default(),
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
    if let Err(e) = source::read(input, opts, &batch_id, &mut sink) {
        cleanup(&store, &mut sink);
        return Err(e);
    }
    if let Err(e) = sink.stats.settle().map_err(|e| e.at(path)) {
        cleanup(&store, &mut sink);
        return Err(e.into());
    }
    let unknown: Vec<String> = sink
        .stats
        .rows_by_currency
        .iter()
        .filter(|(c, _)| !c.is_iso())
        .map(|(c, n)| format!("{c} ({n} row(s))"))
        .collect();
    if !unknown.is_empty() {
        ctx.warn(format!(
            "{}: currency code(s) {} are not in ISO 4217; kept as written, and never added to other currencies: check the currency column",
            path.display(),
            unknown.join(", ")
        ));
    }
    // The store keeps the sum of all its amounts' magnitudes below 10^20, so that every
    // SUM over it (finops, DuckDB, Spark) fits its DECIMAL(38,18) (docs/store.md).
    if let Some(s) = store.as_ref() {
        let held = s.magnitude();
        if held.saturating_add(sink.stats.magnitude) >= crate::money::LIMIT as u128 {
            let largest = sink
                .stats
                .largest
                .map(|(m, line)| {
                    format!(
                        "; the file's largest amount is {} at line {line}",
                        Money(m.min(i128::MAX as u128) as i128)
                    )
                })
                .unwrap_or_default();
            let e = InputError::new(
                path,
                Place::default(),
                format!(
                    "with this file the store's amounts would add up beyond 10^20 in absolute value (the store holds {}, this file brings {}), more than its DECIMAL(38,18) can sum{largest}",
                    Money(held.min(i128::MAX as u128) as i128),
                    Money(sink.stats.magnitude.min(i128::MAX as u128) as i128),
                ),
            )
            .fix("check the file's amount columns and their unit (a quantity or an id in a cost column?); a real bill is far below this");
            cleanup(&store, &mut sink);
            return Err(e.into());
        }
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
                stats: ReadStats::default(),
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
        let repeats = std::mem::take(&mut sink.fps).repeated();
        if !repeats.is_empty() {
            ctx.note(format!(
                "{}: some rows repeat an earlier row's identity ({} distinct); they will be kept as separate rows",
                path.display(),
                repeats.len()
            ));
        }
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
    // Find repeated identities while the writer thread finishes its last chunks.
    let repeats = std::mem::take(&mut sink.fps).repeated();
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
    // Rows of this file with the same identity are all kept: the later ones get their
    // occurrence number mixed into the id (rare, so only then are files rewritten).
    if !repeats.is_empty() {
        let staging = store.staging_dir(&batch_id)?;
        let (n, examples) = match disambiguate(&staging, &staged, &repeats) {
            Ok(r) => r,
            Err(e) => {
                store.discard(&batch_id);
                return Err(e);
            }
        };
        report_repeats(ctx, path, format, n, &examples);
    }
    let hash = match pre_hash {
        Some(h) => h,
        None => {
            let streamed = streamed.lock().map(|h| (h.0.digest128(), h.1)).ok();
            match streamed {
                // Every byte went through the stream (not so for Parquet, read by polars).
                Some((h, n)) if n == size => format!("{h:032x}"),
                _ => content_hash(path)?,
            }
        }
    };
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let batch = Batch {
        batch_id: batch_id.clone(),
        source_path: abs.display().to_string(),
        content_hash: hash,
        source_bytes: size,
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
        magnitude: Money(stats.magnitude.min(i128::MAX as u128) as i128).to_string(),
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

fn report_repeats(ctx: &Context, path: &Path, format: SourceFormat, n: u64, examples: &[String]) {
    if n == 0 {
        return;
    }
    let eg = if examples.is_empty() {
        String::new()
    } else {
        format!(" (e.g. {})", examples.join(", "))
    };
    match format.kind() {
        crate::model::Kind::Bill => ctx.note(format!(
            "{}: {n} row(s) have the same dimensions as an earlier row; kept as separate charges",
            path.display()
        )),
        crate::model::Kind::Usage => ctx.warn(format!(
            "{}: {n} row(s) repeat an earlier request{eg}: same request_id, or identical rows; kept as separate rows — check the log was not shipped twice",
            path.display()
        )),
    }
}

fn unchanged_result(path: &Path, b: &Batch) -> FileResult {
    let mut stats = ReadStats::default();
    stats.rows = b.rows;
    stats.rejected = b.rows_rejected;
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
    Column::new("file", "File", ColumnKind::Path),
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
) -> Result<Report> {
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
                    Cell::Int(i128::from(s.rejected))
                } else {
                    Cell::Null
                },
                if first {
                    Cell::Int(i128::from(f.replaced))
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
            row[4] = Cell::Int(i128::from(s.rows));
            r.rows.push(row);
            continue;
        }
        for (i, (cur, total)) in s.totals.iter().enumerate() {
            let mut row = base(i == 0);
            let n = s.rows_by_currency.get(cur).copied().unwrap_or(0);
            row[4] = Cell::Int(i128::from(n));
            row[8] = Cell::text(cur.as_str());
            row[9] = Cell::money(*total, cur.as_str());
            if f.status != "unchanged" {
                let t = totals.entry(*cur).or_default();
                t.0 = t.0.saturating_add(n);
                t.1.add_assign(*total).with_context(|| {
                    format!(
                        "the files of this run add up beyond what can be held exactly in {cur} (up to {})",
                        f.path.display()
                    )
                })?;
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
            Cell::Int(i128::from(*n)),
            if i == 0 {
                Cell::Int(i128::from(all_rejected))
            } else {
                Cell::Null
            },
            if i == 0 {
                Cell::Int(i128::from(all_replaced))
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
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// The repeated fingerprints are the values a count finds twice or more, whatever
        /// the order they come in, across runs and across the parts of the key range.
        #[test]
        fn repeated_fingerprints_are_the_values_seen_twice(
            pool in proptest::collection::vec(any::<u64>(), 1..200),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..1000),
            edges in proptest::collection::vec(prop::sample::select(vec![0, 1, u64::MAX, 1 << 63, (1 << 63) - 1]), 0..6),
        ) {
            let values: Vec<u64> = picks
                .iter()
                .map(|i| *i.get(&pool))
                .chain(edges.iter().copied())
                .collect();
            let mut counts: HashMap<u64, usize> = HashMap::new();
            for &v in &values {
                *counts.entry(v).or_default() += 1;
            }
            let want: HashSet<u64> =
                counts.into_iter().filter(|&(_, n)| n > 1).map(|(v, _)| v).collect();
            let mut fps = Fingerprints::default();
            let (one, many) = values.split_at(values.len() / 3);
            for &v in one {
                fps.push(v);
            }
            fps.extend(many);
            prop_assert_eq!(fps.repeated(), want);
        }
    }
}
