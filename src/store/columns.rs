//! Arrow column builders for the store's data files, filled row by row on the parse
//! workers and handed whole to the Parquet encoder.
//!
//! Text columns of few distinct values (provider, model, currency, team tags, accounts,
//! ...) are interned as they are pushed and leave as dictionary arrays, which Parquet
//! writes as its dictionary pages directly: the encoder neither estimates their
//! cardinality nor hashes every value again, and a row costs a 4-byte key instead of a
//! 16-byte view. A column that turns out to hold mostly distinct values is written plain,
//! as polars would. Every builder costs nothing until its first value: many canonical
//! columns are null for a whole source.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use polars_arrow::array::{
    Array, BooleanArray, DictionaryArray, FixedSizeBinaryArray, MutableBinaryViewArray,
    PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_arrow::types::NativeType;

/// A finished column.
pub type ArrayRef = Box<dyn Array>;

/// Above this share of distinct values a dictionary does not pay (polars' own rule).
fn dictionary_pays(distinct: usize, len: usize) -> bool {
    len <= 128 || distinct * 4 <= len * 3
}

/// Validity bits, absent while every value so far is valid.
#[derive(Default)]
struct Validity(Option<MutableBitmap>);

impl Validity {
    /// Records value number `at` (0-based) as present or null.
    #[inline]
    fn push(&mut self, at: usize, valid: bool, cap: usize) {
        match (&mut self.0, valid) {
            (Some(b), v) => b.push(v),
            (None, true) => {}
            (None, false) => {
                let mut b = MutableBitmap::with_capacity(cap.max(at + 1));
                b.extend_constant(at, true);
                b.push(false);
                self.0 = Some(b);
            }
        }
    }

    fn finish(self) -> Option<polars_arrow::bitmap::Bitmap> {
        self.0.map(Into::into)
    }
}

/// A nullable text column, interned into a dictionary. Empty text is null.
pub struct DictStr {
    cap: usize,
    /// Nulls before the first value, while `keys` is unallocated.
    nulls: usize,
    keys: Vec<u32>,
    validity: Validity,
    values: MutableBinaryViewArray<str>,
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    /// The key of the last value pushed: consecutive rows often repeat it.
    last: Option<u32>,
}

impl DictStr {
    pub fn new(cap: usize) -> DictStr {
        DictStr {
            cap,
            nulls: 0,
            keys: Vec::new(),
            validity: Validity::default(),
            values: MutableBinaryViewArray::new(),
            table: HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            last: None,
        }
    }

    #[inline]
    pub fn push(&mut self, v: &str) {
        if self.keys.capacity() == 0 {
            if v.is_empty() {
                self.nulls += 1;
                return;
            }
            // The first value: the nulls before it become real slots.
            self.keys.reserve(self.cap.max(self.nulls + 1));
            for at in 0..self.nulls {
                self.keys.push(0);
                self.validity.push(at, false, self.cap);
            }
        }
        let at = self.keys.len();
        if v.is_empty() {
            self.keys.push(0);
            self.validity.push(at, false, self.cap);
            return;
        }
        let key = match self.last {
            Some(k) if self.values.value(k as usize) == v => k,
            _ => self.intern(v),
        };
        self.last = Some(key);
        self.keys.push(key);
        self.validity.push(at, true, self.cap);
    }

    fn intern(&mut self, v: &str) -> u32 {
        let DictStr {
            values,
            table,
            hasher,
            ..
        } = self;
        let h = hasher.hash_one(v);
        if let Some(&k) = table.find(h, |&k| values.value(k as usize) == v) {
            return k;
        }
        // At most one value per row of a chunk, far below u32::MAX.
        let k = values.len() as u32;
        values.push_value(v);
        table.insert_unique(h, k, |&k| hasher.hash_one(values.value(k as usize)));
        k
    }

