//! Fuzzing every parser, in the ordinary test run (bounded: a few hundred cases each,
//! from fixed seeds, so CI is repeatable). cargo-fuzz needs a nightly toolchain, which this
//! project does not assume; a proptest-driven byte mutator over the real fixtures finds
//! the same class of bugs: panics, hangs, and files accepted with the wrong total.
//!
//! For every mutated file: the read ends (a watchdog fails a case that takes over 20 s) and
//! does not panic; when it accepts the file whole (no rejected row), the number of rows and
//! the total of the amounts equal what an independent model reads from the same bytes
//! (the csv crate or serde_json, and a decimal parser written here).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use finops::model::{Currency, Row};
use finops::pricing::PriceBook;
use finops::source::{self, Chunk, ReadOptions, Rejected, Sink};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, RngAlgorithm, TestRng, TestRunner};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel),
    )
    .unwrap()
}

/// What finops made of a file.
#[derive(Debug, Default)]
struct Seen {
    rows: u64,
    rejected: u64,
    /// Σ cost over all currencies, in 10⁻¹⁸ units (checked: i128 holds any accepted file
    /// of these sizes, as every amount is below 10²⁰).
    total: i128,
}

impl Sink for Seen {
    fn row(&mut self, row: &Row, _line: u64) -> anyhow::Result<()> {
        self.rows += 1;
        self.total = self.total.checked_add(row.cost.0).unwrap();
        Ok(())
    }
    fn reject(&mut self, _: Rejected) -> anyhow::Result<()> {
        self.rejected += 1;
        Ok(())
    }
    fn note(&mut self, _: String) {}
    fn chunk(&mut self, chunk: Chunk) -> anyhow::Result<()> {
        let mut st = chunk.stats;
        st.settle().map_err(|e| anyhow::anyhow!("{e}"))?;
        self.rows += st.rows;
        self.rejected += st.rejected;
        for m in st.totals.values() {
            self.total = self.total.checked_add(m.0).unwrap();
        }
        Ok(())
    }
    fn wants_frames(&self) -> bool {
        false
    }
}

/// Reads `bytes` as a file named `name` the way `finops ingest` does; None if the read
/// fails as a whole (an error is a valid outcome), panics propagate, a hang fails.
fn read(name: &str, bytes: &[u8]) -> Option<Seen> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let prices = PriceBook::new(None);
        let opts = ReadOptions {
            default_currency: Currency::USD,
            prices: &prices,
        };
        let mut seen = Seen::default();
        let res = source::open(&path, None, |_| {})
            .and_then(|input| source::read(input, &opts, "fuzz", &mut seen));
        // A CSV worker's panic comes back as an error: it is a panic all the same.
        if let Err(e) = &res {
            let text = format!("{e:#}");
            assert!(!text.contains("panicked"), "{text}");
        }
        let _ = tx.send(res.ok().map(|_| seen));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(r) => {
            worker.join().unwrap();
            r
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("a read of {name} hung"),
        // The worker panicked: join shows the panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            worker.join().unwrap();
            unreachable!()
        }
    }
}

/// An independent decimal reader: `[+-]digits[.digits][e[+-]digits]` to 10⁻¹⁸ units,
/// rounded half to even; None for anything else or a magnitude of 10²⁰ or more.
/// A float's shortest round-trip text, modelled independently of finops: `{:.pe}` is the
/// exact value correctly rounded (ties to even) to p + 1 digits; the first p that reads
/// back as the float is the shortest (what DuckDB and Python print).
fn shortest_f64(x: f64) -> String {
    (0..17usize)
        .map(|p| format!("{x:.p$e}"))
        .find(|t| t.parse::<f64>() == Ok(x))
        .unwrap()
}

fn shortest_f32(x: f32) -> String {
    (0..12usize)
        .map(|p| format!("{x:.p$e}"))
        .find(|t| t.parse::<f32>() == Ok(x))
        .unwrap()
}

