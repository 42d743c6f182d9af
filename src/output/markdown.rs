//! Markdown: a pipe table with the same human cells as the terminal table.

use std::io::Write;

use anyhow::Result;

use super::{ColumnKind, Report};

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub(super) fn render(report: &Report, w: &mut dyn Write) -> Result<()> {
    writeln!(w, "### {}\n", escape(&report.title))?;
    let headers: Vec<String> = report.columns.iter().map(|c| escape(c.header)).collect();
    writeln!(w, "| {} |", headers.join(" | "))?;
    let aligns: Vec<&str> = report
        .columns
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Text | ColumnKind::Path => "---",
            _ => "---:",
        })
        .collect();
    writeln!(w, "| {} |", aligns.join(" | "))?;
    for row in &report.rows {
        let cells: Vec<String> = row.iter().map(|c| escape(&c.human())).collect();
        writeln!(w, "| {} |", cells.join(" | "))?;
    }
    for row in &report.totals {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                let h = escape(&c.human());
                if h.is_empty() {
                    h
                } else {
                    format!("**{h}**")
                }
            })
            .collect();
        writeln!(w, "| {} |", cells.join(" | "))?;
    }
    if !report.notes.is_empty() {
        writeln!(w)?;
        for n in &report.notes {
            writeln!(w, "{}  ", escape(n))?;
        }
    }
    Ok(())
}
