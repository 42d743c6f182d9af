//! AWS Cost and Usage Reports (docs/formats/aws.md) against fixtures/aws/expected.json,
//! which fixtures/aws/check.py computes independently (Python decimals).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::util::{atto, fixture, json, stderr, Dir};

/// A stored row, with the columns these tests check.
#[derive(Debug, Clone)]
pub struct CloudRow {
    pub record_id: String,
    pub cost: i128,
    pub effective: Option<i128>,
    pub currency: String,
    pub category: String,
    pub model: String,
    pub input: i64,
    pub cached: i64,
    pub cache_write: i64,
    pub output: i64,
    pub tags: BTreeMap<String, String>,
}

/// Every live row of the store, read from its Parquet files.
pub fn cloud_rows(d: &Dir) -> Vec<CloudRow> {
    use polars::prelude::{ParquetReader, SerReader};
    let m = d.manifest();
    let mut out = Vec::new();
    for f in m["files"].as_array().unwrap() {
        let path = d.path().join(".finops").join(f["path"].as_str().unwrap());
        let df = ParquetReader::new(std::fs::File::open(path).unwrap())
            .finish()
            .unwrap();
        let s = |c: &str| df.column(c).unwrap().str().unwrap().clone();
        let dec = |c: &str| {
            let d = df.column(c).unwrap().decimal().unwrap().clone();
            assert_eq!(d.scale(), 18);
            d.physical().clone()
        };
        let int = |c: &str| df.column(c).unwrap().i64().unwrap().clone();
        let (ids, cur, cat, model, tags) = (
            crate::util::record_id_texts(&df),
            s("currency"),
            s("charge_category"),
            s("model"),
            s("tags"),
        );
        let (cost, eff) = (dec("cost"), dec("effective_cost"));
        let (i, c, w, o) = (
            int("input_tokens"),
            int("cached_input_tokens"),
            int("cache_write_tokens"),
            int("output_tokens"),
        );
        for r in 0..df.height() {
            out.push(CloudRow {
                record_id: ids.get(r).cloned().unwrap(),
                cost: cost.get(r).unwrap(),
                effective: eff.get(r),
                currency: cur.get(r).unwrap_or("").to_string(),
                category: cat.get(r).unwrap_or("").to_string(),
                model: model.get(r).unwrap_or("").to_string(),
                input: i.get(r).unwrap_or(0),
                cached: c.get(r).unwrap_or(0),
                cache_write: w.get(r).unwrap_or(0),
                output: o.get(r).unwrap_or(0),
                tags: tags
                    .get(r)
                    .filter(|t| !t.is_empty())
                    .map(|t| serde_json::from_str(t).unwrap())
                    .unwrap_or_default(),
            });
        }
    }
    out
}

pub fn expected(provider: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{provider}/expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The batch totals of the last ingest, as exact text per currency.
pub fn last_totals(d: &Dir) -> BTreeMap<String, String> {
    let m = d.manifest();
    let b = m["batches"].as_array().unwrap().last().unwrap();
    b["totals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// Checks what every provider's expected.json states for one file.
pub fn check_against(d: &Dir, e: &Value, team_key: &str) {
    let rows = cloud_rows(d);
    assert_eq!(rows.len() as u64, e["rows"].as_u64().unwrap());
    // Exact totals: the manifest's and the stored rows' sums, per currency.
    let want: BTreeMap<String, i128> = e["totals_18"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), atto(v.as_str().unwrap())))
        .collect();
    let got: BTreeMap<String, i128> = last_totals(d)
        .into_iter()
        .map(|(k, v)| (k, atto(&v)))
        .collect();
    assert_eq!(got, want, "manifest totals");
    let mut stored: BTreeMap<String, i128> = BTreeMap::new();
    for r in &rows {
        *stored.entry(r.currency.clone()).or_default() += r.cost;
    }
    assert_eq!(stored, want, "stored totals");
    // Tokens.
    let sum = |f: fn(&CloudRow) -> i64| rows.iter().map(f).sum::<i64>();
    let t = &e["tokens"];
    let n = |k: &str| t[k].as_i64().unwrap_or(0);
    assert_eq!(sum(|r| r.input), n("input_tokens"), "input tokens");
    assert_eq!(sum(|r| r.cached), n("cached_input_tokens"), "cached tokens");
    assert_eq!(
        sum(|r| r.cache_write),
        n("cache_write_tokens"),
        "cache write"
    );
    assert_eq!(sum(|r| r.output), n("output_tokens"), "output tokens");
    let mut by_model: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.input + r.output > 0) {
        let m = by_model.entry(r.model.clone()).or_default();
        if r.input > 0 {
            *m.entry("input".into()).or_default() += r.input;
        }
        if r.output > 0 {
            *m.entry("output".into()).or_default() += r.output;
        }
    }
    let want_models: BTreeMap<String, BTreeMap<String, i64>> =
        serde_json::from_value(e["tokens_by_model"].clone()).unwrap();
    assert_eq!(by_model, want_models, "tokens by model");
    // Tags: every key=value seen, and cost per team.
    let tags: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.tags.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    let want_tags: BTreeSet<String> = serde_json::from_value(e["tags"].clone()).unwrap();
    assert_eq!(tags, want_tags, "tags");
    let mut by_team: BTreeMap<String, i128> = BTreeMap::new();
    for r in &rows {
        let team = r.tags.get(team_key).cloned().unwrap_or("(none)".into());
        let k = if e["by_team"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains('/'))
        {
            format!("{}/{team}", r.currency)
        } else {
            team
        };
        *by_team.entry(k).or_default() += r.cost;
    }
    let want_team: BTreeMap<String, i128> = e["by_team"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), atto(v.as_str().unwrap())))
        .collect();
    assert_eq!(by_team, want_team, "cost by team");
}

