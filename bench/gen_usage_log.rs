//! Deterministic generator of realistic LLM request logs in the `usage-log` format
//! (see docs/formats/usage-log.md), used by `bench/run` to benchmark `finops ingest`.
//!
//! ```text
//! gen-usage-log --rows N --out PATH [--format csv|jsonl] [--seed S]
//!               [--start 2026-09-01] [--months 2]
//! ```
//!
//! Standard library only. The same arguments always produce the same bytes; the CSV and
//! the JSON Lines outputs of one seed carry the same rows.
//!
//! What the data looks like:
//! - 12 teams, 40 features (each owned by one team), 60 API keys `key_<team>_<n>` (the
//!   last key of a team is its dev key, the one before its staging key), 20 projects
//!   `proj_<team>_<n>` (a feature always runs in the same project), 4000 users `u_<n>`
//!   (a few heavy users, a long tail), envs prod / staging / dev.
//! - Sessions of 1..=40 requests (lognormal, per-feature median: most have 2-8), with the
//!   same feature, user, key, project and env for the whole session; requests a few
//!   seconds apart. Sessions interleave; the file is in chronological order.
//! - Session starts follow a daily rhythm (UTC working hours), a weekly one (quiet
//!   weekends), a day-to-day jitter and a slow growth over the period.
//! - Models from OpenAI, Anthropic and a little AWS Bedrock; their names are keys of the
//!   LiteLLM price table, whose per-token prices are copied below in exact integer form.
//! - Tokens: input lognormal (median ~1500), cached input on ~40% of the rows, cache
//!   writes on a few % of the Anthropic rows, output lognormal (median ~250).
//! - `cost` is computed exactly from the tokens and the prices (integer pico-dollars);
//!   ~5% of the rows leave `cost` and `currency` empty.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

// ---------------------------------------------------------------------------------------
// Random numbers: splitmix64, plus Box-Muller normals.
// ---------------------------------------------------------------------------------------

struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        let mut rng = Rng {
            state: seed,
            spare: None,
        };
        // Decorrelate small seeds.
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - self.f64(); // (0, 1]
        let u2 = self.f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }

    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
}

/// The splitmix64 finaliser: a bijection on u64.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------
// The world: models, teams, features.
// ---------------------------------------------------------------------------------------

/// Prices in pico-dollars (1e-12 USD) per token, copied from the LiteLLM price table
/// (model_prices_and_context_window_backup.json, litellm 1.109.1): input_cost_per_token,
/// output_cost_per_token, cache_read_input_token_cost, cache_creation_input_token_cost.
struct Model {
    provider: &'static str,
    name: &'static str,
    input: u64,
    output: u64,
    cache_read: u64,
    /// 0 when the provider does not bill cache writes (OpenAI): no cache writes are
    /// generated for such models.
    cache_write: u64,
    /// Output is longer (reasoning tokens).
    reasoning: bool,
}

const GPT_4O: usize = 0;
const GPT_4O_MINI: usize = 1;
const GPT_41: usize = 2;
const O3_MINI: usize = 3;
const SONNET: usize = 4;
const HAIKU: usize = 5;
const OPUS: usize = 6;
const BEDROCK_SONNET: usize = 7;

const MODELS: [Model; 8] = [
    Model {
        provider: "openai",
        name: "gpt-4o-2024-08-06",
        input: 2_500_000,
        output: 10_000_000,
        cache_read: 1_250_000,
        cache_write: 0,
        reasoning: false,
    },
    Model {
        provider: "openai",
        name: "gpt-4o-mini",
        input: 150_000,
        output: 600_000,
        cache_read: 75_000,
        cache_write: 0,
        reasoning: false,
    },
    Model {
        provider: "openai",
        name: "gpt-4.1",
        input: 2_000_000,
        output: 8_000_000,
        cache_read: 500_000,
        cache_write: 0,
        reasoning: false,
    },
    Model {
        provider: "openai",
        name: "o3-mini",
        input: 1_100_000,
        output: 4_400_000,
        cache_read: 550_000,
        cache_write: 0,
        reasoning: true,
    },
    Model {
        provider: "anthropic",
        name: "claude-sonnet-4-5",
        input: 3_000_000,
        output: 15_000_000,
        cache_read: 300_000,
        cache_write: 3_750_000,
        reasoning: false,
    },
    Model {
        provider: "anthropic",
        name: "claude-haiku-4-5",
        input: 1_000_000,
        output: 5_000_000,
        cache_read: 100_000,
        cache_write: 1_250_000,
        reasoning: false,
    },
    Model {
        provider: "anthropic",
        name: "claude-opus-4-5",
        input: 5_000_000,
        output: 25_000_000,
        cache_read: 500_000,
        cache_write: 6_250_000,
        reasoning: false,
    },
    Model {
        provider: "aws",
        name: "anthropic.claude-3-5-sonnet-20240620-v1:0",
        input: 3_000_000,
        output: 15_000_000,
        cache_read: 300_000,
        cache_write: 3_750_000,
        reasoning: false,
    },
];

