//! `finops budget status` / `finops budget check`: values computed by hand in the comments.
//!
//! Today is pinned to Sunday 2026-11-15 (FINOPS_TODAY), UTC unless said. The request log:
//! - teams a, b, c, d (budget 100 each): 79 on 11-02, 80 on 11-03, 90 on 11-04, 100 on
//!   11-05: utilisation 79%, 80%, 90%, 100% (under, alert, fallback, halt). No spend in the
//!   7 days before today (8–14 November): mean 0, forecast = month to date.
//! - team e (budget 100), all through feature chat (budget 200, daily 3.75): 7 a day on
//!   8–14 November and 3 today so far. Month to date 49 + 3 = 52. Complete days 49; the 7
//!   days before today: S = 49, m = 7; today to the 30th is 16 days:
//!   forecast = 49 + max(3, 7) + 7 × 15 = 161.
//! - feature trial (team t, no budget): 2 a day on 6–12 November.
//! - team p (budget 310) through feature pf (daily 12): October, 10 a day on 1–15 and 12 a
//!   day on 16–31: 150 + 192 = 342.

use std::collections::BTreeMap;

use crate::util::{fixture, json, stderr, Dir};

const CONFIG: &str = r#"
executive = "cfo@example.com"

[[team]]
name = "a"
budget = 100
[[team]]
name = "b"
budget = 100
[[team]]
name = "c"
budget = 100
[[team]]
name = "d"
budget = 100
[[team]]
name = "e"
owner = "e-lead@example.com"
budget = 100
[[team]]
name = "t"
[[team]]
name = "p"
budget = 310

[[feature]]
name = "chat"
team = "e"
owner = "chat@example.com"
budget = 200
daily_budget = 3.75
[[feature]]
name = "trial"
team = "t"
[[feature]]
name = "pf"
team = "p"
daily_budget = 12

[[experiment]]
name = "trial-run"
feature = "trial"
budget = 20
start = "2026-11-01"
until = "2026-11-10"

[[experiment]]
name = "beta"
feature = "chat"
budget = 100
start = 2026-11-10
until = 2026-12-10
"#;

fn log() -> String {
    let mut s = String::from("timestamp,cost,tag:team,tag:feature\n");
    let mut row = |day: &str, cost: &str, team: &str, feature: &str| {
        s.push_str(&format!("{day}T10:00:00Z,{cost},{team},{feature}\n"));
    };
    row("2026-11-02", "79", "a", "");
    row("2026-11-03", "80", "b", "");
    row("2026-11-04", "90", "c", "");
    row("2026-11-05", "100", "d", "");
    for day in 8..=14 {
        row(&format!("2026-11-{day:02}"), "7", "e", "chat");
    }
    row("2026-11-15", "3", "e", "chat");
    for day in 6..=12 {
        row(&format!("2026-11-{day:02}"), "2", "t", "trial");
    }
    for day in 1..=31 {
        let cost = if day <= 15 { "10" } else { "12" };
        row(&format!("2026-10-{day:02}"), cost, "p", "pf");
    }
    s
}

fn setup(config: &str) -> Dir {
    let d = Dir::new();
    d.write("finops.toml", config);
    let p = d.write("log.csv", log());
    d.ingest(&p);
    d
}

fn run(d: &Dir, args: &[&str], code: i32) -> serde_json::Value {
    let a = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-15")
        .args(["--format", "json", "budget"])
        .args(args)
        .assert()
        .code(code);
    json(&a.get_output().stdout)
}

