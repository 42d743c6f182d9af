//! The GCP billing export (`gcp-billing`, docs/formats/gcp.md) through the CLI, checked
//! against fixtures/gcp/expected.json (computed by fixtures/gcp/check.py, not by finops).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::store_table::{expected, int, sum, table, tags, text, token_sums, StoreRow};
use crate::util::{fixture, stderr, Dir};

/// `finops ingest FILE [--source S] --format json`: the summary's rows.
fn ingest(d: &Dir, file: &str, source: Option<&str>) -> Vec<Value> {
    let mut c = d.finops();
    c.arg("ingest")
        .arg(fixture(file))
        .args(["--format", "json"]);
    if let Some(s) = source {
        c.args(["--source", s]);
    }
    let out = c.assert().success();
    let v = crate::util::json(&out.get_output().stdout);
    v["rows"].as_array().unwrap().clone()
}

/// The same summary check.py computes, from the store.
fn summary(rows: &[StoreRow]) -> Value {
    let mut totals: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut lists: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut periods: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut cats: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut models: BTreeMap<String, Vec<&StoreRow>> = BTreeMap::new();
    for r in rows {
        let cur = text(r, "currency").to_string();
        totals.entry(cur.clone()).or_default().push(text(r, "cost"));
        lists
            .entry(cur.clone())
            .or_default()
            .push(text(r, "list_cost"));
        periods
            .entry(format!("{} {cur}", text(r, "billing_period")))
            .or_default()
            .push(text(r, "cost"));
        cats.entry(format!("{} {cur}", text(r, "charge_category")))
            .or_default()
            .push(text(r, "cost"));
        let has_tokens = ["input_tokens", "output_tokens"]
            .iter()
            .any(|c| !r[*c].is_null());
        if !text(r, "model").is_empty() || has_tokens {
            models
                .entry(text(r, "model").to_string())
                .or_default()
                .push(r);
        }
    }
    let sums = |m: BTreeMap<String, Vec<&str>>| -> Value {
        m.into_iter()
            .map(|(k, v)| (k, Value::String(sum(v))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    json!({
        "rows": rows.len(),
        "totals": sums(totals),
        "list_totals": sums(lists),
        "by_period": sums(periods),
        "by_category": sums(cats),
        "tokens": token_sums(rows),
        "model_tokens": models.into_iter().map(|(m, rs)| (m, token_sums(rs))).collect::<serde_json::Map<_, _>>(),
    })
}

fn gcp_rows(d: &Dir) -> Vec<StoreRow> {
    let rows = table(d);
    for r in &rows {
        assert_eq!(text(r, "source_format"), "gcp-billing");
        assert_eq!(text(r, "kind"), "bill");
        assert_eq!(text(r, "provider"), "gcp");
    }
    rows
}

#[test]
fn formats_gcp_ndjson_matches_the_independent_answers() {
    let d = Dir::new();
    let out = ingest(&d, "gcp/billing-2025-06.jsonl", None);
    assert!(out.iter().all(|r| r["format"] == "gcp-billing"));
    let rows = gcp_rows(&d);
    let exp = expected("gcp");
    assert_eq!(summary(&rows), exp["billing-2025-06.jsonl"]);

    // Tags: resource labels over project labels, empty values kept, system labels and
    // Resource Manager tags under their own keys.
    let find = |sku: &str, list: &str| -> &StoreRow {
        rows.iter()
            .find(|r| text(r, "description") == sku && text(r, "list_cost") == list)
            .unwrap_or_else(|| panic!("no row {sku} {list}"))
    };
    let first = find("Gemini 2.5 Pro Input Text Tokens", "3.125");
    assert_eq!(tags(first), exp["row_tags"]["billing-2025-06.jsonl#1"]);
    assert_eq!(tags(first)["team"], "search");
    let second = find("Gemini 2.5 Pro Output Text Tokens", "4");
    assert_eq!(tags(second), exp["row_tags"]["billing-2025-06.jsonl#2"]);
    // Credits net the cost; the gross is the list cost; the project is the sub-account.
    assert_eq!(text(second, "cost"), "0");
    assert_eq!(text(second, "effective_cost"), "0");
    assert_eq!(text(second, "sku"), "A1B2-0001-0002");
    assert_eq!(text(second, "service"), "Vertex AI");
    assert_eq!(text(second, "project_id"), "search-prod");
    assert_eq!(text(second, "sub_account"), "search-prod");
    assert_eq!(text(second, "billing_account"), "012345-6789AB-CDEF01");
    assert_eq!(text(second, "region"), "us-central1");
    // Usage of 31 May on the June invoice.
    let late = rows
        .iter()
        .find(|r| text(r, "cost") == "0.03")
        .expect("the late row");
    assert_eq!(text(late, "billing_period"), "2025-06");
    assert_eq!(int(late, "charge_start"), 1_748_732_400_000_000);
    // A non-US location without a region: the location.
    let gcs = find("Standard Storage US Multi-region", "0.0123");
    assert_eq!(text(gcs, "region"), "us");
    assert_eq!(text(gcs, "model"), "");
    assert!(gcs["input_tokens"].is_null());

    // Every row's model and tokens, as a multiset.
    let mut got: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut t = serde_json::Map::new();
            // Keys in the sorted order of expected.json.
            for (k, c) in [
                ("cache_write", "cache_write_tokens"),
                ("cached", "cached_input_tokens"),
                ("input", "input_tokens"),
                ("output", "output_tokens"),
            ] {
                if !r[c].is_null() {
                    t.insert(k.into(), r[c].clone());
                }
            }
            json!([text(r, "model"), t])
        })
        .collect();
    let mut want: Vec<Value> = exp["row_models"]
        .as_object()
        .unwrap()
        .values()
        .cloned()
        .collect();
    let key = |v: &Value| v.to_string();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
    assert!(stderr_of_reingest(&d).contains("nothing changed"));
}

fn stderr_of_reingest(d: &Dir) -> String {
    let a = d
        .finops()
        .arg("ingest")
        .arg(fixture("gcp/billing-2025-06.jsonl"))
        .assert()
        .success();
    stderr(&a)
}

#[test]
fn formats_gcp_csv_has_the_ndjson_ids() {
    let d = Dir::new();
    ingest(&d, "gcp/billing-2025-06.jsonl", None);
    let ids: Vec<String> = {
        let mut v: Vec<String> = table(&d)
            .iter()
            .map(|r| text(r, "record_id").to_string())
            .collect();
        v.sort();
        v
    };
    // BOM + CRLF, dotted names, arrays as JSON text, `... UTC` times: the same rows.
    let out = ingest(&d, "gcp/billing-2025-06.csv", Some("gcp-billing"));
    let replaced: i64 = out
        .iter()
        .map(|r| r["replaced"].as_i64().unwrap_or(0))
        .sum();
    let rows_in: i64 = out.iter().map(|r| r["rows"].as_i64().unwrap()).sum();
    assert_eq!((rows_in, replaced), (18, 18));
    let rows = gcp_rows(&d);
    let mut after: Vec<String> = rows
        .iter()
        .map(|r| text(r, "record_id").to_string())
        .collect();
    after.sort();
    assert_eq!(after, ids);
    assert_eq!(summary(&rows), expected("gcp")["billing-2025-06.csv"]);
}

#[test]
fn formats_gcp_flat_csv_matches_the_independent_answers() {
    let d = Dir::new();
    let out = ingest(&d, "gcp/billing-2025-07-flat.csv", None);
    assert_eq!(out[0]["format"], "gcp-billing");
    let rows = gcp_rows(&d);
    let exp = expected("gcp");
    assert_eq!(summary(&rows), exp["billing-2025-07-flat.csv"]);
    let r = rows
        .iter()
        .find(|r| text(r, "description") == "Gemini 2.5 Flash Text Output - Predictions")
        .unwrap();
    assert_eq!(tags(r), exp["row_tags"]["billing-2025-07-flat.csv#4"]);
    assert!(rows.iter().all(|r| text(r, "currency") == "USD"));
}

#[test]
fn formats_gcp_reexport_replaces_its_rows() {
    let d = Dir::new();
    ingest(&d, "gcp/billing-2025-06.jsonl", None);
    let out = ingest(&d, "gcp/billing-2025-06-reexport.jsonl", None);
    assert_eq!(out[0]["replaced"], 2);
    let rows = gcp_rows(&d);
    let exp = &expected("gcp")["after billing-2025-06.jsonl then billing-2025-06-reexport.jsonl"];
    let mut want = exp.clone();
    want.as_object_mut().unwrap().remove("replaced");
    assert_eq!(summary(&rows), want);
}

fn fails(d: &Dir, args: &[&str]) -> String {
    let a = d.finops().arg("ingest").args(args).assert().failure();
    stderr(&a)
}

/// One NDJSON row of the June file with `from` replaced by `to`.
fn edited_row(n: usize, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(fixture("gcp/billing-2025-06.jsonl")).unwrap();
    let line = text.lines().nth(n).unwrap();
    assert!(line.contains(from), "{from}");
    line.replace(from, to) + "\n"
}

#[test]
fn formats_gcp_errors_name_the_file_the_place_and_the_fix() {
    let d = Dir::new();
    // Unknown shape: the closest format and what it lacks.
    d.write(
        "no-cost.csv",
        "billing_account_id,sku.description,usage_start_time,currency\nA,Tax,2025-06-01,USD\n",
    );
    let e = fails(&d, &["no-cost.csv"]);
    assert!(e.contains("no-cost.csv"), "{e}");
    assert!(e.contains("closest known format: gcp-billing"), "{e}");
    assert!(e.contains("which needs cost"), "{e}");
    // Forced, the missing required column is named.
    let e = fails(&d, &["no-cost.csv", "--source", "gcp-billing"]);
    assert!(e.contains("without the column(s) cost"), "{e}");
    assert!(e.contains("docs/formats/gcp.md"), "{e}");

    // One bad cell of each kind: the line, the field, the value, the fix.
    for (name, content, column, value, fix) in [
        (
            "cost-type.jsonl",
            edited_row(0, "\"cost_type\":\"regular\"", "\"cost_type\":\"refund\""),
            "cost_type",
            "\"refund\"",
            "regular, tax, adjustment, rounding error",
        ),
        (
            "tokens.jsonl",
            edited_row(0, "\"amount\":2500000.0", "\"amount\":2.5"),
            "usage.amount",
            "\"2.5\"",
            "count of tokens",
        ),
        (
            "credit.jsonl",
            edited_row(1, "\"amount\":-4.0", "\"amount\":\"four\""),
            "credits",
            "\"four\"",
            "decimal",
        ),
        (
            "time.jsonl",
            edited_row(
                0,
                "\"usage_start_time\":\"2025-06-03T10:00:00Z\"",
                "\"usage_start_time\":\"03.06.2025 10h\"",
            ),
            "usage_start_time",
            "03.06.2025 10h",
            "ISO 8601",
        ),
        (
            "currency.jsonl",
            edited_row(0, "\"currency\":\"USD\"", "\"currency\":\"US Dollar\""),
            "currency",
            "US Dollar",
            "ISO 4217",
        ),
        (
            "month.jsonl",
            edited_row(0, "\"month\":\"202506\"", "\"month\":\"June\""),
            "invoice.month",
            "June",
            "YYYYMM",
        ),
        (
            "labels.jsonl",
            edited_row(
                0,
                "\"labels\":[{\"key\":\"team\"",
                "\"labels\":[{\"k\":\"team\"",
            ),
            "labels",
            "a label without a text key",
            "{\"key\"",
        ),
        (
            "cost.jsonl",
            edited_row(0, "\"cost\":3.125", "\"cost\":\"3,125\""),
            "cost",
            "3,125",
            "",
        ),
    ] {
        d.write(name, content);
        let e = fails(&d, &[name]);
        assert!(e.contains(&format!("{name}: line 1")), "{name}: {e}");
        assert!(e.contains(&format!("column \"{column}\"")), "{name}: {e}");
        assert!(e.contains(value), "{name}: {e}");
        assert!(e.contains(fix), "{name}: {e}");
        assert!(e.contains("fix:"), "{name}: {e}");
    }

    // --skip-invalid keeps the good rows and writes the bad one to the rejects file.
    let mut text = std::fs::read_to_string(fixture("gcp/billing-2025-06.jsonl")).unwrap();
    text.push_str(&edited_row(
        0,
        "\"cost_type\":\"regular\"",
        "\"cost_type\":\"refund\"",
    ));
    d.write("mixed.jsonl", text);
    let a = d
        .finops()
        .args(["ingest", "mixed.jsonl", "--skip-invalid"])
        .assert();
    let e = stderr(&a);
    assert!(e.contains("rejects"), "{e}");
    assert_eq!(gcp_rows(&d).len(), 18);
}
