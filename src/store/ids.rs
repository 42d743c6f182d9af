//! Record ids in data files: 16 bytes each since layout 3, 32 hex digits before
//! (docs/store.md#layout-versions); shown to people as 32 lowercase hex digits.

use anyhow::Result;
use polars::prelude::{DataFrame, IntoColumn};

/// A record id as 32 lowercase hex digits.
pub fn hex_id(id: u128, buf: &mut [u8; 32]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in id.to_be_bytes().iter().enumerate() {
        buf[2 * i] = HEX[(byte >> 4) as usize];
        buf[2 * i + 1] = HEX[(byte & 0xf) as usize];
    }
    // Only ASCII hex digits were written.
    std::str::from_utf8(buf).unwrap_or_default()
}

/// The record ids of a frame read from a data file: 16 bytes each (layout 3), or 32 hex
/// digits (layout 2, before an upgrade).
pub fn record_ids(df: &DataFrame) -> Result<Vec<u128>> {
    let c = df.column("record_id")?.as_materialized_series();
    let bad = || anyhow::anyhow!("a data file with a damaged record_id");
    if let Ok(text) = c.str() {
        return text
            .iter()
            .map(|v| {
                v.and_then(|h| u128::from_str_radix(h, 16).ok())
                    .ok_or_else(bad)
            })
            .collect();
    }
    c.binary()?
        .iter()
        .map(|v| v.and_then(super::columns::id_of).ok_or_else(bad))
        .collect()
}

/// A `record_id` column of these ids, as a data file stores them.
pub(crate) fn ids_column(ids: &[u128]) -> polars::prelude::Column {
    use polars::prelude::{BinaryChunked, NewChunkedArray};
    BinaryChunked::from_iter_values("record_id".into(), ids.iter().map(|id| id.to_be_bytes()))
        .into_column()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids() {
        let mut b = [0u8; 32];
        assert_eq!(hex_id(0xff, &mut b), "000000000000000000000000000000ff");
        assert_eq!(
            hex_id(u128::MAX, &mut b),
            "ffffffffffffffffffffffffffffffff"
        );
    }
}