fn row<'a>(v: &'a serde_json::Value, scope: &str, name: &str) -> &'a serde_json::Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == scope && r["name"] == name)
        .unwrap_or_else(|| panic!("no {scope} {name} in {v:#}"))
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["scope"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// (month_to_date, utilisation, status, alert_on, fallback_on, halt_on) as printed.
fn short(r: &serde_json::Value) -> [String; 6] {
    let t = |k: &str| match &r[k] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    [
        t("month_to_date"),
        t("utilisation"),
        t("status"),
        t("alert_on"),
        t("fallback_on"),
        t("halt_on"),
    ]
}

#[test]
fn statuses_at_79_80_90_and_100_percent_with_the_day_each_was_crossed() {
    let d = setup(CONFIG);
    let v = run(&d, &["status"], 0);
    assert_eq!(v["report"], "budget-status");
    assert_eq!(v["period"], "2026-11");
    assert_eq!(v["parameters"]["as_of"], "2026-11-15");
    assert_eq!(v["parameters"]["time_zone"], "UTC");
    let s = |n: &str| short(row(&v, "team", n));
    assert_eq!(s("a"), ["79.00", "0.79", "under", "null", "null", "null"]);
    assert_eq!(
        s("b"),
        ["80.00", "0.8", "alert", "2026-11-03", "null", "null"]
    );
    assert_eq!(
        s("c"),
        [
            "90.00",
            "0.9",
            "fallback",
            "2026-11-04",
            "2026-11-04",
            "null"
        ]
    );
    assert_eq!(
        s("d"),
        [
            "100.00",
            "1",
            "halt",
            "2026-11-05",
            "2026-11-05",
            "2026-11-05"
        ]
    );
    assert_eq!(row(&v, "team", "a")["action"], "none");
    assert_eq!(row(&v, "team", "b")["action"], "notify the owner");
    assert_eq!(row(&v, "team", "c")["action"], "route to a cheaper model");
    assert_eq!(row(&v, "team", "d")["action"], "stop the feature");
    // No spend in the 7 days before today: the forecast is the month to date.
    assert_eq!(row(&v, "team", "b")["forecast"].to_string(), "80.00");
    assert_eq!(row(&v, "team", "b")["forecast_status"], "alert");
    // Owners: the team's, else the executive.
    assert_eq!(row(&v, "team", "a")["owner"], "cfo@example.com");
    assert_eq!(row(&v, "team", "e")["owner"], "e-lead@example.com");
    // Team t has no budget; a team's rows come first, then features, days, experiments.
    assert_eq!(
        names(&v),
        [
            "team a",
            "team b",
            "team c",
            "team d",
            "team e",
            "team p",
            "feature chat",
            "feature-day chat",
            "feature-day pf",
            "experiment trial-run",
            "experiment beta"
        ]
    );
    // Past-month fields are empty in the current month.
    assert!(row(&v, "team", "a")["forecast_error"].is_null());
}

#[test]
fn the_forecast_and_projected_crossing_dates() {
    let d = setup(CONFIG);
    let v = run(&d, &["status"], 0);
    // Team e: 52 to date (today's 3 included), forecast 161 (module comment).
    // P(k) = 49 + 7 + 7(k − 1) = 49 + 7k from today (k = 1 on the 15th):
    // alert 80: 7k ≥ 31 → k = 5 → the 19th; fallback 90: 7k ≥ 41 → k = 6 → the 20th;
    // halt 100: 7k ≥ 51 → k = 8 → the 22nd.
    let e = row(&v, "team", "e");
    assert_eq!(
        short(e),
        [
            "52.00",
            "0.52",
            "under",
            "2026-11-19",
            "2026-11-20",
            "2026-11-22"
        ]
    );
    assert_eq!(e["forecast"].to_string(), "161.00");
    assert_eq!(e["forecast_utilisation"].to_string(), "1.61");
    assert_eq!(e["forecast_status"], "halt");
    // Feature chat, budget 200: the same spend; alert 160: 49 + 7k ≥ 160 → k = 16, the
    // 30th; fallback 180 is beyond 161, so never within the month.
    let chat = row(&v, "feature", "chat");
    assert_eq!(
        short(chat),
        ["52.00", "0.26", "under", "2026-11-30", "null", "null"]
    );
    assert_eq!(chat["team"], "e");
    assert_eq!(chat["owner"], "chat@example.com");
    assert_eq!(chat["forecast_status"], "alert");
    assert_eq!(chat["period"], "2026-11");
}

#[test]
fn daily_budgets_compare_today_so_far() {
    let d = setup(CONFIG);
    let v = run(&d, &["status"], 0);
    // chat today: 3 of 3.75 = 80%: alert, crossed today; no forecast for a day.
    let day = row(&v, "feature-day", "chat");
    assert_eq!(
        short(day),
        ["3.00", "0.8", "alert", "2026-11-15", "null", "null"]
    );
    assert_eq!(day["period"], "2026-11-15");
    assert_eq!(day["budget"].to_string(), "3.75");
    assert!(day["forecast"].is_null());
    let pf = row(&v, "feature-day", "pf");
    assert_eq!(pf["month_to_date"].to_string(), "0.00");
    assert_eq!(pf["status"], "under");
}

#[test]
fn experiments_count_their_days_and_flag_spend_after_the_end() {
    let d = setup(CONFIG);
    let v = run(&d, &["status"], 0);
    // trial-run (1–10 November, budget 20): trial spent 2 a day on 6–10 = 10 (50%); on
    // 11 and 12 November, after its end: 4, flagged. The run is over: no forecast.
    let t = row(&v, "experiment", "trial-run");
    assert_eq!(t["period"], "2026-11-01..2026-11-10");
    assert_eq!(short(t), ["10.00", "0.5", "under", "null", "null", "null"]);
    assert_eq!(t["spend_after_end"].to_string(), "4.00");
    assert!(t["forecast"].is_null());
    assert_eq!(t["team"], "t");
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("experiment trial-run: 4.00 USD spent after its last day (2026-11-10)"),
        "{notes}"
    );
    // beta (10 November – 10 December, budget 100) on chat: 7 a day on 10–14 and 3 today:
    // 38 to date. Forecast to its last day: from today, 26 days:
    // 35 + max(3, 7) + 7 × 25 = 217. P(k) = 35 + 7k: alert 80: 7k ≥ 45 → k = 7, the 21st;
    // fallback 90: 7k ≥ 55 → k = 8, the 22nd; halt 100: 7k ≥ 65 → k = 10, the 24th.
    let b = row(&v, "experiment", "beta");
    assert_eq!(
        short(b),
        [
            "38.00",
            "0.38",
            "under",
            "2026-11-21",
            "2026-11-22",
            "2026-11-24"
        ]
    );
    assert_eq!(b["forecast"].to_string(), "217.00");
    assert_eq!(b["forecast_status"], "halt");
    assert!(b["spend_after_end"].is_null());
}

