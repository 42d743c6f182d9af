//! `finops ingest` and `finops sources` on real and hand-computed inputs.

use crate::util::{atto, fixture, json, stderr, store_rows, store_total, Dir};

/// Σ BilledCost of focus_sample.csv, computed independently with Python's `decimal`:
/// `sum(Decimal(r['BilledCost']) for r in csv.DictReader(...))`.
const SAMPLE_TOTAL: &str = "20.52022672899";

#[test]
fn focus_sample_rows_and_total_match_the_file() {
    let d = Dir::new();
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture("focus-sample-data/focus_sample.csv"))
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["report"], "ingest");
    let row = &v["rows"][0];
    assert_eq!(row["format"], "focus");
    assert_eq!(row["kind"], "bill");
    assert_eq!(row["status"], "ingested");
    assert_eq!(row["rows"], 1000);
    assert_eq!(row["currency"], "USD");
    assert_eq!(row["total"].to_string(), "20.52");
    assert_eq!(row["period"], "2024-09-01..2024-09-30");
    // Exact in the manifest and in the Parquet files.
    let m = d.manifest();
    assert_eq!(m["batches"][0]["totals"]["USD"], SAMPLE_TOTAL);
    assert_eq!(
        m["batches"][0]["billing_periods"],
        serde_json::json!(["2024-09", "2024-10"])
    );
    assert_eq!(store_total(&d, "USD"), atto(SAMPLE_TOTAL));
    let rows = store_rows(&d);
    assert_eq!(rows.len(), 1000);
    let ids: std::collections::HashSet<_> = rows.iter().map(|r| &r.record_id).collect();
    assert_eq!(ids.len(), 1000, "record ids are unique");
}

#[test]
fn the_same_file_again_changes_nothing_and_says_so() {
    let d = Dir::new();
    let f = fixture("focus-sample-data/focus_sample.csv");
    d.ingest(&f);
    let before = d.store_listing();
    let a = d
        .finops()
        .arg("ingest")
        .arg(&f)
        .arg("--format=json")
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["status"], "unchanged");
    assert_eq!(v["rows"][0]["rows"], 1000);
    assert!(
        stderr(&a).contains("already ingested as batch"),
        "{}",
        stderr(&a)
    );
    assert!(v["notes"][0].as_str().unwrap().contains("nothing changed"));
    assert_eq!(
        before,
        d.store_listing(),
        "the store is byte-for-byte the same"
    );
}

#[test]
fn sources_lists_the_batch_and_json_and_csv_agree() {
    let d = Dir::new();
    d.ingest(fixture("focus-sample-data/focus_sample.csv"));
    let j = d
        .finops()
        .args(["sources", "--format", "json"])
        .assert()
        .success();
    let v = json(&j.get_output().stdout);
    let b = &v["rows"][0];
    assert_eq!(b["rows"], 1000);
    assert_eq!(b["total"].to_string(), "20.52");
    assert_eq!(b["format"], "focus");
    assert!(b["source_path"]
        .as_str()
        .unwrap()
        .ends_with("focus_sample.csv"));
    let c = d
        .finops()
        .args(["sources", "--format", "csv"])
        .assert()
        .success();
    let mut r = csv::Reader::from_reader(&c.get_output().stdout[..]);
    let headers = r.headers().unwrap().clone();
    let rec = r.records().next().unwrap().unwrap();
    let get = |k: &str| {
        rec.get(headers.iter().position(|h| h == k).unwrap())
            .unwrap()
            .to_string()
    };
    assert_eq!(get("rows"), "1000");
    assert_eq!(get("total"), "20.52");
    assert_eq!(get("batch_id"), b["batch_id"].as_str().unwrap());
}

/// Hand-computed in fixtures/usage-log/README.md.
const USAGE_TOTAL: &str = "0.058337";

