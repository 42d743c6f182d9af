//! `finops simulate`: what a per-session cap would have done over a period (SPEC §3,
//! docs/commands/simulate.md), per line: the sessions it would have cut, the requests it
//! would have refused and the money it would have saved, against the line's spend.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use crate::anomaly::{sum_days, History, Line, Window};
use crate::breaker::{self, Refused};
use crate::config::Config;
use crate::money::Money;
use crate::org::Org;
use crate::period::{Calendar, Day};
use crate::store::Store;

/// One line's simulation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineSim {
    pub line: Line,
    /// Sessions that started in the period.
    pub sessions: u64,
    /// Σ of their cost.
    pub session_spend: Money,
    /// The line's spend in the period (sessions or not).
    pub spend: Money,
    pub sessions_cut: u64,
    pub requests_refused: u64,
    pub saved: Money,
}

/// A refused request, with its session and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRequest {
    pub session: String,
    pub line: Line,
    pub request: Refused,
}

#[derive(Debug, Clone, Default)]
pub struct Simulation {
    pub currency: String,
    pub lines: Vec<LineSim>,
    /// In time order.
    pub refused: Vec<RefusedRequest>,
}

/// The cap `cap` applied to every session that started in `first..=last`.
pub fn compute(
    cfg: &Config,
    store: &Store,
    cal: &Calendar,
    first: Day,
    last: Day,
    cap: Money,
) -> Result<Simulation> {
    let org = Org::new(cfg)?;
    let history = History::load(cfg, &org, store, cal, Window::days(first, last))?;
    let too_large = || format!("{first} to {last}: amounts add up beyond what can be held exactly");
    let mut lines: BTreeMap<Line, LineSim> = BTreeMap::new();
    for (line, days) in &history.daily {
        let e = lines.entry(line.clone()).or_insert_with(|| LineSim {
            line: line.clone(),
            ..LineSim::default()
        });
        e.spend = sum_days(days, first, last).with_context(too_large)?;
    }
    for (line, list) in &history.sessions {
        let e = lines.entry(line.clone()).or_insert_with(|| LineSim {
            line: line.clone(),
            ..LineSim::default()
        });
        for s in list.iter().filter(|s| s.day >= first && s.day <= last) {
            e.sessions += 1;
            e.session_spend.add_assign(s.cost).with_context(too_large)?;
        }
    }
    let candidates = breaker::candidates(&history, first, last, |_| Some(cap));
    let outcomes = breaker::apply(cfg, store, cal, &history, first, last, &candidates)?;
    let mut refused = Vec::new();
    for ((session, line), o) in outcomes {
        if let Some(e) = lines.get_mut(&line) {
            e.sessions_cut += u64::from(o.capped.stopped());
            e.requests_refused += o.capped.refused;
            e.saved.add_assign(o.capped.saved).with_context(too_large)?;
        }
        for r in o.refused {
            refused.push(RefusedRequest {
                session: session.clone(),
                line: line.clone(),
                request: r,
            });
        }
    }
    refused.sort_by(|a, b| {
        (a.request.at, &a.request.record, &a.session).cmp(&(
            b.request.at,
            &b.request.record,
            &b.session,
        ))
    });
    Ok(Simulation {
        currency: history.currency.clone(),
        lines: lines.into_values().filter(|l| l.sessions > 0).collect(),
        refused,
    })
}
