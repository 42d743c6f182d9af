//! One test per bad input of SPEC §7: each gets a clear error naming the file, the place
//! and the fix (exit 2, store unchanged), or is read correctly where it is unambiguous.

use crate::util::{atto, fixture, json, stderr, store_total, Dir};

const LOG_HEAD: &str = "timestamp,provider,model,request_id,cost,currency\n";

fn fails(d: &Dir, file: &std::path::Path) -> String {
    let before = d.store_listing();
    let a = d.finops().arg("ingest").arg(file).assert().code(2);
    let err = stderr(&a);
    assert!(
        err.contains(&file.file_name().unwrap().to_string_lossy().to_string()),
        "names the file: {err}"
    );
    if !before.is_empty() {
        assert_eq!(before, d.store_listing(), "store unchanged");
    } else if d.path().join(".finops/manifest.json").exists() {
        assert_eq!(
            d.manifest()["batches"].as_array().unwrap().len(),
            0,
            "store unchanged"
        );
    }
    err
}

#[test]
fn unknown_format() {
    let d = Dir::new();
    let p = d.write("mystery.csv", "foo,bar,baz\n1,2,3\n");
    let err = fails(&d, &p);
    assert!(
        err.contains("line 1: cannot tell the format from the columns (foo, bar, baz)"),
        "{err}"
    );
    assert!(err.contains("--source"), "{err}");
    assert!(err.contains("finops reads: focus, usage-log"), "{err}");
}

#[test]
fn unknown_format_names_the_closest_and_what_it_lacks() {
    let d = Dir::new();
    // A FOCUS-like export that lost its cost column.
    let p = d.write("almost.csv", "ChargePeriodStart,Foo\n2026-10-01,x\n");
    let err = fails(&d, &p);
    assert!(
        err.contains("closest known format: focus") && err.contains("needs BilledCost"),
        "{err}"
    );
    // With BilledCost it is FOCUS, and the missing column is named.
    let p = d.write("focusish.csv", "BilledCost,ServiceName\n1.5,x\n");
    let err = fails(&d, &p);
    assert!(
        err.contains("without required column(s) ChargePeriodStart"),
        "{err}"
    );
}

#[test]
fn missing_required_column_is_named() {
    let d = Dir::new();
    let p = d.write(
        "bill.csv",
        "BilledCost,BillingCurrency,ProviderName\n1.0,USD,AWS\n",
    );
    let err = fails(&d, &p);
    assert!(
        err.contains("without required column(s) ChargePeriodStart"),
        "{err}"
    );
    let p = d.write("log.csv", "model,cost\ngpt-4o,1\n");
    let err = d
        .finops()
        .args(["ingest", "--source", "usage-log"])
        .arg(&p)
        .assert()
        .code(2);
    assert!(
        stderr(&err).contains("without a \"timestamp\" column"),
        "{}",
        stderr(&err)
    );
}

#[test]
fn unparsable_number_names_line_column_and_value() {
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1.2.3,USD\n"),
    );
    let err = fails(&d, &p);
    assert!(
        err.contains("line 2, column \"cost\": \"1.2.3\" is not a number"),
        "{err}"
    );
}

#[test]
fn bad_date_names_line_column_and_value() {
    let d = Dir::new();
    let p = d.write("log.csv", format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1,USD\n31.10.2026,openai,gpt-4o,r2,1,USD\n"));
    let err = fails(&d, &p);
    assert!(
        err.contains("line 3, column \"timestamp\": cannot read the timestamp \"31.10.2026\""),
        "{err}"
    );
    assert!(err.contains("fix: use RFC 3339"), "{err}");
}

#[test]
fn utf8_bom_is_read() {
    let d = Dir::new();
    let p = d.write(
        "bom.csv",
        format!("\u{feff}{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1.5,USD\n"),
    );
    d.ingest(&p);
    assert_eq!(store_total(&d, "USD"), atto("1.5"));
}

#[test]
fn utf16_excel_export_is_decoded() {
    let d = Dir::new();
    let text = format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1.5,USD\n2026-10-01T00:00:01Z,openai,gpt-4o,r2,2.25,EUR\n");
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let p = d.write("excel.csv", bytes);
    let a = d.ingest(&p);
    assert!(
        stderr(&a).contains("decoded from UTF-16LE"),
        "{}",
        stderr(&a)
    );
    assert_eq!(store_total(&d, "USD"), atto("1.5"));
    assert_eq!(store_total(&d, "EUR"), atto("2.25"));
}

#[test]
fn semicolon_separated_is_read_but_decimal_commas_are_not_guessed() {
    let d = Dir::new();
    let p = d.write(
        "semi.csv",
        "timestamp;model;request_id;cost\n2026-10-01T00:00:00Z;gpt-4o;r1;1.5\n",
    );
    d.ingest(&p);
    assert_eq!(store_total(&d, "USD"), atto("1.5"));
    let p = d.write(
        "comma.csv",
        "timestamp;model;request_id;cost\n2026-10-01T00:00:00Z;gpt-4o;r2;12,5\n",
    );
    let err = fails(&d, &p);
    assert!(
        err.contains("line 2, column \"cost\": \"12,5\" is not a plain number"),
        "{err}"
    );
    assert!(err.contains("decimal comma"), "{err}");
}

#[test]
fn quoted_numbers_with_thousands_separators() {
    let d = Dir::new();
    // Unambiguous: read exactly, with a note.
    let p = d.write(
        "ok.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,\"1,234.50\",USD\n"),
    );
    let a = d.ingest(&p);
    assert!(
        stderr(&a).contains("thousands separators"),
        "{}",
        stderr(&a)
    );
    assert_eq!(store_total(&d, "USD"), atto("1234.50"));
    // Ambiguous: 1,234 may be 1234 or 1.234.
    let p = d.write(
        "ambiguous.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r2,\"1,234\",USD\n"),
    );
    let err = fails(&d, &p);
    assert!(err.contains("\"1,234\" is ambiguous"), "{err}");
}

