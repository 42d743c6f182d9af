//! Errors that name the file, the place and the fix, and the exit codes (SPEC §3).

use std::fmt;
use std::path::{Path, PathBuf};

/// Process exit codes.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A check (`budget check`, `policy check`, `anomalies --check`) found something.
    pub const CHECK_FAILED: u8 = 1;
    /// A usage or input error.
    pub const ERROR: u8 = 2;
}

/// Where in a file something is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// 1-based line of the record (CSV: the line it starts on; JSON Lines: the line).
    pub line: Option<u64>,
    /// The column (CSV header name or JSON field).
    pub column: Option<String>,
}

impl Place {
    pub fn line(line: u64) -> Place {
        Place {
            line: Some(line),
            column: None,
        }
    }
    pub fn cell(line: u64, column: impl Into<String>) -> Place {
        Place {
            line: Some(line),
            column: Some(column.into()),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, &self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {}", quote(c)),
            (Some(l), None) => write!(f, "line {l}"),
            (None, Some(c)) => write!(f, "column {}", quote(c)),
            (None, None) => Ok(()),
        }
    }
}

/// The most characters of a cell, a header or a config value echoed in a message.
pub const SHOWN_CHARS: usize = 80;

/// `text` as it may appear in a message: at most [`SHOWN_CHARS`] characters, control
/// characters escaped; a longer text is cut with a note of its length. A hostile 1 MB
/// cell costs the reader one line, not a screenful.
pub fn clip(text: &str) -> String {
    let mut out = String::new();
    for (shown, c) in text.chars().enumerate() {
        if shown == SHOWN_CHARS {
            out.push_str(&format!("… ({} characters in all)", text.chars().count()));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `"text"`, clipped ([`clip`]).
pub fn quote(text: &str) -> String {
    format!("\"{}\"", clip(text))
}

/// Bad input: the file, the place, what is wrong and how to fix it.
#[derive(Debug, Clone)]
pub struct InputError {
    pub path: PathBuf,
    pub place: Place,
    pub reason: String,
    pub fix: Option<String>,
}

impl InputError {
    pub fn new(path: &Path, place: Place, reason: impl Into<String>) -> InputError {
        InputError {
            path: path.to_path_buf(),
            place,
            reason: reason.into(),
            fix: None,
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> InputError {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.place != Place::default() {
            write!(f, ": {}", self.place)?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n  fix: {fix}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// Panics raised inside [`catch_quietly`] (in any thread: polars reads on its pool), which
/// the caller turns into an error: the panic hook stays silent for them.
static QUIET_PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Installs a panic hook that is silent while [`catch_quietly`] runs and the default one
/// otherwise. Called once by `main`.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if QUIET_PANICS.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            default(info);
        }
    }));
}

/// Runs `f`, turning a panic (of a third-party reader on hostile input) into `Err` without
/// printing it; the caller reports a proper error instead.
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    use std::sync::atomic::Ordering;
    QUIET_PANICS.fetch_add(1, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_PANICS.fetch_sub(1, Ordering::SeqCst);
    r
}

/// True when the error chain holds a closed pipe (`finops ... | head`): exit 0 quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<csv::Error>()
                .is_some_and(|c| match c.kind() {
                    csv::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::BrokenPipe,
                    _ => false,
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_odd_cells_are_clipped() {
        let long = "x".repeat(1_000_000);
        let q = quote(&long);
        assert!(q.len() < 140, "{}", q.len());
        assert!(q.ends_with("… (1000000 characters in all)\""), "{q}");
        assert_eq!(quote("a\nb\u{1b}"), "\"a\\nb\\u{1b}\"");
        assert_eq!(quote("é€"), "\"é€\"");
        assert_eq!(
            Place::cell(3, "y".repeat(500)).to_string().chars().count(),
            "line 3, column \"\"".len() + SHOWN_CHARS + "… (500 characters in all)".chars().count()
        );
    }

    #[test]
    fn message_names_file_place_and_fix() {
        let e = InputError::new(
            Path::new("bills/oct.csv"),
            Place::cell(12, "BilledCost"),
            "\"1,234.50\" is not a plain number",
        )
        .fix("export amounts without thousands separators");
        assert_eq!(
            e.to_string(),
            "bills/oct.csv: line 12, column \"BilledCost\": \"1,234.50\" is not a plain number\n  fix: export amounts without thousands separators"
        );
    }
}
