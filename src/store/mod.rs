//! The store (SPEC §2.3, docs/store.md): Parquet files in the canonical schema under
//! `data/<kind>/<YYYY-MM>/`, indexed by `manifest.json`.
//!
//! How a batch commits, all or nothing:
//! 1. its files are written under `staging/<batch_id>/` (same layout as the store);
//! 2. rows it restates are found in the existing files of the months it touches, and
//!    those files are rewritten without them, also into staging;
//! 3. the new files are renamed into `data/` under new names: no manifest lists them yet,
//!    so readers do not see them;
//! 4. `manifest.json` is replaced atomically, listing the new set of files: this is the
//!    commit point;
//! 5. replaced files are deleted, once no reader may still be reading them.
//!
//! A crash before 4 leaves the old manifest, unlisted files in `data/` and staging
//! leftovers, which the next writer deletes. After 4 the manifest lists only files that
//! are in `data/`.
//!
//! Writers hold an exclusive lock on `lock` for the whole batch, so they run one at a time.
//! Readers never wait for a writer and never write: they read `manifest.json` (always a
//! whole, committed version) and the files it lists, holding a shared lock on
//! `readers.lock` so that no writer deletes a file they may be reading (a writer deletes
//! replaced files only when it can take that lock exclusively; otherwise the next writer
//! does). On a read-only store readers take no lock at all.

mod columns;
mod ids;
pub mod manifest;
pub mod writer;

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use polars::prelude::{BooleanChunked, DataFrame, NewChunkedArray, ParquetReader, SerReader};

pub use ids::{hex_id, record_ids};
pub use manifest::{Batch, DataFile, Manifest};
pub use writer::{BatchWriter, StagedFile};

/// An open store: a writer holds `lock` until dropped; a reader holds a shared lock on
/// `readers.lock` (when it could take one).
pub struct Store {
    root: PathBuf,
    manifest: Manifest,
    _lock: Option<File>,
}

/// What committing a batch did.
#[derive(Debug)]
pub enum Commit {
    /// The batch is in the store; it replaced this many rows of earlier batches.
    Committed { replaced: u64 },
    /// A batch with the same content was already there: nothing changed.
    Unchanged(Box<Batch>),
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

const READERS_LOCK: &str = "readers.lock";

/// What a store's folder holds (docs/store.md); anything else makes it someone else's.
const STORE_ENTRIES: [&str; 7] = [
    "lock",
    READERS_LOCK,
    "manifest.json",
    "manifest.json.tmp",
    "data",
    "staging",
    "rejects",
];

/// A store path must be a directory (or not exist yet).
fn check_root(root: &Path) -> Result<()> {
    if let Ok(md) = std::fs::metadata(root) {
        if !md.is_dir() {
            anyhow::bail!(
                "the store {} is a file, not a directory; point --store (or FINOPS_STORE, or `store` in finops.toml) at a directory, which `finops ingest` creates when missing",
                root.display()
            );
        }
    }
    Ok(())
}

fn take_lock(root: &Path, note: &dyn Fn(&str)) -> Result<File> {
    let path = root.join("lock");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot open the store lock {} for writing (a read-only store? reports can still read it)",
                path.display()
            )
        })?;
    match f.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = File::open(&path).and_then(|mut h| h.read_to_string(&mut holder));
            let holder = holder.trim();
            note(&format!(
                "waiting for another finops ingest{} to finish with the store {}",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", crate::error::clip(holder))
                },
                root.display()
            ));
            f.lock()?
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
    let mut w = &f;
    let _ = f.set_len(0);
    let _ = write!(
        w,
        "pid {} ({})",
        std::process::id(),
        std::env::args()
            .skip(1)
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(f)
}

/// A reader's shared lock on `readers.lock`, or None where there is none to take (a
/// read-only store, a file system without locks): then no writer can be deleting either,
/// or the reader accepts the small risk rather than failing.
fn readers_lock(root: &Path) -> Option<File> {
    let f = File::open(root.join(READERS_LOCK)).ok()?;
    f.lock_shared().ok()?;
    Some(f)
}

