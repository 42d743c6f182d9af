//! `finops init`: a commented starter `finops.toml` and an empty store.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::cli::InitArgs;
use crate::config::STARTER;
use crate::context::Context;
use crate::error::exit;
use crate::store::Store;

pub fn run(ctx: &Context, args: &InitArgs) -> Result<u8> {
    let path = ctx
        .config_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("finops.toml"));
    if path.exists() && !args.force {
        ctx.note(format!(
            "{} exists; left as it is (--force overwrites it)",
            path.display()
        ));
    } else {
        std::fs::write(&path, STARTER)
            .with_context(|| format!("cannot write {}", path.display()))?;
        ctx.note(format!("wrote {}", path.display()));
    }
    if Store::create(&ctx.store_dir)? {
        ctx.note(format!(
            "created an empty store in {}",
            ctx.store_dir.display()
        ));
    } else {
        ctx.note(format!(
            "store {} exists; left as it is",
            ctx.store_dir.display()
        ));
    }
    ctx.note("next: finops ingest <exports>   (docs/commands/ingest.md)");
    Ok(exit::OK)
}
