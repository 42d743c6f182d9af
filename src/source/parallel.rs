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
use super::{Chunk, ParseCounts, ReadStats, Rejected, RowParser, Sink};
use crate::error::{InputError, Place};
use crate::model::Row;
use crate::source::SourceFormat;
use crate::store::writer::MonthBuilders;

/// Records per batch (and so the row-group size of the written files).
const BATCH: usize = 65_536;

type Batch = Vec<csv::ByteRecord>;

pub fn read<'a>(
    path: &Path,
    csv: CsvInput,
    parser: Box<dyn RowParser<'a> + 'a>,
    format: SourceFormat,
    batch_id: &str,
    sink: &mut dyn Sink,
) -> Result<ParseCounts> {
    // The tokenizer and the Parquet writer each keep a thread busy too: one core fewer
    // parse workers than cores (measured on 2 cores: as fast as 2 workers, 25% less memory).
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_sub(1)
        .clamp(1, 8);
    let headers = csv.headers().to_vec();
    let delimiter = csv.delimiter;
    let mut reader = csv.reader;
    let violations = csv.violations;
    let build = AtomicBool::new(sink.wants_frames());
    std::thread::scope(|scope| -> Result<ParseCounts> {
        let (work_tx, work_rx) = sync_channel::<(u64, Batch, usize, Vec<Violation>)>(workers);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = channel::<(u64, Result<(Chunk, Batch)>)>();
        // The pool of batch buffers: the reader takes one per batch, and gets it back
        // once the batch's chunk has been delivered.
        let (pool_tx, pool_rx) = sync_channel::<Batch>(workers + 1);
        for _ in 0..workers + 1 {
            pool_tx.send(Vec::new()).ok();
        }
        let reader_thread = std::thread::Builder::new()
            .name("finops-csv".into())
            .spawn_scoped(scope, move || -> Result<()> {
                let mut seq = 0u64;
                while let Ok(mut batch) = pool_rx.recv() {
                    let mut n = 0;
                    let mut more = true;
                    while n < BATCH {
                        if n == batch.len() {
                            batch.push(csv::ByteRecord::new());
                        }
                        match reader.read_byte_record(&mut batch[n]) {
                            Ok(true) => n += 1,
                            Ok(false) => {
                                more = false;
                                break;
                            }
                            Err(e) => {
                                return Err(read_error(path, &e, reader.position().line()).into());
                            }
                        }
                    }
                    // The quoting problems of the records read so far travel with them.
                    let bad = if more {
                        take_violations(&violations, reader.position().line())
                    } else {
                        take_violations(&violations, u64::MAX)
                    };
                    if n > 0 && work_tx.send((seq, batch, n, bad)).is_err() {
                        break;
                    }
                    seq += 1;
                    if !more {
                        break;
                    }
                }
                Ok(())
            })?;
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let rx = Arc::clone(&work_rx);
            let done = done_tx.clone();
            let mut parser = parser.fork();
            let headers = &headers;
            let build = &build;
            handles.push(
                std::thread::Builder::new()
                    .name("finops-parse".into())
                    .spawn_scoped(scope, move || {
                        loop {
                            let job = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => break,
                            };
                            let Ok((seq, batch, n, bad)) = job else { break };
                            let res = process(
                                path,
                                &mut *parser,
                                &batch[..n],
                                &bad,
                                headers,
                                delimiter,
                                build.load(Ordering::Relaxed),
                                batch_id,
                                format,
                            );
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
        // Deliver in file order.
        let mut pending: BTreeMap<u64, (Chunk, Batch)> = BTreeMap::new();
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
                pool_tx.send(batch).ok();
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
            .map_err(|_| anyhow::anyhow!("the CSV reader thread panicked"))?;
        read?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(counts)
    })
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
    let mut chunk = Chunk {
        stats: ReadStats::default(),
        fps: Vec::with_capacity(batch.len()),
        rejects: Vec::new(),
        frames: Vec::new(),
    };
    let mut builders = MonthBuilders::new(if build { batch.len() } else { 0 });
    let mut row = Row::default();
    let start = |r: &csv::ByteRecord| r.position().map_or(0, |p| p.line());
    for (i, bytes) in batch.iter().enumerate() {
        if !bad.is_empty() {
            // A violation belongs to the record it falls in: from its first line to the
            // next record's.
            let (from, to) = (start(bytes), batch.get(i + 1).map_or(u64::MAX, start));
            if let Some(v) = bad.iter().find(|v| v.line >= from && v.line < to) {
                chunk.stats.rejected += 1;
                chunk.rejects.push(Rejected {
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
            Checked::Text(rec) => {
                row.clear();
                let record = super::Record::of_text(headers, &rec);
                if parser.skip(&record) {
                    continue;
                }
                match parser.parse(&record, &mut row) {
                    Ok(()) => {
                        chunk.stats.add(&row, rec.line()).map_err(|e| e.at(path))?;
                        chunk.fps.push(row.record_id as u64);
                        if build {
                            builders.push(&row);
                        }
                    }
                    Err(e) => {
                        chunk.stats.rejected += 1;
                        chunk
                            .rejects
                            .push(e.into_rejected(rec.line(), join_record(bytes, delimiter)));
                    }
                }
            }
            Checked::Blank => {}
            Checked::Invalid(rej) => {
                chunk.stats.rejected += 1;
                chunk.rejects.push(rej);
            }
        }
    }
    if build {
        chunk.frames = builders.finish(batch_id, format)?;
    }
    Ok(chunk)
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