impl Store {
    /// Creates an empty store at `root` if there is none. Returns whether it created one.
    pub fn create(root: &Path) -> Result<bool> {
        check_root(root)?;
        let manifest = root.join("manifest.json");
        if manifest.exists() {
            return Ok(false);
        }
        // Another finops may be creating this store right now: a folder that holds only
        // what a store holds is one in the making, not a stranger's folder.
        if root.exists() {
            let foreign = root
                .read_dir()?
                .flatten()
                .find(|e| !STORE_ENTRIES.contains(&e.file_name().to_string_lossy().as_ref()));
            if let Some(e) = foreign {
                anyhow::bail!(
                    "{} exists, is not empty ({} is in it) and is not a finops store; choose another --store",
                    root.display(),
                    crate::error::quote(&e.file_name().to_string_lossy())
                );
            }
        }
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create the store {}", root.display()))?;
        // The lock first: a second creator waits for it, then finds the manifest.
        let lock = take_lock(root, &|_| {})?;
        std::fs::create_dir_all(root.join("data"))
            .with_context(|| format!("cannot create the store {}", root.display()))?;
        if !manifest.exists() {
            Manifest::default().save(&manifest)?;
        }
        drop(lock);
        Ok(true)
    }

    /// Opens for writing: takes the exclusive lock (waiting for another writer, with a
    /// note) and cleans up whatever a crashed run left.
    pub fn open_write(root: &Path, note: &dyn Fn(&str)) -> Result<Store> {
        Store::create(root)?;
        let lock = take_lock(root, note)?;
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(root.join(READERS_LOCK))
            .with_context(|| format!("cannot create {}", root.join(READERS_LOCK).display()))?;
        let manifest = Manifest::load(&root.join("manifest.json"))?;
        let mut store = Store {
            root: root.to_path_buf(),
            manifest,
            _lock: Some(lock),
        };
        store.check_files()?;
        store.clean(Duration::ZERO)?;
        if store.manifest.format_version < manifest::FORMAT_VERSION {
            store.upgrade(note)?;
        }
        Ok(store)
    }

    /// Upgrades a layout-2 store (record ids as 32 hex digits) to the current layout (16
    /// bytes), as a batch commits: each data file is rewritten under a new name, the
    /// manifest listing the new files is the commit point, and the old files go as replaced
    /// files do. A crash before the commit leaves the store as it was; the next writer
    /// deletes the half-written files and upgrades again.
    fn upgrade(&mut self, note: &dyn Fn(&str)) -> Result<()> {
        note(&format!(
            "upgrading the store {} from layout {} to {} (record ids as 16 bytes): {} data files are rewritten once",
            self.root.display(),
            self.manifest.format_version,
            manifest::FORMAT_VERSION,
            self.manifest.files.len()
        ));
        let mut upgraded = self.manifest.clone();
        let mut dirs = std::collections::BTreeSet::new();
        for f in upgraded.files.iter_mut() {
            let old = self.root.join(&f.path);
            let file =
                File::open(&old).with_context(|| format!("cannot open {}", old.display()))?;
            let mut df = ParquetReader::new(file)
                .finish()
                .with_context(|| format!("cannot read {}", old.display()))?;
            let ids =
                ids::record_ids(&df).with_context(|| format!("cannot read {}", old.display()))?;
            df.replace("record_id", ids::ids_column(&ids))?;
            let stem = f.path.strip_suffix(".parquet").unwrap_or(&f.path);
            let rel = format!("{stem}-v{}.parquet", manifest::FORMAT_VERSION);
            let new = self.root.join(&rel);
            writer::write_parquet(&new, &df)?;
            if let Some(dir) = new.parent() {
                dirs.insert(dir.to_path_buf());
            }
            f.path = rel;
        }
        for dir in &dirs {
            sync_dir(dir)?;
        }
        upgraded.format_version = manifest::FORMAT_VERSION;
        upgraded.save(&self.root.join("manifest.json"))?;
        self.manifest = upgraded;
        self.clean(Duration::from_millis(200))
    }

