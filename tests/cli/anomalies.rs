//! `finops anomalies` and the weekly report's anomaly column: injected anomalies, each
//! found once with its baseline and owner, computed by hand in the comments.
//!
//! The data (UTC), Monday 2026-10-05 to Sunday 2026-11-08 (W41–W45):
//! - `chat` (team app, owner chat@, session_cap 3.00): every day ten one-request sessions
//!   of 1.00 (10.00 a day, 70.00 a week).
//! - `search` (team data, no owner): every day three one-request sessions of 2.00 (6.00 a
//!   day, 42.00 a week).
//! - W45 (Mon 2 – Sun 8 November) adds:
//!   - Mon 2: session RUN of chat, three requests of 2.00 (6.00): a runaway session;
//!   - Wed 4: seven more search sessions of 2.00 (the day: 20.00): a feature-day spike;
//!   - Mon 2: feature `new` (team data) appears: three sessions of 1.00 (3.00).
//! - Budgets: team app 200, data 79: 279 a month.

use serde::Deserialize;

use crate::util::{json, Dir};

const CONFIG: &str = r#"
executive = "cto@example.com"
[[team]]
name = "app"
owner = "app-lead@example.com"
budget = 200
[[team]]
name = "data"
owner = "data-lead@example.com"
budget = 79
[[feature]]
name = "chat"
team = "app"
owner = "chat@example.com"
session_cap = 3.00
[[feature]]
name = "search"
team = "data"
[[feature]]
name = "new"
team = "data"
"#;

fn log() -> String {
    let mut out = String::from("timestamp,session_id,request_id,cost,tag:feature,tag:team\n");
    let mut row = |day: &str, time: &str, session: &str, n: usize, cost: &str, f: &str, t: &str| {
        out.push_str(&format!(
            "{day}T{time}Z,{session},{session}-{n},{cost},{f},{t}\n"
        ));
    };
    // 2026-10-05 is day 0; 2026-11-08 is day 34.
    for d in 0..35u32 {
        let day = if d < 27 {
            format!("2026-10-{:02}", d + 5)
        } else {
            format!("2026-11-{:02}", d - 26)
        };
        for i in 0..10 {
            row(
                &day,
                &format!("09:{i:02}:00"),
                &format!("c{d}-{i}"),
                0,
                "1.00",
                "chat",
                "app",
            );
        }
        let search_sessions = if day == "2026-11-04" { 10 } else { 3 };
        for i in 0..search_sessions {
            row(
                &day,
                &format!("14:{i:02}:00"),
                &format!("s{d}-{i}"),
                0,
                "2.00",
                "search",
                "data",
            );
        }
        if day == "2026-11-02" {
            for (i, time) in ["10:00:00", "10:05:00", "10:10:00"].iter().enumerate() {
                row(&day, time, "RUN", i, "2.00", "chat", "app");
            }
            for i in 0..3 {
                row(
                    &day,
                    &format!("11:{i:02}:00"),
                    &format!("n-{i}"),
                    0,
                    "1.00",
                    "new",
                    "data",
                );
            }
        }
    }
    out
}

fn setup() -> Dir {
    let d = Dir::new();
    d.write("finops.toml", CONFIG);
    let p = d.write("log.csv", log());
    d.ingest(&p);
    d
}

/// A row of `anomalies --format json`, typed.
#[derive(Debug, Deserialize, PartialEq)]
struct Row {
    day: String,
    last_day: String,
    level: String,
    finding: String,
    feature: Option<String>,
    team: Option<String>,
    session: Option<String>,
    actual: Option<f64>,
    baseline: Option<f64>,
    multiplier: f64,
    threshold: Option<f64>,
    impact: Option<f64>,
    owner: Option<String>,
    owner_role: String,
    detail: String,
}

fn anomalies(d: &Dir, since: &str, until: &str, check: bool) -> (Vec<Row>, i32) {
    let mut c = d.finops();
    c.args([
        "--format",
        "json",
        "anomalies",
        "--since",
        since,
        "--until",
        until,
    ]);
    if check {
        c.arg("--check");
    }
    let out = c.output().unwrap();
    let v = json(&out.stdout);
    let rows: Vec<Row> = serde_json::from_value(v["rows"].clone()).unwrap();
    (rows, out.status.code().unwrap())
}

