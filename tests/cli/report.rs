//! `finops report weekly`: values computed by hand in the comments.

use crate::util::{json, Dir};

/// Feature f1 (team t, session_cap 1.50, budget 10):
/// - previous week (2026-W44): session P, 0.40 on Wed 2026-10-28.
/// - 2026-W45 (Mon 2 – Sun 8 November, UTC): session A 0.10 + 0.20 = 0.30 (Mon),
///   B 0.50 (Tue), C 1.00 + 1.00 + 0.25 = 2.25 (Wed).
/// - session D 0.70 at 2026-11-09T05:30Z: Monday of W46 in UTC, but Sunday 8 November
///   21:30 in Los Angeles (UTC−8), so in W45 there.
const LOG: &str = "\
timestamp,session_id,cost,tag:feature,tag:team
2026-10-28T12:00:00Z,P,0.40,f1,t
2026-11-02T10:00:00Z,A,0.10,f1,t
2026-11-02T10:01:00Z,A,0.20,f1,t
2026-11-03T10:00:00Z,B,0.50,f1,t
2026-11-04T10:00:00Z,C,1.00,f1,t
2026-11-04T10:01:00Z,C,1.00,f1,t
2026-11-04T10:02:00Z,C,0.25,f1,t
2026-11-09T05:30:00Z,D,0.70,f1,t
";

const CONFIG: &str = r#"
[[team]]
name = "t"
owner = "lead@example.com"
[[feature]]
name = "f1"
team = "t"
owner = "owner@example.com"
session_cap = 1.50
budget = 10
"#;

fn weekly(d: &Dir, extra: &[&str]) -> serde_json::Value {
    let out = d
        .finops()
        .args(["--format", "json", "report", "weekly", "--week", "2026-W45"])
        .args(extra)
        .assert()
        .success();
    json(&out.get_output().stdout)
}

fn setup() -> Dir {
    let d = Dir::new();
    d.write("finops.toml", CONFIG);
    let log = d.write("log.csv", LOG);
    d.ingest(&log);
    d
}

#[test]
fn five_metrics_of_a_utc_week() {
    let d = setup();
    let v = weekly(&d, &[]);
    let f1 = &v["rows"][0];
    assert_eq!(f1["feature"], "f1");
    assert_eq!(f1["owner"], "owner@example.com");
    // 0.30 + 0.50 + 2.25
    assert_eq!(f1["spend"].to_string(), "3.05");
    assert_eq!(f1["previous_week"].to_string(), "0.40");
    assert_eq!(f1["sessions"], 3);
    // Sorted 0.30, 0.50, 2.25: the median is 0.50; P95 at h = 0.95 × 2 = 1.9:
    // 0.50 + 0.9 × 1.75 = 2.075, printed 2.08.
    assert_eq!(f1["median_session"].to_string(), "0.50");
    assert_eq!(f1["p95_session"].to_string(), "2.08");
    // Cap 1.50: C spends 1.00, then 2.00 (the crossing request completes); its third
    // request (0.25) is refused.
    assert_eq!(f1["sessions_capped"], 1);
    assert_eq!(f1["cap_savings"].to_string(), "0.25");
    // November to date (through the 8th): 3.05 of 10.
    assert_eq!(f1["budget_status"], "under 30%");
    assert_eq!(v["totals"][0]["spend"].to_string(), "3.05");
    assert_eq!(v["period"], "2026-W45");
}

#[test]
fn a_non_utc_week_moves_a_late_evening_session() {
    let d = setup();
    let v = weekly(&d, &["--tz", "America/Los_Angeles"]);
    let f1 = &v["rows"][0];
    // D (0.70) joins W45: 3.05 + 0.70; sessions 0.30, 0.50, 0.70, 2.25: median 0.60;
    // P95 h = 0.95 × 3 = 2.85: 0.70 + 0.85 × 1.55 = 2.0175, printed 2.02.
    assert_eq!(f1["spend"].to_string(), "3.75");
    assert_eq!(f1["sessions"], 4);
    assert_eq!(f1["median_session"].to_string(), "0.60");
    assert_eq!(f1["p95_session"].to_string(), "2.02");
    assert_eq!(v["parameters"]["first_day"], "2026-11-02");
}

#[test]
fn a_sunday_week_and_a_week_given_by_a_date() {
    let d = setup();
    // Sunday-start W45 is Sun 1 – Sat 7 November: the same three sessions.
    let v = weekly(&d, &["--week-start", "sunday"]);
    assert_eq!(v["parameters"]["first_day"], "2026-11-01");
    assert_eq!(v["rows"][0]["spend"].to_string(), "3.05");
    // A date names its week: Monday 9 November is W46 (UTC): only D.
    let out = d
        .finops()
        .args([
            "--format",
            "json",
            "report",
            "weekly",
            "--week",
            "2026-11-09",
        ])
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["period"], "2026-W46");
    assert_eq!(v["rows"][0]["spend"].to_string(), "0.70");
    // A bad week is a usage error.
    d.finops()
        .args(["report", "weekly", "--week", "2026-W54"])
        .assert()
        .code(2);
}
