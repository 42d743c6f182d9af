//! `finops chargeback`: hand-computed months under every shared-pool method and every
//! unattributed policy, reconciliation to the bill, and rules applied without re-ingest.
//!
//! fixtures/chargeback/bill-2026-10.csv, by hand (all USD, billing period 2026-10):
//! direct search 100 − 10 (credit) = 90, support 50, ads 30; pool "embeddings" 60
//! (tags.feature = shared-embeddings); overhead pool 20 (tags.platform = yes); unattributed
//! 8 (tax) + 12 + 4 (a charge of 2026-09-30 billed on the October invoice) = 24.
//! Billed total 274. Splits were computed with Python's `fractions`:
//! 60 by cost 90:50:30 = 31.7647… / 17.6470… / 10.5882… → 31.76 / 17.65 / 10.59;
//! 24 by cost 90:50:30 = 12.7058… / 7.0588… / 4.2352… → 12.71 / 7.06 / 4.23 (largest
//! remainder at cents: 24.00).

use crate::util::{fixture, json, stderr, Dir};

const BASE: &str = r#"
currency = "USD"

[[team]]
name = "search"
budget = 150

[[team]]
name = "support"
budget = 100

[[team]]
name = "ads"

[[team]]
name = "platform"

[[feature]]
name = "ai-search"
team = "search"

[[shared]]
name = "platform-overhead"
when = { tags.platform = "yes" }
method = "overhead"
"#;

fn pool(method: &str) -> String {
    let split = if method == "fixed" {
        "split = { search = 0.5, support = 0.3, ads = 0.2 }\n"
    } else {
        ""
    };
    format!("\n[[shared]]\nname = \"embeddings\"\nwhen = {{ tags.feature = \"shared-embeddings\" }}\nmethod = \"{method}\"\n{split}")
}

fn month(config: &str) -> (Dir, serde_json::Value) {
    let d = Dir::new();
    d.write("finops.toml", config);
    d.ingest(fixture("chargeback/bill-2026-10.csv"));
    let v = run(&d);
    (d, v)
}

fn run(d: &Dir) -> serde_json::Value {
    let a = d
        .finops()
        .args(["chargeback", "--month", "2026-10", "--format", "json"])
        .assert()
        .success();
    json(&a.get_output().stdout)
}

/// team → (direct, shared, unattributed share, total), as printed.
fn lines(v: &serde_json::Value) -> std::collections::BTreeMap<String, [String; 4]> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let m = |k: &str| r[k].to_string();
            (
                r["team"].as_str().unwrap().to_string(),
                [
                    m("direct"),
                    m("shared"),
                    m("unattributed_share"),
                    m("total"),
                ],
            )
        })
        .collect()
}

fn row(d: &str, s: &str, u: &str, t: &str) -> [String; 4] {
    [d.into(), s.into(), u.into(), t.into()]
}

fn reconciles(v: &serde_json::Value) {
    let r = &v["reconciliation"];
    assert_eq!(r["reconciles"], true, "{r}");
    assert_eq!(r["expected_total_exact"], "274");
    assert_eq!(r["report_total_exact"], "274");
    assert_eq!(v["totals"][0]["total"].to_string(), "274.00");
}

#[test]
fn proportional_pool_separate_unattributed() {
    let (_d, v) = month(&format!("{BASE}{}", pool("proportional")));
    reconciles(&v);
    let l = lines(&v);
    assert_eq!(l["search"], row("90.00", "31.76", "0.00", "121.76"));
    assert_eq!(l["support"], row("50.00", "17.65", "0.00", "67.65"));
    assert_eq!(l["ads"], row("30.00", "10.59", "0.00", "40.59"));
    assert_eq!(l["platform"], row("0.00", "0.00", "0.00", "0.00"));
    assert_eq!(l["(unattributed)"], row("24.00", "0.00", "0.00", "24.00"));
    assert_eq!(
        l["(overhead) platform-overhead"],
        row("20.00", "0.00", "0.00", "20.00")
    );
    // Budget, variance and utilisation of a team with a budget.
    let search = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["team"] == "search")
        .unwrap();
    assert_eq!(search["budget"].to_string(), "150.00");
    assert_eq!(search["variance"].to_string(), "28.24");
}

#[test]
fn even_pool() {
    let (_d, v) = month(&format!("{BASE}{}", pool("even")));
    reconciles(&v);
    let l = lines(&v);
    assert_eq!(l["search"], row("90.00", "20.00", "0.00", "110.00"));
    assert_eq!(l["support"], row("50.00", "20.00", "0.00", "70.00"));
    assert_eq!(l["ads"], row("30.00", "20.00", "0.00", "50.00"));
}

