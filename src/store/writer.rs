//! Writing a batch: rows go into column builders per month; full chunks become polars
//! DataFrames that a second thread encodes into Parquet files in the batch's staging
//! directory, so parsing and encoding run side by side. Memory is bounded by the
//! buffered rows ([`MAX_BUFFERED`]) plus the channel, whatever the input's size.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use anyhow::{Context as _, Result};
use polars::prelude::{
    CompatLevel, DataFrame, DataType, Field, ParquetCompression, PolarsError, Schema, SchemaExt,
    StatisticsOptions, TimeUnit, TimeZone,
};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchemaRef};
use polars_parquet::parquet::compression::{Compression, CompressionOptions};
use polars_parquet::parquet::page::{CompressedDataPage, CompressedDictPage, Page};
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, compress, to_parquet_schema, CompressedPage, DynIter, DynStreamingIterator,
    Encoding, FallibleStreamingIterator, FileWriter, RowGroupIterColumns, SchemaDescriptor,
    Version, WriteOptions,
};

use super::columns::{self, ArrayRef, Bools, DictStr, Ids, PlainStr, Prim};
use super::ids;
use crate::model::Row;
use crate::money::SCALE;
use crate::source::SourceFormat;
use crate::timeparse::Month;

/// Rows per chunk (one Parquet row group).
const CHUNK: usize = 131_072;
/// At most this many rows wait in builders before the largest is flushed.
const MAX_BUFFERED: usize = 4 * CHUNK;

/// Compression of data files: see docs/store.md.
pub fn compression() -> ParquetCompression {
    ParquetCompression::Zstd(polars_parquet::write::ZstdLevel::try_new(1).ok())
}

/// Precision and scale of every money column: DECIMAL(38, 18).
pub const MONEY_PRECISION: usize = 38;

/// How a canonical column is built and encoded (docs/store.md, "Reading it from other
/// engines"): the one table the schema, rewrites and the page encoder follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// The record id: 16 bytes (FIXED_LEN_BYTE_ARRAY), plain and not compressed: hashes
    /// do not compress.
    Id,
    /// Text that repeats (names, tags, the batch id): dictionary pages.
    Dict,
    /// Text nearly all distinct (request ids): written plain.
    Plain,
    /// A UTC instant in microseconds: delta-packed.
    Instant,
    /// An amount: DECIMAL(38, 18).
    Money,
    /// A count: Int64.
    Int,
    /// A flag without nulls.
    Bool,
}

/// The canonical columns, in order (docs/store.md).
const COLUMNS: [(&str, Layout); 34] = {
    use Layout::*;
    [
        ("record_id", Id),
        ("batch_id", Dict),
        ("source_format", Dict),
        ("kind", Dict),
        ("provider", Dict),
        ("charge_start", Instant),
        ("charge_end", Instant),
        ("billing_period", Dict),
        ("charge_category", Dict),
        ("service", Dict),
        ("sku", Dict),
        ("description", Dict),
        ("model", Dict),
        ("cost", Money),
        ("effective_cost", Money),
        ("list_cost", Money),
        ("currency", Dict),
        ("cost_is_estimate", Bool),
        ("input_tokens", Int),
        ("cached_input_tokens", Int),
        ("cache_write_tokens", Int),
        ("output_tokens", Int),
        ("requests", Int),
        ("billing_account", Dict),
        ("sub_account", Dict),
        ("project_id", Dict),
        ("workspace_id", Dict),
        ("api_key_id", Dict),
        ("resource_id", Dict),
        ("region", Dict),
        ("session_id", Dict),
        ("request_id", Plain),
        ("user_id", Dict),
        ("tags", Dict),
    ]
};

impl Layout {
    fn dtype(self) -> DataType {
        match self {
            Layout::Id => DataType::Binary,
            Layout::Dict | Layout::Plain => DataType::String,
            Layout::Instant => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            Layout::Money => DataType::Decimal(MONEY_PRECISION, SCALE as usize),
            Layout::Int => DataType::Int64,
            Layout::Bool => DataType::Boolean,
        }
    }

