//! The weekly demo (fixtures/weekly-demo): seven weeks of request logs whose answers were
//! computed independently, by DuckDB SQL (expected.sql) and re-checked in plain Python
//! (check.py). finops must print the same, to the cent, in UTC and in Los Angeles.

use std::collections::BTreeMap;

use crate::util::{fixture, json, Dir};

fn setup() -> Dir {
    let d = Dir::new();
    d.write(
        "finops.toml",
        std::fs::read(fixture("weekly-demo/finops.toml")).unwrap(),
    );
    d.ingest(fixture("weekly-demo/requests.csv"));
    d
}

/// The rows of an expected CSV.
fn expected(name: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(fixture(&format!("weekly-demo/expected/{name}"))).unwrap();
    r.deserialize().map(|row| row.unwrap()).collect()
}

/// `finops --format csv ARGS`, its rows by column name.
fn csv_rows(d: &Dir, args: &[&str]) -> Vec<BTreeMap<String, String>> {
    let out = d
        .finops()
        .args(["--format", "csv"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code().unwrap() <= 1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r = csv::Reader::from_reader(&out.stdout[..]);
    r.deserialize().map(|row| row.unwrap()).collect()
}

const TIME_ZONES: [&str; 2] = ["UTC", "America/Los_Angeles"];

#[test]
fn every_week_matches_the_independent_computation_in_two_time_zones() {
    let d = setup();
    let expect = expected("weekly.csv");
    let mut compared = 0;
    for tz in TIME_ZONES {
        for w in 41..=47 {
            let week = format!("2026-W{w}");
            let mut got = csv_rows(&d, &["--tz", tz, "report", "weekly", "--week", &week]);
            // The CSV's last row is the totals row.
            assert_eq!(got.pop().unwrap()["feature"], "total");
            let want: Vec<_> = expect
                .iter()
                .filter(|e| e["tz"] == tz && e["week"] == week)
                .collect();
            assert_eq!(got.len(), want.len(), "{tz} {week}: {got:#?}");
            for e in want {
                let g = got
                    .iter()
                    .find(|g| g["feature"] == e["feature"])
                    .unwrap_or_else(|| panic!("{tz} {week}: no line {}", e["feature"]));
                for k in [
                    "team",
                    "owner",
                    "spend",
                    "previous_week",
                    "sessions",
                    "median_session",
                    "p95_session",
                    "anomalies",
                    "sessions_capped",
                    "cap_savings",
                ] {
                    assert_eq!(g[k], e[k], "{tz} {week} {} {k}", e["feature"]);
                    compared += 1;
                }
            }
        }
    }
    // 2 time zones × (5 weeks × 4 features + 2 weeks × 5) × 10 columns.
    assert_eq!(compared, 600);
}

#[test]
fn the_anomalies_are_the_injected_ones_with_their_baselines() {
    let d = setup();
    let expect = expected("anomaly_events.csv");
    for tz in TIME_ZONES {
        let got: Vec<_> = csv_rows(
            &d,
            &[
                "--tz",
                tz,
                "anomalies",
                "--since",
                "2026-10-05",
                "--until",
                "2026-11-22",
            ],
        )
        .into_iter()
        .filter(|r| r["finding"] != "insufficient history")
        .collect();
        let mut want: Vec<_> = expect.iter().filter(|e| e["tz"] == tz).collect();
        want.sort_by_key(|e| e["date"].clone());
        assert_eq!(got.len(), want.len(), "{tz}: {got:#?}");
        for (g, e) in got.iter().zip(want) {
            let pairs = [
                ("day", "date"),
                ("level", "level"),
                ("finding", "kind"),
                ("feature", "feature"),
                ("team", "team"),
                ("session", "session_id"),
                ("actual", "actual"),
                ("baseline", "baseline"),
                ("threshold", "threshold"),
                ("impact", "impact"),
                ("owner", "owner"),
            ];
            for (gk, ek) in pairs {
                assert_eq!(g[gk], e[ek], "{tz} {} {gk}", e["date"]);
            }
        }
    }
}

#[test]
fn the_steady_week_passes_and_the_last_week_fails_the_check() {
    let d = setup();
    // W45 is steady (fixtures/weekly-demo/README.md): no event, exit 0.
    d.finops()
        .args([
            "anomalies",
            "--check",
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-08",
        ])
        .assert()
        .code(0);
    // W47 holds the runaway session, the spike and the product-week breach; research-agent
    // is listed as insufficient history for its sessions.
    let out = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-22")
        .args(["--format", "json", "anomalies", "--check"])
        .assert()
        .code(1);
    let v = json(&out.get_output().stdout);
    let rows = v["rows"].as_array().unwrap();
    let levels: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["level"].as_str().unwrap(), r["finding"].as_str().unwrap()))
        .collect();
    assert_eq!(
        levels,
        [
            ("session", "insufficient history"),
            ("product-week", "event"),
            ("session", "event"),
            ("feature-day", "event"),
        ]
    );
    assert_eq!(rows[0]["feature"], "research-agent");
}

