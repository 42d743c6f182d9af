//! Timestamps as exports write them, to UTC microseconds.
//!
//! Accepted: RFC 3339 / ISO 8601 (`2024-09-18T22:00:00Z`, `...+02:00`, fractions),
//! `YYYY-MM-DD HH:MM[:SS]` (no zone: UTC), `YYYY-MM-DD`, US dates `M/D/YY` and
//! `M/D/YYYY` (as in the FOCUS spec's own examples) optionally followed by a time, and
//! Unix seconds or milliseconds (10 or 13 digits). The common ISO shapes take a hand-written
//! fast path; everything is validated (month 13 or February 30 are errors).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), or None if invalid.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A calendar month, as `year * 12 + (month - 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    pub fn new(year: i64, month: u32) -> Month {
        Month((year * 12 + month as i64 - 1) as i32)
    }
    pub fn of_micros(t: Micros) -> Month {
        let (y, m, _) = civil_from_days(t.div_euclid(MICROS_PER_DAY));
        Month::new(y, m)
    }
    pub fn year(self) -> i64 {
        self.0.div_euclid(12) as i64
    }
    pub fn month(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }
    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let b = s.trim_ascii().as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return None;
        }
        let y = num(&b[0..4])?;
        let m = num(&b[5..7])?;
        (1..=12).contains(&m).then(|| Month::new(y as i64, m))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

/// `YYYY-MM-DD` of a UTC instant.
pub fn date_string(t: Micros) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(MICROS_PER_DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 text of a UTC instant, seconds precision.
pub fn rfc3339(t: Micros) -> String {
    match Utc.timestamp_micros(t) {
        chrono::LocalResult::Single(dt) => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        _ => t.to_string(),
    }
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u32)?;
    }
    Some(v)
}

/// Parses a timestamp; a value without a zone is UTC.
pub fn parse_timestamp(s: &str) -> Option<Micros> {
    let s = s.trim_ascii();
    let b = s.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return parse_iso(b);
    }
    if b.contains(&b'/') {
        return parse_us(s);
    }
    if (b.len() == 10 || b.len() == 13) && b.iter().all(u8::is_ascii_digit) {
        let v: i64 = s.parse().ok()?;
        return Some(if b.len() == 10 {
            v * 1_000_000
        } else {
            v * 1_000
        });
    }
    // Last resort: chrono's RFC 2822 (`Tue, 1 Jul 2003 10:52:37 +0200`).
    DateTime::parse_from_rfc2822(s)
        .ok()
        .map(|d| d.with_timezone(&Utc).timestamp_micros())
}

fn parse_iso(b: &[u8]) -> Option<Micros> {
    let y = num(&b[0..4])? as i64;
    let mo = num(&b[5..7])?;
    let d = num(&b[8..10])?;
    let days = days_from_civil(y, mo, d)?;
    let mut t = days * MICROS_PER_DAY;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(t);
    }
    if !(rest[0] == b'T' || rest[0] == b't' || rest[0] == b' ') || rest.len() < 6 {
        return None;
    }
    let r = &rest[1..];
    if r[2] != b':' {
        return None;
    }
    let h = num(&r[0..2])?;
    let mi = num(&r[3..5])?;
    let mut i = 5;
    let mut sec = 0;
    let mut micros = 0i64;
    if r.len() >= 8 && r[5] == b':' {
        sec = num(&r[6..8])?;
        i = 8;
        if i < r.len() && (r[i] == b'.' || r[i] == b',') {
            i += 1;
            let start = i;
            let mut scale = 100_000i64;
            while i < r.len() && r[i].is_ascii_digit() {
                micros += (r[i] - b'0') as i64 * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    if h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi > 0 || sec > 0)) {
        return None;
    }
    // A leap second is taken as the next second's start.
    t += ((h as i64 * 60 + mi as i64) * 60 + sec as i64) * 1_000_000 + micros;
    let zone = &r[i..];
    let zone = zone.strip_prefix(b" ").unwrap_or(zone);
    match zone {
        b"" | b"Z" | b"z" | b"UTC" | b"GMT" | b"+00" | b"+0000" | b"+00:00" | b"-00:00" => Some(t),
        _ => {
            let sign = match zone[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = &zone[1..];
            let (zh, zm) = match z.len() {
                2 => (num(z)?, 0),
                4 => (num(&z[0..2])?, num(&z[2..4])?),
                5 if z[2] == b':' => (num(&z[0..2])?, num(&z[3..5])?),
                _ => return None,
            };
            if zh > 23 || zm > 59 {
                return None;
            }
            Some(t - sign * (zh as i64 * 60 + zm as i64) * 60_000_000)
        }
    }
}

/// `M/D/YY`, `M/D/YYYY`, optionally with ` H:MM[:SS][ AM|PM]`.
fn parse_us(s: &str) -> Option<Micros> {
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim_ascii())),
        None => (s, None),
    };
    let mut parts = date.split('/');
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    let ytxt = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let y: i64 = ytxt.parse().ok()?;
    let y = match ytxt.len() {
        2 => 2000 + y,
        4 => y,
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(y as i32, m, d)?;
    let dt = match time {
        None | Some("") => date.and_hms_opt(0, 0, 0)?,
        Some(t) => {
            let formats = ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p"];
            formats
                .iter()
                .find_map(|f| chrono::NaiveTime::parse_from_str(t, f).ok())
                .map(|tm| NaiveDateTime::new(date, tm))?
        }
    };
    Some(dt.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Micros {
        parse_timestamp(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn iso_shapes_agree() {
        let base = ts("2024-09-18T22:00:00Z");
        assert_eq!(base, 1_726_696_800_000_000);
        assert_eq!(ts("2024-09-18 22:00:00"), base);
        assert_eq!(ts("2024-09-18T22:00:00+00:00"), base);
        assert_eq!(ts("2024-09-19T00:00:00+02:00"), base);
        assert_eq!(ts("2024-09-18T20:30:00-01:30"), base);
        assert_eq!(ts("2024-09-18T22:00Z"), base);
        assert_eq!(ts("2024-09-18T22:00:00.250Z"), base + 250_000);
        assert_eq!(ts("2024-09-18T22:00:00.123456789Z"), base + 123_456);
        assert_eq!(ts("2024-09-18"), base - 22 * 3_600_000_000);
        assert_eq!(ts("1726696800"), base);
        assert_eq!(ts("1726696800000"), base);
    }

    #[test]
    fn us_dates() {
        assert_eq!(ts("5/1/25"), ts("2025-05-01"));
        assert_eq!(ts("12/31/2024"), ts("2024-12-31"));
        assert_eq!(ts("4/1/26 13:05"), ts("2026-04-01T13:05:00Z"));
        assert_eq!(ts("4/1/26 1:05 PM"), ts("2026-04-01T13:05:00Z"));
    }

    #[test]
    fn invalid_dates_are_rejected() {
        for s in [
            "2024-13-01",
            "2024-02-30",
            "2024-09-18T25:00:00Z",
            "2024-09-18X22:00",
            "18.09.2024",
            "yesterday",
            "",
            "13/1/24",
            "2024-09-18T22:00:00+5",
        ] {
            assert_eq!(parse_timestamp(s), None, "{s}");
        }
    }

    #[test]
    fn civil_roundtrip() {
        for z in [-800_000i64, -1, 0, 1, 19_999, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), Some(z));
        }
        assert_eq!(
            Month::of_micros(ts("2024-09-30T23:59:59Z")).to_string(),
            "2024-09"
        );
        assert_eq!(Month::parse("2026-10").unwrap().to_string(), "2026-10");
        assert_eq!(Month::parse("2026-13"), None);
    }
}
