//! LiteLLM proxy spend logs (`LiteLLM_SpendLogs`: a CSV dump of the table, or the proxy's
//! `/spend/logs` JSON) → canonical usage rows, one per request (docs/formats/gateways.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value;

use super::gateway::{self, find};
use super::identity::{KeyHasher, KeyKind};
use super::registry::{Format, Probe};
use super::{Cell, FieldError, ParseCounts, ReadOptions, Record, RowParser};
use crate::model::{tags_json, Kind, Row};

pub static FORMAT: Format = Format {
    name: "litellm",
    kind: Kind::Usage,
    about: "LiteLLM proxy spend logs: a CSV dump of LiteLLM_SpendLogs or /spend/logs JSON",
    doc: "docs/formats/gateways.md",
    columns: &[
        "request_id",
        "call_type",
        "api_key",
        "spend",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "startTime",
        "endTime",
        "model",
        "model_group",
        "custom_llm_provider",
        "metadata",
        "request_tags",
        "team_id",
        "organization_id",
        "end_user",
        "session_id",
        "status",
    ],
    required: &["request_id", "startTime", "spend"],
    detect,
    parser: boxed,
};

fn detect(p: &Probe) -> u8 {
    if p.has_all(&["request_id", "starttime", "spend"]) {
        85
    } else {
        0
    }
}

fn boxed<'a>(
    path: &Path,
    headers: &[String],
    opts: &'a ReadOptions<'a>,
    _notes: &mut Vec<String>,
) -> Result<Box<dyn RowParser<'a> + 'a>> {
    let c = |n: &str| find(headers, &[n]);
    let (Some(request_id), Some(start), Some(spend)) =
        (c("request_id"), c("startTime"), c("spend"))
    else {
        let missing: Vec<&str> = FORMAT
            .required
            .iter()
            .copied()
            .filter(|n| c(n).is_none())
            .collect();
        return Err(super::missing_columns(
            path,
            format!(
                "a LiteLLM spend log without the column(s) {}",
                missing.join(", ")
            ),
            "export the LiteLLM_SpendLogs table whole (docs/formats/gateways.md)",
            headers,
        ));
    };
    let cols = Cols {
        request_id,
        start,
        spend,
        end: c("endTime"),
        call_type: c("call_type"),
        api_key: c("api_key"),
        prompt: c("prompt_tokens"),
        completion: c("completion_tokens"),
        model: c("model"),
        model_group: c("model_group"),
        provider: c("custom_llm_provider"),
        metadata: c("metadata"),
        request_tags: c("request_tags"),
        team: c("team_id"),
        organization: c("organization_id"),
        end_user: c("end_user"),
        session: c("session_id"),
        status: c("status"),
    };
    Ok(Box::new(LiteLlmParser::new(Arc::new(cols), opts)))
}

struct Cols {
    request_id: usize,
    start: usize,
    spend: usize,
    end: Option<usize>,
    call_type: Option<usize>,
    api_key: Option<usize>,
    prompt: Option<usize>,
    completion: Option<usize>,
    model: Option<usize>,
    model_group: Option<usize>,
    provider: Option<usize>,
    metadata: Option<usize>,
    request_tags: Option<usize>,
    team: Option<usize>,
    organization: Option<usize>,
    end_user: Option<usize>,
    session: Option<usize>,
    status: Option<usize>,
}

/// Parses spend-log records; one per worker thread.
pub struct LiteLlmParser<'a> {
    cols: Arc<Cols>,
    opts: &'a ReadOptions<'a>,
    key: KeyHasher,
    counts: ParseCounts,
    tags: TagMemo,
}

impl<'a> LiteLlmParser<'a> {
    fn new(cols: Arc<Cols>, opts: &'a ReadOptions<'a>) -> Self {
        LiteLlmParser {
            cols,
            opts,
            key: KeyHasher::new("litellm"),
            counts: ParseCounts::default(),
            tags: TagMemo::default(),
        }
    }
}

/// Canonical tags by the text they came from (`spend_logs_metadata` pairs and the
/// `request_tags` cell): few distinct sets over millions of rows.
#[derive(Default)]
struct TagMemo {
    cache: super::TagCache,
    key: String,
}

