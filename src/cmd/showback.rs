//! `finops showback --month M [--by team,feature,...]` (docs/commands/showback.md): spend
//! per team (or any of team, feature, model, provider, environment), requests, cost per
//! request, the change against the previous month and a trend; no money moves (shared
//! pools and unattributed spend are lines of their own). Reconciled like chargeback.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use crate::cli::{Dimension, ShowbackArgs};
use crate::config::Field;
use crate::context::Context;
use crate::error::exit;
use crate::money::{Money, Overflow};
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::query::Needs;
use crate::spend::{self, Class, Spend};
use crate::store::Store;
use crate::timeparse::Month;

type Key = Vec<String>;

/// Spend and requests per key of one month.
fn by_key(
    cfg: &crate::config::Config,
    mm: &Spend,
    by: &[Dimension],
) -> Result<BTreeMap<Key, (Money, i128)>, Overflow> {
    let mut out: BTreeMap<Key, (Money, i128)> = BTreeMap::new();
    for item in &mm.items {
        let key: Key = by
            .iter()
            .map(|d| match (&item.class, d) {
                (Class::Pool(i), Dimension::Team | Dimension::Feature) => {
                    format!("(shared) {}", cfg.shared[*i].name.get_ref())
                }
                (Class::Pool(_), Dimension::Environment) => "(none)".into(),
                (Class::Owned(o), Dimension::Team) => {
                    o.team.clone().unwrap_or_else(|| "(unattributed)".into())
                }
                (Class::Owned(o), Dimension::Feature) => {
                    o.feature.clone().unwrap_or_else(|| "(none)".into())
                }
                (Class::Owned(o), Dimension::Environment) => {
                    o.environment.clone().unwrap_or_else(|| "(none)".into())
                }
                (_, Dimension::Provider) => item.group.provider.clone(),
                (_, Dimension::Model) => item
                    .group
                    .value(&mm.fields, &Field::Model)
                    .unwrap_or("(unknown)")
                    .to_string(),
            })
            .collect();
        let e = out.entry(key).or_default();
        e.0.add_assign(item.amount)?;
        e.1 = e.1.checked_add(item.group.requests).ok_or(Overflow)?;
    }
    Ok(out)
}

