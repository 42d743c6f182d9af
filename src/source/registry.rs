//! The one list of source formats. `ingest` detection, `--source`, the errors for files no
//! format matches, and `finops ingest --help` all read [`FORMATS`]; adding a format is a
//! module with a [`Format`] and one line here.

use std::fmt;
use std::path::Path;

use anyhow::Result;

use super::{ReadOptions, RowParser, Syntax};
use crate::model::Kind;

/// Builds a format's row parser for a file with these column names (CSV and Parquet: the
/// header; JSON: the format's [`Format::columns`]). Checks required columns (an error
/// names the file, the column and the fix) and pushes notes about what the file lacks.
pub type ParserFn = for<'a> fn(
    &Path,
    &[String],
    &'a ReadOptions<'a>,
    &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>>;

/// A source format: how to recognise it and how to read its records.
pub struct Format {
    /// The `--source` value and the store's `source_format`, e.g. `openai-costs`.
    pub name: &'static str,
    /// Billed amounts or requests.
    pub kind: Kind,
    /// What files it reads, in a line.
    pub about: &'static str,
    /// Its page under docs/.
    pub doc: &'static str,
    /// For JSON inputs: the key paths the parser reads, dotted through objects
    /// (`amount.value`). A listed path whose value is an object or array comes whole.
    pub columns: &'static [&'static str],
    /// Columns it cannot do without (for "closest format" errors).
    pub required: &'static [&'static str],
    /// 0 when the probe is not this format; otherwise how sure (FOCUS with BilledCost: 90).
    pub detect: fn(&Probe) -> u8,
    pub parser: ParserFn,
}

/// Every format finops reads, in the order `--help` lists them.
pub static FORMATS: &[&Format] = &[
    &super::focus::FORMAT,
    &super::usage_log::FORMAT,
    &super::openai::COSTS,
    &super::openai::USAGE,
    &super::anthropic::COST,
    &super::anthropic::USAGE,
    &super::aws::FORMAT,
    &super::azure::FORMAT,
    &super::oci::FORMAT,
    &super::gcp::FORMAT,
    &super::litellm::FORMAT,
    &super::helicone::FORMAT,
    &super::langfuse::FORMAT,
];

/// A format, chosen once (by detection or `--source`) and passed around by reference.
#[derive(Clone, Copy)]
pub struct SourceFormat(&'static Format);

impl SourceFormat {
    pub fn parse(name: &str) -> Option<SourceFormat> {
        FORMATS
            .iter()
            .find(|f| f.name == name)
            .map(|f| SourceFormat(f))
    }

    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    pub fn kind(self) -> Kind {
        self.0.kind
    }

    pub fn format(self) -> &'static Format {
        self.0
    }

    /// The names `--source` accepts.
    pub fn names() -> Vec<&'static str> {
        FORMATS.iter().map(|f| f.name).collect()
    }
}

impl PartialEq for SourceFormat {
    fn eq(&self, o: &Self) -> bool {
        self.0.name == o.0.name
    }
}

impl Eq for SourceFormat {}

impl std::hash::Hash for SourceFormat {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.name.hash(h)
    }
}

impl PartialOrd for SourceFormat {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for SourceFormat {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.name.cmp(o.0.name)
    }
}

impl fmt::Debug for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceFormat({})", self.0.name)
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl clap::ValueEnum for SourceFormat {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::OnceLock<Vec<SourceFormat>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| FORMATS.iter().map(|f| SourceFormat(f)).collect())
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name).help(self.0.about))
    }
}

/// What detection sees of a file: its column names (CSV header, Parquet schema) or the key
/// paths of its first JSON row.
pub struct Probe {
    pub syntax: Syntax,
    columns: Vec<String>,
    lower: Vec<String>,
}

impl Probe {
    pub fn new(syntax: Syntax, columns: Vec<String>) -> Probe {
        let lower = columns
            .iter()
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        Probe {
            syntax,
            columns,
            lower,
        }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Whether a column (or JSON key path) of this name is present, any case.
    pub fn has(&self, name: &str) -> bool {
        self.lower.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// How many of `names` are present.
    pub fn count(&self, names: &[&str]) -> usize {
        names.iter().filter(|n| self.has(n)).count()
    }

    pub fn has_all(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.has(n))
    }

    /// Whether any column starts with `prefix`, any case.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let p = prefix.to_ascii_lowercase();
        self.lower.iter().any(|c| c.starts_with(&p))
    }

    /// Is JSON (lines or a document)?
    pub fn is_json(&self) -> bool {
        matches!(self.syntax, Syntax::JsonLines | Syntax::Json)
    }
}

/// The verdict of detection.
pub enum Detected {
    Format(SourceFormat),
    /// No format claims the file; the closest by required columns and what it lacks.
    Unknown {
        closest: Option<(&'static Format, Vec<&'static str>)>,
    },
}

/// The surest format for a probe. Ties go to the earlier format in [`FORMATS`].
pub fn detect(probe: &Probe) -> Detected {
    let mut best: Option<(u8, &'static Format)> = None;
    for f in FORMATS {
        let score = (f.detect)(probe);
        if score > 0 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, f));
        }
    }
    if let Some((_, f)) = best {
        return Detected::Format(SourceFormat(f));
    }
    let closest = FORMATS
        .iter()
        .map(|f| {
            let have = f.required.iter().filter(|c| probe.has(c)).count();
            let missing: Vec<&'static str> = f
                .required
                .iter()
                .filter(|c| !probe.has(c))
                .copied()
                .collect();
            (have, f, missing)
        })
        .filter(|(have, _, _)| *have > 0)
        .max_by_key(|(have, f, _)| (*have, std::cmp::Reverse(f.required.len())))
        .map(|(_, f, missing)| (*f, missing));
    Detected::Unknown { closest }
}

/// The formats as a list for messages: `focus (FOCUS 1.0–1.3 ...), usage-log (...)`.
pub fn known_formats() -> String {
    FORMATS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_a_unique_name_a_page_and_required_columns() {
        let mut names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FORMATS.len());
        for f in FORMATS {
            assert!(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(f.doc)
                    .is_file(),
                "{} has no page {}",
                f.name,
                f.doc
            );
            assert!(!f.required.is_empty(), "{}", f.name);
            // A file with exactly the required columns is recognised as the format.
            let p = Probe::new(
                Syntax::Csv {
                    delimiter: b',',
                    crlf: false,
                },
                f.required.iter().map(|c| c.to_string()).collect(),
            );
            match detect(&p) {
                Detected::Format(g) => assert_eq!(g.as_str(), f.name),
                Detected::Unknown { .. } => {
                    panic!("{} not detected from its required columns", f.name)
                }
            }
        }
    }
}
