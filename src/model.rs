//! The canonical record (SPEC §2.2): every adapter turns its input into [`Row`]s, and the
//! store holds only this schema.

use std::collections::BTreeMap;
use std::fmt;

use crate::money::Money;
use crate::timeparse::{Micros, Month};

/// What a provider charges (`bill`) or what callers did (`usage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Bill,
    Usage,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bill => "bill",
            Kind::Usage => "usage",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// FOCUS ChargeCategory, lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ChargeCategory {
    #[default]
    Usage,
    Purchase,
    Tax,
    Credit,
    Adjustment,
}

impl ChargeCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeCategory::Usage => "usage",
            ChargeCategory::Purchase => "purchase",
            ChargeCategory::Tax => "tax",
            ChargeCategory::Credit => "credit",
            ChargeCategory::Adjustment => "adjustment",
        }
    }

    /// Case-insensitive; accepts FOCUS 1.0-preview `ChargeType` values too.
    pub fn parse(s: &str) -> Option<ChargeCategory> {
        let s = s.trim();
        [
            ChargeCategory::Usage,
            ChargeCategory::Purchase,
            ChargeCategory::Tax,
            ChargeCategory::Credit,
            ChargeCategory::Adjustment,
        ]
        .into_iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(s))
        .or_else(|| match s.to_ascii_lowercase().as_str() {
            "refund" => Some(ChargeCategory::Credit),
            "rounding" | "correction" => Some(ChargeCategory::Adjustment),
            _ => None,
        })
    }
}