#[test]
fn an_experiment_without_a_start_counts_from_the_first_data() {
    // "open" on trial until 2026-11-11, budget 12: from the store's first day with spend
    // (2026-10-01, team p's): trial's 2 a day on 6–11 November = 12: 100%, halt, crossed on
    // the 11th (cumulative 2, 4, ..., 12). After its end: the 12th's 2.
    let d = setup(&format!(
        "{CONFIG}\n[[experiment]]\nname = \"open\"\nfeature = \"trial\"\nbudget = 12\nuntil = \"2026-11-11\"\n"
    ));
    let v = run(&d, &["status"], 0);
    let o = row(&v, "experiment", "open");
    assert_eq!(o["period"], "2026-10-01..2026-11-11");
    assert_eq!(
        short(o),
        [
            "12.00",
            "1",
            "halt",
            "2026-11-10",
            "2026-11-11",
            "2026-11-11"
        ]
    );
    assert_eq!(o["spend_after_end"].to_string(), "2.00");
}

#[test]
fn a_past_month_shows_the_whole_month_and_the_forecast_error() {
    let d = setup(CONFIG);
    let v = run(&d, &["status", "--month", "2026-10"], 0);
    assert_eq!(v["parameters"]["as_of"], "2026-10-31");
    assert_eq!(v["parameters"]["forecast_day"], "2026-10-16");
    // Team p: 342 of 310 (110.3%): halt. Cumulative 150 on the 15th, then +12 a day:
    // 246 on the 23rd, 258 on the 24th (≥ 248, alert); 270, 282 on the 26th (≥ 279,
    // fallback); 294, 306, 318 on the 29th (≥ 310, halt).
    let p = row(&v, "team", "p");
    assert_eq!(
        short(p),
        [
            "342.00",
            "1.103226",
            "halt",
            "2026-10-24",
            "2026-10-26",
            "2026-10-29"
        ]
    );
    // As of the 16th: 15 complete days (150), m = 70 / 7 = 10, 16 days left:
    // 150 + 10 + 10 × 15 = 310. Error 310 − 342 = −32, −32 / 342 = −0.0935672…
    assert_eq!(p["forecast"].to_string(), "310.00");
    assert_eq!(p["forecast_status"], "halt");
    assert_eq!(p["forecast_error"].to_string(), "-32.00");
    assert_eq!(p["forecast_error_pct"].to_string(), "-0.093567");
    // pf's worst day: 12 on the 16th (the first of the 12s), 100% of 12: halt.
    let pf = row(&v, "feature-day", "pf");
    assert_eq!(pf["period"], "2026-10-16");
    assert_eq!(
        short(pf),
        [
            "12.00",
            "1",
            "halt",
            "2026-10-16",
            "2026-10-16",
            "2026-10-16"
        ]
    );
    // Experiments that start after October are not October's.
    assert!(!names(&v).iter().any(|n| n.starts_with("experiment")));
    // A past month's check: only actual spend counts; p and pf halted.
    let c = run(&d, &["check", "--month", "2026-10"], 1);
    assert_eq!(names(&c), ["team p", "feature-day pf"]);
}

