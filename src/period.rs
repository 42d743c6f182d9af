//! Days, weeks and months in the report's time zone (SPEC §2.2): a row belongs to the day,
//! week and month that contain its `charge_start` there. The store keeps UTC instants; a
//! [`Calendar`] (time zone and week start, resolved once from `--tz`, `--week-start` and the
//! config) turns them into local [`Day`]s and back, and a [`Period`] (a calendar month, a
//! week, a range of days) into the UTC [`Span`] that selects its rows.

use std::fmt;

use chrono::{NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::cli::WeekStart;
use crate::timeparse::{civil_from_days, days_from_civil, Micros, Month, MICROS_PER_DAY};

/// A local calendar day, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    pub fn from_ymd(y: i64, m: u32, d: u32) -> Option<Day> {
        days_from_civil(y, m, d).map(Day)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Day> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
        Day::from_ymd(n(0..4)? as i64, n(5..7)?, n(8..10)?)
    }

    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.0)
    }

    pub fn month(self) -> Month {
        let (y, m, _) = self.ymd();
        Month::new(y, m)
    }

    /// 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday).
    pub fn weekday(self) -> i64 {
        (self.0 + 3).rem_euclid(7)
    }

    pub fn plus(self, days: i64) -> Day {
        Day(self.0 + days)
    }

    fn naive(self) -> NaiveDate {
        let (y, m, d) = self.ymd();
        NaiveDate::from_ymd_opt(y as i32, m, d).unwrap_or_default()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// The first and last day of a month.
pub fn month_days(m: Month) -> (Day, Day) {
    let first = Day::from_ymd(m.year(), m.month(), 1).unwrap_or(Day(0));
    let n = crate::timeparse::days_in_month(m.year(), m.month()) as i64;
    (first, first.plus(n - 1))
}

/// A week, by its first day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week {
    pub start: Day,
    pub week_start: WeekStart,
}

impl Week {
    pub fn end(self) -> Day {
        self.start.plus(6)
    }

    pub fn previous(self, n: i64) -> Week {
        Week {
            start: self.start.plus(-7 * n),
            ..self
        }
    }

    /// The ISO week that holds this week's Monday (for a Sunday-start week: the Monday after
    /// its Sunday), as (ISO year, week number).
    pub fn iso(self) -> (i32, u32) {
        use chrono::Datelike;
        let monday = match self.week_start {
            WeekStart::Monday => self.start,
            WeekStart::Sunday => self.start.plus(1),
        };
        let w = monday.naive().iso_week();
        (w.year(), w.week())
    }
}

impl fmt::Display for Week {
    /// `2026-W45`: the ISO week; a Sunday-start week is labelled by the ISO week of the
    /// Monday after its Sunday.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, w) = self.iso();
        write!(f, "{y:04}-W{w:02}")
    }
}

/// `--week`: an ISO week label or any day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeekArg {
    Iso { year: i32, week: u32 },
    Containing(Day),
}

impl std::str::FromStr for WeekArg {
    type Err = String;
    fn from_str(s: &str) -> Result<WeekArg, String> {
        let t = s.trim();
        if let Some(d) = Day::parse(t) {
            return Ok(WeekArg::Containing(d));
        }
        let bad = || {
            format!(
                "{} is not a week: write an ISO week such as 2026-W45, or any date of the week such as 2026-11-02",
                crate::error::quote(s)
            )
        };
        let (y, w) = t
            .split_once(['W', 'w'])
            .map(|(y, w)| (y.trim_end_matches('-'), w))
            .ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let week: u32 = w.parse().map_err(|_| bad())?;
        if !(1000..=9999).contains(&year) {
            return Err(bad());
        }
        if NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).is_none() {
            return Err(format!(
                "{year} has no ISO week {week} (weeks run from 1 to 52 or 53)"
            ));
        }
        Ok(WeekArg::Iso { year, week })
    }
}

/// A month given on the command line (`--month YYYY-MM`).
pub fn parse_month_arg(s: &str) -> Result<Month, String> {
    Month::parse(s).ok_or_else(|| {
        format!(
            "{} is not a month: write YYYY-MM, e.g. 2026-10",
            crate::error::quote(s)
        )
    })
}

/// A day given on the command line (`--since`, `--until`).
pub fn parse_day_arg(s: &str) -> Result<Day, String> {
    Day::parse(s).ok_or_else(|| {
        format!(
            "{} is not a date: write YYYY-MM-DD, e.g. 2026-11-02",
            crate::error::quote(s)
        )
    })
}

/// A half-open interval of UTC instants, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: Micros,
    pub end: Micros,
}

impl Span {
    pub fn contains(&self, t: Micros) -> bool {
        self.start <= t && t < self.end
    }

    /// The UTC months whose store partitions may hold rows of this span.
    pub fn utc_months(&self) -> Vec<Month> {
        let first = Month::of_micros(self.start);
        let last = Month::of_micros(self.end.saturating_sub(1).max(self.start));
        (first.0..=last.0).map(Month).collect()
    }
}

/// A report period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Month(Month),
    Week(Week),
    /// From the first to the last day, both included.
    Days(Day, Day),
}