    /// The page encoding: dictionaries where values repeat, deltas for instants (nearly
    /// sorted and nearly all distinct, their deltas pack in a few bits), amounts plain
    /// (mostly distinct: asked for a dictionary, polars estimated their cardinality on
    /// every row group to give up, 4% of a CUR 2.0 ingest's CPU).
    fn encoding(self) -> Encoding {
        match self {
            Layout::Id | Layout::Plain | Layout::Bool | Layout::Money => Encoding::Plain,
            Layout::Instant => Encoding::DeltaBinaryPacked,
            Layout::Dict | Layout::Int => Encoding::RleDictionary,
        }
    }

    /// Whether pages are compressed (zstd): all but record ids, which are hashes.
    fn compressed(self) -> bool {
        self != Layout::Id
    }
}

/// The canonical schema, in column order (docs/store.md).
pub fn schema() -> Schema {
    Schema::from_iter(
        COLUMNS
            .iter()
            .map(|(name, layout)| Field::new((*name).into(), layout.dtype())),
    )
}

/// The canonical schema as arrow types, in column order (made once).
fn arrow_schema() -> &'static ArrowSchemaRef {
    static SCHEMA: OnceLock<ArrowSchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = schema().to_arrow(CompatLevel::newest());
        for ((_, field), (_, layout)) in schema.iter_mut().zip(COLUMNS) {
            if layout == Layout::Id {
                field.dtype = columns::id_type();
            }
        }
        Arc::new(schema)
    })
}

/// The canonical schema as Parquet types (made once).
fn parquet_schema() -> &'static SchemaDescriptor {
    static SCHEMA: OnceLock<SchemaDescriptor> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        to_parquet_schema(arrow_schema()).expect("the canonical schema converts to Parquet")
    })
}

/// How data pages are written: statistics, compression (see docs/store.md), version 1.
fn write_options() -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        compression: compression().into(),
        version: Version::V1,
        data_page_size: None,
    }
}

/// The arrow type of column `name`.
fn arrow_type(name: &str) -> &'static ArrowDataType {
    &arrow_schema()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is a canonical column"))
        .dtype
}

/// Column builders for one chunk of rows.
struct Builders {
    len: usize,
    record_id: Ids,
    provider: DictStr,
    charge_start: Prim<i64>,
    charge_end: Prim<i64>,
    /// Months repeat: interned as their text.
    billing_period: DictStr,
    charge_category: DictStr,
    service: DictStr,
    sku: DictStr,
    description: DictStr,
    model: DictStr,
    cost: Prim<i128>,
    effective_cost: Prim<i128>,
    list_cost: Prim<i128>,
    currency: DictStr,
    cost_is_estimate: Bools,
    input_tokens: Prim<i64>,
    cached_input_tokens: Prim<i64>,
    cache_write_tokens: Prim<i64>,
    output_tokens: Prim<i64>,
    requests: Prim<i64>,
    billing_account: DictStr,
    sub_account: DictStr,
    project_id: DictStr,
    workspace_id: DictStr,
    api_key_id: DictStr,
    resource_id: DictStr,
    region: DictStr,
    session_id: DictStr,
    request_id: PlainStr,
    user_id: DictStr,
    tags: DictStr,
    /// The text of the last billing period pushed.
    period: Option<(Month, String)>,
}

impl Builders {
    fn new(cap: usize) -> Builders {
        let d = || DictStr::new(cap);
        let i = || Prim::<i64>::new(cap);
        let m = || Prim::<i128>::new(cap);
        Builders {
            len: 0,
            record_id: Ids::with_capacity(cap),
            provider: d(),
            charge_start: i(),
            charge_end: i(),
            billing_period: d(),
            charge_category: d(),
            service: d(),
            sku: d(),
            description: d(),
            model: d(),
            cost: m(),
            effective_cost: m(),
            list_cost: m(),
            currency: d(),
            cost_is_estimate: Bools::with_capacity(cap),
            input_tokens: i(),
            cached_input_tokens: i(),
            cache_write_tokens: i(),
            output_tokens: i(),
            requests: i(),
            billing_account: d(),
            sub_account: d(),
            project_id: d(),
            workspace_id: d(),
            api_key_id: d(),
            resource_id: d(),
            region: d(),
            session_id: d(),
            request_id: PlainStr::new(cap),
            user_id: d(),
            tags: d(),
            period: None,
        }
    }