    /// The column of `len` rows (rows never pushed are null).
    pub fn finish(mut self, len: usize) -> ArrayRef {
        let values: Utf8ViewArray = std::mem::take(&mut self.values).freeze();
        if values.is_empty() {
            return Utf8ViewArray::new_null(ArrowDataType::Utf8View, len).boxed();
        }
        let mut keys = self.keys;
        let mut validity = self.validity;
        while keys.len() < len {
            validity.push(keys.len(), false, len);
            keys.push(0);
        }
        let validity = validity.finish();
        if !dictionary_pays(values.len(), len) {
            let mut plain = MutableBinaryViewArray::<str>::with_capacity(len);
            for (i, &k) in keys.iter().enumerate() {
                if validity.as_ref().is_some_and(|b| !b.get_bit(i)) {
                    plain.push_null();
                } else {
                    plain.push_value(values.value(k as usize));
                }
            }
            return plain.freeze().boxed();
        }
        let keys = PrimitiveArray::<u32>::new(ArrowDataType::UInt32, keys.into(), validity);
        // Every key was issued by `intern`, so all are in bounds.
        DictionaryArray::try_new(dictionary_type(), keys, values.boxed())
            .expect("dictionary keys are in bounds")
            .boxed()
    }
}

/// The same text on every row (a batch's id, its source format).
pub fn constant(v: &str, len: usize) -> ArrayRef {
    let mut values = MutableBinaryViewArray::<str>::with_capacity(1);
    values.push_value(v);
    let keys = PrimitiveArray::<u32>::new(ArrowDataType::UInt32, vec![0; len].into(), None);
    DictionaryArray::try_new(dictionary_type(), keys, values.freeze().boxed())
        .expect("key 0 is in bounds")
        .boxed()
}

/// Dictionaries of text, keyed by u32.
fn dictionary_type() -> ArrowDataType {
    ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    )
}

/// A nullable text column of mostly distinct values (ids), written plain. Empty is null.
pub struct PlainStr {
    cap: usize,
    nulls: usize,
    b: Option<MutableBinaryViewArray<str>>,
}

impl PlainStr {
    pub fn new(cap: usize) -> PlainStr {
        PlainStr {
            cap,
            nulls: 0,
            b: None,
        }
    }

    #[inline]
    pub fn push(&mut self, v: &str) {
        match (&mut self.b, v.is_empty()) {
            (Some(b), true) => b.push_null(),
            (None, true) => self.nulls += 1,
            (Some(b), false) => b.push_value(v),
            (None, false) => {
                let mut b = MutableBinaryViewArray::with_capacity(self.cap.max(self.nulls + 1));
                b.extend_null(self.nulls);
                b.push_value(v);
                self.b = Some(b);
            }
        }
    }

    pub fn finish(self, len: usize) -> ArrayRef {
        match self.b {
            Some(mut b) => {
                if b.len() < len {
                    b.extend_null(len - b.len());
                }
                b.freeze().boxed()
            }
            None => Utf8ViewArray::new_null(ArrowDataType::Utf8View, len).boxed(),
        }
    }
}

/// A nullable primitive column (integers, decimals, instants).
pub struct Prim<T: NativeType> {
    cap: usize,
    /// Nulls before the first value, while `values` is None.
    nulls: usize,
    values: Option<Vec<T>>,
    validity: Validity,
}

impl<T: NativeType> Prim<T> {
    pub fn new(cap: usize) -> Self {
        Prim {
            cap,
            nulls: 0,
            values: None,
            validity: Validity::default(),
        }
    }

    #[inline]
    pub fn push(&mut self, v: Option<T>) {
        match (&mut self.values, v) {
            (Some(values), v) => {
                let at = values.len();
                values.push(v.unwrap_or_default());
                self.validity.push(at, v.is_some(), self.cap);
            }
            (None, None) => self.nulls += 1,
            (None, Some(v)) => {
                // The first value: the nulls before it become real slots.
                let mut values = Vec::with_capacity(self.cap.max(self.nulls + 1));
                for at in 0..self.nulls {
                    values.push(T::default());
                    self.validity.push(at, false, self.cap);
                }
                self.validity.push(values.len(), true, self.cap);
                values.push(v);
                self.values = Some(values);
            }
        }
    }

    /// The column of `len` rows, of arrow type `dtype` (rows never pushed are null).
    pub fn finish(self, dtype: &ArrowDataType, len: usize) -> ArrayRef {
        let Some(mut values) = self.values else {
            return PrimitiveArray::<T>::new_null(dtype.clone(), len).boxed();
        };
        let mut validity = self.validity;
        while values.len() < len {
            validity.push(values.len(), false, len);
            values.push(T::default());
        }
        PrimitiveArray::<T>::new(dtype.clone(), values.into(), validity.finish()).boxed()
    }
}

