//! The document tree: ordered maps, sequences and scalars that keep their source text and style.
//!
//! Why our own tree: generic YAML libraries resolve scalars while loading and re-emit the
//! resolved value, which changes what Kubernetes reads (`0644` becomes `644`, `on` becomes
//! `true`). Here a scalar is its text plus its style; types are resolved only on demand, with
//! the YAML 1.1 rules Kubernetes uses (see [`crate::yaml::resolve`]).

use super::resolve::{self, Resolved};
use std::fmt;

/// How a scalar was (or will be) written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Style {
    /// Unquoted.
    #[default]
    Plain,
    /// `'single quoted'`.
    SingleQuoted,
    /// `"double quoted"`.
    DoubleQuoted,
    /// `|` literal block.
    Literal,
    /// `>` folded block (emitted as a literal block with the same value).
    Folded,
}

/// A scalar: its text (the value after unescaping; for plain scalars the source text) and style.
#[derive(Debug, Clone, Default)]
pub struct Scalar {
    /// The text. For plain scalars this is exactly what the source said.
    pub text: String,
    /// The style the text was written in.
    pub style: Style,
    /// An explicit tag, written as in the source (`!!str`, `!!binary`, `!custom`).
    pub tag: Option<Box<str>>,
}

impl Scalar {
    /// A plain scalar with the given source text (written back verbatim).
    pub fn plain(text: impl Into<String>) -> Self {
        Scalar { text: text.into(), style: Style::Plain, tag: None }
    }

    /// A *new* string scalar: plain only when neither YAML 1.1 nor 1.2 would read the text as
    /// anything but this string; a literal block for multi-line text; quoted otherwise.
    pub fn string(text: impl Into<String>) -> Self {
        let text = text.into();
        let style = resolve::style_for_new_string(&text);
        Scalar { text, style, tag: None }
    }

    /// The value as Kubernetes (go-yaml v2, YAML 1.1) reads it.
    pub fn resolve(&self) -> Resolved<'_> {
        resolve::resolve(self)
    }

    /// The text when Kubernetes reads this scalar as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self.resolve() {
            Resolved::Str(s) => Some(s),
            _ => None,
        }
    }

    /// True when Kubernetes reads this scalar as a string.
    pub fn is_string(&self) -> bool {
        matches!(self.resolve(), Resolved::Str(_))
    }
}

/// One entry of a mapping.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The key (mapping keys are scalars in Kubernetes manifests).
    pub key: Scalar,
    /// The key's 1-based line in the source (0 for nodes created by a stage).
    pub key_line: u32,
    /// The key's 1-based column in the source, in characters (0 for nodes created by a stage).
    pub key_col: u32,
    /// The value.
    pub value: Node,
}

/// The shape of a node.
#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping in insertion order.
    Map(Vec<Entry>),
}

impl Default for Value {
    fn default() -> Self {
        Value::Scalar(Scalar::plain(""))
    }
}

/// A node of the tree with its 1-based source line and column (0 for nodes created by a stage).
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// 1-based line in the source file (0 = created by the pipeline).
    pub line: u32,
    /// 1-based column in the source line, counted in characters (Unicode scalar values, as
    /// saphyr counts them; a tab is one), 0 = created by the pipeline. Where the general parser
    /// puts it: a scalar's first character (its quote or block indicator `|`/`>` included; a
    /// block scalar's position is that of its first content line), a block mapping's first
    /// key, a block sequence's first `-`, a flow collection's opening bracket.
    pub col: u32,
}

/// A source position: 1-based line and column (characters); `0` for made by the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line (0 = none).
    pub line: u32,
    /// 1-based column in characters (0 = none).
    pub col: u32,
}

impl Entry {
    /// Where the key is in the source (a finding about a key points here).
    pub fn key_pos(&self) -> Pos {
        Pos { line: self.key_line, col: self.key_col }
    }
}