impl Period {
    pub fn first_day(&self) -> Day {
        match self {
            Period::Month(m) => month_days(*m).0,
            Period::Week(w) => w.start,
            Period::Days(a, _) => *a,
        }
    }

    pub fn last_day(&self) -> Day {
        match self {
            Period::Month(m) => month_days(*m).1,
            Period::Week(w) => w.end(),
            Period::Days(_, b) => *b,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(m) => write!(f, "{m}"),
            Period::Week(w) => write!(f, "{w}"),
            Period::Days(a, b) if a == b => write!(f, "{a}"),
            Period::Days(a, b) => write!(f, "{a}..{b}"),
        }
    }
}

/// The report's time zone and week start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calendar {
    pub tz: Tz,
    pub week_start: WeekStart,
    /// The day taken as today instead of the clock's (`FINOPS_TODAY`): to rerun a
    /// scheduled check as of a past day, and for tests.
    pub pinned_today: Option<Day>,
}

/// Offsets within ±26 hours of UTC: a local midnight lies within this of the UTC one.
const SEARCH: i64 = 26 * 3_600_000_000;

impl Calendar {
    pub const UTC: Calendar = Calendar {
        tz: chrono_tz::UTC,
        week_start: WeekStart::Monday,
        pinned_today: None,
    };

    /// The UTC offset at instant `t`, in microseconds.
    pub fn offset_at(&self, t: Micros) -> Micros {
        match Utc.timestamp_micros(t) {
            chrono::LocalResult::Single(dt) => {
                self.tz
                    .offset_from_utc_datetime(&dt.naive_utc())
                    .fix()
                    .local_minus_utc() as i64
                    * 1_000_000
            }
            _ => 0,
        }
    }

    /// The local day of instant `t`.
    pub fn day_of(&self, t: Micros) -> Day {
        Day((t.saturating_add(self.offset_at(t))).div_euclid(MICROS_PER_DAY))
    }

    /// The first instant of local day `d` (its midnight; when a clock change skips
    /// midnight, the first instant that is on `d`).
    pub fn start_of(&self, d: Day) -> Micros {
        // The smallest t with day_of(t) >= d, by bisection around UTC midnight.
        let mid = d.0.saturating_mul(MICROS_PER_DAY);
        let (mut lo, mut hi) = (mid.saturating_sub(SEARCH), mid.saturating_add(SEARCH));
        while lo < hi {
            let m = lo + (hi - lo) / 2;
            if self.day_of(m) >= d {
                hi = m;
            } else {
                lo = m + 1;
            }
        }
        lo
    }

    /// The instants of local days `first..=last`.
    pub fn span(&self, first: Day, last: Day) -> Span {
        Span {
            start: self.start_of(first),
            end: self.start_of(last.plus(1)),
        }
    }

    pub fn period_span(&self, p: &Period) -> Span {
        self.span(p.first_day(), p.last_day())
    }

    /// The week that holds day `d`.
    pub fn week_of(&self, d: Day) -> Week {
        let back = match self.week_start {
            WeekStart::Monday => d.weekday(),
            WeekStart::Sunday => (d.weekday() + 1) % 7,
        };
        Week {
            start: d.plus(-back),
            week_start: self.week_start,
        }
    }