pub fn run(ctx: &Context, args: &ShowbackArgs) -> Result<u8> {
    let month = args.month;
    let by: Vec<Dimension> = if args.by.is_empty() {
        vec![Dimension::Team]
    } else {
        args.by.clone()
    };
    let too_large =
        |m: Month| format!("showback {m}: amounts add up beyond what can be held exactly");
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let extra: Vec<Field> = if by.contains(&Dimension::Model) {
        vec![Field::Model]
    } else {
        vec![]
    };
    let needs = Needs {
        requests: true,
        ..Needs::default()
    };
    let months: Vec<Month> = (0..args.months.max(2) as i32)
        .rev()
        .map(|k| Month(month.0 - k))
        .collect();
    let mut history: Vec<BTreeMap<Key, (Money, i128)>> = Vec::with_capacity(months.len());
    let mut current = None;
    for m in &months {
        let mm = spend::load(&ctx.config, &store, *m, &extra, needs)?;
        history.push(by_key(&ctx.config, &mm, &by).with_context(|| too_large(*m))?);
        if *m == month {
            current = Some(mm);
        }
    }
    let current_mm = current.unwrap_or_default();
    let now = history.last().cloned().unwrap_or_default();
    let prev = history
        .get(history.len().saturating_sub(2))
        .cloned()
        .unwrap_or_default();
    let cur = current_mm.currency.clone();
    let mut columns: Vec<Column> = by
        .iter()
        .map(|d| Column::new(d.key(), d.header(), ColumnKind::Text))
        .collect();
    columns.extend([
        Column::new("spend", "Spend", ColumnKind::Money),
        Column::new("requests", "Requests", ColumnKind::Int),
        Column::new("cost_per_request", "Cost / request", ColumnKind::Decimal),
        Column::new("previous_spend", "Previous month", ColumnKind::Money),
        Column::new("change", "Change", ColumnKind::Ratio),
        Column::new("trend", "Trend", ColumnKind::Text),
    ]);
    let mut r = Report::new("showback", format!("Showback {month}"), columns);
    r.period = Some(month.to_string());
    r.currency = Some(cur.clone());
    r.parameters.insert("month".into(), month.to_string());
    r.parameters.insert(
        "by".into(),
        by.iter().map(|d| d.key()).collect::<Vec<_>>().join(","),
    );
    r.parameters
        .insert("trend_months".into(), format!("{}..{}", months[0], month));
    let per_request = |spend: Money, requests: i128| {
        if requests > 0 {
            Cell::Decimal {
                value: Money(spend.0 / requests),
                places: 6,
            }
        } else {
            Cell::Null
        }
    };
    let change = |now: Money, before: Money| {
        if before.0 == 0 {
            Cell::Null
        } else {
            Cell::Ratio((now.0 as f64 - before.0 as f64) / before.0 as f64)
        }
    };
    let mut keys: Vec<&Key> = now.keys().collect();
    // Largest spend first, then by name.
    keys.sort_by(|a, b| now[*b].0.cmp(&now[*a].0).then(a.cmp(b)));
    let (mut total, mut requests, mut total_prev) = (Money::ZERO, 0i128, Money::ZERO);
    for key in keys {
        let (spend, reqs) = now[key];
        let before = prev.get(key).map(|p| p.0).unwrap_or_default();
        let trend: Vec<Money> = history
            .iter()
            .map(|h| h.get(key).map(|p| p.0).unwrap_or_default())
            .collect();
        total.add_assign(spend).with_context(|| too_large(month))?;
        requests = requests
            .checked_add(reqs)
            .ok_or(Overflow)
            .with_context(|| too_large(month))?;
        total_prev
            .add_assign(before)
            .with_context(|| too_large(month))?;
        let mut row: Vec<Cell> = key.iter().map(|k| Cell::text(k.clone())).collect();
        row.extend([
            Cell::money(spend, cur.clone()),
            Cell::Int(reqs),
            per_request(spend, reqs),
            Cell::money(before, cur.clone()),
            change(spend, before),
            Cell::text(crate::output::sparkline(&trend)),
        ]);
        r.rows.push(row);
    }
    let all_prev = Money::try_sum(prev.values().map(|p| p.0)).with_context(|| too_large(month))?;
    let mut totals: Vec<Cell> = (0..by.len())
        .map(|i| {
            if i == 0 {
                Cell::text("total")
            } else {
                Cell::Null
            }
        })
        .collect();
    let trend: Vec<Money> = history
        .iter()
        .zip(&months)
        .map(|(h, m)| Money::try_sum(h.values().map(|p| p.0)).with_context(|| too_large(*m)))
        .collect::<Result<_>>()?;
    totals.extend([
        Cell::money(total, cur.clone()),
        Cell::Int(requests),
        per_request(total, requests),
        Cell::money(total_prev, cur.clone()),
        change(total, all_prev),
        Cell::text(crate::output::sparkline(&trend)),
    ]);
    r.totals.push(totals);
    let fmt = |x: Money| x.in_minor_units(&cur);
    let expected = current_mm.expected_total()?;
    r.notes.push(format!(
        "{} billed total of {month} = {} {cur}; this showback = {} {cur} (shared pools and unattributed spend are lines of their own; nothing is reallocated)",
        if total == expected { "Reconciles:" } else { "DOES NOT RECONCILE:" },
        fmt(expected),
        fmt(total),
    ));
    r.reconciliation = Some(current_mm.reconciliation(total)?);
    crate::output::emit(ctx, r)?;
    Ok(exit::OK)
}
