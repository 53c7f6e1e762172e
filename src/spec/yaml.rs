//! A YAML document as a tree of located nodes.
//!
//! serde-saphyr parses the text (strict booleans, duplicate keys rejected, alias limits against
//! "billion laughs"); every node keeps the place it was written, so later checks can point at it.
//! Deserialising straight into typed structs would stop at the first mistake; a located tree lets
//! the raw layer report every mistake of a document at once. This module knows nothing of job specs.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node was written: 1-based line and column, and the byte range in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
    pub offset: usize,
    pub len: usize,
}

impl Pos {
    pub(crate) fn from_location(loc: serde_saphyr::Location) -> Self {
        let span = loc.span();
        Self {
            line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
            column: u32::try_from(loc.column()).unwrap_or(u32::MAX),
            offset: span.byte_offset().and_then(|o| usize::try_from(o).ok()).unwrap_or(0),
            len: span.byte_len().and_then(|l| usize::try_from(l).ok()).unwrap_or(0),
        }
    }

    /// Whether the parser gave a location at all.
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The shapes a YAML value can take after the core schema resolved plain scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in the order written; duplicate keys were already rejected by the parser.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short noun for messages: "a string", "a list", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parse options shared by every spec file.
fn options() -> serde_saphyr::Options {
    let mut opts = serde_saphyr::Options::default();
    // `yes`, `on`, `y` stay strings: YAML 1.1 booleans surprise people (the "Norway problem").
    opts.strict_booleans = true;
    opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    // YAML 1.2 core, as the README promises: `1_000` is a string, not a thousand.
    opts.underscored_numbers_as_strings = true;
    // The parser's guards stay, but its 1,024-document cap is no guard for us (files are at
    // most 1 MiB): a file of many small documents is not an attack.
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_documents = MAX_DOCUMENTS;
    // Stop deep flow nesting (`[[[[…`) in the scanner, before the parser recurses into it: 100
    // levels overflowed a 2 MiB thread stack in a debug build. Readers run on a main thread's.
    budget.flow_nesting_limit = 64;
    opts.budget = Some(budget);
    opts
}

/// The most YAML documents one spec file may hold.
pub const MAX_DOCUMENTS: usize = 100_000;

/// Parse every document of a file. Empty documents (a lone `---`, only comments) are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, serde_saphyr::Error> {
    let docs: Vec<Option<Node>> = serde_saphyr::from_multiple_with_options(text, options())?;
    Ok(docs.into_iter().flatten().filter(|n| n.value != Value::Null).collect())
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node { pos: Pos::from_location(spanned.referenced), value: spanned.value })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v).map(Value::Int).map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Value, E> {
        Err(E::custom("binary values are not supported in job specs"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse_documents(text).expect("parses");
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    #[test]
    fn nodes_remember_where_they_were_written() {
        let doc = one("name: a\nparallelism: 4\nargs: [x, 'y']\n");
        let Value::Map(entries) = doc.value else { panic!("not a map") };
        assert_eq!(entries[1].0.pos.line, 2);
        assert_eq!(entries[1].1.value, Value::Int(4));
        assert_eq!(entries[1].1.pos.column, 14);
        let Value::Seq(items) = &entries[2].1.value else { panic!("not a seq") };
        assert_eq!(items[1].pos.line, 3);
        assert_eq!(items[1].value, Value::Str("y".into()));
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let doc = one("a: yes\nb: true\n");
        let Value::Map(entries) = doc.value else { panic!("not a map") };
        assert_eq!(entries[0].1.value, Value::Str("yes".into()));
        assert_eq!(entries[1].1.value, Value::Bool(true));
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = parse_documents("---\na: 1\n---\n# nothing\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].pos.line, 6);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
    }
}
