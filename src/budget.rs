//! Budgets and forecast (SPEC §5.3, docs/commands/budget.md): per team, feature, feature
//! day and experiment with a budget, the spend to date, utilisation and status, the
//! forecast at the end of the budget's period and the day each threshold is (or is
//! projected to be) crossed.
//!
//! The forecast, precisely. On day `today` of a period `first..=last`:
//! - the *complete days* are the period's days before today, their spend `C`;
//! - `T` is today's spend so far; `S` the spend of the 7 days before today (days without
//!   spend count as zero; they may lie before the period) and `m = S / 7`;
//! - the projected spend through day `d` (today or later), with `k = d − today + 1`, is
//!   `P(k) = C + max(T, m) + S × (k − 1) / 7`: today counts as a day of mean spend, or as
//!   what it has already spent when that is more, so a forecast is never below the spend to
//!   date; each later day adds `m`. Each division is rounded once, half to even at 10⁻¹⁸.
//! - the forecast is `P` at the period's last day;
//! - threshold `t` is crossed on the first day whose cumulative actual spend (days up to
//!   today, today so far included) reaches `t × budget`, else on the first day `d` in
//!   `today..=last` with `P(k) ≥ t × budget`; none when neither happens within the period.
//!
//! A past month's forecast is the one made at the start of its 16th (15 complete days, `T`
//! = 0), set against the month's actual total: the forecast error.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use crate::anomaly::sum_days;
use crate::config::Config;
use crate::money::{Money, Overflow};
use crate::org::{Org, Status};
use crate::period::{month_days, Calendar, Day, Period};
use crate::query::Needs;
use crate::spend::{self, Class};
use crate::store::Store;
use crate::timeparse::Month;

/// Days whose mean makes the forecast's daily rate (SPEC §5.3).
pub const MEAN_DAYS: i64 = 7;
/// The day of a past month as of which its forecast is made (SPEC §5.3's forecast error).
pub const PAST_FORECAST_DAY: u32 = 16;

/// Spend per local day.
pub type Series = BTreeMap<Day, Money>;

/// The thresholds, in the order of `[alerts] thresholds`.
pub const LEVELS: [Status; 3] = [Status::Alert, Status::Fallback, Status::Halt];

/// What a budget's spend is known to be on a day, and its projection to the period's end
/// (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Projection {
    /// The first projected day: today, or the period's first day when it starts later.
    pub from: Day,
    /// The period's last day.
    pub last: Day,
    /// `C`: the spend of the period's days before `from`.
    pub complete: Money,
    /// `T`: the spend of `from` so far (zero when `from` is after today).
    pub today: Money,
    /// `S`: the spend of the [`MEAN_DAYS`] days before today.
    pub last7: Money,
}

impl Projection {
    /// The projection on `today` of a period `first..=last`, from `series` (days after
    /// `today` are ignored). None when the period is over (`today > last`).
    pub fn new(
        series: &Series,
        first: Day,
        last: Day,
        today: Day,
    ) -> Result<Option<Projection>, Overflow> {
        if today > last {
            return Ok(None);
        }
        let from = today.max(first);
        Ok(Some(Projection {
            from,
            last,
            complete: sum_days(series, first, from.plus(-1))?,
            today: if from == today {
                series.get(&today).copied().unwrap_or_default()
            } else {
                Money::ZERO
            },
            last7: sum_days(series, today.plus(-MEAN_DAYS), today.plus(-1))?,
        }))
    }

    /// `m`: the mean daily spend of the last [`MEAN_DAYS`] complete days.
    pub fn mean(&self) -> Result<Money, Overflow> {
        self.last7.mul_ratio(1, MEAN_DAYS as i128)
    }

    /// `P(k)`: the projected spend through the `k`-th day from `from` (k ≥ 1).
    pub fn at(&self, k: i64) -> Result<Money, Overflow> {
        let first_day = self.today.max(self.mean()?);
        let later = self
            .last7
            .mul_ratio((k - 1).max(0) as i128, MEAN_DAYS as i128)?;
        self.complete.try_add(first_day)?.try_add(later)
    }

    /// Days from `from` through `last`.
    pub fn days(&self) -> i64 {
        self.last.0 - self.from.0 + 1
    }

