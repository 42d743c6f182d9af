use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    finops::error::install_panic_hook();
    let cli = finops::cli::Cli::parse();
    if matches!(cli.command, finops::cli::Command::Ingest(_)) {
        keep_freed_memory();
    }
    match finops::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if finops::error::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("finops: error: {e:#}");
            ExitCode::from(finops::error::exit::ERROR)
        }
    }
}

/// Ingest allocates and frees the same column buffers for every chunk of rows, on
/// different threads. By default glibc returns large blocks to the OS at once, and each
/// chunk then faults in fresh zeroed pages; keeping them cut an ingest's system time by
/// half (bench/README.md). Only for ingest: reports keep their peak memory low by giving
/// freed blocks back.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator tunables; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
