//! Issue #6, one test per defect found by trying finops as a new user would, with real
//! and hostile inputs. Each is named after the defect it pins down. Expected values come
//! from the inputs themselves (by hand, or from DuckDB where stated), never from finops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use polars::prelude::*;

use crate::util::{atto, fixture, json, stderr, store_rows, store_total, Dir};

const LOG_HEAD: &str = "timestamp,provider,model,request_id,cost,currency\n";

fn write_parquet(path: &Path, df: &mut DataFrame) {
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(df)
        .unwrap();
}

/// Micros since the epoch of `YYYY-MM-DD HH:MM:SS` (UTC), computed without finops.
fn micros(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

/// The FOCUS sample as a DuckDB `COPY ... TO 'x.parquet'` writes it: amounts as DOUBLE
/// (times `scale`), the four period columns as TIMESTAMP, `Id` as BIGINT, NULL literals
/// as nulls, everything else text.
fn focus_sample_as_parquet(path: &Path, scale: f64) -> Vec<f64> {
    let mut r = csv::Reader::from_path(fixture("focus-sample-data/focus_sample.csv")).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let mut cols: Vec<Column> = Vec::new();
    let mut costs = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let cells: Vec<Option<&str>> = recs
            .iter()
            .map(|rec| Some(&rec[i]).filter(|v| *v != "NULL" && !v.is_empty()))
            .collect();
        let col = match h.as_str() {
            "BilledCost" => {
                costs = cells
                    .iter()
                    .map(|v| v.unwrap().parse::<f64>().unwrap() * scale)
                    .collect();
                Column::new(h.into(), costs.clone())
            }
            "BillingPeriodStart" | "BillingPeriodEnd" | "ChargePeriodStart" | "ChargePeriodEnd" => {
                let us: Vec<Option<i64>> = cells.iter().map(|v| v.map(micros)).collect();
                Column::new(h.into(), us)
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                    .unwrap()
            }
            "Id" => Column::new(
                h.into(),
                cells
                    .iter()
                    .map(|v| v.map(|v| v.parse::<i64>().unwrap()))
                    .collect::<Vec<_>>(),
            ),
            _ => Column::new(h.into(), cells),
        };
        cols.push(col);
    }
    let mut df = DataFrame::new(recs.len(), cols).unwrap();
    write_parquet(path, &mut df);
    costs
}

#[test]
fn defect_01_parquet_double_float_and_decimal_amounts_land_exactly() {
    // The issue's case: the sample's costs × 1000003.7 as DOUBLE. DuckDB says
    // sum(BilledCost::VARCHAR::DECIMAL(38,18)) = 20520302.653828896911720155 over that file
    // (each double as its shortest text); the old reader stored 20,520,252.37.
    let d = Dir::new();
    let p = d.path().join("scaled.parquet");
    focus_sample_as_parquet(&p, 1000003.7);
    d.ingest(&p);
    assert_eq!(store_total(&d, "USD"), atto("20520302.653828896911720155"));

    // FLOAT keeps its own shortest text (0.1f32 is 0.1, not 0.10000000149011612), and a
    // DECIMAL keeps its scale.
    let d = Dir::new();
    let starts = [
        "2026-10-01 00:00:00",
        "2026-10-02 00:00:00",
        "2026-10-03 00:00:00",
    ];
    let start_col = || {
        Column::new(
            "ChargePeriodStart".into(),
            starts.iter().map(|s| micros(s)).collect::<Vec<_>>(),
        )
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
        .unwrap()
    };
    let mut floats = DataFrame::new(
        3,
        vec![
            Column::new("BilledCost".into(), vec![0.1f32, 1234.5677, -3.25]),
            start_col(),
        ],
    )
    .unwrap();
    write_parquet(&d.path().join("float.parquet"), &mut floats);
    d.ingest(d.path().join("float.parquet"));
    assert_eq!(store_total(&d, "USD"), atto("1231.4177"));
    let d = Dir::new();
    let dec = Int128Chunked::from_vec("BilledCost".into(), vec![12345, 10, -5000, 1])
        .into_decimal_unchecked(38, 4)
        .into_column();
    let starts4 = Column::new(
        "ChargePeriodStart".into(),
        vec![micros("2026-10-01 00:00:00"); 4],
    )
    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
    .unwrap();
    let mut decimals = DataFrame::new(4, vec![dec, starts4]).unwrap();
    write_parquet(&d.path().join("decimal.parquet"), &mut decimals);
    d.ingest(d.path().join("decimal.parquet"));
    // 1.2345 + 0.0010 − 0.5 + 0.0001
    assert_eq!(store_total(&d, "USD"), atto("0.7356"));

    // CSV amounts with 18 decimals land to the last digit.
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,0.123456789012345678,USD\n2026-10-01T00:00:01Z,openai,gpt-4o,r2,1.000000000000000001,USD\n"),
    );
    d.ingest(&p);
    assert_eq!(store_total(&d, "USD"), atto("1.123456789012345679"));
}