fn model_amount(text: &str) -> Option<i128> {
    let t = text.trim_matches(|c: char| c == ' ' || c == '\t');
    let (neg, t) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i64>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if exp.abs() > 400 {
        return if int.bytes().chain(frac.bytes()).all(|b| b == b'0') || exp < 0 {
            Some(0)
        } else {
            None
        };
    }
    let digits: String = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    // value = digits × 10^(exp − frac.len()); in units: × 10^18.
    let shift = exp - frac.len() as i64 + 18;
    let (whole, rest): (String, String) = if shift >= 0 {
        (
            format!("{digits}{}", "0".repeat(shift as usize)),
            String::new(),
        )
    } else {
        let cut = digits.len() as i64 + shift;
        if cut <= 0 {
            (
                String::new(),
                format!("{}{digits}", "0".repeat((-cut) as usize)),
            )
        } else {
            (
                digits[..cut as usize].to_string(),
                digits[cut as usize..].to_string(),
            )
        }
    };
    let whole = whole.trim_start_matches('0');
    if whole.len() > 38 {
        return None;
    }
    let mut v: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let first = rest.bytes().next().unwrap_or(b'0');
    let beyond = rest.bytes().skip(1).any(|b| b != b'0');
    if first > b'5' || (first == b'5' && (beyond || v % 2 == 1)) {
        v += 1;
    }
    if v >= 10i128.pow(38) {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// What an independent CSV reader finds: rows and the total of the amount column; None
/// when the model cannot judge the file (then only "no panic, no hang" is checked).
fn model_csv(bytes: &[u8], amount: &str) -> Option<(u64, i128)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = r.headers().ok()?.clone();
    let col = headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(amount))?;
    let (mut rows, mut total) = (0u64, 0i128);
    for rec in r.records() {
        let rec = rec.ok()?;
        let cell = rec.get(col)?.trim();
        if cell.is_empty() || cell == "NULL" {
            return None; // priced rows, or a missing amount: outside this model
        }
        total = total.checked_add(model_amount(cell)?)?;
        rows += 1;
    }
    Some((rows, total))
}

fn model_jsonl(bytes: &[u8]) -> Option<(u64, i128)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (mut rows, mut total) = (0u64, 0i128);
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let cost = match v.get("cost")? {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => return None,
        };
        total = total.checked_add(model_amount(&cost)?)?;
        rows += 1;
    }
    Some((rows, total))
}

/// A mutation of a seed: bytes changed, inserted (from an alphabet that matters to the
/// parsers), removed, lines repeated or cut.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    RepeatLine(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let alphabet =
        prop::sample::select(b"\",;\t\n\r.-+eE0159${}[]:\\ \x00\xff\xe2\x82\xacNUL".to_vec());
    let edit = prop_oneof![
        (any::<usize>(), alphabet.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), prop::collection::vec(alphabet, 1..6))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Remove(i, n)),
        any::<usize>().prop_map(Edit::RepeatLine),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..6)
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        let n = b.len();
        match e {
            Edit::Set(i, v) => b[i % n] = *v,
            Edit::Insert(i, v) => {
                let at = i % (n + 1);
                b.splice(at..at, v.iter().copied());
            }
            Edit::Remove(i, k) => {
                let at = i % n;
                b.drain(at..(at + k).min(n));
            }
            Edit::RepeatLine(i) => {
                let at = i % n;
                let start = b[..at]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |p| p + 1);
                let end = b[at..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(n, |p| at + p + 1);
                let line = b[start..end].to_vec();
                b.splice(end..end, line);
            }
            Edit::Truncate(i) => b.truncate(i % n + 1),
        }
    }
    b
}

