//! Gateway logs (`litellm`, `helicone`, `langfuse`; docs/formats/gateways.md) through the
//! CLI, checked against fixtures/<gateway>/expected.json (computed by their check.py, not by
//! finops).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::store_table::{expected, int, sum, table, tags, text, token_sums, StoreRow};
use crate::util::{fixture, stderr, Dir};

/// `finops ingest FILE [--source S] --format json`: (summary rows, stderr).
fn ingest(d: &Dir, file: &str, source: Option<&str>) -> (Vec<Value>, String) {
    let mut c = d.finops();
    c.arg("ingest")
        .arg(fixture(file))
        .args(["--format", "json"]);
    if let Some(s) = source {
        c.args(["--source", s]);
    }
    let out = c.assert().success();
    let v = crate::util::json(&out.get_output().stdout);
    (v["rows"].as_array().unwrap().clone(), stderr(&out))
}

fn rows_of(d: &Dir, format: &str) -> Vec<StoreRow> {
    let rows = table(d);
    for r in &rows {
        assert_eq!(text(r, "source_format"), format);
        assert_eq!(text(r, "kind"), "usage");
        assert_eq!(int(r, "requests"), 1);
        assert_eq!(text(r, "currency"), "USD");
        assert!(int(r, "charge_end") >= int(r, "charge_start"));
    }
    rows
}

/// What check.py summarises, from the store.
fn summary(rows: &[StoreRow]) -> Value {
    let mut sessions: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for r in rows {
        if !text(r, "session_id").is_empty() {
            sessions
                .entry(text(r, "session_id").to_string())
                .or_default()
                .push(text(r, "cost"));
        }
    }
    json!({
        "rows": rows.len(),
        "totals": {"USD": sum(rows.iter().map(|r| text(r, "cost")))},
        "priced": rows.iter().filter(|r| r["cost_is_estimate"] == true).count(),
        "tokens": token_sums(rows),
        "sessions": sessions.into_iter().map(|(k, v)| (k, Value::String(sum(v)))).collect::<serde_json::Map<_, _>>(),
    })
}

/// Keeps the keys of `exp` that `got` has (each check.py adds a few of its own).
fn same_keys(mut exp: Value, got: &Value) -> Value {
    exp.as_object_mut()
        .unwrap()
        .retain(|k, _| got.get(k).is_some());
    exp
}

/// Every request of the store against expected.json's `rows` (by request id).
fn check_rows(rows: &[StoreRow], exp: &Value) {
    let want = exp["rows"].as_object().unwrap();
    for r in rows {
        let id = text(r, "request_id");
        let Some(w) = want.get(id) else { continue };
        let got = json!({
            "cost": text(r, "cost"),
            "estimate": r["cost_is_estimate"],
            "tokens": token_sums([r]),
            "tags": tags(r),
            "provider": text(r, "provider"),
            "session": text(r, "session_id"),
            "user": text(r, "user_id"),
            "model": text(r, "model"),
        });
        assert_eq!(got_only(&got, w), *w, "request {id}");
    }
}

fn got_only(got: &Value, want: &Value) -> Value {
    let mut g = got.clone();
    g.as_object_mut()
        .unwrap()
        .retain(|k, _| want.get(k).is_some());
    g
}

fn fails(d: &Dir, args: &[&str]) -> String {
    let a = d.finops().arg("ingest").args(args).assert().failure();
    stderr(&a)
}

fn assert_names(e: &str, file: &str, column: &str, value: &str) {
    assert!(e.contains(file), "{e}");
    assert!(e.contains(&format!("column \"{column}\"")), "{e}");
    assert!(e.contains(value), "{e}");
    assert!(e.contains("fix:"), "{e}");
}

// ---------------------------------------------------------------------------- LiteLLM