impl TagMemo {
    /// The row's canonical tags: `spend_logs_metadata` pairs, then the `request_tags`
    /// column `i` (which wins), appended to `out`.
    fn tags(
        &mut self,
        rec: &Record,
        i: Option<usize>,
        pairs: &[(String, String)],
        out: &mut String,
    ) -> Result<(), FieldError> {
        // A CSV cell is text and keys the cache; a JSON value (JSON input) is read each time.
        let raw = match i.map(|i| rec.cell(i)) {
            Some(Cell::Json(_)) => None,
            _ => Some(i.and_then(|i| rec.str(i)).unwrap_or("")),
        };
        if let Some(raw) = raw {
            let key = &mut self.key;
            key.clear();
            for part in pairs.iter().flat_map(|(k, v)| [k, v]) {
                super::push_key_part(key, part);
            }
            key.push('|');
            key.push_str(raw);
            if let Some(t) = self.cache.get(key.as_str()) {
                out.push_str(t);
                return Ok(());
            }
        }
        let mut tags: BTreeMap<String, String> = pairs.iter().cloned().collect();
        if let Some(v) = gateway::json_cell(rec, i)? {
            gateway::add_list_tags(i.map_or("", |i| rec.name(i)), &v, &mut tags)?;
        }
        let canon = tags_json(&tags);
        out.push_str(&canon);
        if raw.is_some() && self.cache.len() < 100_000 {
            self.cache.insert(self.key.clone(), canon);
        }
        Ok(())
    }
}

impl<'a> RowParser<'a> for LiteLlmParser<'a> {
    fn parse(&mut self, rec: &Record, row: &mut Row) -> Result<(), FieldError> {
        let c = &*self.cols;
        rec.push_text(Some(c.request_id), &mut row.request_id)?;
        if row.request_id.is_empty() {
            return Err(FieldError::new(
                rec.name(c.request_id),
                None,
                "the request_id is empty",
                "every spend-log row has its request_id (the table's primary key)",
            ));
        }
        row.charge_start = rec.time(c.start)?.ok_or_else(|| {
            FieldError::new(
                rec.name(c.start),
                None,
                "startTime is empty",
                "every spend-log row has a startTime",
            )
        })?;
        row.charge_end = match c.end {
            Some(i) => rec.time(i)?.unwrap_or(row.charge_start),
            None => row.charge_start,
        };
        rec.push_text(c.model, &mut row.model)?;
        if row.model.is_empty() {
            rec.push_text(c.model_group, &mut row.model)?;
        }
        if let Some(p) = c.provider.map(|i| rec.text(i)).transpose()?.flatten() {
            gateway::provider(&p, &mut row.provider);
        }
        rec.push_text(c.session, &mut row.session_id)?;
        rec.push_text(c.end_user, &mut row.user_id)?;
        rec.push_text(c.api_key, &mut row.api_key_id)?;
        rec.push_text(c.team, &mut row.workspace_id)?;
        rec.push_text(c.organization, &mut row.sub_account)?;
        rec.push_text(c.call_type, &mut row.description)?;
        if let Some(s) = c.status.map(|i| rec.text(i)).transpose()?.flatten() {
            if s.eq_ignore_ascii_case("failure") {
                row.description.push_str(" (failure)");
            }
        }

        let meta = metadata(rec, c.metadata)?;
        self.tags.tags(
            rec,
            c.request_tags,
            &meta.spend_logs_metadata.0,
            &mut row.tags,
        )?;

        let usage = meta.usage_object.0.as_ref();
        let prompt = gateway::count(rec, c.prompt)?;
        let completion = gateway::count(rec, c.completion)?;
        tokens(prompt, completion, usage, row)?;

        let cost = gateway::usd(rec, c.spend)?;
        gateway::finish(row, cost, self.opts, &mut self.counts)?;
        let k = &mut self.key;
        k.reset("litellm");
        k.text("request_id", &row.request_id, KeyKind::Any);
        row.record_id = k.finish();
        Ok(())
    }

    fn fork(&self) -> Box<dyn RowParser<'a> + 'a> {
        Box::new(LiteLlmParser::new(self.cols.clone(), self.opts))
    }

    fn counts(&self) -> ParseCounts {
        self.counts.clone()
    }
}

/// The two parts of `metadata` finops reads; the rest (request payloads, guardrail
/// details: most of the cell) is skipped without being built. Neither part becomes a
/// JSON tree: building one per row (maps, hashes, a string per number) was a tenth of an
/// ingest's CPU.
#[derive(Default, serde::Deserialize)]
struct Metadata {
    #[serde(default)]
    spend_logs_metadata: TagPairs,
    #[serde(default)]
    usage_object: UsageSlot,
}

/// A value read from a JSON object's entries, one at a time; any other JSON value (a
/// number, a string, an array, null) gives `Default`.
trait FromEntries: Default {
    /// What an object gives before its entries (`{}` gives this).
    fn object() -> Self;
    /// Takes the entry `key` (its value is next in `m`).
    fn entry<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: String,
        m: &mut A,
    ) -> Result<(), A::Error>;
}

