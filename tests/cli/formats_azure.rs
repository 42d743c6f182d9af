//! Azure cost details exports (docs/formats/azure.md) against
//! fixtures/azure/expected.json (fixtures/azure/check.py, Python decimals).

use crate::formats_aws::{check_against, cloud_rows, expected};
use crate::util::{fixture, json, stderr, Dir};

fn both_ways(rel: &str) -> Dir {
    let d = Dir::new();
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture(rel))
        .assert()
        .success();
    assert_eq!(
        json(&out.get_output().stdout)["rows"][0]["format"],
        "azure-cost"
    );
    let f = Dir::new();
    f.finops()
        .args(["ingest", "--source", "azure-cost"])
        .arg(fixture(rel))
        .assert()
        .success();
    let ids = |d: &Dir| {
        let mut v: Vec<String> = cloud_rows(d).into_iter().map(|r| r.record_id).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&d), ids(&f));
    d
}

fn check(rel: &str) -> Dir {
    let d = both_ways(&format!("azure/{rel}"));
    check_against(&d, &expected("azure")[rel], "team");
    d
}

#[test]
fn azure_ea_actual_with_openai_meters() {
    let d = check("ea-actual-aoai-2026-06.csv");
    // The hourly provisioned (PTU) meter has no tokens and no model.
    let rows = cloud_rows(&d);
    let ptu = rows
        .iter()
        .find(|r| r.cost == crate::util::atto("24"))
        .unwrap();
    assert_eq!((ptu.model.as_str(), ptu.input, ptu.output), ("", 0, 0));
    assert!(rows.iter().any(|r| r.category == "purchase"));
    assert!(rows.iter().any(|r| r.category == "credit"));
}

#[test]
fn azure_mca_amortized_camel_case_headers() {
    check("mca-amortized-2026-06.csv");
}

#[test]
fn azure_pay_as_you_go_layout() {
    check("payg-usage-2020-03.csv");
}

#[test]
fn azure_localised_headers_match_on_the_bracketed_name() {
    check("localised-de-2026-06.csv");
}

#[test]
fn azure_real_toolkit_samples_total_their_cost_column() {
    check("finops-toolkit/EA_ActualCost_Small.csv");
    // Amounts with 22 and 28 decimals: the store keeps 18 (rounded half to even), and
    // the total equals the exact column sum rounded to 18 places.
    let d = check("finops-toolkit/EA_AmortizedCost_Small.csv");
    let e = &expected("azure")["finops-toolkit/EA_AmortizedCost_Small.csv"];
    assert_eq!(e["totals"]["USD"], "16.2969321366366446274854190000");
    assert_eq!(
        crate::formats_aws::last_totals(&d)["USD"],
        "16.296932136636644627"
    );
}

#[test]
fn azure_header_only_export_is_a_warning() {
    let d = Dir::new();
    let a = d
        .finops()
        .arg("ingest")
        .arg(fixture("azure/finops-toolkit/EA_NoRows.csv"))
        .assert()
        .success();
    assert!(
        stderr(&a).contains("no rows (header only)"),
        "{}",
        stderr(&a)
    );
}

#[test]
fn azure_missing_cost_column_is_named() {
    let d = Dir::new();
    let p = d.write(
        "ea.csv",
        "Date,MeterCategory,MeterName,Quantity,BillingCurrency\n06/03/2026,Storage,LRS,1,EUR\n",
    );
    let err = stderr(
        &d.finops()
            .args(["ingest", "--source", "azure-cost"])
            .arg(&p)
            .assert()
            .code(2),
    );
    assert!(err.contains("ea.csv"), "{err}");
    assert!(
        err.contains("without required column(s) CostInBillingCurrency (or Cost, PreTaxCost)"),
        "{err}"
    );
}

#[test]
fn azure_bad_date_and_tags_name_the_place() {
    let d = Dir::new();
    let h = "Date,MeterCategory,MeterName,Quantity,Cost,BillingCurrency,Tags\n";
    let p = d.write(
        "dates.csv",
        format!("{h}06/03/2026,Storage,LRS,1,1.5,EUR,\n31/06/2026,Storage,LRS,1,2,EUR,\n"),
    );
    let err = stderr(&d.finops().arg("ingest").arg(&p).assert().code(2));
    assert!(err.contains("dates.csv") && err.contains("line 3"), "{err}");
    assert!(err.contains("Date") && err.contains("31/06/2026"), "{err}");
    let p = d.write(
        "tags.csv",
        format!("{h}06/03/2026,Storage,LRS,1,1.5,EUR,\"\"\"team\"\": \"\"search\"\n"),
    );
    let err = stderr(&d.finops().arg("ingest").arg(&p).assert().code(2));
    assert!(
        err.contains("tags.csv") && err.contains("line 2") && err.contains("Tags"),
        "{err}"
    );
}