#[test]
fn usage_log_csv_prices_missing_costs_and_keeps_refunds() {
    let d = Dir::new();
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture("usage-log/requests-2026-10.csv"))
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["format"], "usage-log");
    assert_eq!(v["rows"][0]["kind"], "usage");
    assert_eq!(v["rows"][0]["rows"], 8);
    assert_eq!(v["rows"][0]["total"].to_string(), "0.06");
    assert!(
        stderr(&a).contains("1 rows had no cost and were priced"),
        "{}",
        stderr(&a)
    );
    assert_eq!(d.manifest()["batches"][0]["totals"]["USD"], USAGE_TOTAL);
    let rows = store_rows(&d);
    let r1 = rows
        .iter()
        .find(|r| r.request_id.as_deref() == Some("req_0001"))
        .unwrap();
    assert!(r1.estimate);
    assert_eq!(r1.cost_units, atto("0.00325"));
    let r6 = rows
        .iter()
        .find(|r| r.request_id.as_deref() == Some("req_0006"))
        .unwrap();
    // 2026-10-15T08:00:00+02:00 is 06:00 UTC.
    assert_eq!(r6.charge_start, 1_792_044_000_000_000);
    let r7 = rows
        .iter()
        .find(|r| r.request_id.as_deref() == Some("req_0007"))
        .unwrap();
    // No zone: UTC.
    assert_eq!(r7.charge_start, 1_793_491_199_000_000);
    let refund = rows
        .iter()
        .find(|r| r.request_id.as_deref() == Some("req_0008"))
        .unwrap();
    assert_eq!(refund.cost_units, atto("-0.0125"));
}

#[test]
fn usage_log_jsonl_equals_csv() {
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.jsonl"));
    assert_eq!(d.manifest()["batches"][0]["totals"]["USD"], USAGE_TOTAL);
    assert_eq!(d.manifest()["batches"][0]["format"], "usage-log");
    // Same requests, same identities: the CSV restates all eight rows.
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture("usage-log/requests-2026-10.csv"))
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["replaced"], 8);
    assert_eq!(store_rows(&d).len(), 8);
    assert_eq!(store_total(&d, "USD"), atto(USAGE_TOTAL));
}

#[test]
fn restated_rows_replace_and_are_counted_once() {
    let d = Dir::new();
    let head = "timestamp,provider,model,request_id,cost\n";
    let a = d.write(
        "a.csv",
        format!("{head}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1.00\n2026-10-01T00:01:00Z,openai,gpt-4o,r2,2.00\n2026-10-01T00:02:00Z,openai,gpt-4o,r3,3.00\n"),
    );
    let b = d.write(
        "b.csv",
        format!("{head}2026-10-01T00:01:00Z,openai,gpt-4o,r2,2.50\n2026-10-02T00:00:00Z,openai,gpt-4o,r4,4.00\n"),
    );
    d.ingest(&a);
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&b)
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["rows"][0]["replaced"], 1);
    // 1.00 + 2.50 + 3.00 + 4.00: r2 counted once, at its restated amount.
    assert_eq!(store_total(&d, "USD"), atto("10.50"));
    assert_eq!(store_rows(&d).len(), 4);
    let m = d.manifest();
    assert_eq!(m["batches"][0]["rows_superseded"], 1);
    assert_eq!(m["batches"][1]["rows_replaced"], 1);
    let s = d
        .finops()
        .args(["sources", "--format", "json"])
        .assert()
        .success();
    let v = json(&s.get_output().stdout);
    assert_eq!(v["rows"][0]["superseded"], 1);
}

#[test]
fn dry_run_writes_nothing() {
    let d = Dir::new();
    let a = d
        .finops()
        .args(["ingest", "--dry-run", "--format", "json"])
        .arg(fixture("focus-sample-data/focus_sample.csv"))
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["status"], "dry-run");
    assert_eq!(v["rows"][0]["rows"], 1000);
    assert_eq!(v["rows"][0]["total"].to_string(), "20.52");
    assert!(!d.path().join(".finops").exists());
}

#[test]
fn gzip_is_read() {
    use std::io::Write;
    let d = Dir::new();
    let raw = std::fs::read(fixture("usage-log/requests-2026-10.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let p = d.write("requests.csv.gz", gz.finish().unwrap());
    d.ingest(&p);
    assert_eq!(d.manifest()["batches"][0]["totals"]["USD"], USAGE_TOTAL);
}

#[test]
fn skip_invalid_lands_good_rows_and_writes_rejects() {
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        "timestamp,model,request_id,cost\n2026-10-01T00:00:00Z,gpt-4o,r1,1.25\n2026-10-01T00:00:01Z,gpt-4o,r2,abc\n2026-10-01T00:00:02Z,gpt-4o,r3,2.75\n",
    );
    // Without --skip-invalid: rejected whole, store unchanged.
    let a = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&a);
    assert!(err.contains("log.csv: line 3, column \"cost\""), "{err}");
    assert!(err.contains("\"abc\" is not a number"), "{err}");
    assert_eq!(d.manifest()["batches"].as_array().unwrap().len(), 0);
    // With it: r1 and r3 land, r2 goes to the rejects file with its reason.
    let a = d
        .finops()
        .args(["ingest", "--skip-invalid", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["rows"], 2);
    assert_eq!(v["rows"][0]["rejected"], 1);
    assert_eq!(store_total(&d, "USD"), atto("4.00"));
    let note = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|n| {
            n.as_str()
                .and_then(|s| s.strip_prefix("rejected rows and their reasons: "))
        })
        .unwrap();
    let mut r = csv::Reader::from_path(d.path().join(note)).unwrap();
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(&recs[0][0], "3");
    assert_eq!(&recs[0][1], "cost");
    assert_eq!(&recs[0][2], "abc");
    assert!(recs[0][3].contains("not a number"));
    assert_eq!(&recs[0][5], "2026-10-01T00:00:01Z,gpt-4o,r2,abc");
}