/// How serde_json hands a number over when numbers keep their text (arbitrary
/// precision): as a one-entry map under this key.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Deserializes any JSON value as a [`FromEntries`] type.
struct Entries<T>(std::marker::PhantomData<T>);

impl<'de, T: FromEntries> serde::de::Visitor<'de> for Entries<T> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<T, A::Error> {
        let mut out = T::object();
        let mut first = true;
        while let Some(k) = m.next_key::<String>()? {
            // As serde_json's own trees decide: a number only by its first key.
            if first && k == NUMBER_TOKEN {
                m.next_value::<serde::de::IgnoredAny>()?;
                return Ok(T::default());
            }
            first = false;
            out.entry(k, &mut m)?;
        }
        Ok(out)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<T, A::Error> {
        while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(T::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

/// `spend_logs_metadata` as (key, tag text) pairs in the order written
/// ([`gateway::tag_text`]); anything but an object gives none.
#[derive(Default)]
struct TagPairs(Vec<(String, String)>);

impl FromEntries for TagPairs {
    fn object() -> Self {
        TagPairs::default()
    }

    fn entry<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: String,
        m: &mut A,
    ) -> Result<(), A::Error> {
        let text = match m.next_value::<Value>()? {
            Value::String(s) => s,
            other => gateway::tag_text(&other),
        };
        self.0.push((key, text));
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for TagPairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Entries(std::marker::PhantomData))
    }
}

/// The counts of `usage_object` finops reads, each as written (a number, or a string);
/// `input_tokens` / `prompt_tokens` also say whether the key is there at all.
#[derive(Default)]
struct Usage {
    values: [Option<Value>; USAGE_KEYS.len()],
    present: [bool; USAGE_KEYS.len()],
    /// `prompt_tokens_details.cached_tokens`, `.cache_creation_tokens`.
    details: [Option<Value>; 2],
}

const USAGE_KEYS: [&str; 6] = [
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "input_tokens",
    "prompt_tokens",
    "completion_tokens",
    "output_tokens",
];

impl Usage {
    fn get(&self, key: &str) -> Option<&Value> {
        let k = USAGE_KEYS.iter().position(|n| *n == key)?;
        self.values[k].as_ref()
    }

    fn has(&self, key: &str) -> bool {
        USAGE_KEYS
            .iter()
            .position(|n| *n == key)
            .is_some_and(|k| self.present[k])
    }

    fn detail(&self, key: &str) -> Option<&Value> {
        match key {
            "cached_tokens" => self.details[0].as_ref(),
            "cache_creation_tokens" => self.details[1].as_ref(),
            _ => None,
        }
    }
}

/// `usage_object`: its counts when it is an object, else none.
#[derive(Default)]
struct UsageSlot(Option<Usage>);

impl FromEntries for UsageSlot {
    fn object() -> Self {
        UsageSlot(Some(Usage::default()))
    }

    fn entry<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: String,
        m: &mut A,
    ) -> Result<(), A::Error> {
        let Some(u) = self.0.as_mut() else {
            return m.next_value::<serde::de::IgnoredAny>().map(drop);
        };
        if let Some(at) = USAGE_KEYS.iter().position(|n| *n == key) {
            u.values[at] = Some(m.next_value::<Value>()?).filter(|v| !v.is_null());
            u.present[at] = true;
        } else if key == "prompt_tokens_details" {
            u.details = match m.next_value::<Value>()? {
                Value::Object(d) => [
                    d.get("cached_tokens").cloned(),
                    d.get("cache_creation_tokens").cloned(),
                ],
                _ => [None, None],
            };
        } else {
            m.next_value::<serde::de::IgnoredAny>()?;
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for UsageSlot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Entries(std::marker::PhantomData))
    }
}

/// The `metadata` cell: JSON text (CSV) or an object (JSON); null, empty or `{}` is none.
fn metadata(rec: &Record, i: Option<usize>) -> Result<Metadata, FieldError> {
    use serde::Deserialize;
    let Some(i) = i else {
        return Ok(Metadata::default());
    };
    let parsed = match rec.cell(i) {
        Cell::Json(v) => Metadata::deserialize(v).map_err(|e| e.to_string()),
        c => match c.to_text() {
            None => return Ok(Metadata::default()),
            Some(t) if t.as_ref() == "null" => return Ok(Metadata::default()),
            Some(t) => serde_json::from_str::<Metadata>(&t).map_err(|e| e.to_string()),
        },
    };
    parsed.map_err(|e| {
        let shown = rec.cell(i).to_text().unwrap_or_default().into_owned();
        FieldError::new(
            rec.name(i),
            Some(&shown),
            format!("{} is not a JSON object: {e}", crate::error::quote(&shown)),
            "metadata is a JSON object such as {\"spend_logs_metadata\": {\"team\": \"search\"}}",
        )
    })
}

