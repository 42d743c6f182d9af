//! OCI cost reports (docs/formats/oracle.md) against fixtures/oracle/expected.json
//! (fixtures/oracle/check.py, Python decimals).

use std::collections::BTreeMap;

use crate::formats_aws::{cloud_rows, expected, last_totals};
use crate::util::{atto, fixture, json, stderr, Dir};

fn totals(e: &serde_json::Value) -> BTreeMap<String, String> {
    serde_json::from_value(e["totals_18"].clone()).unwrap()
}

fn by_team(d: &Dir) -> BTreeMap<String, i128> {
    let mut m = BTreeMap::new();
    for r in cloud_rows(d) {
        *m.entry(r.tags.get("team").cloned().unwrap_or("(none)".into()))
            .or_default() += r.cost;
    }
    m
}

fn want_team(e: &serde_json::Value) -> BTreeMap<String, i128> {
    e["by_team"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), atto(v.as_str().unwrap())))
        .collect()
}

#[test]
fn oci_real_sample_total_is_its_column_sum() {
    let rel = "focus-converters/reports_cost-csv_0000000030000269-first21.csv";
    let e = &expected("oracle")[rel];
    for forced in [false, true] {
        let d = Dir::new();
        let mut c = d.finops();
        c.args(["ingest", "--format", "json"]);
        if forced {
            c.args(["--source", "oci-cost"]);
        }
        let out = c.arg(fixture(&format!("oracle/{rel}"))).assert().success();
        assert_eq!(
            json(&out.get_output().stdout)["rows"][0]["format"],
            "oci-cost"
        );
        assert_eq!(last_totals(&d), totals(e));
        assert_eq!(e["totals"], e["column_total"]);
        let rows = cloud_rows(&d);
        assert_eq!(rows.len(), 21);
        let tags: std::collections::BTreeSet<String> = rows
            .iter()
            .flat_map(|r| r.tags.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        let want: std::collections::BTreeSet<String> =
            serde_json::from_value(e["tags"].clone()).unwrap();
        assert_eq!(tags, want);
    }
}

/// A correction restates the line it points to: counted once, never on top.
#[test]
fn oci_corrections_replace_the_lines_they_restate() {
    let ex = expected("oracle");
    let d = Dir::new();
    // In one file: the corrected line is kept at 0, the correction counts.
    d.ingest(fixture("oracle/cost-2026-06.csv"));
    let e = &ex["cost-2026-06.csv"];
    assert_eq!(last_totals(&d), totals(e));
    assert_ne!(e["totals"], e["column_total"]);
    assert_eq!(by_team(&d), want_team(e));
    assert_eq!(cloud_rows(&d).len(), 11);
    // A later file corrects a line of the first: it replaces it in the store.
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture("oracle/cost-2026-06-corrections.csv"))
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["rows"][0]["replaced"], 1);
    let all = &ex["store after cost-2026-06.csv then cost-2026-06-corrections.csv"];
    let mut sum: BTreeMap<String, i128> = BTreeMap::new();
    for r in cloud_rows(&d) {
        *sum.entry(r.currency).or_default() += r.cost;
    }
    let want: BTreeMap<String, i128> = totals(all)
        .into_iter()
        .map(|(k, v)| (k, atto(&v)))
        .collect();
    assert_eq!(sum, want);
    assert_eq!(by_team(&d), want_team(all));
}

#[test]
fn oci_usage_report_is_refused_with_the_fix() {
    let d = Dir::new();
    let p = d.write(
        "usage.csv",
        "lineItem/referenceNo,lineItem/tenantId,lineItem/intervalUsageStart,lineItem/intervalUsageEnd,product/service,usage/consumedQuantity,usage/billedQuantity\r\nabc,t,2026-06-01T10:00Z,2026-06-01T11:00:00Z,COMPUTE,1,1\r\n",
    );
    let err = stderr(
        &d.finops()
            .args(["ingest", "--source", "oci-cost"])
            .arg(&p)
            .assert()
            .code(2),
    );
    assert!(
        err.contains("usage.csv") && err.contains("cost/myCost"),
        "{err}"
    );
    assert!(err.contains("usage report"), "{err}");
}

#[test]
fn oci_bad_cost_cell_names_the_place() {
    let d = Dir::new();
    let text = std::fs::read_to_string(fixture("oracle/cost-2026-06.csv")).unwrap();
    let p = d.write(
        "cost.csv",
        text.replacen("0.187500000000000000", "0.18x75", 1),
    );
    let err = stderr(&d.finops().arg("ingest").arg(&p).assert().code(2));
    // The file has CRLF line ends: the CSV reader's line numbers there are one short
    // (the same with FOCUS files; reported), so only "line" is checked here.
    assert!(err.contains("cost.csv") && err.contains("line "), "{err}");
    assert!(
        err.contains("cost/myCost") && err.contains("0.18x75"),
        "{err}"
    );
}
