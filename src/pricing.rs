//! Token prices, for request-log rows that carry tokens but no cost (docs/pricing.md).
//!
//! The table is LiteLLM's `model_prices_and_context_window.json` (bundled, MIT; or the
//! user's own file of that shape via `[pricing] file`). Prices are USD per token, read
//! from their JSON text straight into exact [`Money`]: `2.5e-06` is exactly 0.0000025.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context as _, Result};

use crate::money::Money;

static BUNDLED: &[u8] =
    include_bytes!("../assets/litellm-prices/model_prices_and_context_window_backup.json");

/// Prices of one model, USD per token.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrice {
    pub input: Money,
    pub output: Money,
    /// Cached input read; the input price when the table has none.
    pub cache_read: Option<Money>,
    /// Cache write (5-minute TTL for Anthropic); the input price when the table has none.
    pub cache_write: Option<Money>,
    /// Long-context tiers: (threshold in input tokens, input, output, cache read).
    pub tiers: Vec<(i64, Money, Money, Option<Money>)>,
    /// LiteLLM's provider, normalised (`openai`, `anthropic`, `aws`, `azure`, `gcp`, ...).
    pub provider: String,
    /// 1-hour cache writes (Anthropic `cache_creation_input_token_cost_above_1hr`); the
    /// cache-write price when the table has none.
    pub cache_write_1h: Option<Money>,
    /// Batch, flex and priority prices (`*_batches`, `*_flex`, `*_priority`), in
    /// [`ServiceTier`] order after `Standard`; each price the tier lacks is the standard one.
    pub service_tiers: [TierPrices; 3],
}

/// One service tier's prices; `None` where the table has none for the tier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierPrices {
    pub input: Option<Money>,
    pub output: Option<Money>,
    pub cache_read: Option<Money>,
    pub cache_write: Option<Money>,
    pub cache_write_1h: Option<Money>,
}

/// The service tier a row was served at (OpenAI `batch` / `service_tier`, Anthropic
/// `service_tier`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceTier {
    #[default]
    Standard,
    Batch,
    Flex,
    Priority,
}

impl ServiceTier {
    /// `batch`, `flex`, `priority` (any case); anything else is standard.
    pub fn parse(s: &str) -> ServiceTier {
        match s.trim().to_ascii_lowercase().as_str() {
            "batch" => ServiceTier::Batch,
            "flex" => ServiceTier::Flex,
            "priority" => ServiceTier::Priority,
            _ => ServiceTier::Standard,
        }
    }
}

/// An aggregated usage row (a time bucket of many requests: the OpenAI Usage API, the
/// Anthropic usage report), to be priced.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aggregate {
    /// The row's tokens; `input` counts all input.
    pub tokens: Tokens,
    /// The part of `tokens.cache_write` written to the 1-hour cache.
    pub cache_write_1h: i64,
    pub tier: ServiceTier,
    /// How long one request's input is, for the long-context tier: the row's mean input
    /// per request, or what the source says (Anthropic's `context_window`); 0 when unknown
    /// (standard prices). Never the row's total.
    pub request_input: i64,
}

/// Token counts of one request; `input` counts all input (cached and cache-write too).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokens {
    pub input: i64,
    pub cached: i64,
    pub cache_write: i64,
    pub output: i64,
}

impl ModelPrice {
    /// The cost of a request, exact: uncached input at the input price, cache reads and
    /// writes at theirs, output at the output price; the long-context tier whose threshold
    /// the input exceeds applies to the whole request.
    pub fn cost(&self, t: Tokens) -> Option<Money> {
        self.cost_aggregate(&Aggregate {
            tokens: t,
            cache_write_1h: 0,
            tier: ServiceTier::Standard,
            request_input: t.input,
        })
    }

    /// The cost of an aggregated row (docs/pricing.md#aggregated-usage-rows): the
    /// long-context tier chosen by `request_input`, never by the row's total; else the
    /// service tier's prices where the table has them; 1-hour cache writes at their price.
    pub fn cost_aggregate(&self, a: &Aggregate) -> Option<Money> {
        let t = a.tokens;
        let (mut input, mut output, mut cache_read) = (self.input, self.output, self.cache_read);
        let mut cache_write = self.cache_write;
        let mut cache_write_1h = self.cache_write_1h;
        let mut long = false;
        for (threshold, i, o, c) in &self.tiers {
            if a.request_input > *threshold {
                input = *i;
                output = *o;
                cache_read = c.or(cache_read);
                long = true;
            }
        }
        if !long {
            let tier = match a.tier {
                ServiceTier::Standard => None,
                ServiceTier::Batch => Some(&self.service_tiers[0]),
                ServiceTier::Flex => Some(&self.service_tiers[1]),
                ServiceTier::Priority => Some(&self.service_tiers[2]),
            };
            if let Some(p) = tier {
                input = p.input.unwrap_or(input);
                output = p.output.unwrap_or(output);
                cache_read = p.cache_read.or(cache_read);
                cache_write = p.cache_write.or(cache_write);
                cache_write_1h = p.cache_write_1h.or(cache_write_1h);
            }
        }
        let cache_write = cache_write.unwrap_or(input);
        let uncached = t.input - t.cached - t.cache_write;
        let parts = [
            input.checked_mul_int(uncached)?,
            cache_read.unwrap_or(input).checked_mul_int(t.cached)?,
            cache_write.checked_mul_int(t.cache_write - a.cache_write_1h)?,
            cache_write_1h
                .unwrap_or(cache_write)
                .checked_mul_int(a.cache_write_1h)?,
            output.checked_mul_int(t.output)?,
        ];
        parts.iter().try_fold(Money::ZERO, |a, b| a.checked_add(*b))
    }
}