fn ingest_both_ways(rel: &str, source: &str) -> Dir {
    // Auto-detected...
    let d = Dir::new();
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(fixture(rel))
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["rows"][0]["format"], source);
    // ...and forced: the same rows.
    let f = Dir::new();
    f.finops()
        .args(["ingest", "--source", source])
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

#[test]
fn aws_legacy_cur_matches_the_independent_answers() {
    let rel = "aws/cur-legacy-2026-06.csv";
    let d = ingest_both_ways(rel, "aws-cur");
    let e = &expected("aws")["cur-legacy-2026-06.csv"];
    check_against(&d, e, "Team");
    // Charge categories, the amortized (effective) total and the tax row's month.
    let rows = cloud_rows(&d);
    let mut cats: BTreeMap<String, i128> = BTreeMap::new();
    for r in &rows {
        *cats.entry(r.category.clone()).or_default() += r.cost;
    }
    let want: BTreeMap<String, i128> = e["by_category"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), atto(v.as_str().unwrap())))
        .collect();
    assert_eq!(cats, want);
    let eff: i128 = rows.iter().map(|r| r.effective.unwrap()).sum();
    assert_eq!(eff, atto(e["effective_total"].as_str().unwrap()));
    // A credit on a token usage type carries the model but no tokens.
    let credit = rows
        .iter()
        .find(|r| r.category == "credit" && r.cost == atto("-5"))
        .unwrap();
    assert_eq!(credit.model, "anthropic.claude-sonnet-4-6");
    assert_eq!(credit.input, 0);
}

#[test]
fn aws_cur2_csv_matches_the_independent_answers() {
    let d = ingest_both_ways("aws/cur2-2026-06.csv", "aws-cur");
    check_against(&d, &expected("aws")["cur2-2026-06.csv"], "team");
}

#[test]
fn aws_real_cur_sample_total_is_its_column_sum() {
    let d = ingest_both_ways(
        "aws/focus-converters/sample-anonymous-aws-export-dataset-first21.csv",
        "aws-cur",
    );
    let e = &expected("aws")["focus-converters/sample-anonymous-aws-export-dataset-first21.csv"];
    check_against(&d, e, "Team");
    // One line item id over three days is three charges.
    assert_eq!(
        cloud_rows(&d)
            .iter()
            .map(|r| &r.record_id)
            .collect::<BTreeSet<_>>()
            .len(),
        21
    );
}

/// The CUR 2.0 CSV written as Parquet the way polars writes a map (a list of key/value
/// structs): the same ids, so the second ingest replaces every row.
#[test]
fn aws_cur2_parquet_dedupes_against_its_csv() {
    use polars::prelude::*;
    let d = Dir::new();
    d.ingest(fixture("aws/cur2-2026-06.csv"));
    let mut r = csv::Reader::from_path(fixture("aws/cur2-2026-06.csv")).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let mut cols = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let cells: Vec<Option<&str>> = recs
            .iter()
            .map(|rec| Some(&rec[i]).filter(|v| !v.is_empty()))
            .collect();
        let col: Column = if h.ends_with("_cost") || h == "line_item_usage_amount" {
            let v: Vec<Option<f64>> = cells
                .iter()
                .map(|c| c.map(|t| t.parse().unwrap()))
                .collect();
            Column::new(h.into(), v)
        } else if h == "resource_tags" {
            let lists: Vec<Option<Series>> = cells
                .iter()
                .map(|c| {
                    c.map(|t| {
                        let m: BTreeMap<String, String> = serde_json::from_str(t).unwrap();
                        let k: Vec<&str> = m.keys().map(String::as_str).collect();
                        let v: Vec<&str> = m.values().map(String::as_str).collect();
                        StructChunked::from_series(
                            "".into(),
                            k.len(),
                            [Series::new("key".into(), k), Series::new("value".into(), v)].iter(),
                        )
                        .unwrap()
                        .into_series()
                    })
                })
                .collect();
            Column::new(h.into(), lists)
        } else {
            Column::new(h.into(), cells)
        };
        cols.push(col);
    }
    let mut df = DataFrame::new(recs.len(), cols).unwrap();
    let p = d.path().join("cur2.parquet");
    ParquetWriter::new(std::fs::File::create(&p).unwrap())
        .finish(&mut df)
        .unwrap();
    let out = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&p)
        .assert()
        .success();
    let row = &json(&out.get_output().stdout)["rows"][0];
    assert_eq!(row["format"], "aws-cur");
    assert_eq!(row["replaced"], 12);
    check_against(&d, &expected("aws")["cur2-2026-06.csv"], "team");
}