    /// The forecast: the projected spend through the period's last day.
    pub fn forecast(&self) -> Result<Money, Overflow> {
        self.at(self.days())
    }

    /// The first day in `from..=last` whose projected spend satisfies `reached` (a
    /// predicate monotone in the spend: once true, true for every larger amount). The
    /// projection rises with the days when `S ≥ 0` (binary search) and falls when `S < 0`
    /// (only the first day can be the first).
    pub fn crossing(&self, reached: impl Fn(Money) -> bool) -> Result<Option<Day>, Overflow> {
        let n = self.days();
        if self.last7 < Money::ZERO {
            return Ok(reached(self.at(1)?).then_some(self.from));
        }
        if !reached(self.at(n)?) {
            return Ok(None);
        }
        // The smallest k in 1..=n with reached(P(k)); P(n) reaches.
        let (mut lo, mut hi) = (1, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if reached(self.at(mid)?) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(Some(self.from.plus(lo - 1)))
    }
}

/// The first day in `first..=last` on which the cumulative spend since `first` satisfies
/// `reached`.
pub fn actual_crossing(
    series: &Series,
    first: Day,
    last: Day,
    reached: impl Fn(Money) -> bool,
) -> Result<Option<Day>, Overflow> {
    let mut cum = Money::ZERO;
    let mut d = first;
    while d <= last {
        cum.add_assign(series.get(&d).copied().unwrap_or_default())?;
        if reached(cum) {
            return Ok(Some(d));
        }
        d = d.plus(1);
    }
    Ok(None)
}

/// The day a threshold is crossed: actually (cumulative spend through `last_known`), else
/// as projected.
pub fn crossing(
    series: &Series,
    first: Day,
    last_known: Day,
    projection: Option<&Projection>,
    reached: impl Fn(Money) -> bool,
) -> Result<Option<Day>, Overflow> {
    if let Some(d) = actual_crossing(series, first, last_known, &reached)? {
        return Ok(Some(d));
    }
    match projection {
        Some(p) => p.crossing(&reached),
        None => Ok(None),
    }
}

/// What a line's budget is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// A team's monthly budget: all money attributed to the team.
    Team,
    /// A feature's monthly budget.
    Feature,
    /// A feature's daily budget.
    FeatureDay,
    /// An `[[experiment]]`'s budget over its days.
    Experiment,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Team => "team",
            Scope::Feature => "feature",
            Scope::FeatureDay => "feature-day",
            Scope::Experiment => "experiment",
        }
    }
}

/// One budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub scope: Scope,
    /// The team, feature or experiment.
    pub name: String,
    pub team: Option<String>,
    /// Who the budget's events go to (docs/commands/budget.md).
    pub owner: Option<String>,
    /// The days the budget covers: the month; the day (today, or a past month's worst
    /// day); the experiment's days.
    pub period: Period,
    pub budget: Money,
    /// The spend to date: month to date; the day's spend; the experiment's so far.
    pub spend: Money,
    pub status: Status,
    /// The forecast at the end of the period; None for a day, a period that is over, and
    /// an experiment in a past month.
    pub forecast: Option<Money>,
    pub forecast_status: Option<Status>,
    /// The day each threshold (alert, fallback, halt) is crossed: actually, or projected.
    pub crossed: [Option<Day>; 3],
    /// Past months: the forecast made as of the 16th minus the actual total.
    pub forecast_error: Option<Money>,
    /// Experiments: the feature's spend in the month after the experiment's last day.
    pub spend_after_end: Option<Money>,
}

impl Line {
    /// What makes `budget check` fail for this line: the status reached, and (when the
    /// forecast counts) the forecast status with the day it is projected; None when
    /// nothing crossed.
    pub fn breach(&self, forecast_counts: bool) -> Option<Breach> {
        let actual = (self.status >= Status::Alert).then_some(self.status);
        let forecast = match self.forecast_status {
            Some(fs) if forecast_counts && fs >= Status::Alert && fs > self.status => {
                let i = LEVELS.iter().position(|l| *l == fs).unwrap_or(0);
                Some((fs, self.crossed[i]))
            }
            _ => None,
        };
        (actual.is_some() || forecast.is_some()).then_some(Breach { actual, forecast })
    }
}