#[derive(Debug, Default)]
pub struct PriceTable {
    models: HashMap<String, ModelPrice>,
}

fn litellm_provider(p: &str) -> String {
    let p = p.to_ascii_lowercase();
    if p.starts_with("bedrock") || p.starts_with("sagemaker") || p == "amazon_nova" {
        "aws".into()
    } else if p.starts_with("azure") {
        "azure".into()
    } else if p.starts_with("vertex_ai") || p == "gemini" {
        "gcp".into()
    } else if p == "text-completion-openai" || p == "chatgpt" {
        "openai".into()
    } else {
        p
    }
}

impl PriceTable {
    /// Parses a LiteLLM-shaped price table; entries without token prices are skipped.
    pub fn parse(bytes: &[u8]) -> Result<PriceTable> {
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(bytes).context("the price table is not a JSON object")?;
        let mut models = HashMap::with_capacity(v.len());
        let price = |m: &serde_json::Map<String, serde_json::Value>, k: &str| -> Option<Money> {
            match m.get(k)? {
                serde_json::Value::Number(n) => Money::parse(&n.to_string()).ok(),
                serde_json::Value::String(s) => Money::parse(s).ok(),
                _ => None,
            }
        };
        for (name, entry) in &v {
            let Some(m) = entry.as_object() else { continue };
            let (Some(input), Some(output)) = (
                price(m, "input_cost_per_token"),
                price(m, "output_cost_per_token"),
            ) else {
                continue;
            };
            let mut tiers = Vec::new();
            for (k, threshold) in [("128k", 128_000), ("200k", 200_000), ("272k", 272_000)] {
                if let (Some(i), Some(o)) = (
                    price(m, &format!("input_cost_per_token_above_{k}_tokens")),
                    price(m, &format!("output_cost_per_token_above_{k}_tokens")),
                ) {
                    let c = price(m, &format!("cache_read_input_token_cost_above_{k}_tokens"));
                    tiers.push((threshold, i, o, c));
                }
            }
            let provider = m
                .get("litellm_provider")
                .and_then(|p| p.as_str())
                .map(litellm_provider)
                .unwrap_or_default();
            let service_tiers = ["_batches", "_flex", "_priority"].map(|suffix| {
                let p = |k: &str| price(m, &format!("{k}{suffix}"));
                TierPrices {
                    input: p("input_cost_per_token"),
                    output: p("output_cost_per_token"),
                    cache_read: p("cache_read_input_token_cost"),
                    cache_write: p("cache_creation_input_token_cost"),
                    cache_write_1h: p("cache_creation_input_token_cost_above_1hr"),
                }
            });
            models.insert(
                name.clone(),
                ModelPrice {
                    input,
                    output,
                    cache_read: price(m, "cache_read_input_token_cost"),
                    cache_write: price(m, "cache_creation_input_token_cost"),
                    tiers,
                    provider,
                    cache_write_1h: price(m, "cache_creation_input_token_cost_above_1hr"),
                    service_tiers,
                },
            );
        }
        Ok(PriceTable { models })
    }

    /// Finds a model: as named, lower case, `provider/model`, or without a `provider/`
    /// prefix.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&ModelPrice> {
        let m = model.trim();
        self.models
            .get(m)
            .or_else(|| self.models.get(&m.to_ascii_lowercase()))
            .or_else(|| {
                let own = [provider];
                let prefixes: &[&str] = match provider {
                    "aws" => &["bedrock", "bedrock_converse"],
                    "azure" => &["azure", "azure_ai"],
                    "gcp" => &["vertex_ai", "gemini"],
                    _ => &own,
                };
                prefixes
                    .iter()
                    .find_map(|p| self.models.get(&format!("{p}/{m}")))
            })
            .or_else(|| {
                m.split_once('/')
                    .and_then(|(_, rest)| self.models.get(rest))
            })
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// The price table, loaded on first use.
pub struct PriceBook {
    file: Option<PathBuf>,
    table: OnceLock<std::result::Result<PriceTable, String>>,
}

impl PriceBook {
    /// `file`: a user's table instead of the bundled one.
    pub fn new(file: Option<PathBuf>) -> PriceBook {
        PriceBook {
            file,
            table: OnceLock::new(),
        }
    }

