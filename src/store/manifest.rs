//! `manifest.json`: the ingested batches and the data files that hold the store's rows.
//! Replacing this file (write, fsync, rename) is the store's one commit point.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

/// The store layout (docs/store.md#layout-versions): 2 since record ids are computed from
/// typed values and the manifest keeps each batch's magnitude; 3 since data files hold
/// record ids as 16 bytes instead of 32 hex digits.
pub const FORMAT_VERSION: u32 = 3;

/// The oldest layout this finops reads, and upgrades when it writes.
pub const OLDEST_READ: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The store layout version (docs/store.md).
    pub format_version: u32,
    /// Every committed batch, oldest first.
    pub batches: Vec<Batch>,
    /// Every live data file (paths relative to the store root, `/`-separated).
    pub files: Vec<DataFile>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            format_version: FORMAT_VERSION,
            batches: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// One ingested file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub batch_id: String,
    /// The path as given to `finops ingest`, made absolute.
    pub source_path: String,
    /// xxh3-128 of the file's bytes, hex: the same content is never ingested twice.
    pub content_hash: String,
    /// The file's size in bytes (a file of another size cannot be the same content, so
    /// only same-size files are hashed before they are read).
    pub source_bytes: u64,
    /// Source format (`focus`, `usage-log`).
    pub format: String,
    /// `bill` or `usage`.
    pub kind: String,
    /// RFC 3339 UTC.
    pub ingested_at: String,
    pub finops_version: String,
    /// Rows this batch added.
    pub rows: u64,
    /// Rows of the file rejected (with --skip-invalid).
    pub rows_rejected: u64,
    /// Rows of earlier batches this batch replaced (same record_id).
    pub rows_replaced: u64,
    /// Rows of this batch that later batches replaced.
    pub rows_superseded: u64,
    /// First and last day of charges (UTC, `YYYY-MM-DD`).
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    /// Invoice months (`YYYY-MM`) of bill rows.
    pub billing_periods: Vec<String>,
    /// Sum of `cost` per currency, exact decimal text.
    pub totals: BTreeMap<String, String>,
    /// Σ over the batch's rows of the largest magnitude among cost, effective cost and
    /// list cost, exact decimal text: the store keeps the sum over all batches below 10^20
    /// so that any SUM over it fits DECIMAL(38,18).
    pub magnitude: String,
    /// The rejects file written for this batch, if any.
    pub rejects_file: Option<String>,
}

/// One Parquet file of canonical rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// Relative to the store root: `data/<kind>/<YYYY-MM>/<name>.parquet`.
    pub path: String,
    /// The batch whose staging directory the file was written in.
    pub batch_id: String,
    pub kind: String,
    /// Month of `charge_start` (UTC) of every row in the file.
    pub month: String,
    pub rows: u64,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the store manifest {}", path.display()))?;
        let m: Manifest = serde_json::from_str(&text).with_context(|| {
            format!(
                "the store manifest {} is damaged; it is the store's index and cannot be rebuilt by guessing",
                path.display()
            )
        })?;
        if !(OLDEST_READ..=FORMAT_VERSION).contains(&m.format_version) {
            let dir = path.parent().unwrap_or(path).display();
            if m.format_version < OLDEST_READ {
                anyhow::bail!(
                    "the store at {dir} has layout version {}, written by an earlier finops; this finops identifies rows from typed values (layout {FORMAT_VERSION}), so restatements would not find the old rows: move the store aside and ingest the exports again",
                    m.format_version
                );
            }
            anyhow::bail!(
                "the store at {dir} has layout version {}, newer than this finops reads ({FORMAT_VERSION}); use a newer finops",
                m.format_version
            );
        }
        Ok(m)
    }

    /// Atomically replaces `path` with this manifest: write a temporary file, fsync it,
    /// rename it over the old one, fsync the directory.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join("manifest.json.tmp");
        {
            let mut f = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            serde_json::to_writer_pretty(&mut f, self)?;
            f.write_all(b"\n")?;
            f.sync_all()
                .with_context(|| format!("cannot write {} (disk full?)", tmp.display()))?;
        }
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        super::sync_dir(dir)?;
        Ok(())
    }

    /// Σ of the batches' magnitudes, in 10⁻¹⁸ units (an upper bound of the live rows'
    /// magnitudes: replaced rows still count).
    pub fn magnitude(&self) -> u128 {
        self.batches
            .iter()
            .map(|b| {
                crate::money::Money::parse(&b.magnitude)
                    .map_or(crate::money::LIMIT as u128, |m| m.magnitude())
            })
            .fold(0u128, u128::saturating_add)
    }

    pub fn batch_by_hash(&self, hash: &str) -> Option<&Batch> {
        self.batches.iter().find(|b| b.content_hash == hash)
    }
}
