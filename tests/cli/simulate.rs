//! `finops simulate --session-cap`: values computed by hand in the comments.

use crate::util::{json, Dir};

/// Sessions of feature f (team t) and g, in time order within each session:
/// - W45, Mon 2026-11-02: A 0.50 ×4 (2.00); B one request of 3.00; C 0.40, 0.80, 0.30,
///   0.20 (1.70); D (feature g) 1.00, 1.00.
/// - W46, Mon 2026-11-09: F 2.00, 2.00 (feature f).
const LOG: &str = "\
timestamp,session_id,cost,tag:feature,tag:team
2026-11-02T10:00:00Z,A,0.50,f,t
2026-11-02T10:01:00Z,A,0.50,f,t
2026-11-02T10:02:00Z,A,0.50,f,t
2026-11-02T10:03:00Z,A,0.50,f,t
2026-11-02T11:00:00Z,B,3.00,f,t
2026-11-02T12:00:00Z,C,0.40,f,t
2026-11-02T12:01:00Z,C,0.80,f,t
2026-11-02T12:02:00Z,C,0.30,f,t
2026-11-02T12:03:00Z,C,0.20,f,t
2026-11-02T13:00:00Z,D,1.00,g,t
2026-11-02T13:01:00Z,D,1.00,g,t
2026-11-09T10:00:00Z,F,2.00,f,t
2026-11-09T10:01:00Z,F,2.00,f,t
";

fn setup() -> Dir {
    let d = Dir::new();
    let log = d.write("log.csv", LOG);
    d.ingest(&log);
    d
}

fn simulate(d: &Dir, args: &[&str]) -> serde_json::Value {
    let out = d
        .finops()
        .args(["--format", "json", "simulate"])
        .args(args)
        .assert()
        .success();
    json(&out.get_output().stdout)
}

#[test]
fn a_cap_cuts_the_sessions_that_reach_it_and_saves_what_follows() {
    let d = setup();
    let v = simulate(&d, &["--session-cap", "1.00", "--week", "2026-W45"]);
    // Cap 1.00:
    // - A: 0.50, then 1.00 (reaches the cap); the last two (1.00) are refused.
    // - B: its only request starts at 0.00 and completes: 3.00, nothing refused.
    // - C: 0.40, 1.20 (crosses); 0.30 and 0.20 refused: 0.50 saved.
    // - D (g): 1.00 reaches the cap; the second 1.00 is refused.
    // f: 3 sessions, 2 cut, 4 refused, 1.50 saved of 6.70 (0.223881).
    let f = &v["rows"][0];
    assert_eq!(f["feature"], "f");
    assert_eq!(
        (&f["sessions"], &f["sessions_cut"], &f["requests_refused"]),
        (&3.into(), &2.into(), &4.into())
    );
    assert_eq!(f["saved"].to_string(), "1.50");
    assert_eq!(f["session_spend"].to_string(), "6.70");
    assert_eq!(f["share_saved"].to_string(), "0.223881");
    let g = &v["rows"][1];
    assert_eq!(
        (&g["sessions_cut"], &g["requests_refused"]),
        (&1.into(), &1.into())
    );
    assert_eq!(g["saved"].to_string(), "1.00");
    assert_eq!(g["share_saved"].to_string(), "0.5");
    let t = &v["totals"][0];
    assert_eq!((&t["sessions"], &t["sessions_cut"]), (&4.into(), &3.into()));
    assert_eq!(t["saved"].to_string(), "2.50");
    assert_eq!(v["parameters"]["first_day"], "2026-11-02");
    // The month adds F (2.00, then 2.00 refused).
    let v = simulate(&d, &["--session-cap", "1.00", "--month", "2026-11"]);
    assert_eq!(v["rows"][0]["sessions"], 4);
    assert_eq!(v["rows"][0]["saved"].to_string(), "3.50");
    // A cap above every session cuts nothing.
    let v = simulate(&d, &["--session-cap", "5", "--month", "2026-11"]);
    assert_eq!(v["totals"][0]["saved"].to_string(), "0.00");
    assert_eq!(v["totals"][0]["sessions_cut"], 0);
}

#[test]
fn the_refused_requests_in_time_order() {
    let d = setup();
    let v = simulate(
        &d,
        &["--session-cap", "1", "--week", "2026-11-04", "--requests"],
    );
    let rows: Vec<(String, String, String)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["at"].as_str().unwrap().to_string(),
                r["session"].as_str().unwrap().to_string(),
                r["cost"].to_string(),
            )
        })
        .collect();
    let want = [
        ("2026-11-02T10:02:00Z", "A", "0.50"),
        ("2026-11-02T10:03:00Z", "A", "0.50"),
        ("2026-11-02T12:02:00Z", "C", "0.30"),
        ("2026-11-02T12:03:00Z", "C", "0.20"),
        ("2026-11-02T13:01:00Z", "D", "1.00"),
    ];
    assert_eq!(
        rows,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    // --feature keeps one feature's lines and requests.
    let v = simulate(
        &d,
        &["--session-cap", "1", "--week", "2026-W45", "--feature", "g"],
    );
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(v["rows"][0]["feature"], "g");
}

#[test]
fn bad_caps_and_periods_are_usage_errors() {
    let d = setup();
    for args in [
        &["simulate", "--session-cap", "0"][..],
        &["simulate", "--session-cap", "-1"][..],
        &["simulate", "--session-cap", "two"][..],
        &["simulate"][..],
        &[
            "simulate",
            "--session-cap",
            "1",
            "--month",
            "2026-11",
            "--week",
            "2026-W45",
        ][..],
        &[
            "simulate",
            "--session-cap",
            "1",
            "--week",
            "2026-W45",
            "--feature",
            "nope",
        ][..],
    ] {
        d.finops().args(args).assert().code(2);
    }
}