/// One step of a concrete location inside a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl fmt::Display for PathSeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSeg::Key(k) => {
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    write!(f, ".{k}")
                } else {
                    write!(f, "['{}']", k.replace('\\', "\\\\").replace('\'', "\\'"))
                }
            }
            PathSeg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Render a concrete path as a normalized JSONPath (`$.spec.template['a.b'][0]`).
pub fn path_to_string(path: &[PathSeg]) -> String {
    let mut s = String::from("$");
    for p in path {
        s.push_str(&p.to_string());
    }
    s
}

// Path builders: one set for the stages, the validator and the patch engine.

/// A path segment for a mapping key.
pub fn key(s: &str) -> PathSeg {
    PathSeg::Key(s.to_string())
}

/// A path of mapping keys (`["spec", "template"]`).
pub fn keys(parts: &[&str]) -> Vec<PathSeg> {
    parts.iter().map(|s| key(s)).collect()
}

/// `base` followed by `extra`.
pub fn join(base: &[PathSeg], extra: &[PathSeg]) -> Vec<PathSeg> {
    let mut p = Vec::with_capacity(base.len() + extra.len());
    p.extend_from_slice(base);
    p.extend_from_slice(extra);
    p
}

/// `base` followed by the key `k`.
pub fn with_key(base: &[PathSeg], k: &str) -> Vec<PathSeg> {
    let mut p = Vec::with_capacity(base.len() + 1);
    p.extend_from_slice(base);
    p.push(key(k));
    p
}

/// A mapping node from `(key, value)` pairs, in order (keys quoted as needed).
pub fn map_of(entries: Vec<(&str, Node)>) -> Node {
    Node::new(Value::Map(
        entries.into_iter().map(|(k, v)| Entry { key: Scalar::string(k), key_line: 0, key_col: 0, value: v }).collect(),
    ))
}

/// A sequence node.
pub fn seq_of(items: Vec<Node>) -> Node {
    Node::new(Value::Seq(items))
}

impl Node {
    /// A new node (line 0) from a value.
    pub fn new(value: Value) -> Self {
        Node { value, line: 0, col: 0 }
    }

    /// Where the node is in the source.
    pub fn pos(&self) -> Pos {
        Pos { line: self.line, col: self.col }
    }

    /// A new string scalar node, quoted as needed (see [`Scalar::string`]).
    pub fn string(text: impl Into<String>) -> Self {
        Node::new(Value::Scalar(Scalar::string(text)))
    }

    /// A new plain scalar node written verbatim (numbers, booleans: `Node::plain("20")`).
    pub fn plain(text: impl Into<String>) -> Self {
        Node::new(Value::Scalar(Scalar::plain(text)))
    }

    /// An empty mapping.
    pub fn map() -> Self {
        Node::new(Value::Map(Vec::new()))
    }

    /// An empty sequence.
    pub fn seq() -> Self {
        Node::new(Value::Seq(Vec::new()))
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&Vec<Entry>> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The entries, mutable, if this is a mapping.
    pub fn as_map_mut(&mut self) -> Option<&mut Vec<Entry>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The items, mutable, if this is a sequence.
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// String view (YAML 1.1 rules): `Some` only when Kubernetes reads a string.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().and_then(Scalar::as_str)
    }

    /// Boolean view (YAML 1.1: `y/n/yes/no/on/off/true/false`).
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_scalar()?.resolve() {
            Resolved::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Integer view (YAML 1.1 / go-yaml v2: `0644` is 420, `0x1F` is 31, `1_000` is 1000).
    pub fn as_i64(&self) -> Option<i64> {
        match self.as_scalar()?.resolve() {
            Resolved::Int(i) => Some(i),
            _ => None,
        }
    }

    /// Float view (integers widen).
    pub fn as_f64(&self) -> Option<f64> {
        match self.as_scalar()?.resolve() {
            Resolved::Float(f) => Some(f),
            Resolved::Int(i) => Some(i as f64),
            _ => None,
        }
    }

    /// True for a null scalar (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        matches!(self.as_scalar().map(Scalar::resolve), Some(Resolved::Null))
    }

