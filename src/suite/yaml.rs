//! The one place YAML is read: suites, fixtures, profiles, deviation and allow files,
//! workloads. `serde-saphyr` parses a document once into a [`Tree`], a node per YAML value
//! with where it starts, and the typed model is deserialized from that tree, so every error
//! carries a line and column, those the model's own `Deserialize` impls raise included (an
//! unknown mechanism is reported at the name, not at its step).
//!
//! serde-saphyr deserializes one type, the tree, and nothing else: its deserializer is
//! large, and instantiated for each of the model's types it made the library's release
//! build 15 s slower (`cargo llvm-lines`: 87% of the growth it brought). [`TreeDe`] walks
//! the tree for them instead, and matches what serde-saphyr would give where the YAML
//! schema leaves room: a plain scalar YAML reads as a number or a boolean is still its
//! text for a field that wants text (`id: 2024`); null is not.
//!
//! The tree also lets a broken suite be deserialized again piece by piece (each case, each
//! step) so that every problem of the file is reported, not just the first, each at the
//! innermost node that raised it.
//!
//! Booleans are YAML 1.2's (`true`, `false`): `yes`, `no`, `on`, `off` stay strings, so
//! a byte expression or a name can never turn into a flag by its spelling.

use std::fmt;
use std::path::Path;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_saphyr::{DefaultMessageFormatter, NonFiniteFloatPolicy, SnippetMode, Spanned};

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
        // `.inf` and `.nan` reach the tree as numbers, and as their text a field that wants
        // text (the default refuses them before any field sees them)
        non_finite_float_policy: NonFiniteFloatPolicy::PassThrough,
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
    Tree::parse(text)?.deserialize()
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
    Ok(Vec::<Located<T>>::deserialize(d)?
        .into_iter()
        .map(|Located { mut value, at }| {
            value.place(at);
            value
        })
        .collect())
}

/// The newtype name by which [`Located`] asks [`TreeDe`] for a node's place. Only
/// [`TreeDe`] answers it; any other deserializer is refused rather than left to place the
/// value nowhere.
const LOCATED: &str = "$grep11::yaml::Located";

/// A value with the place of its node, read through [`LOCATED`] as the map
/// `{line, col, value}`.
struct Located<T> {
    value: T,
    at: Location,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Located<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Located<T>, A::Error> {
                let (Some(("line", line)), Some(("col", col))) =
                    (map.next_entry::<&str, usize>()?, map.next_entry::<&str, usize>()?)
                else {
                    return Err(de::Error::custom("a located value without its place"));
                };
                match map.next_key::<&str>()? {
                    Some("value") => Ok(Located { value: map.next_value()?, at: Location { line, col } }),
                    _ => Err(de::Error::custom("a located value without its value")),
                }
            }
        }
        d.deserialize_newtype_struct(LOCATED, V(std::marker::PhantomData))
    }
}

/// A YAML value with where it starts: what the model is deserialized from, and the buffer
/// that lets a broken suite be deserialized again one piece at a time.
#[derive(Clone, Debug)]
pub struct Tree {
    pub location: Location,
    pub node: Node,
    /// A plain scalar that YAML resolved to a boolean or a number, as written: what a field
    /// that wants text reads.
    written: Option<Box<str>>,
}

#[derive(Clone, Debug)]
pub enum Node<T = Tree> {
    Null,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<T>),
    Map(Vec<(T, T)>),
}

