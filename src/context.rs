//! Everything the command line and the environment decide, resolved once: the store
//! path, the config, the output format and sink, the time zone, terminal checks.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{ColorWhen, Format, GlobalArgs, WeekStart};
use crate::config::Config;
use crate::period::Calendar;

pub struct Context {
    /// The store directory.
    pub store_dir: PathBuf,
    pub config: Config,
    /// The config file read, if any.
    pub config_path: Option<PathBuf>,
    /// The output format, `Auto` already resolved.
    pub format: Format,
    /// `-o FILE`; None is stdout.
    pub output: Option<PathBuf>,
    /// The report's time zone and week start (`--tz`, `--week-start`, config).
    pub calendar: Calendar,
    pub quiet: bool,
    /// Draw progress bars (stderr is a terminal, not quiet, not --no-progress).
    pub progress: bool,
    /// Style tables with colour.
    pub color: bool,
    /// The terminal's width, when a table goes to one (tables are fitted to it).
    pub width: Option<u16>,
}

impl Context {
    pub fn from_args(g: &GlobalArgs) -> Result<Context> {
        let config_path = match &g.config {
            Some(p) => {
                if !p.exists() {
                    anyhow::bail!(
                        "config file {} does not exist (given by --config or FINOPS_CONFIG); \
                         `finops init` writes a starter",
                        p.display()
                    );
                }
                Some(p.clone())
            }
            None => {
                let p = PathBuf::from("finops.toml");
                p.exists().then_some(p)
            }
        };
        let config = match &config_path {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        let store_dir = g
            .store
            .clone()
            .or_else(|| config.store.clone())
            .unwrap_or_else(|| PathBuf::from(".finops"));
        let output = g.output.clone().filter(|p| p.as_os_str() != "-");
        let stdout_tty = output.is_none() && std::io::stdout().is_terminal();
        let format = match g.format {
            Format::Auto if stdout_tty => Format::Table,
            Format::Auto => Format::Csv,
            f => f,
        };
        let tz_name =
            g.tz.clone()
                .or_else(|| config.timezone.clone())
                .unwrap_or_else(|| "UTC".into());
        let tz = tz_name.parse::<chrono_tz::Tz>().map_err(|_| {
            anyhow::anyhow!("--tz {tz_name:?} is not an IANA time zone (e.g. UTC, Europe/Berlin)")
        })?;
        let pinned_today = match std::env::var("FINOPS_TODAY") {
            Ok(v) if !v.trim().is_empty() => Some(
                crate::period::Day::parse(v.trim()).ok_or_else(|| {
                    anyhow::anyhow!(
                        "FINOPS_TODAY {:?} is not a date; give YYYY-MM-DD (the day taken as today) or unset it",
                        crate::error::clip(&v)
                    )
                })?,
            ),
            _ => None,
        };
        let week_start = g
            .week_start
            .or(config.week_start)
            .unwrap_or(WeekStart::Monday);
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match g.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => stdout_tty && !no_color,
        };
        // A table on a terminal fits its width ($COLUMNS, else the terminal's own);
        // redirected, it is drawn whole.
        let width = (stdout_tty && format == Format::Table)
            .then(|| {
                std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.trim().parse::<u16>().ok())
                    .filter(|&c| c >= 20)
                    .or_else(|| {
                        terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0)
                    })
            })
            .flatten();
        Ok(Context {
            width,
            store_dir,
            config,
            config_path,
            format,
            output,
            calendar: Calendar {
                tz,
                week_start,
                pinned_today,
            },
            quiet: g.quiet,
            progress: stderr_tty && !g.quiet && !g.no_progress,
            color,
        })
    }

    /// A note on stderr (suppressed by --quiet).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("finops: {}", msg.as_ref());
        }
    }

    /// A warning on stderr (suppressed by --quiet).
    pub fn warn(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("finops: warning: {}", msg.as_ref());
        }
    }

    /// A byte-counting progress bar on stderr, hidden unless progress is on.
    pub fn progress_bar(&self, len: u64, label: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} {msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        pb.set_style(style);
        pb.set_message(label.to_string());
        pb
    }

    /// The configured currency for inputs that name none.
    pub fn default_currency(&self) -> Result<crate::model::Currency> {
        let c = self.config.currency.as_deref().unwrap_or("USD");
        crate::model::Currency::parse(c).context("config currency")
    }
}
