//! Anomaly rules that explain themselves (SPEC §5.2, docs/metrics.md): a session far above
//! its feature's median session, a feature's day far above its recent days, a week far
//! above the weekly budget. Each event carries the actual, the baseline, the multiplier,
//! the threshold, the impact and who it escalates to; a baseline with too little history
//! is listed as such instead of firing, and a zero baseline gives a "new spend" event.
//!
//! [`History`] reads what the rules need once (daily money per line, the sessions); the
//! weekly report and `finops anomalies` both detect from it.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::{Context as _, Result};

use crate::attribution::Owner;
use crate::config::Config;
use crate::metrics::{self, MEDIAN};
use crate::money::{Money, Overflow};
use crate::org::{Escalation, Org};
use crate::period::{Calendar, Day, Week};
use crate::query::{self, Needs};
use crate::spend::{self, Class};
use crate::store::Store;

/// Days before a session's week whose sessions make its baseline (SPEC §5.2).
pub const SESSION_BASELINE_DAYS: i64 = 28;
/// Days before a day that make its baseline (SPEC §5.2).
pub const DAILY_BASELINE_DAYS: i64 = 14;

/// What a report line is named after.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineName {
    Feature(String),
    /// Attributed to a team (or nobody) without a feature.
    #[default]
    NoFeature,
    /// A `[[shared]]` pool.
    Shared(String),
}

impl fmt::Display for LineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineName::Feature(n) => f.write_str(n),
            LineName::NoFeature => f.write_str("(none)"),
            LineName::Shared(n) => write!(f, "(shared) {n}"),
        }
    }
}

/// A line of the weekly review and of the anomaly rules: a feature of a team (the same
/// feature tagged with two teams is two lines), a team's spend without a feature, or a
/// shared pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Line {
    pub name: LineName,
    pub team: Option<String>,
}

impl Line {
    pub fn of(cfg: &Config, class: &Class) -> Line {
        match class {
            Class::Pool(i) => Line {
                name: LineName::Shared(cfg.shared[*i].name.get_ref().clone()),
                team: None,
            },
            Class::Owned(Owner { feature, team, .. }) => Line {
                name: feature
                    .clone()
                    .map_or(LineName::NoFeature, LineName::Feature),
                team: team.clone(),
            },
        }
    }

    pub fn feature(&self) -> Option<&str> {
        match &self.name {
            LineName::Feature(f) => Some(f),
            _ => None,
        }
    }
}

/// A day-by-line series of attributed money.
pub type Daily = BTreeMap<Line, BTreeMap<Day, Money>>;

/// Σ of a series' days in `first..=last`.
pub fn sum_days(days: &BTreeMap<Day, Money>, first: Day, last: Day) -> Result<Money, Overflow> {
    if first > last {
        return Ok(Money::ZERO);
    }
    Money::try_sum(days.range(first..=last).map(|(_, m)| *m))
}

/// A session, in the reporting currency.
#[derive(Debug, Clone)]
pub struct SessionCost {
    /// The local day of its first request.
    pub day: Day,
    pub cost: Money,
    /// Index into [`History::rows`]: its id.
    pub index: usize,
}

/// What the rules read: every line's money per local day over `first..=last`, and the
/// sessions that started in those days.
pub struct History {
    pub currency: String,
    pub daily: Daily,
    /// The first day with any money in what was read: days before it do not count in a
    /// baseline.
    pub data_start: Option<Day>,
    /// Per line, its sessions by first day.
    pub sessions: BTreeMap<Line, Vec<SessionCost>>,
    /// The sessions as read (per id and bucket), indexed by [`SessionCost::index`].
    pub rows: Vec<query::SessionRow>,
    /// The attribution profiles of the sessions' rows, and the bucket of each.
    pub profiles: query::Profiles,
    pub bucket: Vec<u32>,
    /// The line and the currency of each bucket.
    pub buckets: Vec<(Line, String)>,
}