#[test]
fn formats_litellm_csv_matches_the_independent_answers() {
    let d = Dir::new();
    let (out, err) = ingest(&d, "litellm/spend-logs-2025-06.csv", None);
    assert_eq!(out[0]["format"], "litellm");
    assert!(err.contains("2 rows had no cost and were priced"), "{err}");
    let rows = rows_of(&d, "litellm");
    let exp = expected("litellm");
    let got = summary(&rows);
    assert_eq!(got, same_keys(exp["spend-logs-2025-06.csv"].clone(), &got));
    check_rows(&rows, &exp);

    let by_id = |id: &str| rows.iter().find(|r| text(r, "request_id") == id).unwrap();
    let failed = by_id("chatcmpl-G7h8");
    assert_eq!(text(failed, "description"), "acompletion (failure)");
    assert_eq!(text(failed, "cost"), "0.0012");
    let first = by_id("chatcmpl-A1b2");
    assert_eq!(text(first, "description"), "acompletion");
    assert_eq!(text(first, "workspace_id"), "team-search");
    assert_eq!(
        text(first, "api_key_id"),
        "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
    );
    assert_eq!(text(first, "model"), "gpt-4o-2024-08-06");
    assert_eq!(int(first, "charge_start"), 1_748_945_702_123_000);
    assert_eq!(int(first, "charge_end"), 1_748_945_704_900_000);
    assert_eq!(text(by_id("chatcmpl-V1"), "sub_account"), "org-growth");
    // `...+00` timestamptz text
    assert_eq!(
        int(by_id("chatcmpl-Z9"), "charge_start"),
        1_749_110_400_500_000
    );
}

#[test]
fn formats_litellm_json_replaces_the_csv_requests() {
    let d = Dir::new();
    ingest(&d, "litellm/spend-logs-2025-06.csv", Some("litellm"));
    let (out, _) = ingest(&d, "litellm/spend-logs-2025-06.json", None);
    assert_eq!(out[0]["format"], "litellm");
    assert_eq!(out[0]["replaced"], 3);
    let rows = rows_of(&d, "litellm");
    let exp = expected("litellm");
    let after = &exp["after spend-logs-2025-06.csv then spend-logs-2025-06.json"];
    let got = summary(&rows);
    assert_eq!(got, same_keys(after.clone(), &got));
    let mut providers: Vec<&str> = rows.iter().map(|r| text(r, "provider")).collect();
    providers.sort();
    providers.dedup();
    assert_eq!(json!(providers), after["providers"]);
    // The JSON alone, forced.
    let d = Dir::new();
    ingest(&d, "litellm/spend-logs-2025-06.json", Some("litellm"));
    let rows = rows_of(&d, "litellm");
    let got = summary(&rows);
    assert_eq!(got, same_keys(exp["spend-logs-2025-06.json"].clone(), &got));
}

const LITELLM_HEADER: &str = "request_id,call_type,spend,prompt_tokens,completion_tokens,startTime,endTime,model,custom_llm_provider,metadata,request_tags,session_id,status";

#[test]
fn formats_litellm_unknown_model_without_spend_is_rejected_naming_it() {
    let d = Dir::new();
    d.write(
        "unknown.csv",
        format!("{LITELLM_HEADER}\nr1,acompletion,,1000,400,2025-06-03 10:00:00,2025-06-03 10:00:01,acme-ft-3,openai,{{}},[],s1,success\n"),
    );
    let e = fails(&d, &["unknown.csv"]);
    assert!(e.contains("unknown.csv: line 2"), "{e}");
    assert!(e.contains("\"acme-ft-3\""), "{e}");
    assert!(e.contains("1000 input"), "{e}");
    assert!(e.contains("400 output"), "{e}");
    assert!(e.contains("give a cost"), "{e}");
    assert!(e.contains("not priced"), "{e}");
    assert!(table(&d).is_empty());
}