/// An ISO 4217 code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// Three ASCII letters, any case.
    pub fn parse(s: &str) -> Option<Currency> {
        let b = s.trim().as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Some(Currency([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            None
        }
    }

    /// Whether ISO 4217 lists the code (finops keeps other codes as written, with a note).
    pub fn is_iso(&self) -> bool {
        iso_currency::Currency::from_code(self.as_str()).is_some()
    }

    pub fn as_str(&self) -> &str {
        // Always ASCII by construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The normalised provider name: `openai`, `anthropic`, `aws`, `azure`, `gcp`, `oracle`...
pub fn normalize_provider(raw: &str, out: &mut String) {
    out.clear();
    let t = raw.trim();
    // Fast path: already a normalised name (the usual case in request logs).
    for name in ["openai", "anthropic", "aws", "azure", "gcp", "oracle"] {
        if t == name {
            out.push_str(name);
            return;
        }
    }
    let lower = t.to_ascii_lowercase();
    let known = match lower.as_str() {
        "aws"
        | "amazon web services"
        | "amazon web services, inc."
        | "amazon"
        | "amazon bedrock"
        | "bedrock"
        | "amazon web services emea sarl" => "aws",
        "microsoft"
        | "azure"
        | "microsoft azure"
        | "azure openai"
        | "azure openai service"
        | "microsoft corporation" => "azure",
        "google"
        | "google cloud"
        | "gcp"
        | "google cloud platform"
        | "vertex ai"
        | "vertex"
        | "google llc" => "gcp",
        "oracle" | "oci" | "oracle cloud infrastructure" => "oracle",
        "openai" | "open ai" | "openai, l.l.c." => "openai",
        "anthropic" | "anthropic, pbc" => "anthropic",
        _ => "",
    };
    if !known.is_empty() {
        out.push_str(known);
    } else {
        for c in lower.chars() {
            out.push(if c.is_whitespace() { '-' } else { c });
        }
    }
}

/// One canonical row, reused across rows by the adapters (its strings keep their
/// capacity). Empty strings mean null.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub record_id: u128,
    pub provider: String,
    pub charge_start: Micros,
    pub charge_end: Micros,
    pub billing_period: Option<Month>,
    pub charge_category: ChargeCategory,
    pub service: String,
    pub sku: String,
    pub description: String,
    pub model: String,
    pub cost: Money,
    pub effective_cost: Option<Money>,
    pub list_cost: Option<Money>,
    pub currency: Option<Currency>,
    pub cost_is_estimate: bool,
    pub input_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub requests: Option<i64>,
    pub billing_account: String,
    pub sub_account: String,
    pub project_id: String,
    pub workspace_id: String,
    pub api_key_id: String,
    pub resource_id: String,
    pub region: String,
    pub session_id: String,
    pub request_id: String,
    pub user_id: String,
    /// Canonical JSON object text (keys sorted, string values), or empty.
    pub tags: String,
}

impl Row {
    pub fn clear(&mut self) {
        self.record_id = 0;
        self.provider.clear();
        self.charge_start = 0;
        self.charge_end = 0;
        self.billing_period = None;
        self.charge_category = ChargeCategory::Usage;
        self.service.clear();
        self.sku.clear();
        self.description.clear();
        self.model.clear();
        self.cost = Money::ZERO;
        self.effective_cost = None;
        self.list_cost = None;
        self.currency = None;
        self.cost_is_estimate = false;
        self.input_tokens = None;
        self.cached_input_tokens = None;
        self.cache_write_tokens = None;
        self.output_tokens = None;
        self.requests = None;
        for s in [
            &mut self.billing_account,
            &mut self.sub_account,
            &mut self.project_id,
            &mut self.workspace_id,
            &mut self.api_key_id,
            &mut self.resource_id,
            &mut self.region,
            &mut self.session_id,
            &mut self.request_id,
            &mut self.user_id,
            &mut self.tags,
        ] {
            s.clear();
        }
    }
}

/// The canonical JSON text of a tag map: keys sorted, values strings. Empty map → "".
pub fn tags_json(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        serde_json::to_string(tags).unwrap_or_default()
    }
}

/// A tag value as text: strings as they are, `true`/`false`, numbers as written;
/// `null` → "" (a valueless tag).
pub fn tag_value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Parses a JSON object of tags (FOCUS `Tags`, usage-log `tags`) into a sorted map.
/// Also takes Azure's brace-less body (`"a": "b","c": "d"`).
pub fn parse_tags_object(text: &str) -> Result<BTreeMap<String, String>, String> {
    let t = text.trim();
    if t.is_empty() || t == "{}" || t.eq_ignore_ascii_case("null") {
        return Ok(BTreeMap::new());
    }
    let owned;
    let t = if t.starts_with('{') {
        t
    } else {
        owned = format!("{{{t}}}");
        &owned
    };
    let v: serde_json::Value =
        serde_json::from_str(t).map_err(|e| format!("tags are not a JSON object: {e}"))?;
    crate::json::check_duplicates(t).map_err(|e| format!("tags: {e}"))?;
    match v {
        serde_json::Value::Object(map) => {
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let text = tag_value_text(&v)
                    .ok_or_else(|| format!("tag {k:?} has a nested value; tag values must be text, numbers or booleans"))?;
                out.insert(k, text);
            }
            Ok(out)
        }
        _ => Err("tags are not a JSON object".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_normalise() {
        let mut s = String::new();
        for (raw, want) in [
            ("AWS", "aws"),
            ("Microsoft", "azure"),
            ("Oracle", "oracle"),
            ("OpenAI", "openai"),
            ("Amazon Web Services, Inc.", "aws"),
            ("Some Vendor", "some-vendor"),
        ] {
            normalize_provider(raw, &mut s);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn tags_canonical() {
        let t = parse_tags_object(r#"{"b": "x", "a": true, "n": 3, "z": null}"#).unwrap();
        assert_eq!(tags_json(&t), r#"{"a":"true","b":"x","n":"3","z":""}"#);
        let azure = parse_tags_object(r#""team": "search","env": "prod""#).unwrap();
        assert_eq!(tags_json(&azure), r#"{"env":"prod","team":"search"}"#);
        assert!(parse_tags_object(r#"{"a": {"b": 1}}"#).is_err());
        assert!(parse_tags_object("[1,2]").is_err());
        assert!(parse_tags_object(r#"{"team": "a", "team": "b"}"#)
            .unwrap_err()
            .contains("appears twice"));
        assert_eq!(parse_tags_object("").unwrap().len(), 0);
    }

    #[test]
    fn currency_and_category() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert!(Currency::parse("US$").is_none());
        assert!(Currency::parse("eur").unwrap().is_iso());
        assert!(!Currency::parse("XYZ").unwrap().is_iso());
        assert_eq!(ChargeCategory::parse("Usage"), Some(ChargeCategory::Usage));
        assert_eq!(
            ChargeCategory::parse("CREDIT"),
            Some(ChargeCategory::Credit)
        );
        assert_eq!(ChargeCategory::parse("bogus"), None);
    }
}