/// Token counts from the row's columns and `metadata.usage_object`
/// (docs/formats/gateways.md, LiteLLM "Tokens").
fn tokens(
    prompt: Option<i64>,
    completion: Option<i64>,
    usage: Option<&Usage>,
    row: &mut Row,
) -> Result<(), FieldError> {
    let col = "metadata.usage_object";
    let n = |k: &str| gateway::json_count(col, k, usage.and_then(|u| u.get(k)));
    let detail = |k: &str| gateway::json_count(col, k, usage.and_then(|u| u.detail(k)));
    let read = match n("cache_read_input_tokens")? {
        Some(r) if r > 0 => Some(r),
        r => detail("cached_tokens")?.or(r),
    };
    let write = n("cache_creation_input_tokens")?.or(detail("cache_creation_tokens")?);
    let (r, w) = (read.unwrap_or(0), write.unwrap_or(0));
    let anthropic_shape = usage.is_some_and(|u| u.has("input_tokens") && !u.has("prompt_tokens"));
    row.input_tokens = if anthropic_shape {
        n("input_tokens")?.map(|i| i + r + w)
    } else {
        prompt
            .or(n("prompt_tokens")?)
            .map(|p| if p < r + w { p + w } else { p })
    };
    row.output_tokens = completion
        .or(n("completion_tokens")?)
        .or(n("output_tokens")?);
    if usage.is_some() {
        row.cached_input_tokens = read.or(Some(0));
        row.cache_write_tokens = write.or(Some(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize as _;

    fn run(prompt: i64, uo: &str) -> (Option<i64>, Option<i64>, Option<i64>) {
        let u: UsageSlot = serde_json::from_str(uo).unwrap();
        let mut row = Row::default();
        tokens(Some(prompt), Some(10), u.0.as_ref(), &mut row).unwrap();
        (
            row.input_tokens,
            row.cached_input_tokens,
            row.cache_write_tokens,
        )
    }

    /// `metadata` read without JSON trees (`m`) gives what the trees of the same document
    /// (`v`) give: tags as `gateway::add_map_tags` makes them from a parsed object, counts
    /// as the object holds them.
    fn same_as_trees(m: Metadata, v: &Value, doc: &str) {
        let mut want = BTreeMap::new();
        if let Some(Value::Object(o)) = v.get("spend_logs_metadata") {
            gateway::add_map_tags(o, &mut want);
        }
        let got: BTreeMap<String, String> = m.spend_logs_metadata.0.into_iter().collect();
        assert_eq!(got, want, "{doc}");
        let uo = v.get("usage_object").and_then(Value::as_object);
        assert_eq!(m.usage_object.0.is_some(), uo.is_some(), "{doc}");
        if let (Some(u), Some(o)) = (m.usage_object.0.as_ref(), uo) {
            for k in USAGE_KEYS {
                let want = o.get(k).filter(|v| !v.is_null());
                assert_eq!(u.get(k), want, "{doc} {k}");
                assert_eq!(u.has(k), o.contains_key(k), "{doc} {k}");
            }
            let d = o.get("prompt_tokens_details").and_then(Value::as_object);
            for k in ["cached_tokens", "cache_creation_tokens"] {
                assert_eq!(u.detail(k), d.and_then(|d| d.get(k)), "{doc} {k}");
            }
        }
    }

    #[test]
    fn metadata_reads_as_the_parsed_object() {
        let docs = [
            r#"{"spend_logs_metadata":{"team":"ads","n":2,"ok":true,"x":null,"o":{"a":[1,2.50]},"team":"search"},"usage_object":{"prompt_tokens":"12","input_tokens":null,"prompt_tokens_details":{"cached_tokens":3}}}"#,
            r#"{"spend_logs_metadata":"not a map","usage_object":[1,2],"other":{"deep":[{}]}}"#,
            r#"{"spend_logs_metadata":[{"team":"a"}],"usage_object":7}"#,
            r#"{"usage_object":{"input_tokens":5,"prompt_tokens_details":null,"prompt_tokens_details":{"cache_creation_tokens":1e0}}}"#,
            r#"{"spend_logs_metadata":null,"usage_object":null}"#,
            r#"{"spend_logs_metadata":5,"usage_object":1.5}"#,
            r#"{"spend_logs_metadata":"x","usage_object":true}"#,
            r#"{}"#,
        ];
        for doc in docs {
            let v: Value = serde_json::from_str(doc).unwrap();
            same_as_trees(serde_json::from_str(doc).unwrap(), &v, doc);
            // JSON input hands the cell over as a parsed value.
            same_as_trees(Metadata::deserialize(&v).unwrap(), &v, doc);
        }
    }

    /// Any JSON value, keys drawn from the ones the reader looks for and a few others.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(|f| serde_json::from_str(&f.to_string()).unwrap()),
            "[a-z0-9 :]{0,6}".prop_map(Value::from),
        ];
        let key = prop_oneof![
            proptest::sample::select(USAGE_KEYS.to_vec()).prop_map(str::to_string),
            proptest::sample::select(vec![
                "prompt_tokens_details",
                "cached_tokens",
                "cache_creation_tokens",
                "team",
                "$serde_json::private::Number",
            ])
            .prop_map(str::to_string),
            "[a-z]{1,4}",
        ];
        leaf.prop_recursive(3, 24, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Generated documents (shuffled key sets, nested values, numbers of every kind)
        /// read as their trees do, from text and from a parsed value.
        #[test]
        fn generated_metadata_reads_as_its_tree(slm in json_value(), uo in json_value()) {
            let mut doc = serde_json::Map::new();
            doc.insert("spend_logs_metadata".into(), slm);
            doc.insert("usage_object".into(), uo);
            let text = Value::Object(doc).to_string();
            // An object whose first key is serde_json's number token is a number to both
            // readers; when its value is no number the tree is refused, and there is
            // nothing to compare.
            let Ok(v) = serde_json::from_str::<Value>(&text) else { return Ok(()) };
            same_as_trees(serde_json::from_str(&text).unwrap(), &v, &text);
            same_as_trees(Metadata::deserialize(&v).unwrap(), &v, &text);
        }
    }

    /// Tag sets that would read the same if their parts were only joined are told apart.
    #[test]
    fn tag_memo_keys_cannot_collide() {
        let headers = vec!["request_tags".to_string()];
        let bytes = csv::ByteRecord::from(vec!["[]"]);
        let text = crate::source::TextRecord::new(&bytes).unwrap();
        let rec = Record::of_text(&headers, &text);
        let mut memo = TagMemo::default();
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let mut one = String::new();
        memo.tags(&rec, Some(0), &[pair("a", "x\u{1e}b\u{1f}y")], &mut one)
            .unwrap();
        let mut two = String::new();
        memo.tags(&rec, Some(0), &[pair("a", "x"), pair("b", "y")], &mut two)
            .unwrap();
        assert_eq!(one, tags_json(&[pair("a", "x\u{1e}b\u{1f}y")].into()));
        assert_eq!(two, r#"{"a":"x","b":"y"}"#);
        // The memo answers the second time as the first.
        let mut again = String::new();
        memo.tags(&rec, Some(0), &[pair("a", "x"), pair("b", "y")], &mut again)
            .unwrap();
        assert_eq!(again, two);
    }

    #[test]
    fn usage_object_shapes() {
        // OpenAI: prompt counts the cached tokens
        assert_eq!(
            run(
                1400,
                r#"{"prompt_tokens":1400,"prompt_tokens_details":{"cached_tokens":1024}}"#
            ),
            (Some(1400), Some(1024), Some(0))
        );
        // Anthropic's own shape: input_tokens leaves the cache out
        assert_eq!(
            run(
                5000,
                r#"{"input_tokens":200,"cache_read_input_tokens":4800,"cache_creation_input_tokens":100}"#
            ),
            (Some(5100), Some(4800), Some(100))
        );
        // older LiteLLM: prompt counts reads but not writes
        assert_eq!(
            run(
                3000,
                r#"{"prompt_tokens":3000,"cache_read_input_tokens":2000,"cache_creation_input_tokens":1500}"#
            ),
            (Some(4500), Some(2000), Some(1500))
        );
        // current LiteLLM: prompt counts both
        assert_eq!(
            run(
                4500,
                r#"{"prompt_tokens":4500,"cache_read_input_tokens":2000,"cache_creation_input_tokens":1500}"#
            ),
            (Some(4500), Some(2000), Some(1500))
        );
        // no usage object: prompt as it is, cache unknown
        let mut row = Row::default();
        tokens(Some(800), Some(120), None, &mut row).unwrap();
        assert_eq!(
            (row.input_tokens, row.cached_input_tokens),
            (Some(800), None)
        );
    }
}
