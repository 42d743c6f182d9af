//! finops: FinOps for LLM and AI spend. See README.md and docs/.

pub mod allocate;
pub mod anomaly;
pub mod attribution;
pub mod breaker;
pub mod budget;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod context;
pub mod error;
pub mod json;
pub mod metrics;
pub mod model;
pub mod money;
pub mod monthly;
pub mod org;
pub mod output;
pub mod period;
pub mod policy;
pub mod pricing;
pub mod query;
pub mod simulate;
pub mod source;
pub mod spend;
pub mod store;
pub mod timeparse;
pub mod walk;
pub mod weekly;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::context::Context;

/// Runs a parsed command line; returns the exit code (SPEC §3).
pub fn run(cli: Cli) -> Result<u8> {
    let ctx = Context::from_args(&cli.global)?;
    match &cli.command {
        Command::Init(a) => cmd::init::run(&ctx, a),
        Command::Ingest(a) => cmd::ingest::run(&ctx, a),
        Command::Sources(a) => cmd::sources::run(&ctx, a),
        Command::Chargeback(a) => cmd::chargeback::run(&ctx, a),
        Command::Untagged(a) => cmd::untagged::run(&ctx, a),
        Command::Showback(a) => cmd::showback::run(&ctx, a),
        Command::Report(r) => cmd::report::run(&ctx, r),
        Command::Anomalies(a) => cmd::anomalies::run(&ctx, a),
        Command::Simulate(a) => cmd::simulate::run(&ctx, a),
        Command::Budget(b) => cmd::budget::run(&ctx, b),
        Command::Policy(p) => cmd::policy::run(&ctx, p),
    }
}