#[test]
fn fixed_pool() {
    let (_d, v) = month(&format!("{BASE}{}", pool("fixed")));
    reconciles(&v);
    let l = lines(&v);
    assert_eq!(l["search"], row("90.00", "30.00", "0.00", "120.00"));
    assert_eq!(l["support"], row("50.00", "18.00", "0.00", "68.00"));
    assert_eq!(l["ads"], row("30.00", "12.00", "0.00", "42.00"));
}

#[test]
fn overhead_pool() {
    let (_d, v) = month(&format!("{BASE}{}", pool("overhead")));
    reconciles(&v);
    let l = lines(&v);
    assert_eq!(l["search"], row("90.00", "0.00", "0.00", "90.00"));
    assert_eq!(
        l["(overhead) embeddings"],
        row("60.00", "0.00", "0.00", "60.00")
    );
}

#[test]
fn unattributed_proportional() {
    let cfg = format!(
        "{BASE}{}\n[attribution]\nunattributed = \"proportional\"\n",
        pool("proportional")
    );
    let (_d, v) = month(&cfg);
    reconciles(&v);
    let l = lines(&v);
    assert_eq!(l["search"], row("90.00", "31.76", "12.71", "134.47"));
    assert_eq!(l["support"], row("50.00", "17.65", "7.06", "74.71"));
    assert_eq!(l["ads"], row("30.00", "10.59", "4.23", "44.82"));
    assert!(!l.contains_key("(unattributed)"));
}

#[test]
fn unattributed_charged_to_a_team() {
    let cfg = format!(
        "{BASE}{}\n[attribution]\nunattributed = \"platform\"\n",
        pool("proportional")
    );
    let (_d, v) = month(&cfg);
    reconciles(&v);
    assert_eq!(lines(&v)["platform"], row("0.00", "0.00", "24.00", "24.00"));
}

#[test]
fn explain_lists_each_allocation() {
    let (d, _) = month(&format!("{BASE}{}", pool("proportional")));
    let a = d
        .finops()
        .args([
            "chargeback",
            "--month",
            "2026-10",
            "--explain",
            "--format",
            "csv",
        ])
        .assert()
        .success();
    let text = String::from_utf8(a.get_output().stdout.clone()).unwrap();
    assert!(
        text.starts_with("team,pool,method,basis,ratio,amount\n"),
        "{text}"
    );
    assert!(
        text.contains("search,embeddings,proportional,cost,0.529412,31.76\n"),
        "{text}"
    );
    assert!(
        text.contains("ads,embeddings,proportional,cost,0.176471,10.59\n"),
        "{text}"
    );
}

#[test]
fn a_changed_rule_moves_spend_without_reingesting() {
    let cfg = format!("{BASE}{}", pool("proportional"));
    let (d, v) = month(&cfg);
    assert_eq!(lines(&v)["(unattributed)"][0], "24.00");
    // The 12.00 row of sub-account acct-3 belongs to ads.
    d.write(
        "finops.toml",
        format!(
            "{cfg}\n[[rule]]\nwhen = {{ sub_account = \"acct-3\" }}\nset = {{ team = \"ads\" }}\n"
        ),
    );
    let v = run(&d);
    reconciles(&v);
    let l = lines(&v);
    assert_eq!(l["(unattributed)"][0], "12.00");
    assert_eq!(l["ads"][0], "42.00");
    // The pool now splits by 90:50:42.
    assert_eq!(l["ads"][1], "13.85");
}

#[test]
fn focus_sample_reconciles_to_its_invoice_month() {
    // Σ BilledCost of billing period 2024-09 (Python Decimal): 20.28022672899; the rows of
    // period 2024-10 (0.24) are not September's, although their charges are dated September.
    let d = Dir::new();
    d.write(
        "finops.toml",
        "[attribution]\ntag_keys = { team = [\"business_unit\"], feature = [\"application\"] }\n",
    );
    d.ingest(fixture("focus-sample-data/focus_sample.csv"));
    let a = d
        .finops()
        .args(["chargeback", "--month", "2024-09", "--format", "json"])
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(
        v["reconciliation"]["expected_total_exact"],
        "20.28022672899"
    );
    assert_eq!(v["reconciliation"]["reconciles"], true);
    assert_eq!(v["totals"][0]["total"].to_string(), "20.28");
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["team"] == "(unattributed)"));
    assert!(rows.iter().any(|r| r["team"] == "PeoriaData"));
    // CSV: a header and one numeric row per team, ready for a spreadsheet.
    let c = d
        .finops()
        .args(["chargeback", "--month", "2024-09", "--format", "csv"])
        .assert()
        .success();
    let mut r = csv::Reader::from_reader(&c.get_output().stdout[..]);
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "team",
            "budget",
            "direct",
            "shared",
            "unattributed_share",
            "total",
            "variance",
            "utilisation"
        ]
    );
    let mut sum = 0i64;
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[0] != "total" {
            sum += (rec[5].parse::<f64>().unwrap() * 100.0).round() as i64;
        }
    }
    assert_eq!(sum, 2028, "printed rows add up to the printed total");
}