#[test]
fn empty_file() {
    let d = Dir::new();
    let p = d.write("empty.csv", "");
    let err = fails(&d, &p);
    assert!(
        err.contains("empty.csv: the file is empty (0 bytes)"),
        "{err}"
    );
}

#[test]
fn header_only_file_ingests_nothing_and_says_so() {
    let d = Dir::new();
    let p = d.write("header.csv", LOG_HEAD);
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    assert!(
        stderr(&a).contains("header.csv: no rows (header only)"),
        "{}",
        stderr(&a)
    );
    assert_eq!(json(&a.get_output().stdout)["rows"][0]["status"], "empty");
    assert_eq!(d.manifest()["batches"].as_array().unwrap().len(), 0);
}

#[test]
fn truncated_json_line() {
    let d = Dir::new();
    let p = d.write(
        "log.jsonl",
        "{\"timestamp\":\"2026-10-01T00:00:00Z\",\"model\":\"gpt-4o\",\"cost\":1}\n{\"timestamp\":\"2026-10-01T00:00:01Z\",\"model\":\"gpt-",
    );
    let err = fails(&d, &p);
    assert!(err.contains("log.jsonl: line 2: truncated JSON"), "{err}");
}

#[test]
fn mixed_currencies_are_kept_apart() {
    let d = Dir::new();
    let p = d.write(
        "mixed.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1.10,USD\n2026-10-01T00:00:01Z,openai,gpt-4o,r2,2.20,EUR\n2026-10-01T00:00:02Z,openai,gpt-4o,r3,3.30,usd\n"),
    );
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "one line per currency, never summed across");
    assert_eq!(
        (
            rows[0]["currency"].as_str(),
            rows[0]["rows"].as_i64(),
            rows[0]["total"].to_string()
        ),
        (Some("EUR"), Some(1), "2.20".into())
    );
    assert_eq!(
        (
            rows[1]["currency"].as_str(),
            rows[1]["rows"].as_i64(),
            rows[1]["total"].to_string()
        ),
        (Some("USD"), Some(2), "4.40".into())
    );
    assert_eq!(v["totals"].as_array().unwrap().len(), 2);
}

#[test]
fn negative_amounts_are_valid_and_kept() {
    let d = Dir::new();
    let p = d.write(
        "bill.csv",
        "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ProviderName\n100.00,USD,2026-10-01,Usage,OpenAI\n-12.34,USD,2026-10-02,Credit,OpenAI\n-0.66,USD,2026-10-03,Usage,OpenAI\n",
    );
    d.ingest(&p);
    assert_eq!(store_total(&d, "USD"), atto("87.00"));
}

#[test]
fn timestamps_with_and_without_zones() {
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        format!("{LOG_HEAD}2026-10-01T02:00:00+02:00,openai,gpt-4o,r1,1,USD\n2026-10-01 00:00:00,openai,gpt-4o,r2,1,USD\n2026-10-01T00:00:00Z,openai,gpt-4o,r3,1,USD\n"),
    );
    d.ingest(&p);
    let rows = crate::util::store_rows(&d);
    assert!(
        rows.iter().all(|r| r.charge_start == 1_790_812_800_000_000),
        "all three are 2026-10-01T00:00Z"
    );
}

#[test]
fn record_with_wrong_field_count() {
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1,USD,extra\n"),
    );
    let err = fails(&d, &p);
    assert!(
        err.contains("line 2: the record has 7 fields but the header has 6"),
        "{err}"
    );
}

#[test]
fn latin1_bytes() {
    let d = Dir::new();
    let mut bytes = LOG_HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(b"2026-10-01T00:00:00Z,openai,gpt-4o,caf\xe9,1,USD\n");
    let p = d.write("latin1.csv", bytes);
    let err = fails(&d, &p);
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(err.contains("Save As"), "{err}");
}

