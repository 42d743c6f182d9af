//! OpenAI Costs/Usage API pages and dashboard exports (docs/formats/openai.md) against the
//! independent answers of fixtures/openai/expected.json (Python decimal, check.py).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{atto, fixture, json, stderr, Dir};

/// One stored row, the columns these tests check.
#[derive(Debug, Clone)]
pub struct Stored {
    pub record_id: String,
    pub source_format: String,
    pub kind: String,
    pub provider: String,
    pub charge_start: i64,
    pub charge_end: i64,
    pub billing_period: Option<String>,
    pub model: Option<String>,
    pub sku: Option<String>,
    pub description: Option<String>,
    /// cost × 10^18
    pub cost: i128,
    pub list_cost: Option<i128>,
    pub currency: String,
    pub estimate: bool,
    pub input: Option<i64>,
    pub cached: Option<i64>,
    pub cache_write: Option<i64>,
    pub output: Option<i64>,
    pub requests: Option<i64>,
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub user_id: Option<String>,
    pub billing_account: Option<String>,
    pub tags: Option<String>,
}

/// Every live row of the store, read straight from its Parquet files.
pub fn stored(dir: &Dir) -> Vec<Stored> {
    use polars::prelude::{ParquetReader, SerReader};
    let m = dir.manifest();
    let mut out = Vec::new();
    for f in m["files"].as_array().unwrap() {
        let path = dir.path().join(".finops").join(f["path"].as_str().unwrap());
        let df = ParquetReader::new(std::fs::File::open(path).unwrap())
            .finish()
            .unwrap();
        let s = |n: &str| df.column(n).unwrap().str().unwrap().clone();
        let i = |n: &str| df.column(n).unwrap().i64().unwrap().clone();
        let dec = |n: &str| {
            let c = df.column(n).unwrap().decimal().unwrap().clone();
            assert_eq!(c.scale(), 18);
            c.physical().clone()
        };
        let ts = |n: &str| df.column(n).unwrap().datetime().unwrap().physical().clone();
        let (id, fmt, kind, prov) = (
            crate::util::record_id_texts(&df),
            s("source_format"),
            s("kind"),
            s("provider"),
        );
        let (start, end) = (ts("charge_start"), ts("charge_end"));
        let (bp, model, sku, desc, cur) = (
            s("billing_period"),
            s("model"),
            s("sku"),
            s("description"),
            s("currency"),
        );
        let (cost, list) = (dec("cost"), dec("list_cost"));
        let est = df
            .column("cost_is_estimate")
            .unwrap()
            .bool()
            .unwrap()
            .clone();
        let (inp, cac, cw, outp, req) = (
            i("input_tokens"),
            i("cached_input_tokens"),
            i("cache_write_tokens"),
            i("output_tokens"),
            i("requests"),
        );
        let (proj, key, ws, user, acct, tags) = (
            s("project_id"),
            s("api_key_id"),
            s("workspace_id"),
            s("user_id"),
            s("billing_account"),
            s("tags"),
        );
        let o = |c: &polars::prelude::StringChunked, r: usize| c.get(r).map(str::to_string);
        for r in 0..df.height() {
            out.push(Stored {
                record_id: id.get(r).cloned().unwrap(),
                source_format: fmt.get(r).unwrap().to_string(),
                kind: kind.get(r).unwrap().to_string(),
                provider: prov.get(r).unwrap().to_string(),
                charge_start: start.get(r).unwrap(),
                charge_end: end.get(r).unwrap(),
                billing_period: o(&bp, r),
                model: o(&model, r),
                sku: o(&sku, r),
                description: o(&desc, r),
                cost: cost.get(r).unwrap(),
                list_cost: list.get(r),
                currency: cur.get(r).unwrap().to_string(),
                estimate: est.get(r).unwrap(),
                input: inp.get(r),
                cached: cac.get(r),
                cache_write: cw.get(r),
                output: outp.get(r),
                requests: req.get(r),
                project_id: o(&proj, r),
                api_key_id: o(&key, r),
                workspace_id: o(&ws, r),
                user_id: o(&user, r),
                billing_account: o(&acct, r),
                tags: o(&tags, r),
            });
        }
    }
    out
}

