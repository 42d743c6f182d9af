//! `finops policy check`: premium models outside approvals, values by hand in the comments.

use crate::util::{json, stderr, Dir};

const CONFIG: &str = r#"
executive = "cfo@example.com"

[[team]]
name = "search"
owner = "lead@example.com"
[[team]]
name = "ads"
[[feature]]
name = "ai-search"
team = "search"
[[feature]]
name = "copy"
team = "ads"

[models]
premium = ["gpt-4o*", "claude-opus-*"]

[[approval]]
team = "search"
models = ["gpt-4o*"]
until = "2026-11-10"

[[approval]]
feature = "copy"
models = ["claude-opus-*"]
until = "2026-12-31"
"#;

/// November 2026 (UTC):
/// - search/ai-search on gpt-4o: 1.00 on the 5th and 2.00 on the 10th (approved through
///   the 10th), 3.00 on the 11th and 4.00 on the 12th (expired): 7.00, 2 requests.
/// - ads/copy on claude-opus-4: 5.00 on the 3rd (approved until the end of the year).
/// - search/ai-search on claude-opus-4: 6.00 on the 4th: no approval for that model.
/// - ads (no feature) on gpt-4o-mini: 0.50 on the 6th: ads has no gpt-4o approval.
/// - untagged claude-opus-4: 8.00 on the 7th: (unattributed).
/// - search on gpt-3.5-turbo: 100.00: not premium.
const LOG: &str = "\
timestamp,model,cost,tag:team,tag:feature
2026-11-05T10:00:00Z,gpt-4o-2024-08-06,1.00,search,ai-search
2026-11-10T23:00:00Z,gpt-4o-2024-08-06,2.00,search,ai-search
2026-11-11T10:00:00Z,gpt-4o-2024-08-06,3.00,search,ai-search
2026-11-12T10:00:00Z,gpt-4o-2024-08-06,4.00,search,ai-search
2026-11-03T10:00:00Z,claude-opus-4,5.00,ads,copy
2026-11-04T10:00:00Z,claude-opus-4,6.00,search,ai-search
2026-11-06T10:00:00Z,gpt-4o-mini,0.50,ads,
2026-11-07T10:00:00Z,claude-opus-4,8.00,,
2026-11-08T10:00:00Z,gpt-3.5-turbo,100.00,search,
";

fn setup(config: &str) -> Dir {
    let d = Dir::new();
    d.write("finops.toml", config);
    let p = d.write("log.csv", LOG);
    d.ingest(&p);
    d
}

fn check(d: &Dir, args: &[&str], code: i32) -> serde_json::Value {
    let a = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-20")
        .args(["--format", "json", "policy", "check"])
        .args(args)
        .assert()
        .code(code);
    json(&a.get_output().stdout)
}

/// (team, feature, model, spend, requests, first_day, last_day, reason) as printed.
fn rows(v: &serde_json::Value) -> Vec<[String; 8]> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let t = |k: &str| match &r[k] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            [
                t("team"),
                t("feature"),
                t("model"),
                t("spend"),
                t("requests"),
                t("first_day"),
                t("last_day"),
                t("reason"),
            ]
        })
        .collect()
}

#[test]
fn premium_spend_outside_approvals_largest_first() {
    let d = setup(CONFIG);
    let v = check(&d, &[], 1);
    assert_eq!(v["report"], "policy-check");
    assert_eq!(v["parameters"]["first_day"], "2026-11-01");
    assert_eq!(v["parameters"]["last_day"], "2026-11-20");
    let s = |x: &[&str; 8]| x.map(str::to_string);
    assert_eq!(
        rows(&v),
        [
            s(&[
                "(unattributed)",
                "null",
                "claude-opus-4",
                "8.00",
                "1",
                "2026-11-07",
                "2026-11-07",
                "no approval"
            ]),
            // Only the days after the approval's last day (the 10th): 3.00 + 4.00.
            s(&[
                "search",
                "ai-search",
                "gpt-4o-2024-08-06",
                "7.00",
                "2",
                "2026-11-11",
                "2026-11-12",
                "approval expired 2026-11-10"
            ]),
            s(&[
                "search",
                "ai-search",
                "claude-opus-4",
                "6.00",
                "1",
                "2026-11-04",
                "2026-11-04",
                "no approval"
            ]),
            s(&[
                "ads",
                "null",
                "gpt-4o-mini",
                "0.50",
                "1",
                "2026-11-06",
                "2026-11-06",
                "no approval"
            ]),
        ]
    );
    // 8 + 7 + 6 + 0.50; 1 + 2 + 1 + 1 requests.
    let t = &v["totals"][0];
    assert_eq!(t["spend"].to_string(), "21.50");
    assert_eq!(t["requests"], 5);
    assert_eq!(t["first_day"], "2026-11-04");
    assert_eq!(t["last_day"], "2026-11-12");
    // Escalation: the team owner; unattributed: the executive.
    assert_eq!(v["rows"][1]["owner"], "lead@example.com");
    assert_eq!(v["rows"][0]["owner"], "cfo@example.com");
}