#[test]
fn bad_month_and_mixed_currencies() {
    let d = Dir::new();
    let a = d
        .finops()
        .args(["chargeback", "--month", "Oct"])
        .assert()
        .code(2);
    assert!(stderr(&a).contains("YYYY-MM"));
    d.write(
        "mixed.csv",
        "BilledCost,BillingCurrency,BillingPeriodStart,ChargePeriodStart,ProviderName\n1,USD,2026-10-01,2026-10-01,AWS\n2,EUR,2026-10-01,2026-10-01,AWS\n",
    );
    d.finops().args(["ingest", "mixed.csv"]).assert().success();
    d.write("finops.toml", "currency = \"USD\"\n");
    let a = d
        .finops()
        .args(["chargeback", "--month", "2026-10"])
        .assert()
        .code(2);
    assert!(
        stderr(&a).contains("amounts in EUR besides USD"),
        "{}",
        stderr(&a)
    );
    d.write(
        "finops.toml",
        "currency = \"USD\"\n[fx.\"2026-10\"]\nEUR = 1.10\n",
    );
    let a = d
        .finops()
        .args(["chargeback", "--month", "2026-10", "--format", "json"])
        .assert()
        .success();
    // 1 + 2 × 1.10
    assert_eq!(
        json(&a.get_output().stdout)["reconciliation"]["expected_total_exact"],
        "3.2"
    );
}

#[test]
fn untagged_lists_what_has_no_team_largest_first() {
    // With the demo config (its rule gives sub-account acct-3 to ads), what is left without
    // a team: the 8.00 tax row (acct-1) and the 4.00 charge of acct-9.
    let v = with_demo_config(&["untagged", "--month", "2026-10", "--format", "json"]);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["account"].as_str(), rows[0]["cost"].to_string()),
        (Some("acct-1"), "8.00".into())
    );
    assert_eq!(
        (rows[1]["account"].as_str(), rows[1]["cost"].to_string()),
        (Some("acct-9"), "4.00".into())
    );
    assert_eq!(v["totals"][0]["cost"].to_string(), "12.00");
    // 12 / 274
    assert_eq!(v["totals"][0]["share"].to_string(), "0.043796");
    assert_eq!(v["reconciliation"]["reconciles"], true);
}

#[test]
fn showback_by_team_keeps_pools_and_unattributed_as_lines() {
    let v = with_demo_config(&["showback", "--month", "2026-10", "--format", "json"]);
    let spend: std::collections::BTreeMap<String, String> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["team"].as_str().unwrap().to_string(),
                r["spend"].to_string(),
            )
        })
        .collect();
    assert_eq!(spend["search"], "90.00");
    assert_eq!(spend["(shared) embeddings"], "60.00");
    assert_eq!(spend["support"], "50.00");
    assert_eq!(spend["ads"], "42.00");
    assert_eq!(spend["(shared) platform-overhead"], "20.00");
    assert_eq!(spend["(unattributed)"], "12.00");
    assert_eq!(v["totals"][0]["spend"].to_string(), "274.00");
    assert_eq!(v["reconciliation"]["reconciles"], true);
    // Largest first.
    assert_eq!(v["rows"][0]["team"], "search");
}