/// The independent answers for a provider's fixtures.
pub fn expected(provider: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{provider}/expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `YYYY-MM-DD` of a UTC instant in µs.
pub fn day(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// Ingests one fixture (auto-detected, or `--source`), checks its summary against the
/// answer, and returns the stored rows and stderr.
pub fn ingest_checked(
    provider: &str,
    file: &str,
    source: Option<&str>,
) -> (Dir, Vec<Stored>, String) {
    let want = &expected(provider)[file];
    let d = Dir::new();
    let mut cmd = d.finops();
    cmd.args(["ingest", "--format", "json"]);
    if let Some(s) = source {
        cmd.args(["--source", s]);
    }
    let a = cmd
        .arg(fixture(&format!("{provider}/{file}")))
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    let row = &v["rows"][0];
    assert_eq!(row["format"], want["format"], "{file}");
    assert_eq!(row["kind"], want["kind"], "{file}");
    assert_eq!(row["rows"], want["rows"], "{file}");
    assert_eq!(row["rejected"], 0, "{file}");
    if let Some(p) = want.get("period") {
        assert_eq!(row["period"], *p, "{file}");
    }
    let rows = stored(&d);
    assert_eq!(rows.len() as u64, want["rows"].as_u64().unwrap(), "{file}");
    // Totals per currency, exact.
    let mut totals: BTreeMap<String, i128> = BTreeMap::new();
    for r in &rows {
        *totals.entry(r.currency.clone()).or_default() += r.cost;
        assert_eq!(r.source_format, want["format"].as_str().unwrap());
        assert_eq!(r.kind, want["kind"].as_str().unwrap());
        assert_eq!(r.provider, provider);
    }
    let want_totals: BTreeMap<String, i128> = want["totals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), atto(v.as_str().unwrap())))
        .collect();
    assert_eq!(totals, want_totals, "{file}");
    // Token sums.
    if let Some(t) = want.get("tokens") {
        let sum = |f: fn(&Stored) -> Option<i64>| rows.iter().filter_map(f).sum::<i64>();
        let get = |k: &str| t.get(k).and_then(Value::as_i64).unwrap_or(0);
        assert_eq!(sum(|r| r.input), get("input"), "{file} input");
        assert_eq!(sum(|r| r.cached), get("cached"), "{file} cached");
        assert_eq!(
            sum(|r| r.cache_write),
            get("cache_write"),
            "{file} cache_write"
        );
        assert_eq!(sum(|r| r.output), get("output"), "{file} output");
    }
    // cost_is_estimate: usage rows are priced, bill rows never.
    let est = want
        .get("estimate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    assert!(rows.iter().all(|r| r.estimate == est), "{file}");
    // Cost by model.
    if let Some(bm) = want.get("cost_by_model") {
        let mut got: BTreeMap<String, i128> = BTreeMap::new();
        for r in &rows {
            *got.entry(r.model.clone().unwrap_or_default()).or_default() += r.cost;
        }
        let want_bm: BTreeMap<String, i128> = bm
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), atto(v.as_str().unwrap())))
            .collect();
        assert_eq!(got, want_bm, "{file}");
    }
    let err = stderr(&a);
    (d, rows, err)
}

/// Usage rows: each priced as the answer says (matched by day, model and tokens).
pub fn check_by_row(provider: &str, file: &str, rows: &[Stored]) {
    let want = &expected(provider)[file]["by_row"];
    let want = want.as_array().unwrap();
    assert_eq!(want.len(), rows.len());
    for w in want {
        let t = &w["tokens"];
        let found: Vec<&Stored> = rows
            .iter()
            .filter(|r| {
                day(r.charge_start) == w["start"].as_str().unwrap()
                    && r.input == t["input"].as_i64()
                    && r.cached.unwrap_or(0) == t["cached"].as_i64().unwrap()
                    && r.cache_write.unwrap_or(0) == t["cache_write"].as_i64().unwrap()
                    && r.output.unwrap_or(0) == t["output"].as_i64().unwrap()
            })
            .collect();
        assert_eq!(found.len(), 1, "{file}: {w}");
        let r = found[0];
        assert_eq!(r.model.as_deref(), w["model"].as_str(), "{w}");
        assert_eq!(r.cost, atto(w["cost"].as_str().unwrap()), "{file}: {w}");
        assert!(r.estimate);
        assert_eq!(r.currency, "USD");
        if let Some(req) = w.get("requests").and_then(Value::as_i64) {
            assert_eq!(r.requests, Some(req), "{w}");
        }
    }
}

fn ids(rows: &[Stored]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| r.record_id.clone()).collect();
    v.sort();
    v
}