    pub fn get(&self) -> Result<&PriceTable> {
        let loaded = self.table.get_or_init(|| match &self.file {
            None => PriceTable::parse(BUNDLED).map_err(|e| format!("{e:#}")),
            Some(p) => std::fs::read(p)
                .map_err(|e| format!("cannot read the price table {}: {e}", p.display()))
                .and_then(|b| {
                    PriceTable::parse(&b).map_err(|e| format!("price table {}: {e:#}", p.display()))
                }),
        });
        loaded.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Whether a user's table replaces the bundled one.
    pub fn is_custom(&self) -> bool {
        self.file.is_some()
    }

    /// Where prices come from, for notes.
    pub fn source(&self) -> String {
        match &self.file {
            None => "the bundled LiteLLM price table (litellm 1.109.1)".into(),
            Some(p) => p.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_prices_exactly() {
        let book = PriceBook::new(None);
        let t = book.get().unwrap();
        assert!(t.len() > 1000);
        let p = t.lookup("openai", "gpt-4o-2024-08-06").unwrap();
        // 1200 input of which 1000 cached, 150 output:
        // 200 × 2.5e-6 + 1000 × 1.25e-6 + 150 × 1e-5 = 0.0005 + 0.00125 + 0.0015 = 0.00325
        let c = p
            .cost(Tokens {
                input: 1200,
                cached: 1000,
                cache_write: 0,
                output: 150,
            })
            .unwrap();
        assert_eq!(c, Money::parse("0.00325").unwrap());
        assert_eq!(p.provider, "openai");
        // Anthropic cache write: 5200 in (4800 written), 300 out:
        // 400 × 3e-6 + 4800 × 3.75e-6 + 300 × 1.5e-5 = 0.0012 + 0.018 + 0.0045 = 0.0237
        let s = t.lookup("anthropic", "claude-sonnet-4-5").unwrap();
        let c = s
            .cost(Tokens {
                input: 5200,
                cached: 0,
                cache_write: 4800,
                output: 300,
            })
            .unwrap();
        assert_eq!(c, Money::parse("0.0237").unwrap());
    }

    #[test]
    fn long_context_tier_and_prefixes() {
        let book = PriceBook::new(None);
        let t = book.get().unwrap();
        let g = t.lookup("gcp", "gemini-2.5-pro").unwrap();
        // 250k input → the above-200k tier: 250000 × 2.5e-6 + 1000 × 1.5e-5 = 0.625 + 0.015
        let c = g
            .cost(Tokens {
                input: 250_000,
                cached: 0,
                cache_write: 0,
                output: 1000,
            })
            .unwrap();
        assert_eq!(c, Money::parse("0.64").unwrap());
        assert!(t.lookup("openai", "openai/gpt-4o").is_some());
        assert!(t.lookup("openai", "no-such-model-xyz").is_none());
    }

    #[test]
    fn aggregated_rows_tiers_and_one_hour_writes() {
        let book = PriceBook::new(None);
        let t = book.get().unwrap();
        let m = |s: &str| Money::parse(s).unwrap();
        let g = t.lookup("openai", "gpt-5.4").unwrap();
        let day = Tokens {
            input: 1_000_000,
            cached: 0,
            cache_write: 0,
            output: 10_000,
        };
        // 10 requests of 100k input: standard prices, though the day's total is above 272k:
        // 1e6 × 2.5e-6 + 1e4 × 1.5e-5 = 2.65 (cost() of one 1M request: 5 + 0.225).
        let a = Aggregate {
            tokens: day,
            request_input: 100_000,
            ..Aggregate::default()
        };
        assert_eq!(g.cost_aggregate(&a), Some(m("2.65")));
        assert_eq!(g.cost(day), Some(m("5.225")));
        // Mean above 272k: the long-context tier.
        let a = Aggregate {
            request_input: 300_000,
            ..a
        };
        assert_eq!(g.cost_aggregate(&a), Some(m("5.225")));
        // Batch: 1e6 × 1.25e-6 + 1e4 × 7.5e-6 = 1.325; flex the same here.
        for tier in [ServiceTier::Batch, ServiceTier::Flex] {
            let a = Aggregate {
                tokens: day,
                tier,
                request_input: 1000,
                ..Aggregate::default()
            };
            assert_eq!(g.cost_aggregate(&a), Some(m("1.325")));
        }
        // Anthropic: 1500 uncached, 200 read, 500 written 5m, 1000 written 1h, 500 out:
        // 1500×3e-6 + 200×3e-7 + 500×3.75e-6 + 1000×6e-6 + 500×1.5e-5 = 0.019935
        let s = t.lookup("anthropic", "claude-sonnet-4-5-20250929").unwrap();
        let a = Aggregate {
            tokens: Tokens {
                input: 3200,
                cached: 200,
                cache_write: 1500,
                output: 500,
            },
            cache_write_1h: 1000,
            ..Aggregate::default()
        };
        assert_eq!(s.cost_aggregate(&a), Some(m("0.019935")));
        assert_eq!(ServiceTier::parse(" Batch"), ServiceTier::Batch);
        assert_eq!(ServiceTier::parse("default"), ServiceTier::Standard);
    }
}
