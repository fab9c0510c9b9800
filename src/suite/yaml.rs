//! The one place YAML is read: suites, fixtures, profiles, deviation and allow files,
//! workloads. `serde-saphyr` deserializes straight into the typed model in one parse and
//! puts a line and column on every error, those the model's own `Deserialize` impls raise
//! included (an unknown mechanism is reported at the name, not at its step).
//!
//! Positions of values that load fine come from [`located`] (`serde_saphyr::Spanned` under
//! the hood), so cases, steps and fixtures know where they stand without a second parse.
//!
//! Only a suite that does not load is parsed a second time, into a [`Tree`]: a node per
//! YAML value with where it starts, which the model deserializes again piece by piece (each
//! case, each step) so that every problem of the file is reported, not just the first, each
//! at the innermost node that raised it.
//!
//! Booleans are YAML 1.2's (`true`, `false`): `yes`, `no`, `on`, `off` stay strings, so
//! a byte expression or a name can never turn into a flag by its spelling.

use std::fmt;
use std::path::Path;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_saphyr::{DefaultMessageFormatter, SnippetMode, Spanned};

use super::load::LoadError;
use super::model::Location;

/// A YAML problem: what is wrong and, when known, where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct YamlError {
    pub location: Option<Location>,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(l) => write!(f, "{}:{}: {}", l.line, l.col, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl de::Error for YamlError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        YamlError { location: None, message: msg.to_string() }
    }
}

impl YamlError {
    /// The error placed at `location` unless a node inside already placed it.
    fn or_at(mut self, location: Location) -> Self {
        if self.location.is_none() && location != Location::default() {
            self.location = Some(location);
        }
        self
    }

    fn from_saphyr(e: &serde_saphyr::Error) -> YamlError {
        let location = e.location().map(location).filter(|l| *l != Location::default());
        let rendered = e.render_with_options(serde_saphyr::render_options! {
            formatter: &DefaultMessageFormatter,
            snippets: SnippetMode::Off,
        });
        // The renderer appends the position; every message here carries it in front.
        let message = match location {
            Some(l) => rendered
                .strip_suffix(&format!(" at line {}, column {}", l.line, l.col))
                .unwrap_or(&rendered)
                .to_owned(),
            None => rendered,
        };
        YamlError { location, message }
    }
}

impl YamlError {
    /// The error as a problem of `file`.
    pub fn in_file(self, file: &Path) -> LoadError {
        LoadError { file: file.to_owned(), location: self.location, message: self.message }
    }
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    }
}

fn location(l: serde_saphyr::Location) -> Location {
    Location {
        line: usize::try_from(l.line()).unwrap_or(usize::MAX),
        col: usize::try_from(l.column()).unwrap_or(usize::MAX),
    }
}

/// Deserializes one YAML document.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| YamlError::from_saphyr(&e))
}

/// Reads and deserializes one YAML file; errors name the file.
pub fn read_file<T: DeserializeOwned>(file: &Path) -> Result<T, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|e| LoadError {
        file: file.to_owned(),
        location: None,
        message: e.to_string(),
    })?;
    from_str(&text).map_err(|e| e.in_file(file))
}

/// A value that records where it was written.
pub trait Placed {
    fn place(&mut self, at: Location);
}

/// `#[serde(deserialize_with = "located")]` on a list: each item gets the line and column
/// where it starts (for a block mapping, its first key).
pub fn located<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Placed,
{
    Ok(Vec::<Spanned<T>>::deserialize(d)?
        .into_iter()
        .map(|spanned| {
            let mut value = spanned.value;
            value.place(location(spanned.referenced));
            value
        })
        .collect())
}

/// A YAML value with where it starts: the buffer that lets a broken suite be deserialized
/// again one piece at a time.
#[derive(Clone, Debug)]
pub struct Tree {
    pub location: Location,
    pub node: Node,
}

#[derive(Clone, Debug)]
pub enum Node {
    Null,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
}

impl Tree {
    /// Parses a document into a tree.
    pub fn parse(text: &str) -> Result<Tree, YamlError> {
        from_str(text)
    }

