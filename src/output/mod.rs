//! The one output layer. A command builds a [`Report`]; [`emit`] rounds its money once
//! (largest remainder, so rows add up to the totals) and renders it in the chosen format.
//! Every format shows the same numbers because they all read the same rounded cells.

mod delimited;
mod json;
mod markdown;
mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::{Context as _, Result};

use crate::cli::Format;
use crate::context::Context;
use crate::money::{self, Money};

/// How a column's values are typed and aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    /// A file path: text that a table on a narrow terminal shortens to its last parts.
    Path,
    Int,
    Money,
    /// A fraction shown as a percentage in tables (0.25 → 25.0%), raw in CSV/JSON.
    Ratio,
    /// An exact amount with more places than the currency's (cost per request).
    Decimal,
    /// A small chart (a sparkline): never wrapped.
    Chart,
}

#[derive(Debug, Clone)]
pub struct Column {
    /// Stable snake_case key: CSV header, JSON field.
    pub key: &'static str,
    /// Human header for tables and Markdown.
    pub header: &'static str,
    pub kind: ColumnKind,
}

impl Column {
    pub const fn new(key: &'static str, header: &'static str, kind: ColumnKind) -> Column {
        Column { key, header, kind }
    }
}

/// One value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i128),
    /// An exact amount; `rounded` is filled in by [`Report::round`] (minor units).
    Money {
        amount: Money,
        currency: String,
        rounded: Option<i128>,
    },
    Ratio(f64),
    /// An exact amount shown with `places` decimals (not part of money totals).
    Decimal {
        value: Money,
        places: u32,
    },
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Null, |s| Cell::Text(s.into()))
    }

    pub fn money(amount: Money, currency: impl Into<String>) -> Cell {
        Cell::Money {
            amount,
            currency: currency.into(),
            rounded: None,
        }
    }

    /// The raw value as text, for CSV/TSV: no separators, no symbols, dots as decimal marks.
    pub fn raw(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Money {
                amount,
                currency,
                rounded,
            } => {
                let d = money::minor_digits(currency);
                let units = rounded.unwrap_or_else(|| amount.round_to(d));
                money::format_scaled(units, d)
            }
            Cell::Ratio(r) => format_ratio_raw(*r),
            Cell::Decimal { value, places } => {
                money::format_scaled(value.round_to(*places), *places)
            }
        }
    }

    /// As [`Cell::human`], money without its currency (a table whose amounts are all in
    /// one currency names it once, in its title).
    pub fn human_bare(&self) -> String {
        match self {
            Cell::Money { .. } => group_thousands(&self.raw()),
            other => other.human(),
        }
    }

    /// The value for people: thousands separators, currency, percentages.
    pub fn human(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => group_thousands(&i.to_string()),
            Cell::Money { currency, .. } => {
                format!("{} {}", group_thousands(&self.raw()), currency)
            }
            Cell::Ratio(r) => format!("{:.1}%", r * 100.0),
            Cell::Decimal { .. } => group_thousands(&self.raw()),
        }
    }
}