fn runner(cases: u32, seed: u8) -> TestRunner {
    TestRunner::new_with_rng(
        PropConfig {
            cases,
            failure_persistence: None,
            ..PropConfig::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// Fuzzes one seed file: no panic, no hang, and accepted files add up.
fn fuzz(name: &str, seed: Vec<u8>, model: fn(&[u8]) -> Option<(u64, i128)>, cases: u32) {
    // The seed itself is read whole and matches the model: the check can fail.
    let s = read(name, &seed).expect("the seed reads");
    assert_eq!(s.rejected, 0, "{name}");
    assert_eq!(Some((s.rows, s.total)), model(&seed), "{name}");
    let (accepted, judged) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    runner(cases, name.len() as u8)
        .run(&edits(), |e| {
            let bytes = apply(&seed, &e);
            if let Some(seen) = read(name, &bytes) {
                if seen.rejected == 0 && seen.rows > 0 {
                    accepted.set(accepted.get() + 1);
                    if let Some((rows, total)) = model(&bytes) {
                        judged.set(judged.get() + 1);
                        prop_assert_eq!((seen.rows, seen.total), (rows, total));
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    let (accepted, judged) = (accepted.get(), judged.get());
    eprintln!(
        "{name}: {cases} cases, {accepted} accepted whole, {judged} checked against the model"
    );
    assert!(
        judged > 0,
        "{name}: no mutation was judged; the fuzzer is too blunt"
    );
}

/// The first `n` lines of a text fixture (small seeds keep cases fast).
fn head(bytes: &[u8], n: usize) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut out: String = text.lines().take(n).collect::<Vec<_>>().join("\n");
    out.push('\n');
    out.into_bytes()
}

#[test]
fn fuzz_focus_csv() {
    let seed = head(&fixture("focus-sample-data/focus_sample.csv"), 25);
    fuzz("bill.csv", seed, |b| model_csv(b, "BilledCost"), 1000);
}

#[test]
fn fuzz_focus_spec_example_with_bom() {
    let seed = fixture(
        "focus-spec-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv",
    );
    fuzz("example.csv", seed, |b| model_csv(b, "BilledCost"), 600);
}

#[test]
fn fuzz_usage_log_csv() {
    // Every row with a cost (priced rows are outside the model).
    let text = String::from_utf8(fixture("usage-log/requests-2026-10.csv")).unwrap();
    let seed: String = text
        .lines()
        .map(|l| l.replace(",,,search,ai-search", ",0.00325,USD,search,ai-search"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    fuzz("log.csv", seed.into_bytes(), |b| model_csv(b, "cost"), 1000);
}

#[test]
fn fuzz_usage_log_jsonl() {
    let text = String::from_utf8(fixture("usage-log/requests-2026-10.jsonl")).unwrap();
    let seed: String = text
        .lines()
        .filter(|l| l.contains("\"cost\""))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    fuzz("log.jsonl", seed.into_bytes(), model_jsonl, 1000);
}

#[test]
fn fuzz_parquet_bytes_never_panic_or_hang() {
    use polars::prelude::*;
    let mut df = df!(
        "BilledCost" => &[1.5f64, -0.25, 1234567.891],
        "ChargePeriodStart" => &["2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", "2026-10-03T00:00:00Z"],
        "Tags" => &[Some(r#"{"team":"search"}"#), None, Some(r#"{"team":"ads"}"#)],
    )
    .unwrap();
    let mut seed = Vec::new();
    ParquetWriter::new(&mut seed).finish(&mut df).unwrap();
    let s = read("bill.parquet", &seed).unwrap();
    assert_eq!((s.rows, s.total), (3, model_amount("1234569.141").unwrap()));
    runner(400, 7)
        .run(&edits(), |e| {
            let _ = read("bill.parquet", &apply(&seed, &e));
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_parquet_float_and_decimal_amounts_are_their_shortest_text() {
    use polars::prelude::*;
    let values = prop::collection::vec(
        prop_oneof![
            (-1e15f64..1e15).boxed(),
            (-1.0f64..1.0).boxed(),
            any::<i32>().prop_map(|i| i as f64 / 1000.0).boxed(),
        ],
        1..20,
    );
    runner(60, 11)
        .run(&(values, any::<bool>()), |(vals, single)| {
            let (col, want) = if single {
                let v: Vec<f32> = vals.iter().map(|&x| x as f32).collect();
                let want: i128 = v
                    .iter()
                    .map(|&x| model_amount(&shortest_f32(x)).unwrap())
                    .sum();
                (Column::new("BilledCost".into(), v), want)
            } else {
                let want: i128 = vals
                    .iter()
                    .map(|&x| model_amount(&shortest_f64(x)).unwrap())
                    .sum();
                (Column::new("BilledCost".into(), vals.clone()), want)
            };
            let n = col.len();
            let starts = Column::new("ChargePeriodStart".into(), vec!["2026-10-01T00:00:00Z"; n]);
            let mut df = DataFrame::new(n, vec![col, starts]).unwrap();
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
            let s = read("f.parquet", &bytes).unwrap();
            prop_assert_eq!((s.rows, s.total), (n as u64, want));
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_text_parsers_never_panic() {
    let text =
        prop::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect::<String>());
    runner(2000, 3)
        .run(&text, |s| {
            let _ = finops::money::Money::parse(&s);
            let _ = finops::money::parse_formatted(&s, "USD");
            let _ = finops::timeparse::parse_timestamp(&s);
            let _ = finops::json::object(&s);
            let _ = finops::model::parse_tags_object(&s);
            // The model and finops agree on plain numbers.
            if let Some(v) = model_amount(&s) {
                if s.bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    && !s.is_empty()
                {
                    prop_assert_eq!(finops::money::Money::parse(&s).map(|m| m.0).ok(), Some(v));
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_config_never_panics() {
    let seed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/finops.starter.toml"))
            .unwrap();
    runner(300, 5)
        .run(&edits(), |e| {
            let bytes = apply(&seed, &e);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = finops::config::Config::parse(text, Path::new("finops.toml"));
            }
            Ok(())
        })
        .unwrap();
}

/// OpenAI dashboard cost CSV: rows with only their four time columns are skipped.
fn model_openai_cost_csv(bytes: &[u8]) -> Option<(u64, i128)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = r.headers().ok()?.clone();
    let col = headers.iter().position(|h| h.trim() == "amount_value")?;
    let (mut rows, mut total) = (0u64, 0i128);
    for rec in r.records() {
        let rec = rec.ok()?;
        if rec.iter().skip(4).all(|c| c.trim().is_empty()) {
            continue;
        }
        total = total.checked_add(model_amount(rec.get(col)?.trim())?)?;
        rows += 1;
    }
    Some((rows, total))
}

/// The rows of API pages (a page, or a list of pages) and each row's amount text.
fn model_pages(
    bytes: &[u8],
    amount: fn(&serde_json::Value) -> Option<String>,
) -> Option<(u64, i128)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let pages = match &v {
        serde_json::Value::Array(p) => p.clone(),
        other => vec![other.clone()],
    };
    let (mut rows, mut total) = (0u64, 0i128);
    for p in pages {
        for b in p.get("data")?.as_array()? {
            for r in b.get("results")?.as_array()? {
                total = total.checked_add(model_amount(&amount(r)?)?)?;
                rows += 1;
            }
        }
    }
    Some((rows, total))
}

fn number_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn fuzz_openai_cost_csv() {
    let seed = fixture("openai/cost_2026-09-01_2026-09-30.csv");
    fuzz("cost.csv", seed, model_openai_cost_csv, 600);
}

#[test]
fn fuzz_openai_costs_pages() {
    let seed = fixture("openai/costs_2026-10-04_pages.json");
    fuzz(
        "costs.json",
        seed,
        |b| model_pages(b, |r| number_text(r.get("amount")?.get("value")?)),
        600,
    );
}

#[test]
fn fuzz_anthropic_cost_report_cents() {
    // Cents as a decimal string: the model reads "<amount>e-2" (one rounding).
    let seed = fixture("anthropic/cost_report_2026-10.json");
    fuzz(
        "report.json",
        seed,
        |b| {
            model_pages(b, |r| {
                let t = number_text(r.get("amount")?)?;
                (!t.contains(['e', 'E'])).then(|| format!("{}e-2", t.trim()))
            })
        },
        600,
    );
}

#[test]
fn fuzz_anthropic_console_cost_csv() {
    let seed = fixture("anthropic/claude_api_cost_2026-10.csv");
    fuzz("console.csv", seed, |b| model_csv(b, "cost_usd"), 600);
}

#[test]
fn fuzz_usage_reports_never_panic_or_hang() {
    // Priced rows are outside the amount model: only "no panic, no hang" is checked.
    for (name, rel) in [
        ("usage.json", "openai/usage_completions_2026-10.json"),
        (
            "activity.csv",
            "openai/completions_usage_2026-10-01_2026-10-01.csv",
        ),
        (
            "messages.json",
            "anthropic/usage_report_messages_2026-10.json",
        ),
        (
            "console-usage.csv",
            "anthropic/claude_api_usage_2026-10.csv",
        ),
    ] {
        let seed = fixture(rel);
        assert_eq!(read(name, &seed).expect("the seed reads").rejected, 0);
        runner(80, name.len() as u8)
            .run(&edits(), |e| {
                let _ = read(name, &apply(&seed, &e));
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn fuzz_cloud_bills_and_gateway_logs_never_panic_or_hang() {
    // Every other adapter, from its fixture: mutated bytes are read or refused with an
    // error, never a panic or a hang. (Their amounts go through the same `Record::money`
    // the models above check.)
    for (name, rel) in [
        ("cur.csv", "aws/cur-legacy-2026-06.csv"),
        ("cur2.csv", "aws/cur2-2026-06.csv"),
        ("ea.csv", "azure/ea-actual-aoai-2026-06.csv"),
        ("de.csv", "azure/localised-de-2026-06.csv"),
        ("payg.csv", "azure/payg-usage-2020-03.csv"),
        ("oci.csv", "oracle/cost-2026-06.csv"),
        ("gcp.jsonl", "gcp/billing-2025-06.jsonl"),
        ("gcp.csv", "gcp/billing-2025-07-flat.csv"),
        ("spend.csv", "litellm/spend-logs-2025-06.csv"),
        ("spend.json", "litellm/spend-logs-2025-06.json"),
        ("helicone.jsonl", "helicone/requests-2025-06.jsonl"),
        ("helicone.csv", "helicone/requests-2025-06.csv"),
        ("langfuse.json", "langfuse/observations-2025-06.json"),
    ] {
        let seed = fixture(rel);
        let s = read(name, &seed).unwrap_or_else(|| panic!("{rel}: the seed reads"));
        assert!(s.rows > 0, "{rel}");
        runner(60, name.len() as u8)
            .run(&edits(), |e| {
                let _ = read(name, &apply(&seed, &e));
                Ok(())
            })
            .unwrap();
    }
}
