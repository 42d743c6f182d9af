//! Parquet inputs (FOCUS exports from AWS and Azure, CUR 2.0 Data Exports), streamed one
//! row group at a time with typed cells: integers, DECIMAL and TIMESTAMP values stay
//! typed and exact, DOUBLE becomes the decimal of its shortest round-trip text, and maps
//! and lists (CUR 2.0 `resource_tags`) become JSON text. Memory is one row group, whatever
//! the file's size: a row group's column chunks are read and decoded
//! with polars-parquet directly (polars' own reader kept the decoded pages of a nested
//! column alive past their row group, and memory grew with the file).

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;
use polars_arrow::array::{BooleanArray, PrimitiveArray, Utf8ViewArray};
use polars_buffer::Buffer;
use polars_parquet::read::{BasicDecompressor, ColumnChunkMetadata, FileMetadata, PageReader};

use super::parallel::{self, ChunkBuilder};
use super::record::{self, Cell, Record};
use super::{ParseCounts, RowParser, Sink, SourceFormat};
use crate::error::{InputError, Place};
use crate::timeparse::{Micros, MICROS_PER_DAY};

/// Runs a polars read of a file that may be damaged or hostile: a panic inside the reader
/// becomes an error naming the file, never a crash.
fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    match crate::error::catch_quietly(read) {
        Ok(r) => r,
        Err(_) => Err(damaged(path, "its metadata or pages are damaged").into()),
    }
}

fn damaged(path: &Path, why: impl std::fmt::Display) -> InputError {
    InputError::new(
        path,
        Place::default(),
        format!("not a readable Parquet file: {why}"),
    )
    .fix("the file is damaged or truncated; export it again")
}

/// An opened Parquet file: its columns and row groups.
pub struct ParquetInput {
    path: PathBuf,
    file: File,
    len: u64,
    meta: FileMetadata,
    schema: ArrowSchema,
    headers: Vec<String>,
}

impl ParquetInput {
    pub fn open(path: &Path) -> Result<ParquetInput> {
        guarded(path, || {
            let mut file = File::open(path).map_err(|e| damaged(path, e))?;
            let len = file.metadata().map_err(|e| damaged(path, e))?.len();
            let meta =
                polars_parquet::read::read_metadata(&mut file).map_err(|e| damaged(path, e))?;
            let schema = polars_parquet::read::infer_schema(&meta).map_err(|e| damaged(path, e))?;
            let headers = schema.iter_names().map(|n| n.to_string()).collect();
            Ok(ParquetInput {
                path: path.to_path_buf(),
                file,
                len,
                meta,
                schema,
                headers,
            })
        })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Row group `g` as a data frame: its column chunks read from the file and decoded,
    /// nothing else (no other row group's pages, no map of the whole file).
    /// Columns outside `wanted` (when given) are not read: they come as null columns.
    fn group(&self, g: usize, wanted: Option<&[bool]>) -> Result<DataFrame> {
        guarded(&self.path, || {
            let rg = &self.meta.row_groups[g];
            let mut columns = Vec::with_capacity(self.schema.len());
            for (at, (name, field)) in self.schema.iter().enumerate() {
                if wanted.is_some_and(|w| !w.get(at).copied().unwrap_or(false)) {
                    let absent = Series::full_null(name.clone(), rg.num_rows(), &DataType::Null);
                    columns.push(absent.into_column());
                    continue;
                }
                let chunks = rg
                    .columns_under_root_iter(name)
                    .ok_or_else(|| {
                        damaged(&self.path, format!("row group {g} lacks column {name}"))
                    })?
                    .map(|md| Ok((md, self.chunk(md)?)))
                    .collect::<Result<Vec<_>>>()?;
                let (decompressors, types): (Vec<_>, Vec<_>) = chunks
                    .into_iter()
                    .map(|(md, bytes)| {
                        let pages = PageReader::new(Cursor::new(bytes), md, vec![], usize::MAX);
                        (
                            BasicDecompressor::new(pages, vec![]),
                            &md.descriptor().descriptor.primitive_type,
                        )
                    })
                    .unzip();
                let (arrays, _) = polars_parquet::read::column_iter_to_arrays(
                    decompressors,
                    types,
                    field.clone(),
                    None,
                )
                .map_err(|e| damaged(&self.path, e))?;
                let series =
                    Series::try_from((field, arrays)).map_err(|e| damaged(&self.path, e))?;
                columns.push(series.into_column());
            }
            DataFrame::new(rg.num_rows(), columns).map_err(|e| damaged(&self.path, e).into())
        })
    }

    /// The bytes of one column chunk, checked against the file's length.
    fn chunk(&self, md: &ColumnChunkMetadata) -> Result<Buffer<u8>> {
        let range = md.byte_range();
        let (start, end) = (range.start, range.end);
        if start > end || end > self.len {
            return Err(damaged(&self.path, "a column chunk lies past the end of the file").into());
        }
        let mut bytes = vec![0u8; (end - start) as usize];
        // Row groups are read one at a time, on the reader thread.
        let mut file = &self.file;
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| damaged(&self.path, e))?;
        Ok(Buffer::from(bytes))
    }