    /// Opens for reading: the committed manifest and the files it lists, never waiting
    /// for a writer and never writing (so a read-only store reads too).
    pub fn open_read(root: &Path, _note: &dyn Fn(&str)) -> Result<Store> {
        check_root(root)?;
        if !root.join("manifest.json").exists() {
            anyhow::bail!(
                "no finops store at {} (`finops ingest FILE` creates one; --store or FINOPS_STORE point elsewhere)",
                root.display()
            );
        }
        let lock = readers_lock(root);
        let manifest = Manifest::load(&root.join("manifest.json"))?;
        let store = Store {
            root: root.to_path_buf(),
            manifest,
            _lock: lock,
        };
        store.check_files()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// A fresh staging directory for a batch.
    pub fn staging_dir(&self, batch_id: &str) -> Result<PathBuf> {
        let dir = self.root.join("staging").join(batch_id);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Drops a staged batch that will not be committed.
    pub fn discard(&self, batch_id: &str) {
        let _ = std::fs::remove_dir_all(self.root.join("staging").join(batch_id));
    }

    /// Every file the manifest lists must be in `data/`.
    fn check_files(&self) -> Result<()> {
        for f in &self.manifest.files {
            if !self.root.join(&f.path).is_file() {
                anyhow::bail!(
                    "the store {} is damaged: data file {} is listed in manifest.json but missing; restore it from a backup, or move the store aside and ingest the exports again",
                    self.root.display(),
                    f.path
                );
            }
        }
        Ok(())
    }

    /// Deletes staging leftovers (a writer's lock keeps other writers out) and, when no
    /// reader holds `readers.lock` (waiting up to `wait` for them), the files in `data/`
    /// that the manifest does not list: replaced versions and crash leftovers.
    fn clean(&self, wait: Duration) -> Result<()> {
        let staging = self.root.join("staging");
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("cannot clean {}", staging.display()))?;
        }
        let Ok(readers) = File::open(self.root.join(READERS_LOCK)) else {
            return Ok(());
        };
        let start = Instant::now();
        loop {
            match readers.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                // Readers are still at work: the next writer deletes what is left.
                Err(_) => return Ok(()),
            }
        }
        let listed: HashSet<&str> = self
            .manifest
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        let data = self.root.join("data");
        if data.exists() {
            for path in walk(&data)? {
                let rel = rel_path(&self.root, &path);
                if !listed.contains(rel.as_str()) {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                }
            }
            remove_empty_dirs(&data)?;
        }
        drop(readers);
        Ok(())
    }

    /// The sum of the magnitudes of every amount the store holds, an upper bound kept in
    /// the manifest (docs/store.md#amounts-and-their-sums).
    pub fn magnitude(&self) -> u128 {
        self.manifest.magnitude()
    }

    /// Commits a staged batch (see the module docs).
    pub fn commit(&mut self, mut batch: Batch, staged: Vec<StagedFile>) -> Result<Commit> {
        if let Some(b) = self.manifest.batch_by_hash(&batch.content_hash) {
            let b = Box::new(b.clone());
            self.discard(&batch.batch_id);
            return Ok(Commit::Unchanged(b));
        }
        let staging = self.root.join("staging").join(&batch.batch_id);
        let mut new_manifest = self.manifest.clone();
        let mut superseded: BTreeMap<String, u64> = BTreeMap::new();
        let mut rewrites = 0usize;
        let mut by_month: BTreeMap<String, Vec<&StagedFile>> = BTreeMap::new();
        for s in &staged {
            by_month.entry(s.month.to_string()).or_default().push(s);
        }
        let mut moved: Vec<String> = staged.iter().map(|s| s.rel_path.clone()).collect();
        for (month, files) in &by_month {
            let existing: Vec<DataFile> = new_manifest
                .files
                .iter()
                .filter(|f| f.kind == batch.kind && &f.month == month)
                .cloned()
                .collect();
            if existing.is_empty() {
                continue;
            }
            let mut new_ids: HashSet<u128> = HashSet::new();
            for s in files {
                new_ids.extend(read_ids(&staging.join(&s.rel_path))?);
            }
            for old in existing {
                let path = self.root.join(&old.path);
                let ids = read_ids(&path)?;
                if !ids.iter().any(|id| new_ids.contains(id)) {
                    continue;
                }
                let keep: Vec<bool> = ids.iter().map(|id| !new_ids.contains(id)).collect();
                let (kept, removed) = rewrite_without(&path, &keep)?;
                for (b, n) in removed {
                    *superseded.entry(b).or_default() += n;
                }
                new_manifest.files.retain(|f| f.path != old.path);
                if let Some(df) = kept {
                    let rel = format!(
                        "data/{}/{}/{}-r{}.parquet",
                        batch.kind, month, batch.batch_id, rewrites
                    );
                    rewrites += 1;
                    let full = staging.join(&rel);
                    writer::write_parquet(&full, &df)?;
                    moved.push(rel.clone());
                    new_manifest.files.push(DataFile {
                        path: rel,
                        batch_id: batch.batch_id.clone(),
                        kind: old.kind.clone(),
                        month: old.month.clone(),
                        rows: df.height() as u64,
                    });
                }
            }
        }
        let replaced: u64 = superseded.values().sum();
        for b in new_manifest.batches.iter_mut() {
            if let Some(n) = superseded.get(&b.batch_id) {
                b.rows_superseded += n;
            }
        }
        batch.rows_replaced = replaced;
        for s in &staged {
            new_manifest.files.push(DataFile {
                path: s.rel_path.clone(),
                batch_id: batch.batch_id.clone(),
                kind: batch.kind.clone(),
                month: s.month.to_string(),
                rows: s.rows,
            });
        }
        new_manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
        new_manifest.batches.push(batch);
        // Into data/ before the commit point: unlisted, so invisible to readers until the
        // manifest names them, and never left in staging by a crash after it.
        let mut dirs = std::collections::BTreeSet::new();
        for rel in &moved {
            let src = staging.join(rel);
            let dst = self.root.join(rel);
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
                dirs.insert(parent.to_path_buf());
            }
            std::fs::rename(&src, &dst)
                .with_context(|| format!("cannot move {} into place", src.display()))?;
        }
        for d in &dirs {
            sync_dir(d)?;
        }
        new_manifest.save(&self.root.join("manifest.json"))?;
        self.manifest = new_manifest;
        // Readers of the old manifest may still read the replaced files: give them a
        // moment, else leave the files to the next writer.
        self.clean(Duration::from_millis(200))?;
        Ok(Commit::Committed { replaced })
    }
}

