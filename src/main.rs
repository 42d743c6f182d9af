use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    finops::error::install_panic_hook();
    let cli = finops::cli::Cli::parse();
    if matches!(cli.command, finops::cli::Command::Ingest(_)) {
        keep_freed_memory();
    } else {
        limit_read_ahead();
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

/// Polars' streaming Parquet reader decodes up to 512 row groups ahead of a query (a whole
/// month of the store, in practice), so a report's memory would grow with the months it
/// reads. Two ahead keep both cores of a laptop busy: `report weekly` over the 5M-row
/// benchmark store peaks at ~400 MiB instead of 430–480 (bench/README.md). An explicit
/// setting wins.
fn limit_read_ahead() {
    const VAR: &str = "POLARS_ROW_GROUP_PREFETCH_SIZE";
    if std::env::var_os(VAR).is_none() {
        // Before any other thread exists (set_var is not thread-safe); clap spawns none.
        std::env::set_var(VAR, "2");
    }
}
