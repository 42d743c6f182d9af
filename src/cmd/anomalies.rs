//! `finops anomalies [--since D --until D] [--check]` (docs/commands/anomalies.md).

use anyhow::Result;

use crate::anomaly::{self, Anomaly, History};
use crate::cli::AnomaliesArgs;
use crate::context::Context;
use crate::error::exit;
use crate::org::Org;
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::store::Store;

/// The longest window, in days: a year and a day (a window is read whole, with its
/// baselines).
pub const MAX_WINDOW_DAYS: i64 = 366;

const COLUMNS: [Column; 15] = [
    Column::new("day", "Day", ColumnKind::Text),
    Column::new("last_day", "Until", ColumnKind::Text),
    Column::new("level", "Level", ColumnKind::Text),
    Column::new("finding", "Finding", ColumnKind::Text),
    Column::new("feature", "Feature", ColumnKind::Text),
    Column::new("team", "Team", ColumnKind::Text),
    Column::new("session", "Session", ColumnKind::Text),
    Column::new("actual", "Actual", ColumnKind::Money),
    Column::new("baseline", "Baseline", ColumnKind::Money),
    Column::new("multiplier", "×", ColumnKind::Decimal),
    Column::new("threshold", "Threshold", ColumnKind::Money),
    Column::new("impact", "Impact", ColumnKind::Money),
    Column::new("owner", "Escalate to", ColumnKind::Text),
    Column::new("owner_role", "Role", ColumnKind::Text),
    Column::new("detail", "Baseline is", ColumnKind::Text),
];

pub fn run(ctx: &Context, args: &AnomaliesArgs) -> Result<u8> {
    let cal = ctx.calendar;
    let until = args.until.unwrap_or_else(|| cal.today());
    let since = args.since.unwrap_or(until.plus(-6));
    if since > until {
        anyhow::bail!(
            "--since {since} is after --until {until}; give a window whose first day comes first"
        );
    }
    if until.0 - since.0 >= MAX_WINDOW_DAYS {
        anyhow::bail!(
            "the window {since} to {until} is longer than {MAX_WINDOW_DAYS} days; give a shorter --since/--until"
        );
    }
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let org = Org::new(&ctx.config)?;
    let window = anomaly::window(&cal, since, until);
    let history = History::load(&ctx.config, &org, &store, &cal, window)?;
    let mut found = anomaly::detect(&history, &org, &cal, since, until)?;
    if let Some(f) = &args.feature {
        found.retain(|a| {
            a.line
                .as_ref()
                .is_none_or(|l| l.feature() == Some(f.as_str()))
        });
    }
    let events = found.iter().filter(|a| a.finding.is_event()).count();
    let mut r = report(&found, &history.currency);
    r.period = Some(format!("{since}..{until}"));
    r.currency = Some(history.currency.clone());
    r.title = format!("Anomalies {since} to {until}");
    r.parameters.insert("since".into(), since.to_string());
    r.parameters.insert("until".into(), until.to_string());
    r.parameters
        .insert("time_zone".into(), cal.tz.name().to_string());
    if let Some(f) = &args.feature {
        r.parameters.insert("feature".into(), f.clone());
    }
    let rules = &org.anomaly;
    r.notes.push(format!(
        "{events} event(s). Rules: session > {}× the feature's median session of the 28 days before its week; feature-day > {}× the mean of the 14 days before; product-week > {}× the weekly budget{}. Baselines need {} days of data and {} sessions (docs/metrics.md)",
        rules.session_multiplier,
        rules.feature_daily_multiplier,
        rules.weekly_budget_multiplier,
        if org.monthly_budget_total().ok().flatten().is_none() {
            " (off: no budgets in the config)"
        } else {
            ""
        },
        rules.min_history_days,
        rules.min_history_sessions,
    ));
    crate::output::emit(ctx, r)?;
    Ok(if args.check && events > 0 {
        exit::CHECK_FAILED
    } else {
        exit::OK
    })
}

fn report(found: &[Anomaly], currency: &str) -> Report {
    let mut r = Report::new("anomalies", "", COLUMNS.to_vec());
    let m = |x: Option<crate::money::Money>| x.map_or(Cell::Null, |x| Cell::money(x, currency));
    for a in found {
        r.rows.push(vec![
            Cell::text(a.day.to_string()),
            Cell::text(a.last_day.to_string()),
            Cell::text(a.level.as_str()),
            Cell::text(a.finding.as_str()),
            Cell::opt_text(a.line.as_ref().map(|l| l.name.to_string())),
            Cell::opt_text(a.line.as_ref().and_then(|l| l.team.clone())),
            Cell::opt_text(a.session.clone()),
            m(a.actual),
            m(a.baseline),
            Cell::Decimal {
                value: a.multiplier,
                places: 2,
            },
            m(a.threshold),
            m(a.impact),
            Cell::opt_text(a.escalation.to.clone()),
            Cell::text(a.escalation.role),
            Cell::text(a.detail.clone()),
        ]);
    }
    r
}
