//! Helpers shared by the cloud bill adapters (AWS CUR, Azure cost exports, OCI cost
//! reports): finding columns by a normalised name, and token counts from a billed quantity
//! and its unit (docs/formats/aws.md#tokens, docs/formats/azure.md#azure-openai).

use std::collections::HashMap;

use crate::money::Money;

/// Column positions by normalised name (the first column of a name wins).
pub struct Columns {
    index: HashMap<String, usize>,
}

impl Columns {
    /// Indexes `headers` under `norm(header)`.
    pub fn new(headers: &[String], norm: impl Fn(&str) -> String) -> Columns {
        let mut index = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            index.entry(norm(h)).or_insert(i);
        }
        Columns { index }
    }

    /// The first of `names` present.
    pub fn find(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.index.get(*n).copied())
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
}

/// How many tokens one unit of `unit` stands for: `1K tokens`, `1K`, `10K` → 1000, 10000;
/// `1M tokens`, `1M` → 1000000; `tokens`, `1`, `Count` → 1. None for anything else
/// (`1 Hour`, `1 GB/Month`).
pub fn unit_multiplier(unit: &str) -> Option<i64> {
    let u = unit.trim().to_ascii_lowercase();
    let u = u
        .strip_suffix("tokens")
        .or_else(|| u.strip_suffix("token"))
        .unwrap_or(&u)
        .trim();
    if u.is_empty() || u == "count" {
        return Some(1);
    }
    let (digits, suffix) = match u.find(|c: char| !c.is_ascii_digit()) {
        Some(p) => (&u[..p], u[p..].trim()),
        None => (u, ""),
    };
    let n: i64 = if digits.is_empty() {
        1
    } else {
        digits.parse().ok()?
    };
    let scale = match suffix {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// A billed token quantity as a token count. `quantity` is in units of `mult` tokens
/// (`1K tokens` → 1000) unless `cost / (quantity × rate)` is about `1/mult` rather than
/// about 1, which says the quantity already counts tokens. The result is rounded half to
/// even to a whole token; None when negative or too large.
pub fn token_count(quantity: Money, mult: i64, rate: Option<Money>, cost: Money) -> Option<i64> {
    let mut mult = mult;
    if mult > 1 && quantity.0 != 0 {
        if let Some(rate) = rate.filter(|r| r.0 != 0) {
            let (q, r, c) = (as_f64(quantity), as_f64(rate), as_f64(cost));
            let ratio = c / (q * r);
            let m = mult as f64;
            if ratio.is_finite() && ratio >= 0.5 / m && ratio <= 2.0 / m {
                mult = 1;
            }
        }
    }
    if quantity.0 < 0 {
        return None;
    }
    let units = quantity.0.checked_mul(mult as i128)?;
    let one = 10i128.pow(crate::money::SCALE);
    let (q, r) = (units / one, units % one);
    let n = q + i128::from(r * 2 > one || (r * 2 == one && q % 2 == 1));
    i64::try_from(n).ok()
}

/// Only to classify a ratio (never for amounts).
fn as_f64(m: Money) -> f64 {
    m.0 as f64 / 1e18
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn units() {
        assert_eq!(unit_multiplier("1K tokens"), Some(1000));
        assert_eq!(unit_multiplier("1M"), Some(1_000_000));
        assert_eq!(unit_multiplier("10K"), Some(10_000));
        assert_eq!(unit_multiplier("tokens"), Some(1));
        assert_eq!(unit_multiplier(""), Some(1));
        assert_eq!(unit_multiplier("1 Hour"), None);
        assert_eq!(unit_multiplier("1 GB/Month"), None);
    }

    #[test]
    fn tokens_from_thousands_or_tokens() {
        // 4520 thousands at 0.003 a thousand = 13.56
        assert_eq!(
            token_count(m("4520.0"), 1000, Some(m("0.003")), m("13.56")),
            Some(4_520_000)
        );
        // 52000 tokens at 0.0032 a thousand = 0.1664: already tokens
        assert_eq!(
            token_count(m("52000"), 1000, Some(m("0.0032")), m("0.1664")),
            Some(52_000)
        );
        // no rate: the unit says thousands
        assert_eq!(token_count(m("250.5"), 1000, None, m("0")), Some(250_500));
        // half a token rounds to even
        assert_eq!(token_count(m("0.0025"), 1000, None, m("0")), Some(2));
        assert_eq!(token_count(m("-1"), 1000, None, m("0")), None);
    }
}
