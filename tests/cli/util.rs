//! The hermetic test helper: `finops` in a temp dir, config env vars removed, no colour.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The binary, run in this dir.
    pub fn finops(&self) -> Command {
        let mut c = Command::cargo_bin("finops").expect("binary");
        c.current_dir(self.path())
            .env_remove("FINOPS_STORE")
            .env_remove("FINOPS_CONFIG")
            .env_remove("FINOPS_FORMAT")
            .env_remove("FINOPS_TODAY")
            .env("NO_COLOR", "1")
            .env("TZ", "UTC");
        c
    }

    /// `finops ingest PATH`, which must succeed; the assertion, to read its output.
    pub fn ingest(&self, path: impl AsRef<std::ffi::OsStr>) -> assert_cmd::assert::Assert {
        self.finops().arg("ingest").arg(path).assert().success()
    }

    /// Writes a file (bytes) into the dir and returns its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn manifest(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path().join(".finops/manifest.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every file under the store, relative, sorted: to compare a store before and after.
    pub fn store_listing(&self) -> Vec<(String, Vec<u8>)> {
        let root = self.path().join(".finops");
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().unwrap() != "lock" {
                    let rel = p
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.push((rel, std::fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }
}

/// A bundled fixture.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The ingest summary (or any report) as parsed JSON.
pub fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

pub fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// The record ids of a data file's frame as 32 lowercase hex digits (they are stored as
/// 16 bytes, big-endian: docs/store.md).
pub fn record_id_texts(df: &polars::prelude::DataFrame) -> Vec<String> {
    df.column("record_id")
        .unwrap()
        .binary()
        .expect("record ids are stored as bytes")
        .iter()
        .map(|v| {
            let v = v.expect("every row has a record id");
            assert_eq!(v.len(), 16, "a record id is 16 bytes");
            v.iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect()
}

/// (record_id, cost as exact text, currency, charge_start µs, cost_is_estimate, request_id)
/// of every live row, read straight from the store's Parquet files.
pub fn store_rows(dir: &Dir) -> Vec<StoredRow> {
    use polars::prelude::{ParquetReader, SerReader};
    let m = dir.manifest();
    let mut out = Vec::new();
    for f in m["files"].as_array().unwrap() {
        let path = dir.path().join(".finops").join(f["path"].as_str().unwrap());
        let df = ParquetReader::new(std::fs::File::open(path).unwrap())
            .finish()
            .unwrap();
        let ids = record_id_texts(&df);
        let cost = df.column("cost").unwrap().decimal().unwrap().clone();
        let scale = cost.scale();
        let cost = cost.physical().clone();
        let cur = df.column("currency").unwrap().str().unwrap().clone();
        let ts = df
            .column("charge_start")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .clone();
        let est = df
            .column("cost_is_estimate")
            .unwrap()
            .bool()
            .unwrap()
            .clone();
        let req = df.column("request_id").unwrap().str().unwrap().clone();
        for i in 0..df.height() {
            out.push(StoredRow {
                record_id: ids.get(i).cloned().unwrap(),
                cost_units: cost.get(i).unwrap(),
                scale,
                currency: cur.get(i).unwrap_or("").to_string(),
                charge_start: ts.get(i).unwrap(),
                estimate: est.get(i).unwrap(),
                request_id: req.get(i).map(str::to_string),
            });
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct StoredRow {
    pub record_id: String,
    /// cost × 10^scale
    pub cost_units: i128,
    pub scale: usize,
    pub currency: String,
    pub charge_start: i64,
    pub estimate: bool,
    pub request_id: Option<String>,
}

/// A decimal text as units of 10^-18 (independent of finops' own parser).
pub fn atto(text: &str) -> i128 {
    let (neg, t) = text.strip_prefix('-').map_or((false, text), |r| (true, r));
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut frac = frac.to_string();
    while frac.len() < 18 {
        frac.push('0');
    }
    let v: i128 = format!("{int}{frac}").parse().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

/// Sum of stored costs of a currency, in 10^-18 units.
pub fn store_total(dir: &Dir, currency: &str) -> i128 {
    store_rows(dir)
        .iter()
        .filter(|r| r.currency == currency)
        .map(|r| {
            assert_eq!(r.scale, 18);
            r.cost_units
        })
        .sum()
}