fn format_ratio_raw(r: f64) -> String {
    let s = format!("{r:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of amounts, oldest first.
pub fn sparkline(values: &[Money]) -> String {
    let max = values.iter().map(|m| m.0).max().unwrap_or(0);
    values
        .iter()
        .map(|m| {
            if max <= 0 || m.0 <= 0 {
                SPARKS[0]
            } else {
                SPARKS[((m.0 as f64 / max as f64) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// `1234567.50` → `1,234,567.50`.
pub fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(a, b)| (a, Some(b)));
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A report: what every command prints, in any format.
#[derive(Debug, Clone)]
pub struct Report {
    /// Stable machine name (`ingest`, `sources`, ...).
    pub name: &'static str,
    /// Title for tables and Markdown.
    pub title: String,
    /// The period covered, when the report has one (`2026-10`, `2026-W45`).
    pub period: Option<String>,
    /// The report's currency, when it has a single one.
    pub currency: Option<String>,
    /// Parameters that shaped it (for JSON consumers).
    pub parameters: BTreeMap<String, String>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Totals rows (one per currency when money is in several).
    pub totals: Vec<Vec<Cell>>,
    /// Lines under a table (reconciliation, batch ids, rejects files). JSON: `notes`.
    pub notes: Vec<String>,
    /// For money reports: the totals the report must equal. JSON: `reconciliation`.
    pub reconciliation: Option<Reconciliation>,
    pub rounding: Rounding,
}

/// How money cells are rounded to the currency's minor unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Rounding {
    /// Rows by largest remainder, so that they add up to their total to the cent: for
    /// money that moves (chargeback, showback).
    #[default]
    ToTotals,
    /// Every cell on its own (half away from zero), so that each line equals its own
    /// exact value rounded, as an independent query would print it; the totals row may
    /// then differ by a few cents from the sum of the printed lines.
    EachCell,
}

/// What a money report adds up to, against the store (SPEC §4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub currency: String,
    /// Σ of the period's bill rows.
    pub billed_total: Money,
    /// Σ of request-log money of providers without a bill in the period.
    pub usage_total: Money,
    /// billed + usage: what the report must add up to.
    pub expected_total: Money,
    /// Σ of the report's rows.
    pub report_total: Money,
}

impl Reconciliation {
    pub fn new(
        currency: &str,
        billed_total: Money,
        usage_total: Money,
        report_total: Money,
    ) -> Result<Reconciliation, money::Overflow> {
        Ok(Reconciliation {
            currency: currency.to_string(),
            billed_total,
            usage_total,
            expected_total: billed_total.try_add(usage_total)?,
            report_total,
        })
    }

    pub fn reconciles(&self) -> bool {
        self.report_total == self.expected_total
    }
}

impl Report {
    pub fn new(name: &'static str, title: impl Into<String>, columns: Vec<Column>) -> Report {
        Report {
            name,
            title: title.into(),
            period: None,
            currency: None,
            parameters: BTreeMap::new(),
            columns,
            rows: Vec::new(),
            totals: Vec::new(),
            notes: Vec::new(),
            reconciliation: None,
            rounding: Rounding::ToTotals,
        }
    }

    /// Rounds every money cell to its currency's minor unit. For each money column and
    /// currency with a totals row, the rows are rounded by largest remainder to that
    /// total's rounded value, so that they add up to it exactly.
    pub fn round(&mut self) {
        for c in 0..self.columns.len() {
            if self.columns[c].kind != ColumnKind::Money {
                continue;
            }
            let totals = match self.rounding {
                Rounding::ToTotals => self.totals.len(),
                Rounding::EachCell => 0,
            };
            for t in 0..totals {
                let (total, currency) = match &self.totals[t][c] {
                    Cell::Money {
                        amount, currency, ..
                    } => (*amount, currency.clone()),
                    _ => continue,
                };
                let d = money::minor_digits(&currency);
                let target = total.round_to(d);
                // Cells rounded already are not part of any total.
                let idx: Vec<usize> = (0..self.rows.len())
                    .filter(|&r| {
                        matches!(&self.rows[r][c], Cell::Money { currency: cur, rounded: None, .. } if *cur == currency)
                    })
                    .collect();
                let values: Vec<Money> = idx
                    .iter()
                    .map(|&r| match &self.rows[r][c] {
                        Cell::Money { amount, .. } => *amount,
                        _ => Money::ZERO,
                    })
                    .collect();
                debug_assert_eq!(
                    Money::try_sum(values.iter().copied()),
                    Ok(total),
                    "report {}: rows of column {} do not add up to the total",
                    self.name,
                    self.columns[c].key
                );
                let rounded = money::largest_remainder_to(&values, d, target);
                for (&r, v) in idx.iter().zip(rounded) {
                    if let Cell::Money { rounded, .. } = &mut self.rows[r][c] {
                        *rounded = Some(v);
                    }
                }
                if let Cell::Money { rounded, .. } = &mut self.totals[t][c] {
                    *rounded = Some(target);
                }
            }
            // Whatever no total covers is rounded on its own.
            for row in self.rows.iter_mut().chain(self.totals.iter_mut()) {
                if let Cell::Money {
                    amount,
                    currency,
                    rounded: rounded @ None,
                } = &mut row[c]
                {
                    *rounded = Some(amount.round_to(money::minor_digits(currency)));
                }
            }
        }
    }
}

/// Rounds, renders and writes a report to stdout or `-o FILE`.
pub fn emit(ctx: &Context, mut report: Report) -> Result<()> {
    report.round();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let style = Style {
        color: ctx.color,
        width: ctx.width,
    };
    render(&report, ctx.format, style, &mut buf)?;
    match &ctx.output {
        Some(path) => std::fs::write(path, &buf)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            lock.write_all(&buf)?;
            lock.flush()?;
        }
    }
    if matches!(ctx.format, Format::Csv | Format::Tsv | Format::Jsonl) {
        // Machine formats without a place for notes: they go to stderr.
        for n in &report.notes {
            ctx.note(n);
        }
    }
    Ok(())
}

/// How a table is drawn for people.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Fit the table to this many columns (a terminal's width); None draws it as wide as
    /// its content (a table redirected to a file).
    pub width: Option<u16>,
}

/// Renders a (rounded) report.
pub fn render(report: &Report, format: Format, style: Style, w: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table | Format::Auto => table::render(report, style, w),
        Format::Csv => delimited::render(report, b',', w),
        Format::Tsv => delimited::render(report, b'\t', w),
        Format::Json => json::render(report, w),
        Format::Jsonl => json::render_lines(report, w),
        Format::Markdown => markdown::render(report, w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Report {
        let mut r = Report::new(
            "demo",
            "Demo report",
            vec![
                Column::new("team", "Team", ColumnKind::Text),
                Column::new("requests", "Requests", ColumnKind::Int),
                Column::new("cost", "Cost", ColumnKind::Money),
                Column::new("share", "Share", ColumnKind::Ratio),
            ],
        );
        let third = Money::parse("333.333333").unwrap();
        for team in ["search", "support", "ads"] {
            r.rows.push(vec![
                Cell::text(team),
                Cell::Int(1234),
                Cell::money(third, "USD"),
                Cell::Ratio(1.0 / 3.0),
            ]);
        }
        r.totals.push(vec![
            Cell::text("Total"),
            Cell::Int(3702),
            Cell::money(Money::parse("999.999999").unwrap(), "USD"),
            Cell::Ratio(1.0),
        ]);
        r.period = Some("2026-10".into());
        r.currency = Some("USD".into());
        r.notes.push("reconciles to the billed total".into());
        r.round();
        r
    }

    fn out(r: &Report, f: Format) -> String {
        let mut b = Vec::new();
        render(r, f, Style::default(), &mut b).unwrap();
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn rows_add_up_to_printed_total() {
        let r = sample();
        let cents: Vec<String> = r.rows.iter().map(|row| row[2].raw()).collect();
        assert_eq!(cents, ["333.34", "333.33", "333.33"]);
        assert_eq!(r.totals[0][2].raw(), "1000.00");
    }

    #[test]
    fn csv_is_raw() {
        insta::assert_snapshot!(out(&sample(), Format::Csv), @r"
        team,requests,cost,share
        search,1234,333.34,0.333333
        support,1234,333.33,0.333333
        ads,1234,333.33,0.333333
        Total,3702,1000.00,1
        ");
    }

    #[test]
    fn table_has_totals_and_notes() {
        insta::assert_snapshot!(out(&sample(), Format::Table));
    }

    #[test]
    fn a_table_fits_the_terminal_and_wraps_long_text_only() {
        let mut r = sample();
        r.rows[0][0] = Cell::text(format!(
            "/home/someone/exports/{}/bill.csv",
            "very-long-folder-name".repeat(6)
        ));
        let mut b = Vec::new();
        render(
            &r,
            Format::Table,
            Style {
                color: false,
                width: Some(60),
            },
            &mut b,
        )
        .unwrap();
        let text = String::from_utf8(b).unwrap();
        for line in text.lines() {
            assert!(
                line.chars().count() <= 60,
                "{}: {line}",
                line.chars().count()
            );
        }
        // Numbers are never split across lines; the long path is wrapped, nothing is lost.
        assert!(text.contains("1,000.00"), "{text}");
        assert!(text.contains("333.34"), "{text}");
        // One currency: named once, in the title, not in every cell.
        assert!(text.contains("amounts in USD"), "{text}");
        assert!(!text.contains("333.34 USD"), "{text}");
        let joined: String = text.split_whitespace().collect();
        assert!(joined.contains("very-long-folder-namevery-long"), "{text}");
        // Redirected (no width): as wide as the content.
        let mut b = Vec::new();
        render(&r, Format::Table, Style::default(), &mut b).unwrap();
        let wide = String::from_utf8(b).unwrap();
        assert!(wide.lines().any(|l| l.chars().count() > 150));
    }

    #[test]
    fn a_table_with_two_currencies_names_each_amounts_currency() {
        let mut r = sample();
        r.rows[1][2] = Cell::money(Money::parse("12.5").unwrap(), "EUR");
        let t = out(&r, Format::Table);
        assert!(t.contains("12.50 EUR") && t.contains("333.34 USD"), "{t}");
        assert!(!t.contains("amounts in"), "{t}");
    }

    #[test]
    fn markdown() {
        insta::assert_snapshot!(out(&sample(), Format::Markdown));
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_str(&out(&sample(), Format::Json)).unwrap();
        assert_eq!(v["report"], "demo");
        assert_eq!(v["period"], "2026-10");
        assert_eq!(v["rows"][0]["cost"].to_string(), "333.34");
        assert_eq!(v["rows"][0]["requests"], 1234);
        assert_eq!(v["totals"][0]["cost"].to_string(), "1000.00");
        assert_eq!(v["notes"][0], "reconciles to the billed total");
        let lines = out(&sample(), Format::Jsonl);
        assert_eq!(lines.lines().count(), 3);
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands("1234567.50"), "1,234,567.50");
        assert_eq!(group_thousands("-123"), "-123");
        assert_eq!(group_thousands("-1234"), "-1,234");
        assert_eq!(group_thousands("0.5"), "0.5");
    }
}