#[test]
fn formats_litellm_errors_name_the_file_the_place_and_the_fix() {
    let d = Dir::new();
    d.write(
        "no-spend.csv",
        "request_id,startTime,model\nr1,2025-06-03 10:00:00,gpt-4o\n",
    );
    let e = fails(&d, &["no-spend.csv"]);
    assert!(e.contains("cannot tell the format"), "{e}");
    let e = fails(&d, &["no-spend.csv", "--source", "litellm"]);
    assert!(e.contains("without the column(s) spend"), "{e}");
    for (name, row, column, value) in [
        (
            "tags.csv",
            "r1,acompletion,0.1,10,5,2025-06-03 10:00:00,,gpt-4o,openai,{},\"{\"\"team\"\":\"\"x\"\"}\",s1,success",
            "request_tags",
            "{\"team\":\"x\"}",
        ),
        (
            "time.csv",
            "r1,acompletion,0.1,10,5,yesterday,,gpt-4o,openai,{},[],s1,success",
            "startTime",
            "yesterday",
        ),
        (
            "tokens.csv",
            "r1,acompletion,0.1,-10,5,2025-06-03 10:00:00,,gpt-4o,openai,{},[],s1,success",
            "prompt_tokens",
            "-10",
        ),
        (
            "metadata.csv",
            "r1,acompletion,0.1,10,5,2025-06-03 10:00:00,,gpt-4o,openai,{not json,[],s1,success",
            "metadata",
            "{not json",
        ),
        (
            "spend.csv",
            "r1,acompletion,ten cents,10,5,2025-06-03 10:00:00,,gpt-4o,openai,{},[],s1,success",
            "spend",
            "ten cents",
        ),
    ] {
        d.write(name, format!("{LITELLM_HEADER}\n{row}\n"));
        let e = fails(&d, &[name]);
        assert_names(&e, &format!("{name}: line 2"), column, value);
    }
}

// ---------------------------------------------------------------------------- Helicone

#[test]
fn formats_helicone_csv_matches_the_independent_answers() {
    let d = Dir::new();
    let (out, err) = ingest(&d, "helicone/requests-2025-06.csv", None);
    assert_eq!(out[0]["format"], "helicone");
    assert!(err.contains("1 rows had no cost"), "{err}");
    let rows = rows_of(&d, "helicone");
    let exp = expected("helicone");
    let got = summary(&rows);
    assert_eq!(got, same_keys(exp["requests-2025-06.csv"].clone(), &got));
    check_rows(
        &rows,
        &json!({"rows": exp["rows"].as_object().unwrap().iter()
            .map(|(k, v)| { let mut v = v.clone(); v.as_object_mut().unwrap().remove("provider"); (k.clone(), v) })
            .collect::<serde_json::Map<_, _>>()}),
    );
    let failed = rows
        .iter()
        .find(|r| text(r, "request_id") == "9f1c2d3e-0004-4a5b-8c7d-000000000004")
        .unwrap();
    assert_eq!(text(failed, "description"), "status 500");
    // A model the price table lacks, with a cost: kept as logged, provider unknown.
    let own = rows
        .iter()
        .find(|r| text(r, "model") == "acme-finetune-v3")
        .unwrap();
    assert_eq!(
        (text(own, "cost"), text(own, "provider")),
        ("0.0031", "unknown")
    );
    // No provider column: the price table's provider of the model.
    let mini = rows
        .iter()
        .find(|r| text(r, "model") == "gpt-4o-mini")
        .unwrap();
    assert_eq!(text(mini, "provider"), "openai");
}

#[test]
fn formats_helicone_json_lines_and_json_share_ids() {
    let d = Dir::new();
    let (out, _) = ingest(&d, "helicone/requests-2025-06.jsonl", None);
    assert_eq!(out[0]["format"], "helicone");
    let exp = expected("helicone");
    let rows = rows_of(&d, "helicone");
    let got = summary(&rows);
    assert_eq!(got, same_keys(exp["requests-2025-06.jsonl"].clone(), &got));
    check_rows(&rows, &exp);
    let (out, _) = ingest(&d, "helicone/requests-2025-06.json", Some("helicone"));
    assert_eq!(
        (out[0]["rows"].clone(), out[0]["replaced"].clone()),
        (json!(6), json!(6))
    );
    let rows = rows_of(&d, "helicone");
    let after = &exp["after requests-2025-06.jsonl then requests-2025-06.json"];
    let got = summary(&rows);
    assert_eq!(got, same_keys(after.clone(), &got));
}

