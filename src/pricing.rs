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
        let (mut input, mut output, mut cache_read) = (self.input, self.output, self.cache_read);
        for (threshold, i, o, c) in &self.tiers {
            if t.input > *threshold {
                input = *i;
                output = *o;
                cache_read = c.or(cache_read);
            }
        }
        let uncached = t.input - t.cached - t.cache_write;
        let parts = [
            input.checked_mul_int(uncached)?,
            cache_read.unwrap_or(input).checked_mul_int(t.cached)?,
            self.cache_write
                .unwrap_or(input)
                .checked_mul_int(t.cache_write)?,
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
            models.insert(
                name.clone(),
                ModelPrice {
                    input,
                    output,
                    cache_read: price(m, "cache_read_input_token_cost"),
                    cache_write: price(m, "cache_creation_input_token_cost"),
                    tiers,
                    provider,
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
}