    /// The week a `--week` argument names.
    pub fn week(&self, arg: WeekArg) -> Week {
        match arg {
            WeekArg::Containing(d) => self.week_of(d),
            WeekArg::Iso { year, week } => {
                let monday = NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon)
                    .unwrap_or_default();
                let monday = Day(monday
                    .signed_duration_since(NaiveDate::default())
                    .num_days());
                match self.week_start {
                    WeekStart::Monday => self.week_of(monday),
                    WeekStart::Sunday => self.week_of(monday.plus(-1)),
                }
            }
        }
    }

    /// Today, in the report's time zone.
    pub fn today(&self) -> Day {
        self.pinned_today
            .unwrap_or_else(|| self.day_of(Utc::now().timestamp_micros()))
    }

    /// The pieces of `span` over which the UTC offset is constant: (first instant, offset),
    /// in order, the first starting at `span.start`. A query turns an instant into its local
    /// day as ⌊(t + offset) / 1 day⌋ with the offset of its piece.
    pub fn offsets(&self, span: Span) -> Vec<(Micros, Micros)> {
        const HOUR: i64 = 3_600_000_000;
        let mut out = vec![(span.start, self.offset_at(span.start))];
        let mut t = span.start;
        while t < span.end {
            let next = (t.saturating_add(HOUR)).min(span.end);
            let off = self.offset_at(next.min(span.end - 1));
            if off != out.last().map_or(0, |p| p.1) {
                // The change is in (t, next]: find its first instant.
                let (mut lo, mut hi) = (t + 1, next.min(span.end - 1));
                let before = out.last().map_or(0, |p| p.1);
                while lo < hi {
                    let m = lo + (hi - lo) / 2;
                    if self.offset_at(m) != before {
                        hi = m;
                    } else {
                        lo = m + 1;
                    }
                }
                out.push((lo, self.offset_at(lo)));
            }
            t = next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(tz: &str, ws: WeekStart) -> Calendar {
        Calendar {
            tz: tz.parse().unwrap(),
            week_start: ws,
            pinned_today: None,
        }
    }

    fn t(s: &str) -> Micros {
        crate::timeparse::parse_timestamp(s).unwrap()
    }

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    #[test]
    fn a_late_evening_utc_request_is_the_previous_day_in_los_angeles() {
        let la = cal("America/Los_Angeles", WeekStart::Monday);
        // 2026-11-03T05:30Z is 2026-11-02 21:30 PST (UTC−8, after the change of Nov 1).
        assert_eq!(la.day_of(t("2026-11-03T05:30:00Z")), d("2026-11-02"));
        assert_eq!(
            Calendar::UTC.day_of(t("2026-11-03T05:30:00Z")),
            d("2026-11-03")
        );
        // Midnight in LA is 08:00Z in winter, 07:00Z in summer.
        assert_eq!(la.start_of(d("2026-11-03")), t("2026-11-03T08:00:00Z"));
        assert_eq!(la.start_of(d("2026-10-03")), t("2026-10-03T07:00:00Z"));
        // The day of the change (Sunday 2026-11-01) has 25 hours.
        let s = la.span(d("2026-11-01"), d("2026-11-01"));
        assert_eq!(s.end - s.start, 25 * 3_600_000_000);
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_at_the_first_instant_on_it() {
        // America/Santiago springs forward at 2026-09-06 00:00 local (to 01:00, UTC−3).
        let c = cal("America/Santiago", WeekStart::Monday);
        let s = c.start_of(d("2026-09-06"));
        assert_eq!(c.day_of(s), d("2026-09-06"));
        assert_eq!(c.day_of(s - 1), d("2026-09-05"));
        assert_eq!(s, t("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn weeks_by_iso_label_date_and_week_start() {
        let mon = cal("UTC", WeekStart::Monday);
        let sun = cal("UTC", WeekStart::Sunday);
        let w45: WeekArg = "2026-W45".parse().unwrap();
        // ISO 2026-W45 is Monday 2 November to Sunday 8 November.
        assert_eq!(mon.week(w45).start, d("2026-11-02"));
        assert_eq!(mon.week(w45).end(), d("2026-11-08"));
        // Sunday-start: the Sunday before, to Saturday.
        assert_eq!(sun.week(w45).start, d("2026-11-01"));
        assert_eq!(sun.week(w45).to_string(), "2026-W45");
        assert_eq!(mon.week(w45).to_string(), "2026-W45");
        // Any date names its week; Sunday 8 November is in W45 (Monday start) and starts
        // the next week (Sunday start).
        let sunday: WeekArg = "2026-11-08".parse().unwrap();
        assert_eq!(mon.week(sunday).start, d("2026-11-02"));
        assert_eq!(sun.week(sunday).start, d("2026-11-08"));
        assert_eq!(sun.week(sunday).to_string(), "2026-W46");
        // ISO years: 2026-12-31 is in 2026-W53; 2021-01-03 in 2020-W53.
        assert_eq!(mon.week_of(d("2026-12-31")).to_string(), "2026-W53");
        assert_eq!(mon.week_of(d("2021-01-03")).to_string(), "2020-W53");
        for bad in [
            "2026-W54",
            "2025-W53",
            "2026-W0",
            "W45",
            "2026-45",
            "x",
            "2026-11-31",
        ] {
            assert!(bad.parse::<WeekArg>().is_err(), "{bad}");
        }
        assert!("2026W45".parse::<WeekArg>().is_ok());
    }

    #[test]
    fn offsets_are_constant_between_the_changes() {
        let la = cal("America/Los_Angeles", WeekStart::Monday);
        let span = la.span(d("2026-10-26"), d("2026-11-08"));
        let o = la.offsets(span);
        assert_eq!(o.len(), 2);
        assert_eq!(o[0], (span.start, -7 * 3_600_000_000));
        // 2026-11-01 02:00 PDT = 09:00Z, back to 01:00 PST.
        assert_eq!(o[1], (t("2026-11-01T09:00:00Z"), -8 * 3_600_000_000));
        assert_eq!(Calendar::UTC.offsets(span).len(), 1);
        // Every hour of the span: the piece's offset is the instant's offset.
        let mut x = span.start;
        while x < span.end {
            let piece = o.iter().rev().find(|p| p.0 <= x).unwrap();
            assert_eq!(piece.1, la.offset_at(x));
            x += 1_800_000_000;
        }
    }

    #[test]
    fn a_span_lists_the_utc_partitions_it_touches() {
        let tokyo = cal("Asia/Tokyo", WeekStart::Monday);
        // Tokyo's November starts at 2026-10-31T15:00Z.
        let s = tokyo.period_span(&Period::Month(Month::new(2026, 11)));
        assert_eq!(s.start, t("2026-10-31T15:00:00Z"));
        assert_eq!(
            s.utc_months(),
            vec![Month::new(2026, 10), Month::new(2026, 11)]
        );
    }
}