#[test]
fn formats_helicone_errors_name_the_file_the_place_and_the_fix() {
    let d = Dir::new();
    let header = "response_id,request_created_at,request_properties,model,prompt_tokens,completion_tokens,cost";
    d.write(
        "props.csv",
        format!("{header}\nr1,2025-06-03T10:00:00Z,\"[1,2]\",gpt-4o,10,5,0.1\n"),
    );
    let e = fails(&d, &["props.csv"]);
    assert_names(&e, "props.csv: line 2", "request_properties", "[1,2]");
    d.write(
        "unknown.jsonl",
        "{\"request_id\":\"x1\",\"request_created_at\":\"2025-06-03T10:00:00Z\",\"request_properties\":{},\"model\":\"acme-ft-3\",\"prompt_tokens\":1000,\"completion_tokens\":400}\n",
    );
    let e = fails(&d, &["unknown.jsonl"]);
    assert!(e.contains("unknown.jsonl: line 1"), "{e}");
    assert!(
        e.contains("\"acme-ft-3\"") && e.contains("1000 input") && e.contains("400 output"),
        "{e}"
    );
    d.write(
        "ids.csv",
        "request_created_at,model,cost\n2025-06-03,gpt-4o,1\n",
    );
    let e = fails(&d, &["ids.csv", "--source", "helicone"]);
    assert!(e.contains("request_id or response_id"), "{e}");
}

// ---------------------------------------------------------------------------- Langfuse

#[test]
fn formats_langfuse_pages_match_the_independent_answers() {
    let exp = expected("langfuse");
    for (file, source) in [
        ("observations-2025-06.json", None),
        ("observations-v2-2025-06.json", Some("langfuse")),
    ] {
        let d = Dir::new();
        let (out, err) = ingest(&d, &format!("langfuse/{file}"), source);
        assert_eq!(out[0]["format"], "langfuse");
        let skipped = exp[file]["skipped_not_generation"].as_u64().unwrap();
        assert!(
            err.contains(&format!(
                "{skipped} records skipped: Langfuse observations that are not GENERATION"
            )),
            "{err}"
        );
        let rows = rows_of(&d, "langfuse");
        let got = summary(&rows);
        assert_eq!(got, same_keys(exp[file].clone(), &got), "{file}");
        check_rows(&rows, &exp);
    }
    let d = Dir::new();
    ingest(&d, "langfuse/observations-2025-06.json", None);
    let rows = table(&d);
    let err = rows
        .iter()
        .find(|r| text(r, "request_id") == "obs_4")
        .unwrap();
    assert_eq!(text(err, "description"), "draft (ERROR)");
    // endTime null: the start
    assert_eq!(int(err, "charge_end"), int(err, "charge_start"));
    // the same page again replaces its generations
    let (out, _) = ingest(&d, "langfuse/observations-2025-06.json", None);
    assert!(
        out[0]["status"] != "ingested" || out[0]["replaced"] == 5,
        "{out:?}"
    );
}

#[test]
fn formats_langfuse_errors_name_the_file_the_place_and_the_fix() {
    let d = Dir::new();
    d.write(
        "count.json",
        r#"{"data":[{"id":"o1","traceId":"t1","type":"GENERATION","startTime":"2025-06-03T10:00:00Z","model":"gpt-4o","usageDetails":{"input":1.5,"output":2},"calculatedTotalCost":0.1}]}"#,
    );
    let e = fails(&d, &["count.json"]);
    assert_names(&e, "count.json: line 1", "usageDetails", "1.5");
    d.write(
        "unknown.json",
        r#"{"data":[{"id":"o1","traceId":"t1","type":"GENERATION","startTime":"2025-06-03T10:00:00Z","model":"acme-ft-3","usageDetails":{"input":1000,"output":400}}]}"#,
    );
    let e = fails(&d, &["unknown.json"]);
    assert!(
        e.contains("\"acme-ft-3\"") && e.contains("1000 input") && e.contains("400 output"),
        "{e}"
    );
    d.write(
        "tags.json",
        r#"{"data":[{"id":"o1","traceId":"t1","type":"GENERATION","startTime":"2025-06-03T10:00:00Z","model":"gpt-4o","tags":"team:search","calculatedTotalCost":0.1}]}"#,
    );
    let e = fails(&d, &["tags.json"]);
    assert_names(&e, "tags.json: line 1", "tags", "team:search");
    d.write(
        "notype.json",
        r#"{"data":[{"id":"o1","traceId":"t1","startTime":"2025-06-03T10:00:00Z"}]}"#,
    );
    let e = fails(&d, &["notype.json", "--source", "langfuse"]);
    assert!(e.contains("no type"), "{e}");
}
