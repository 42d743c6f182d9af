//! Strict JSON: an object that names a key twice is refused, at any depth. serde_json (like
//! most parsers) keeps the last value in silence, and for money that is a charge lost or a
//! tag changed without a word.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a text is not a strict JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// The text ends before the value does (a truncated line), at this column.
    Truncated { column: usize },
    /// A key appears twice in one object.
    Duplicate(String),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// Anything else serde_json refuses.
    Syntax(String),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Truncated { column } => {
                write!(
                    f,
                    "truncated JSON: the object ends early at column {column}"
                )
            }
            JsonError::Duplicate(k) => write!(
                f,
                "the key {} appears twice in one object",
                crate::error::quote(k)
            ),
            JsonError::NotAnObject => f.write_str("not a JSON object"),
            JsonError::Syntax(e) => write!(f, "not valid JSON: {e}"),
        }
    }
}

impl JsonError {
    pub fn fix(&self) -> &'static str {
        match self {
            JsonError::Duplicate(_) => {
                "give each key once per object (which of the two values is right cannot be guessed)"
            }
            _ => "each line must be one complete JSON object",
        }
    }
}

/// Parses `text` as one JSON object, refusing repeated keys at any depth.
pub fn object(text: &str) -> Result<Map<String, Value>, JsonError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            JsonError::Truncated { column: e.column() }
        } else {
            JsonError::Syntax(e.to_string())
        }
    })?;
    let Value::Object(map) = v else {
        return Err(JsonError::NotAnObject);
    };
    check_duplicates(text)?;
    Ok(map)
}

/// Refuses a JSON text (already known to be valid) that repeats a key in an object.
pub fn check_duplicates(text: &str) -> Result<(), JsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    match NoDuplicates.deserialize(&mut de) {
        Ok(()) => Ok(()),
        Err(e) => {
            let msg = e.to_string();
            match msg.strip_prefix(DUPLICATE) {
                Some(rest) => Err(JsonError::Duplicate(
                    rest.split(" at line ").next().unwrap_or(rest).to_string(),
                )),
                None => Err(JsonError::Syntax(msg)),
            }
        }
    }
}

const DUPLICATE: &str = "duplicate key: ";

/// Walks a value, keeping only each object's key set.
struct NoDuplicates;

impl<'de> DeserializeSeed<'de> for NoDuplicates {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(NoDuplicates)
    }
}

impl<'de> Visitor<'de> for NoDuplicates {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }

    // (With serde_json's arbitrary_precision, a number arrives as a one-key map: one key
    // is never a duplicate.)
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if seen.contains(&k) {
                return Err(A::Error::custom(format!("{DUPLICATE}{k}")));
            }
            map.next_value_seed(NoDuplicates)?;
            seen.insert(k);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        assert_eq!(
            object(r#"{"cost": 1, "cost": 2}"#),
            Err(JsonError::Duplicate("cost".into()))
        );
        assert_eq!(
            object(r#"{"tags": {"team": "a", "team": "b"}, "cost": 1.50}"#),
            Err(JsonError::Duplicate("team".into()))
        );
        assert_eq!(
            object(r#"{"a": [{"x": 1}, {"x": 2}], "b": {"x": 3}}"#).map(|m| m.len()),
            Ok(2)
        );
        // Numbers keep their text (arbitrary precision) and are not mistaken for objects.
        let m = object(r#"{"cost": 0.1000000000000000055511151231257827, "n": 12}"#).unwrap();
        assert_eq!(
            m["cost"].to_string(),
            "0.1000000000000000055511151231257827"
        );
        assert_eq!(object("[1]"), Err(JsonError::NotAnObject));
        assert!(matches!(
            object(r#"{"cost": 1"#),
            Err(JsonError::Truncated { .. })
        ));
        assert!(matches!(object(r#"{"cost": }"#), Err(JsonError::Syntax(_))));
    }
}