    fn push(&mut self, r: &Row) {
        self.len += 1;
        self.record_id.push(r.record_id);
        self.provider.push(&r.provider);
        self.charge_start.push(Some(r.charge_start));
        self.charge_end.push(Some(r.charge_end));
        match r.billing_period {
            Some(m) => {
                if self.period.as_ref().is_none_or(|(p, _)| *p != m) {
                    self.period = Some((m, m.to_string()));
                }
                let text = self.period.as_ref().map_or("", |(_, t)| t.as_str());
                self.billing_period.push(text);
            }
            None => self.billing_period.push(""),
        }
        self.charge_category.push(r.charge_category.as_str());
        self.service.push(&r.service);
        self.sku.push(&r.sku);
        self.description.push(&r.description);
        self.model.push(&r.model);
        self.cost.push(Some(r.cost.0));
        self.effective_cost.push(r.effective_cost.map(|m| m.0));
        self.list_cost.push(r.list_cost.map(|m| m.0));
        self.currency
            .push(r.currency.as_ref().map_or("", |c| c.as_str()));
        self.cost_is_estimate.push(r.cost_is_estimate);
        self.input_tokens.push(r.input_tokens);
        self.cached_input_tokens.push(r.cached_input_tokens);
        self.cache_write_tokens.push(r.cache_write_tokens);
        self.output_tokens.push(r.output_tokens);
        self.requests.push(r.requests);
        self.billing_account.push(&r.billing_account);
        self.sub_account.push(&r.sub_account);
        self.project_id.push(&r.project_id);
        self.workspace_id.push(&r.workspace_id);
        self.api_key_id.push(&r.api_key_id);
        self.resource_id.push(&r.resource_id);
        self.region.push(&r.region);
        self.session_id.push(&r.session_id);
        self.request_id.push(&r.request_id);
        self.user_id.push(&r.user_id);
        self.tags.push(&r.tags);
    }

    fn finish(self, batch_id: &str, format: SourceFormat) -> Result<Chunk> {
        let n = self.len;
        let ts = arrow_type("charge_start");
        let money = arrow_type("cost");
        let int = arrow_type("input_tokens");
        let arrays: Vec<ArrayRef> = vec![
            self.record_id.finish(),
            columns::constant(batch_id, n),
            columns::constant(format.as_str(), n),
            columns::constant(format.kind().as_str(), n),
            self.provider.finish(n),
            self.charge_start.finish(ts, n),
            self.charge_end.finish(ts, n),
            self.billing_period.finish(n),
            self.charge_category.finish(n),
            self.service.finish(n),
            self.sku.finish(n),
            self.description.finish(n),
            self.model.finish(n),
            self.cost.finish(money, n),
            self.effective_cost.finish(money, n),
            self.list_cost.finish(money, n),
            self.currency.finish(n),
            self.cost_is_estimate.finish(),
            self.input_tokens.finish(int, n),
            self.cached_input_tokens.finish(int, n),
            self.cache_write_tokens.finish(int, n),
            self.output_tokens.finish(int, n),
            self.requests.finish(int, n),
            self.billing_account.finish(n),
            self.sub_account.finish(n),
            self.project_id.finish(n),
            self.workspace_id.finish(n),
            self.api_key_id.finish(n),
            self.resource_id.finish(n),
            self.region.finish(n),
            self.session_id.finish(n),
            self.request_id.finish(n),
            self.user_id.finish(n),
            self.tags.finish(n),
        ];
        debug_assert_eq!(arrays.len(), arrow_schema().len());
        Chunk::encode(n, arrays)
    }
}

/// A chunk of rows encoded and compressed, in schema order: one Parquet row group, its
/// pages ready to be written. Encoding runs where the chunk is built (on the parse
/// workers), so the writer thread only writes bytes and no core waits for it at the end.
struct Chunk {
    len: usize,
    columns: Vec<Vec<CompressedPage>>,
}

