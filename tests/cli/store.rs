//! Crash safety and concurrency of the store (SPEC §2.3, §7).

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{atto, fixture, json, store_rows, store_total, Dir};

/// A request log big enough that its ingest takes a while (≈ `n` rows).
pub fn big_log(d: &Dir, name: &str, n: usize, cost: &str) -> PathBuf {
    let p = d.path().join(name);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(w, "timestamp,provider,model,request_id,session_id,input_tokens,output_tokens,cost,currency,tag:team").unwrap();
    for i in 0..n {
        let day = 1 + (i % 28);
        writeln!(
            w,
            "2026-10-{day:02}T{:02}:{:02}:{:02}Z,openai,gpt-4o-mini,{name}-{i},s{},1200,300,{cost},USD,team{}",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            i / 7,
            i % 12
        )
        .unwrap();
    }
    w.flush().unwrap();
    p
}

#[test]
fn sigkill_midway_leaves_the_store_as_it_was() {
    let d = Dir::new();
    // A committed batch first: it must survive untouched.
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    let before = d.store_listing();
    let big = big_log(&d, "big.csv", 400_000, "0.001");
    let bin = assert_cmd::cargo::cargo_bin("finops");
    let mut child = std::process::Command::new(bin)
        .current_dir(d.path())
        .args(["ingest", "--no-progress", "-q"])
        .arg(&big)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is writing Parquet into staging, then kill it.
    let start = Instant::now();
    let staging = d.path().join(".finops/staging");
    loop {
        let writing = std::fs::read_dir(&staging)
            .ok()
            .and_then(|mut it| it.next())
            .is_some();
        if writing || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !finished_early,
        "the ingest ended before it could be killed; make the file bigger"
    );
    // `sources` reads the store; it holds nothing of the killed batch. Readers never
    // write: the killed batch's leftovers wait for the next writer.
    let a = d
        .finops()
        .args(["sources", "--format", "json"])
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    let listed = |d: &Dir| -> Vec<(String, Vec<u8>)> {
        let m = d.manifest();
        let mut out: Vec<(String, Vec<u8>)> = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let rel = f["path"].as_str().unwrap().to_string();
                let bytes = std::fs::read(d.path().join(".finops").join(&rel)).unwrap();
                (rel, bytes)
            })
            .collect();
        out.push((
            "manifest.json".into(),
            std::fs::read(d.path().join(".finops/manifest.json")).unwrap(),
        ));
        out
    };
    let committed: Vec<(String, Vec<u8>)> = before
        .iter()
        .filter(|(p, _)| p.starts_with("data/") || p == "manifest.json")
        .cloned()
        .collect();
    let mut now = listed(&d);
    now.sort();
    assert_eq!(committed, now, "the store's committed content is as it was");
    // The next writer cleans up and the same file ingests fine.
    d.ingest(&big);
    assert!(
        !staging.exists(),
        "staging leftovers are cleaned by the next writer"
    );
    assert_eq!(store_rows(&d).len(), 400_008);
    let unlisted: Vec<String> = d
        .store_listing()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("data/"))
        .filter(|p| {
            !d.manifest()["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"] == p.as_str())
        })
        .collect();
    assert!(unlisted.is_empty(), "{unlisted:?}");
}