    /// The value under a string key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match &self.node {
            Node::Map(entries) => entries.iter().find(|(k, _)| k.is_str(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Replaces the items of the list under `key`, if the mapping has that key.
    pub fn replace_items(&mut self, key: &str, items: Vec<Tree>) {
        if let Node::Map(entries) = &mut self.node
            && let Some((_, value)) = entries.iter_mut().find(|(k, _)| k.is_str(key))
        {
            value.node = Node::Seq(items);
        }
    }

    /// The items of a list (none for anything else).
    pub fn items(&self) -> &[Tree] {
        match &self.node {
            Node::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.node, Node::Map(_))
    }

    fn is_str(&self, s: &str) -> bool {
        matches!(&self.node, Node::Str(k) if k == s)
    }

    /// Deserializes this node; an error is placed at the innermost node that raised it.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, YamlError> {
        T::deserialize(TreeDe(self))
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Node>::deserialize(d)?;
        Ok(Tree { location: location(spanned.referenced), node: spanned.value })
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Uint(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// A [`Tree`] node as a serde deserializer.
#[derive(Clone, Copy)]
struct TreeDe<'a>(&'a Tree);

impl<'de> IntoDeserializer<'de, YamlError> for TreeDe<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for TreeDe<'_> {
    type Error = YamlError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, YamlError> {
        let tree = self.0;
        let out = match &tree.node {
            Node::Null => v.visit_unit(),
            Node::Bool(b) => v.visit_bool(*b),
            Node::Uint(u) => v.visit_u64(*u),
            Node::Int(i) => v.visit_i64(*i),
            Node::Float(x) => v.visit_f64(*x),
            Node::Str(s) => v.visit_str(s),
            Node::Seq(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(TreeDe));
                v.visit_seq(&mut seq).and_then(|value| seq.end().map(|()| value))
            }
            Node::Map(entries) => {
                let mut map = MapDeserializer::new(entries.iter().map(|(k, v)| (TreeDe(k), TreeDe(v))));
                v.visit_map(&mut map).and_then(|value| map.end().map(|()| value))
            }
        };
        out.map_err(|e| e.or_at(tree.location))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, YamlError> {
        match self.0.node {
            Node::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, YamlError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, YamlError> {
        match &self.0.node {
            Node::Str(s) => {
                let name: de::value::StrDeserializer<'_, YamlError> = s.as_str().into_deserializer();
                v.visit_enum(name).map_err(|e| e.or_at(self.0.location))
            }
            _ => self.deserialize_any(v),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        n: u64,
        #[serde(default)]
        flag: Option<bool>,
        words: Vec<String>,
    }

    #[test]
    fn errors_name_line_and_column_and_booleans_are_yaml_1_2() {
        let e = from_str::<Doc>("n: 1\nwords: [a]\nfalg: true\n").unwrap_err();
        assert_eq!(e.location, Some(Location { line: 3, col: 1 }), "{e}");
        assert!(e.message.starts_with("unknown field `falg`"), "{e}");
        assert!(e.to_string().starts_with("3:1: unknown field"), "{e}");
        let e = from_str::<Doc>("n: 1\nwords: [a, [b]]\n").unwrap_err();
        assert_eq!(e.location.map(|l| l.line), Some(2), "{e}");
        let doc: Doc = from_str("n: 1\nwords: [yes, on]\n").unwrap();
        assert_eq!(doc.words, ["yes", "on"]);
        assert!(from_str::<Doc>("n: 1\nflag: yes\nwords: []\n").is_err());
        let e = from_str::<Doc>("n: [\n").unwrap_err();
        assert!(e.location.is_some(), "{e}");
    }

    #[test]
    fn a_tree_deserializes_like_the_text_and_places_errors_at_the_innermost_node() {
        let text = "n: 7\nflag: false\nwords:\n  - a\n  - 'b'\n";
        let tree = Tree::parse(text).unwrap();
        assert_eq!(tree.get("words").unwrap().items()[1].location, Location { line: 5, col: 5 });
        assert_eq!(tree.deserialize::<Doc>().unwrap(), from_str::<Doc>(text).unwrap());
        let tree = Tree::parse("n: 7\nwords:\n  - a\n  - {x: 1}\n").unwrap();
        let e = tree.deserialize::<Doc>().unwrap_err();
        assert_eq!(e.location, Some(Location { line: 4, col: 5 }), "{e}");
        let tree = Tree::parse("words: []\nn: -1\n").unwrap();
        let e = tree.deserialize::<Doc>().unwrap_err();
        assert_eq!(e.location, Some(Location { line: 2, col: 4 }), "{e}");
    }
}
