//! `finops untagged --month M` (docs/commands/untagged.md): the month's unattributed
//! spend, by provider, account, project, key and tag set, largest first, so that it can be
//! tagged or mapped.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use crate::cli::UntaggedArgs;
use crate::config::Field;
use crate::context::Context;
use crate::error::exit;
use crate::money::{Money, Overflow};
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::query::Needs;
use crate::spend::{self, Class};
use crate::store::Store;

const COLUMNS: [Column; 8] = [
    Column::new("provider", "Provider", ColumnKind::Text),
    Column::new("account", "Account", ColumnKind::Text),
    Column::new("project_id", "Project", ColumnKind::Text),
    Column::new("api_key_id", "API key", ColumnKind::Text),
    Column::new("tags", "Tags", ColumnKind::Text),
    Column::new("rows", "Rows", ColumnKind::Int),
    Column::new("cost", "Cost", ColumnKind::Money),
    Column::new("share", "Share of month", ColumnKind::Ratio),
];

pub fn run(ctx: &Context, args: &UntaggedArgs) -> Result<u8> {
    let month = args.month;
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let extra = [
        Field::BillingAccount,
        Field::SubAccount,
        Field::ProjectId,
        Field::ApiKeyId,
    ];
    let too_large = || format!("untagged {month}: amounts add up beyond what can be held exactly");
    let mm = spend::load(&ctx.config, &store, month, &extra, Needs::default())?;
    let mut agg: BTreeMap<[String; 5], (u64, Money)> = BTreeMap::new();
    for item in &mm.items {
        let Class::Owned(owner) = &item.class else {
            continue;
        };
        if owner.team.is_some() {
            continue;
        }
        let g = &item.group;
        let v = |f: Field| g.value(&mm.fields, &f).unwrap_or("").to_string();
        let account = match v(Field::SubAccount) {
            s if s.is_empty() => v(Field::BillingAccount),
            s => s,
        };
        let tags = if g.tags.is_empty() {
            String::new()
        } else {
            crate::model::tags_json(&g.tags)
        };
        let key = [
            g.provider.clone(),
            account,
            v(Field::ProjectId),
            v(Field::ApiKeyId),
            tags,
        ];
        let e = agg.entry(key).or_default();
        e.0 =
            e.0.checked_add(g.rows)
                .ok_or(Overflow)
                .with_context(too_large)?;
        e.1.add_assign(item.amount).with_context(too_large)?;
    }
    let mut rows: Vec<([String; 5], (u64, Money))> = agg.into_iter().collect();
    rows.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    let cur = mm.currency.clone();
    let month_total = mm.expected_total()?;
    let share = |x: Money| {
        if month_total.0 == 0 {
            Cell::Null
        } else {
            Cell::Ratio(x.0 as f64 / month_total.0 as f64)
        }
    };
    let mut r = Report::new(
        "untagged",
        format!("Unattributed spend {month}"),
        COLUMNS.to_vec(),
    );
    r.period = Some(month.to_string());
    r.currency = Some(cur.clone());
    r.parameters.insert("month".into(), month.to_string());
    let (mut n, mut total) = (0u64, Money::ZERO);
    for (k, (rows_n, amount)) in &rows {
        n = n
            .checked_add(*rows_n)
            .ok_or(Overflow)
            .with_context(too_large)?;
        total.add_assign(*amount).with_context(too_large)?;
        let text = |s: &String| {
            if s.is_empty() {
                Cell::Null
            } else {
                Cell::text(s.clone())
            }
        };
        r.rows.push(vec![
            text(&k[0]),
            text(&k[1]),
            text(&k[2]),
            text(&k[3]),
            text(&k[4]),
            Cell::Int(i128::from(*rows_n)),
            Cell::money(*amount, cur.clone()),
            share(*amount),
        ]);
    }
    r.totals.push(vec![
        Cell::text("total"),
        Cell::Null,
        Cell::Null,
        Cell::Null,
        Cell::Null,
        Cell::Int(i128::from(n)),
        Cell::money(total, cur.clone()),
        share(total),
    ]);
    let fmt = |x: Money| x.in_minor_units(&cur);
    r.notes.push(if total == Money::ZERO {
        format!("every amount of {month} has a team")
    } else {
        format!(
            "{} {cur} of the month's {} {cur} has no team: tag it, or add a [[mapping]] or [[rule]] for the largest lines (docs/attribution.md)",
            fmt(total),
            fmt(month_total)
        )
    });
    r.reconciliation = Some(mm.reconciliation(month_total)?);
    crate::output::emit(ctx, r)?;
    Ok(exit::OK)
}
