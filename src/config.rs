//! `finops.toml`: see docs/config.md for every key.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::cli::WeekStart;

/// The parsed config file. Unknown keys are errors, so a typo never passes silently.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Reporting currency, ISO 4217.
    pub currency: Option<String>,
    /// IANA time zone of report days, weeks and months.
    pub timezone: Option<String>,
    /// First day of the week in reports.
    pub week_start: Option<WeekStart>,
    /// The store directory, relative to the config file.
    pub store: Option<PathBuf>,
    /// Where token prices come from.
    #[serde(default)]
    pub pricing: Pricing,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// A price table in the LiteLLM `model_prices_and_context_window.json` shape, used
    /// instead of the bundled one. Relative to the config file.
    pub file: Option<PathBuf>,
}

/// The starter file `finops init` writes.
pub const STARTER: &str = include_str!("../docs/finops.starter.toml");

impl Config {
    /// Reads and checks a config file; errors name the file, the line and the key.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut cfg: Config = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(c) = &cfg.currency {
            if crate::model::Currency::parse(c).is_none() {
                anyhow::bail!(
                    "{}: key `currency`: {c:?} is not an ISO 4217 code (three letters, e.g. \"USD\")",
                    path.display()
                );
            }
        }
        if let Some(tz) = &cfg.timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                anyhow::bail!(
                    "{}: key `timezone`: {tz:?} is not an IANA time zone (e.g. \"UTC\", \"Europe/Berlin\")",
                    path.display()
                );
            }
        }
        if let Some(p) = cfg.pricing.file.take() {
            cfg.pricing.file = Some(base.join(p));
        }
        if let Some(p) = cfg.store.take() {
            cfg.store = Some(base.join(p));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_parses() {
        let c = Config::parse(STARTER, Path::new("finops.toml")).unwrap();
        assert_eq!(c.currency.as_deref(), Some("USD"));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = Config::parse(
            "currency = \"USD\"\ncurency = \"EUR\"\n",
            Path::new("f.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("f.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("curency"), "{err}");
    }

    #[test]
    fn wrong_type_and_bad_values() {
        let err = Config::parse("currency = 5\n", Path::new("f.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = Config::parse("currency = \"dollars\"\n", Path::new("f.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("currency"), "{err}");
        let err = Config::parse("timezone = \"Mars/Base\"\n", Path::new("f.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("timezone"), "{err}");
    }
}