#[test]
fn defect_02_sums_never_overflow_wrap_or_hang() {
    let d = Dir::new();
    let a = d.write(
        "a.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,9e19,USD\n"),
    );
    let b = d.write(
        "b.csv",
        format!("{LOG_HEAD}2026-10-02T00:00:00Z,openai,gpt-4o,r2,9e19,USD\n"),
    );
    // In one run (this hung forever): the first lands, the second is refused by name.
    let out = d
        .finops()
        .args(["ingest", "--format", "csv"])
        .arg(&a)
        .arg(&b)
        .timeout(Duration::from_secs(120))
        .assert()
        .code(2);
    let err = stderr(&out);
    assert!(
        err.contains("b.csv: with this file the store's amounts would add up beyond 10^20")
            && err.contains("largest amount is 90000000000000000000 at line 2")
            && err.contains("fix: check the file's amount columns"),
        "{err}"
    );
    // Reports of what landed are exact and positive (they printed -1.6e20 before).
    let out = d
        .finops()
        .args(["chargeback", "--month", "2026-10", "--format", "json"])
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(
        v["totals"][0]["total"].to_string(),
        "90000000000000000000.00"
    );
    for cmd in [
        &["showback", "--month", "2026-10"][..],
        &["untagged", "--month", "2026-10"],
    ] {
        let out = d
            .finops()
            .args(cmd)
            .args(["--format", "csv"])
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        assert!(
            text.contains("90000000000000000000.00") && !text.contains('-'),
            "{text}"
        );
    }
    // In two runs: the same refusal.
    let out = d.finops().arg("ingest").arg(&b).assert().code(2);
    assert!(stderr(&out).contains("beyond 10^20"), "{}", stderr(&out));
    // One file whose rows add up too far: refused at the row where it happens.
    let d2 = Dir::new();
    let c = d2.write(
        "c.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,6e19,USD\n2026-10-01T00:00:01Z,openai,gpt-4o,r2,6e19,USD\n"),
    );
    let out = d2
        .finops()
        .args(["ingest", "--dry-run"])
        .arg(&c)
        .assert()
        .code(2);
    assert!(
        stderr(&out).contains("c.csv: line 3: the file's amounts add up beyond 10^20"),
        "{}",
        stderr(&out)
    );
    // A single amount that DECIMAL(38,18) cannot hold: refused with its place.
    let e = d2.write(
        "e.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,1e20,USD\n"),
    );
    let out = d2.finops().arg("ingest").arg(&e).assert().code(2);
    assert!(
        stderr(&out).contains("e.csv: line 2, column \"cost\": \"1e20\" is too large"),
        "{}",
        stderr(&out)
    );
    // A conversion rate that takes the month beyond what can be held: an error, not a wrap.
    std::fs::write(
        d.path().join("finops.toml"),
        "currency = \"EUR\"\n[fx.\"2026-10\"]\nUSD = 1000000\n",
    )
    .unwrap();
    let out = d
        .finops()
        .args(["chargeback", "--month", "2026-10"])
        .assert()
        .code(2);
    assert!(
        stderr(&out).contains("beyond what can be held exactly"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn defect_03_csv_parquet_and_json_forms_of_one_export_dedupe() {
    let d = Dir::new();
    d.ingest(fixture("focus-sample-data/focus_sample.csv"));
    // The same charges as DuckDB writes them to Parquet: typed timestamps, DOUBLE costs,
    // an integer Id, nulls for NULL.
    let p = d.path().join("focus.parquet");
    focus_sample_as_parquet(&p, 1.0);
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["rows"][0]["replaced"], 1000, "{v}");
    assert_eq!(store_rows(&d).len(), 1000);
    let out = d
        .finops()
        .args(["chargeback", "--month", "2024-09", "--format", "json"])
        .assert()
        .success();
    // Python's Decimal sum of BilledCost for billing period 2024-09.
    assert_eq!(
        json(&out.get_output().stdout)["reconciliation"]["expected_total_exact"],
        "20.28022672899"
    );

    // A request log without request ids, as CSV.gz and as JSON Lines written another way:
    // other zone, other number spellings, other column order, tags as an object.
    let d = Dir::new();
    let csv =
        "session_id,cost,timestamp,model,provider,input_tokens,output_tokens,currency,tag:team\n\
               s1,1.50,2026-10-01 10:00:00,gpt-4o,openai,1000,200,USD,search\n\
               s1,0.0000250,2026-10-01T12:30:00+02:00,gpt-4o,openai,10,2,usd,search\n";
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(csv.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let p = d.write("log.csv.gz", gz);
    d.ingest(&p);
    let p = d.write(
        "log.jsonl",
        "\n{\"timestamp\": \"2026-10-01T10:00:00Z\", \"provider\": \"openai\", \"model\": \"gpt-4o\", \"session_id\": \"s1\", \"input_tokens\": 1000, \"output_tokens\": 200.0, \"cost\": 1.5, \"currency\": \"USD\", \"tags\": {\"team\": \"search\"}}\n\
         {\"timestamp\": \"2026-10-01T10:30:00Z\", \"provider\": \"openai\", \"model\": \"gpt-4o\", \"session_id\": \"s1\", \"input_tokens\": 10, \"output_tokens\": 2, \"cost\": 2.5e-5, \"currency\": \"USD\", \"tags\": {\"team\": \"search\"}}\n",
    );
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["rows"][0]["replaced"], 2);
    assert_eq!(store_rows(&d).len(), 2);
    assert_eq!(store_total(&d, "USD"), atto("1.500025"));
}

#[test]
fn defect_04_showback_trend_months_are_bounded() {
    let d = Dir::new();
    d.ingest(fixture("focus-sample-data/focus_sample.csv"));
    for bad in ["2147483648", "0", "121", "-3"] {
        let out = d
            .finops()
            .args(["showback", "--month", "2024-09", "--months", bad])
            .assert()
            .code(2);
        assert!(
            stderr(&out).contains("--months") || stderr(&out).contains("'-3'"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    d.finops()
        .args([
            "showback", "--month", "2024-09", "--months", "120", "--format", "csv",
        ])
        .timeout(Duration::from_secs(120))
        .assert()
        .success();
}

#[cfg(unix)]
#[test]
fn defect_05_directory_walks_survive_link_loops_and_pipes() {
    use std::os::unix::fs::symlink;
    let d = Dir::new();
    let root = d.path().join("exports");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::copy(
        fixture("usage-log/requests-2026-10.csv"),
        root.join("sub/requests.csv"),
    )
    .unwrap();
    symlink(".", root.join("here1")).unwrap();
    symlink(".", root.join("here2")).unwrap();
    symlink("..", root.join("sub/up")).unwrap();
    let fifo = root.join("p.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&root)
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    assert_eq!(
        v["rows"].as_array().unwrap().len(),
        1,
        "each file once: {v}"
    );
    assert_eq!(store_rows(&d).len(), 8);
    let err = stderr(&out);
    assert!(err.contains("lead back to a folder being read"), "{err}");
    if made {
        assert!(err.contains("1 named pipe(s)"), "{err}");
        // Named on the command line, a pipe is refused at once rather than read.
        let out = d
            .finops()
            .arg("ingest")
            .arg(&fifo)
            .timeout(Duration::from_secs(60))
            .assert()
            .code(2);
        assert!(stderr(&out).contains("a named pipe"), "{}", stderr(&out));
    }
}

#[test]
fn defect_06_reports_answer_during_an_ingest_and_on_a_read_only_store() {
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    let big = crate::store::big_log(&d, "big.csv", 600_000, "0.001");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("finops"))
        .current_dir(d.path())
        .args(["ingest", "--no-progress", "-q"])
        .arg(&big)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let staging = d.path().join(".finops/staging");
    let start = Instant::now();
    while std::fs::read_dir(&staging).map_or(true, |mut it| it.next().is_none())
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    // While the writer holds its lock, a report reads the last committed state.
    let out = d
        .finops()
        .args(["chargeback", "--month", "2026-10", "--format", "json"])
        .assert()
        .success();
    let still_running = child.try_wait().unwrap().is_none();
    assert!(
        still_running,
        "the ingest ended before the report did: make the file bigger"
    );
    let v = json(&out.get_output().stdout);
    // The fixture's own total (docs and tests of #2): 0.058337 before the big file lands.
    assert_eq!(v["reconciliation"]["expected_total_exact"], "0.058337");
    assert!(child.wait().unwrap().success());

    // A read-only store: readers open nothing for writing and create nothing.
    let root = d.path().join(".finops");
    std::fs::remove_file(root.join("lock")).unwrap();
    std::fs::remove_file(root.join("readers.lock")).unwrap();
    let before = d.store_listing();
    set_read_only(&root, true);
    let out = d
        .finops()
        .args(["sources", "--format", "csv"])
        .output()
        .unwrap();
    set_read_only(&root, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!root.join("lock").exists() && !root.join("readers.lock").exists());
    assert_eq!(before, d.store_listing());
}

/// Makes a tree read-only (or writable again). Root ignores modes, so there the test above
/// checks the stronger property that readers create nothing at all.
fn set_read_only(dir: &Path, ro: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut stack = vec![dir.to_path_buf()];
        let mut all: Vec<PathBuf> = Vec::new();
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                for e in std::fs::read_dir(&p).unwrap() {
                    stack.push(e.unwrap().path());
                }
            }
            all.push(p);
        }
        // Directories last when locking, first when unlocking.
        if !ro {
            all.reverse();
        }
        for p in all {
            let mode = match (p.is_dir(), ro) {
                (true, true) => 0o555,
                (true, false) => 0o755,
                (false, true) => 0o444,
                (false, false) => 0o644,
            };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

#[test]
fn defect_07_malformed_quoting_is_refused_with_its_line() {
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,\"r1\"x,1.5,USD\n2026-10-01T00:00:01Z,openai,gpt-4o,\"r2\" ,\"2.5\"9,USD\n2026-10-01T00:00:02Z,openai,gpt-4o,r3,1,USD\n"),
    );
    let out = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&out);
    assert!(
        err.contains("log.csv: line 2: malformed quoting: text after the closing quote"),
        "{err}"
    );
    assert!(err.contains("also line 3: malformed quoting"), "{err}");
    assert!(err.contains("fix: quote a value whole"), "{err}");
    // With --skip-invalid only the well-formed row lands; 2.59 is never read.
    d.finops()
        .args(["ingest", "--skip-invalid"])
        .arg(&p)
        .assert()
        .success();
    assert_eq!(store_total(&d, "USD"), atto("1"));
    // A quote that never closes is blamed on the line where it opens.
    let p = d.write(
        "open.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r9,\"1.5,USD\n2026-10-01T00:00:01Z,openai,gpt-4o,r10,1,USD\n"),
    );
    let out = d.finops().arg("ingest").arg(&p).assert().code(2);
    assert!(
        stderr(&out)
            .contains("open.csv: line 2: malformed quoting: a quoted value that is never closed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn defect_08_errors_name_the_file_the_place_and_the_fix() {
    let d = Dir::new();
    // --store pointing at a file.
    let f = d.write("not-a-dir", "x");
    let log = fixture("usage-log/requests-2026-10.csv");
    let log = log.to_str().unwrap();
    for cmd in [&["sources"][..], &["ingest", log]] {
        let out = d.finops().arg("--store").arg(&f).args(cmd).assert().code(2);
        assert!(
            stderr(&out).contains("not-a-dir is a file, not a directory; point --store"),
            "{}",
            stderr(&out)
        );
    }
    // A [[mapping]] naming a folder, or a binary file.
    std::fs::create_dir_all(d.path().join("maps")).unwrap();
    d.write("bin.csv", [0u8, 159, 146, 150, 0, 1, 2]);
    for (file, says) in [
        ("maps", "not a regular file"),
        ("bin.csv", "not UTF-8 text"),
    ] {
        d.write(
            "finops.toml",
            format!("[[mapping]]\nfile = \"{file}\"\nkey = \"api_key_id\"\n"),
        );
        let out = d.finops().arg("sources").assert().code(2);
        let err = stderr(&out);
        assert!(
            err.contains("finops.toml: line 3, key `mapping.file`") && err.contains(says),
            "{err}"
        );
    }
    // A missing [pricing] file is the config's fault, named with its key and line.
    d.write("finops.toml", "[pricing]\nfile = \"prices.json\"\n");
    let out = d
        .finops()
        .arg("ingest")
        .arg(fixture("usage-log/requests-2026-10.csv"))
        .assert()
        .code(2);
    let err = stderr(&out);
    assert!(
        err.contains("finops.toml: line 2, key `pricing.file`") && err.contains("prices.json"),
        "{err}"
    );
    assert!(!err.contains("--skip-invalid"), "{err}");
    std::fs::remove_file(d.path().join("finops.toml")).unwrap();
    // A truncated .gz: the place is the last line read, not "line 0".
    let mut text = String::from(LOG_HEAD);
    for i in 0..20_000 {
        text.push_str(&format!(
            "2026-10-01T00:00:00Z,openai,gpt-4o,r{i},0.5,USD\n"
        ));
    }
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let p = d.write("cut.csv.gz", &gz[..gz.len() / 2]);
    let out = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&out);
    assert!(
        err.contains("cut.csv.gz: cannot read past line") && err.contains("download it again"),
        "{err}"
    );
    assert!(!err.contains("line 0"), "{err}");
    // A 1 MB cell is cut short in the message (the rejects file keeps it whole).
    let huge = "9".repeat(1_000_000) + "x";
    let p = d.write(
        "huge.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,{huge},USD\n"),
    );
    let out = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&out);
    assert!(err.len() < 2_000, "{} bytes of error", err.len());
    assert!(err.contains("(1000001 characters in all)"), "{err}");
    // Grammar and fixes for amounts.
    let p = d.write(
        "eur.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,\"€10,000.00\",USD\n2026-10-01T00:00:01Z,openai,gpt-4o,r2,1e30,USD\n"),
    );
    let out = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&out);
    assert!(
        err.contains(
            "\"€10,000.00\" has the currency symbol '€', which does not match the row's currency"
        ),
        "{err}"
    );
    assert!(err.contains("fix: check the currency column"), "{err}");
    assert!(err.contains("also line 3: \"1e30\" is too large"), "{err}");
    // The rejects file says how to fix every row.
    let out = d
        .finops()
        .args(["ingest", "--skip-invalid", "--format", "json"])
        .arg(&p)
        .assert()
        .code(2); // every row rejected: nothing to land
    assert!(stderr(&out).contains("no valid rows"), "{}", stderr(&out));
    let p = d.write(
        "mixed.csv",
        format!("{LOG_HEAD}2026-10-01T00:00:00Z,openai,gpt-4o,r1,abc,USD\n2026-10-01T00:00:01Z,openai,gpt-4o,r2,1,USD\n2026-10-01T00:00:02Z,openai,gpt-4o,r3,1,XY\n"),
    );
    let out = d
        .finops()
        .args(["ingest", "--skip-invalid", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    let v = json(&out.get_output().stdout);
    let note = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|n| {
            n.as_str()?
                .strip_prefix("rejected rows and their reasons: ")
        })
        .unwrap()
        .to_string();
    let mut r = csv::Reader::from_path(d.path().join(note)).unwrap();
    let fixes: Vec<String> = r.records().map(|x| x.unwrap()[4].to_string()).collect();
    assert_eq!(fixes.len(), 2);
    assert!(fixes.iter().all(|f| !f.is_empty()), "{fixes:?}");
}