/// Teams, with how many API keys and projects each has (60 keys, 20 projects in all).
const TEAMS: [(&str, u32, u32); 12] = [
    ("search", 8, 3),
    ("support", 7, 3),
    ("sales", 6, 2),
    ("marketing", 6, 2),
    ("platform", 5, 2),
    ("data", 5, 1),
    ("legal", 5, 1),
    ("finance", 4, 1),
    ("hr", 4, 1),
    ("growth", 4, 1),
    ("mobile", 3, 1),
    ("security", 3, 2),
];

struct Feature {
    team: usize,
    name: &'static str,
    /// Relative share of sessions.
    weight: f64,
    primary: usize,
    secondary: usize,
    /// Share of a session's requests that go to the secondary model.
    p_secondary: f64,
    input_median: f64,
    output_median: f64,
    session_median: f64,
}

const fn feature(
    team: usize,
    name: &'static str,
    weight: f64,
    models: (usize, usize, f64),
    input_median: f64,
    output_median: f64,
    session_median: f64,
) -> Feature {
    Feature {
        team,
        name,
        weight,
        primary: models.0,
        secondary: models.1,
        p_secondary: models.2,
        input_median,
        output_median,
        session_median,
    }
}

#[rustfmt::skip]
const FEATURES: [Feature; 40] = [
    // search
    feature(0, "ai-search", 9.0, (GPT_4O_MINI, GPT_4O, 0.15), 1300.0, 280.0, 4.0),
    feature(0, "query-rewrite", 6.0, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 300.0, 60.0, 2.0),
    feature(0, "search-summaries", 4.0, (SONNET, HAIKU, 0.30), 2100.0, 350.0, 2.5),
    feature(0, "semantic-rerank", 3.0, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 1100.0, 40.0, 1.5),
    // support
    feature(1, "support-bot", 10.0, (SONNET, HAIKU, 0.25), 1500.0, 300.0, 7.0),
    feature(1, "ticket-triage", 5.0, (HAIKU, HAIKU, 0.0), 550.0, 80.0, 1.5),
    feature(1, "reply-drafts", 4.0, (SONNET, SONNET, 0.0), 1100.0, 400.0, 3.0),
    feature(1, "kb-answers", 4.0, (GPT_4O, GPT_4O_MINI, 0.20), 1800.0, 320.0, 4.0),
    // sales
    feature(2, "lead-scoring", 3.0, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 500.0, 60.0, 1.5),
    feature(2, "email-drafts", 3.0, (GPT_41, GPT_4O_MINI, 0.10), 700.0, 450.0, 3.0),
    feature(2, "call-summaries", 2.0, (SONNET, SONNET, 0.0), 4800.0, 600.0, 1.5),
    // marketing
    feature(3, "copy-gen", 3.0, (GPT_41, GPT_4O, 0.20), 400.0, 500.0, 4.0),
    feature(3, "seo-briefs", 1.5, (GPT_4O, GPT_4O, 0.0), 900.0, 900.0, 2.0),
    feature(3, "image-captions", 2.0, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 650.0, 60.0, 3.0),
    // platform
    feature(4, "code-review", 4.0, (SONNET, OPUS, 0.10), 3600.0, 500.0, 6.0),
    feature(4, "ci-triage", 2.0, (GPT_41, GPT_41, 0.0), 2400.0, 250.0, 2.0),
    feature(4, "incident-summaries", 0.8, (OPUS, SONNET, 0.30), 4200.0, 700.0, 2.0),
    feature(4, "log-explain", 2.0, (GPT_4O_MINI, GPT_41, 0.15), 1500.0, 250.0, 3.0),
    // data
    feature(5, "sql-assistant", 4.0, (GPT_41, O3_MINI, 0.20), 1100.0, 220.0, 6.0),
    feature(5, "doc-extraction", 3.0, (HAIKU, HAIKU, 0.0), 1500.0, 300.0, 1.5),
    feature(5, "data-labeling", 3.0, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 250.0, 20.0, 8.0),
    feature(5, "etl-classify", 2.0, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 200.0, 15.0, 6.0),
    feature(5, "research-agent", 1.0, (OPUS, SONNET, 0.40), 3000.0, 800.0, 12.0),
    // legal (on AWS Bedrock)
    feature(6, "contract-review", 2.0, (BEDROCK_SONNET, BEDROCK_SONNET, 0.0), 5400.0, 700.0, 3.0),
    feature(6, "clause-extract", 1.0, (BEDROCK_SONNET, SONNET, 0.20), 2400.0, 200.0, 2.0),
    // finance
    feature(7, "invoice-parse", 2.5, (GPT_4O_MINI, GPT_4O, 0.05), 950.0, 180.0, 1.5),
    feature(7, "expense-audit", 1.5, (O3_MINI, GPT_4O_MINI, 0.30), 850.0, 300.0, 2.0),
    feature(7, "forecast-notes", 0.7, (GPT_41, GPT_41, 0.0), 2100.0, 600.0, 2.0),
    // hr
    feature(8, "resume-screen", 1.5, (HAIKU, SONNET, 0.10), 1300.0, 150.0, 2.0),
    feature(8, "policy-qa", 1.5, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 900.0, 200.0, 3.0),
    // growth
    feature(9, "onboarding-agent", 3.0, (SONNET, HAIKU, 0.30), 1200.0, 280.0, 8.0),
    feature(9, "churn-insights", 0.8, (O3_MINI, GPT_41, 0.20), 1800.0, 400.0, 1.5),
    feature(9, "ab-copy", 1.5, (GPT_4O_MINI, GPT_4O, 0.10), 350.0, 250.0, 3.0),
    // mobile
    feature(10, "in-app-chat", 6.0, (GPT_4O_MINI, GPT_4O, 0.10), 700.0, 220.0, 6.0),
    feature(10, "voice-notes", 2.0, (HAIKU, HAIKU, 0.0), 600.0, 250.0, 1.5),
    feature(10, "smart-reply", 4.0, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 250.0, 40.0, 2.0),
    // security
    feature(11, "phishing-detect", 3.0, (HAIKU, HAIKU, 0.0), 800.0, 30.0, 1.2),
    feature(11, "alert-triage", 2.0, (SONNET, HAIKU, 0.20), 2100.0, 300.0, 4.0),
    feature(11, "vuln-explain", 1.0, (GPT_41, O3_MINI, 0.20), 1500.0, 500.0, 3.0),
    feature(11, "access-review", 0.7, (GPT_4O_MINI, GPT_4O_MINI, 0.0), 700.0, 100.0, 2.0),
];

