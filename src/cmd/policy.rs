//! `finops policy check` (docs/commands/policy-check.md).

use anyhow::{Context as _, Result};

use crate::cli::{PolicyArgs, PolicyCommand};
use crate::context::Context;
use crate::error::exit;
use crate::money::Money;
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::period::month_days;
use crate::policy::{self, Policy};
use crate::store::Store;

const COLUMNS: [Column; 9] = [
    Column::new("team", "Team", ColumnKind::Text),
    Column::new("feature", "Feature", ColumnKind::Text),
    Column::new("owner", "Owner", ColumnKind::Text),
    Column::new("model", "Model", ColumnKind::Text),
    Column::new("spend", "Spend", ColumnKind::Money),
    Column::new("requests", "Requests", ColumnKind::Int),
    Column::new("first_day", "First day", ColumnKind::Text),
    Column::new("last_day", "Last day", ColumnKind::Text),
    Column::new("reason", "Reason", ColumnKind::Text),
];

/// The team column of spend with neither a team nor a feature.
pub const UNATTRIBUTED: &str = "(unattributed)";

pub fn run(ctx: &Context, cmd: &PolicyCommand) -> Result<u8> {
    match cmd {
        PolicyCommand::Check(a) => check(ctx, a),
    }
}

fn check(ctx: &Context, args: &PolicyArgs) -> Result<u8> {
    if ctx.config.models.premium.is_empty() {
        let file = ctx
            .config_path
            .as_ref()
            .map_or("finops.toml".to_string(), |p| p.display().to_string());
        anyhow::bail!(
            "{file}: no premium models configured, so there is nothing to check; add e.g. [models] premium = [\"gpt-4o*\", \"claude-opus-*\"], and [[approval]]s for who may use them (docs/config.md)"
        );
    }
    let cal = ctx.calendar;
    let month = args.month.unwrap_or_else(|| cal.today().month());
    let last = crate::budget::counted_through(&cal, month)?;
    let first = month_days(month).0;
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let p = policy::compute(&ctx.config, &store, &cal, first, last)?;
    let mut r = report(&p)?;
    r.period = Some(month.to_string());
    r.parameters.insert("month".into(), month.to_string());
    r.parameters.insert("first_day".into(), first.to_string());
    r.parameters.insert("last_day".into(), last.to_string());
    r.parameters
        .insert("time_zone".into(), cal.tz.name().to_string());
    r.title = format!(
        "Premium models outside approvals, {first} to {last} ({})",
        cal.tz.name()
    );
    let found = !p.breaches.is_empty();
    crate::output::emit(ctx, r)?;
    if found {
        Ok(exit::CHECK_FAILED)
    } else {
        ctx.note(format!(
            "no premium-model spend outside an approval from {first} to {last}"
        ));
        Ok(exit::OK)
    }
}

fn report(p: &Policy) -> Result<Report> {
    let mut r = Report::new("policy-check", "", COLUMNS.to_vec());
    r.currency = Some(p.currency.clone());
    let cur = p.currency.as_str();
    let too_large = || "the premium spend adds up beyond what can be held exactly".to_string();
    let mut total = Money::ZERO;
    let mut requests: Option<i128> = None;
    let mut days = None;
    for b in &p.breaches {
        total.add_assign(b.spend).with_context(too_large)?;
        if let Some(n) = b.requests {
            requests = Some(requests.unwrap_or(0).saturating_add(n));
        }
        days = Some(days.map_or((b.first, b.last), |(f, l): (_, _)| {
            (b.first.min(f), b.last.max(l))
        }));
        let team = match (&b.team, &b.feature) {
            (None, None) => Some(UNATTRIBUTED.to_string()),
            (t, _) => t.clone(),
        };
        r.rows.push(vec![
            Cell::opt_text(team),
            Cell::opt_text(b.feature.clone()),
            Cell::opt_text(b.owner.clone()),
            Cell::text(b.model.clone()),
            Cell::money(b.spend, cur),
            b.requests.map_or(Cell::Null, Cell::Int),
            Cell::text(b.first.to_string()),
            Cell::text(b.last.to_string()),
            Cell::text(b.reason.to_string()),
        ]);
    }
    let day = |d: Option<crate::period::Day>| Cell::opt_text(d.map(|d| d.to_string()));
    r.totals.push(vec![
        Cell::text("total"),
        Cell::Null,
        Cell::Null,
        Cell::Null,
        Cell::money(total, cur),
        requests.map_or(Cell::Null, Cell::Int),
        day(days.map(|d| d.0)),
        day(days.map(|d| d.1)),
        Cell::Null,
    ]);
    r.notes.push(
        "an approval covers its models for its team (all the team's features) or its feature, through its `until` day; unattributed spend cannot be approved".into(),
    );
    if p.unjudged != Money::ZERO {
        r.notes.push(format!(
            "{} {cur} of spend carries no model (bill rows of exports without one, with no request logs to split them by model): it cannot be checked",
            p.unjudged.in_minor_units(cur)
        ));
    }
    Ok(r)
}
