//! `finops report weekly` (docs/commands/report-weekly.md).

use anyhow::{Context as _, Result};

use crate::cli::{MonthlyArgs, ReportCommand, WeeklyArgs};
use crate::context::Context;
use crate::error::exit;
use crate::money::Money;
use crate::monthly::{self, Monthly};
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::store::Store;
use crate::weekly::{self, Weekly};

pub fn run(ctx: &Context, cmd: &ReportCommand) -> Result<u8> {
    match cmd {
        ReportCommand::Weekly(a) => weekly_run(ctx, a),
        ReportCommand::Monthly(a) => monthly_run(ctx, a),
    }
}

const MONTHLY_COLUMNS: [Column; 10] = [
    Column::new("section", "Section", ColumnKind::Text),
    Column::new("item", "Item", ColumnKind::Text),
    Column::new("spend", "Spend", ColumnKind::Money),
    Column::new("share", "Share", ColumnKind::Ratio),
    Column::new("budget", "Budget", ColumnKind::Money),
    Column::new("utilisation", "Used", ColumnKind::Ratio),
    Column::new("value", "Value", ColumnKind::Money),
    Column::new("count", "Count", ColumnKind::Int),
    Column::new("rate", "Rate", ColumnKind::Ratio),
    Column::new("unit_cost", "Unit cost", ColumnKind::Decimal),
];

fn monthly_run(ctx: &Context, args: &MonthlyArgs) -> Result<u8> {
    let cal = ctx.calendar;
    let month = args.month.unwrap_or_else(|| cal.today().month());
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let m = monthly::compute(&ctx.config, &store, &cal, month)?;
    let mut r = monthly_report(&m)?;
    r.title = format!("Monthly summary {month} (through {})", m.through);
    r.parameters.insert("month".into(), month.to_string());
    r.parameters.insert("through".into(), m.through.to_string());
    r.parameters
        .insert("time_zone".into(), cal.tz.name().to_string());
    crate::output::emit(ctx, r)?;
    Ok(exit::OK)
}