    /// Streams every row through `parser` into `sink`, row groups parsed on every core
    /// and delivered in file order. Rows are numbered from 1.
    pub fn read<'a>(
        &self,
        parser: Box<dyn RowParser<'a> + 'a>,
        format: SourceFormat,
        batch_id: &str,
        sink: &mut dyn Sink,
    ) -> Result<ParseCounts> {
        let mut groups = self
            .meta
            .row_groups
            .iter()
            .map(|rg| rg.num_rows())
            .enumerate();
        let mut offset = 0usize;
        // Only the columns the parser reads are decoded (a CUR 2.0 export has over a
        // hundred; its adapter reads about thirty).
        let wanted: Option<Vec<bool>> = parser.reads().map(|used| {
            let mut w = vec![false; self.headers.len()];
            for i in used {
                if let Some(slot) = w.get_mut(i) {
                    *slot = true;
                }
            }
            w
        });
        let skipped = wanted.clone();
        let produce = move |_: Option<Group>| -> Result<Option<Group>> {
            for (g, len) in groups.by_ref() {
                let start = offset;
                offset += len;
                if len > 0 {
                    return Ok(Some(Group {
                        offset: start,
                        frame: self.group(g, wanted.as_deref())?,
                    }));
                }
            }
            Ok(None)
        };
        let path = self.path.as_path();
        let headers = &self.headers;
        let work = move |parser: &mut dyn RowParser<'a>, g: &Group, build: bool| {
            let cols = GroupColumns(
                g.frame
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(at, c)| match &skipped {
                        Some(w) if !w.get(at).copied().unwrap_or(false) => Ok(Column::Skipped),
                        _ => Column::of(c.as_materialized_series()),
                    })
                    .collect::<Result<_>>()?,
            );
            let mut out = ChunkBuilder::new(path, g.frame.height(), build);
            for i in 0..g.frame.height() {
                cols.prefetch(i);
                let rec = Record::of_columns(headers, &cols, i, (g.offset + i) as u64 + 1);
                out.record(parser, &rec, || rec.raw(b','))?;
            }
            out.finish(batch_id, format)
        };
        // Decoding a row group is light next to turning its rows into cells and parsing
        // them: a worker on every core.
        parallel::run(produce, work, parser, sink, parallel::cores())
    }
}

/// A row group's columns, each cell read when the parser asks for it.
struct GroupColumns(Vec<Column>);

/// How many rows ahead the cells of a text column are fetched into the cache.
const AHEAD: usize = 8;

