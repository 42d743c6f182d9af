use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = finops::cli::Cli::parse();
    match finops::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if finops::error::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("finops: error: {e:#}");
            ExitCode::from(finops::error::exit::ERROR)
        }
    }
}