#[test]
fn showback_of_request_logs_has_requests_cost_per_request_and_change() {
    // fixtures/usage-log (README there): search 0.027142 over 3 requests, ads 0.023445 over
    // 2, support 0.0125 + 0.00775 − 0.0125 = 0.00775 over 3. No bill: the logs carry the money.
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    let a = d
        .finops()
        .args(["showback", "--month", "2026-10", "--format", "csv"])
        .assert()
        .success();
    let text = String::from_utf8(a.get_output().stdout.clone()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("team,spend,requests,cost_per_request,previous_spend,change,trend")
    );
    // 0.027142 / 3 = 0.009047333…
    assert_eq!(lines.next(), Some("search,0.03,3,0.009047,0.00,,▁▁▁▁▁█"));
    // 0.023445 / 2 = 0.0117225, half away from zero at 6 places
    assert_eq!(lines.next(), Some("ads,0.02,2,0.011723,0.00,,▁▁▁▁▁█"));
    assert_eq!(lines.next(), Some("support,0.01,3,0.002583,0.00,,▁▁▁▁▁█"));
    // 0.058337 / 8
    assert_eq!(lines.next(), Some("total,0.06,8,0.007292,0.00,,▁▁▁▁▁█"));
    // A second month: the change is against October.
    d.write(
        "nov.csv",
        "timestamp,provider,model,request_id,cost,tag:team\n2026-11-02T10:00:00Z,openai,gpt-4o,n1,0.054284,search\n",
    );
    d.ingest(d.path().join("nov.csv"));
    let a = d
        .finops()
        .args([
            "showback",
            "--month",
            "2026-11",
            "--by",
            "team,provider",
            "--format",
            "json",
        ])
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    let search = &v["rows"][0];
    assert_eq!(
        (search["team"].as_str(), search["provider"].as_str()),
        (Some("search"), Some("openai"))
    );
    // The change is against the same key (search, openai) in October: 0.00325 + 0.000192 =
    // 0.003442; (0.054284 − 0.003442) / 0.003442 = 14.771063…
    assert_eq!(search["previous_spend"].to_string(), "0.00");
    assert_eq!(search["change"].to_string(), "14.771063");
}

#[test]
fn request_logs_attribute_the_bill_of_their_provider_and_day() {
    // SPEC §4.4. The bill: OpenAI 10.00 on 2026-10-03 and 6.00 on 2026-10-04, untagged;
    // Anthropic 4.00 tagged ads. The logs of 2026-10-03 (OpenAI): search 0.03, support 0.01.
    // So 10.00 splits 3:1 = 7.50 / 2.50; the 6.00 of a day without logs stays unattributed;
    // the logs' own 0.04 is not money (the bill carries it). Billed total 20.00.
    let d = Dir::new();
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
    let a = d
        .finops()
        .args(["chargeback", "--month", "2026-10", "--format", "json"])
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    let l = lines(&v);
    assert_eq!(l["search"][0], "7.50");
    assert_eq!(l["support"][0], "2.50");
    assert_eq!(l["ads"][0], "4.00");
    assert_eq!(l["(unattributed)"][0], "6.00");
    assert_eq!(v["reconciliation"]["expected_total_exact"], "20");
    assert_eq!(v["reconciliation"]["reconciles"], true);
    let note = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .find(|n| n.contains("attributed"))
        .unwrap();
    assert!(
        note.contains("attributed 10.00 USD of the bill (50.0%)"),
        "{note}"
    );
}

#[test]
fn pools_split_by_requests_and_tokens() {
    // Request logs only (they carry the money). Direct: search 3 requests / 300 tokens,
    // support 1 request / 900 tokens. Pool (feature = shared): 8.00.
    // By requests 3:1 → 6.00 / 2.00; by tokens 300:900 → 2.00 / 6.00.
    let d = Dir::new();
    d.write(
        "log.csv",
        "timestamp,provider,model,request_id,input_tokens,output_tokens,cost,tag:team,tag:feature\n\
         2026-10-03T09:00:00Z,openai,gpt-4o,r1,50,50,1.00,search,a\n\
         2026-10-03T09:01:00Z,openai,gpt-4o,r2,50,50,1.00,search,a\n\
         2026-10-03T09:02:00Z,openai,gpt-4o,r3,50,50,1.00,search,a\n\
         2026-10-03T09:03:00Z,openai,gpt-4o,r4,450,450,1.00,support,b\n\
         2026-10-03T09:04:00Z,openai,gpt-4o,r5,10,10,8.00,,shared\n",
    );
    d.finops().args(["ingest", "log.csv"]).assert().success();
    for (basis, search, support) in [("requests", "6.00", "2.00"), ("tokens", "2.00", "6.00")] {
        d.write(
            "finops.toml",
            format!("[[shared]]\nname = \"p\"\nwhen = {{ tags.feature = \"shared\" }}\nmethod = \"proportional\"\nbasis = \"{basis}\"\n"),
        );
        let v = run(&d);
        let l = lines(&v);
        assert_eq!(
            (l["search"][1].as_str(), l["support"][1].as_str()),
            (search, support),
            "{basis}"
        );
        assert_eq!(v["reconciliation"]["expected_total_exact"], "12");
    }
}

