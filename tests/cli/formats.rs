//! The output layer through the CLI: typed JSON, CSV for spreadsheets, table snapshots.

use serde::Deserialize;

use crate::util::{fixture, Dir};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestReport {
    report: String,
    title: String,
    period: Option<String>,
    currency: Option<String>,
    parameters: std::collections::BTreeMap<String, String>,
    columns: Vec<String>,
    rows: Vec<IngestRow>,
    totals: Vec<IngestRow>,
    notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestRow {
    file: String,
    format: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    rows: i64,
    rejected: Option<i64>,
    replaced: Option<i64>,
    period: Option<String>,
    currency: Option<String>,
    total: Option<serde_json::Number>,
}

fn copy_sample(d: &Dir) {
    std::fs::copy(
        fixture("focus-sample-data/focus_sample.csv"),
        d.path().join("focus_sample.csv"),
    )
    .unwrap();
}

#[test]
fn ingest_json_is_typed_and_stable() {
    let d = Dir::new();
    copy_sample(&d);
    let out = d
        .finops()
        .args(["ingest", "focus_sample.csv", "--format", "json"])
        .assert()
        .success();
    let r: IngestReport = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(r.report, "ingest");
    assert_eq!(r.title, "Ingest summary");
    assert_eq!(r.period, None);
    assert_eq!(r.currency.as_deref(), Some("USD"));
    assert_eq!(r.parameters["dry_run"], "false");
    assert_eq!(
        r.columns,
        [
            "file", "format", "kind", "status", "rows", "rejected", "replaced", "period",
            "currency", "total"
        ]
    );
    let row = &r.rows[0];
    assert_eq!(row.file, "focus_sample.csv");
    assert_eq!(row.format.as_deref(), Some("focus"));
    assert_eq!(row.kind.as_deref(), Some("bill"));
    assert_eq!(row.status.as_deref(), Some("ingested"));
    assert_eq!(
        (row.rows, row.rejected, row.replaced),
        (1000, Some(0), Some(0))
    );
    assert_eq!(row.period.as_deref(), Some("2024-09-01..2024-09-30"));
    assert_eq!(row.currency.as_deref(), Some("USD"));
    assert_eq!(row.total.as_ref().unwrap().to_string(), "20.52");
    assert_eq!(r.totals[0].total.as_ref().unwrap().to_string(), "20.52");
    assert_eq!(r.notes.len(), 1);
}

#[test]
fn csv_and_tsv_are_raw_and_agree_with_json() {
    let d = Dir::new();
    copy_sample(&d);
    let out = d
        .finops()
        .args(["ingest", "focus_sample.csv", "--dry-run", "--format", "csv"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    insta::assert_snapshot!(text, @r"
    file,format,kind,status,rows,rejected,replaced,period,currency,total
    focus_sample.csv,focus,bill,dry-run,1000,0,0,2024-09-01..2024-09-30,USD,20.52
    total,,,,1000,0,0,,USD,20.52
    ");
    let out = d
        .finops()
        .args(["ingest", "focus_sample.csv", "--dry-run", "--format", "tsv"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.starts_with("file\tformat\tkind\tstatus\trows"));
    assert!(text.contains("\t1000\t0\t0\t2024-09-01..2024-09-30\tUSD\t20.52\n"));
}

#[test]
fn table_and_markdown_snapshots() {
    let d = Dir::new();
    copy_sample(&d);
    let t = d
        .finops()
        .args([
            "ingest",
            "focus_sample.csv",
            "--dry-run",
            "--format",
            "table",
        ])
        .assert()
        .success();
    insta::assert_snapshot!(
        "ingest_table",
        String::from_utf8(t.get_output().stdout.clone()).unwrap()
    );
    let m = d
        .finops()
        .args([
            "ingest",
            "focus_sample.csv",
            "--dry-run",
            "--format",
            "markdown",
        ])
        .assert()
        .success();
    insta::assert_snapshot!(
        "ingest_markdown",
        String::from_utf8(m.get_output().stdout.clone()).unwrap()
    );
}

#[test]
fn jsonl_is_one_row_per_line() {
    let d = Dir::new();
    copy_sample(&d);
    let out = d
        .finops()
        .args([
            "ingest",
            "focus_sample.csv",
            "--dry-run",
            "--format",
            "jsonl",
        ])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1);
    let _: IngestRow = serde_json::from_str(text.lines().next().unwrap()).unwrap();
}

#[test]
fn output_file_and_auto_format() {
    let d = Dir::new();
    copy_sample(&d);
    // Not a terminal: auto is CSV.
    let out = d
        .finops()
        .args(["ingest", "focus_sample.csv", "--dry-run"])
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).starts_with("file,format,"));
    d.finops()
        .args([
            "ingest",
            "focus_sample.csv",
            "--dry-run",
            "--format",
            "json",
            "-o",
            "out.json",
        ])
        .assert()
        .success()
        .stdout("");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(v["rows"][0]["rows"], 1000);
}

#[test]
fn closed_pipe_exits_zero_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let d = Dir::new();
    copy_sample(&d);
    d.ingest("focus_sample.csv");
    let bin = assert_cmd::cargo::cargo_bin("finops");
    let mut child = std::process::Command::new(bin)
        .current_dir(d.path())
        .args(["sources", "--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn help_lists_exit_codes() {
    let d = Dir::new();
    let out = d.finops().arg("--help").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("2  a usage or input error"));
    let err = d.finops().arg("--bogus").assert().code(2);
    let _ = err;
}