#[test]
fn two_ingests_at_once_both_end_correctly() {
    let d = Dir::new();
    let a = big_log(&d, "a.csv", 60_000, "0.01");
    let b = big_log(&d, "b.csv", 60_000, "0.02");
    let bin = assert_cmd::cargo::cargo_bin("finops");
    let spawn = |p: &PathBuf| {
        std::process::Command::new(&bin)
            .current_dir(d.path())
            .args(["ingest", "--no-progress"])
            .arg(p)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (ca, cb) = (spawn(&a), spawn(&b));
    let (oa, ob) = (
        ca.wait_with_output().unwrap(),
        cb.wait_with_output().unwrap(),
    );
    assert!(
        oa.status.success(),
        "{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    assert!(
        ob.status.success(),
        "{}",
        String::from_utf8_lossy(&ob.stderr)
    );
    assert_eq!(d.manifest()["batches"].as_array().unwrap().len(), 2);
    // 60000 × 0.01 + 60000 × 0.02
    assert_eq!(store_total(&d, "USD"), atto("1800"));
    assert_eq!(store_rows(&d).len(), 120_000);
}

#[test]
fn the_same_file_twice_at_once_is_ingested_once() {
    let d = Dir::new();
    let a = big_log(&d, "a.csv", 30_000, "0.01");
    let bin = assert_cmd::cargo::cargo_bin("finops");
    let spawn = || {
        std::process::Command::new(&bin)
            .current_dir(d.path())
            .args(["ingest", "--no-progress", "--format", "json"])
            .arg(&a)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (c1, c2) = (spawn(), spawn());
    let (o1, o2) = (
        c1.wait_with_output().unwrap(),
        c2.wait_with_output().unwrap(),
    );
    assert!(o1.status.success() && o2.status.success());
    let mut statuses = vec![
        json(&o1.stdout)["rows"][0]["status"]
            .as_str()
            .unwrap()
            .to_string(),
        json(&o2.stdout)["rows"][0]["status"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    statuses.sort();
    assert_eq!(statuses, ["ingested", "unchanged"]);
    assert_eq!(store_rows(&d).len(), 30_000);
}

#[test]
fn leftovers_of_a_crash_are_invisible_to_readers_and_cleaned_by_the_next_writer() {
    // A kill before the commit point leaves staging files and, once they were moved,
    // unlisted files in data/: readers go by the manifest, the next writer deletes them.
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    let root = d.path().join(".finops");
    std::fs::create_dir_all(root.join("staging/other/data/usage/2026-10")).unwrap();
    std::fs::write(
        root.join("staging/other/data/usage/2026-10/x.parquet"),
        b"junk",
    )
    .unwrap();
    std::fs::write(root.join("data/usage/2026-10/stray.parquet"), b"junk").unwrap();
    let before = d.store_listing();
    d.finops()
        .args(["chargeback", "--month", "2026-10", "--format", "csv"])
        .assert()
        .success();
    assert_eq!(before, d.store_listing(), "a reader writes nothing");
    d.ingest(fixture("usage-log/requests-2026-10.jsonl"));
    assert!(!root.join("staging").exists());
    assert!(!root.join("data/usage/2026-10/stray.parquet").exists());
}

#[test]
fn a_listed_file_that_is_missing_is_reported_as_damage() {
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    let rel = d.manifest()["files"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(d.path().join(".finops").join(&rel)).unwrap();
    let a = d.finops().args(["sources"]).assert().code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("damaged") && err.contains(&rel), "{err}");
}

/// Copies the layout-2 store of `fixtures/store-layout-2` into `d` as its `.finops`.
fn layout_2_store(d: &Dir) {
    let from = fixture("store-layout-2/store");
    let mut stack = vec![from.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let to = d
                .path()
                .join(".finops")
                .join(p.strip_prefix(&from).unwrap());
            if p.is_dir() {
                std::fs::create_dir_all(&to).unwrap();
                stack.push(p);
            } else {
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&p, &to).unwrap();
            }
        }
    }
}

/// The usage rows' record ids of a layout-2 store, read as the text it stored.
fn layout_2_usage_ids(d: &Dir) -> std::collections::BTreeMap<String, String> {
    use polars::prelude::{ParquetReader, SerReader};
    let mut out = std::collections::BTreeMap::new();
    for f in d.manifest()["files"].as_array().unwrap() {
        let path = d.path().join(".finops").join(f["path"].as_str().unwrap());
        let df = ParquetReader::new(std::fs::File::open(path).unwrap())
            .finish()
            .unwrap();
        let ids = df.column("record_id").unwrap().str().unwrap().clone();
        let reqs = df.column("request_id").unwrap().str().unwrap().clone();
        for (id, req) in ids.iter().zip(reqs.iter()) {
            if let Some(req) = req {
                out.insert(req.to_string(), id.unwrap().to_string());
            }
        }
    }
    out
}

fn chargeback_csv(d: &Dir) -> String {
    let a = d
        .finops()
        .args(["chargeback", "--month", "2026-10", "--format", "csv"])
        .assert()
        .success();
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

#[test]
fn a_layout_2_store_is_read_as_it_is_and_upgraded_by_the_next_ingest() {
    // The same two files in a fresh store: what every report must say.
    let fresh = Dir::new();
    fresh.ingest(fixture("chargeback/bill-2026-10.csv"));
    fresh.ingest(fixture("usage-log/requests-2026-10.csv"));
    let expected = chargeback_csv(&fresh);
    assert!(expected.contains("274.00"), "{expected}");

    let d = Dir::new();
    layout_2_store(&d);
    assert_eq!(d.manifest()["format_version"], 2);
    let old_ids = layout_2_usage_ids(&d);
    assert_eq!(old_ids.len(), 8, "{old_ids:?}");
    assert_eq!(old_ids["req_0001"], "62a64530db27e127c789ece1ced81c02");
    // Reports read a layout-2 store without writing to it.
    let listing = d.store_listing();
    assert_eq!(chargeback_csv(&d), expected);
    d.finops()
        .args(["simulate", "--session-cap", "0.01", "--format", "csv"])
        .assert()
        .success();
    assert_eq!(d.store_listing(), listing, "a report changed the store");

    // The next ingest upgrades it: the JSON Lines twin of the request log restates its
    // eight requests, found under their old ids.
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture("usage-log/requests-2026-10.jsonl"))
        .assert()
        .success();
    let err = crate::util::stderr(&a);
    assert!(
        err.contains("upgrading the store") && err.contains("from layout 2 to 3"),
        "{err}"
    );
    let out = json(&a.get_output().stdout);
    assert_eq!(out["rows"][0]["replaced"], 8, "{out}");
    let m = d.manifest();
    assert_eq!(m["format_version"], 3);
    let rows = store_rows(&d);
    assert_eq!(rows.len(), 9 + 8);
    for (req, id) in &old_ids {
        let now: Vec<&String> = rows
            .iter()
            .filter(|r| r.request_id.as_deref() == Some(req.as_str()))
            .map(|r| &r.record_id)
            .collect();
        assert_eq!(now, vec![id], "{req}");
    }
    assert_eq!(chargeback_csv(&d), expected);
    // Only the listed files are left: the layout-2 files went.
    let listed: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let on_disk: Vec<String> = d
        .store_listing()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("data/"))
        .collect();
    assert_eq!(on_disk.len(), listed.len(), "{on_disk:?} vs {listed:?}");
    assert!(on_disk.iter().all(|p| listed.contains(&p.as_str())));
}