impl Tree {
    /// Parses a document into a tree.
    pub fn parse(text: &str) -> Result<Tree, YamlError> {
        let parsed: Parsed =
            serde_saphyr::from_str_with_options(text, options()).map_err(|e| YamlError::from_saphyr(&e))?;
        Ok(parsed.into_tree(text))
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

/// A node as serde-saphyr gives it: typed, with where it is referenced and, for an alias,
/// where its anchor defined it (the text of a scalar is there).
struct Parsed(Spanned<Node<Parsed>>);

impl Parsed {
    fn into_tree(self, text: &str) -> Tree {
        let Spanned { value, referenced, defined } = self.0;
        let convert = |p: Parsed| p.into_tree(text);
        // The scalar's own text, where its anchor (or the scalar itself) stands.
        let as_written = || {
            let span = defined.span();
            let at = usize::try_from(span.byte_offset()?).ok()?;
            let len = usize::try_from(span.byte_len()?).ok()?;
            text.get(at..at.checked_add(len)?).map(Box::from)
        };
        let (node, written) = match value {
            Node::Seq(items) => (Node::Seq(items.into_iter().map(convert).collect()), None),
            Node::Map(entries) => {
                (Node::Map(entries.into_iter().map(|(k, v)| (convert(k), convert(v))).collect()), None)
            }
            Node::Str(s) => (Node::Str(s), None),
            // null is no text: a field that wants text refuses it, as serde-saphyr does
            Node::Null => (Node::Null, None),
            Node::Bool(b) => (Node::Bool(b), as_written()),
            Node::Uint(u) => (Node::Uint(u), as_written()),
            Node::Int(i) => (Node::Int(i), as_written()),
            Node::Float(x) => (Node::Float(x), as_written()),
        };
        Tree { location: location(referenced), node, written }
    }
}

impl<'de> Deserialize<'de> for Parsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::deserialize(d).map(Parsed)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Node<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Node<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node<T>, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node<T>, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<T>, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node<T>, E> {
                Ok(Node::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node<T>, E> {
                Ok(Node::Uint(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node<T>, E> {
                Ok(Node::Int(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node<T>, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node<T>, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
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

/// Number and boolean fields, through [`TreeDe::plain`].
macro_rules! scalars_from_quoted_text {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, YamlError> {
            match self.plain() {
                Some(plain) => TreeDe(&plain).deserialize_any(v),
                None => self.deserialize_any(v),
            }
        }
    )*};
}

/// Float fields: as [`scalars_from_quoted_text`], and an integer only in decimal (`x: 3`),
/// as serde-saphyr's float parser reads it (`x: 0x10` is refused).
macro_rules! floats {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, YamlError> {
            let plain = self.plain();
            let tree = plain.as_ref().unwrap_or(self.0);
            let radix_prefixed = |w: &str| {
                let digits = w.trim_start_matches(['-', '+']);
                digits.starts_with("0x") || digits.starts_with("0o")
            };
            if matches!(tree.node, Node::Uint(_) | Node::Int(_)) && tree.written.as_deref().is_some_and(radix_prefixed) {
                return Err(<YamlError as de::Error>::custom("invalid floating point").or_at(tree.location));
            }
            TreeDe(tree).deserialize_any(v)
        }
    )*};
}

impl TreeDe<'_> {
    /// A quoted scalar as the plain scalar it spells, for a number or boolean field
    /// (`n: '12'` is 12), as serde-saphyr does; `None` for any other node. The text must be
    /// the scalar and nothing more: read as a document, it would also take a comment, an
    /// anchor or a `---` around it, which serde-saphyr's scalar parser refuses. (Only
    /// booleans and numbers keep their written text.)
    fn plain(&self) -> Option<Tree> {
        let Node::Str(text) = &self.0.node else { return None };
        let plain = Tree::parse(text).ok()?;
        (plain.written.as_deref() == Some(text.trim_matches([' ', '\t', '\r', '\n'])))
            .then_some(Tree { location: self.0.location, ..plain })
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

    scalars_from_quoted_text! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128
    }

    floats! { deserialize_f32 deserialize_f64 }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, YamlError> {
        match &self.0.written {
            Some(text) => v.visit_str::<YamlError>(text).map_err(|e| e.or_at(self.0.location)),
            None => self.deserialize_any(v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, YamlError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, YamlError> {
        self.deserialize_str(v)
    }

    /// A struct is written as a mapping only (serde would also take its fields in order
    /// from a sequence).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, YamlError> {
        match &self.0.node {
            Node::Seq(_) => Err(de::Error::invalid_type(de::Unexpected::Seq, &v))
                .map_err(|e: YamlError| e.or_at(self.0.location)),
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, YamlError> {
        if name == LOCATED {
            v.visit_map(LocatedAccess { tree: self.0, next: 0 })
        } else {
            v.visit_newtype_struct(self)
        }
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
            // `{Variant: value}`: the one key names the variant
            Node::Map(entries) if entries.len() == 1 => {
                let map = MapDeserializer::new(entries.iter().map(|(k, v)| (TreeDe(k), TreeDe(v))));
                v.visit_enum(de::value::MapAccessDeserializer::new(map)).map_err(|e| e.or_at(self.0.location))
            }
            _ => self.deserialize_any(v),
        }
    }

    forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct seq tuple tuple_struct map ignored_any
    }
}

/// A node's place and the node, as the map [`Located`] reads.
struct LocatedAccess<'a> {
    tree: &'a Tree,
    next: usize,
}

const LOCATED_FIELDS: [&str; 3] = ["line", "col", "value"];

impl<'de> MapAccess<'de> for LocatedAccess<'_> {
    type Error = YamlError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, YamlError> {
        match LOCATED_FIELDS.get(self.next) {
            Some(field) => seed.deserialize(de::value::BorrowedStrDeserializer::new(field)).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, YamlError> {
        let Location { line, col } = self.tree.location;
        self.next += 1;
        match self.next {
            1 => seed.deserialize(line.into_deserializer()),
            2 => seed.deserialize(col.into_deserializer()),
            _ => seed.deserialize(TreeDe(self.tree)),
        }
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
    fn a_tree_deserializes_as_serde_saphyr_does_and_places_errors_at_the_innermost_node() {
        let text = "n: 7\nflag: false\nwords:\n  - a\n  - 'b'\n";
        let tree = Tree::parse(text).unwrap();
        assert_eq!(tree.get("words").unwrap().items()[1].location, Location { line: 5, col: 5 });
        // from_str reads through the tree too: the independent reading is serde-saphyr's.
        let direct: Doc = serde_saphyr::from_str_with_options(text, options()).unwrap();
        assert_eq!(tree.deserialize::<Doc>().unwrap(), direct);
        assert_eq!(direct, Doc { n: 7, flag: Some(false), words: vec!["a".into(), "b".into()] });
        let tree = Tree::parse("n: 7\nwords:\n  - a\n  - {x: 1}\n").unwrap();
        let e = tree.deserialize::<Doc>().unwrap_err();
        assert_eq!(e.location, Some(Location { line: 4, col: 5 }), "{e}");
        let tree = Tree::parse("words: []\nn: -1\n").unwrap();
        let e = tree.deserialize::<Doc>().unwrap_err();
        assert_eq!(e.location, Some(Location { line: 2, col: 4 }), "{e}");
    }

    /// What the model reads through the tree is what serde-saphyr gives reading the text
    /// into the model directly, scalars that YAML types otherwise than the field included.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Mixed {
        id: String,
        #[serde(default)]
        n: Option<u64>,
        #[serde(default)]
        x: Option<f64>,
        #[serde(default)]
        texts: Vec<String>,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        nested: Vec<Mixed>,
        #[serde(default)]
        map: std::collections::BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Kind {
        Plain,
        With { v: u64 },
    }

    #[test]
    fn the_tree_reads_as_serde_saphyr_does() {
        // Each document, and whether it loads (on both sides).
        let docs = [
            ("id: 2024\n", true),
            ("id: 0x1F\ntexts: [1.50, true, false, 007, -3, .inf, hex:00, 'q', \"d\"]\n", true),
            ("id: a\nn: 12\nx: 1.5\n", true),
            ("id: a\nx: 3\n", true),
            ("id: a\nx: 0x10\n", false),
            ("id: a\nx: 0o17\n", false),
            ("id: a\nx: -3\n", true),
            ("id: a\nx: '0x10'\n", false),
            ("id: a\nn: -1\n", false),
            ("id: a\nn: 1.5\n", false),
            ("id: a\nn: '12'\n", true),
            ("id: a\nn: '0x10'\nx: \"2.5\"\n", true),
            ("id: a\nn: '[1]'\n", false),
            ("id: a\nn: 'true'\n", false),
            ("id: a\nn: ' 12 '\n", true),
            ("id: a\nn: '1 # c'\n", false),
            ("id: a\nn: '&a 1'\n", false),
            ("id: a\nn: '--- 1'\n", false),
            ("id: ~\n", false),
            ("id:\n", false),
            ("id: a\nn: ~\n", true),
            ("id: a\nkind: Plain\n", true),
            ("id: a\nkind: {With: {v: 3}}\n", true),
            ("id: a\nkind: Other\n", false),
            ("id: a\nmap: {1: 2, yes: no, k: 0o17}\n", true),
            ("id: &i 55\nnested: [{id: *i}, {id: x, texts: [*i]}]\n", true),
            ("base: &b {id: b, n: 1}\n", false),
            ("id: a\nnested:\n  - &b {id: b, n: 1}\n  - {<<: *b, id: c}\n", true),
            ("id: a\nid: b\n", false),
            ("id: a\nextra: 1\n", false),
            ("id: |\n  two\n  lines\n", true),
            ("id: a\ntexts: [a, [b]]\n", false),
            ("[1, 2]\n", false),
        ];
        for (doc, loads) in docs {
            let direct = serde_saphyr::from_str_with_options::<Mixed>(doc, options());
            let tree = from_str::<Mixed>(doc);
            assert_eq!(direct.is_ok(), loads, "{doc:?}: serde-saphyr gives {direct:?}");
            match (&direct, &tree) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{doc:?}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{doc:?}: serde-saphyr gives {direct:?}, the tree {tree:?}"),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    struct Listed {
        #[serde(deserialize_with = "located")]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    struct Item {
        name: String,
        #[serde(skip)]
        at: Location,
    }

    impl Placed for Item {
        fn place(&mut self, at: Location) {
            self.at = at;
        }
    }

    #[test]
    fn located_items_know_their_place_and_an_alias_is_placed_where_it_is_used() {
        let doc: Listed = from_str("items:\n  - name: a\n  - &x {name: b}\n  -   *x\n").unwrap();
        let places: Vec<_> = doc.items.iter().map(|i| (i.name.as_str(), i.at.line, i.at.col)).collect();
        assert_eq!(places, [("a", 2, 5), ("b", 3, 8), ("b", 4, 7)]);
        let e = from_str::<Listed>("items:\n  - name: a\n  - {name: [b]}\n").unwrap_err();
        assert_eq!(e.location, Some(Location { line: 3, col: 12 }), "{e}");
    }
}
