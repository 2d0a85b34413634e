//! A YAML document as a tree of located nodes.
//!
//! Runbooks and scenarios are checked by walking this tree rather than by deserializing straight
//! into typed structs: serde stops at the first error, while `validate` must report every error in
//! a file, each with its line and column and a suggestion where one helps.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::locate::Cause;

/// Where a node starts in its file (1-based line and column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }

    fn from_location(loc: &serde_saphyr::Location) -> Self {
        Pos {
            line: u32::try_from(loc.line()).unwrap_or(u32::MAX).max(1),
            col: u32::try_from(loc.column()).unwrap_or(u32::MAX).max(1),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A YAML value with the position it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// A mapping key: always text in the formats this tool reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Node {
    /// The name of this node's type, as a user would say it in an error message.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The plain JSON value of this node, locations dropped.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A YAML syntax error, located at the offending character.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    /// How many characters the offending token spans (at least one).
    pub width: usize,
    pub message: String,
}

/// A syntax error as the parser reports it, before [`super::locate`] moves it to its cause.
#[derive(Debug)]
pub(super) struct RawError {
    pub pos: Pos,
    pub message: String,
    pub cause: Cause,
}

/// Parses a whole document. An empty document is a `Null` node at 1:1.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Ok(Node {
            pos: Pos::new(1, 1),
            value: Value::Null,
        });
    }
    parse_raw(text).map_err(|raw| {
        let located = super::locate::relocate(text, raw, |other| parse_raw(other).map(drop));
        SyntaxError {
            pos: located.pos,
            width: located.width,
            message: located.message,
        }
    })
}

fn parse_raw(text: &str) -> Result<Node, RawError> {
    let options = serde_saphyr::options! {
        // Keep every mapping key and number as written; the runbook checker decides what is valid.
        no_schema: false,
        // YAML 1.2 Core booleans only: `y`, `yes`, `on` stay text (the "Norway problem").
        strict_booleans: true,
        // Each level of nesting costs a recursion through the tree's deserializer: about 40 KiB
        // of stack in a debug build. 32 levels fit a 2 MiB thread and any real runbook.
        budget: serde_saphyr::budget! { max_depth: 32 },
    };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|err| RawError {
        pos: err
            .location()
            .map(|l| Pos::from_location(&l))
            .unwrap_or(Pos::new(1, 1)),
        message: message_of(&err),
        cause: cause_of(&err),
    })
}

/// The parser's error kind, as far as [`super::locate`] needs it.
fn cause_of(err: &serde_saphyr::Error) -> Cause {
    use serde_saphyr::granit_parser::ErrorKind as K;
    use serde_saphyr::{Error as E, ExternalMessageSource};
    let mut inner = err;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = inner {
        inner = error;
    }
    let kind = match inner {
        E::DuplicateMappingKey { .. } => return Cause::DuplicateKey,
        E::ExternalMessage { source, .. } => match source.as_ref() {
            ExternalMessageSource::Parser(scan) => scan.kind(),
            _ => return Cause::Other,
        },
        _ => return Cause::Other,
    };
    match kind {
        K::TabNotAllowed
        | K::TabInBlockIndentation
        | K::TabAtBlockScalarStart
        | K::TabInIndentation
        | K::TabInPlainScalar => Cause::Tab,
        K::UnknownQuotedScalarEscape => Cause::BadEscape,
        K::MismatchedFlowCollectionEnd { .. } => Cause::Mismatched,
        K::UnclosedFlowCollection { .. } | K::UnclosedQuotedScalar => Cause::Unclosed,
        K::MappingValueNotAllowed => Cause::MappingValue,
        K::ExpectedBlockMappingKey | K::ExpectedBlockSequenceEntry | K::InvalidIndentation => {
            Cause::BadIndent
        }
        _ => Cause::Other,
    }
}