#[test]
fn directories_are_read_recursively() {
    let d = Dir::new();
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture("usage-log"))
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    // The CSV and the JSONL (same requests: the second restates the first); README.md skipped.
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert!(stderr(&a).contains("skipped 1 file"));
    assert_eq!(store_total(&d, "USD"), atto(USAGE_TOTAL));
}

#[test]
fn focus_spec_examples_bom_and_us_dates() {
    let d = Dir::new();
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture(
            "focus-spec-examples/saas_examples/virtual_currency_pricing_model_a1.csv",
        ))
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    // BilledCost 200000.00, ChargePeriodStart 4/1/25, BillingPeriodStart 4/1/25.
    assert_eq!(v["rows"][0]["total"].to_string(), "200000.00");
    assert_eq!(v["rows"][0]["period"], "2025-04-01..2025-04-01");
    assert_eq!(
        d.manifest()["batches"][0]["billing_periods"],
        serde_json::json!(["2025-04"])
    );
}

#[test]
fn focus_spec_examples_directory() {
    // Two of the spec's own tables have an impossible time (2023-02-01T30:00:00Z); with
    // --skip-invalid their other rows land. Σ BilledCost of the 79 valid rows, computed
    // with Python's decimal after stripping "$" and ",".
    let d = Dir::new();
    let a = d
        .finops()
        .args(["ingest", "--skip-invalid", "--format", "json"])
        .arg(fixture("focus-spec-examples"))
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    let totals = &v["totals"][0];
    assert_eq!(totals["rows"], 79);
    assert_eq!(totals["rejected"], 2);
    assert_eq!(totals["total"].to_string(), "517753.25");
}

