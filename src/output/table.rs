//! Tables for people (comfy-table): money and counts right-aligned, a totals row, notes.

use std::io::Write;

use anyhow::Result;
use comfy_table::presets::UTF8_HORIZONTAL_ONLY;
use comfy_table::{
    Attribute, Cell as TCell, CellAlignment, ColumnConstraint, ContentArrangement, Table,
    TableComponent, Width,
};

use super::{ColumnKind, Report, Style};

/// The narrowest a text column gets on a terminal before its cells wrap.
const MIN_TEXT: usize = 6;
/// A path longer than this is shortened to its last parts on a terminal.
const MAX_PATH: usize = 40;

pub(super) fn render(report: &Report, style: Style, w: &mut dyn Write) -> Result<()> {
    let color = style.color;
    let mut t = Table::new();
    t.load_preset(UTF8_HORIZONTAL_ONLY);
    t.remove_style(TableComponent::HorizontalLines);
    t.remove_style(TableComponent::MiddleIntersections);
    t.remove_style(TableComponent::LeftBorderIntersections);
    t.remove_style(TableComponent::RightBorderIntersections);
    let fitted = style.width.is_some();
    match style.width {
        // On a terminal: fit its width, wrapping long text (paths, tag sets); numbers
        // keep their width and headers break only between words.
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
    // Amounts all in the report's one currency: named once, in the title.
    let one_currency = report.currency.as_deref().filter(|c| {
        report
            .rows
            .iter()
            .chain(&report.totals)
            .flatten()
            .all(|cell| match cell {
                super::Cell::Money { currency, .. } => currency == c,
                _ => true,
            })
    });
    let has_money = report.columns.iter().any(|c| c.kind == ColumnKind::Money);
    let text = |kind: ColumnKind, cell: &super::Cell| -> String {
        let s = if one_currency.is_some() {
            cell.human_bare()
        } else {
            cell.human()
        };
        if fitted && kind == ColumnKind::Path {
            shorten_path(&s, MAX_PATH)
        } else {
            s
        }
    };
    let body: Vec<Vec<String>> = report
        .rows
        .iter()
        .chain(&report.totals)
        .map(|row| {
            row.iter()
                .zip(&report.columns)
                .map(|(c, col)| text(col.kind, c))
                .collect()
        })
        .collect();
    // Each column's narrowest (numbers whole, a header broken only between words, text
    // down to MIN_TEXT) and widest (its content) width; on a terminal the widths are
    // shared out by `fit`, then cells wrap within them.
    let mut least = Vec::with_capacity(report.columns.len());
    let mut wanted = Vec::with_capacity(report.columns.len());
    for (i, c) in report.columns.iter().enumerate() {
        let numeric = matches!(
            c.kind,
            ColumnKind::Int | ColumnKind::Money | ColumnKind::Ratio
        );
        let whole = numeric || c.kind == ColumnKind::Chart;
        let content = body
            .iter()
            .map(|r| r[i].lines().map(|l| l.chars().count()).max().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let word = c
            .header
            .split_whitespace()
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0);
        let low = if whole {
            content
        } else {
            content.min(MIN_TEXT)
        };
        least.push(low.max(word));
        wanted.push(content.max(c.header.chars().count()));
        if numeric {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    if let Some(width) = style.width {
        // No padding; the preset's blank vertical rule separates columns.
        let avail = (width as usize).saturating_sub(report.columns.len().saturating_sub(1));
        let widths = fit(&least, &wanted, avail);
        for (i, w) in widths.into_iter().enumerate() {
            if let Some(col) = t.column_mut(i) {
                col.set_padding((0, 0));
                col.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
                    w.min(u16::MAX as usize) as u16,
                )));
            }
        }
    }
    let n_rows = report.rows.len();
    for (k, row) in body.into_iter().enumerate() {
        let total = k >= n_rows;
        t.add_row(row.into_iter().map(|s| {
            let cell = TCell::new(s);
            if color && total {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        }));
    }
    // On a terminal, the title and notes wrap at its width too.
    let line = |w: &mut dyn Write, text: &str| -> std::io::Result<()> {
        match style.width {
            Some(width) => {
                for l in textwrap::wrap(text, width as usize) {
                    writeln!(w, "{l}")?;
                }
                Ok(())
            }
            None => writeln!(w, "{text}"),
        }
    };
    match one_currency {
        Some(c) if has_money => line(w, &format!("{} · amounts in {c}", report.title))?,
        _ => line(w, &report.title)?,
    }
    writeln!(w, "{t}")?;
    if report.rows.is_empty() {
        writeln!(w, "(no rows)")?;
    }
    for n in &report.notes {
        line(w, n)?;
    }
    Ok(())
}

/// Column widths within `avail`: each between its `least` and `wanted` width. Narrow
/// columns get all they want; the space left is shared evenly among the wide ones (a water
/// level rising until the space is used). When even the least widths do not fit, those.
fn fit(least: &[usize], wanted: &[usize], avail: usize) -> Vec<usize> {
    let wanted: Vec<usize> = wanted
        .iter()
        .zip(least)
        .map(|(w, l)| (*w).max(*l))
        .collect();
    if wanted.iter().sum::<usize>() <= avail {
        return wanted;
    }
    if least.iter().sum::<usize>() >= avail {
        return least.to_vec();
    }
    let at = |level: usize| -> Vec<usize> {
        least
            .iter()
            .zip(&wanted)
            .map(|(&l, &w)| level.clamp(l, w))
            .collect()
    };
    // The highest level that fits (the sum grows with the level).
    let (mut lo, mut hi) = (0usize, wanted.iter().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if at(mid).iter().sum::<usize>() <= avail {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut widths = at(lo);
    let mut spare = avail - widths.iter().sum::<usize>();
    for (w, &want) in widths.iter_mut().zip(&wanted) {
        if spare == 0 {
            break;
        }
        if *w < want {
            *w += 1;
            spare -= 1;
        }
    }
    widths
}

/// `/home/me/exports/2026/oct/openai-costs.json` → `…/oct/openai-costs.json`: the file's
/// name and its folder, which is what tells files apart; CSV and JSON keep the whole path.
fn shorten_path(path: &str, max: usize) -> String {
    if path.chars().count() <= max {
        return path.to_string();
    }
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let tail = parts[parts.len().saturating_sub(2)..].join("/");
    format!("…/{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn widths_are_shared_fairly() {
        // Fits: everyone gets what they want.
        assert_eq!(fit(&[2, 2], &[5, 8], 20), vec![5, 8]);
        // Narrow columns whole, the two wide ones share the rest: 30 − 4 − 4 = 22 → 11 each.
        assert_eq!(fit(&[4, 6, 6, 4], &[4, 40, 50, 4], 30), vec![4, 11, 11, 4]);
        // Cannot fit: the least widths.
        assert_eq!(fit(&[10, 10], &[20, 20], 5), vec![10, 10]);
    }

    proptest! {
        #[test]
        fn widths_stay_within_bounds_and_the_space(
            cols in proptest::collection::vec((1usize..20, 0usize..80), 1..15),
            avail in 0usize..300,
        ) {
            let least: Vec<usize> = cols.iter().map(|c| c.0).collect();
            let wanted: Vec<usize> = cols.iter().map(|c| c.0 + c.1).collect();
            let w = fit(&least, &wanted, avail);
            let (sl, sw, s) = (least.iter().sum::<usize>(), wanted.iter().sum::<usize>(), w.iter().sum::<usize>());
            for i in 0..w.len() {
                prop_assert!(w[i] >= least[i] && w[i] <= wanted[i]);
            }
            if sw <= avail {
                prop_assert_eq!(&w, &wanted);
            } else if sl <= avail {
                // All the space is used, none beyond it.
                prop_assert_eq!(s, avail);
            } else {
                prop_assert_eq!(&w, &least);
            }
        }
    }

    #[test]
    fn paths_keep_their_last_parts() {
        assert_eq!(shorten_path("a/b.csv", 40), "a/b.csv");
        assert_eq!(
            shorten_path("/home/someone/exports/2026/october/openai-costs.json", 30),
            "…/october/openai-costs.json"
        );
    }
}