    /// The largest source line found walking down the last entry or item from here: the line
    /// where this node's source ends, near enough (a multi-line scalar counts by its first
    /// line; nodes made by a stage have line 0 and count as nothing). Visits one node per level.
    pub fn last_line(&self) -> u32 {
        let mut n = self;
        let mut last = n.line;
        loop {
            n = match &n.value {
                Value::Map(es) => match es.last() {
                    Some(e) => {
                        last = last.max(e.key_line);
                        &e.value
                    }
                    None => return last,
                },
                Value::Seq(items) => match items.last() {
                    Some(x) => x,
                    None => return last,
                },
                Value::Scalar(_) => return last,
            };
            last = last.max(n.line);
        }
    }

    /// The text of a scalar of any type (`"0644"` for `0644`), for messages and matching.
    pub fn scalar_text(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.text.as_str())
    }

    /// Look up a key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|e| e.key.text == key).map(|e| &e.value)
    }

    /// Look up a key in a mapping, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut()?.iter_mut().find(|e| e.key.text == key).map(|e| &mut e.value)
    }

    /// Follow a dotted path of keys (`"metadata.name"`); no escaping, for code-side lookups.
    pub fn get_path(&self, dotted: &str) -> Option<&Node> {
        dotted.split('.').try_fold(self, |n, k| n.get(k))
    }

    /// Follow a concrete path.
    pub fn at(&self, path: &[PathSeg]) -> Option<&Node> {
        path.iter().try_fold(self, |n, seg| match seg {
            PathSeg::Key(k) => n.get(k),
            PathSeg::Index(i) => n.as_seq()?.get(*i),
        })
    }

    /// Follow a concrete path, mutable.
    pub fn at_mut(&mut self, path: &[PathSeg]) -> Option<&mut Node> {
        let mut n = self;
        for seg in path {
            n = match seg {
                PathSeg::Key(k) => n.get_mut(k)?,
                PathSeg::Index(i) => n.as_seq_mut()?.get_mut(*i)?,
            };
        }
        Some(n)
    }

    /// Set `key` in a mapping (replacing an existing value in place, else appending).
    /// Returns false when this node is not a mapping.
    pub fn insert(&mut self, key: &str, value: Node) -> bool {
        let Some(map) = self.as_map_mut() else { return false };
        if let Some(e) = map.iter_mut().find(|e| e.key.text == key) {
            e.value = value;
        } else {
            map.push(Entry { key: Scalar::string(key), key_line: 0, key_col: 0, value });
        }
        true
    }

    /// Remove `key` from a mapping, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let map = self.as_map_mut()?;
        let i = map.iter().position(|e| e.key.text == key)?;
        Some(map.remove(i).value)
    }

    /// Get the mapping at `key`, creating an empty one when missing or null.
    /// Returns `None` when this node is not a mapping or `key` holds a non-map.
    pub fn ensure_map(&mut self, key: &str) -> Option<&mut Node> {
        self.ensure_child(key, Node::map).filter(|n| n.as_map().is_some())
    }

    /// Get the sequence at `key`, creating an empty one when missing or null.
    pub fn ensure_seq(&mut self, key: &str) -> Option<&mut Node> {
        self.ensure_child(key, Node::seq).filter(|n| n.as_seq().is_some())
    }

    fn ensure_child(&mut self, key: &str, make: fn() -> Node) -> Option<&mut Node> {
        let map = self.as_map_mut()?;
        let i = match map.iter().position(|e| e.key.text == key) {
            Some(i) => {
                if map[i].value.is_null() {
                    map[i].value = make();
                }
                i
            }
            None => {
                map.push(Entry { key: Scalar::string(key), key_line: 0, key_col: 0, value: make() });
                map.len() - 1
            }
        };
        Some(&mut map[i].value)
    }

    /// Number of nodes in this subtree (itself included).
    pub fn size(&self) -> usize {
        1 + match &self.value {
            Value::Scalar(_) => 0,
            Value::Seq(s) => s.iter().map(Node::size).sum(),
            Value::Map(m) => m.iter().map(|e| 1 + e.value.size()).sum(),
        }
    }

    /// Exact structural equality: same shape, same scalar text and style (folded and literal
    /// count as one block style), lines ignored. Used by round-trip tests.
    pub fn same(&self, other: &Node) -> bool {
        // The emitter writes folded blocks as literal blocks, and single-quoted text holding a
        // line break or control character in double quotes: same value, same quotedness.
        fn sty(s: &Scalar) -> Style {
            match s.style {
                Style::Literal | Style::Folded
                    if !resolve::literal_ok(&s.text) || s.text.trim_start_matches('\n').starts_with(' ') =>
                {
                    Style::DoubleQuoted
                }
                Style::Folded => Style::Literal,
                Style::SingleQuoted if resolve::needs_double(&s.text) => Style::DoubleQuoted,
                // Plain text the emitter must quote (a folded line break, a control character, a
                // leading `--- `) resolves to a string either way.
                Style::Plain if !resolve::plain_verbatim_ok(&s.text) => Style::DoubleQuoted,
                st => st,
            }
        }
        fn sc(a: &Scalar, b: &Scalar) -> bool {
            let (x, y) = (sty(a), sty(b));
            let eqs = x == y
                || (x == Style::DoubleQuoted && y == Style::Literal)
                || (x == Style::Literal && y == Style::DoubleQuoted);
            a.text == b.text && eqs && a.tag == b.tag
        }
        match (&self.value, &other.value) {
            (Value::Scalar(a), Value::Scalar(b)) => sc(a, b),
            (Value::Seq(a), Value::Seq(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y)),
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| sc(&x.key, &y.key) && x.value.same(&y.value))
            }
            _ => false,
        }
    }

    /// Exact comparison, lines, styles and tags included: the path and reason of the first
    /// difference, `None` when the trees are identical. Used to hold the loader's fast path to
    /// the general parser.
    pub fn first_difference(&self, other: &Node) -> Option<String> {
        fn scalar(x: &Scalar, y: &Scalar, path: &str) -> Option<String> {
            (x.text != y.text || x.style != y.style || x.tag != y.tag).then(|| format!("{path}: {x:?} vs {y:?}"))
        }
        fn walk(a: &Node, b: &Node, path: &mut String) -> Option<String> {
            if (a.line, a.col) != (b.line, b.col) {
                return Some(format!("{path}: line:col {}:{} vs {}:{}", a.line, a.col, b.line, b.col));
            }
            match (&a.value, &b.value) {
                (Value::Scalar(x), Value::Scalar(y)) => scalar(x, y, path),
                (Value::Seq(x), Value::Seq(y)) if x.len() == y.len() => {
                    x.iter().zip(y).enumerate().find_map(|(i, (m, n))| {
                        let len = path.len();
                        path.push_str(&PathSeg::Index(i).to_string());
                        let d = walk(m, n, path);
                        path.truncate(len);
                        d
                    })
                }
                (Value::Map(x), Value::Map(y)) if x.len() == y.len() => x.iter().zip(y).find_map(|(m, n)| {
                    let len = path.len();
                    path.push_str(&PathSeg::Key(m.key.text.clone()).to_string());
                    let d = scalar(&m.key, &n.key, path)
                        .or_else(|| {
                            (m.key_pos() != n.key_pos()).then(|| {
                                format!(
                                    "{path}: key line:col {}:{} vs {}:{}",
                                    m.key_line, m.key_col, n.key_line, n.key_col
                                )
                            })
                        })
                        .or_else(|| walk(&m.value, &n.value, path));
                    path.truncate(len);
                    d
                }),
                (Value::Seq(x), Value::Seq(y)) => Some(format!("{path}: {} vs {} items", x.len(), y.len())),
                (Value::Map(x), Value::Map(y)) => Some(format!("{path}: {} vs {} entries", x.len(), y.len())),
                _ => Some(format!("{path}: a different kind of node")),
            }
        }
        walk(self, other, &mut String::from("$"))
    }

    /// True when `pred` holds for the text of any scalar or mapping key in this subtree
    /// (depth-first, stops at the first hit). Cheap: no paths are built.
    pub fn any_text(&self, pred: &mut dyn FnMut(&str) -> bool) -> bool {
        match &self.value {
            Value::Scalar(s) => pred(&s.text),
            Value::Seq(items) => items.iter().any(|n| n.any_text(pred)),
            Value::Map(m) => m.iter().any(|e| pred(&e.key.text) || e.value.any_text(pred)),
        }
    }

    /// Visit every scalar with its path (keys excluded). Depth-first, in order.
    pub fn walk_scalars<'a>(&'a self, path: &mut Vec<PathSeg>, f: &mut dyn FnMut(&[PathSeg], &'a Scalar)) {
        match &self.value {
            Value::Scalar(s) => f(path, s),
            Value::Seq(items) => {
                for (i, n) in items.iter().enumerate() {
                    path.push(PathSeg::Index(i));
                    n.walk_scalars(path, f);
                    path.pop();
                }
            }
            Value::Map(m) => {
                for e in m {
                    path.push(PathSeg::Key(e.key.text.clone()));
                    e.value.walk_scalars(path, f);
                    path.pop();
                }
            }
        }
    }

    /// Visit every scalar mutably (keys excluded).
    pub fn walk_scalars_mut(&mut self, path: &mut Vec<PathSeg>, f: &mut dyn FnMut(&[PathSeg], &mut Scalar)) {
        match &mut self.value {
            Value::Scalar(s) => f(path, s),
            Value::Seq(items) => {
                for (i, n) in items.iter_mut().enumerate() {
                    path.push(PathSeg::Index(i));
                    n.walk_scalars_mut(path, f);
                    path.pop();
                }
            }
            Value::Map(m) => {
                for e in m {
                    path.push(PathSeg::Key(e.key.text.clone()));
                    e.value.walk_scalars_mut(path, f);
                    path.pop();
                }
            }
        }
    }

    /// Convert to JSON with Kubernetes' typing (for reports and schema validation).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => J::Null,
                Resolved::Bool(b) => J::Bool(b),
                Resolved::Int(i) => J::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f).map(J::Number).unwrap_or(J::Null),
                Resolved::Str(t) => J::String(t.to_string()),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|e| (e.key.text.clone(), e.value.to_json())).collect()),
        }
    }

    /// Build a tree from JSON (new nodes: strings quoted as needed, numbers/bools plain).
    pub fn from_json(v: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        match v {
            J::Null => Node::plain("null"),
            J::Bool(b) => Node::plain(if *b { "true" } else { "false" }),
            J::Number(n) => Node::plain(n.to_string()),
            J::String(s) => Node::string(s.as_str()),
            J::Array(a) => Node::new(Value::Seq(a.iter().map(Node::from_json).collect())),
            J::Object(o) => Node::new(Value::Map(
                o.iter()
                    .map(|(k, v)| Entry {
                        key: Scalar::string(k.as_str()),
                        key_line: 0,
                        key_col: 0,
                        value: Node::from_json(v),
                    })
                    .collect(),
            )),
        }
    }
}

/// Semantic equality: scalars compare by the value Kubernetes reads (`0644` == `420`,
/// `yes` == `true`, `'a'` == `a`), collections structurally, lines ignored. This is what
/// JSONPath filter comparisons and dedup use.
impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        match (&self.value, &other.value) {
            (Value::Scalar(a), Value::Scalar(b)) => a.resolve() == b.resolve(),
            (Value::Seq(a), Value::Seq(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.key.text == y.key.text && x.value == y.value)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod size_tests {
    use super::{Entry, Node};

    /// Columns cost no memory: `line` and `col` (two `u32`) share the word after the value,
    /// where `line` alone sat with padding (56 and 112 bytes on 64-bit targets, before and
    /// after the column was added).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn positions_fit_in_one_word() {
        assert_eq!(std::mem::size_of::<Node>(), 56);
        assert_eq!(std::mem::size_of::<Entry>(), 112);
    }
}