#[test]
fn before_the_approval_ends_nothing_is_reported() {
    // As of the 10th, the search approval still holds: the 1.00 and the 2.00 (23:00 UTC
    // on the 10th) are not reported, and nothing of the 11th and 12th is counted yet.
    let d = setup(CONFIG);
    let a = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-10")
        .args(["--format", "json", "policy", "check"])
        .assert()
        .code(1);
    let v = json(&a.get_output().stdout);
    assert!(
        !rows(&v).iter().any(|r| r[2].starts_with("gpt-4o-2024")),
        "{v:#}"
    );
    // In Los Angeles the 2.00 of 2026-11-10T23:00Z is still the 10th (15:00 PST), and the
    // 3.00 of 2026-11-11T10:00Z is the 11th (02:00 PST): the same expiry.
    let v = {
        let a = d
            .finops()
            .env("FINOPS_TODAY", "2026-11-20")
            .args([
                "--format",
                "json",
                "--tz",
                "America/Los_Angeles",
                "policy",
                "check",
            ])
            .assert()
            .code(1);
        json(&a.get_output().stdout)
    };
    let gpt = rows(&v)
        .into_iter()
        .find(|r| r[2] == "gpt-4o-2024-08-06")
        .unwrap();
    assert_eq!(gpt[3], "7.00");
    assert_eq!(gpt[5], "2026-11-11");
}

#[test]
fn an_approval_until_a_later_day_covers_it() {
    // Extend the search approval to the 30th: the gpt-4o line disappears.
    let d = setup(&CONFIG.replace("until = \"2026-11-10\"", "until = \"2026-11-30\""));
    let v = check(&d, &[], 1);
    assert_eq!(rows(&v).len(), 3);
    assert!(!rows(&v).iter().any(|r| r[2].starts_with("gpt-4o-2024")));
}

#[test]
fn nothing_outside_approvals_exits_0() {
    // Only o1 models are premium; none was used.
    let d = setup(&CONFIG.replace(
        "premium = [\"gpt-4o*\", \"claude-opus-*\"]",
        "premium = [\"o1*\"]",
    ));
    let a = d
        .finops()
        .env("FINOPS_TODAY", "2026-11-20")
        .args(["--format", "csv", "policy", "check"])
        .assert()
        .code(0);
    let out = String::from_utf8(a.get_output().stdout.clone()).unwrap();
    assert_eq!(
        out.lines().next().unwrap(),
        "team,feature,owner,model,spend,requests,first_day,last_day,reason"
    );
    assert!(
        stderr(&a)
            .contains("no premium-model spend outside an approval from 2026-11-01 to 2026-11-20"),
        "{}",
        stderr(&a)
    );
    // A month without spend: 0 too.
    let d = setup(CONFIG);
    check(&d, &["--month", "2026-10"], 0);
}

#[test]
fn bad_input_exits_2() {
    let d = setup(CONFIG);
    let err = |args: &[&str]| {
        let a = d
            .finops()
            .env("FINOPS_TODAY", "2026-11-20")
            .args(["policy", "check"])
            .args(args)
            .assert()
            .code(2);
        stderr(&a)
    };
    assert!(err(&["--month", "11-2026"]).contains("is not a month"));
    assert!(err(&["--month", "2027-01"]).contains("after the current month"));
    d.write("finops.toml", "[[team]]\nname = \"search\"\n");
    let e = err(&[]);
    assert!(
        e.contains("finops.toml: no premium models configured") && e.contains("[models] premium"),
        "{e}"
    );
}