fn monthly_report(m: &Monthly) -> Result<Report> {
    let mut r = Report::new("report-monthly", "", MONTHLY_COLUMNS.to_vec());
    r.rounding = crate::output::Rounding::EachCell;
    r.period = Some(m.month.to_string());
    r.currency = Some(m.currency.clone());
    let cur = m.currency.as_str();
    let money = |x: Money| Cell::money(x, cur);
    let share = |x: Money| x.ratio_to(m.total).map_or(Cell::Null, Cell::Ratio);
    // One row: section, item, then the cells that apply (by column key).
    let row = |section: &str, item: String, cells: &[(&str, Cell)]| -> Vec<Cell> {
        let mut v = vec![Cell::text(section), Cell::text(item)];
        for c in &MONTHLY_COLUMNS[2..] {
            v.push(
                cells
                    .iter()
                    .find(|(k, _)| *k == c.key)
                    .map_or(Cell::Null, |(_, cell)| cell.clone()),
            );
        }
        v
    };
    let used = |x: Money, b: Option<Money>| {
        b.and_then(|b| x.ratio_to(b))
            .map_or(Cell::Null, Cell::Ratio)
    };
    let budget = |b: Option<Money>| b.map_or(Cell::Null, money);
    let s = "summary";
    r.rows.push(row(
        s,
        "total".into(),
        &[
            ("spend", money(m.total)),
            ("budget", budget(m.budget)),
            ("utilisation", used(m.total, m.budget)),
        ],
    ));
    if let Some(b) = m.budget {
        let left = b
            .try_sub(m.total)
            .context("the budget remaining is beyond what can be held exactly")?;
        r.rows.push(row(
            s,
            "budget remaining".into(),
            &[("spend", money(left)), ("budget", money(b))],
        ));
    }
    r.rows.push(row(
        s,
        "forecast month-end".into(),
        &[
            ("spend", money(m.forecast)),
            ("budget", budget(m.budget)),
            ("utilisation", used(m.forecast, m.budget)),
        ],
    ));
    r.rows.push(row(
        s,
        "anomaly events".into(),
        &[("count", Cell::Int(m.anomalies as i128))],
    ));
    let days: Vec<Money> = m.days.iter().map(|(_, x)| *x).collect();
    r.rows.push(row(
        s,
        format!("daily trend {}", crate::output::sparkline(&days)),
        &[("count", Cell::Int(m.days.len() as i128))],
    ));
    let rate = |a: i128, b: i128| {
        if b > 0 {
            Cell::Ratio(a as f64 / b as f64)
        } else {
            Cell::Null
        }
    };
    r.rows.push(row(
        s,
        "cache hit rate".into(),
        &[
            ("count", Cell::Int(m.cached_tokens)),
            ("rate", rate(m.cached_tokens, m.input_tokens)),
        ],
    ));
    r.rows.push(row(
        s,
        "premium-model share".into(),
        &[("spend", money(m.premium)), ("share", share(m.premium))],
    ));
    if let Some(top) = m.features.first() {
        r.rows.push(row(
            s,
            format!("top feature: {}", top.name),
            &[("spend", money(top.spend)), ("share", share(top.spend))],
        ));
    }
    let unit = |per: i128, scale: i128, places: u32| -> Cell {
        if per <= 0 {
            return Cell::Null;
        }
        m.total
            .mul_ratio(scale, per)
            .map_or(Cell::Null, |value| Cell::Decimal { value, places })
    };
    r.rows.push(row(
        s,
        "cost per request".into(),
        &[
            ("count", Cell::Int(m.requests)),
            ("unit_cost", unit(m.requests, 1, 6)),
        ],
    ));
    r.rows.push(row(
        s,
        "cost per 1M tokens".into(),
        &[
            ("count", Cell::Int(m.tokens)),
            ("unit_cost", unit(m.tokens, 1_000_000, 4)),
        ],
    ));
    for t in &m.teams {
        r.rows.push(row(
            "team",
            t.name.clone(),
            &[
                ("spend", money(t.spend)),
                ("share", share(t.spend)),
                ("budget", budget(t.budget)),
                ("utilisation", used(t.spend, t.budget)),
            ],
        ));
    }
    for (section, list) in [
        ("model", &m.models),
        ("provider", &m.providers),
        ("feature", &m.features),
    ] {
        for x in list {
            r.rows.push(row(
                section,
                x.name.clone(),
                &[("spend", money(x.spend)), ("share", share(x.spend))],
            ));
        }
    }
    for v in &m.values {
        r.rows.push(row(
            "value",
            v.feature.clone(),
            &[
                ("spend", money(v.spend)),
                ("value", money(v.value)),
                (
                    "rate",
                    v.spend.ratio_to(v.value).map_or(Cell::Null, Cell::Ratio),
                ),
            ],
        ));
    }
    for (d, x) in &m.days {
        r.rows.push(row(
            "day",
            d.to_string(),
            &[("spend", money(*x)), ("share", share(*x))],
        ));
    }
    r.notes.push(
        "money by local day of the report's time zone, as budgets see it (chargeback is the invoice view); cache hit rate = cached input tokens / input tokens; requests and tokens from the request logs (bill rows where a provider has none); value: cost-to-value = spend / monthly_value".into(),
    );
    Ok(r)
}

const COLUMNS: [Column; 15] = [
    Column::new("feature", "Feature", ColumnKind::Text),
    Column::new("team", "Team", ColumnKind::Text),
    Column::new("owner", "Owner", ColumnKind::Text),
    Column::new("spend", "Spend", ColumnKind::Money),
    Column::new("previous_week", "Prev.", ColumnKind::Money),
    Column::new("change", "Change", ColumnKind::Ratio),
    Column::new("trend", "8 weeks", ColumnKind::Chart),
    Column::new("sessions", "Sessions", ColumnKind::Int),
    Column::new("median_session", "Median", ColumnKind::Money),
    Column::new("p95_session", "P95", ColumnKind::Money),
    Column::new("anomalies", "Anom.", ColumnKind::Int),
    Column::new("sessions_capped", "Capped", ColumnKind::Int),
    Column::new("cap_savings", "Saved", ColumnKind::Money),
    Column::new("budget_status", "Budget", ColumnKind::Text),
    Column::new("rising", "Rising", ColumnKind::Text),
];