#[test]
fn defect_09_config_refuses_unknown_mapping_teams_negative_budgets_and_empty_names() {
    let d = Dir::new();
    d.write("keys.csv", "api_key_id,team\nkey_1,search\nkey_2,serch\n");
    let check = |toml: &str, says: &[&str]| {
        d.write("finops.toml", toml);
        let out = d.finops().arg("sources").assert().code(2);
        let err = stderr(&out);
        for s in says {
            assert!(err.contains(s), "{toml}\n{err}");
        }
    };
    check(
        "[[team]]\nname = \"search\"\n[[mapping]]\nfile = \"keys.csv\"\nkey = \"api_key_id\"\n",
        &[
            "keys.csv: line 3, column \"team\": unknown team \"serch\"",
            "add a [[team]]",
        ],
    );
    check(
        "[[team]]\nname = \"search\"\nbudget = -100\n",
        &["line 3, key `team.budget`: -100 is negative"],
    );
    check(
        "[[team]]\nname = \"\"\n",
        &["line 2, key `team.name`: the name \"\" is empty"],
    );
    check(
        "[[team]]\nname = \"a\"\n[[feature]]\nname = \"f\"\nteam = \"a\"\nsession_cap = 0\n",
        &["line 6, key `feature.session_cap`: 0 is zero"],
    );
    check(
        "[[team]]\nname = \"(unattributed)\"\n",
        &["starts with '('"],
    );
    // Without [[team]]s a mapping may name any team, as a [[rule]] may.
    d.write(
        "finops.toml",
        "[[mapping]]\nfile = \"keys.csv\"\nkey = \"api_key_id\"\n",
    );
    d.finops().args(["init"]).assert().success();
}