const COST_FILES: &[&str] = &[
    "costs_2026-10-01_page.json",
    "costs_2026-10-04_pages.json",
    "cost_2026-09-01_2026-09-30.csv",
];

const USAGE_FILES: &[&str] = &[
    "usage_completions_2026-10.json",
    "usage_embeddings_2026-10.json",
    "usage_moderations_2026-10.json",
    "completions_usage_2026-10-01_2026-10-01.csv",
    "embeddings_usage_2026-10-01_2026-10-01.csv",
];

#[test]
fn openai_costs_fixtures_match_the_independent_answers() {
    for file in COST_FILES {
        let (_d, rows, err) = ingest_checked("openai", file, None);
        let (_d2, forced, _) = ingest_checked("openai", file, Some("openai-costs"));
        assert_eq!(ids(&rows), ids(&forced), "--source gives the same rows");
        for r in &rows {
            assert_eq!(r.billing_period.as_deref(), Some(&day(r.charge_start)[..7]));
            assert!(r.charge_end > r.charge_start);
            assert_eq!(r.requests, None);
            // The canonical meaning: cached and cache-write are parts of input.
            if let Some(c) = r.cached {
                assert_eq!(r.input, Some(c));
            }
            assert_eq!(r.sku, r.description);
        }
        let want = &expected("openai")[*file];
        if let Some(n) = want.get("skipped_empty_rows") {
            assert!(
                err.contains(&format!(
                    "{n} records skipped: rows with only their time columns (time buckets without usage)"
                )),
                "{err}"
            );
        }
        if let Some(sets) = want.get("tag_sets") {
            let mut got: Vec<String> = rows.iter().filter_map(|r| r.tags.clone()).collect();
            got.sort();
            got.dedup();
            let want: Vec<String> = sets
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            assert_eq!(got, want);
            assert!(rows
                .iter()
                .all(|r| r.billing_account.as_deref() == Some("org-Q1")));
        }
    }
    // The traps of the first page: the first bucket starts at 10:00, not midnight; a line
    // item without a model; "1000_tokens".
    let (_d, rows, _) = ingest_checked("openai", "costs_2026-10-01_page.json", None);
    let first = rows.iter().map(|r| r.charge_start).min().unwrap();
    assert_eq!(first, 1_790_848_800_000_000);
    let mini = rows
        .iter()
        .find(|r| r.sku.as_deref() == Some("gpt-4o-mini, cached input"))
        .unwrap();
    assert_eq!((mini.input, mini.cached), (Some(120_000), Some(120_000)));
    let bare = rows
        .iter()
        .find(|r| r.sku.as_deref() == Some("input_tokens"))
        .unwrap();
    assert_eq!((bare.model.as_deref(), bare.input), (None, Some(200_000)));
    let search = rows
        .iter()
        .find(|r| r.sku.as_deref() == Some("web search tool calls"))
        .unwrap();
    assert_eq!((search.model.as_deref(), search.input), (None, None));
    assert_eq!(search.cost, atto("0.35"));
}

