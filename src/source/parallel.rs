//! Reading CSV on every core. One thread tokenizes records into batches; worker threads
//! check, parse and build each batch into column chunks; the calling thread hands the
//! chunks to the sink in file order, so the output, the errors and the rejects file are
//! the same as a single-threaded read. Batches in flight are bounded (a pool of batch
//! buffers that the caller returns once a chunk is delivered), so memory does not grow
//! with the input.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::csvin::{check_record, join_record, take_violations, Checked, CsvInput, Violation};
use super::{Chunk, ParseCounts, ReadStats, Record, Rejected, RowParser, Sink};
use crate::error::{InputError, Place};
use crate::model::Row;
use crate::source::SourceFormat;
use crate::store::writer::MonthBuilders;

/// Records per batch (and so the row-group size of the written files).
const BATCH: usize = 65_536;

type Batch = Vec<csv::ByteRecord>;

/// A CSV batch: the records (the first `n` of the buffer) and the quoting problems that
/// fall in them.
pub struct CsvBatch {
    records: Batch,
    n: usize,
    bad: Vec<Violation>,
}

/// Reads a CSV on every core (see the module comment).
pub fn read<'a>(
    path: &Path,
    csv: CsvInput,
    parser: Box<dyn RowParser<'a> + 'a>,
    format: SourceFormat,
    batch_id: &str,
    sink: &mut dyn Sink,
) -> Result<ParseCounts> {
    let headers = csv.headers().to_vec();
    let delimiter = csv.delimiter;
    let mut reader = csv.reader;
    let violations = csv.violations;
    let crlf = csv.crlf;
    let line_now = move |r: &csv::Reader<_>| CsvInput::true_line(crlf, r.position().line());
    let mut ended = false;
    let produce = move |buffer: Option<CsvBatch>| -> Result<Option<CsvBatch>> {
        if ended {
            return Ok(None);
        }
        let mut batch = buffer.map_or_else(Vec::new, |b| b.records);
        let mut n = 0;
        while n < BATCH {
            if n == batch.len() {
                batch.push(csv::ByteRecord::new());
            }
            match reader.read_byte_record(&mut batch[n]) {
                Ok(true) => {
                    if crlf {
                        if let Some(p) = batch[n].position() {
                            let mut p = p.clone();
                            p.set_line(CsvInput::true_line(crlf, p.line()));
                            batch[n].set_position(Some(p));
                        }
                    }
                    n += 1
                }
                Ok(false) => {
                    ended = true;
                    break;
                }
                Err(e) => return Err(read_error(path, &e, line_now(&reader)).into()),
            }
        }
        // The quoting problems of the records read so far travel with them.
        let bad = if ended {
            take_violations(&violations, u64::MAX)
        } else {
            take_violations(&violations, line_now(&reader))
        };
        Ok((n > 0).then_some(CsvBatch {
            records: batch,
            n,
            bad,
        }))
    };
    let headers = &headers;
    let work = move |parser: &mut dyn RowParser<'a>, b: &CsvBatch, build: bool| {
        process(
            path,
            parser,
            &b.records[..b.n],
            &b.bad,
            headers,
            delimiter,
            build,
            batch_id,
            format,
        )
    };
    // A parse worker per core, though the tokenizer and the Parquet writer run threads
    // too: parsing (and building the store's columns) is the longest of the three, and
    // with one core fewer its thread alone set the pace. Measured on 2 cores: 2 workers
    // ingest the narrow log in 23% less time than 1 (and the 1M LiteLLM log in 25% less),
    // for about 100 MiB more memory (one more batch in flight).
    run(produce, work, parser, sink, cores())
}

/// The cores to work on (at most 8).
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

/// The engine under [`read`], for any input cut into batches: one thread `produce`s
/// batches (given back a delivered batch to reuse its buffers), worker threads `work`
/// each batch into a chunk, and the chunks reach `sink` in batch order. At most
/// workers + 1 batches are in flight.
pub fn run<'a, B: Send>(
    produce: impl FnMut(Option<B>) -> Result<Option<B>> + Send,
    work: impl Fn(&mut dyn RowParser<'a>, &B, bool) -> Result<Chunk> + Sync,
    parser: Box<dyn RowParser<'a> + 'a>,
    sink: &mut dyn Sink,
    workers: usize,
) -> Result<ParseCounts> {
    let mut produce = produce;
    let workers = workers.clamp(1, 8);
    let build = AtomicBool::new(sink.wants_frames());
    std::thread::scope(|scope| -> Result<ParseCounts> {
        let (work_tx, work_rx) = sync_channel::<(u64, B)>(workers);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = channel::<(u64, Result<(Chunk, B)>)>();
        // Tokens for batches in flight: the producer takes one per batch (with the buffer
        // of a delivered batch, when there is one) and gets it back once that batch's
        // chunk has been delivered.
        let (pool_tx, pool_rx) = sync_channel::<Option<B>>(workers + 1);
        for _ in 0..workers + 1 {
            pool_tx.send(None).ok();
        }
        let reader_thread = std::thread::Builder::new()
            .name("finops-read".into())
            .spawn_scoped(scope, move || -> Result<()> {
                let mut seq = 0u64;
                while let Ok(buffer) = pool_rx.recv() {
                    match produce(buffer)? {
                        Some(batch) => {
                            if work_tx.send((seq, batch)).is_err() {
                                break;
                            }
                            seq += 1;
                        }
                        None => break,
                    }
                }
                Ok(())
            })?;
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let rx = Arc::clone(&work_rx);
            let done = done_tx.clone();
            let mut parser = parser.fork();
            let build = &build;
            let work = &work;
            handles.push(
                std::thread::Builder::new()
                    .name("finops-parse".into())
                    .spawn_scoped(scope, move || {
                        loop {
                            let job = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => break,
                            };
                            let Ok((seq, batch)) = job else { break };
                            let res = work(&mut *parser, &batch, build.load(Ordering::Relaxed));
                            if done.send((seq, res.map(|c| (c, batch)))).is_err() {
                                break;
                            }
                        }
                        parser.counts()
                    })?,
            );
        }
        drop(done_tx);
        drop(work_rx);
        // Deliver in order.
        let mut pending: BTreeMap<u64, (Chunk, B)> = BTreeMap::new();
        let mut next = 0u64;
        let mut failure: Option<anyhow::Error> = None;
        'recv: for (seq, res) in done_rx.iter() {
            match res {
                Ok(v) => {
                    pending.insert(seq, v);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            while let Some((chunk, batch)) = pending.remove(&next) {
                if let Err(e) = sink.chunk(chunk) {
                    failure = Some(e);
                    break 'recv;
                }
                build.store(sink.wants_frames(), Ordering::Relaxed);
                pool_tx.send(Some(batch)).ok();
                next += 1;
            }
        }
        // Unblock everyone before joining (on failure the others may still be running).
        drop(pool_tx);
        drop(done_rx);
        let mut counts = ParseCounts::default();
        for h in handles {
            counts += h
                .join()
                .map_err(|_| anyhow::anyhow!("a parser thread panicked"))?;
        }
        let read = reader_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
        read?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(counts)
    })
}