#[test]
fn defect_10_json_lines_blank_lines_duplicate_keys_epochs_and_currency_codes() {
    let d = Dir::new();
    // Leading blank lines, like blank lines elsewhere, are skipped.
    let p = d.write(
        "lead.jsonl",
        "\n\n   \n{\"timestamp\": \"2026-10-01T00:00:00Z\", \"model\": \"gpt-4o\", \"request_id\": \"a\", \"cost\": 1.25}\n\n{\"timestamp\": 1759276801, \"model\": \"gpt-4o\", \"request_id\": \"b\", \"cost\": 0.75}\n",
    );
    d.ingest(&p);
    assert_eq!(store_total(&d, "USD"), atto("2"));
    // Unix seconds (documented): 1759276801 is 2025-10-01T00:00:01Z.
    let ts: Vec<i64> = store_rows(&d).iter().map(|r| r.charge_start).collect();
    assert!(ts.contains(&1_759_276_801_000_000), "{ts:?}");
    // A key given twice is refused, at any depth.
    let p = d.write(
        "dup.jsonl",
        "{\"timestamp\": \"2026-10-01T00:00:00Z\", \"model\": \"gpt-4o\", \"cost\": 1, \"cost\": 100}\n{\"timestamp\": \"2026-10-01T00:00:00Z\", \"model\": \"gpt-4o\", \"cost\": 1, \"tags\": {\"team\": \"a\", \"team\": \"b\"}}\n",
    );
    let out = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&out);
    assert!(
        err.contains("dup.jsonl: line 1: the key \"cost\" appears twice in one object"),
        "{err}"
    );
    assert!(
        err.contains("also line 2: the key \"team\" appears twice"),
        "{err}"
    );
    // A currency code ISO 4217 does not list is kept, with a warning.
    let p = d.write(
        "xyz.jsonl",
        "{\"timestamp\": \"2026-10-01T00:00:00Z\", \"model\": \"gpt-4o\", \"request_id\": \"c\", \"cost\": 1, \"currency\": \"XYZ\"}\n",
    );
    let out = d.ingest(&p);
    assert!(
        stderr(&out).contains("xyz.jsonl: currency code(s) XYZ (1 row(s)) are not in ISO 4217"),
        "{}",
        stderr(&out)
    );
    assert_eq!(store_total(&d, "XYZ"), atto("1"));
}