impl History {
    /// Reads the money of the days `w.from..=w.to` in the calendar's time zone, and the
    /// sessions that started in `w.sessions_from..=w.to`.
    pub fn load(
        cfg: &Config,
        org: &Org,
        store: &Store,
        cal: &Calendar,
        w: Window,
    ) -> Result<History> {
        let (first, last) = (w.from, w.to);
        let too_large = || {
            format!("{first} to {last}: amounts add up beyond what can be held exactly; check `finops sources` for a batch with absurd totals")
        };
        let spend = spend::load_days(
            cfg,
            &org.rules,
            store,
            cal,
            first,
            last,
            &[],
            Needs::default(),
        )?;
        let currency = spend.currency.clone();
        let mut daily: Daily = BTreeMap::new();
        let mut data_start: Option<Day> = None;
        for item in &spend.items {
            let day = Day(item.group.day.unwrap_or_default());
            data_start = Some(data_start.map_or(day, |d| d.min(day)));
            daily
                .entry(Line::of(cfg, &item.class))
                .or_default()
                .entry(day)
                .or_default()
                .add_assign(item.amount)
                .with_context(too_large)?;
        }
        // Sessions, with a day's margin each side for sessions that started just before
        // (a session is assumed to last under a day; docs/metrics.md).
        let fields = org.rules.fields(&[]);
        let scan = cal.span(w.sessions_from.plus(-1), last.plus(1));
        let profiles = query::session_profiles(store, scan, &fields)?;
        // A session is its rows that attribute to one line: rows of several profiles
        // (provider, tags...) on the same line are one session. Profiles go to buckets by
        // line and currency; a session's buckets of one line are added up here.
        let mut line_ids: HashMap<Line, u32> = HashMap::new();
        let mut bucket_ids: HashMap<(u32, String), u32> = HashMap::new();
        let mut buckets: Vec<(Line, String)> = Vec::new();
        let mut bucket_line: Vec<u32> = Vec::new();
        let bucket: Vec<u32> = profiles
            .groups
            .iter()
            .map(|g| {
                let line = Line::of(cfg, &org.rules.class_of(g, &fields));
                let n = line_ids.len() as u32;
                let lid = *line_ids.entry(line.clone()).or_insert(n);
                let n = bucket_ids.len() as u32;
                *bucket_ids
                    .entry((lid, g.currency.clone()))
                    .or_insert_with(|| {
                        buckets.push((line, g.currency.clone()));
                        bucket_line.push(lid);
                        n
                    })
            })
            .collect();
        let rows = query::session_costs(store, scan, &profiles, &bucket)?;
        let mut merged: HashMap<(u32, &str), (Day, Money, usize)> = HashMap::new();
        for (index, s) in rows.iter().enumerate() {
            let day = cal.day_of(s.first);
            let b = s.bucket as usize;
            let cost = spend::to_reporting(cfg, &currency, &buckets[b].1, day.month(), s.cost)?;
            match merged.entry((bucket_line[b], s.id.as_str())) {
                Entry::Occupied(mut e) => {
                    let (d, c, i) = e.get_mut();
                    c.add_assign(cost).with_context(too_large)?;
                    if day < *d {
                        (*d, *i) = (day, index);
                    }
                }
                Entry::Vacant(e) => {
                    e.insert((day, cost, index));
                }
            }
        }
        let mut lines: Vec<Line> = vec![Line::default(); line_ids.len()];
        for (l, i) in line_ids {
            lines[i as usize] = l;
        }
        let mut sessions: BTreeMap<Line, Vec<SessionCost>> = BTreeMap::new();
        for ((line, _), (day, cost, index)) in merged {
            if day < w.sessions_from || day > last {
                continue;
            }
            sessions
                .entry(lines[line as usize].clone())
                .or_default()
                .push(SessionCost { day, cost, index });
        }
        for list in sessions.values_mut() {
            list.sort_by_key(|s| (s.day, s.index));
        }
        Ok(History {
            currency,
            daily,
            data_start,
            sessions,
            rows,
            profiles,
            bucket,
            buckets,
        })
    }

    /// The days of history before `day`, as far as the baseline rules see them.
    fn history_days(&self, day: Day) -> i64 {
        self.data_start.map_or(0, |s| (day.0 - s.0).max(0))
    }