impl Chunk {
    /// Each column encoded as its [`Layout`] says, its pages compressed.
    fn encode(len: usize, arrays: Vec<ArrayRef>) -> Result<Chunk> {
        debug_assert_eq!(arrays.len(), COLUMNS.len());
        let options = write_options();
        let mut columns = Vec::with_capacity(arrays.len());
        for ((array, type_), (_, layout)) in arrays
            .into_iter()
            .zip(parquet_schema().fields())
            .zip(COLUMNS)
        {
            let options = if layout.compressed() {
                options
            } else {
                WriteOptions {
                    compression: CompressionOptions::Uncompressed,
                    ..options
                }
            };
            // A column with no values, or whose builder found a dictionary would not pay,
            // is written plain at once: asked for a dictionary, polars would hash it again
            // to find out.
            let encoding = if array.null_count() == array.len()
                || (layout == Layout::Dict
                    && !matches!(array.dtype(), ArrowDataType::Dictionary(..)))
            {
                Encoding::Plain
            } else {
                layout.encoding()
            };
            for leaf in array_to_columns(array, type_.clone(), options, &[encoding])? {
                let mut pages = Vec::new();
                for page in leaf {
                    pages.push(compress_page(page?, options.compression)?);
                }
                columns.push(pages);
            }
        }
        Ok(Chunk { len, columns })
    }

    /// Rows `offset..offset + len` of a frame in the canonical schema, built as ingest
    /// builds them (so a rewritten file is encoded like a fresh one).
    fn of_frame(df: &DataFrame, offset: usize, len: usize) -> Result<Chunk> {
        let df = df.slice(offset as i64, len);
        let mut arrays = Vec::with_capacity(COLUMNS.len());
        for (name, layout) in COLUMNS {
            let c = df
                .column(name)
                .with_context(|| format!("a data file without the column {name}"))?
                .as_materialized_series()
                .rechunk();
            let array = match layout {
                Layout::Dict => {
                    let mut b = DictStr::new(len);
                    for v in c.str()?.iter() {
                        b.push(v.unwrap_or(""));
                    }
                    b.finish(len)
                }
                Layout::Id => {
                    let mut b = Ids::with_capacity(len);
                    for v in c.binary()?.iter() {
                        b.push(v.and_then(columns::id_of).with_context(|| {
                            format!("a record id that is not {} bytes", columns::ID_BYTES)
                        })?);
                    }
                    b.finish()
                }
                Layout::Plain => {
                    let mut b = PlainStr::new(len);
                    for v in c.str()?.iter() {
                        b.push(v.unwrap_or(""));
                    }
                    b.finish(len)
                }
                Layout::Instant => {
                    let mut b = Prim::<i64>::new(len);
                    for v in c.datetime()?.physical().iter() {
                        b.push(v);
                    }
                    b.finish(arrow_type(name), len)
                }
                Layout::Money => {
                    let mut b = Prim::<i128>::new(len);
                    for v in c.decimal()?.physical().iter() {
                        b.push(v);
                    }
                    b.finish(arrow_type(name), len)
                }
                Layout::Int => {
                    let mut b = Prim::<i64>::new(len);
                    for v in c.i64()?.iter() {
                        b.push(v);
                    }
                    b.finish(arrow_type(name), len)
                }
                Layout::Bool => {
                    let mut b = Bools::with_capacity(len);
                    for v in c.bool()?.iter() {
                        b.push(v.unwrap_or(false));
                    }
                    b.finish()
                }
            };
            arrays.push(array);
        }
        Chunk::encode(len, arrays)
    }

    /// The chunk's row group, as the file writer takes it.
    fn row_group(self) -> RowGroupIterColumns<'static, PolarsError> {
        DynIter::new(self.columns.into_iter().map(|pages| {
            Ok(DynStreamingIterator::new(Pages {
                pages: pages.into_iter(),
                current: None,
            }))
        }))
    }
}