const USERS: f64 = 4000.0;
const ENVS: [&str; 3] = ["prod", "staging", "dev"];
const MAX_SESSION: u32 = 40;
/// Largest gap between two requests of a session, ms; with MAX_SESSION this bounds how
/// long a session lasts, and no session starts later than that before the period's end.
const MAX_GAP_MS: u64 = 120_000;
const END_MARGIN_MS: u64 = (MAX_SESSION as u64) * MAX_GAP_MS + 60_000;
const MIN_INPUT: f64 = 16.0;
const MAX_INPUT: f64 = 120_000.0;
const MAX_OUTPUT: f64 = 16_000.0;

/// Relative request volume per UTC hour (European and American working hours overlap).
const HOURLY: [f64; 24] = [
    0.25, 0.20, 0.15, 0.12, 0.12, 0.15, 0.25, 0.45, 0.70, 0.90, 1.00, 1.00, 0.95, 1.00, 1.00, 1.00,
    0.95, 0.85, 0.70, 0.60, 0.50, 0.42, 0.35, 0.30,
];
/// Monday first.
const WEEKDAY: [f64; 7] = [1.0, 1.0, 1.0, 0.97, 0.9, 0.3, 0.27];

// ---------------------------------------------------------------------------------------
// Calendar (proleptic Gregorian, days since 1970-01-01).
// ---------------------------------------------------------------------------------------

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u64;
    let mp = if m > 2 { m - 3 } else { m + 9 } as u64;
    let doy = (153 * mp + 2) / 5 + d as u64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i64 - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u32
}

fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn add_months(days: i64, months: u32) -> i64 {
    let (y, m, d) = civil_from_days(days);
    let total = (m - 1) as i64 + months as i64;
    let (ny, nm) = (y + total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    days_from_civil(ny, nm, d.min(days_in_month(ny, nm)))
}

// ---------------------------------------------------------------------------------------
// Activity over time: inverse CDF of a piecewise-uniform (per hour) density.
// ---------------------------------------------------------------------------------------

struct Activity {
    start_ms: u64,
    /// cum[h] = share of the activity before hour h; cum.len() = hours + 1.
    cum: Vec<f64>,
    span_ms: u64,
}

impl Activity {
    fn new(start_day: i64, end_day: i64, rng: &mut Rng) -> Self {
        let start_ms = start_day as u64 * 86_400_000;
        let span_ms = (end_day - start_day) as u64 * 86_400_000 - END_MARGIN_MS;
        let hours = span_ms.div_ceil(3_600_000) as usize;
        let days = (end_day - start_day) as usize;
        let day_noise: Vec<f64> = (0..days).map(|_| 0.88 + 0.24 * rng.f64()).collect();
        let mut cum = Vec::with_capacity(hours + 1);
        let mut total = 0.0;
        cum.push(0.0);
        for h in 0..hours {
            let day = h / 24;
            let weekday = ((start_day + day as i64 + 3).rem_euclid(7)) as usize; // 1970-01-01 was a Thursday
            let growth = 1.0 + 0.25 * (h as f64 / hours as f64);
            let mut w = HOURLY[h % 24] * WEEKDAY[weekday] * day_noise[day] * growth;
            if h + 1 == hours {
                // The last hour is cut short by the end margin.
                let rem = span_ms - (hours as u64 - 1) * 3_600_000;
                w *= rem as f64 / 3_600_000.0;
            }
            total += w;
            cum.push(total);
        }
        for c in &mut cum {
            *c /= total;
        }
        Activity {
            start_ms,
            cum,
            span_ms,
        }
    }

    /// Time (ms since the epoch) at which a share q in [0, 1] of the activity is reached.
    fn at(&self, q: f64) -> u64 {
        let hours = self.cum.len() - 1;
        let h = self.cum.partition_point(|&c| c <= q).clamp(1, hours) - 1;
        let width = self.cum[h + 1] - self.cum[h];
        let frac = if width > 0.0 {
            ((q - self.cum[h]) / width).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let offset = ((h as f64 + frac) * 3_600_000.0) as u64;
        self.start_ms + offset.min(self.span_ms)
    }
}

// ---------------------------------------------------------------------------------------
// Sessions.
// ---------------------------------------------------------------------------------------

struct Session {
    id: u64,
    user: u32,
    feature: u8,
    env: u8,
    key: u16,
    /// Index of the next request in the session.
    next: u32,
    len: u32,
}

struct World {
    key_names: Vec<Vec<u8>>,
    /// Per team: index of its first key in key_names, and its key count.
    team_keys: Vec<(usize, usize)>,
    /// Per feature: its project's name.
    feature_project: Vec<Vec<u8>>,
    /// Cumulative feature weights, for sampling.
    feature_cum: Vec<f64>,
}

impl World {
    fn new() -> Self {
        let mut key_names = Vec::new();
        let mut team_keys = Vec::new();
        for (team, keys, _) in TEAMS {
            team_keys.push((key_names.len(), keys as usize));
            for n in 1..=keys {
                key_names.push(format!("key_{team}_{n}").into_bytes());
            }
        }
        let mut seen = [0u32; TEAMS.len()];
        let mut feature_project = Vec::new();
        for f in &FEATURES {
            let (team, _, projects) = TEAMS[f.team];
            let n = seen[f.team] % projects + 1;
            seen[f.team] += 1;
            feature_project.push(format!("proj_{team}_{n}").into_bytes());
        }
        let mut feature_cum = Vec::new();
        let mut total = 0.0;
        for f in &FEATURES {
            total += f.weight;
            feature_cum.push(total);
        }
        for c in &mut feature_cum {
            *c /= total;
        }
        World {
            key_names,
            team_keys,
            feature_project,
            feature_cum,
        }
    }

    fn new_session(&self, rng: &mut Rng, id: u64, max_len: u64) -> Session {
        let u = rng.f64();
        let feature = self
            .feature_cum
            .partition_point(|&c| c <= u)
            .min(FEATURES.len() - 1);
        let f = &FEATURES[feature];
        let len = (rng.lognormal(f.session_median, 0.8).round() as u32).clamp(1, MAX_SESSION);
        let len = (len as u64).min(max_len) as u32;
        let r = rng.f64();
        let env = if r < 0.86 {
            0
        } else if r < 0.955 {
            1
        } else {
            2
        };
        let (first, count) = self.team_keys[f.team];
        // The last key of a team is its dev key, the one before its staging key, the
        // others are prod keys (the first ones busier).
        let key = match env {
            0 => {
                let prod = (count - 2) as f64;
                first + ((rng.f64().powf(1.6) * prod) as usize).min(count - 3)
            }
            1 => first + count - 2,
            _ => first + count - 1,
        };
        let user = 1 + (rng.f64().powf(1.8) * USERS) as u32;
        Session {
            id,
            user,
            feature: feature as u8,
            env,
            key: key as u16,
            next: 0,
            len,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Formatting.
// ---------------------------------------------------------------------------------------

fn put_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn put_hex16(buf: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 16];
    for (i, t) in tmp.iter_mut().enumerate() {
        *t = HEX[((n >> (60 - 4 * i)) & 0xF) as usize];
    }
    buf.extend_from_slice(&tmp);
}

/// 32 hex digits, like OpenAI's `x-request-id`: the first 16 are a bijection of the row
/// number (so ids never repeat), the rest more of the same noise.
fn put_request_id(buf: &mut Vec<u8>, id: u64) {
    put_hex16(buf, id);
    put_hex16(buf, mix64(id ^ 0x5DEE_CE66_D1CE_5EED));
}

fn put_2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

/// Exact decimal text of an amount of pico-dollars: at least one digit after the point,
/// no trailing zeros beyond it.
fn put_pico(buf: &mut Vec<u8>, pico: u64) {
    const SCALE: u64 = 1_000_000_000_000;
    put_u64(buf, pico / SCALE);
    buf.push(b'.');
    let mut frac = pico % SCALE;
    let mut digits = 12;
    while digits > 1 && frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    let mut tmp = [b'0'; 12];
    for i in (0..digits).rev() {
        tmp[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    buf.extend_from_slice(&tmp[..digits]);
}

/// RFC 3339 UTC timestamps with milliseconds, caching the date part.
struct Clock {
    day: i64,
    date: [u8; 11], // "YYYY-MM-DDT"
}

impl Clock {
    fn put(&mut self, buf: &mut Vec<u8>, ms: u64) {
        let day = (ms / 86_400_000) as i64;
        if day != self.day {
            let (y, m, d) = civil_from_days(day);
            let mut tmp = Vec::with_capacity(11);
            put_u64(&mut tmp, y as u64);
            tmp.push(b'-');
            put_2(&mut tmp, m);
            tmp.push(b'-');
            put_2(&mut tmp, d);
            tmp.push(b'T');
            self.date.copy_from_slice(&tmp);
            self.day = day;
        }
        buf.extend_from_slice(&self.date);
        let in_day = ms % 86_400_000;
        let secs = (in_day / 1000) as u32;
        put_2(buf, secs / 3600);
        buf.push(b':');
        put_2(buf, secs / 60 % 60);
        buf.push(b':');
        put_2(buf, secs % 60);
        buf.push(b'.');
        let milli = (in_day % 1000) as u32;
        buf.push(b'0' + (milli / 100) as u8);
        put_2(buf, milli % 100);
        buf.push(b'Z');
    }
}

const CSV_HEADER: &str = "timestamp,provider,model,request_id,session_id,user_id,api_key_id,\
project_id,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,cost,currency,\
tag:team,tag:feature,tag:env\n";

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Jsonl,
}

struct Row {
    ms: u64,
    model: usize,
    request_id: u64,
    session_id: u64,
    user: u32,
    key: usize,
    feature: usize,
    env: usize,
    input: u64,
    cached: u64,
    cache_write: u64,
    output: u64,
    /// None: cost and currency left empty.
    cost_pico: Option<u64>,
}

fn put_row(buf: &mut Vec<u8>, clock: &mut Clock, world: &World, format: Format, r: &Row) {
    let model = &MODELS[r.model];
    let f = &FEATURES[r.feature];
    let team = TEAMS[f.team].0.as_bytes();
    let project = &world.feature_project[r.feature];
    let key = &world.key_names[r.key];
    let env = ENVS[r.env].as_bytes();
    match format {
        Format::Csv => {
            clock.put(buf, r.ms);
            buf.push(b',');
            buf.extend_from_slice(model.provider.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(model.name.as_bytes());
            buf.extend_from_slice(b",req_");
            put_request_id(buf, r.request_id);
            buf.extend_from_slice(b",sess_");
            put_hex16(buf, r.session_id);
            buf.extend_from_slice(b",u_");
            put_u64(buf, r.user as u64);
            buf.push(b',');
            buf.extend_from_slice(key);
            buf.push(b',');
            buf.extend_from_slice(project);
            buf.push(b',');
            put_u64(buf, r.input);
            buf.push(b',');
            put_u64(buf, r.cached);
            buf.push(b',');
            put_u64(buf, r.cache_write);
            buf.push(b',');
            put_u64(buf, r.output);
            buf.push(b',');
            if let Some(c) = r.cost_pico {
                put_pico(buf, c);
                buf.extend_from_slice(b",USD,");
            } else {
                buf.extend_from_slice(b",,");
            }
            buf.extend_from_slice(team);
            buf.push(b',');
            buf.extend_from_slice(f.name.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(env);
            buf.push(b'\n');
        }
        Format::Jsonl => {
            buf.extend_from_slice(b"{\"timestamp\":\"");
            clock.put(buf, r.ms);
            buf.extend_from_slice(b"\",\"provider\":\"");
            buf.extend_from_slice(model.provider.as_bytes());
            buf.extend_from_slice(b"\",\"model\":\"");
            buf.extend_from_slice(model.name.as_bytes());
            buf.extend_from_slice(b"\",\"request_id\":\"req_");
            put_request_id(buf, r.request_id);
            buf.extend_from_slice(b"\",\"session_id\":\"sess_");
            put_hex16(buf, r.session_id);
            buf.extend_from_slice(b"\",\"user_id\":\"u_");
            put_u64(buf, r.user as u64);
            buf.extend_from_slice(b"\",\"api_key_id\":\"");
            buf.extend_from_slice(key);
            buf.extend_from_slice(b"\",\"project_id\":\"");
            buf.extend_from_slice(project);
            buf.extend_from_slice(b"\",\"input_tokens\":");
            put_u64(buf, r.input);
            buf.extend_from_slice(b",\"cached_input_tokens\":");
            put_u64(buf, r.cached);
            buf.extend_from_slice(b",\"cache_write_tokens\":");
            put_u64(buf, r.cache_write);
            buf.extend_from_slice(b",\"output_tokens\":");
            put_u64(buf, r.output);
            if let Some(c) = r.cost_pico {
                buf.extend_from_slice(b",\"cost\":");
                put_pico(buf, c);
                buf.extend_from_slice(b",\"currency\":\"USD\"");
            } else {
                buf.extend_from_slice(b",\"cost\":null,\"currency\":null");
            }
            buf.extend_from_slice(b",\"tags\":{\"team\":\"");
            buf.extend_from_slice(team);
            buf.extend_from_slice(b"\",\"feature\":\"");
            buf.extend_from_slice(f.name.as_bytes());
            buf.extend_from_slice(b"\",\"env\":\"");
            buf.extend_from_slice(env);
            buf.extend_from_slice(b"\"}}\n");
        }
    }
}

// ---------------------------------------------------------------------------------------
// One request of a session.
// ---------------------------------------------------------------------------------------

fn make_row(rng: &mut Rng, s: &Session, ms: u64, request_id: u64, session_id: u64) -> Row {
    let feature = s.feature as usize;
    let f = &FEATURES[feature];
    let i = s.next;
    let model_idx = if f.p_secondary > 0.0 && rng.chance(f.p_secondary) {
        f.secondary
    } else {
        f.primary
    };
    let model = &MODELS[model_idx];

    // Context grows along a session (conversation history, agent scratchpad).
    let growth = 1.0 + 0.10 * i.min(20) as f64;
    let input = rng
        .lognormal(f.input_median * growth, 1.0)
        .clamp(MIN_INPUT, MAX_INPUT) as u64;

    // Prompt caching: mostly on follow-up requests of a session.
    let p_cached = if i == 0 { 0.12 } else { 0.50 };
    let cached = if input >= 256 && rng.chance(p_cached) {
        (input as f64 * (0.25 + 0.70 * rng.f64())) as u64
    } else {
        0
    };
    // Cache writes (billed by Anthropic, not by OpenAI): mostly on a session's first
    // request.
    let p_write = if i == 0 { 0.20 } else { 0.03 };
    let cache_write = if model.cache_write > 0 && input - cached >= 256 && rng.chance(p_write) {
        ((input - cached) as f64 * (0.3 + 0.7 * rng.f64())) as u64
    } else {
        0
    };

    let out_median = if model.reasoning {
        f.output_median * 3.0
    } else {
        f.output_median
    };
    let output = rng.lognormal(out_median, 0.9).clamp(1.0, MAX_OUTPUT) as u64;

    let cost_pico = if rng.chance(0.05) {
        None
    } else {
        let cache_write_rate = if model.cache_write > 0 {
            model.cache_write
        } else {
            model.input
        };
        Some(
            (input - cached - cache_write) * model.input
                + cached * model.cache_read
                + cache_write * cache_write_rate
                + output * model.output,
        )
    };

    Row {
        ms,
        model: model_idx,
        request_id,
        session_id,
        user: s.user,
        key: s.key as usize,
        feature,
        env: s.env as usize,
        input,
        cached,
        cache_write,
        output,
        cost_pico,
    }
}

// ---------------------------------------------------------------------------------------
// Main.
// ---------------------------------------------------------------------------------------

struct Args {
    rows: u64,
    out: String,
    format: Format,
    seed: u64,
    start_day: i64,
    months: u32,
}

const USAGE: &str = "usage: gen-usage-log --rows N --out PATH [--format csv|jsonl] [--seed S] \
[--start 2026-09-01] [--months 2]\n(--out - writes to standard output)";

fn parse_args() -> Result<Args, String> {
    let mut rows = None;
    let mut out = None;
    let mut format = Format::Csv;
    let mut seed = 42u64;
    let mut start_day = days_from_civil(2026, 9, 1);
    let mut months = 2u32;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        match name.as_str() {
            "--rows" => {
                rows = Some(
                    value
                        .replace('_', "")
                        .parse::<u64>()
                        .map_err(|_| format!("--rows: not a number: {value}"))?,
                )
            }
            "--out" => out = Some(value),
            "--format" => {
                format = match value.as_str() {
                    "csv" => Format::Csv,
                    "jsonl" | "json" | "ndjson" => Format::Jsonl,
                    _ => return Err(format!("--format: csv or jsonl, not {value}")),
                }
            }
            "--seed" => {
                seed = value
                    .parse()
                    .map_err(|_| format!("--seed: not a number: {value}"))?
            }
            "--start" => {
                start_day = parse_date(&value)
                    .ok_or_else(|| format!("--start: not a date (YYYY-MM-DD): {value}"))?
            }
            "--months" => {
                months = value
                    .parse()
                    .ok()
                    .filter(|&m| m >= 1)
                    .ok_or_else(|| format!("--months: a whole number >= 1, not {value}"))?
            }
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    if start_day < 0 {
        return Err("--start: must be 1970-01-01 or later".into());
    }
    Ok(Args {
        rows: rows.ok_or("--rows is required")?,
        out: out.ok_or("--out is required")?,
        format,
        seed,
        start_day,
        months,
    })
}

/// Writes the log; returns the bytes written, header included, and those of the header.
fn generate(args: &Args, out: &mut dyn Write) -> io::Result<(u64, u64)> {
    let world = World::new();
    let mut rng = Rng::new(args.seed);
    let activity = Activity::new(
        args.start_day,
        add_months(args.start_day, args.months),
        &mut rng,
    );
    // Ids: a bijection of a counter, so they look random but never repeat.
    let req_key = mix64(args.seed ^ 0x7265_715F_6B65_7931);
    let sess_key = mix64(args.seed ^ 0x7365_7373_5F6B_6579);

    let mut w = BufWriter::with_capacity(8 << 20, out);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut clock = Clock {
        day: -1,
        date: [0; 11],
    };
    let mut bytes = 0u64;
    if args.format == Format::Csv {
        w.write_all(CSV_HEADER.as_bytes())?;
        bytes += CSV_HEADER.len() as u64;
    }
    let header = bytes;

    // Active sessions, by time of their next request (ties: by session number).
    let mut sessions: Vec<Session> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::new();

    let rows = args.rows;
    // Rows handed to sessions so far. Session k starts where the activity curve reaches
    // a share (rows handed out before it + a random part of its own rows) / rows, so the
    // starts are in order and exactly `rows` rows cover the whole period.
    let mut allocated = 0u64;
    let mut session_no = 0u64;
    let mut pending: Option<(u64, Session)> = None;
    let mut emitted = 0u64;

    while emitted < rows {
        if pending.is_none() && allocated < rows {
            let s = world.new_session(&mut rng, session_no, rows - allocated);
            let q = (allocated as f64 + rng.f64() * s.len as f64) / rows as f64;
            allocated += s.len as u64;
            session_no += 1;
            pending = Some((activity.at(q), s));
        }
        // Admit the next session if it starts before the earliest pending request.
        if let Some((start, _)) = pending {
            let admit = match heap.peek() {
                None => true,
                Some(Reverse((t, _, _))) => start <= *t,
            };
            if admit {
                let (start, s) = pending.take().unwrap();
                let id = s.id;
                let slot = match free.pop() {
                    Some(slot) => {
                        sessions[slot as usize] = s;
                        slot
                    }
                    None => {
                        sessions.push(s);
                        (sessions.len() - 1) as u32
                    }
                };
                heap.push(Reverse((start, id, slot)));
                continue;
            }
        }
        let Reverse((ms, id, slot)) = heap.pop().expect("a session is active");
        let s = &mut sessions[slot as usize];
        let row = make_row(
            &mut rng,
            s,
            ms,
            mix64(emitted ^ req_key),
            mix64(s.id ^ sess_key),
        );
        buf.clear();
        put_row(&mut buf, &mut clock, &world, args.format, &row);
        w.write_all(&buf)?;
        bytes += buf.len() as u64;
        emitted += 1;
        s.next += 1;
        if s.next < s.len {
            let gap = (rng.lognormal(4000.0, 0.9) as u64).clamp(150, MAX_GAP_MS);
            heap.push(Reverse((ms + gap, id, slot)));
        } else {
            free.push(slot);
        }
    }
    w.flush()?;
    Ok((bytes, header))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gen-usage-log: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let result = if args.out == "-" {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        generate(&args, &mut lock)
    } else {
        match File::create(&args.out) {
            Ok(mut f) => generate(&args, &mut f),
            Err(e) => {
                eprintln!("gen-usage-log: cannot create {}: {e}", args.out);
                return ExitCode::FAILURE;
            }
        }
    };
    match result {
        Ok((bytes, header)) => {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "gen-usage-log: {} rows, {} bytes ({:.1} bytes/row) to {} in {:.2}s",
                args.rows,
                bytes,
                (bytes - header) as f64 / args.rows.max(1) as f64,
                args.out,
                secs
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-usage-log: writing {}: {e}", args.out);
            ExitCode::FAILURE
        }
    }
}
