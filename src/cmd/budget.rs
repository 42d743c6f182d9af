//! `finops budget status` and `finops budget check` (docs/commands/budget.md).

use anyhow::Result;

use crate::budget::{self, Budgets, Line, Scope};
use crate::cli::{BudgetArgs, BudgetCommand};
use crate::context::Context;
use crate::error::exit;
use crate::money::Money;
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::period::Period;
use crate::store::Store;

const COLUMNS: [Column; 19] = [
    Column::new("scope", "Scope", ColumnKind::Text),
    Column::new("name", "Name", ColumnKind::Text),
    Column::new("team", "Team", ColumnKind::Text),
    Column::new("owner", "Owner", ColumnKind::Text),
    Column::new("period", "Period", ColumnKind::Text),
    Column::new("budget", "Budget", ColumnKind::Money),
    Column::new("month_to_date", "To date", ColumnKind::Money),
    Column::new("utilisation", "Used", ColumnKind::Ratio),
    Column::new("status", "Status", ColumnKind::Text),
    Column::new("action", "Action", ColumnKind::Text),
    Column::new("forecast", "Forecast", ColumnKind::Money),
    Column::new("forecast_utilisation", "Forecast used", ColumnKind::Ratio),
    Column::new("forecast_status", "Forecast status", ColumnKind::Text),
    Column::new("alert_on", "Alert on", ColumnKind::Text),
    Column::new("fallback_on", "Fallback on", ColumnKind::Text),
    Column::new("halt_on", "Halt on", ColumnKind::Text),
    Column::new("forecast_error", "Forecast error", ColumnKind::Money),
    Column::new("forecast_error_pct", "Error %", ColumnKind::Ratio),
    Column::new("spend_after_end", "After end", ColumnKind::Money),
];

const CROSSED: Column = Column::new("crossed", "Crossed", ColumnKind::Text);

pub fn run(ctx: &Context, cmd: &BudgetCommand) -> Result<u8> {
    let (args, check) = match cmd {
        BudgetCommand::Status(a) => (a, false),
        BudgetCommand::Check(a) => (a, true),
    };
    compute_and_print(ctx, args, check)
}

fn compute_and_print(ctx: &Context, args: &BudgetArgs, check: bool) -> Result<u8> {
    if !budget::configured(&ctx.config) {
        match &ctx.config_path {
            Some(p) => anyhow::bail!(
                "{}: no budgets configured; add `budget = 1000` (monthly, in the reporting currency) to a [[team]] or [[feature]], `daily_budget = 50` to a [[feature]], or an [[experiment]] (docs/config.md)",
                p.display()
            ),
            None => anyhow::bail!(
                "no finops.toml here (nor --config FILE / FINOPS_CONFIG), so no budgets: `finops init` writes a starter; then add `budget = 1000` to a [[team]] or [[feature]] (docs/config.md)"
            ),
        }
    }
    let cal = ctx.calendar;
    let month = args.month.unwrap_or_else(|| cal.today().month());
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let b = budget::compute(&ctx.config, &store, &cal, month)?;
    // A past month's forecast is history: only the actual spend can fail a check.
    let forecast_counts = ctx.config.alerts.on_forecast && !b.past;
    let mut r = report(&b, check, forecast_counts)?;
    r.parameters
        .insert("time_zone".into(), cal.tz.name().to_string());
    let thresholds: Vec<String> = ctx
        .config
        .alerts
        .thresholds
        .get_ref()
        .iter()
        .map(|a| a.0.to_string())
        .collect();
    r.parameters
        .insert("thresholds".into(), thresholds.join(","));
    r.parameters.insert(
        "on_forecast".into(),
        ctx.config.alerts.on_forecast.to_string(),
    );
    r.title = format!(
        "{} {month} as of {} ({})",
        if check { "Budget check" } else { "Budgets" },
        b.as_of,
        cal.tz.name()
    );
    let found = !r.rows.is_empty();
    crate::output::emit(ctx, r)?;
    if !check {
        return Ok(exit::OK);
    }
    if found {
        Ok(exit::CHECK_FAILED)
    } else {
        ctx.note(format!(
            "no budget crossed a threshold in {month} as of {}{}",
            b.as_of,
            if forecast_counts {
                " (actual or forecast)"
            } else {
                ""
            }
        ));
        Ok(exit::OK)
    }
}