/// The fixture bill, reported with the demo config (fixtures/chargeback/finops.toml).
fn with_demo_config(args: &[&str]) -> serde_json::Value {
    let d = Dir::new();
    d.ingest(fixture("chargeback/bill-2026-10.csv"));
    let a = d
        .finops()
        .arg("--config")
        .arg(fixture("chargeback/finops.toml"))
        .args(args)
        .assert()
        .success();
    json(&a.get_output().stdout)
}

#[test]
fn an_openai_costs_bill_is_split_by_litellm_logs_to_the_cent() {
    // SPEC §4.4 across adapters: the bill is an OpenAI Costs API page (float dollars,
    // lower-case currency, a first bucket not at midnight, an empty bucket); the logs are a
    // LiteLLM spend-log CSV whose own costs run ~4% above the bill. Cells (provider, model,
    // day), computed by hand:
    //   2026-10-03 gpt-4o-2024-08-06: bill 6.10 + 3.90 = 10.00; logged search 7.80,
    //     support 2.60 (3:1) → search 7.50, support 2.50.
    //   2026-10-03 gpt-4o-mini: bill 1.00; logged search 0.26, support 0.78 (1:3)
    //     → search 0.25, support 0.75.
    //   2026-10-04 gpt-4o-2024-08-06: bill 2.00, no logs that day → unattributed.
    // So search 7.75, support 3.25, unattributed 2.00. The 3.90 is written as the float
    // 3.9000000000000004 (its shortest round-trip text, as the API prints it): the bill is
    // exactly 13.0000000000000004 and the lines round to it. The logs' 11.44 is not money.
    let d = Dir::new();
    d.write(
        "costs.json",
        r#"{"object":"page","has_more":false,"next_page":null,"data":[
 {"object":"bucket","start_time":1791000000,"end_time":1791072000,"results":[
  {"object":"organization.costs.result","amount":{"value":6.1,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, input","project_id":"proj_A","api_key_id":null,"quantity":2440000,"quantity_unit":"tokens"},
  {"object":"organization.costs.result","amount":{"value":3.9000000000000004,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, output","project_id":"proj_A","api_key_id":null,"quantity":390000,"quantity_unit":"tokens"},
  {"object":"organization.costs.result","amount":{"value":1.0,"currency":"usd"},"line_item":"gpt-4o-mini, input","project_id":"proj_A","api_key_id":null,"quantity":6666666,"quantity_unit":"tokens"}]},
 {"object":"bucket","start_time":1791072000,"end_time":1791158400,"results":[
  {"object":"organization.costs.result","amount":{"value":2,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, input","project_id":"proj_A","api_key_id":null,"quantity":800000,"quantity_unit":"tokens"}]},
 {"object":"bucket","start_time":1791158400,"end_time":1791244800,"results":[]}]}"#,
    );
    d.write(
        "spend.csv",
        "request_id,spend,startTime,model,custom_llm_provider,request_tags,status\n\
         r1,5.2,2026-10-03 09:00:00.000,gpt-4o-2024-08-06,openai,\"[\"\"team:search\"\"]\",success\n\
         r2,2.6,2026-10-03 10:00:00.000,gpt-4o-2024-08-06,openai,\"[\"\"team:search\"\"]\",success\n\
         r3,2.6,2026-10-03 11:00:00.000,gpt-4o-2024-08-06,openai,\"[\"\"team:support\"\"]\",success\n\
         r4,0.26,2026-10-03 12:00:00.000,gpt-4o-mini,openai,\"[\"\"team:search\"\"]\",success\n\
         r5,0.78,2026-10-03 13:00:00.000,gpt-4o-mini,openai,\"[\"\"team:support\"\"]\",success\n",
    );
    let a = d
        .finops()
        .args(["ingest", "costs.json", "spend.csv", "--format", "json"])
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    let formats: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["format"].as_str())
        .collect();
    assert_eq!(formats, ["openai-costs", "litellm"]);
    let a = d
        .finops()
        .args(["chargeback", "--month", "2026-10", "--format", "json"])
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    let l = lines(&v);
    assert_eq!(l["search"][0], "7.75");
    assert_eq!(l["support"][0], "3.25");
    assert_eq!(l["(unattributed)"][0], "2.00");
    assert_eq!(
        v["reconciliation"]["expected_total_exact"],
        "13.0000000000000004"
    );
    assert_eq!(v["reconciliation"]["reconciles"], true);
}