#[test]
fn check_lists_what_crossed_and_exits_1() {
    let d = setup(CONFIG);
    let v = run(&d, &["check"], 1);
    assert_eq!(v["report"], "budget-check");
    assert_eq!(
        names(&v),
        ["team b", "team c", "team d", "feature-day chat"]
    );
    let crossed: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["crossed"].as_str().unwrap())
        .collect();
    assert_eq!(crossed, ["alert", "fallback", "halt", "alert"]);
}

#[test]
fn on_forecast_makes_a_forecast_crossing_fail_the_check() {
    // Team e alone: 52% to date (under), forecast 161 (halt on the 22nd).
    let only_e = "[[team]]\nname = \"e\"\nbudget = 100\n";
    let d = setup(only_e);
    let v = run(&d, &["check"], 0);
    assert_eq!(v["rows"].as_array().unwrap().len(), 0);
    d.write(
        "finops.toml",
        format!("{only_e}[alerts]\non_forecast = true\n"),
    );
    let v = run(&d, &["check"], 1);
    assert_eq!(names(&v), ["team e"]);
    assert_eq!(v["rows"][0]["crossed"], "forecast halt on 2026-11-22");
    assert_eq!(v["parameters"]["on_forecast"], "true");
    // With the whole config: the forecast crossings join the actual ones; b's forecast
    // (80, alert) adds nothing to its status.
    d.write(
        "finops.toml",
        format!("{CONFIG}[alerts]\non_forecast = true\n"),
    );
    let v = run(&d, &["check"], 1);
    assert_eq!(
        names(&v),
        [
            "team b",
            "team c",
            "team d",
            "team e",
            "feature chat",
            "feature-day chat",
            "experiment beta"
        ]
    );
    assert_eq!(row(&v, "team", "b")["crossed"], "alert");
    assert_eq!(
        row(&v, "feature", "chat")["crossed"],
        "forecast alert on 2026-11-30"
    );
    assert_eq!(
        row(&v, "experiment", "beta")["crossed"],
        "forecast halt on 2026-11-24"
    );
}

#[test]
fn check_under_the_thresholds_prints_the_header_and_exits_0() {
    // Team a alone: 79%, forecast 79.
    let d = setup("[[team]]\nname = \"a\"\nbudget = 100\n");
    let a = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-15")
        .args(["--format", "csv", "budget", "check"])
        .assert()
        .code(0);
    let out = String::from_utf8(a.get_output().stdout.clone()).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("scope,name,team,owner,period,budget,month_to_date,"));
    assert!(out.trim_end().ends_with(",crossed"));
    assert!(
        stderr(&a).contains("no budget crossed a threshold in 2026-11 as of 2026-11-15"),
        "{}",
        stderr(&a)
    );
}

