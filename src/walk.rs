//! The inputs named on a command line: files, and directories walked recursively.
//!
//! The walk survives what a real or hostile tree holds: symbolic links are followed (an
//! exports folder is often a link), but each directory and each file is visited once
//! (by device and inode), so a link to `.` or `..`, or many links to one folder, cost
//! nothing; named pipes, sockets and devices are skipped with a note (reading a pipe would
//! block forever); unreadable directories are reported, and the rest of the walk goes on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use walkdir::WalkDir;

/// What a walk found.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files to read, in a stable order (as named; directories' files sorted by path).
    pub files: Vec<PathBuf>,
    /// Places that could not be read: (path, why). Reported as failures.
    pub problems: Vec<(PathBuf, String)>,
    /// What was skipped, for notes.
    pub notes: Vec<String>,
}

/// A file's identity on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileId(u64, u64);

#[cfg(unix)]
fn file_id(md: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId(md.dev(), md.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<FileId> {
    None
}

fn kind_of(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a named pipe";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "a device";
        }
    }
    let _ = ft;
    "not a regular file"
}

/// Expands `paths`: a file named is read whatever its name; a directory gives its files
/// whose names end with one of `extensions` (optionally `.gz`), hidden entries and `skip`
/// (the store itself) left out.
pub fn inputs(paths: &[PathBuf], extensions: &[&str], skip: Option<&Path>) -> Result<Inputs> {
    let mut out = Inputs::default();
    let skip = skip.and_then(|p| std::fs::canonicalize(p).ok());
    let mut seen_files: HashSet<FileId> = HashSet::new();
    let mut seen_dirs: HashSet<FileId> = HashSet::new();
    let (mut other_ext, mut special, mut loops, mut repeats) = (0usize, 0usize, 0usize, 0usize);
    for p in paths {
        let md = std::fs::metadata(p).map_err(|e| {
            anyhow::anyhow!("{}: {e}; nothing was ingested: check the path", p.display())
        })?;
        if md.is_file() {
            if file_id(&md).is_none_or(|id| seen_files.insert(id)) {
                out.files.push(p.clone());
            } else {
                repeats += 1;
            }
            continue;
        }
        if !md.is_dir() {
            anyhow::bail!(
                "{}: {}, not a file finops can read (reading it could wait forever); nothing was ingested: save the data to a file and name that",
                p.display(),
                kind_of(&md.file_type())
            );
        }
        let mut found = Vec::new();
        let walker = WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                if e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.') {
                    return false;
                }
                if !e.file_type().is_dir() {
                    return true;
                }
                if skip.is_some() && std::fs::canonicalize(e.path()).ok() == skip {
                    return false;
                }
                // Each directory once, however many links lead to it.
                match e.metadata().ok().as_ref().and_then(file_id) {
                    Some(id) => seen_dirs.insert(id),
                    None => true,
                }
            });
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) if e.loop_ancestor().is_some() => {
                    loops += 1;
                    continue;
                }
                Err(e) => {
                    let at = e.path().unwrap_or(p).to_path_buf();
                    let why = e
                        .io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string());
                    out.problems.push((at, format!("cannot read: {why}")));
                    continue;
                }
            };
            let ft = entry.file_type();
            if ft.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            let base = name.strip_suffix(".gz").unwrap_or(&name);
            if !extensions.iter().any(|x| base.ends_with(&format!(".{x}"))) {
                other_ext += 1;
                continue;
            }
            if !ft.is_file() {
                special += 1;
                continue;
            }
            match entry.metadata().ok().as_ref().and_then(file_id) {
                Some(id) if !seen_files.insert(id) => repeats += 1,
                _ => found.push(entry.into_path()),
            }
        }
        found.sort();
        out.files.extend(found);
    }
    if other_ext > 0 {
        out.notes.push(format!(
            "skipped {other_ext} file(s) that are not .{} (optionally .gz); name a file to ingest it anyway",
            extensions.join(", .")
        ));
    }
    if special > 0 {
        out.notes.push(format!(
            "skipped {special} named pipe(s), socket(s) or device(s): finops reads regular files"
        ));
    }
    if loops > 0 {
        out.notes.push(format!(
            "skipped {loops} symbolic link(s) that lead back to a folder being read"
        ));
    }
    if repeats > 0 {
        out.notes.push(format!(
            "{repeats} path(s) lead to a file already read (links, or a file named twice): each file is read once"
        ));
    }
    Ok(out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const EXT: &[&str] = &["csv", "jsonl"];

    #[test]
    fn links_loops_and_pipes_are_visited_once_or_skipped() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("exports");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.csv"), "x").unwrap();
        std::fs::write(root.join("sub/b.jsonl"), "x").unwrap();
        std::fs::write(root.join("notes.txt"), "x").unwrap();
        // Two links to `.`, one to `..`, two to the same sibling folder, a link to a file.
        symlink(".", root.join("self1")).unwrap();
        symlink(".", root.join("self2")).unwrap();
        symlink("..", root.join("sub/up")).unwrap();
        symlink("sub", root.join("again1")).unwrap();
        symlink("sub", root.join("again2")).unwrap();
        symlink("a.csv", root.join("alias.csv")).unwrap();
        let fifo = root.join("p.csv");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let found = inputs(std::slice::from_ref(&root), EXT, None).unwrap();
        let names: Vec<String> = found
            .files
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        // Each real file once: the first path to it in name order.
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let notes = found.notes.join("\n");
        assert!(notes.contains("skipped 1 file(s) that are not"), "{notes}");
        assert!(notes.contains("each file is read once"), "{notes}");
        if ok {
            assert!(notes.contains("1 named pipe(s)"), "{notes}");
            // A pipe named on the command line is refused at once, never opened.
            let e = inputs(&[fifo], EXT, None).unwrap_err().to_string();
            assert!(e.contains("a named pipe"), "{e}");
        }
    }

    #[test]
    fn a_link_fan_out_is_not_exponential() {
        // d0 → d1 → ... → d24, each holding two links to the next: 2^24 paths, 25 folders.
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("fan");
        for i in 0..25 {
            std::fs::create_dir_all(root.join(format!("d{i}"))).unwrap();
        }
        for i in 0..24 {
            let next = format!("../d{}", i + 1);
            symlink(&next, root.join(format!("d{i}/l1"))).unwrap();
            symlink(&next, root.join(format!("d{i}/l2"))).unwrap();
        }
        std::fs::write(root.join("d24/x.csv"), "x").unwrap();
        let found = inputs(&[root.join("d0")], EXT, None).unwrap();
        assert_eq!(found.files.len(), 1);
    }

    #[test]
    fn unreadable_folders_are_reported_and_the_rest_is_read() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("e");
        std::fs::create_dir_all(root.join("locked")).unwrap();
        std::fs::write(root.join("a.csv"), "x").unwrap();
        std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        let readable = std::fs::read_dir(root.join("locked")).is_ok(); // root ignores modes
        let found = inputs(std::slice::from_ref(&root), EXT, None).unwrap();
        std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert_eq!(found.files.len(), 1);
        if !readable {
            assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
        }
    }
}
