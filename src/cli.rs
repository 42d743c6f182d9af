//! The command line, as clap derive structs. Only what the user typed lives here;
//! [`crate::context::Context`] resolves it (store path, config, output format, tty).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::source::SourceFormat;
use crate::timeparse::Month;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  a check (budget check, policy check, anomalies --check) found something
  2  a usage or input error

Data goes to stdout; progress, warnings and notes go to stderr.
Docs: docs/ in the source tree (one page per command and concept).";

/// FinOps for LLM and AI spend: ingest provider bills and request logs into an exact local
/// store, attribute every dollar, and print the reports people act on.
#[derive(Debug, Parser)]
#[command(name = "finops", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The store directory [default: ./.finops]
    #[arg(long, global = true, env = "FINOPS_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// The config file [default: ./finops.toml when present]
    #[arg(long, global = true, env = "FINOPS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format; auto is a table on a terminal and CSV otherwise
    #[arg(long, global = true, value_enum, default_value_t = Format::Auto, env = "FINOPS_FORMAT")]
    pub format: Format,

    /// Write the report to FILE instead of stdout ("-" is stdout)
    #[arg(short = 'o', long, global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Time zone of days, weeks and months in reports (IANA name) [default: config, else UTC]
    #[arg(long, global = true, value_name = "TZ")]
    pub tz: Option<String>,

    /// First day of a week in reports [default: config, else monday]
    #[arg(long, global = true, value_enum)]
    pub week_start: Option<WeekStart>,

    /// Print no notes or warnings on stderr (errors still print)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Never draw a progress bar
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Colour in tables
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter finops.toml and create an empty store
    Init(InitArgs),
    /// Ingest bills and request logs (files or directories) into the store
    Ingest(IngestArgs),
    /// List the ingested batches, from the store's manifest
    Sources(SourcesArgs),
    /// Per team: budget, direct cost, shared cost allocated, unattributed share, total
    /// charged, reconciled to the month's billed total
    Chargeback(ChargebackArgs),
    /// The month's unattributed spend by provider, account, project, key and tag set,
    /// largest first, so that it can be tagged
    Untagged(UntaggedArgs),
    /// Spend per team (or --by team,feature,model,provider,environment), requests, cost per
    /// request, change against the previous month and a trend; no money moves
    Showback(ShowbackArgs),
    /// The weekly cost review and the monthly summary
    #[command(subcommand)]
    Report(ReportCommand),
    /// What a per-session cap would have done: per feature, sessions cut, requests
    /// refused, money avoided and its share of spend
    Simulate(SimulateArgs),
    /// Anomaly events (session, feature-day, product-week), each with its baseline,
    /// multiplier, impact and the owner to escalate to; --check exits 1 when any
    Anomalies(AnomaliesArgs),
    /// Budgets of teams, features and experiments: month to date, utilisation, status,
    /// forecast and the day each threshold is crossed
    #[command(subcommand)]
    Budget(BudgetCommand),
    /// Model-tier governance: spend on premium models outside an approval
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Every budget: month to date, utilisation, status and action, forecast, and the day
    /// each threshold is crossed (actual or projected)
    Status(BudgetArgs),
    /// The budgets that crossed a threshold (or whose forecast does, with `[alerts]
    /// on_forecast = true`); exits 1 when any
    Check(BudgetArgs),
}

#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// The month, YYYY-MM, in the report's time zone [default: the current month]
    #[arg(long, value_name = "YYYY-MM", value_parser = crate::period::parse_month_arg)]
    pub month: Option<Month>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Spend on `[models] premium` models by teams and features without a valid
    /// `[[approval]]`; exits 1 when any
    Check(PolicyArgs),
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The month, YYYY-MM, in the report's time zone [default: the current month]
    #[arg(long, value_name = "YYYY-MM", value_parser = crate::period::parse_month_arg)]
    pub month: Option<Month>,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Per feature: spend, median and P95 cost per session, anomaly events, sessions a
    /// per-session cap would have stopped and what it would have saved; the change against
    /// the previous week, budget status and cost owner
    Weekly(WeeklyArgs),
    /// The executive summary of a month: total, budget remaining, forecast, spend by team,
    /// model, provider and day, anomalies, cache hit rate, premium share, unit costs,
    /// cost-to-value
    Monthly(MonthlyArgs),
}

#[derive(Debug, Args)]
pub struct MonthlyArgs {
    /// The month, YYYY-MM [default: the current month, to date]
    #[arg(long, value_name = "YYYY-MM", value_parser = crate::period::parse_month_arg)]
    pub month: Option<Month>,
}

#[derive(Debug, Args)]
pub struct WeeklyArgs {
    /// The week: an ISO week (2026-W45) or any date in it [default: the last complete
    /// week]
    #[arg(long, value_name = "WEEK")]
    pub week: Option<crate::period::WeekArg>,

    /// Only this feature
    #[arg(long, value_name = "NAME")]
    pub feature: Option<String>,

    /// Only the features of this team
    #[arg(long, value_name = "NAME")]
    pub team: Option<String>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The cap: the most a session may spend before its next request is refused, in the
    /// reporting currency (e.g. 2.50)
    #[arg(long, value_name = "AMOUNT", value_parser = parse_cap)]
    pub session_cap: crate::money::Money,

    /// Only this feature
    #[arg(long, value_name = "NAME")]
    pub feature: Option<String>,

    /// A month, YYYY-MM [default: the current month, to date]
    #[arg(long, value_name = "YYYY-MM", value_parser = crate::period::parse_month_arg,
          conflicts_with = "week")]
    pub month: Option<Month>,

    /// A week instead: an ISO week (2026-W45) or any date in it
    #[arg(long, value_name = "WEEK")]
    pub week: Option<crate::period::WeekArg>,

    /// List the requests the cap would have refused instead of the per-feature table
    #[arg(long)]
    pub requests: bool,
}

