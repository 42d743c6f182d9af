//! `manifest.json`: the ingested batches and the data files that hold the store's rows.
//! Replacing this file (write, fsync, rename) is the store's one commit point.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 1;

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
        if m.format_version != FORMAT_VERSION {
            anyhow::bail!(
                "the store at {} has layout version {}, this finops reads version {}",
                path.parent().unwrap_or(path).display(),
                m.format_version,
                FORMAT_VERSION
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

    pub fn batch_by_hash(&self, hash: &str) -> Option<&Batch> {
        self.batches.iter().find(|b| b.content_hash == hash)
    }
}
