//! JSON (one object) and JSON Lines (one row per line). Field names are the columns'
//! stable snake_case keys; money is a JSON number written from its exact rounded text.

use std::io::Write;

use anyhow::Result;
use serde_json::{Map, Number, Value};

use super::{Cell, Report};

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Text(s) => Value::String(s.clone()),
        Cell::Int(i) => Value::Number(Number::from_string_unchecked(i.to_string())),
        // Exact decimal text, never through f64.
        Cell::Money { .. } | Cell::Ratio(_) | Cell::Decimal { .. } => {
            Value::Number(Number::from_string_unchecked(cell.raw()))
        }
    }
}

fn object(report: &Report, row: &[Cell]) -> Value {
    let mut m = Map::new();
    for (c, cell) in report.columns.iter().zip(row) {
        m.insert(c.key.to_string(), value(cell));
    }
    Value::Object(m)
}

pub(super) fn render(report: &Report, w: &mut dyn Write) -> Result<()> {
    let mut m = Map::new();
    m.insert("report".into(), Value::from(report.name));
    m.insert("title".into(), Value::from(report.title.clone()));
    m.insert(
        "period".into(),
        report.period.clone().map_or(Value::Null, Value::from),
    );
    m.insert(
        "currency".into(),
        report.currency.clone().map_or(Value::Null, Value::from),
    );
    m.insert(
        "parameters".into(),
        Value::Object(
            report
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect(),
        ),
    );
    m.insert(
        "columns".into(),
        Value::Array(report.columns.iter().map(|c| Value::from(c.key)).collect()),
    );
    m.insert(
        "rows".into(),
        Value::Array(report.rows.iter().map(|r| object(report, r)).collect()),
    );
    m.insert(
        "totals".into(),
        Value::Array(report.totals.iter().map(|r| object(report, r)).collect()),
    );
    if let Some(rec) = &report.reconciliation {
        let d = crate::money::minor_digits(&rec.currency);
        let num = |x: crate::money::Money| {
            Value::Number(Number::from_string_unchecked(crate::money::format_scaled(
                x.round_to(d),
                d,
            )))
        };
        let exact = |x: crate::money::Money| Value::String(x.to_string());
        let mut o = Map::new();
        o.insert("currency".into(), Value::from(rec.currency.clone()));
        o.insert("billed_total".into(), num(rec.billed_total));
        o.insert("usage_total".into(), num(rec.usage_total));
        o.insert("expected_total".into(), num(rec.expected_total));
        o.insert("report_total".into(), num(rec.report_total));
        o.insert("expected_total_exact".into(), exact(rec.expected_total));
        o.insert("report_total_exact".into(), exact(rec.report_total));
        o.insert("reconciles".into(), Value::Bool(rec.reconciles()));
        m.insert("reconciliation".into(), Value::Object(o));
    }
    m.insert(
        "notes".into(),
        Value::Array(
            report
                .notes
                .iter()
                .map(|n| Value::from(n.clone()))
                .collect(),
        ),
    );
    serde_json::to_writer_pretty(&mut *w, &Value::Object(m))?;
    writeln!(w)?;
    Ok(())
}

pub(super) fn render_lines(report: &Report, w: &mut dyn Write) -> Result<()> {
    for row in &report.rows {
        serde_json::to_writer(&mut *w, &object(report, row))?;
        writeln!(w)?;
    }
    Ok(())
}
