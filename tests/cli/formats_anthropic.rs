//! Anthropic cost and usage reports and Console CSVs (docs/formats/anthropic.md) against
//! the independent answers of fixtures/anthropic/expected.json (Python decimal, check.py).

use crate::formats_openai::{check_by_row, expected, ingest_checked, stored, Stored};
use crate::util::{atto, fixture, stderr, Dir};

fn ids(rows: &[Stored]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| r.record_id.clone()).collect();
    v.sort();
    v
}

#[test]
fn anthropic_cost_report_cents_become_dollars_exactly() {
    let file = "cost_report_2026-10.json";
    let (_d, rows, _) = ingest_checked("anthropic", file, None);
    let (_d2, forced, _) = ingest_checked("anthropic", file, Some("anthropic-cost"));
    assert_eq!(ids(&rows), ids(&forced));
    let sku = |s: &str| rows.iter().find(|r| r.sku.as_deref() == Some(s)).unwrap();
    // "123.45" (cents) is $1.2345, "0.375" is $0.00375, "12.3456789" is $0.123456789.
    assert_eq!(
        sku("cache_creation.ephemeral_5m_input_tokens").cost,
        atto("1.2345")
    );
    assert_eq!(
        sku("cache_creation.ephemeral_1h_input_tokens").cost,
        atto("0.00375")
    );
    assert_eq!(sku("code_execution").cost, atto("0.123456789"));
    assert_eq!(sku("web_search").model, None);
    // By cost type (the independent answer).
    let want = &expected("anthropic")[file]["cost_by_cost_type"];
    for (t, v) in want.as_object().unwrap() {
        let got: i128 = rows
            .iter()
            .filter(|r| {
                r.tags
                    .as_deref()
                    .unwrap_or("")
                    .contains(&format!("\"cost_type\":\"{t}\""))
            })
            .map(|r| r.cost)
            .sum();
        assert_eq!(got, atto(v.as_str().unwrap()), "{t}");
    }
    for r in &rows {
        assert_eq!(r.currency, "USD");
        assert_eq!(r.billing_period.as_deref(), Some("2026-10"));
        assert_eq!(r.charge_end - r.charge_start, 86_400_000_000);
        assert_eq!(r.input, None);
    }
    let out = sku("output_tokens");
    assert!(rows
        .iter()
        .any(|r| r.workspace_id.as_deref() == Some("wrkspc_01Team")));
    assert!(out
        .description
        .as_deref()
        .unwrap()
        .contains("Output Tokens"));
    let opus = rows
        .iter()
        .find(|r| {
            r.model.as_deref() == Some("claude-opus-4-6")
                && r.sku.as_deref() == Some("output_tokens")
        })
        .unwrap();
    assert_eq!(
        opus.tags.as_deref(),
        Some(
            r#"{"context_window":"200k-1M","cost_type":"tokens","inference_geo":"us","service_tier":"standard"}"#
        )
    );
}

#[test]
fn anthropic_console_cost_csv_is_in_dollars_with_model_ids() {
    let file = "claude_api_cost_2026-10.csv";
    let (_d, rows, _) = ingest_checked("anthropic", file, None);
    let (_d2, forced, _) = ingest_checked("anthropic", file, Some("anthropic-cost"));
    assert_eq!(ids(&rows), ids(&forced));
    let list: i128 = rows.iter().filter_map(|r| r.list_cost).sum();
    assert_eq!(
        list,
        atto(
            expected("anthropic")[file]["list_total"]["USD"]
                .as_str()
                .unwrap()
        )
    );
    let haiku = rows
        .iter()
        .find(|r| {
            r.model.as_deref() == Some("claude-haiku-4-5") && r.sku.as_deref() == Some("output")
        })
        .unwrap();
    assert_eq!(haiku.description.as_deref(), Some("Claude Haiku 4.5"));
    assert_eq!(haiku.api_key_id.as_deref(), Some("apikey_01BBB"));
    assert_eq!(
        haiku.tags.as_deref(),
        Some(
            r#"{"api_key":"batch-jobs","api_key_status":"active","context_window":"0-200k","cost_type":"token","inference_geo":"not_available","usage_type":"message","workspace":"Research"}"#
        )
    );
}