/// Compresses a page. zstd runs in this thread's context, made once: polars' `compress`
/// makes a context per page and zeroes a buffer of the worst-case size first, which cost
/// 1% of an ingest.
fn compress_page(page: Page, compression: CompressionOptions) -> Result<CompressedPage> {
    use std::cell::RefCell;
    thread_local! {
        static ZSTD: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
            const { RefCell::new(None) };
    }
    let CompressionOptions::Zstd(level) = compression else {
        return Ok(compress(page, Vec::new(), compression)?);
    };
    let level = level.map_or(0, |l| l.compression_level());
    ZSTD.with_borrow_mut(|ctx| -> Result<CompressedPage> {
        if ctx.as_ref().is_none_or(|(l, _)| *l != level) {
            *ctx = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        let (_, z) = ctx.as_mut().expect("made above");
        Ok(match page {
            Page::Data(p) => {
                let out = z.compress(p.buffer())?;
                CompressedPage::Data(CompressedDataPage::new(
                    p.header().clone(),
                    CowBuffer::Owned(out),
                    Compression::Zstd,
                    p.buffer().len(),
                    p.descriptor.clone(),
                    p.num_rows.context("a data page without its row count")?,
                ))
            }
            Page::Dict(d) => {
                let out = z.compress(&d.buffer)?;
                CompressedPage::Dict(CompressedDictPage::new(
                    CowBuffer::Owned(out),
                    Compression::Zstd,
                    d.buffer.len(),
                    d.num_values,
                    d.is_sorted,
                ))
            }
        })
    })
}

/// A column's compressed pages, lent one at a time as the file writer asks.
struct Pages {
    pages: std::vec::IntoIter<CompressedPage>,
    current: Option<CompressedPage>,
}

impl FallibleStreamingIterator for Pages {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> Result<(), PolarsError> {
        self.current = self.pages.next();
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}

/// A new data file in the canonical layout, its pages written as they come.
fn create_file(path: &Path) -> Result<FileWriter<BufWriter<File>>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(FileWriter::new_with_parquet_schema(
        BufWriter::with_capacity(1 << 20, f),
        (**arrow_schema()).clone(),
        parquet_schema().clone(),
        write_options(),
    ))
}

/// Writes the footer (with the arrow schema, as polars writes it) and fsyncs the file.
fn end_file(mut w: FileWriter<BufWriter<File>>, path: &Path) -> Result<()> {
    w.end(None)
        .with_context(|| format!("cannot write {} (disk full?)", path.display()))?;
    w.into_inner()
        .flush()
        .with_context(|| format!("cannot write {} (disk full?)", path.display()))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {} (disk full?)", path.display()))
}

/// Writes a whole data file from a frame in the canonical schema (rewrites and repairs;
/// ingest streams through [`BatchWriter`]), encoded as ingest encodes, and fsyncs it.
pub(crate) fn write_parquet(path: &Path, df: &DataFrame) -> Result<()> {
    let mut w = create_file(path)?;
    let mut offset = 0;
    while offset < df.height() {
        let len = CHUNK.min(df.height() - offset);
        let chunk = Chunk::of_frame(df, offset, len)?;
        w.write(len as u64, chunk.row_group())
            .with_context(|| format!("cannot write {} (disk full?)", path.display()))?;
        offset += len;
    }
    end_file(w, path)
}

/// Makes record ids unique where rows of one batch share an identity: the n-th repeat
/// (n ≥ 1, in the order of the staged files and their rows) gets xxh3-128(id ‖ n).
/// `repeated` holds the low 64 bits of the ids that occur more than once. Rewrites only
/// the files that hold such rows; returns how many rows got a new id and, for the message,
/// a few of their request ids (or record ids).
pub fn disambiguate(
    staging_dir: &Path,
    staged: &[StagedFile],
    repeated: &std::collections::HashSet<u64>,
) -> Result<(u64, Vec<String>)> {
    use polars::prelude::{ParquetReader, SerReader};
    let mut seen: HashMap<u128, u32> = HashMap::new();
    let mut changed = 0u64;
    let mut examples = Vec::new();
    for s in staged {
        let path = staging_dir.join(&s.rel_path);
        let f = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut df = ParquetReader::new(f).finish()?;
        let mut ids = ids::record_ids(&df)?;
        let reqs = df.column("request_id")?.str()?.clone();
        let mut touched = false;
        for (i, id) in ids.iter_mut().enumerate() {
            if !repeated.contains(&(*id as u64)) {
                continue;
            }
            let n = seen.entry(*id).or_insert(0);
            if *n > 0 {
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                h.update(&id.to_le_bytes());
                h.update(&n.to_le_bytes());
                if examples.len() < 5 {
                    let mut hex = [0u8; 32];
                    let shown = match reqs.get(i) {
                        Some(r) => r.to_string(),
                        None => ids::hex_id(*id, &mut hex).to_string(),
                    };
                    examples.push(shown);
                }
                *id = h.digest128();
                touched = true;
                changed += 1;
            }
            *n += 1;
        }
        if touched {
            df.replace("record_id", ids::ids_column(&ids))?;
            write_parquet(&path, &df)?;
        }
    }
    Ok((changed, examples))
}

/// A chunk of rows of one month, as columns ready to be written.
pub struct Frame {
    pub month: Month,
    chunk: Chunk,
}

/// The month of a row's charge start, cached by day: consecutive rows mostly share it.
#[derive(Default)]
struct MonthOfDay {
    last: Option<(i64, Month)>,
}

impl MonthOfDay {
    fn of(&mut self, t: i64) -> Month {
        let day = t.div_euclid(crate::timeparse::MICROS_PER_DAY);
        match self.last {
            Some((d, m)) if d == day => m,
            _ => {
                let m = Month::of_micros(t);
                self.last = Some((day, m));
                m
            }
        }
    }
}

/// Column builders per month for one chunk of rows (a worker's batch).
#[derive(Default)]
pub struct MonthBuilders {
    parts: HashMap<Month, Builders>,
    months: MonthOfDay,
    capacity: usize,
}

impl MonthBuilders {
    /// `capacity`: the rows expected (most go to one month).
    pub fn new(capacity: usize) -> MonthBuilders {
        MonthBuilders {
            capacity,
            ..MonthBuilders::default()
        }
    }

    pub fn push(&mut self, row: &Row) {
        let month = self.months.of(row.charge_start);
        let cap = if self.parts.is_empty() {
            self.capacity
        } else {
            1024
        };
        self.parts
            .entry(month)
            .or_insert_with(|| Builders::new(cap))
            .push(row);
    }

    pub fn finish(self, batch_id: &str, format: SourceFormat) -> Result<Vec<Frame>> {
        let mut parts: Vec<(Month, Builders)> = self.parts.into_iter().collect();
        parts.sort_by_key(|(m, _)| *m);
        parts
            .into_iter()
            .map(|(month, b)| {
                Ok(Frame {
                    month,
                    chunk: b.finish(batch_id, format)?,
                })
            })
            .collect()
    }
}

/// A data file written to staging, before commit.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// Relative to the store root (where it will live after commit).
    pub rel_path: String,
    pub month: Month,
    pub rows: u64,
}