/// The message for a user: serde-saphyr's own text for a few errors names its API
/// (`DuplicateKeyPolicy`, `from_str_multiple`) or prints a debug structure.
fn message_of(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach;
    let mut inner = err;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = inner {
        inner = error;
    }
    match inner {
        E::DuplicateMappingKey { key: Some(k), .. } => {
            format!("duplicate key `{k}`: each key may appear once in a mapping")
        }
        E::DuplicateMappingKey { key: None, .. } => {
            "duplicate key: each key may appear once in a mapping".into()
        }
        E::MultipleDocuments { .. } => {
            "a second YAML document (after `---`): a file holds one document".into()
        }
        E::Budget {
            breach: BudgetBreach::Depth { depth },
            ..
        } => format!(
            "lists and mappings nested too deeply (more than {} levels)",
            depth.saturating_sub(1)
        ),
        E::Budget { .. } => "the document is too large or too complex to read".into(),
        E::RecursiveReferencesRequireWeakTypes { .. } => {
            "an alias refers to the value that contains it".into()
        }
        _ => first_line_of(err),
    }
}

/// The error's message without the snippet serde-saphyr renders below it: we render our own.
fn first_line_of(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let line = text.lines().next().unwrap_or("invalid YAML").trim();
    // serde-saphyr prefixes locations ("line 3 column 5: ..." or "... at line 3 column 5"); we
    // print our own location, so keep only the message.
    strip_location(line).to_string()
}

fn strip_location(message: &str) -> &str {
    let mut msg = message;
    if let Some(rest) = msg.strip_prefix("error: ") {
        msg = rest;
    }
    if let Some(idx) = msg.find(" at line ") {
        msg = &msg[..idx];
    }
    msg.trim_end_matches(':').trim()
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            pos: Pos::from_location(&spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = Node::deserialize(deserializer)?;
        let name = match node.value {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".to_string(),
            Value::Seq(_) | Value::Map(_) => {
                return Err(de::Error::custom("a mapping key must be a plain scalar"));
            }
        };
        Ok(Key {
            pos: node.pos,
            name,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
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
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
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
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_positions() {
        let text = "name: x\nsteps:\n  - id: a\n    http: {url: 'http://h'}\n  - 3\n";
        let root = parse(text).unwrap();
        let steps = root.get("steps").unwrap().as_seq().unwrap();
        assert_eq!(steps.len(), 2);
        let first = steps[0].as_map().unwrap();
        assert_eq!(first[0].0.name, "id");
        assert_eq!(first[0].0.pos, Pos::new(3, 5));
        assert_eq!(first[0].1.pos, Pos::new(3, 9));
        let http = steps[0].get("http").unwrap();
        assert_eq!(http.get("url").unwrap().as_str(), Some("http://h"));
        assert_eq!(steps[1].value, Value::Int(3));
        assert_eq!(steps[1].pos, Pos::new(5, 5));
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse("name: x\nsteps: [a, b\n").unwrap_err();
        assert!(err.pos.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2, "{err:?}");
        assert!(err.message.contains("duplicate key `a`"), "{err:?}");
    }

    #[test]
    fn limits_are_reported_in_plain_words() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse(&deep).unwrap_err();
        assert!(err.message.contains("nested too deeply"), "{err:?}");
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.message.contains("second YAML document"), "{err:?}");
    }

    #[test]
    fn relocating_any_mistake_never_panics() {
        // Every one-character mistake (a tab, a bracket, a quote, a colon, a backslash) at
        // every place of a small runbook, with either line ending: each parses or fails with
        // a position inside the file.
        let base =
            "name: x\ntitle: \"y\"\nsteps:\n  - id: a\n    expect: [a, 'b']\n    http: {url: u}\n";
        for text in [base.to_string(), base.replace('\n', "\r\n")] {
            for (i, _) in text.char_indices() {
                for c in ['\t', '[', ']', '{', '"', '\'', ':', '\\', '#', '-'] {
                    let mut mutated = text.clone();
                    mutated.insert(i, c);
                    if let Err(e) = parse(&mutated) {
                        let lines = mutated.lines().count() as u32;
                        assert!(
                            e.pos.line >= 1 && e.pos.line <= lines + 1,
                            "{mutated:?}: {e:?}"
                        );
                        assert!(e.width >= 1, "{mutated:?}: {e:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("# nothing\n").unwrap().value, Value::Null);
    }
}