/// Builds one batch's chunk: the valid rows' statistics, identities and columns, and the
/// rejected records.
pub struct ChunkBuilder<'p> {
    path: &'p Path,
    chunk: Chunk,
    builders: MonthBuilders,
    build: bool,
    row: Row,
}

impl<'p> ChunkBuilder<'p> {
    pub fn new(path: &'p Path, rows: usize, build: bool) -> ChunkBuilder<'p> {
        ChunkBuilder {
            path,
            chunk: Chunk {
                stats: ReadStats::default(),
                fps: Vec::with_capacity(rows),
                rejects: Vec::new(),
                frames: Vec::new(),
            },
            builders: MonthBuilders::new(if build { rows } else { 0 }),
            build,
            row: Row::default(),
        }
    }

    /// Parses one record; `raw` gives its text for the rejects file.
    pub fn record(
        &mut self,
        parser: &mut dyn RowParser,
        rec: &Record,
        raw: impl FnOnce() -> String,
    ) -> Result<()> {
        self.row.clear();
        match parser.parse(rec, &mut self.row) {
            Ok(()) => {
                self.chunk
                    .stats
                    .add(&self.row, rec.line())
                    .map_err(|e| e.at(self.path))?;
                self.chunk.fps.push(self.row.record_id as u64);
                if self.build {
                    self.builders.push(&self.row);
                }
            }
            // Not a row of the format (a Langfuse span): neither stored nor rejected.
            Err(e) if e.skip => {}
            Err(e) => self.reject(e.into_rejected(rec.line(), raw())),
        }
        Ok(())
    }

    pub fn reject(&mut self, r: Rejected) {
        self.chunk.stats.rejected += 1;
        self.chunk.rejects.push(r);
    }

    pub fn finish(mut self, batch_id: &str, format: SourceFormat) -> Result<Chunk> {
        if self.build {
            self.chunk.frames = self.builders.finish(batch_id, format)?;
        }
        Ok(self.chunk)
    }
}

#[allow(clippy::too_many_arguments)]
fn process(
    path: &Path,
    parser: &mut dyn RowParser,
    batch: &[csv::ByteRecord],
    bad: &[Violation],
    headers: &[String],
    delimiter: u8,
    build: bool,
    batch_id: &str,
    format: SourceFormat,
) -> Result<Chunk> {
    let mut out = ChunkBuilder::new(path, batch.len(), build);
    let start = |r: &csv::ByteRecord| r.position().map_or(0, |p| p.line());
    for (i, bytes) in batch.iter().enumerate() {
        if !bad.is_empty() {
            // A violation belongs to the record it falls in: from its first line to the
            // next record's.
            let (from, to) = (start(bytes), batch.get(i + 1).map_or(u64::MAX, start));
            if let Some(v) = bad.iter().find(|v| v.line >= from && v.line < to) {
                out.reject(Rejected {
                    line: v.line,
                    column: None,
                    value: None,
                    reason: format!("malformed quoting: {}", v.reason),
                    fix: Violation::FIX.into(),
                    record: join_record(bytes, delimiter),
                });
                continue;
            }
        }
        match check_record(bytes, headers, delimiter) {
            Checked::Text(rec) => out.record(parser, &Record::of_text(headers, &rec), || {
                join_record(bytes, delimiter)
            })?,
            Checked::Blank => {}
            Checked::Invalid(rej) => out.reject(rej),
        }
    }
    out.finish(batch_id, format)
}

/// A CSV read that failed part-way: an I/O error (a `.gz` cut short, a disk error) has no
/// position of its own, so the message says after which line it happened.
fn read_error(path: &Path, e: &csv::Error, line_now: u64) -> InputError {
    match e.kind() {
        csv::ErrorKind::Io(io) => InputError::new(
            path,
            Place::default(),
            format!(
                "cannot read past line {}: {io}",
                line_now.saturating_sub(1).max(1)
            ),
        )
        .fix(
            "the file is damaged or truncated (a download or a .gz cut short?); download it again",
        ),
        _ => InputError::new(
            path,
            Place::line(e.position().map_or(line_now, |p| p.line())),
            format!("cannot read CSV: {e}"),
        )
        .fix("the file is damaged or truncated; export it again"),
    }
}