/// Record ids: 16 bytes each (the xxh3-128 hash, big-endian), never null.
pub struct Ids(Vec<u8>);

impl Ids {
    pub fn with_capacity(cap: usize) -> Ids {
        Ids(Vec::with_capacity(cap * ID_BYTES))
    }

    #[inline]
    pub fn push(&mut self, id: u128) {
        self.0.extend_from_slice(&id.to_be_bytes());
    }

    pub fn finish(self) -> ArrayRef {
        FixedSizeBinaryArray::new(id_type(), self.0.into(), None).boxed()
    }
}

/// Bytes of a record id.
pub const ID_BYTES: usize = 16;

/// The arrow type of record ids.
pub fn id_type() -> ArrowDataType {
    ArrowDataType::FixedSizeBinary(ID_BYTES)
}

/// A record id from its 16 stored bytes.
pub fn id_of(bytes: &[u8]) -> Option<u128> {
    Some(u128::from_be_bytes(bytes.try_into().ok()?))
}

/// A boolean column without nulls.
#[derive(Default)]
pub struct Bools(MutableBitmap);

impl Bools {
    pub fn with_capacity(cap: usize) -> Bools {
        Bools(MutableBitmap::with_capacity(cap))
    }

    #[inline]
    pub fn push(&mut self, v: bool) {
        self.0.push(v);
    }

    pub fn finish(self) -> ArrayRef {
        BooleanArray::new(ArrowDataType::Boolean, self.0.into(), None).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(a: &ArrayRef) -> Vec<Option<String>> {
        if let Some(d) = a.as_any().downcast_ref::<DictionaryArray<u32>>() {
            let values = d.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
            return d
                .keys()
                .iter()
                .map(|k| k.map(|&k| values.value(k as usize).to_string()))
                .collect();
        }
        let plain = a.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        plain.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn few_values_become_a_dictionary_and_read_back_in_order() {
        let input = ["a", "b", "", "a", "a", "c", "b", ""];
        let mut d = DictStr::new(4);
        for v in input {
            d.push(v);
        }
        let a = d.finish(10);
        assert!(matches!(a.dtype(), ArrowDataType::Dictionary(..)));
        let want: Vec<Option<String>> = input
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.to_string()))
            .chain([None, None])
            .collect();
        assert_eq!(texts(&a), want);
        let dict = a.as_any().downcast_ref::<DictionaryArray<u32>>().unwrap();
        assert_eq!(dict.values().len(), 3, "each value stored once");
        assert_eq!(a.null_count(), 4);
    }

    #[test]
    fn mostly_distinct_values_are_written_plain() {
        let mut d = DictStr::new(0);
        let input: Vec<String> = (0..1000).map(|i| format!("id-{i}")).collect();
        for v in &input {
            d.push(v);
        }
        let a = d.finish(1000);
        assert_eq!(a.dtype(), &ArrowDataType::Utf8View);
        let got = texts(&a);
        assert_eq!(got[0].as_deref(), Some("id-0"));
        assert_eq!(got[999].as_deref(), Some("id-999"));
    }

    #[test]
    fn all_null_columns_cost_nothing_and_have_the_right_length() {
        let mut d = DictStr::new(8);
        d.push("");
        assert_eq!(d.finish(5).null_count(), 5);
        let mut p = PlainStr::new(8);
        p.push("");
        assert_eq!(p.finish(3).null_count(), 3);
        let mut n = Prim::<i64>::new(8);
        n.push(None);
        let a = n.finish(&ArrowDataType::Int64, 4);
        assert_eq!((a.len(), a.null_count()), (4, 4));
    }

    #[test]
    fn primitives_keep_their_nulls_before_and_after_the_first_value() {
        let mut n = Prim::<i64>::new(2);
        for v in [None, None, Some(7), None, Some(-1)] {
            n.push(v);
        }
        let a = n.finish(&ArrowDataType::Int64, 6);
        let a = a.as_any().downcast_ref::<PrimitiveArray<i64>>().unwrap();
        let got: Vec<Option<i64>> = a.iter().map(|v| v.copied()).collect();
        assert_eq!(got, [None, None, Some(7), None, Some(-1), None]);
    }
}