#[test]
fn a_bill_split_by_request_logs_is_checked_by_the_logs_models() {
    // SPEC §4.4: the OpenAI bill of 2026-10-03 (10.00, no model) splits by the day's logs,
    // search 0.03 : support 0.01 = 7.50 / 2.50. Within search, its logs' models split its
    // 7.50: gpt-4o 0.02 : gpt-4o-mini 0.01 = 5.00 / 2.50; support's 2.50 is all gpt-4o.
    // Premium is exactly gpt-4o. The 6.00 of the 4th (no logs) and Anthropic's 4.00 have
    // no model: 10.00 that cannot be checked.
    let d = Dir::new();
    d.write(
        "finops.toml",
        "[models]\npremium = [\"gpt-4o\"]\n[[approval]]\nteam = \"ops\"\nmodels = [\"gpt-4o\"]\nuntil = \"2026-12-31\"\n",
    );
    d.write(
        "bill.csv",
        "BilledCost,BillingCurrency,BillingPeriodStart,ChargePeriodStart,ProviderName,Tags\n\
         10.00,USD,2026-10-01,2026-10-03T00:00:00Z,OpenAI,\n\
         6.00,USD,2026-10-01,2026-10-04T00:00:00Z,OpenAI,\n\
         4.00,USD,2026-10-01,2026-10-03T00:00:00Z,Anthropic,\"{\"\"team\"\": \"\"ads\"\"}\"\n",
    );
    d.write(
        "log.csv",
        "timestamp,provider,model,request_id,cost,tag:team\n\
         2026-10-03T09:00:00Z,openai,gpt-4o,r1,0.02,search\n\
         2026-10-03T10:00:00Z,openai,gpt-4o-mini,r2,0.01,search\n\
         2026-10-03T11:00:00Z,openai,gpt-4o,r3,0.01,support\n",
    );
    d.finops()
        .args(["ingest", "bill.csv", "log.csv"])
        .assert()
        .success();
    let v = check(&d, &["--month", "2026-10"], 1);
    let s = |x: &[&str; 8]| x.map(str::to_string);
    assert_eq!(
        rows(&v),
        [
            s(&[
                "search",
                "null",
                "gpt-4o",
                "5.00",
                "1",
                "2026-10-03",
                "2026-10-03",
                "no approval"
            ]),
            s(&[
                "support",
                "null",
                "gpt-4o",
                "2.50",
                "1",
                "2026-10-03",
                "2026-10-03",
                "no approval"
            ]),
        ]
    );
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("10.00 USD of spend carries no model"),
        "{notes}"
    );
}

#[test]
fn the_weekly_demo_matches_the_independent_policy_answer() {
    // fixtures/weekly-demo: November 1–22, computed by DuckDB SQL and re-checked in Python.
    let d = crate::budget::demo();
    let mut got = crate::budget::demo_rows(&d, &["policy", "check"], 1);
    let total = got.pop().unwrap();
    let want = crate::budget::demo_expected("policy.csv");
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, e) in got.iter().zip(&want) {
        for k in [
            "team",
            "feature",
            "model",
            "spend",
            "requests",
            "first_day",
            "last_day",
            "reason",
        ] {
            assert_eq!(g[k], e[k], "{} {k}", e["model"]);
        }
    }
    // 258.82 + 6.47; 1,132 + 118 requests.
    assert_eq!(total["team"], "total");
    assert_eq!(total["spend"], "265.29");
    assert_eq!(total["requests"], "1250");
    // Not findings: the approved Opus days (11-01..11-12) and ai-search's gpt-4o.
    let approved = crate::budget::demo_expected("premium_november.csv");
    for e in approved.iter().filter(|e| e["approved"] == "true") {
        assert!(
            !got.iter()
                .any(|g| g["feature"] == e["feature"] && g["first_day"] <= e["last_day"]),
            "{e:?} is approved"
        );
    }
}