/// A positive amount for `--session-cap`.
fn parse_cap(s: &str) -> Result<crate::money::Money, String> {
    match crate::money::Money::parse(s) {
        Ok(m) if m > crate::money::Money::ZERO => Ok(m),
        Ok(_) => Err(format!(
            "{} is not a positive amount: a cap of zero or less would refuse every request; give e.g. 2.50",
            crate::error::quote(s)
        )),
        Err(_) => Err(format!(
            "{} is not an amount: write a decimal number in the reporting currency, e.g. 2.50",
            crate::error::quote(s)
        )),
    }
}

#[derive(Debug, Args)]
pub struct AnomaliesArgs {
    /// The first day of the window, YYYY-MM-DD [default: 6 days before --until]
    #[arg(long, value_name = "DATE", value_parser = crate::period::parse_day_arg)]
    pub since: Option<crate::period::Day>,

    /// The last day of the window, YYYY-MM-DD [default: today]
    #[arg(long, value_name = "DATE", value_parser = crate::period::parse_day_arg)]
    pub until: Option<crate::period::Day>,

    /// Only this feature's events (product-week events are always shown)
    #[arg(long, value_name = "NAME")]
    pub feature: Option<String>,

    /// Exit 1 when any event falls in the window (for cron and CI)
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ShowbackArgs {
    /// The invoice month, YYYY-MM (as for chargeback)
    #[arg(long, value_name = "YYYY-MM", value_parser = crate::period::parse_month_arg)]
    pub month: Month,

    /// What to group by, comma-separated [default: team]
    #[arg(long, value_enum, value_delimiter = ',')]
    pub by: Vec<Dimension>,

    /// Months in the trend, the report's month included (1 to 120)
    #[arg(long, default_value_t = 6, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=120))]
    pub months: u32,
}

/// A showback dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dimension {
    Team,
    Feature,
    Model,
    Provider,
    Environment,
}

impl Dimension {
    pub fn key(self) -> &'static str {
        match self {
            Dimension::Team => "team",
            Dimension::Feature => "feature",
            Dimension::Model => "model",
            Dimension::Provider => "provider",
            Dimension::Environment => "environment",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Dimension::Team => "Team",
            Dimension::Feature => "Feature",
            Dimension::Model => "Model",
            Dimension::Provider => "Provider",
            Dimension::Environment => "Environment",
        }
    }
}

#[derive(Debug, Args)]
pub struct UntaggedArgs {
    /// The invoice month, YYYY-MM (as for chargeback)
    #[arg(long, value_name = "YYYY-MM", value_parser = crate::period::parse_month_arg)]
    pub month: Month,
}

#[derive(Debug, Args)]
pub struct ChargebackArgs {
    /// The invoice month, YYYY-MM: bill rows of this billing period, request logs of this
    /// calendar month (UTC)
    #[arg(long, value_name = "YYYY-MM", value_parser = crate::period::parse_month_arg)]
    pub month: Month,

    /// List each allocation (shared pools, unattributed spend) with its method, driver and
    /// ratio instead of the per-team table
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing config file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or directories (read recursively); .gz files are decompressed
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The input format, instead of detecting it from each file's content
    #[arg(long, value_enum, value_name = "NAME")]
    pub source: Option<SourceFormat>,

    /// Parse and summarise; write nothing to the store
    #[arg(long)]
    pub dry_run: bool,

    /// Ingest the valid rows of a file and write the invalid ones, with their reasons, to a
    /// rejects file (its path is printed); without it a file with an invalid row is
    /// rejected whole
    #[arg(long)]
    pub skip_invalid: bool,

    /// Currency of files that name none (e.g. FOCUS without BillingCurrency)
    /// [default: config currency, else USD]
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,

    /// A price table (LiteLLM's model_prices_and_context_window.json shape) for rows with
    /// tokens but no cost, instead of `[pricing] file` or the bundled table
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SourcesArgs {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table on a terminal, CSV otherwise
    Auto,
    /// An aligned table with a totals row and notes
    Table,
    /// Comma-separated, a header row, raw values (for spreadsheets)
    Csv,
    /// Tab-separated, a header row, raw values
    Tsv,
    /// One JSON object: report, period, parameters, rows, totals, notes
    Json,
    /// One JSON object per row
    Jsonl,
    /// A Markdown table
    #[value(alias = "md")]
    Markdown,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum WeekStart {
    Monday,
    Sunday,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_anywhere() {
        let cli = Cli::try_parse_from([
            "finops",
            "ingest",
            "a.csv",
            "--store",
            "/tmp/s",
            "--format",
            "json",
            "--source",
            "usage-log",
        ])
        .unwrap();
        assert_eq!(cli.global.format, Format::Json);
        assert_eq!(cli.global.store, Some(PathBuf::from("/tmp/s")));
        match cli.command {
            Command::Ingest(a) => assert_eq!(a.source, SourceFormat::parse("usage-log")),
            _ => panic!(),
        }
    }

    #[test]
    fn trend_months_are_bounded() {
        let parse = |n: &str| {
            Cli::try_parse_from(["finops", "showback", "--month", "2024-09", "--months", n])
        };
        assert!(parse("1").is_ok() && parse("120").is_ok());
        for bad in ["0", "121", "2147483648", "-1", "x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ingest_needs_a_path() {
        assert!(Cli::try_parse_from(["finops", "ingest"]).is_err());
    }
}