enum Msg {
    Chunk(Month, Chunk),
}

/// Writes one batch's rows into Parquet files under `staging_dir`.
pub struct BatchWriter {
    batch_id: String,
    format: SourceFormat,
    parts: HashMap<Month, Builders>,
    buffered: usize,
    months: MonthOfDay,
    tx: Option<SyncSender<Msg>>,
    handle: Option<JoinHandle<Result<Vec<StagedFile>>>>,
}

impl BatchWriter {
    pub fn new(staging_dir: &Path, batch_id: &str, format: SourceFormat) -> Result<BatchWriter> {
        let (tx, rx) = sync_channel::<Msg>(2);
        let dir = staging_dir.to_path_buf();
        let kind = format.kind();
        let id = batch_id.to_string();
        let handle = std::thread::Builder::new()
            .name("finops-parquet".into())
            .spawn(move || -> Result<Vec<StagedFile>> {
                let mut files: HashMap<Month, (FileWriter<BufWriter<File>>, StagedFile, PathBuf)> =
                    HashMap::new();
                while let Ok(Msg::Chunk(month, chunk)) = rx.recv() {
                    if !files.contains_key(&month) {
                        let rel = format!(
                            "data/{}/{}/{}-{}.parquet",
                            kind.as_str(),
                            month,
                            id,
                            files.len()
                        );
                        let full = dir.join(&rel);
                        // Chunks come encoded: this thread only writes their pages.
                        let w = create_file(&full)?;
                        let staged = StagedFile {
                            rel_path: rel,
                            month,
                            rows: 0,
                        };
                        files.insert(month, (w, staged, full));
                    }
                    let (w, staged, full) = files.get_mut(&month).expect("inserted above");
                    let rows = chunk.len as u64;
                    staged.rows += rows;
                    w.write(rows, chunk.row_group())
                        .with_context(|| format!("cannot write {} (disk full?)", full.display()))?;
                }
                let mut out = Vec::with_capacity(files.len());
                for (_, (w, staged, full)) in files {
                    end_file(w, &full)?;
                    out.push(staged);
                }
                out.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
                Ok(out)
            })?;
        Ok(BatchWriter {
            batch_id: batch_id.to_string(),
            format,
            parts: HashMap::new(),
            buffered: 0,
            months: MonthOfDay::default(),
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    pub fn push(&mut self, row: &Row) -> Result<()> {
        let month = self.months.of(row.charge_start);
        let b = self
            .parts
            .entry(month)
            .or_insert_with(|| Builders::new(CHUNK));
        b.push(row);
        self.buffered += 1;
        if b.len >= CHUNK {
            self.flush(month)?;
        } else if self.buffered >= MAX_BUFFERED {
            let largest = self
                .parts
                .iter()
                .max_by_key(|(m, b)| (b.len, std::cmp::Reverse(**m)))
                .map(|(m, _)| *m);
            if let Some(m) = largest {
                self.flush(m)?;
            }
        }
        Ok(())
    }

    /// Writes a chunk built elsewhere (by a worker thread).
    pub fn push_frame(&mut self, frame: Frame) -> Result<()> {
        self.send(frame.month, frame.chunk)
    }

    fn flush(&mut self, month: Month) -> Result<()> {
        let Some(b) = self.parts.remove(&month) else {
            return Ok(());
        };
        self.buffered -= b.len;
        let chunk = b.finish(&self.batch_id, self.format)?;
        self.send(month, chunk)
    }

    fn send(&mut self, month: Month, chunk: Chunk) -> Result<()> {
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(Msg::Chunk(month, chunk)).is_ok())
            .unwrap_or(false);
        if !sent {
            // The writer thread stopped: its error says why.
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the Parquet writer stopped")));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<Vec<StagedFile>> {
        self.tx.take();
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow::anyhow!("the Parquet writer thread panicked"))?,
            None => Ok(Vec::new()),
        }
    }

    /// Flushes every builder, finishes and fsyncs the files.
    pub fn finish(mut self) -> Result<Vec<StagedFile>> {
        let mut months: Vec<Month> = self.parts.keys().copied().collect();
        months.sort();
        for m in months {
            self.flush(m)?;
        }
        self.join()
    }
}

impl Drop for BatchWriter {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows through the writer read back by polars as the canonical schema, the same
    /// values, text columns of few values as dictionary pages and ids plain.
    #[test]
    fn written_rows_read_back_exactly() {
        use polars::prelude::{ParquetReader, SerReader};
        let dir = tempfile::tempdir().unwrap();
        let format = SourceFormat::parse("usage-log").unwrap();
        let mut w = BatchWriter::new(dir.path(), "b1", format).unwrap();
        let models = ["gpt-4o", "claude-sonnet-4-6", "gpt-4o-mini"];
        let n = 1000usize;
        for i in 0..n {
            let mut r = Row {
                record_id: i as u128 * 7919,
                provider: "openai".into(),
                charge_start: 1_790_000_000_000_000 + i as i64,
                model: models[i % 3].into(),
                cost: crate::money::Money(i as i128 * 1_000_000_000_000),
                request_id: format!("req-{i}"),
                input_tokens: (i % 2 == 0).then_some(i as i64),
                ..Row::default()
            };
            r.charge_end = r.charge_start;
            if i % 10 == 0 {
                r.session_id = format!("s{}", i / 100);
            }
            w.push(&r).unwrap();
        }
        let staged = w.finish().unwrap();
        assert_eq!(staged.len(), 1);
        assert_eq!(staged[0].rows, n as u64);
        let path = dir.path().join(&staged[0].rel_path);
        let df = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert_eq!(**df.schema(), schema(), "polars reads the canonical schema");
        let model = df.column("model").unwrap().str().unwrap();
        let req = df.column("request_id").unwrap().str().unwrap();
        let sess = df.column("session_id").unwrap().str().unwrap();
        let tokens = df.column("input_tokens").unwrap().i64().unwrap();
        let sku = df.column("sku").unwrap().str().unwrap();
        for i in [0usize, 1, 2, 10, 500, 999] {
            assert_eq!(model.get(i), Some(models[i % 3]));
            assert_eq!(req.get(i), Some(format!("req-{i}").as_str()));
            let s = (i % 10 == 0).then(|| format!("s{}", i / 100));
            assert_eq!(sess.get(i), s.as_deref());
            assert_eq!(tokens.get(i), (i % 2 == 0).then_some(i as i64));
            assert_eq!(sku.get(i), None);
        }
        let total: i128 = df
            .column("cost")
            .unwrap()
            .decimal()
            .unwrap()
            .physical()
            .iter()
            .map(|v| v.unwrap())
            .sum();
        // 10^12 units × (0 + 1 + ... + 999).
        assert_eq!(total, 1_000_000_000_000 * 499_500);
        // Encodings, from the file's own metadata.
        let mut r = ParquetReader::new(File::open(&path).unwrap());
        let meta = r.get_metadata().unwrap().clone();
        let dictionary = |name: &str| {
            meta.row_groups[0]
                .parquet_columns()
                .iter()
                .find(|c| c.descriptor().path_in_schema[0].as_str() == name)
                .unwrap()
                .dictionary_page_offset()
                .is_some()
        };
        assert!(dictionary("model") && dictionary("session_id"));
        assert!(!dictionary("request_id") && !dictionary("record_id"));
        // Record ids: 16 bytes, big-endian, written as they are; the rest compressed.
        let ids = super::super::ids::record_ids(&df).unwrap();
        assert_eq!(ids[999], 999 * 7919);
        let raw = df.column("record_id").unwrap().binary().unwrap().get(1);
        assert_eq!(
            raw.map(<[u8]>::to_vec),
            Some(7919u128.to_be_bytes().to_vec())
        );
        let codec = |name: &str| {
            meta.row_groups[0]
                .parquet_columns()
                .iter()
                .find(|c| c.descriptor().path_in_schema[0].as_str() == name)
                .unwrap()
                .compression()
        };
        use polars_parquet::parquet::compression::Compression;
        assert_eq!(codec("record_id"), Compression::Uncompressed);
        assert_eq!(codec("request_id"), Compression::Zstd);

        // A rewrite (restatement, disambiguation) writes the same frame, encoded the same.
        let again = dir.path().join("again.parquet");
        write_parquet(&again, &df).unwrap();
        let mut r2 = ParquetReader::new(File::open(&again).unwrap());
        let meta2 = r2.get_metadata().unwrap().clone();
        let layout = |m: &polars_parquet::parquet::metadata::FileMetadata| -> Vec<String> {
            m.row_groups[0]
                .parquet_columns()
                .iter()
                .map(|c| {
                    format!(
                        "{:?} {:?} {}",
                        c.descriptor().path_in_schema,
                        c.compression(),
                        c.dictionary_page_offset().is_some()
                    )
                })
                .collect()
        };
        assert_eq!(layout(&meta2), layout(&meta));
        let df2 = r2.finish().unwrap();
        assert!(
            df2.equals_missing(&df),
            "a rewritten file reads back the same"
        );
    }
}