#[test]
fn openai_usage_fixtures_are_priced_as_the_independent_answers() {
    for file in USAGE_FILES {
        let (_d, rows, err) = ingest_checked("openai", file, None);
        check_by_row("openai", file, &rows);
        let want = &expected("openai")[*file];
        let requests: i64 = rows.iter().filter_map(|r| r.requests).sum();
        assert_eq!(requests, want["requests"].as_i64().unwrap(), "{file}");
        assert!(
            err.contains(&format!(
                "{} rows had no cost and were priced from their tokens",
                want["rows"]
            )),
            "{err}"
        );
        assert!(rows.iter().all(|r| r.billing_period.is_none()));
        let (_d2, forced, _) = ingest_checked("openai", file, Some("openai-usage"));
        assert_eq!(ids(&rows), ids(&forced), "--source gives the same rows");
    }
    // The 2026 example row: input 5000 counts cached 1800 and cache-write 200; the
    // modality fields are not added; batch and service tier are tags.
    let (_d, rows, _) = ingest_checked("openai", "usage_completions_2026-10.json", None);
    let ex = rows.iter().find(|r| r.input == Some(5000)).unwrap();
    assert_eq!(
        (ex.cached, ex.cache_write, ex.output, ex.requests),
        (Some(1800), Some(200), Some(1000), Some(5))
    );
    assert_eq!(
        ex.tags.as_deref(),
        Some(r#"{"batch":"false","service_tier":"default"}"#)
    );
    assert_eq!(
        (
            ex.project_id.as_deref(),
            ex.user_id.as_deref(),
            ex.api_key_id.as_deref()
        ),
        (Some("proj_abc"), Some("user-abc"), Some("key_abc"))
    );
    // The 2025-shaped row: its input_audio_tokens (200) are not added to input (800).
    assert!(rows
        .iter()
        .any(|r| r.input == Some(800) && r.cache_write.is_none()));
}

#[test]
fn openai_api_page_and_dashboard_csv_of_the_same_day_dedupe() {
    // The same Costs day as the API page and as the dashboard CSV (amounts printed with
    // 30 decimals): the CSV replaces the page's rows, nothing is counted twice.
    let d = Dir::new();
    let page = d.write(
        "page.json",
        r#"{"object":"page","data":[{"object":"bucket","start_time":1788220800,"end_time":1788307200,"results":[
 {"object":"organization.costs.result","amount":{"value":1.8375,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, input","project_id":"proj_search","api_key_id":"key_x1","quantity":735000,"quantity_unit":"tokens"},
 {"object":"organization.costs.result","amount":{"value":2.41,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, output","project_id":"proj_search","api_key_id":"key_x1","quantity":241000,"quantity_unit":"tokens"}]}],
 "has_more":false,"next_page":null}"#,
    );
    let csv = d.write(
        "cost.csv",
        "start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,quantity,quantity_unit,line_item,user_id,api_key_id,project_id,organization_id,project_name,organization_name,user_email,api_source\n\
1788220800,1788307200,2026-09-01T00:00:00+00:00,2026-09-02T00:00:00+00:00,1.837499999999999911182158029987,usd,735000,tokens,\"gpt-4o-2024-08-06, input\",,key_x1,proj_search,org-Q1,search,Acme,,\n\
1788220800,1788307200,2026-09-01T00:00:00+00:00,2026-09-02T00:00:00+00:00,2.410000000000000142108547152020,usd,241000,tokens,\"gpt-4o-2024-08-06, output\",,key_x1,proj_search,org-Q1,search,Acme,,\n",
    );
    d.ingest(&page);
    let first = ids(&stored(&d));
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&csv)
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(v["rows"][0]["replaced"], 2, "{v}");
    let rows = stored(&d);
    assert_eq!(ids(&rows), first);
    // The CSV's amounts now, kept to 18 places (half to even).
    let total: i128 = rows.iter().map(|r| r.cost).sum();
    assert_eq!(
        total,
        atto("1.837499999999999911") + atto("2.410000000000000142")
    );
    // A restated amount replaces; the same file again changes nothing.
    let restated = d.write(
        "page2.json",
        std::fs::read_to_string(&page)
            .unwrap()
            .replace("\"value\":2.41", "\"value\":2.5"),
    );
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&restated)
        .assert()
        .success();
    assert_eq!(json(&a.get_output().stdout)["rows"][0]["replaced"], 2);
    let total: i128 = stored(&d).iter().map(|r| r.cost).sum();
    assert_eq!(total, atto("1.8375") + atto("2.5"));
    let before = d.store_listing();
    d.ingest(&restated);
    assert_eq!(before, d.store_listing());
}

#[test]
fn openai_usage_row_of_an_unknown_model_is_rejected_with_its_tokens() {
    let d = Dir::new();
    let a = d
        .finops()
        .arg("ingest")
        .arg(fixture("openai/usage_completions_unknown_model.json"))
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(
        err.contains("usage_completions_unknown_model.json: line 1, column \"model\": no cost, and the price table has no model \"gpt-imaginary-9\" (input 1234, cached 234, cache-write 0, output 56 tokens, 3 requests)"),
        "{err}"
    );
    assert!(
        err.contains(
            "fix: give a price table that has this model (--prices FILE or [pricing] file"
        ),
        "{err}"
    );
    assert!(!d.path().join(".finops/manifest.json").exists() || stored(&d).is_empty());
    // A user's price table with the model prices it.
    d.write(
        "prices.json",
        r#"{"gpt-imaginary-9": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "litellm_provider": "openai"}}"#,
    );
    d.write("finops.toml", "[pricing]\nfile = \"prices.json\"\n");
    d.ingest(fixture("openai/usage_completions_unknown_model.json"));
    let rows = stored(&d);
    // 1234 × 1e-6 (no cache-read price: cached at the input price) + 56 × 2e-6
    assert_eq!(rows[0].cost, atto("0.001346"));
}

#[test]
fn openai_usage_without_tokens_is_rejected_and_skip_invalid_lands_the_rest() {
    let d = Dir::new();
    let a = d
        .finops()
        .arg("ingest")
        .arg(fixture("openai/usage_images_2026-10.json"))
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(
        err.contains(
            "images usage has no token counts (images 4, num_model_requests 2, model gpt-image-1)"
        ),
        "{err}"
    );
    assert!(
        err.contains("fix: its money is in the Costs API export (openai-costs)"),
        "{err}"
    );
    // A list of pages of two kinds: the embeddings rows land, the images row is rejected.
    let emb = std::fs::read_to_string(fixture("openai/usage_embeddings_2026-10.json")).unwrap();
    let img = std::fs::read_to_string(fixture("openai/usage_images_2026-10.json")).unwrap();
    let both = d.write("both.json", format!("[{emb},{img}]"));
    let a = d
        .finops()
        .args(["ingest", "--skip-invalid", "--format", "json"])
        .arg(&both)
        .assert()
        .success();
    let v = json(&a.get_output().stdout);
    assert_eq!(
        (
            v["rows"][0]["rows"].clone(),
            v["rows"][0]["rejected"].clone()
        ),
        (2.into(), 1.into())
    );
    let total: i128 = stored(&d).iter().map(|r| r.cost).sum();
    assert_eq!(
        total,
        atto(
            expected("openai")["usage_embeddings_2026-10.json"]["totals"]["USD"]
                .as_str()
                .unwrap()
        )
    );
}

#[test]
fn openai_unknown_shape_and_missing_columns_are_named() {
    let d = Dir::new();
    // A page whose results are not Costs or Usage results.
    let p = d.write(
        "odd.json",
        r#"{"object":"page","data":[{"start_time":1790812800,"end_time":1790899200,"results":[{"foo":1}]}]}"#,
    );
    let a = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&a);
    assert!(
        err.contains("cannot tell the format from the first JSON row's keys (")
            && err.contains("foo"),
        "{err}"
    );
    assert!(err.contains("openai-costs, openai-usage"), "{err}");
    // A cost export without its currency column: recognised, and the column named.
    let p = d.write(
        "cost.csv",
        "start_time,end_time,amount_value,line_item\n1788220800,1788307200,1.5,\"gpt-4o, input\"\n",
    );
    let a = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&a);
    assert!(
        err.contains(
            "cost.csv: line 1: OpenAI cost data without amount_currency (API: amount.currency)"
        ),
        "{err}"
    );
    // An activity export without any metric, named with --source.
    let p = d.write(
        "act.csv",
        "start_time,end_time,model\n1788220800,1788307200,gpt-4o\n",
    );
    let a = d
        .finops()
        .args(["ingest", "--source", "openai-usage"])
        .arg(&p)
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(
        err.contains("OpenAI usage data without num_model_requests (or another Usage API metric)"),
        "{err}"
    );
}