impl GroupColumns {
    /// Asks the cache for the text cells of rows ahead of `row`: the parser reads a row
    /// group across its columns, one row at a time, which the hardware does not foresee
    /// (perf: a third of the parse time went to waiting for text views).
    #[inline]
    fn prefetch(&self, row: usize) {
        for c in &self.0 {
            if let Column::Str(a) = c {
                // The view two strides ahead, and the text of the view one stride ahead
                // (by now in the cache).
                if let Some(v) = a.views().get(row + 2 * AHEAD) {
                    prefetch(v as *const _ as *const i8);
                }
                if let Some(v) = a.views().get(row + AHEAD) {
                    if v.length > 12 {
                        if let Some(b) = a.data_buffers().get(v.buffer_idx as usize) {
                            if let Some(t) = b.get(v.offset as usize) {
                                prefetch(t as *const u8 as *const i8);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A hint to load the cache line at `p`; never reads memory in the program's sense.
#[inline(always)]
fn prefetch(p: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults or changes memory, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl record::Columns for GroupColumns {
    fn cell(&self, column: usize, row: usize) -> Cell<'_> {
        self.0.get(column).map_or(Cell::Null, |c| c.cell(row))
    }

    fn width(&self) -> usize {
        self.0.len()
    }

    fn shown(&self, column: usize, row: usize) -> Cell<'_> {
        match self.0.get(column) {
            Some(Column::Skipped) | None => Cell::Null,
            Some(c) => c.cell(row),
        }
    }
}

/// A row group read, and the number of rows before it.
struct Group {
    offset: usize,
    frame: DataFrame,
}

/// One column of a row group as its arrow array, typed once so that each cell is a
/// plain read.
enum Column {
    Str(Utf8ViewArray),
    Int(PrimitiveArray<i64>),
    F64(PrimitiveArray<f64>),
    F32(PrimitiveArray<f32>),
    Bool(BooleanArray),
    Decimal(PrimitiveArray<i128>, u32),
    /// Microseconds per unit: 1 (µs), 1000 (ms), or nanoseconds (divided).
    Time(PrimitiveArray<i64>, TimeUnit),
    Date(PrimitiveArray<i32>),
    /// Maps, lists, structs and anything else, as text (JSON for nested values): each
    /// distinct text once, and per row the index of its text.
    Text(Texts),
    /// A column the parser does not read ([`RowParser::reads`]), not decoded.
    Skipped,
}

/// The one arrow array of a rechunked column.
fn array<T: PolarsDataType>(ca: &ChunkedArray<T>) -> T::Array
where
    T::Array: Clone,
{
    ca.rechunk().downcast_as_array().clone()
}

impl Column {
    fn of(s: &Series) -> Result<Column> {
        Ok(match s.dtype() {
            DataType::String => Column::Str(array(s.str()?)),
            DataType::Boolean => Column::Bool(array(s.bool()?)),
            DataType::Float64 => Column::F64(array(s.f64()?)),
            DataType::Float32 => Column::F32(array(s.f32()?)),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => Column::Int(array(s.cast(&DataType::Int64)?.i64()?)),
            DataType::Decimal(_, scale) => {
                let scale = *scale as u32;
                Column::Decimal(array(s.decimal()?.physical()), scale)
            }
            DataType::Datetime(unit, _) => Column::Time(array(s.datetime()?.physical()), *unit),
            DataType::Date => Column::Date(array(s.date()?.physical())),
            DataType::List(inner) if map_entries(inner) => Column::Text(map_texts(s)?),
            _ => {
                let mut texts = Texts::default();
                for i in 0..s.len() {
                    texts.push(s.get(i).ok().and_then(|v| any_text(&v)));
                }
                Column::Text(texts)
            }
        })
    }

    fn cell(&self, i: usize) -> Cell<'_> {
        let c = match self {
            Column::Str(c) => c.get(i).map(Cell::Text),
            Column::Int(c) => c.get(i).map(Cell::Int),
            Column::F64(c) => c.get(i).map(Cell::Float),
            // A FLOAT's own shortest text (0.1, not 0.100000001490116...).
            Column::F32(c) => c
                .get(i)
                .map(|f| Cell::Float(ryu::Buffer::new().format(f).parse().unwrap_or(f as f64))),
            Column::Bool(c) => c.get(i).map(Cell::Bool),
            Column::Decimal(c, s) => c.get(i).map(|v| Cell::Decimal(v, *s)),
            Column::Time(c, unit) => c.get(i).map(|v| Cell::Time(micros(v, *unit))),
            Column::Date(c) => c.get(i).map(|d| Cell::Time(d as Micros * MICROS_PER_DAY)),
            Column::Text(t) => t.get(i).map(Cell::Text),
            Column::Skipped => {
                debug_assert!(false, "a parser read a column it does not list in `reads`");
                None
            }
        };
        c.unwrap_or(Cell::Null)
    }
}

/// Texts of a column's rows, each distinct run stored once.
#[derive(Default)]
struct Texts {
    texts: Vec<String>,
    rows: Vec<Option<u32>>,
}

impl Texts {
    fn push(&mut self, t: Option<String>) {
        let Some(t) = t else {
            self.rows.push(None);
            return;
        };
        if self.texts.last() != Some(&t) {
            self.texts.push(t);
        }
        self.rows.push(Some(self.texts.len() as u32 - 1));
    }

    /// Row `i` repeats the text of the last row pushed.
    fn repeat_last(&mut self) {
        self.rows.push(Some(self.texts.len() as u32 - 1));
    }

    fn get(&self, i: usize) -> Option<&str> {
        let k = (*self.rows.get(i)?)?;
        self.texts.get(k as usize).map(String::as_str)
    }
}

fn micros(v: i64, unit: TimeUnit) -> Micros {
    match unit {
        TimeUnit::Nanoseconds => v.div_euclid(1000),
        TimeUnit::Microseconds => v,
        TimeUnit::Milliseconds => v.saturating_mul(1000),
    }
}

/// Whether a list's items are a map's entries: structs of a text key and a value.
fn map_entries(inner: &DataType) -> bool {
    matches!(inner, DataType::Struct(f) if f.len() == 2 && f[0].dtype() == &DataType::String)
}

/// A map column (a list of key/value structs) as JSON object text per row, read straight
/// from the column's buffers: no per-row series.
fn map_texts(s: &Series) -> Result<Texts> {
    let ca = s.list()?.rechunk();
    let mut out = Texts::default();
    let Some(arr) = ca.downcast_iter().next() else {
        for _ in 0..s.len() {
            out.push(None);
        }
        return Ok(out);
    };
    let offsets = arr.offsets().as_slice();
    let inner = ca.get_inner();
    let fields = inner.struct_()?.fields_as_series();
    let keys = array(fields[0].str()?);
    let values = fields[1].cast(&DataType::String)?;
    let values = array(values.str()?);
    let entry = |j: usize| (keys.get(j), values.get(j));
    // Rows of one file repeat few tag sets: a row whose entries equal the previous row's
    // reuses its text.
    let mut last: Option<(usize, usize)> = None;
    let mut map = serde_json::Map::new();
    for i in 0..arr.len() {
        if arr.validity().is_some_and(|v| !v.get_bit(i)) {
            out.push(None);
            last = None;
            continue;
        }
        let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
        if let Some((pa, pb)) = last {
            if pb - pa == b - a && (0..b - a).all(|k| entry(pa + k) == entry(a + k)) {
                out.repeat_last();
                continue;
            }
        }
        map.clear();
        for j in a..b {
            if let (Some(k), v) = entry(j) {
                let v = v.map_or(serde_json::Value::Null, |v| {
                    serde_json::Value::String(v.into())
                });
                map.insert(k.to_string(), v);
            }
        }
        out.push(Some(serde_json::to_string(&map).unwrap_or_default()));
        last = Some((a, b));
    }
    Ok(out)
}

/// A value of an unusual type as text: nested values as JSON.
fn any_text(v: &AnyValue) -> Option<String> {
    Some(match v {
        AnyValue::Null => return None,
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::UInt64(v) => v.to_string(),
        AnyValue::Int128(v) => v.to_string(),
        AnyValue::List(s) => list_json(s),
        other => other.to_string(),
    })
}

fn json_of(v: &AnyValue) -> serde_json::Value {
    match v {
        AnyValue::Null => serde_json::Value::Null,
        AnyValue::List(s) => serde_json::from_str(&list_json(s)).unwrap_or_default(),
        other => any_text(other).map_or(serde_json::Value::Null, serde_json::Value::String),
    }
}

/// A Parquet map (a list of key/value structs) as a JSON object; a list as an array.
fn list_json(s: &Series) -> String {
    if let Ok(st) = s.struct_() {
        let fields = st.fields_as_series();
        if fields.len() == 2 {
            let mut map = serde_json::Map::new();
            for i in 0..s.len() {
                let k = fields[0].get(i).ok().and_then(|v| any_text(&v));
                let v = fields[1].get(i).ok().map(|v| json_of(&v));
                if let Some(k) = k {
                    map.insert(k, v.unwrap_or_default());
                }
            }
            return serde_json::Value::Object(map).to_string();
        }
    }
    let items: Vec<serde_json::Value> = (0..s.len())
        .map(|i| s.get(i).ok().map(|v| json_of(&v)).unwrap_or_default())
        .collect();
    serde_json::Value::Array(items).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `n` rows in row groups of 100: an id text and an amount.
    fn sample(n: usize) -> Vec<u8> {
        let ids: Vec<String> = (0..n).map(|i| format!("line-{i:06}")).collect();
        let amounts: Vec<i64> = (0..n as i64).collect();
        let mut df = DataFrame::new(
            n,
            vec![
                polars::prelude::Column::new("id".into(), ids),
                polars::prelude::Column::new("amount".into(), amounts),
            ],
        )
        .unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_row_group_size(Some(100))
            .finish(&mut df)
            .unwrap();
        bytes
    }

    #[test]
    fn row_groups_are_read_one_by_one_with_their_own_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        std::fs::write(&path, sample(1000)).unwrap();
        let input = ParquetInput::open(&path).unwrap();
        assert_eq!(input.headers(), ["id", "amount"]);
        let groups = input.meta.row_groups.len();
        assert!(groups > 1, "{groups}");
        let (mut rows, mut sum) = (0usize, 0i64);
        for g in 0..groups {
            let df = input.group(g, None).unwrap();
            let ids = df.column("id").unwrap().str().unwrap();
            // Each group starts where the last ended.
            assert_eq!(ids.get(0), Some(format!("line-{rows:06}").as_str()));
            rows += df.height();
            sum += df.column("amount").unwrap().i64().unwrap().sum().unwrap();
        }
        // 0 + 1 + ... + 999.
        assert_eq!((rows, sum), (1000, 499_500));
        // A parser that reads only `amount`: `id` is not decoded, `amount` is as before.
        let df = input.group(3, Some(&[false, true])).unwrap();
        assert_eq!(df.column("id").unwrap().dtype(), &DataType::Null);
        assert_eq!(df.column("id").unwrap().null_count(), 100);
        let amounts = df.column("amount").unwrap().i64().unwrap();
        assert_eq!(amounts.get(0), Some(300));
        assert_eq!(amounts.sum(), Some((300..400).sum()));
    }

    #[test]
    fn a_column_chunk_past_the_end_of_the_file_is_an_error() {
        // Cut bytes out of the data pages but keep the footer: its offsets now point past
        // the end of the file.
        let bytes = sample(2000);
        let footer =
            u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
        // Half of the bytes before the footer.
        let cut = (bytes.len() - footer as usize - 12) / 2;
        let mut hostile = bytes[..4].to_vec();
        hostile.extend_from_slice(&bytes[4 + cut..]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.parquet");
        std::fs::write(&path, hostile).unwrap();
        let input = ParquetInput::open(&path).unwrap();
        let last = input.meta.row_groups.last().unwrap();
        let chunk = ["id", "amount"]
            .iter()
            .flat_map(|c| last.columns_under_root_iter(c).unwrap())
            .max_by_key(|c| c.byte_range().end)
            .unwrap();
        let err = input.chunk(chunk).unwrap_err().to_string();
        assert!(
            err.contains("cut.parquet: not a readable Parquet file"),
            "{err}"
        );
        assert!(err.contains("past the end of the file"), "{err}");
        // Reading the group fails (its first column's pages are now other bytes), never
        // panics.
        let groups = input.meta.row_groups.len();
        assert!(input.group(groups - 1, None).is_err());
    }
}
