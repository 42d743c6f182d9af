//! The weekly cost review (SPEC §5.1, docs/commands/report-weekly.md): per feature, the
//! week's spend, median and P95 cost per session, anomaly events, the sessions a
//! per-session cap would have stopped and what it would have saved; the change against the
//! previous week, three rising weeks, the budget status and the cost owner.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};

use crate::attribution::Owner;
use crate::config::Config;
use crate::metrics::{self, Capped, MEDIAN, P95};
use crate::money::{Money, Overflow};
use crate::org::{Org, Status};
use crate::period::{Calendar, Day, Week};
use crate::query::{self, Group, Needs};
use crate::spend::{self, Class};
use crate::store::Store;

/// Weeks in the trend, the report's week included.
pub const TREND_WEEKS: i64 = 8;
/// Days before a session's week whose sessions make its baseline (SPEC §5.2).
pub const SESSION_BASELINE_DAYS: i64 = 28;
/// Days before a day that make its baseline (SPEC §5.2).
pub const DAILY_BASELINE_DAYS: i64 = 14;

/// The line a row of money is reported on.
pub fn line_of(cfg: &Config, class: &Class) -> (String, Option<String>) {
    match class {
        Class::Pool(i) => (format!("(shared) {}", cfg.shared[*i].name.get_ref()), None),
        Class::Owned(Owner { feature, team, .. }) => (
            feature.clone().unwrap_or_else(|| "(none)".into()),
            team.clone(),
        ),
    }
}

/// One feature's week.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureWeek {
    pub feature: String,
    pub team: Option<String>,
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
}

/// A session of one profile: (session id, profile index).
type SessionKey = (String, u32);

/// A day-by-line series of attributed money.
pub type Daily = BTreeMap<String, BTreeMap<Day, Money>>;

/// Σ of a line's days in `first..=last`.
pub fn sum_days(days: &BTreeMap<Day, Money>, first: Day, last: Day) -> Result<Money, Overflow> {
    Money::try_sum(days.range(first..=last).map(|(_, m)| *m))
}