fn report(b: &Budgets, check: bool, forecast_counts: bool) -> Result<Report> {
    let mut columns = COLUMNS.to_vec();
    if check {
        columns.push(CROSSED);
    }
    let name = if check {
        "budget-check"
    } else {
        "budget-status"
    };
    let mut r = Report::new(name, "", columns);
    r.period = Some(b.month.to_string());
    r.currency = Some(b.currency.clone());
    r.parameters.insert("month".into(), b.month.to_string());
    r.parameters.insert("today".into(), b.today.to_string());
    r.parameters.insert("as_of".into(), b.as_of.to_string());
    r.parameters
        .insert("forecast_day".into(), b.forecast_day.to_string());
    let mut shown = Vec::new();
    for l in &b.lines {
        let breach = l.breach(forecast_counts);
        if check && breach.is_none() {
            continue;
        }
        let mut row = row(l, &b.currency);
        if check {
            row.push(Cell::opt_text(breach.map(|x| x.to_string())));
        }
        r.rows.push(row);
        shown.push(l);
    }
    r.notes.push(
        "team spend is all money attributed to the team (its features' and its own); shared pools are not allocated here (chargeback charges them)".into(),
    );
    r.notes.push(if b.past {
        format!(
            "{} is past: to date is the whole month; the forecast is the one made at the start of {} (15 complete days), forecast_error = forecast − actual",
            b.month, b.forecast_day
        )
    } else {
        format!(
            "forecast = the complete days + max(today so far, 7-day mean) + the 7-day mean × the days after today; threshold dates after {} are projected (docs/commands/budget.md)",
            b.as_of
        )
    });
    for l in shown {
        if let (Some(after), Period::Days(_, until)) = (l.spend_after_end, l.period) {
            if after != Money::ZERO {
                r.notes.push(format!(
                    "experiment {}: {} {} spent after its last day ({until}), which its budget no longer covers",
                    l.name,
                    after.in_minor_units(&b.currency),
                    b.currency
                ));
            }
        }
    }
    r.notes.extend(b.notes.iter().cloned());
    Ok(r)
}

fn row(l: &Line, cur: &str) -> Vec<Cell> {
    let m = |x: Money| Cell::money(x, cur);
    let om = |x: Option<Money>| x.map_or(Cell::Null, m);
    let ratio = |x: Option<Money>| {
        x.and_then(|x| x.ratio_to(l.budget))
            .map_or(Cell::Null, Cell::Ratio)
    };
    let date = |i: usize| Cell::opt_text(l.crossed[i].map(|d| d.to_string()));
    let error_pct = l
        .forecast_error
        .and_then(|e| e.ratio_to(l.spend))
        .map_or(Cell::Null, Cell::Ratio);
    debug_assert!(l.scope != Scope::FeatureDay || l.forecast.is_none());
    vec![
        Cell::text(l.scope.as_str()),
        Cell::text(l.name.clone()),
        Cell::opt_text(l.team.clone()),
        Cell::opt_text(l.owner.clone()),
        Cell::text(l.period.to_string()),
        m(l.budget),
        m(l.spend),
        ratio(Some(l.spend)),
        Cell::text(l.status.as_str()),
        Cell::text(l.status.action()),
        om(l.forecast),
        ratio(l.forecast),
        Cell::opt_text(l.forecast_status.map(|s| s.as_str())),
        date(0),
        date(1),
        date(2),
        om(l.forecast_error),
        error_pct,
        om(l.spend_after_end),
    ]
}
