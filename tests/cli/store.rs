//! Crash safety and concurrency of the store (SPEC §2.3, §7).

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{atto, fixture, json, store_rows, store_total, Dir};

/// A request log big enough that its ingest takes a while (≈ `n` rows).
fn big_log(d: &Dir, name: &str, n: usize, cost: &str) -> PathBuf {
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
    // `sources` reads the store; it holds nothing of the killed batch.
    let a = d
        .finops()
        .args(["sources", "--format", "json"])
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert!(!staging.exists(), "staging leftovers are cleaned");
    assert_eq!(before, d.store_listing(), "the store is as it was");
    // And the same file ingests fine afterwards.
    d.ingest(&big);
    assert_eq!(store_rows(&d).len(), 400_008);
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
fn a_crash_after_the_commit_point_is_rolled_forward() {
    // Simulate a kill between the manifest rename and moving the files into place: the
    // manifest lists a file that is still in staging.
    let d = Dir::new();
    d.ingest(fixture("usage-log/requests-2026-10.csv"));
    let m = d.manifest();
    let f = &m["files"][0];
    let rel = f["path"].as_str().unwrap();
    let batch = f["batch_id"].as_str().unwrap();
    let root = d.path().join(".finops");
    let staged = root.join("staging").join(batch).join(rel);
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::rename(root.join(rel), &staged).unwrap();
    // A leftover of some other, uncommitted batch, and a stray data file.
    std::fs::create_dir_all(root.join("staging/other/data/usage/2026-10")).unwrap();
    std::fs::write(
        root.join("staging/other/data/usage/2026-10/x.parquet"),
        b"junk",
    )
    .unwrap();
    std::fs::write(root.join("data/usage/2026-10/stray.parquet"), b"junk").unwrap();
    d.finops()
        .args(["sources", "--format", "csv"])
        .assert()
        .success();
    assert!(
        root.join(rel).exists(),
        "the committed file was moved into place"
    );
    assert!(!root.join("staging").exists());
    assert!(!root.join("data/usage/2026-10/stray.parquet").exists());
    assert_eq!(store_total(&d, "USD"), atto("0.058337"));
}