/// The record ids of a data file.
fn read_ids(path: &Path) -> Result<Vec<u128>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let df = ParquetReader::new(f)
        .with_columns(Some(vec!["record_id".into()]))
        .finish()
        .with_context(|| format!("cannot read {}", path.display()))?;
    ids::record_ids(&df).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads a data file and keeps the rows marked `keep`. Returns the kept rows (None when
/// none are left) and how many rows of each batch were dropped.
fn rewrite_without(
    path: &Path,
    keep: &[bool],
) -> Result<(Option<DataFrame>, BTreeMap<String, u64>)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let df = ParquetReader::new(f)
        .finish()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut removed: BTreeMap<String, u64> = BTreeMap::new();
    let batches = df.column("batch_id")?.str()?.clone();
    for (b, k) in batches.iter().zip(keep) {
        if !k {
            *removed.entry(b.unwrap_or("").to_string()).or_default() += 1;
        }
    }
    let mask = BooleanChunked::from_slice("keep".into(), keep);
    let kept = df.filter(&mask)?;
    Ok(((kept.height() > 0).then_some(kept), removed))
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn remove_empty_dirs(dir: &Path) -> Result<bool> {
    let mut empty = true;
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            if remove_empty_dirs(&p)? {
                std::fs::remove_dir(&p)?;
            } else {
                empty = false;
            }
        } else {
            empty = false;
        }
    }
    Ok(empty)
}

fn rel_path(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_in_the_making_is_not_a_strangers_folder() {
        // What a concurrent `finops ingest` leaves while it creates the store (the folder,
        // its lock, `data/`) must not make a second one refuse it: the race that failed
        // `two_ingests_at_once_both_end_correctly` now and then.
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("store");
        std::fs::create_dir_all(root.join("data")).unwrap();
        assert!(Store::create(&root).unwrap());
        assert!(root.join("manifest.json").exists());
        assert!(!Store::create(&root).unwrap());
        // A folder with anything else in it is someone else's.
        let other = tmp.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        let e = Store::create(&other).unwrap_err().to_string();
        assert!(
            e.contains("is not a finops store") && e.contains("notes.txt"),
            "{e}"
        );
        assert!(!other.join("manifest.json").exists());
    }
}