    /// The session baseline of a line for sessions of `week`: the median session of the
    /// 28 days before the week, when there is enough history.
    pub fn session_baseline(&self, org: &Org, line: &Line, week: Week) -> Result<Baseline> {
        let from = week.start.plus(-SESSION_BASELINE_DAYS);
        let mut costs: Vec<Money> = self
            .sessions
            .get(line)
            .map(|v| {
                v.iter()
                    .filter(|s| s.day >= from && s.day < week.start)
                    .map(|s| s.cost)
                    .collect()
            })
            .unwrap_or_default();
        let days = self.history_days(week.start).min(SESSION_BASELINE_DAYS);
        if days < org.anomaly.min_history_days as i64
            || costs.len() < org.anomaly.min_history_sessions as usize
        {
            return Ok(Baseline::Insufficient {
                days,
                samples: costs.len(),
            });
        }
        let median = metrics::quantile(&mut costs, MEDIAN)
            .context("session costs add up beyond what can be held exactly")?
            .unwrap_or_default();
        Ok(Baseline::Enough {
            value: median,
            threshold: median
                .times(org.anomaly.session_multiplier)
                .context("a session threshold is beyond what can be held exactly")?,
        })
    }

    /// The feature-day baseline of a line for day `d`: its mean daily spend over the 14
    /// days before (days without spend count as zero; days before the data do not count).
    pub fn daily_baseline(&self, org: &Org, line: &Line, d: Day) -> Result<Baseline> {
        let from = d
            .plus(-DAILY_BASELINE_DAYS)
            .max(self.data_start.unwrap_or(d));
        let n = (d.0 - from.0).max(0);
        if n < org.anomaly.min_history_days as i64 {
            return Ok(Baseline::Insufficient {
                days: n,
                samples: n as usize,
            });
        }
        let empty = BTreeMap::new();
        let days = self.daily.get(line).unwrap_or(&empty);
        let mean = sum_days(days, from, d.plus(-1))
            .and_then(|s| s.mul_ratio(1, n as i128))
            .context("daily spend adds up beyond what can be held exactly")?;
        Ok(Baseline::Enough {
            value: mean,
            threshold: mean
                .times(org.anomaly.feature_daily_multiplier)
                .context("a daily threshold is beyond what can be held exactly")?,
        })
    }

    /// The money of every line in `first..=last`.
    pub fn total(&self, first: Day, last: Day) -> Result<Money, Overflow> {
        let mut t = Money::ZERO;
        for days in self.daily.values() {
            t.add_assign(sum_days(days, first, last)?)?;
        }
        Ok(t)
    }

    /// The session id of a session.
    pub fn session_id(&self, s: &SessionCost) -> &str {
        &self.rows[s.index].id
    }
}

/// A rule's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The baseline and the threshold (baseline × multiplier) above which spend is an event.
    Enough { value: Money, threshold: Money },
    /// Too little history: `days` of data, `samples` sessions (or days).
    Insufficient { days: i64, samples: usize },
}

impl Baseline {
    /// Whether `actual` is an event against this baseline, and which.
    fn judge(self, actual: Money) -> Option<Finding> {
        match self {
            Baseline::Enough { value, .. } if value == Money::ZERO => {
                (actual > Money::ZERO).then_some(Finding::NewSpend)
            }
            Baseline::Enough { threshold, .. } => (actual > threshold).then_some(Finding::Event),
            Baseline::Insufficient { .. } => None,
        }
    }
}

/// The rule an anomaly comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Session,
    FeatureDay,
    ProductWeek,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Session => "session",
            Level::FeatureDay => "feature-day",
            Level::ProductWeek => "product-week",
        }
    }
}

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// Above the threshold.
    Event,
    /// Spend where the baseline is zero: an event without a ratio.
    NewSpend,
    /// Too little history for a baseline: no event, listed so that nobody takes silence
    /// for a clean bill.
    InsufficientHistory,
}