#[test]
fn openai_bad_cells_name_the_place_the_value_and_the_fix() {
    let d = Dir::new();
    let head = "start_time,end_time,amount_value,amount_currency,line_item,project_id\n";
    let cases = [
        (
            format!("{head}1788220800,1788307200,1.2.3,usd,x,p\n"),
            "line 2, column \"amount_value\": \"1.2.3\" is not a number",
        ),
        (
            format!("{head}yesterday,1788307200,1.5,usd,x,p\n"),
            "line 2, column \"start_time\": cannot read the date \"yesterday\"",
        ),
        (
            format!("{head}1788220800,1788307200,1.5,US$,x,p\n"),
            "line 2, column \"amount_currency\": \"US$\" is not a currency code",
        ),
        (
            format!("{head}1788307200,1788220800,1.5,usd,x,p\n"),
            "the bucket ends before it starts",
        ),
        (
            format!("{head}1788220800,1788307200,,usd,x,p\n"),
            "line 2, column \"amount_value\": the amount is empty",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = d.write(&format!("c{i}.csv"), text);
        let a = d.finops().arg("ingest").arg(&p).assert().code(2);
        let err = stderr(&a);
        assert!(
            err.contains(&format!("c{i}.csv: ")) && err.contains(want),
            "{want}: {err}"
        );
        assert!(err.contains("fix: "), "{err}");
    }
    let head = "start_time,end_time,model,input_tokens,input_cached_tokens,output_tokens,num_model_requests\n";
    let cases = [
        (
            format!("{head}1790845200,1790845260,gpt-4o,-5,0,1,1\n"),
            "column \"input_tokens\": \"-5\" is negative",
        ),
        (
            format!("{head}1790845200,1790845260,gpt-4o,10.5,0,1,1\n"),
            "column \"input_tokens\": \"10.5\" is not a whole number",
        ),
        (
            format!("{head}1790845200,1790845260,gpt-4o,100,150,1,1\n"),
            "cached (150) plus cache-write (0) tokens exceed the input tokens (100)",
        ),
        (
            format!("{head}1790845200,1790845260,,100,0,1,1\n"),
            "no model to price the row from (input 100, cached 0, cache-write 0, output 1 tokens, 1 requests)",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = d.write(&format!("u{i}.csv"), text);
        let a = d.finops().arg("ingest").arg(&p).assert().code(2);
        let err = stderr(&a);
        assert!(
            err.contains(&format!("u{i}.csv: line 2")) && err.contains(want),
            "{want}: {err}"
        );
    }
    // A JSON amount that is not a number.
    let p = d.write(
        "bad.json",
        r#"{"data":[{"start_time":1790812800,"end_time":1790899200,"results":[{"amount":{"value":"1,5","currency":"usd"},"line_item":"x"}]}]}"#,
    );
    let a = d.finops().arg("ingest").arg(&p).assert().code(2);
    let err = stderr(&a);
    assert!(err.contains("column \"amount.value\": \"1,5\""), "{err}");
}

#[test]
fn openai_usage_page_and_activity_csv_of_the_same_bucket_dedupe() {
    let d = Dir::new();
    let page = d.write(
        "usage.json",
        r#"{"object":"page","data":[{"object":"bucket","start_time":1790845200,"end_time":1790845260,"results":[
 {"object":"organization.usage.completions.result","input_tokens":2400,"input_cached_tokens":2000,"input_cache_write_tokens":0,"output_tokens":300,"num_model_requests":2,"project_id":"proj_search","user_id":null,"api_key_id":"key_search_1","model":"gpt-4o-2024-08-06","batch":false,"service_tier":"default"}]}],
 "has_more":false,"next_page":null}"#,
    );
    let csv = d.write(
        "completions_usage.csv",
        "start_time,end_time,start_time_iso,end_time_iso,project_id,user_id,api_key_id,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens,num_model_requests\n\
1790845200,1790845260,2026-10-01T09:00:00+00:00,2026-10-01T09:01:00+00:00,proj_search,,key_search_1,gpt-4o-2024-08-06,False,default,2400,300,2000,2\n",
    );
    d.ingest(&page);
    let a = d
        .finops()
        .args(["ingest", "--format", "json"])
        .arg(&csv)
        .assert()
        .success();
    assert_eq!(json(&a.get_output().stdout)["rows"][0]["replaced"], 1);
    let rows = stored(&d);
    assert_eq!(rows.len(), 1);
    // 400 × 2.5e-6 + 2000 × 1.25e-6 + 300 × 1e-5
    assert_eq!(rows[0].cost, atto("0.0065"));
}
