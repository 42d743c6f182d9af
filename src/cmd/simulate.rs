//! `finops simulate --session-cap USD` (docs/commands/simulate.md).

use anyhow::{Context as _, Result};

use crate::cli::SimulateArgs;
use crate::context::Context;
use crate::error::exit;
use crate::money::Money;
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::period::month_days;
use crate::simulate::{self, Simulation};
use crate::store::Store;

const COLUMNS: [Column; 10] = [
    Column::new("feature", "Feature", ColumnKind::Text),
    Column::new("team", "Team", ColumnKind::Text),
    Column::new("sessions", "Sessions", ColumnKind::Int),
    Column::new("sessions_cut", "Cut", ColumnKind::Int),
    Column::new("requests_refused", "Refused", ColumnKind::Int),
    Column::new("saved", "Saved", ColumnKind::Money),
    Column::new("session_spend", "Session spend", ColumnKind::Money),
    Column::new("spend", "Spend", ColumnKind::Money),
    Column::new("share_saved", "Share saved", ColumnKind::Ratio),
    Column::new("cap", "Cap", ColumnKind::Money),
];

const REQUEST_COLUMNS: [Column; 6] = [
    Column::new("at", "Time (UTC)", ColumnKind::Text),
    Column::new("session", "Session", ColumnKind::Text),
    Column::new("feature", "Feature", ColumnKind::Text),
    Column::new("team", "Team", ColumnKind::Text),
    Column::new("record_id", "Record", ColumnKind::Text),
    Column::new("cost", "Cost", ColumnKind::Money),
];

pub fn run(ctx: &Context, args: &SimulateArgs) -> Result<u8> {
    let cal = ctx.calendar;
    let today = cal.today();
    let (first, last, period) = match (args.week, args.month) {
        (Some(w), _) => {
            let w = cal.week(w);
            (w.start, w.end(), w.to_string())
        }
        (None, m) => {
            let m = m.unwrap_or_else(|| today.month());
            let (first, last) = month_days(m);
            (first, last, m.to_string())
        }
    };
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let mut sim = simulate::compute(&ctx.config, &store, &cal, first, last, args.session_cap)?;
    if let Some(f) = &args.feature {
        sim.lines.retain(|l| l.line.feature() == Some(f.as_str()));
        sim.refused.retain(|r| r.line.feature() == Some(f.as_str()));
        if sim.lines.is_empty() {
            anyhow::bail!(
                "no sessions of feature {} from {first} to {last}; `finops report weekly` lists the features with sessions",
                crate::error::quote(f)
            );
        }
    }
    let mut r = if args.requests {
        requests_report(&sim)
    } else {
        report(&sim, args.session_cap)?
    };
    r.period = Some(period.clone());
    r.currency = Some(sim.currency.clone());
    r.title = format!(
        "A session cap of {} {} over {period} ({first} to {last})",
        args.session_cap, sim.currency
    );
    r.parameters
        .insert("session_cap".into(), args.session_cap.to_string());
    r.parameters.insert("first_day".into(), first.to_string());
    r.parameters.insert("last_day".into(), last.to_string());
    r.parameters
        .insert("time_zone".into(), cal.tz.name().to_string());
    if let Some(f) = &args.feature {
        r.parameters.insert("feature".into(), f.clone());
    }
    r.notes.push(
        "a request starts only while its session has spent less than the cap; the request that reaches the cap completes, later ones are refused; saved = the refused requests' cost (docs/metrics.md)".into(),
    );
    crate::output::emit(ctx, r)?;
    Ok(exit::OK)
}

fn report(sim: &Simulation, cap: Money) -> Result<Report> {
    let mut r = Report::new("simulate", "", COLUMNS.to_vec());
    let cur = sim.currency.as_str();
    let m = |x: Money| Cell::money(x, cur);
    let too_large = || "the simulation's totals are beyond what can be held exactly".to_string();
    let (mut saved, mut session_spend, mut spend) = (Money::ZERO, Money::ZERO, Money::ZERO);
    let (mut sessions, mut cut, mut refused) = (0i128, 0i128, 0i128);
    for l in &sim.lines {
        saved.add_assign(l.saved).with_context(too_large)?;
        session_spend
            .add_assign(l.session_spend)
            .with_context(too_large)?;
        spend.add_assign(l.spend).with_context(too_large)?;
        sessions += l.sessions as i128;
        cut += l.sessions_cut as i128;
        refused += l.requests_refused as i128;
        r.rows.push(vec![
            Cell::text(l.line.name.to_string()),
            Cell::opt_text(l.line.team.clone()),
            Cell::Int(l.sessions as i128),
            Cell::Int(l.sessions_cut as i128),
            Cell::Int(l.requests_refused as i128),
            m(l.saved),
            m(l.session_spend),
            m(l.spend),
            l.saved.ratio_to(l.spend).map_or(Cell::Null, Cell::Ratio),
            m(cap),
        ]);
    }
    r.totals.push(vec![
        Cell::text("total"),
        Cell::Null,
        Cell::Int(sessions),
        Cell::Int(cut),
        Cell::Int(refused),
        m(saved),
        m(session_spend),
        m(spend),
        saved.ratio_to(spend).map_or(Cell::Null, Cell::Ratio),
        Cell::Null,
    ]);
    Ok(r)
}

fn requests_report(sim: &Simulation) -> Report {
    let mut r = Report::new("simulate-requests", "", REQUEST_COLUMNS.to_vec());
    r.rounding = crate::output::Rounding::EachCell;
    for x in &sim.refused {
        r.rows.push(vec![
            Cell::text(crate::timeparse::rfc3339(x.request.at)),
            Cell::text(x.session.clone()),
            Cell::text(x.line.name.to_string()),
            Cell::opt_text(x.line.team.clone()),
            Cell::text(x.request.record.clone()),
            Cell::money(x.request.cost, &sim.currency),
        ]);
    }
    r
}