fn weekly_run(ctx: &Context, args: &WeeklyArgs) -> Result<u8> {
    let cal = ctx.calendar;
    let week = match args.week {
        Some(w) => cal.week(w),
        None => cal.week_of(cal.today()).previous(1),
    };
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let mut w = weekly::compute(&ctx.config, &store, &cal, week)?;
    if let Some(f) = &args.feature {
        w.lines.retain(|l| &l.line.name.to_string() == f);
    }
    if let Some(t) = &args.team {
        w.lines
            .retain(|l| l.line.team.as_deref() == Some(t.as_str()));
    }
    if w.lines.is_empty() {
        anyhow::bail!(
            "no spend in week {week} ({} to {}){}; `finops sources` lists the periods the store holds",
            week.start,
            week.end(),
            match (&args.feature, &args.team) {
                (Some(f), _) => format!(" for feature {f:?}"),
                (_, Some(t)) => format!(" for team {t:?}"),
                _ => String::new(),
            }
        );
    }
    let mut r = report(&w, &week.to_string())?;
    r.parameters
        .insert("first_day".into(), week.start.to_string());
    r.parameters
        .insert("last_day".into(), week.end().to_string());
    r.parameters
        .insert("time_zone".into(), cal.tz.name().to_string());
    r.title = format!(
        "Weekly cost review {week} ({} to {})",
        week.start,
        week.end()
    );
    crate::output::emit(ctx, r)?;
    Ok(exit::OK)
}

fn report(w: &Weekly, period: &str) -> Result<Report> {
    let mut r = Report::new("report-weekly", "", COLUMNS.to_vec());
    // Each line is its own figure (a feature's spend as any query would print it); nothing
    // is charged here, so lines are not forced to add up to the cent.
    r.rounding = crate::output::Rounding::EachCell;
    r.period = Some(period.to_string());
    r.currency = Some(w.currency.clone());
    r.parameters.insert("week".into(), period.to_string());
    let cur = w.currency.as_str();
    let m = |x: Money| Cell::money(x, cur);
    let om = |x: Option<Money>| x.map_or(Cell::Null, m);
    let too_large = || "the week's totals are beyond what can be held exactly".to_string();
    let (mut spend, mut prev, mut saved) = (Money::ZERO, Money::ZERO, Money::ZERO);
    let (mut sessions, mut anomalies, mut stopped) = (0i128, 0i128, 0i128);
    for l in &w.lines {
        spend.add_assign(l.spend).with_context(too_large)?;
        prev.add_assign(l.previous).with_context(too_large)?;
        saved.add_assign(l.capped.saved).with_context(too_large)?;
        sessions += l.sessions as i128;
        anomalies += l.anomalies as i128;
        stopped += l.sessions_stopped as i128;
        let change = l
            .spend
            .try_sub(l.previous)
            .ok()
            .and_then(|d| d.ratio_to(l.previous));
        r.rows.push(vec![
            Cell::text(l.line.name.to_string()),
            Cell::opt_text(l.line.team.clone()),
            Cell::opt_text(l.owner.clone()),
            m(l.spend),
            m(l.previous),
            change.map_or(Cell::Null, Cell::Ratio),
            Cell::text(crate::output::sparkline(&l.trend)),
            Cell::Int(l.sessions as i128),
            om(l.median),
            om(l.p95),
            Cell::Int(l.anomalies as i128),
            Cell::Int(l.sessions_stopped as i128),
            m(l.capped.saved),
            Cell::opt_text(l.status.map(|s| {
                format!(
                    "{} {:.0}%",
                    s.as_str(),
                    l.budget
                        .and_then(|b| l.month_to_date.ratio_to(b))
                        .unwrap_or(0.0)
                        * 100.0
                )
            })),
            Cell::text(if l.rising { "yes" } else { "" }),
        ]);
    }
    let change = spend.try_sub(prev).ok().and_then(|d| d.ratio_to(prev));
    r.totals.push(vec![
        Cell::text("total"),
        Cell::Null,
        Cell::Null,
        m(spend),
        m(prev),
        change.map_or(Cell::Null, Cell::Ratio),
        Cell::Null,
        Cell::Int(sessions),
        Cell::Null,
        Cell::Null,
        Cell::Int(anomalies),
        Cell::Int(stopped),
        m(saved),
        Cell::Null,
        Cell::Null,
    ]);
    if !w.insufficient.is_empty() {
        r.notes.push(format!(
            "insufficient history for a session baseline (under the configured days or sessions before the week): {}",
            w.insufficient.join(", ")
        ));
    }
    for a in &w.product_week {
        r.notes.push(format!(
            "product-week {}: the week's spend {} {cur} is above {}× the weekly budget {} {cur}; escalate to {} ({})",
            a.finding.as_str(),
            a.actual.unwrap_or_default().in_minor_units(cur),
            a.multiplier,
            a.baseline.unwrap_or_default().in_minor_units(cur),
            a.escalation.to.as_deref().unwrap_or("nobody: set `executive` in finops.toml"),
            a.escalation.role,
        ));
    }
    r.notes.push(
        "sessions belong to the week of their first request; the cap is the feature's session_cap, else the session anomaly threshold (docs/metrics.md)".into(),
    );
    Ok(r)
}