#[test]
fn focus_parquet_matches_csv() {
    use polars::prelude::*;
    let d = Dir::new();
    let mut df = df!(
        "BilledCost" => &[1.5f64, -0.25, 10.0],
        "BillingCurrency" => &["USD", "USD", "USD"],
        "ChargePeriodStart" => &["2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", "2026-10-03T00:00:00Z"],
        "BillingPeriodStart" => &["2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z"],
        "ChargeCategory" => &["Usage", "Credit", "Usage"],
        "ProviderName" => &["Microsoft", "Microsoft", "Microsoft"],
        "Tags" => &[Some(r#"{"team":"search"}"#), None, Some(r#"{"team":"ads"}"#)],
    )
    .unwrap();
    let p = d.path().join("focus.parquet");
    ParquetWriter::new(std::fs::File::create(&p).unwrap())
        .finish(&mut df)
        .unwrap();
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["format"], "focus");
    assert_eq!(v["rows"][0]["rows"], 3);
    assert_eq!(store_total(&d, "USD"), atto("11.25"));
}

#[test]
fn init_writes_a_config_and_an_empty_store() {
    let d = Dir::new();
    d.finops().arg("init").assert().success();
    let cfg = std::fs::read_to_string(d.path().join("finops.toml")).unwrap();
    assert!(cfg.contains("currency = \"USD\""));
    assert_eq!(d.manifest()["batches"].as_array().unwrap().len(), 0);
    // The starter is a valid config: commands read it.
    d.finops()
        .args(["sources", "--format", "csv"])
        .assert()
        .success();
    // A second init keeps the user's edits.
    std::fs::write(d.path().join("finops.toml"), "currency = \"EUR\"\n").unwrap();
    d.finops().arg("init").assert().success();
    assert_eq!(
        std::fs::read_to_string(d.path().join("finops.toml")).unwrap(),
        "currency = \"EUR\"\n"
    );
}

#[test]
fn record_ids_are_stable_across_versions() {
    // A restatement ingested by a later finops must find rows stored by an earlier one,
    // so the id of a request is fixed: xxh3-128 of "usage-log␟<provider>␟request␟<id>"
    // (docs/store.md), computed here with Python's `xxhash` package.
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    let rows = store_rows(&d);
    let id = |req: &str| {
        rows.iter()
            .find(|r| r.request_id.as_deref() == Some(req))
            .map(|r| r.record_id.clone())
            .unwrap()
    };
    assert_eq!(id("req_0001"), "62a64530db27e127c789ece1ced81c02");
    assert_eq!(id("req_0002"), "bfede4d9d018a9a3e1559bf0d490bfde");
}

#[test]
fn typed_record_ids_are_pinned() {
    // The layout of docs/store.md, computed here with Python's `xxhash` package:
    // FOCUS: xxh3-128("focus␟" + "billingaccountid␞12␟" + "chargeperiodstart␞@1790812800000000␟"
    //   + "providername␞OpenAI␟" + "x_flag␞true␟" + "tags␞{"a":"x","b":"1"}␟"); BilledCost is
    //   a metric and x_Empty is null, so neither is part of it.
    let d = Dir::new();
    let p = d.write(
        "bill.csv",
        "x_Empty,ProviderName,BilledCost,ChargePeriodStart,BillingAccountId,x_Flag,Tags\nNULL,OpenAI,1.50,2026-10-01 00:00:00,0012,TRUE,\"{\"\"b\"\": 1, \"\"a\"\": \"\"x\"\"}\"\n",
    );
    d.ingest(&p);
    assert_eq!(
        store_rows(&d)[0].record_id,
        "2f1bbb9cfe382e524e8446085bd55d48"
    );
    // Usage log without a request id: provider, timestamp µs, model, session_id, the token
    // counts given, cost, currency, tags.
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        "timestamp,provider,model,session_id,input_tokens,output_tokens,cost,currency,tag:team\n2026-10-01T12:00:00+02:00,openai,gpt-4o,s1,1000,200,1.50,usd,search\n",
    );
    d.ingest(&p);
    assert_eq!(
        store_rows(&d)[0].record_id,
        "7c15b7374db076f4d0662b97ad04b2dc"
    );
}

#[test]
fn prices_flag_prices_a_private_model_and_unknown_models_are_listed() {
    let d = Dir::new();
    d.write(
        "log.csv",
        "timestamp,model,input_tokens,output_tokens\n\
         2026-10-01T00:00:00Z,my-private-model,1000,200\n\
         2026-10-01T00:01:00Z,my-private-model,500,0\n\
         2026-10-01T00:02:00Z,other-model,7,3\n",
    );
    // Without a table that knows them: never priced at zero, listed with their tokens
    // (and a file with no valid row is an error).
    let a = d
        .finops()
        .args(["ingest", "log.csv", "--skip-invalid"])
        .assert()
        .code(2);
    let err = crate::util::stderr(&a);
    assert!(
        err.contains("2 model(s) are not in the bundled LiteLLM price table")
            && err.contains("\"my-private-model\" (2 row(s), 1500 input / 200 output tokens)")
            && err.contains("\"other-model\" (1 row(s), 7 input / 3 output tokens)")
            && err.contains("--prices FILE")
            && err.contains("(1000 input, 200 output tokens)"),
        "{err}"
    );
    // With --prices: 1000 × 0.000002 + 200 × 0.00001 = 0.004; 500 × 0.000002 = 0.001.
    d.write(
        "prices.json",
        r#"{"my-private-model": {"input_cost_per_token": 2e-06, "output_cost_per_token": 1e-05, "litellm_provider": "openai", "mode": "chat"},
            "other-model": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06, "litellm_provider": "openai", "mode": "chat"}}"#,
    );
    let d2 = Dir::new();
    std::fs::copy(d.path().join("log.csv"), d2.path().join("log.csv")).unwrap();
    std::fs::copy(d.path().join("prices.json"), d2.path().join("prices.json")).unwrap();
    d2.finops()
        .args(["ingest", "log.csv", "--prices", "prices.json"])
        .assert()
        .success();
    // + 7 × 0.000001 + 3 × 0.000001 = 0.00001
    assert_eq!(crate::util::store_total(&d2, "USD"), atto("0.00501"));
    // A broken --prices file is refused before any file is read.
    d2.write("bad.json", "not json");
    let a = d2
        .finops()
        .args(["ingest", "log.csv", "--prices", "bad.json"])
        .assert()
        .code(2);
    assert!(crate::util::stderr(&a).contains("--prices: the price table cannot be used"));
}
