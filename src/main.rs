use std::process::ExitCode;

use clap::Parser;

/// polars allocates and frees large column buffers all the time; mimalloc keeps them
/// instead of handing pages back to the OS after every chunk.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