/// What crossed a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breach {
    /// The status the spend to date reached (alert or above).
    pub actual: Option<Status>,
    /// A higher status the forecast reaches, and the projected day.
    pub forecast: Option<(Status, Option<Day>)>,
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = self.actual {
            parts.push(s.as_str().to_string());
        }
        if let Some((s, d)) = self.forecast {
            parts.push(match d {
                Some(d) => format!("forecast {} on {d}", s.as_str()),
                None => format!("forecast {}", s.as_str()),
            });
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// The budgets of a month.
#[derive(Debug, Clone)]
pub struct Budgets {
    pub month: Month,
    pub currency: String,
    pub today: Day,
    /// The last day counted: today in the current month, else the month's last day.
    pub as_of: Day,
    /// The month is before today's.
    pub past: bool,
    /// The day the month-end forecast is made on: today, or a past month's 16th.
    pub forecast_day: Day,
    pub lines: Vec<Line>,
    pub notes: Vec<String>,
}

/// True when the config sets any budget this report reads.
pub fn configured(cfg: &Config) -> bool {
    cfg.teams.iter().any(|t| t.budget.is_some())
        || cfg
            .features
            .iter()
            .any(|f| f.budget.is_some() || f.daily_budget.is_some())
        || !cfg.experiments.is_empty()
}

/// The last day of `month` that counts: today in the current month, the month's last day
/// in a past one; an error for a month after today's.
pub fn counted_through(cal: &Calendar, month: Month) -> Result<Day> {
    let today = cal.today();
    let current = today.month();
    if month > current {
        anyhow::bail!(
            "--month {month} is after the current month ({current}; today is {today} in {}): there is no spend to check yet; give {current} or an earlier month",
            cal.tz.name()
        );
    }
    Ok(if month < current {
        month_days(month).1
    } else {
        today
    })
}

/// The month's budgets, as of today in `cal`.
pub fn compute(cfg: &Config, store: &Store, cal: &Calendar, month: Month) -> Result<Budgets> {
    let org = Org::new(cfg)?;
    let today = cal.today();
    let (mfirst, mlast) = month_days(month);
    let as_of = counted_through(cal, month)?;
    let past = today > mlast;
    let forecast_day = if past {
        mfirst.plus(PAST_FORECAST_DAY as i64 - 1)
    } else {
        today
    };
    let too_large = || format!("budgets {month}: amounts add up beyond what can be held exactly");

    // Experiments that start by the end of what is counted. One without a `start` counts
    // from the store's first data: load from its first partition, then take the first day
    // with spend.
    let data_first = first_data_day(store);
    let starts: Vec<Option<Day>> = cfg
        .experiments
        .iter()
        .map(|e| e.start.as_ref().map(|s| s.get_ref().0))
        .collect();
    let mut load_first = mfirst.min(forecast_day.plus(-MEAN_DAYS));
    for s in &starts {
        if let Some(s) = s.or(data_first) {
            if s <= as_of {
                load_first = load_first.min(s);
            }
        }
    }
    let spend = spend::load_days(
        cfg,
        &org.rules,
        store,
        cal,
        load_first,
        as_of,
        &[],
        Needs::default(),
    )?;

    // Per team and per feature: the money attributed to it, per day.
    let mut teams: BTreeMap<String, Series> = BTreeMap::new();
    let mut features: BTreeMap<String, Series> = BTreeMap::new();
    let mut first_spend: Option<Day> = None;
    for item in &spend.items {
        let day = Day(item.group.day.unwrap_or_default());
        if item.amount != Money::ZERO {
            first_spend = Some(first_spend.map_or(day, |d| d.min(day)));
        }
        let Class::Owned(owner) = &item.class else {
            continue;
        };
        if let Some(t) = &owner.team {
            add(&mut teams, t, day, item.amount).with_context(too_large)?;
        }
        if let Some(f) = &owner.feature {
            add(&mut features, f, day, item.amount).with_context(too_large)?;
        }
    }
    let empty = Series::new();
    let mut out = Budgets {
        month,
        currency: spend.currency.clone(),
        today,
        as_of,
        past,
        forecast_day,
        lines: Vec::new(),
        notes: Vec::new(),
    };

    // Monthly budgets of teams and features.
    let monthly = org
        .teams
        .iter()
        .filter_map(|(name, t)| {
            let b = t.budget?;
            let owner = org.team_escalation(Some(name)).to;
            Some((Scope::Team, name, Some(name.clone()), owner, b))
        })
        .chain(org.features.iter().filter_map(|(name, f)| {
            let b = f.budget?;
            let owner = org.feature_escalation(Some(name), None).to;
            Some((Scope::Feature, name, f.team.clone(), owner, b))
        }));
    for (scope, name, team, owner, budget) in monthly {
        let series = match scope {
            Scope::Team => teams.get(name),
            _ => features.get(name),
        }
        .unwrap_or(&empty);
        let line = month_line(
            &org,
            series,
            mfirst,
            mlast,
            as_of,
            forecast_day,
            past,
            budget,
        )
        .with_context(too_large)?;
        out.lines.push(Line {
            scope,
            name: name.clone(),
            team,
            owner,
            ..line
        });
    }

    // Daily budgets: today's spend so far; in a past month, its worst day.
    for (name, f) in &org.features {
        let Some(budget) = f.daily_budget else {
            continue;
        };
        let series = features.get(name).unwrap_or(&empty);
        let day = if past {
            worst_day(series, mfirst, mlast)
        } else {
            today
        };
        let spent = series.get(&day).copied().unwrap_or_default();
        let status = org.status(spent, budget);
        out.lines.push(Line {
            scope: Scope::FeatureDay,
            name: name.clone(),
            team: f.team.clone(),
            owner: org.feature_escalation(Some(name), None).to,
            period: Period::Days(day, day),
            budget,
            spend: spent,
            status,
            forecast: None,
            forecast_status: None,
            crossed: LEVELS.map(|l| (status >= l).then_some(day)),
            forecast_error: None,
            spend_after_end: None,
        });
    }

    // Experiments: their days up to what is counted; after `until`, flagged.
    for (e, start) in cfg.experiments.iter().zip(starts) {
        let start = start.or(first_spend).unwrap_or(mfirst);
        if start > as_of {
            continue;
        }
        let feature = e.feature.get_ref();
        let until = e.until.get_ref().0;
        let budget = e.budget.get_ref().0;
        let series = features.get(feature).unwrap_or(&empty);
        let counted = until.min(as_of);
        let run = sum_days(series, start, counted).with_context(too_large)?;
        let after = if until < as_of {
            Some(sum_days(series, until.plus(1).max(mfirst), as_of).with_context(too_large)?)
        } else {
            None
        };
        let overlaps = until >= mfirst;
        if !overlaps && after.is_none_or(|a| a == Money::ZERO) {
            continue;
        }
        let projection = if past {
            None
        } else {
            Projection::new(series, start, until, today).with_context(too_large)?
        };
        let forecast = projection
            .as_ref()
            .map(Projection::forecast)
            .transpose()
            .with_context(too_large)?;
        let mut crossed = [None; 3];
        for (i, level) in LEVELS.iter().enumerate() {
            crossed[i] = crossing(series, start, counted, projection.as_ref(), |x| {
                org.status(x, budget) >= *level
            })
            .with_context(too_large)?;
        }
        out.lines.push(Line {
            scope: Scope::Experiment,
            name: e.name.get_ref().clone(),
            team: org.team_of(feature).map(str::to_string),
            owner: org.feature_escalation(Some(feature), None).to,
            period: Period::Days(start, until),
            budget,
            spend: run,
            status: org.status(run, budget),
            forecast,
            forecast_status: forecast.map(|f| org.status(f, budget)),
            crossed,
            forecast_error: None,
            spend_after_end: after,
        });
    }

    let window_first = forecast_day.plus(-MEAN_DAYS);
    let forecasts = out.lines.iter().any(|l| l.forecast.is_some());
    if forecasts && first_spend.is_none_or(|d| d > window_first) {
        out.notes.push(format!(
            "the store has no spend from {window_first} to {}: the forecast's 7-day mean ({window_first} to {}) counts those days as zero; if the data starts later, the forecast is low",
            first_spend.map_or(as_of, |d| d.plus(-1)),
            forecast_day.plus(-1)
        ));
    }
    Ok(out)
}

/// A monthly budget's line (scope, name, team and owner left to the caller).
#[allow(clippy::too_many_arguments)]
fn month_line(
    org: &Org,
    series: &Series,
    first: Day,
    last: Day,
    as_of: Day,
    forecast_day: Day,
    past: bool,
    budget: Money,
) -> Result<Line, Overflow> {
    let spent = sum_days(series, first, as_of)?;
    let (projection, forecast) = if past {
        // The forecast as it would have been made at the start of the 16th.
        let known: Series = series
            .range(..forecast_day)
            .map(|(d, m)| (*d, *m))
            .collect();
        let p = Projection::new(&known, first, last, forecast_day)?;
        (None, p.map(|p| p.forecast()).transpose()?)
    } else {
        let p = Projection::new(series, first, last, as_of)?;
        let f = p.map(|p| p.forecast()).transpose()?;
        (p, f)
    };
    let mut crossed = [None; 3];
    for (i, level) in LEVELS.iter().enumerate() {
        crossed[i] = crossing(series, first, as_of, projection.as_ref(), |x| {
            org.status(x, budget) >= *level
        })?;
    }
    Ok(Line {
        scope: Scope::Team,
        name: String::new(),
        team: None,
        owner: None,
        period: Period::Month(first.month()),
        budget,
        spend: spent,
        status: org.status(spent, budget),
        forecast,
        forecast_status: forecast.map(|f| org.status(f, budget)),
        crossed,
        forecast_error: if past {
            forecast.map(|f| f.try_sub(spent)).transpose()?
        } else {
            None
        },
        spend_after_end: None,
    })
}

fn add(
    map: &mut BTreeMap<String, Series>,
    key: &str,
    day: Day,
    amount: Money,
) -> Result<(), Overflow> {
    match map.get_mut(key) {
        Some(s) => s.entry(day).or_default().add_assign(amount),
        None => {
            map.insert(key.to_string(), Series::from([(day, amount)]));
            Ok(())
        }
    }
}

/// The day of `first..=last` with the most spend (the earliest of equals; `first` when
/// there is none).
pub fn worst_day(series: &Series, first: Day, last: Day) -> Day {
    let mut best = (first, series.get(&first).copied().unwrap_or_default());
    for (d, m) in series.range(first..=last) {
        if *m > best.1 {
            best = (*d, *m);
        }
    }
    best.0
}

/// The first local day the store can hold data of: the first day of its earliest UTC
/// partition, less a day for time zones east of UTC.
fn first_data_day(store: &Store) -> Option<Day> {
    store
        .manifest()
        .files
        .iter()
        .filter_map(|f| Month::parse(&f.month))
        .min()
        .map(|m| month_days(m).0.plus(-1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    fn series(pairs: &[(&str, &str)]) -> Series {
        pairs.iter().map(|(a, b)| (d(a), m(b))).collect()
    }

    #[test]
    fn a_forecast_from_complete_days_and_the_mean_of_the_seven_before_today() {
        // November 2026, today Thursday the 12th. Complete days 1..11: 10 a day = 110.
        // The 7 days before today (5..11): 10 each, S = 70, m = 10. Today so far: 4.
        // Days from today to the 30th, today included: 19.
        // P = 110 + max(4, 10) + 70 × 18 / 7 = 110 + 10 + 180 = 300.
        let mut s = Series::new();
        for day in 1..=11 {
            s.insert(Day::from_ymd(2026, 11, day).unwrap(), m("10"));
        }
        s.insert(d("2026-11-12"), m("4"));
        let p = Projection::new(&s, d("2026-11-01"), d("2026-11-30"), d("2026-11-12"))
            .unwrap()
            .unwrap();
        assert_eq!(p.complete, m("110"));
        assert_eq!(p.today, m("4"));
        assert_eq!(p.last7, m("70"));
        assert_eq!(p.days(), 19);
        assert_eq!(p.forecast().unwrap(), m("300"));
        // Threshold 200 (say 80% of 250): P(k) = 120 + 10(k − 1) ≥ 200 at k = 9: the 20th.
        let at = p.crossing(|x| x >= m("200")).unwrap();
        assert_eq!(at, Some(d("2026-11-20")));
        // Beyond the month: none.
        assert_eq!(p.crossing(|x| x >= m("300.01")).unwrap(), None);
        // Already reached: the actual day. Cumulative 10, 20, ..., 110 on the 11th:
        // 100 is reached on the 10th.
        let c = crossing(&s, d("2026-11-01"), d("2026-11-12"), Some(&p), |x| {
            x >= m("100")
        });
        assert_eq!(c.unwrap(), Some(d("2026-11-10")));
    }

    #[test]
    fn a_heavy_today_is_never_projected_below_what_it_spent() {
        // Today spent 50 already, the mean is 10: P(1) = 110 + 50; forecast 160 + 180.
        let mut s = Series::new();
        for day in 1..=11 {
            s.insert(Day::from_ymd(2026, 11, day).unwrap(), m("10"));
        }
        s.insert(d("2026-11-12"), m("50"));
        let p = Projection::new(&s, d("2026-11-01"), d("2026-11-30"), d("2026-11-12"))
            .unwrap()
            .unwrap();
        assert_eq!(p.forecast().unwrap(), m("340"));
        // Month to date 160 ≥ 150: crossed today, actually.
        let c = crossing(&s, d("2026-11-01"), d("2026-11-12"), Some(&p), |x| {
            x >= m("150")
        });
        assert_eq!(c.unwrap(), Some(d("2026-11-12")));
    }

    #[test]
    fn the_mean_reaches_into_the_previous_month_and_counts_missing_days_as_zero() {
        // Today 2026-12-02: complete days of December: the 1st (6). The 7 days before
        // today: 25..30 November and 1 December; spend on 28 Nov (8) and 1 Dec (6) only:
        // S = 14, m = 2. Days left including today: 30. P = 6 + max(0, 2) + 14 × 29 / 7
        // = 6 + 2 + 58 = 66.
        let s = series(&[
            ("2026-11-20", "100"),
            ("2026-11-28", "8"),
            ("2026-12-01", "6"),
        ]);
        let p = Projection::new(&s, d("2026-12-01"), d("2026-12-31"), d("2026-12-02"))
            .unwrap()
            .unwrap();
        assert_eq!(p.last7, m("14"));
        assert_eq!(p.mean().unwrap(), m("2"));
        assert_eq!(p.forecast().unwrap(), m("66"));
        // A mean that does not divide: S = 10, today the 1st (31 days, today included).
        // m = 10/7 = 1.428571428571428571|43… → 1.428571428571428571 (half to even at
        // 10⁻¹⁸); the 30 later days: 300/7 = 42.857142857142857142|86… → …143.
        // P(31) = 0 + max(0, m) + 42.857142857142857143 = 44.285714285714285714.
        let s = series(&[("2026-11-30", "10")]);
        let p = Projection::new(&s, d("2026-12-01"), d("2026-12-31"), d("2026-12-01"))
            .unwrap()
            .unwrap();
        assert_eq!(p.mean().unwrap(), m("1.428571428571428571"));
        assert_eq!(p.forecast().unwrap(), m("44.285714285714285714"));
    }

    #[test]
    fn a_period_that_starts_later_or_is_over() {
        // An experiment 2026-11-20..2026-11-25, today the 12th with m = 3 (S = 21 over
        // 5..11): nothing complete, nothing today; P(k) = 3 + 3(k − 1) over 6 days: 18.
        let mut s = Series::new();
        for day in 5..=11 {
            s.insert(Day::from_ymd(2026, 11, day).unwrap(), m("3"));
        }
        let p = Projection::new(&s, d("2026-11-20"), d("2026-11-25"), d("2026-11-12"))
            .unwrap()
            .unwrap();
        assert_eq!(p.from, d("2026-11-20"));
        assert_eq!((p.complete, p.today), (Money::ZERO, Money::ZERO));
        assert_eq!(p.forecast().unwrap(), m("18"));
        assert_eq!(p.crossing(|x| x >= m("9")).unwrap(), Some(d("2026-11-22")));
        assert!(
            Projection::new(&s, d("2026-11-01"), d("2026-11-11"), d("2026-11-12"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn refunds_make_the_projection_fall() {
        // Today the 6th; S = −7 (a refund on the 5th): m = −1. C = 20 − 7 = 13;
        // P(1) = 13 + max(0, −1) = 13, then falls by 1 a day.
        let s = series(&[("2026-10-20", "20"), ("2026-11-05", "-7")]);
        let p = Projection::new(&s, d("2026-10-01"), d("2026-11-30"), d("2026-11-06"))
            .unwrap()
            .unwrap();
        assert_eq!(p.complete, m("13"));
        assert_eq!(p.at(1).unwrap(), m("13"));
        assert_eq!(p.crossing(|x| x >= m("13")).unwrap(), Some(d("2026-11-06")));
        assert_eq!(p.crossing(|x| x >= m("14")).unwrap(), None);
    }

    #[test]
    fn the_worst_day() {
        let s = series(&[
            ("2026-10-03", "5"),
            ("2026-10-09", "7"),
            ("2026-10-12", "7"),
        ]);
        assert_eq!(
            worst_day(&s, d("2026-10-01"), d("2026-10-31")),
            d("2026-10-09")
        );
        assert_eq!(
            worst_day(&Series::new(), d("2026-10-01"), d("2026-10-31")),
            d("2026-10-01")
        );
    }

    /// The brute-force model: day by day from `first`, in exact rationals scaled by 7 (no
    /// rounding): the cumulative actual spend through today, then
    /// 7·C + max(7·T, S) + S·(k − 1); the first day ≥ 7·L.
    fn brute(s: &Series, first: Day, last: Day, today: Day, limit: Money) -> Option<Day> {
        let v = |day: Day| s.get(&day).map_or(0, |m| m.0);
        let s7: i128 = (1..=7).map(|i| v(today.plus(-i))).sum();
        let mut cum: i128 = 0;
        let mut d = first;
        while d <= last {
            if d <= today {
                cum += v(d);
                if d < today && cum >= limit.0 {
                    return Some(d);
                }
            }
            if d >= today {
                // C: the complete days of the period; T: today (when in the period).
                let from = today.max(first);
                let c: i128 = {
                    let mut c = 0;
                    let mut x = first;
                    while x < from {
                        c += v(x);
                        x = x.plus(1);
                    }
                    c
                };
                let t = if from == today { v(today) } else { 0 };
                if d == today && c + t >= limit.0 {
                    return Some(d); // the actual spend through today
                }
                if d >= from {
                    let k = (d.0 - from.0 + 1) as i128;
                    let p7 = 7 * c + (7 * t).max(s7) + s7 * (k - 1);
                    if p7 >= 7 * limit.0 {
                        return Some(d);
                    }
                }
            }
            d = d.plus(1);
        }
        None
    }

    proptest! {
        #[test]
        fn the_crossing_day_is_the_first_day_the_projection_reaches_the_threshold(
            // Cents (multiples of 10¹⁶ units): then the rounded projection and the exact
            // rational one agree on every comparison with a cent threshold.
            cents in proptest::collection::vec(-300i64..5_000, 0..60),
            start in 0i64..30,
            len in 1i64..45,
            today_at in 0i64..60,
            limit_cents in 0i64..200_000,
            // Half the cases: a threshold just above the spend to date, where the first
            // projected days (today's max(T, m) in particular) decide.
            near in proptest::bool::ANY,
            // Some series mostly refunds: a falling projection.
            refunds in proptest::bool::ANY,
            offset_cents in -1_000i64..12_000,
        ) {
            let base = d("2026-10-01");
            let s: Series = cents
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let c = if refunds { 500 - *c } else { *c };
                    (base.plus(i as i64), Money(c as i128 * 10i128.pow(16)))
                })
                .collect();
            let first = base.plus(start);
            let last = first.plus(len - 1);
            let today = base.plus(today_at);
            // Days after today are unknown.
            let known: Series = s.range(..=today).map(|(a, b)| (*a, *b)).collect();
            let limit = if near {
                let to_date = sum_days(&known, first, today.min(last)).unwrap();
                Money(to_date.0 + offset_cents as i128 * 10i128.pow(16))
            } else {
                Money(limit_cents as i128 * 10i128.pow(16))
            };
            let p = Projection::new(&known, first, last, today).unwrap();
            let got = crossing(&known, first, today.min(last), p.as_ref(), |x| x >= limit).unwrap();
            prop_assert_eq!(got, brute(&known, first, last, today, limit));
            // The forecast is never below the spend to date.
            if let Some(p) = p {
                let to_date = sum_days(&known, first, today).unwrap();
                prop_assert!(p.forecast().unwrap() >= to_date || p.last7 < Money::ZERO);
            }
        }
    }
}