/// The columns that identify a row: (day, level, finding, feature, session).
type Key<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

fn keys(rows: &[Row]) -> Vec<Key<'_>> {
    rows.iter()
        .map(|r| {
            (
                r.day.as_str(),
                r.level.as_str(),
                r.finding.as_str(),
                r.feature.as_deref(),
                r.session.as_deref(),
            )
        })
        .collect()
}

#[test]
fn injected_anomalies_are_found_once_with_baseline_and_owner() {
    let d = setup();
    let (rows, code) = anomalies(&d, "2026-11-02", "2026-11-08", true);
    assert_eq!(code, 1, "{rows:#?}");
    assert_eq!(
        keys(&rows),
        vec![
            ("2026-11-02", "session", "event", Some("chat"), Some("RUN")),
            (
                "2026-11-02",
                "session",
                "insufficient history",
                Some("new"),
                None
            ),
            ("2026-11-02", "feature-day", "new spend", Some("new"), None),
            ("2026-11-02", "product-week", "event", None, None),
            ("2026-11-04", "feature-day", "event", Some("search"), None),
        ],
        "{rows:#?}"
    );
    // RUN: 6.00 against the median of the 280 chat sessions of 5 Oct – 1 Nov (all 1.00);
    // threshold 5 × 1.00; impact 6.00 − 1.00. Chat's day (10.00 + 6.00 = 16.00) stays
    // under 3 × 10.00, so it is no feature-day event.
    let run = &rows[0];
    assert_eq!(
        (run.actual, run.baseline, run.threshold, run.impact),
        (Some(6.0), Some(1.0), Some(5.0), Some(5.0))
    );
    assert_eq!(run.multiplier, 5.0);
    assert_eq!(run.team.as_deref(), Some("app"));
    assert_eq!(
        (run.owner.as_deref(), run.owner_role.as_str()),
        (Some("chat@example.com"), "feature owner")
    );
    // `new` has no session before the week: no baseline, no session event.
    assert!(
        rows[1].detail.contains("0 session(s)"),
        "{}",
        rows[1].detail
    );
    assert_eq!(rows[1].actual, None);
    // Its first day: the 14 days before had no spend (but the store has data from 5 Oct):
    // a zero baseline, so "new spend" of 3.00, to the team owner.
    let new = &rows[2];
    assert_eq!(
        (new.actual, new.baseline, new.impact),
        (Some(3.0), Some(0.0), Some(3.0))
    );
    assert_eq!(new.owner.as_deref(), Some("data-lead@example.com"));
    assert_eq!(new.owner_role, "team owner");
    // The week: 70 + 6 (chat) + 42 + 14 (search) + 3 (new) = 135.00; weekly budget
    // 279 × 7 / 30 = 65.10, threshold 130.20, impact 135 − 65.10 = 69.90; to the executive.
    let week = &rows[3];
    assert_eq!(
        (week.actual, week.baseline, week.threshold, week.impact),
        (Some(135.0), Some(65.1), Some(130.2), Some(69.9))
    );
    assert_eq!(week.last_day, "2026-11-08");
    assert_eq!(week.owner.as_deref(), Some("cto@example.com"));
    assert_eq!(week.owner_role, "executive");
    assert_eq!(week.multiplier, 2.0);
    // Search on Wed 4: 20.00 against the mean of 21 Oct – 3 Nov (6.00 a day): threshold
    // 18.00, impact 14.00; search has no owner, and feature-day events go to the team
    // owner anyway. Its sessions (all 2.00) are no session events.
    let spike = &rows[4];
    assert_eq!(
        (spike.actual, spike.baseline, spike.threshold, spike.impact),
        (Some(20.0), Some(6.0), Some(18.0), Some(14.0))
    );
    assert_eq!(spike.owner.as_deref(), Some("data-lead@example.com"));
}