#[test]
fn defect_11_tables_fit_the_terminal_and_are_whole_when_redirected() {
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    // Redirected with --format table: as wide as the content.
    let out = d
        .finops()
        .args(["sources", "--format", "table"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest > 120, "{widest}");
    // On a terminal (a pty from `script`), 100 columns: every line fits.
    let bin = assert_cmd::cargo::cargo_bin("finops");
    for columns in [120, 100] {
        let Ok(out) = std::process::Command::new("script")
            .args(["-q", "-e", "-c"])
            .arg(format!("{} sources", bin.display()))
            .arg("/dev/null")
            .current_dir(d.path())
            .env("COLUMNS", columns.to_string())
            .env("NO_COLOR", "1")
            .env_remove("FINOPS_STORE")
            .env_remove("FINOPS_CONFIG")
            .env_remove("FINOPS_FORMAT")
            .output()
        else {
            return; // no `script` on this machine
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        // The path is shortened to its last parts; the numbers are whole.
        assert!(text.contains("…/"), "{text}");
        assert!(text.contains("0.06 USD"), "{text}");
        for line in text.lines() {
            assert!(
                line.chars().count() <= columns,
                "{}: {line}",
                line.chars().count()
            );
        }
    }
}

#[test]
fn a_damaged_parquet_file_is_an_error_never_a_panic() {
    // Found by the fuzz suite: polars panics inside its reader on this file.
    let d = Dir::new();
    let out = d
        .finops()
        .arg("ingest")
        .arg(fixture("hostile/damaged.parquet"))
        .assert()
        .code(2);
    let err = stderr(&out);
    assert!(
        err.contains("damaged.parquet: not a readable Parquet file") && err.contains("fix:"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn parquet_is_streamed_by_row_group_in_file_order() {
    // 1,000 usage-log rows in row groups of 64, typed: times as TIMESTAMP, tokens as
    // INT64, costs as DOUBLE; row 700 has a negative token count. Rows are numbered from 1
    // across the groups, and every valid row lands once.
    let d = Dir::new();
    let n = 1000usize;
    let ts: Vec<i64> = (0..n)
        .map(|i| micros("2026-10-01 00:00:00") + i as i64 * 60_000_000)
        .collect();
    let tokens: Vec<i64> = (0..n)
        .map(|i| if i == 699 { -5 } else { i as i64 })
        .collect();
    // Costs i × 0.001: exact in decimal, and their DOUBLE's shortest text is the decimal.
    let costs: Vec<f64> = (0..n)
        .map(|i| format!("{}e-3", i).parse().unwrap())
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("req_{i}")).collect();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("timestamp".into(), ts)
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                .unwrap(),
            Column::new("request_id".into(), ids),
            Column::new("input_tokens".into(), tokens),
            Column::new("cost".into(), costs),
        ],
    )
    .unwrap();
    let p = d.path().join("log.parquet");
    ParquetWriter::new(std::fs::File::create(&p).unwrap())
        .with_row_group_size(Some(64))
        .finish(&mut df)
        .unwrap();
    let a = d
        .finops()
        .args(["ingest", "--skip-invalid", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["format"], "usage-log");
    assert_eq!(v["rows"][0]["rows"], 999);
    assert_eq!(v["rows"][0]["rejected"], 1);
    let rejects = std::fs::read_dir(d.path().join(".finops/rejects"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    let line = rejects.lines().nth(1).unwrap_or_default().to_string();
    assert!(line.starts_with("700,input_tokens,-5,"), "{rejects}");
    // Σ i × 0.001 for i in 0..1000 except 699 = (499500 − 699) / 1000.
    assert_eq!(store_total(&d, "USD"), atto("498.801"));
}

#[test]
fn tag_columns_with_control_characters_keep_their_own_tags() {
    // Tag sets are memoised by their cells' text; a cell holding the control character
    // that once separated the parts must not make two different rows' keys equal.
    use crate::store_table::{table, text};
    let d = Dir::new();
    let p = d.write(
        "log.csv",
        "timestamp,cost,request_id,tag:a,tag:b\n\
         2026-10-01T00:00:00Z,1,r1,\"x\u{1f}y\",\n\
         2026-10-01T00:00:01Z,1,r2,x,\"y\u{1f}\"\n",
    );
    d.ingest(&p);
    let rows = table(&d);
    let tags = |req: &str| {
        rows.iter()
            .find(|r| text(r, "request_id") == req)
            .map(|r| text(r, "tags").to_string())
            .unwrap()
    };
    assert_eq!(tags("r1"), r#"{"a":"x\u001fy"}"#);
    assert_eq!(tags("r2"), r#"{"a":"x","b":"y\u001f"}"#);
}