#[test]
fn the_monthly_summary_matches_the_independent_october() {
    let d = setup();
    let out = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-23")
        .args([
            "--format", "json", "report", "monthly", "--month", "2026-10",
        ])
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    let rows = v["rows"].as_array().unwrap();
    let find = |section: &str, item: &str| {
        rows.iter()
            .find(|r| r["section"] == section && r["item"].as_str().unwrap().starts_with(item))
            .unwrap_or_else(|| panic!("no {section} {item}"))
            .clone()
    };
    // expected/october.csv: total 535.94, cache hit rate 156,479,918 / 224,456,019 =
    // 0.697152, premium 483.37 (0.901904), ai-search's cost-to-value 255.68 / 9000.
    let e = expected("october.csv");
    let total = e.iter().find(|r| r["scope"] == "total").unwrap();
    assert_eq!(
        find("summary", "total")["spend"].to_string(),
        total["spend"]
    );
    assert_eq!(
        find("summary", "cache hit rate")["rate"].to_string(),
        total["cache_hit_rate"]
    );
    let premium = find("summary", "premium-model share");
    assert_eq!(premium["spend"].to_string(), total["premium_spend"]);
    assert_eq!(premium["share"].to_string(), total["premium_share"]);
    assert_eq!(
        find("summary", "cost per request")["count"].to_string(),
        total["requests"]
    );
    for t in e.iter().filter(|r| r["scope"] == "team") {
        assert_eq!(find("team", &t["name"])["spend"].to_string(), t["spend"]);
    }
    let value = find("value", "ai-search");
    assert_eq!(value["rate"].to_string(), "0.028409");
    // A past month: its forecast is its total; budget 540 − 535.94 = 4.06 left.
    assert_eq!(
        find("summary", "forecast month-end")["spend"].to_string(),
        "535.94"
    );
    assert_eq!(
        find("summary", "budget remaining")["spend"].to_string(),
        "4.06"
    );
    // October's days: 5 to 31 (the data starts on the 5th).
    assert_eq!(rows.iter().filter(|r| r["section"] == "day").count(), 27);
    assert_eq!(find("summary", "anomaly events")["count"], 0);
    // November to date (through the 23rd): the eight events of W46 and W47, and the
    // forecast as the sum of the teams' (expected/budget.csv, exact: 642.1011427143 +
    // 320.2938680000 + 77.4840764286 = 1039.8790871429).
    let out = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-23")
        .args(["--format", "json", "report", "monthly"])
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["period"], "2026-11");
    let rows = v["rows"].as_array().unwrap();
    let get = |item: &str| {
        rows.iter()
            .find(|r| r["item"] == item)
            .unwrap_or_else(|| panic!("no {item}"))
            .clone()
    };
    assert_eq!(get("anomaly events")["count"], 8);
    assert_eq!(get("forecast month-end")["spend"].to_string(), "1039.88");
    assert_eq!(get("total")["spend"].to_string(), "674.25");
}

#[test]
fn simulate_agrees_with_the_independent_cap_of_the_weekly_report() {
    let d = setup();
    // expected/weekly.csv, UTC 2026-W47, ai-search (session_cap 2.00): 1 session capped,
    // 6.31 saved; the same cap given to `simulate` must cut the same.
    let e = expected("weekly.csv");
    let want = e
        .iter()
        .find(|r| r["tz"] == "UTC" && r["week"] == "2026-W47" && r["feature"] == "ai-search")
        .unwrap();
    let got = csv_rows(
        &d,
        &[
            "simulate",
            "--session-cap",
            &want["cap"],
            "--week",
            "2026-W47",
            "--feature",
            "ai-search",
        ],
    );
    assert_eq!(got[0]["sessions_cut"], want["sessions_capped"]);
    assert_eq!(got[0]["saved"], want["cap_savings"]);
    assert_eq!(got[0]["sessions"], want["sessions"]);
}