#[test]
fn anthropic_usage_report_and_console_usage_are_priced_as_the_independent_answers() {
    for file in [
        "usage_report_messages_2026-10.json",
        "claude_api_usage_2026-10.csv",
    ] {
        let (_d, rows, err) = ingest_checked("anthropic", file, None);
        check_by_row("anthropic", file, &rows);
        assert!(
            err.contains("4 rows had no cost and were priced from their tokens"),
            "{err}"
        );
        for r in &rows {
            // input = uncached + cache read + 5m + 1h writes; no request count.
            assert!(r.input.unwrap() >= r.cached.unwrap() + r.cache_write.unwrap());
            assert_eq!(r.requests, None);
        }
        let (_d2, forced, _) = ingest_checked("anthropic", file, Some("anthropic-usage"));
        assert_eq!(ids(&rows), ids(&forced));
    }
    // The API reference's example row: 1500 + 200 + 500 + 1000 = 3200 input.
    let (_d, rows, _) = ingest_checked("anthropic", "usage_report_messages_2026-10.json", None);
    let ex = rows.iter().find(|r| r.input == Some(3200)).unwrap();
    assert_eq!(
        (ex.cached, ex.cache_write, ex.output),
        (Some(200), Some(1500), Some(500))
    );
    assert_eq!(
        ex.workspace_id.as_deref(),
        Some("wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ")
    );
    assert_eq!(
        ex.tags.as_deref(),
        Some(r#"{"context_window":"0-200k","service_tier":"standard","web_search_requests":"10"}"#)
    );
    // Console: key and workspace are names, kept as tags; ≤ 200k is the API's 0-200k.
    let (_d, rows, _) = ingest_checked("anthropic", "claude_api_usage_2026-10.csv", None);
    let r = rows.iter().find(|r| r.input == Some(3200)).unwrap();
    assert_eq!(
        (r.api_key_id.as_deref(), r.workspace_id.as_deref()),
        (None, None)
    );
    assert_eq!(
        r.tags.as_deref(),
        Some(
            r#"{"api_key":"prod-search","context_window":"0-200k","inference_geo":"not_available","usage_type":"message","web_search_requests":"10","workspace":"Default"}"#
        )
    );
}

#[test]
fn anthropic_usage_row_of_an_unknown_model_is_rejected_with_its_tokens() {
    let d = Dir::new();
    let a = d
        .finops()
        .arg("ingest")
        .arg(fixture("anthropic/usage_report_unknown_model.json"))
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(
        err.contains("column \"model\": no cost, and the price table has no model \"claude-imaginary-9\" (input 1850, cached 200, cache-write 150, output 75 tokens)"),
        "{err}"
    );
    assert!(
        err.contains("ingest the cost report (anthropic-cost) for the money"),
        "{err}"
    );
    // With --skip-invalid the row goes to the rejects file: nothing is priced at zero.
    let a = d
        .finops()
        .args(["ingest", "--skip-invalid"])
        .arg(fixture("anthropic/usage_report_unknown_model.json"))
        .assert()
        .code(2);
    assert!(
        stderr(&a).contains("no valid rows: all 1 rows were rejected"),
        "{}",
        stderr(&a)
    );
    assert!(!d.path().join(".finops/manifest.json").exists() || stored(&d).is_empty());
}

#[test]
fn anthropic_missing_columns_and_bad_cells_are_named() {
    let d = Dir::new();
    // A Console cost file that lost cost_usd, named with --source.
    let p = d.write(
        "cost.csv",
        "usage_date_utc,model,workspace,token_type\n2026-10-01,Claude Sonnet 4.5,Default,output\n",
    );
    let a = d
        .finops()
        .args(["ingest", "--source", "anthropic-cost"])
        .arg(&p)
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(
        err.contains("cost.csv: line 1: an Anthropic Console cost file without cost_usd"),
        "{err}"
    );
    // A cost report row whose amount is not a decimal string of cents.
    let p = d.write(
        "report.json",
        r#"{"data":[{"starting_at":"2026-10-01T00:00:00Z","ending_at":"2026-10-02T00:00:00Z","results":[
            {"currency":"USD","amount":"1,23","workspace_id":null,"description":"x","cost_type":"tokens","model":"m","token_type":"output_tokens"}]}],"has_more":false}"#,
    );
    let a = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&a);
    assert!(
        err.contains("report.json: line 1, column \"amount\": \"1,23\""),
        "{err}"
    );
    assert!(err.contains("a decimal string in cents"), "{err}");
    // A usage report with a negative token count.
    let p = d.write(
        "usage.json",
        r#"{"data":[{"starting_at":"2026-10-01T00:00:00Z","ending_at":"2026-10-02T00:00:00Z","results":[
            {"model":"claude-sonnet-4-5","uncached_input_tokens":-1,"cache_read_input_tokens":0,"output_tokens":3}]}],"has_more":false}"#,
    );
    let a = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&a);
    assert!(
        err.contains("column \"uncached_input_tokens\": \"-1\" is negative"),
        "{err}"
    );
    // A usage report row without a bucket start, forced.
    let p = d.write(
        "nostart.jsonl",
        r#"{"model":"claude-sonnet-4-5","uncached_input_tokens":1,"output_tokens":3}"#,
    );
    let a = d
        .finops()
        .args(["ingest", "--source", "anthropic-usage"])
        .arg(&p)
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(err.contains("the row has no starting_at"), "{err}");
}