impl Finding {
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Event => "event",
            Finding::NewSpend => "new spend",
            Finding::InsufficientHistory => "insufficient history",
        }
    }

    /// Whether it counts as an event (`--check` fails, the weekly report counts it).
    pub fn is_event(self) -> bool {
        self != Finding::InsufficientHistory
    }
}

/// One anomaly.
#[derive(Debug, Clone)]
pub struct Anomaly {
    pub level: Level,
    pub finding: Finding,
    /// The day (session: of its first request; product-week: the week's first day).
    pub day: Day,
    /// The last day concerned (a week's last day, the end of a run of insufficient days).
    pub last_day: Day,
    /// None for product-week.
    pub line: Option<Line>,
    pub session: Option<String>,
    pub actual: Option<Money>,
    pub baseline: Option<Money>,
    pub multiplier: Money,
    pub threshold: Option<Money>,
    /// actual − baseline.
    pub impact: Option<Money>,
    pub escalation: Escalation,
    /// What the baseline is, in words.
    pub detail: String,
}

/// The anomalies of the days `first..=last`: session events of sessions that started in
/// them, feature-day events of those days, product-week events of the weeks that overlap
/// them. `history` must reach [`SESSION_BASELINE_DAYS`] before the first day's week and
/// cover those weeks whole ([`window`]).
pub fn detect(
    history: &History,
    org: &Org,
    cal: &Calendar,
    first: Day,
    last: Day,
) -> Result<Vec<Anomaly>> {
    let mut out = Vec::new();
    let events =
        |b: Baseline, actual: Money| -> Result<(Option<Money>, Option<Money>, Option<Money>)> {
            Ok(match b {
                Baseline::Enough { value, threshold } => (
                    Some(value),
                    Some(threshold),
                    Some(
                        actual
                            .try_sub(value)
                            .context("an impact is beyond what can be held exactly")?,
                    ),
                ),
                Baseline::Insufficient { .. } => (None, None, None),
            })
        };
    // Sessions.
    for (line, list) in &history.sessions {
        let escalation = org.feature_escalation(line.feature(), line.team.as_deref());
        let mut baselines: BTreeMap<Week, Baseline> = BTreeMap::new();
        let mut seen: BTreeMap<Week, (Day, Day, usize)> = BTreeMap::new();
        for s in list.iter().filter(|s| s.day >= first && s.day <= last) {
            let week = cal.week_of(s.day);
            let b = match baselines.get(&week) {
                Some(b) => *b,
                None => {
                    let b = history.session_baseline(org, line, week)?;
                    baselines.insert(week, b);
                    b
                }
            };
            if let Baseline::Insufficient { .. } = b {
                let e = seen.entry(week).or_insert((s.day, s.day, 0));
                e.0 = e.0.min(s.day);
                e.1 = e.1.max(s.day);
                e.2 += 1;
                continue;
            }
            let Some(finding) = b.judge(s.cost) else {
                continue;
            };
            let (baseline, threshold, impact) = events(b, s.cost)?;
            out.push(Anomaly {
                level: Level::Session,
                finding,
                day: s.day,
                last_day: s.day,
                line: Some(line.clone()),
                session: Some(history.session_id(s).to_string()),
                actual: Some(s.cost),
                baseline,
                multiplier: org.anomaly.session_multiplier,
                threshold,
                impact,
                escalation: escalation.clone(),
                detail: format!("median session of the {SESSION_BASELINE_DAYS} days before {week}"),
            });
        }
        for (week, (from, to, n)) in seen {
            let Baseline::Insufficient { days, samples } = baselines[&week] else {
                continue;
            };
            out.push(Anomaly {
                level: Level::Session,
                finding: Finding::InsufficientHistory,
                day: from,
                last_day: to,
                line: Some(line.clone()),
                session: None,
                actual: None,
                baseline: None,
                multiplier: org.anomaly.session_multiplier,
                threshold: None,
                impact: None,
                escalation: escalation.clone(),
                detail: format!(
                    "{n} session(s) not judged: {samples} session(s) over {days} day(s) of data in the {SESSION_BASELINE_DAYS} days before {week}; a baseline needs {} sessions and {} days",
                    org.anomaly.min_history_sessions, org.anomaly.min_history_days
                ),
            });
        }
    }
    // Feature-days.
    for (line, days) in &history.daily {
        let team = line
            .team
            .as_deref()
            .or_else(|| line.feature().and_then(|f| org.team_of(f)));
        let escalation = org.team_escalation(team);
        let mut short: Option<(Day, Day)> = None;
        for (&d, &actual) in days.range(first..=last) {
            if actual <= Money::ZERO {
                continue;
            }
            let b = history.daily_baseline(org, line, d)?;
            if let Baseline::Insufficient { .. } = b {
                short = Some(short.map_or((d, d), |(a, _)| (a, d)));
                continue;
            }
            let Some(finding) = b.judge(actual) else {
                continue;
            };
            let (baseline, threshold, impact) = events(b, actual)?;
            out.push(Anomaly {
                level: Level::FeatureDay,
                finding,
                day: d,
                last_day: d,
                line: Some(line.clone()),
                session: None,
                actual: Some(actual),
                baseline,
                multiplier: org.anomaly.feature_daily_multiplier,
                threshold,
                impact,
                escalation: escalation.clone(),
                detail: format!("mean daily spend of the {DAILY_BASELINE_DAYS} days before"),
            });
        }
        if let Some((from, to)) = short {
            out.push(Anomaly {
                level: Level::FeatureDay,
                finding: Finding::InsufficientHistory,
                day: from,
                last_day: to,
                line: Some(line.clone()),
                session: None,
                actual: None,
                baseline: None,
                multiplier: org.anomaly.feature_daily_multiplier,
                threshold: None,
                impact: None,
                escalation: escalation.clone(),
                detail: format!(
                    "days not judged: under {} days of data before them",
                    org.anomaly.min_history_days
                ),
            });
        }
    }
    // Product-weeks.
    let mut week = cal.week_of(first);
    while week.start <= last {
        if let Some(budget) = org
            .weekly_budget(week)
            .context("the weekly budget is beyond what can be held exactly")?
        {
            let actual = history
                .total(week.start, week.end())
                .context("a week's spend adds up beyond what can be held exactly")?;
            let b = Baseline::Enough {
                value: budget,
                threshold: budget
                    .times(org.anomaly.weekly_budget_multiplier)
                    .context("the weekly threshold is beyond what can be held exactly")?,
            };
            if let Some(finding) = b.judge(actual) {
                let (baseline, threshold, impact) = events(b, actual)?;
                out.push(Anomaly {
                    level: Level::ProductWeek,
                    finding,
                    day: week.start,
                    last_day: week.end(),
                    line: None,
                    session: None,
                    actual: Some(actual),
                    baseline,
                    multiplier: org.anomaly.weekly_budget_multiplier,
                    threshold,
                    impact,
                    escalation: org.executive_escalation(),
                    detail: "weekly budget: the monthly budgets × 7 / days in the month".into(),
                });
            }
        }
        week = week.previous(-1);
    }
    out.sort_by(|a, b| {
        (a.day, a.level, &a.line, a.finding, &a.session)
            .cmp(&(b.day, b.level, &b.line, b.finding, &b.session))
    });
    Ok(out)
}

/// What a [`History`] reads: money of the days `from..=to`, sessions that started in
/// `sessions_from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Day,
    pub to: Day,
    pub sessions_from: Day,
}

impl Window {
    /// Money and sessions of the same days.
    pub fn days(from: Day, to: Day) -> Window {
        Window {
            from,
            to,
            sessions_from: from,
        }
    }
}

/// What a [`History`] must read to detect anomalies in `first..=last`: the session
/// baseline before the first day's week, the daily baseline before the first day, and the
/// weeks of the window whole.
pub fn window(cal: &Calendar, first: Day, last: Day) -> Window {
    let sessions_from = cal.week_of(first).start.plus(-SESSION_BASELINE_DAYS);
    Window {
        from: sessions_from.min(first.plus(-DAILY_BASELINE_DAYS)),
        to: cal.week_of(last).end().max(last),
        sessions_from,
    }
}