/// The fixture as DuckDB writes it (a Parquet MAP column).
#[test]
fn aws_cur2_duckdb_parquet_matches_the_csv() {
    let d = Dir::new();
    d.ingest(fixture("aws/cur2-2026-06.parquet"));
    check_against(&d, &expected("aws")["cur2-2026-06.csv"], "team");
}

#[test]
fn aws_cur2_parquet_with_many_unread_columns_gives_the_same_store() {
    // Real CUR 2.0 exports carry a hundred columns the adapter does not read; they are not
    // decoded, and the rows are the ones the narrow file gives.
    use polars::prelude::{ParquetReader, ParquetWriter, SerReader};
    let d = Dir::new();
    let mut df =
        ParquetReader::new(std::fs::File::open(fixture("aws/cur2-2026-06.parquet")).unwrap())
            .finish()
            .unwrap();
    let n = df.height();
    for k in 0..60 {
        let name = format!("product_extra_attribute_{k}");
        let values: Vec<String> = (0..n).map(|i| format!("value {k}-{i}")).collect();
        df.with_column(polars::prelude::Column::new(name.as_str().into(), values))
            .unwrap();
    }
    let wide = d.path().join("wide.parquet");
    ParquetWriter::new(std::fs::File::create(&wide).unwrap())
        .finish(&mut df)
        .unwrap();
    d.ingest(&wide);
    check_against(&d, &expected("aws")["cur2-2026-06.csv"], "team");
    let narrow = Dir::new();
    narrow.ingest(fixture("aws/cur2-2026-06.parquet"));
    let ids = |d: &Dir| {
        let mut v: Vec<String> = cloud_rows(d).into_iter().map(|r| r.record_id).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&d), ids(&narrow));
}

#[test]
fn aws_missing_required_column_is_named() {
    let d = Dir::new();
    let text = std::fs::read_to_string(fixture("aws/cur-legacy-2026-06.csv")).unwrap();
    let p = d.write(
        "cur.csv",
        text.replacen("lineItem/UnblendedCost", "lineItem/Cost", 1),
    );
    let a = d
        .finops()
        .args(["ingest", "--source", "aws-cur"])
        .arg(&p)
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(err.contains("cur.csv"), "{err}");
    assert!(
        err.contains("without required column(s) lineItem/UnblendedCost"),
        "{err}"
    );
}

#[test]
fn aws_bad_cells_name_file_line_column_and_value() {
    let d = Dir::new();
    let text = std::fs::read_to_string(fixture("aws/cur2-2026-06.csv")).unwrap();
    // A decimal comma in the cost of the 3rd data row (line 4).
    let p = d.write(
        "cost.csv",
        text.replacen(",2.94,2.793,", ",\"2,94\",2.793,", 1),
    );
    let err = stderr(&d.finops().arg("ingest").arg(&p).assert().code(2));
    assert!(err.contains("cost.csv") && err.contains("line 4"), "{err}");
    assert!(
        err.contains("line_item_unblended_cost") && err.contains("2,94"),
        "{err}"
    );
    // A time interval without its end.
    let p = d.write(
        "iv.csv",
        text.replacen(
            "2026-06-03T00:00:00Z/2026-06-04T00:00:00Z",
            "2026-06-03T00:00:00Z",
            1,
        ),
    );
    let err = stderr(&d.finops().arg("ingest").arg(&p).assert().code(2));
    assert!(
        err.contains("identity_time_interval") && err.contains("not a time interval"),
        "{err}"
    );
}

#[test]
fn unknown_cloud_shape_names_the_closest_format() {
    let d = Dir::new();
    let p = d.write(
        "almost-oci.csv",
        "lineItem/referenceNo,lineItem/intervalUsageStart,usage/billedQuantity\nabc,2026-06-01T00:00Z,1\n",
    );
    let err = stderr(&d.finops().arg("ingest").arg(&p).assert().code(2));
    assert!(err.contains("closest known format: oci-cost"), "{err}");
    assert!(err.contains("cost/myCost"), "{err}");
}