#[test]
fn bad_input_exits_2_with_the_fix() {
    let d = setup(CONFIG);
    let err = |args: &[&str], today: &str| {
        let a = d
            .finops()
            .env("FINOPS_TODAY", today)
            .args(args)
            .assert()
            .code(2);
        stderr(&a)
    };
    let e = err(&["budget", "check", "--month", "2026-13"], "2026-11-15");
    assert!(
        e.contains("\"2026-13\" is not a month: write YYYY-MM"),
        "{e}"
    );
    let e = err(&["budget", "check"], "2026-11-31");
    assert!(
        e.contains("FINOPS_TODAY \"2026-11-31\" is not a date"),
        "{e}"
    );
    let e = err(&["budget", "status", "--month", "2026-12"], "2026-11-15");
    assert!(
        e.contains(
            "--month 2026-12 is after the current month (2026-11; today is 2026-11-15 in UTC)"
        ),
        "{e}"
    );
    // No budgets at all: where to add one.
    d.write("finops.toml", "[[team]]\nname = \"a\"\n");
    let e = err(&["budget", "check"], "2026-11-15");
    assert!(
        e.contains("finops.toml: no budgets configured; add `budget = 1000`"),
        "{e}"
    );
    std::fs::remove_file(d.path().join("finops.toml")).unwrap();
    let e = err(&["budget", "status"], "2026-11-15");
    assert!(e.contains("no finops.toml here"), "{e}");
}

#[test]
fn a_month_of_local_days_in_another_time_zone() {
    // Team z (budget 10): 4 at 2026-11-30T20:00Z (the 30th everywhere here) and 5 at
    // 2026-12-01T05:00Z: 1 December in UTC, 30 November 21:00 in Los Angeles (UTC−8).
    let d = Dir::new();
    d.write("finops.toml", "[[team]]\nname = \"z\"\nbudget = 10\n");
    let p = d.write(
        "log.csv",
        "timestamp,cost,tag:team\n2026-11-30T20:00:00Z,4,z\n2026-12-01T05:00:00Z,5,z\n",
    );
    d.ingest(&p);
    let status = |tz: &str| {
        let a = d
            .finops()
            .env("FINOPS_TODAY", "2026-12-05")
            .args([
                "--format", "json", "--tz", tz, "budget", "status", "--month", "2026-11",
            ])
            .assert()
            .success();
        json(&a.get_output().stdout)
    };
    let utc = status("UTC");
    assert_eq!(
        short(&utc["rows"][0]),
        ["4.00", "0.4", "under", "null", "null", "null"]
    );
    // Los Angeles: 4 + 5 = 9 of 10 on the 30th: fallback that day.
    let la = status("America/Los_Angeles");
    assert_eq!(
        short(&la["rows"][0]),
        [
            "9.00",
            "0.9",
            "fallback",
            "2026-11-30",
            "2026-11-30",
            "null"
        ]
    );
    assert_eq!(la["parameters"]["time_zone"], "America/Los_Angeles");
    // December in Los Angeles is without that 5 (UTC: 5 on the 1st).
    let dec = |tz: &str| {
        let a = d
            .finops()
            .env("FINOPS_TODAY", "2026-12-05")
            .args(["--format", "json", "--tz", tz, "budget", "status"])
            .assert()
            .success();
        json(&a.get_output().stdout)["rows"][0]["month_to_date"].to_string()
    };
    assert_eq!(dec("UTC"), "5.00");
    assert_eq!(dec("America/Los_Angeles"), "0.00");
}

#[test]
fn every_format_prints_the_same_report() {
    let d = setup(CONFIG);
    for format in ["table", "csv", "tsv", "jsonl", "markdown"] {
        let a = d
            .finops()
            .env("FINOPS_TODAY", "2026-11-15")
            .args(["--format", format, "budget", "status"])
            .assert()
            .success();
        let out = String::from_utf8(a.get_output().stdout.clone()).unwrap();
        assert!(out.contains("161"), "{format}: {out}");
        assert!(out.contains("2026-11-22"), "{format}: {out}");
    }
}

