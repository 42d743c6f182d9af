//! The circuit breaker, applied to real sessions (docs/metrics.md, "What a per-session cap
//! does"): the requests of the sessions that reach their cap are read in time order (ties
//! by record id) and [`metrics::cap_session`] decides which would have been refused. The
//! weekly report's fifth metric and `finops simulate` both use this.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};

use crate::anomaly::{History, Line};
use crate::config::Config;
use crate::metrics::{self, Capped};
use crate::money::Money;
use crate::period::{Calendar, Day};
use crate::query;
use crate::spend;
use crate::store::Store;
use crate::timeparse::Micros;

/// A session of a line: (session id, line).
pub type SessionKey = (String, Line);

/// A request the cap would have refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub at: Micros,
    pub record: String,
    /// In the reporting currency.
    pub cost: Money,
}

/// What the cap does to one session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub capped: Capped,
    /// The refused requests, in time order.
    pub refused: Vec<Refused>,
}

/// The sessions of `history` that started in `first..=last` and cost at least their line's
/// cap (`cap_of`): those a cap can stop.
pub fn candidates(
    history: &History,
    first: Day,
    last: Day,
    cap_of: impl Fn(&Line) -> Option<Money>,
) -> BTreeMap<SessionKey, Money> {
    let mut out = BTreeMap::new();
    for (line, list) in &history.sessions {
        let Some(cap) = cap_of(line) else { continue };
        for s in list
            .iter()
            .filter(|s| s.day >= first && s.day <= last && s.cost >= cap)
        {
            out.insert((history.session_id(s).to_string(), line.clone()), cap);
        }
    }
    out
}

/// Applies each candidate's cap to its requests (those within a day of `first..=last`: a
/// session is assumed to last under a day).
#[allow(clippy::too_many_arguments)]
pub fn apply(
    cfg: &Config,
    store: &Store,
    cal: &Calendar,
    history: &History,
    first: Day,
    last: Day,
    candidates: &BTreeMap<SessionKey, Money>,
) -> Result<BTreeMap<SessionKey, Outcome>> {
    let ids: Vec<String> = candidates
        .keys()
        .map(|(id, _)| id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let scan = cal.span(first.plus(-1), last.plus(1));
    let requests = query::session_requests(store, scan, &ids, &history.profiles, &history.bucket)?;
    let mut by_session: BTreeMap<SessionKey, Vec<Refused>> = BTreeMap::new();
    for r in requests {
        let (line, currency) = &history.buckets[r.bucket as usize];
        let key = (r.session, line.clone());
        if !candidates.contains_key(&key) {
            continue;
        }
        let day = cal.day_of(r.at);
        let cost = spend::to_reporting(cfg, &history.currency, currency, day.month(), r.cost)?;
        by_session.entry(key).or_default().push(Refused {
            at: r.at,
            record: r.record,
            cost,
        });
    }
    let mut out = BTreeMap::new();
    for (key, mut reqs) in by_session {
        let cap = candidates[&key];
        reqs.sort_by(|a, b| (a.at, &a.record).cmp(&(b.at, &b.record)));
        let costs: Vec<Money> = reqs.iter().map(|r| r.cost).collect();
        let capped = metrics::cap_session(&costs, cap)
            .context("a session's requests add up beyond what can be held exactly")?;
        let n = reqs.len() - capped.refused as usize;
        let refused = reqs.split_off(n);
        out.insert(key, Outcome { capped, refused });
    }
    Ok(out)
}
