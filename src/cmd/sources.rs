//! `finops sources`: the ingested batches, from the manifest.

use anyhow::Result;

use crate::cli::SourcesArgs;
use crate::context::Context;
use crate::error::exit;
use crate::money::Money;
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::store::Store;

const COLUMNS: [Column; 12] = [
    Column::new("batch_id", "Batch", ColumnKind::Text),
    Column::new("ingested_at", "Ingested at", ColumnKind::Text),
    Column::new("format", "Format", ColumnKind::Text),
    Column::new("kind", "Kind", ColumnKind::Text),
    Column::new("source_path", "Source", ColumnKind::Path),
    Column::new("rows", "Rows", ColumnKind::Int),
    Column::new("rejected", "Rejected", ColumnKind::Int),
    Column::new("replaced", "Replaced", ColumnKind::Int),
    Column::new("superseded", "Superseded", ColumnKind::Int),
    Column::new("period", "Period", ColumnKind::Text),
    Column::new("currency", "Currency", ColumnKind::Text),
    Column::new("total", "Total", ColumnKind::Money),
];

pub fn run(ctx: &Context, _args: &SourcesArgs) -> Result<u8> {
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let m = store.manifest();
    let mut r = Report::new("sources", "Ingested batches", COLUMNS.to_vec());
    r.parameters
        .insert("store".into(), store.root().display().to_string());
    for b in &m.batches {
        let period = match (&b.period_start, &b.period_end) {
            (Some(a), Some(z)) => Cell::text(format!("{a}..{z}")),
            _ => Cell::Null,
        };
        let mut first = true;
        let totals: Vec<(&String, &String)> = b.totals.iter().collect();
        let entries: Vec<Option<(&String, &String)>> = if totals.is_empty() {
            vec![None]
        } else {
            totals.into_iter().map(Some).collect()
        };
        for t in entries {
            let (cur, total) = match t {
                Some((c, v)) => (
                    Cell::text(c.clone()),
                    Cell::money(Money::parse(v).unwrap_or_default(), c.clone()),
                ),
                None => (Cell::Null, Cell::Null),
            };
            let num = |n: u64| {
                if first {
                    Cell::Int(i128::from(n))
                } else {
                    Cell::Null
                }
            };
            r.rows.push(vec![
                Cell::text(b.batch_id.clone()),
                Cell::text(b.ingested_at.clone()),
                Cell::text(b.format.clone()),
                Cell::text(b.kind.clone()),
                Cell::text(b.source_path.clone()),
                num(b.rows),
                num(b.rows_rejected),
                num(b.rows_replaced),
                num(b.rows_superseded),
                period.clone(),
                cur,
                total,
            ]);
            first = false;
        }
    }
    let live: u64 = m.files.iter().map(|f| f.rows).sum();
    r.notes.push(format!(
        "{} batch(es); {} live rows in {} data file(s) under {}",
        m.batches.len(),
        live,
        m.files.len(),
        store.root().join("data").display()
    ));
    crate::output::emit(ctx, r)?;
    Ok(exit::OK)
}