/// A bad byte deep in the file (past the first bytes that detection reads) is found by
/// the per-record check: the error names its line and column.
#[test]
fn latin1_bytes_deep_in_the_file() {
    let d = Dir::new();
    let mut bytes = LOG_HEAD.as_bytes().to_vec();
    for i in 0..5000 {
        bytes.extend_from_slice(
            format!("2026-10-01T00:00:00Z,openai,gpt-4o,req-{i},0.5,USD\n").as_bytes(),
        );
    }
    bytes.extend_from_slice(b"2026-10-02T00:00:00Z,openai,gpt-4o,caf\xe9,1,USD\n");
    let p = d.write("deep-latin1.csv", bytes);
    let err = fails(&d, &p);
    assert!(err.contains("line 5002"), "{err}");
    assert!(err.contains("request_id"), "{err}");
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(err.contains("Save As"), "{err}");
}

#[test]
fn token_semantics_are_checked() {
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        "timestamp,model,input_tokens,cached_input_tokens,output_tokens,cost\n2026-10-01T00:00:00Z,gpt-4o,100,500,10,0.1\n",
    );
    let err = fails(&d, &p);
    assert!(
        err.contains("cached (500) plus cache-write (0) tokens exceed input_tokens (100)"),
        "{err}"
    );
}

#[test]
fn unknown_model_without_cost() {
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        "timestamp,model,input_tokens,output_tokens\n2026-10-01T00:00:00Z,my-private-model,10,10\n",
    );
    let err = fails(&d, &p);
    assert!(
        err.contains("the price table has no model \"my-private-model\""),
        "{err}"
    );
}

#[test]
fn json_array_and_pretty_documents_are_read_as_rows() {
    // A JSON array of rows (what gateway APIs return) and a pretty-printed page.
    let d = Dir::new();
    d.write(
        "log.json",
        "[{\"timestamp\":\"2026-10-01T00:00:00Z\",\"cost\":1.25},\n {\"timestamp\":\"2026-10-02T00:00:00Z\",\"cost\":2}]",
    );
    d.write(
        "page.json",
        "{\n  \"data\": [\n    {\"timestamp\": \"2026-10-03T00:00:00Z\", \"cost\": 0.5}\n  ]\n}\n",
    );
    d.finops()
        .args(["ingest", "log.json", "page.json"])
        .assert()
        .success();
    assert_eq!(store_total(&d, "USD"), atto("3.75"));
}

#[test]
fn a_row_that_is_not_an_object() {
    let d = Dir::new();
    let p = d.write(
        "log.json",
        "[{\"timestamp\":\"2026-10-01T00:00:00Z\",\"cost\":1}, 42]",
    );
    let err = fails(&d, &p);
    assert!(err.contains("row 2") || err.contains("line 2"), "{err}");
    assert!(err.contains("not a JSON object"), "{err}");
}

#[test]
fn duplicate_header_column() {
    let d = Dir::new();
    let p = d.write("log.csv", "timestamp,cost,cost\n2026-10-01T00:00:00Z,1,2\n");
    let err = fails(&d, &p);
    assert!(err.contains("names column \"cost\" twice"), "{err}");
}

#[test]
fn missing_path() {
    let d = Dir::new();
    let a = d.finops().args(["ingest", "nope.csv"]).assert().code(2);
    assert!(stderr(&a).contains("nope.csv"), "{}", stderr(&a));
}

#[test]
fn one_bad_file_does_not_block_the_others() {
    let d = Dir::new();
    let bad = d.write(
        "in/a-bad.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,oops,USD\n"),
    );
    let _ = bad;
    d.write(
        "in/b-good.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1,USD\n"),
    );
    let a = d
        .finops()
        .args(["ingest", "in", "--format", "json"])
        .assert()
        .code(2);
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["status"], "failed");
    assert_eq!(v["rows"][1]["status"], "ingested");
    assert_eq!(store_total(&d, "USD"), atto("1"));
}

#[test]
fn bad_config_names_key_and_line() {
    let d = Dir::new();
    d.write(
        "finops.toml",
        "currency = \"USD\"\nweek_strat = \"monday\"\n",
    );
    let a = d
        .finops()
        .args(["ingest"])
        .arg(fixture("usage-log/requests-2026-10.csv"))
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(err.contains("finops.toml"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("week_strat"), "{err}");
}

#[test]
fn crlf_files_name_the_true_line() {
    // Windows exports (Azure, OCI) end lines in CR LF; a multi-line quoted value spans two.
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        "timestamp,cost\r\n2026-10-01,1\r\n2026-10-02,\"1\"x\r\n2026-10-03,\"multi\r\nline\",3\r\n2026-10-04,abc\r\n",
    );
    d.finops()
        .args(["ingest", "--skip-invalid"])
        .arg(&p)
        .assert()
        .success();
    let rejects = std::fs::read_dir(d.path().join(".finops/rejects"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    let lines: Vec<&str> = rejects
        .lines()
        .filter_map(|l| l.split(',').next())
        .filter(|f| f.parse::<u64>().is_ok())
        .collect();
    assert_eq!(lines, ["3", "4", "6"], "{rejects}");
    let p = d.write(
        "bad.csv",
        "timestamp,cost\r\n2026-10-01,1\r\n2026-10-02,abc\r\n",
    );
    let err = fails(&d, &p);
    assert!(err.contains("line 3, column \"cost\""), "{err}");
}
