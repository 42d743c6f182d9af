//! The weekly cost review (SPEC §5.1, docs/commands/report-weekly.md): per feature, the
//! week's spend, median and P95 cost per session, anomaly events, the sessions a
//! per-session cap would have stopped and what it would have saved; the change against the
//! previous week, three rising weeks, the budget status and the cost owner.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};

use crate::anomaly::{self, sum_days, Anomaly, Baseline, History, Level, Line};
use crate::breaker;
use crate::config::Config;
use crate::metrics::{self, Capped, MEDIAN, P95};
use crate::money::Money;
use crate::org::{Org, Status};
use crate::period::{Calendar, Week};
use crate::store::Store;

/// Weeks in the trend, the report's week included.
pub const TREND_WEEKS: i64 = 8;

/// One feature's week.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureWeek {
    pub line: Line,
    pub owner: Option<String>,
    pub spend: Money,
    pub previous: Money,
    /// The last [`TREND_WEEKS`] weeks' spend, oldest first (the report's week last).
    pub trend: Vec<Money>,
    /// Spend rose week over week for three weeks or more, up to this one.
    pub rising: bool,
    pub sessions: u64,
    pub median: Option<Money>,
    pub p95: Option<Money>,
    pub anomalies: u64,
    /// The cap applied: the feature's `session_cap`, else the session anomaly threshold.
    pub cap: Option<Money>,
    pub capped: Capped,
    pub sessions_stopped: u64,
    pub budget: Option<Money>,
    pub month_to_date: Money,
    pub status: Option<Status>,
}

/// The week's review.
#[derive(Debug, Clone, Default)]
pub struct Weekly {
    pub currency: String,
    pub lines: Vec<FeatureWeek>,
    /// Features whose session baseline had too little history.
    pub insufficient: Vec<String>,
    /// The week's product-week event, if any.
    pub product_week: Vec<Anomaly>,
}

pub fn compute(cfg: &Config, store: &Store, cal: &Calendar, week: Week) -> Result<Weekly> {
    let org = Org::new(cfg)?;
    let too_large = || format!("week {week}: amounts add up beyond what can be held exactly");
    let mut window = anomaly::window(cal, week.start, week.end());
    window.from = window.from.min(week.previous(TREND_WEEKS - 1).start);
    let history = History::load(cfg, &org, store, cal, window)?;
    let anomalies = anomaly::detect(&history, &org, cal, week.start, week.end())?;
    let currency = history.currency.clone();
    let mut out = Weekly {
        currency: currency.clone(),
        ..Weekly::default()
    };
    // Every line with money in the trend or sessions in the week.
    let mut lines: BTreeSet<&Line> = history.daily.keys().collect();
    lines.extend(history.sessions.iter().filter_map(|(l, v)| {
        v.iter()
            .any(|s| s.day >= week.start && s.day <= week.end())
            .then_some(l)
    }));
    let mut caps: BTreeMap<Line, Money> = BTreeMap::new();
    let month_first = crate::period::month_days(week.end().month()).0;
    let empty = BTreeMap::new();
    for line in lines {
        let days = history.daily.get(line).unwrap_or(&empty);
        let info = line.feature().and_then(|f| org.features.get(f));
        let mut fw = FeatureWeek {
            line: line.clone(),
            ..FeatureWeek::default()
        };
        fw.owner = org
            .feature_escalation(line.feature(), line.team.as_deref())
            .to
            .filter(|_| info.is_some() || line.team.is_some());
        for k in (0..TREND_WEEKS).rev() {
            let w = week.previous(k);
            fw.trend
                .push(sum_days(days, w.start, w.end()).with_context(too_large)?);
        }
        fw.spend = fw.trend[fw.trend.len() - 1];
        fw.previous = fw.trend[fw.trend.len() - 2];
        let t = &fw.trend;
        fw.rising = t.len() >= 4 && t[t.len() - 4..].windows(2).all(|w| w[1] > w[0]);
        // Sessions of the week.
        let mut costs: Vec<Money> = history
            .sessions
            .get(line)
            .map(|v| {
                v.iter()
                    .filter(|s| s.day >= week.start && s.day <= week.end())
                    .map(|s| s.cost)
                    .collect()
            })
            .unwrap_or_default();
        fw.sessions = costs.len() as u64;
        fw.median = metrics::quantile(&mut costs, MEDIAN).with_context(too_large)?;
        fw.p95 = metrics::quantile(&mut costs, P95).with_context(too_large)?;
        for a in anomalies.iter().filter(|a| a.line.as_ref() == Some(line)) {
            if a.finding.is_event() {
                fw.anomalies += 1;
            } else if a.level == Level::Session {
                out.insufficient.push(line.name.to_string());
            }
        }
        // The cap: configured, else the session anomaly threshold.
        let threshold = match history.session_baseline(&org, line, week)? {
            Baseline::Enough { threshold, .. } => Some(threshold),
            Baseline::Insufficient { .. } => None,
        };
        fw.cap = info.and_then(|f| f.session_cap).or(threshold);
        if let Some(cap) = fw.cap {
            caps.insert(line.clone(), cap);
        }
        // Budget.
        fw.budget = info.and_then(|f| f.budget);
        fw.month_to_date = sum_days(days, month_first, week.end()).with_context(too_large)?;
        fw.status = fw.budget.map(|b| org.status(fw.month_to_date, b));
        out.lines.push(fw);
    }
    out.product_week = anomalies
        .into_iter()
        .filter(|a| a.level == Level::ProductWeek)
        .collect();
    // The breaker, over the requests of the sessions that reach their line's cap.
    let candidates =
        breaker::candidates(&history, week.start, week.end(), |l| caps.get(l).copied());
    let outcomes = breaker::apply(
        cfg,
        store,
        cal,
        &history,
        week.start,
        week.end(),
        &candidates,
    )?;
    for ((_, line), o) in outcomes {
        if let Some(fw) = out.lines.iter_mut().find(|f| f.line == line) {
            if o.capped.stopped() {
                fw.sessions_stopped += 1;
            }
            fw.capped.refused += o.capped.refused;
            fw.capped
                .saved
                .add_assign(o.capped.saved)
                .with_context(too_large)?;
        }
    }
    Ok(out)
}