/// The weekly demo (fixtures/weekly-demo), whose budgets were computed independently by
/// DuckDB SQL and re-checked in Python: `finops --format csv ARGS` as of 2026-11-23 (its
/// README: November 1–22 complete, nothing yet on the 23rd), rows by column name.
pub fn demo_rows(d: &Dir, args: &[&str], code: i32) -> Vec<BTreeMap<String, String>> {
    let a = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-23")
        .args(["--format", "csv"])
        .args(args)
        .assert()
        .code(code);
    let mut r = csv::Reader::from_reader(&a.get_output().stdout[..]);
    r.deserialize().map(|row| row.unwrap()).collect()
}

pub fn demo() -> Dir {
    let d = Dir::new();
    d.write(
        "finops.toml",
        std::fs::read(fixture("weekly-demo/finops.toml")).unwrap(),
    );
    d.ingest(fixture("weekly-demo/requests.csv"));
    d
}

/// The rows of one of the demo's expected CSVs.
pub fn demo_expected(name: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(fixture(&format!("weekly-demo/expected/{name}"))).unwrap();
    r.deserialize().map(|row| row.unwrap()).collect()
}

#[test]
fn the_weekly_demo_matches_the_independent_budgets_and_experiment() {
    let d = demo();
    let got = demo_rows(&d, &["budget", "status"], 0);
    // Its lines with a budget; forecast = 1–22 + (16–22) / 7 × 8 days (23–30), as ours
    // with nothing spent yet today.
    let want: Vec<_> = demo_expected("budget.csv")
        .into_iter()
        .filter(|e| !e["budget"].is_empty())
        .collect();
    let monthly: Vec<_> = got
        .iter()
        .filter(|g| g["scope"] == "team" || g["scope"] == "feature")
        .collect();
    assert_eq!(monthly.len(), want.len(), "{got:#?}");
    for e in &want {
        let g = monthly
            .iter()
            .find(|g| g["scope"] == e["scope"] && g["name"] == e["name"])
            .unwrap_or_else(|| panic!("no {} {}", e["scope"], e["name"]));
        for (ours, theirs) in [
            ("team", "team"),
            ("owner", "owner"),
            ("budget", "budget"),
            ("month_to_date", "month_to_date"),
            ("utilisation", "utilisation"),
            ("status", "status"),
            ("forecast", "forecast_month_end"),
            ("forecast_utilisation", "forecast_utilisation"),
            ("forecast_status", "forecast_status"),
            ("alert_on", "alert_day"),
            ("fallback_on", "fallback_day"),
            ("halt_on", "halt_day"),
        ] {
            assert_eq!(g[ours], e[theirs], "{} {} {ours}", e["scope"], e["name"]);
        }
    }
    for e in demo_expected("experiments.csv") {
        let g = got
            .iter()
            .find(|g| g["scope"] == "experiment" && g["name"] == e["name"])
            .unwrap();
        assert_eq!(g["period"], format!("{}..{}", e["start"], e["until"]));
        assert_eq!(g["budget"], e["budget"]);
        assert_eq!(g["month_to_date"], e["spend"]);
        assert_eq!(g["utilisation"], e["utilisation"]);
        assert_eq!(g["spend_after_end"], e["spend_after_until"]);
    }
    // on_forecast = true there: every monthly line crossed, actually or by forecast.
    let check = demo_rows(&d, &["budget", "check"], 1);
    let crossed: Vec<(&str, &str)> = check
        .iter()
        .map(|r| (r["name"].as_str(), r["crossed"].as_str()))
        .collect();
    assert_eq!(
        crossed,
        [
            ("growth", "halt"),
            ("search", "alert; forecast halt on 2026-11-26"),
            ("support", "forecast halt on 2026-11-30"),
            ("ai-search", "forecast halt on 2026-11-30"),
            ("campaign-writer", "halt"),
            ("support-bot", "fallback; forecast halt on 2026-11-23"),
        ]
    );
}