#[test]
fn a_steady_week_has_no_anomalies_and_passes_the_check() {
    let d = setup();
    // W44 (26 Oct – 1 Nov): days as their baselines, the week at 112.00 under
    // 2 × (279 × 6/31 + 279/30) = 2 × 63.30 = 126.60.
    let (rows, code) = anomalies(&d, "2026-10-26", "2026-11-01", true);
    assert_eq!(rows, vec![]);
    assert_eq!(code, 0);
    // Without --check, found events still exit 0.
    let (rows, code) = anomalies(&d, "2026-11-02", "2026-11-08", false);
    assert_eq!((rows.len(), code), (5, 0));
}

#[test]
fn the_first_days_of_data_have_insufficient_history() {
    let d = setup();
    // W41: the store starts on 5 Oct. Sessions have no baseline (no data before the
    // week); days before 12 Oct have under 7 days of data. Nothing is an event.
    let (rows, code) = anomalies(&d, "2026-10-05", "2026-10-11", true);
    assert_eq!(code, 0, "{rows:#?}");
    assert!(rows.iter().all(|r| r.finding == "insufficient history"));
    let days: Vec<_> = rows
        .iter()
        .filter(|r| r.level == "feature-day")
        .map(|r| (r.feature.as_deref(), r.day.as_str(), r.last_day.as_str()))
        .collect();
    // 5 Oct has no day before it; 6..11 Oct have 1..6 days: all short.
    assert_eq!(
        days,
        vec![
            (Some("chat"), "2026-10-05", "2026-10-11"),
            (Some("search"), "2026-10-05", "2026-10-11")
        ]
    );
    assert_eq!(rows.iter().filter(|r| r.level == "session").count(), 2);
}

#[test]
fn the_weekly_report_counts_the_events_and_applies_the_cap() {
    let d = setup();
    let out = d
        .finops()
        .args(["--format", "json", "report", "weekly", "--week", "2026-W45"])
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    let row = |f: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["feature"] == f)
            .unwrap()
            .clone()
    };
    assert_eq!(row("chat")["anomalies"], 1);
    assert_eq!(row("search")["anomalies"], 1);
    assert_eq!(row("new")["anomalies"], 1);
    // Cap 3.00 on RUN (2.00, 2.00, 2.00): the second request takes it to 4.00, the third
    // is refused: one session stopped, 2.00 saved.
    assert_eq!(row("chat")["sessions_capped"], 1);
    assert_eq!(row("chat")["cap_savings"].to_string(), "2.00");
    assert_eq!(row("chat")["sessions"], 71);
    let notes = v["notes"].to_string();
    assert!(notes.contains("new"), "{notes}");
    assert!(notes.contains("product-week"), "{notes}");
}

#[test]
fn bad_windows_are_usage_errors() {
    let d = setup();
    for args in [
        &[
            "anomalies",
            "--since",
            "2026-11-09",
            "--until",
            "2026-11-02",
        ][..],
        &["anomalies", "--since", "2026-13-01"][..],
        &[
            "anomalies",
            "--since",
            "2024-01-01",
            "--until",
            "2026-11-02",
        ][..],
        &["anomalies", "--check", "--until", "yesterday"][..],
    ] {
        d.finops().args(args).assert().code(2);
    }
    // FINOPS_TODAY sets the default window: the 7 days up to it.
    let out = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-08")
        .args(["--format", "json", "anomalies", "--check"])
        .assert()
        .code(1);
    let v = json(&out.get_output().stdout);
    assert_eq!(v["parameters"]["since"], "2026-11-02");
    d.finops()
        .env("FINOPS_TODAY", "11/08/2026")
        .args(["anomalies"])
        .assert()
        .code(2);
}

#[test]
fn weekly_and_anomaly_tables() {
    let d = setup();
    let table = |args: &[&str]| {
        let out = d
            .finops()
            .args(["--format", "table"])
            .args(args)
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    insta::assert_snapshot!(
        "weekly_table",
        table(&["report", "weekly", "--week", "2026-W45"])
    );
    insta::assert_snapshot!(
        "anomalies_table",
        table(&[
            "anomalies",
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-08"
        ])
    );
}