pub fn compute(cfg: &Config, store: &Store, cal: &Calendar, week: Week) -> Result<Weekly> {
    let org = Org::new(cfg)?;
    let too_large = || format!("week {week}: amounts add up beyond what can be held exactly");
    let first = week.previous(TREND_WEEKS - 1).start;
    let spend = spend::load_days(
        cfg,
        &org.rules,
        store,
        cal,
        first,
        week.end(),
        &[],
        Needs::default(),
    )?;
    let currency = spend.currency.clone();
    let mut daily: Daily = BTreeMap::new();
    let mut teams: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut data_start: Option<Day> = None;
    for item in &spend.items {
        let day = Day(item.group.day.unwrap_or_default());
        data_start = Some(data_start.map_or(day, |d| d.min(day)));
        let (line, team) = line_of(cfg, &item.class);
        teams.entry(line.clone()).or_insert(team);
        daily
            .entry(line)
            .or_default()
            .entry(day)
            .or_default()
            .add_assign(item.amount)
            .with_context(too_large)?;
    }
    // Sessions: the report's week and the baseline days before it (a day's margin each
    // side for the first requests of sessions that started just before).
    let fields = org.rules.fields(&[]);
    let scan = cal.span(
        week.start.plus(-SESSION_BASELINE_DAYS - 1),
        week.end().plus(1),
    );
    let sessions = query::sessions(store, scan, &fields)?;
    let lines_of_profiles: Vec<(String, Option<String>)> = sessions
        .profiles
        .iter()
        .map(|g| line_of(cfg, &org.rules.class_of(g, &fields)))
        .collect();
    let baseline_start = week.start.plus(-SESSION_BASELINE_DAYS);
    // Per line: the week's sessions (id, profile, cost) and the baseline's costs.
    let mut this_week: BTreeMap<String, Vec<(usize, Money)>> = BTreeMap::new();
    let mut baseline: BTreeMap<String, Vec<Money>> = BTreeMap::new();
    for (i, s) in sessions.sessions.iter().enumerate() {
        let p = &sessions.profiles[s.profile as usize];
        let day = cal.day_of(s.first);
        let cost = to_reporting(cfg, &currency, p, day, s.cost)?;
        let (line, team) = &lines_of_profiles[s.profile as usize];
        if day >= week.start && day <= week.end() {
            teams.entry(line.clone()).or_insert(team.clone());
            this_week.entry(line.clone()).or_default().push((i, cost));
        } else if day >= baseline_start && day < week.start {
            baseline.entry(line.clone()).or_default().push(cost);
        }
    }
    let history_days = data_start.map_or(0, |d| (week.start.0 - d.0).max(0));
    let enough_days = history_days >= org.anomaly.min_history_days as i64;
    let mut out = Weekly {
        currency: currency.clone(),
        ..Weekly::default()
    };
    let mut to_cap: Vec<(String, Money)> = Vec::new();
    let month_first = crate::period::month_days(week.end().month()).0;
    for (line, team) in &teams {
        let days = daily.get(line).cloned().unwrap_or_default();
        let mut fw = FeatureWeek {
            feature: line.clone(),
            team: team.clone(),
            ..FeatureWeek::default()
        };
        let info = org.features.get(line);
        fw.owner = org
            .feature_escalation(Some(line), team.as_deref())
            .to
            .filter(|_| info.is_some() || team.is_some());
        for k in (0..TREND_WEEKS).rev() {
            let w = week.previous(k);
            fw.trend
                .push(sum_days(&days, w.start, w.end()).with_context(too_large)?);
        }
        fw.spend = fw.trend[fw.trend.len() - 1];
        fw.previous = fw.trend[fw.trend.len() - 2];
        let t = &fw.trend;
        fw.rising = t.len() >= 4 && t[t.len() - 4..].windows(2).all(|w| w[1] > w[0]);
        // Sessions.
        let mut costs: Vec<Money> = this_week
            .get(line)
            .map(|v| v.iter().map(|(_, c)| *c).collect())
            .unwrap_or_default();
        fw.sessions = costs.len() as u64;
        fw.median = metrics::quantile(&mut costs, MEDIAN).with_context(too_large)?;
        fw.p95 = metrics::quantile(&mut costs, P95).with_context(too_large)?;
        // Session events: above multiplier × the baseline median.
        let mut base = baseline.get(line).cloned().unwrap_or_default();
        let sufficient = enough_days && base.len() >= org.anomaly.min_history_sessions as usize;
        let base_median = metrics::quantile(&mut base, MEDIAN).with_context(too_large)?;
        let threshold = match (sufficient, base_median) {
            (true, Some(m)) => Some(
                m.mul_ratio(
                    org.anomaly.session_multiplier.0,
                    10i128.pow(crate::money::SCALE),
                )
                .with_context(too_large)?,
            ),
            _ => None,
        };
        if !sufficient && fw.sessions > 0 {
            out.insufficient.push(line.clone());
        }
        if let (Some(th), Some(bm)) = (threshold, base_median) {
            fw.anomalies += costs
                .iter()
                .filter(|c| {
                    if bm == Money::ZERO {
                        **c > Money::ZERO
                    } else {
                        **c > th
                    }
                })
                .count() as u64;
        }
        // Feature-day events.
        for d in crate::org::week_days(week) {
            let from = d.plus(-DAILY_BASELINE_DAYS).max(data_start.unwrap_or(d));
            let n = (d.0 - from.0).max(0);
            if n < org.anomaly.min_history_days as i64 {
                continue;
            }
            let sum = sum_days(&days, from, d.plus(-1)).with_context(too_large)?;
            let mean = sum.mul_ratio(1, n as i128).with_context(too_large)?;
            let actual = days.get(&d).copied().unwrap_or_default();
            let limit = mean
                .mul_ratio(
                    org.anomaly.feature_daily_multiplier.0,
                    10i128.pow(crate::money::SCALE),
                )
                .with_context(too_large)?;
            let event = if mean == Money::ZERO {
                actual > Money::ZERO
            } else {
                actual > limit
            };
            if event {
                fw.anomalies += 1;
            }
        }
        // The cap: configured, else the session anomaly threshold.
        fw.cap = info.and_then(|f| f.session_cap).or(threshold);
        if let Some(cap) = fw.cap {
            to_cap.push((line.clone(), cap));
        }
        // Budget.
        fw.budget = info.and_then(|f| f.budget);
        fw.month_to_date = sum_days(&days, month_first, week.end()).with_context(too_large)?;
        fw.status = fw.budget.map(|b| org.status(fw.month_to_date, b));
        out.lines.push(fw);
    }
    // The breaker, over the requests of the sessions that reach their line's cap.
    let caps: BTreeMap<String, Money> = to_cap.into_iter().collect();
    let mut candidates: BTreeMap<(String, u32), (String, Money)> = BTreeMap::new();
    for (line, list) in &this_week {
        let Some(cap) = caps.get(line) else { continue };
        for (i, cost) in list {
            if cost >= cap {
                let s = &sessions.sessions[*i];
                candidates.insert((s.id.clone(), s.profile), (line.clone(), *cap));
            }
        }
    }
    let ids: Vec<String> = candidates
        .keys()
        .map(|(id, _)| id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let requests = query::session_requests(store, scan, &ids, &fields)?;
    let mut by_session: BTreeMap<SessionKey, Vec<(i64, String, Money)>> = BTreeMap::new();
    for r in requests {
        let Some(&profile) = sessions.keys.get(&r.profile_key()) else {
            continue;
        };
        let key = (r.session.clone(), profile);
        if !candidates.contains_key(&key) {
            continue;
        }
        let p = &sessions.profiles[profile as usize];
        let cost = to_reporting(cfg, &currency, p, cal.day_of(r.at), r.cost)?;
        by_session
            .entry(key)
            .or_default()
            .push((r.at, r.record, cost));
    }
    for (key, mut reqs) in by_session {
        let (line, cap) = &candidates[&key];
        reqs.sort();
        let costs: Vec<Money> = reqs.iter().map(|r| r.2).collect();
        let c = metrics::cap_session(&costs, *cap).with_context(too_large)?;
        if let Some(fw) = out.lines.iter_mut().find(|f| &f.feature == line) {
            if c.stopped() {
                fw.sessions_stopped += 1;
            }
            fw.capped.refused += c.refused;
            fw.capped
                .saved
                .add_assign(c.saved)
                .with_context(too_large)?;
        }
    }
    Ok(out)
}

/// A session's money in the reporting currency (the rate of its day's month).
fn to_reporting(cfg: &Config, currency: &str, p: &Group, day: Day, cost: Money) -> Result<Money> {
    if p.currency == currency {
        return Ok(cost);
    }
    let month = day.month();
    let rate = cfg
        .fx
        .get(&month.to_string())
        .and_then(|r| r.get(&p.currency))
        .map(|a| a.0)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{month} has sessions in {} besides {currency}; give a rate in finops.toml, e.g. [fx.\"{month}\"] {} = 1.08",
                p.currency,
                p.currency
            )
        })?;
    spend::convert(cost, rate).map_err(|_| {
        anyhow::anyhow!("a session's cost in {currency} is beyond what can be held exactly")
    })
}
