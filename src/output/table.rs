//! Tables for people (comfy-table): money and counts right-aligned, a totals row, notes.

use std::io::Write;

use anyhow::Result;
use comfy_table::presets::UTF8_HORIZONTAL_ONLY;
use comfy_table::{
    Attribute, Cell as TCell, CellAlignment, ColumnConstraint, ContentArrangement, Table,
    TableComponent,
};

use super::{ColumnKind, Report, Style};

pub(super) fn render(report: &Report, style: Style, w: &mut dyn Write) -> Result<()> {
    let color = style.color;
    let mut t = Table::new();
    t.load_preset(UTF8_HORIZONTAL_ONLY);
    t.remove_style(TableComponent::HorizontalLines);
    t.remove_style(TableComponent::MiddleIntersections);
    t.remove_style(TableComponent::LeftBorderIntersections);
    t.remove_style(TableComponent::RightBorderIntersections);
    match style.width {
        // On a terminal: fit its width, wrapping long text (paths, tag sets); numbers
        // keep their width.
        Some(width) => {
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(width);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    if !color {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    t.set_header(report.columns.iter().map(|c| {
        let cell = TCell::new(c.header);
        if color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    for (i, c) in report.columns.iter().enumerate() {
        if matches!(
            c.kind,
            ColumnKind::Int | ColumnKind::Money | ColumnKind::Ratio
        ) {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
                col.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
    }
    for row in &report.rows {
        t.add_row(row.iter().map(|c| TCell::new(c.human())));
    }
    for row in &report.totals {
        t.add_row(row.iter().map(|c| {
            let cell = TCell::new(c.human());
            if color {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        }));
    }
    writeln!(w, "{}", report.title)?;
    writeln!(w, "{t}")?;
    if report.rows.is_empty() {
        writeln!(w, "(no rows)")?;
    }
    for n in &report.notes {
        writeln!(w, "{n}")?;
    }
    Ok(())
}
