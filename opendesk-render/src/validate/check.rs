//! The walk: one document tree against one compiled schema node, YAML 1.1 scalars resolved
//! on demand the way Kubernetes reads them.

use super::schema::{is_quantity, ty, Arena, Extra, Id, ListType, SNode, Special};
use super::Issue;
use crate::yaml::resolve::Resolved;
use crate::yaml::{Node, Pos};
use crate::yaml::{PathSeg, Value};
use serde_json::Value as J;

/// How deep the walk follows a document (recursive schemas such as `JSONSchemaProps`).
const MAX_DEPTH: usize = 128;
/// Findings kept per document (a wrong `kind` can make every field unknown).
pub const MAX_ISSUES: usize = 50;

/// One step of the current path, borrowed from the document.
#[derive(Clone, Copy)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Idx(usize),
}

/// Walks documents; collects [`Issue`]s.
pub(crate) struct Walker<'a> {
    /// ObjectMeta of the built-in schemas, for embedded resources: (arena, id).
    pub meta: (&'a Arena, Id),
    pub path: Vec<Seg<'a>>,
    pub out: Vec<Issue>,
    /// At the root of a custom resource: `apiVersion`, `kind` and `metadata` are the API
    /// server's (checked separately), not the CRD schema's.
    pub skip_type_meta: bool,
    /// Set while probing `anyOf`/`oneOf` branches: only whether an issue occurs matters.
    probing: bool,
}

fn type_name(bits: u8) -> String {
    let mut v = Vec::new();
    for (b, n) in [
        (ty::OBJECT, "object"),
        (ty::ARRAY, "array"),
        (ty::STRING, "string"),
        (ty::INTEGER, "integer"),
        (ty::NUMBER, "number"),
        (ty::BOOLEAN, "boolean"),
    ] {
        if bits & b != 0 {
            v.push(n);
        }
    }
    v.join(" or ")
}

/// What a node is, as Kubernetes reads it.
#[derive(Clone, Copy, PartialEq)]
enum Actual<'a> {
    Null,
    Object,
    Array,
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Actual<'_> {
    fn name(&self) -> &'static str {
        match self {
            Actual::Null => "null",
            Actual::Object => "object",
            Actual::Array => "array",
            Actual::Str(_) => "string",
            Actual::Int(_) => "integer",
            Actual::Float(_) => "number",
            Actual::Bool(_) => "boolean",
        }
    }
}

fn actual(n: &Node) -> Actual<'_> {
    match &n.value {
        Value::Map(_) => Actual::Object,
        Value::Seq(_) => Actual::Array,
        Value::Scalar(s) => match s.resolve() {
            Resolved::Null => Actual::Null,
            Resolved::Bool(b) => Actual::Bool(b),
            Resolved::Int(i) => Actual::Int(i),
            Resolved::Float(f) => Actual::Float(f),
            Resolved::Str(t) => Actual::Str(t),
        },
    }
}

fn type_ok(bits: u8, a: Actual<'_>) -> bool {
    if bits == 0 {
        return true;
    }
    match a {
        Actual::Null => true,
        Actual::Object => bits & ty::OBJECT != 0,
        Actual::Array => bits & ty::ARRAY != 0,
        Actual::Str(_) => bits & ty::STRING != 0,
        Actual::Int(_) => bits & (ty::INTEGER | ty::NUMBER) != 0,
        // `1.0` reaches the API server as JSON `1` (sigs.k8s.io/yaml), an integer.
        Actual::Float(f) => bits & ty::NUMBER != 0 || (bits & ty::INTEGER != 0 && f.fract() == 0.0 && f.is_finite()),
        Actual::Bool(_) => bits & ty::BOOLEAN != 0,
    }
}

fn enum_matches(e: &J, a: Actual<'_>) -> bool {
    match (e, a) {
        (J::String(s), Actual::Str(t)) => s == t,
        (J::Bool(b), Actual::Bool(c)) => *b == c,
        (J::Number(n), Actual::Int(i)) => n.as_i64() == Some(i) || n.as_f64() == Some(i as f64),
        (J::Number(n), Actual::Float(f)) => n.as_f64() == Some(f),
        (J::Null, Actual::Null) => true,
        _ => false,
    }
}

fn enum_text(e: &[J]) -> String {
    let v: Vec<String> = e.iter().take(12).map(|x| x.to_string()).collect();
    v.join(", ")
}

impl<'a> Walker<'a> {
    /// A walker; `meta` is the built-in ObjectMeta.
    pub fn new(meta: (&'a Arena, Id)) -> Self {
        Walker { meta, path: Vec::with_capacity(32), out: Vec::new(), skip_type_meta: false, probing: false }
    }

    /// The current path as a normalized JSONPath.
    pub fn path_string(&self, last: Option<Seg<'_>>) -> String {
        let segs: Vec<PathSeg> = self
            .path
            .iter()
            .copied()
            .chain(last)
            .map(|s| match s {
                Seg::Key(k) => PathSeg::Key(k.to_string()),
                Seg::Idx(i) => PathSeg::Index(i),
            })
            .collect();
        crate::yaml::path_to_string(&segs)
    }

    fn issue(&mut self, code: &'static str, pos: Pos, last: Option<Seg<'_>>, message: String) {
        let (line, col) = (pos.line, pos.col);
        if self.probing {
            self.out.push(Issue { code, path: String::new(), line, col, message: String::new() });
            return;
        }
        if self.out.len() >= MAX_ISSUES {
            return;
        }
        let path = self.path_string(last);
        self.out.push(Issue { code, path, line, col, message });
    }

    fn full(&self) -> bool {
        (self.probing && !self.out.is_empty()) || self.out.len() >= MAX_ISSUES
    }

    /// Check `n` against node `id` of `arena`.
    pub fn walk(&mut self, arena: &Arena, id: Id, n: &'a Node) {
        if self.full() || self.path.len() > MAX_DEPTH {
            return;
        }
        let s = arena.get(id);
        let a = actual(n);
        if a == Actual::Null {
            // null is "unset" for an optional field (CRDs prune it unless nullable).
            return;
        }
        match s.special {
            Special::IntOrString => {
                let ok = matches!(a, Actual::Int(_) | Actual::Str(_))
                    || matches!(a, Actual::Float(f) if f.fract() == 0.0 && f.is_finite());
                if !ok {
                    self.issue(
                        "validate/type",
                        n.pos(),
                        None,
                        format!("expected an integer or a string, got {}", a.name()),
                    );
                    return;
                }
            }
            Special::Quantity => {
                match a {
                    Actual::Int(_) | Actual::Float(_) => {}
                    Actual::Str(t) if is_quantity(t) => {}
                    Actual::Str(t) => {
                        let shown = if t.len() <= 40 { format!(" {t:?}") } else { String::new() };
                        self.issue(
                            "validate/quantity",
                            n.pos(),
                            None,
                            format!("quantity{shown} is not in Kubernetes quantity syntax (e.g. `512Mi`, `0.5`, `100m`; no space, binary suffixes Ki Mi Gi Ti Pi Ei, decimal n u m k M G T P E)"),
                        );
                    }
                    _ => self.issue(
                        "validate/type",
                        n.pos(),
                        None,
                        format!("expected a quantity (string or number), got {}", a.name()),
                    ),
                }
                return;
            }
            Special::None => {
                if !type_ok(s.types, a) {
                    self.issue(
                        "validate/type",
                        n.pos(),
                        None,
                        format!("expected {}, got {}", type_name(s.types), a.name()),
                    );
                    return;
                }
            }
        }
        match (&n.value, a) {
            (Value::Map(entries), _) => self.object(arena, s, n, entries),
            (Value::Seq(items), _) => self.array(arena, s, n, items),
            (_, a) => self.scalar(s, n, a),
        }
        self.branches(arena, s, n);
    }

    fn object(&mut self, arena: &Arena, s: &SNode, n: &'a Node, entries: &'a [crate::yaml::Entry]) {
        let root = self.skip_type_meta && self.path.is_empty();
        for e in entries {
            let k = e.key.text.as_str();
            if root && matches!(k, "apiVersion" | "kind" | "metadata") {
                continue;
            }
            let target = match s.prop(k) {
                Some(p) => Some(p),
                None => match s.extra {
                    Extra::Schema(x) => Some(x),
                    Extra::Any => None,
                    Extra::Forbid => {
                        if s.embedded && matches!(k, "apiVersion" | "kind") {
                            None
                        } else if s.embedded && k == "metadata" {
                            self.path.push(Seg::Key(k));
                            let (ma, mid) = self.meta;
                            self.walk(ma, mid, &e.value);
                            self.path.pop();
                            None
                        } else if !s.preserve_unknown {
                            let line = if e.key_line != 0 { e.key_pos() } else { n.pos() };
                            self.issue(
                                "validate/unknown-field",
                                line,
                                Some(Seg::Key(k)),
                                format!("unknown field `{k}`"),
                            );
                            None
                        } else {
                            None
                        }
                    }
                },
            };
            if let Some(t) = target {
                self.path.push(Seg::Key(k));
                self.walk(arena, t, &e.value);
                self.path.pop();
            }
            if self.full() {
                return;
            }
        }
        for r in &s.required {
            let present = entries.iter().any(|e| e.key.text == **r && !e.value.is_null());
            if !present {
                self.issue("validate/required", n.pos(), None, format!("missing required field `{r}`"));
            }
        }
        let len = entries.len() as u64;
        if s.min_props.is_some_and(|m| len < m) || s.max_props.is_some_and(|m| len > m) {
            self.issue("validate/value", n.pos(), None, format!("{len} fields is outside the allowed count"));
        }
    }

    fn array(&mut self, arena: &Arena, s: &SNode, n: &'a Node, items: &'a [Node]) {
        if let Some(it) = s.items {
            for (i, x) in items.iter().enumerate() {
                self.path.push(Seg::Idx(i));
                self.walk(arena, it, x);
                self.path.pop();
                if self.full() {
                    return;
                }
            }
        }
        let len = items.len() as u64;
        if let Some(m) = s.min_items.filter(|m| len < *m) {
            self.issue("validate/value", n.pos(), None, format!("{len} items, at least {m} required"));
        }
        if let Some(m) = s.max_items.filter(|m| len > *m) {
            self.issue("validate/value", n.pos(), None, format!("{len} items, at most {m} allowed"));
        }
        match &s.list {
            ListType::Atomic => {}
            ListType::Set => {
                let mut seen: Vec<(&str, usize)> = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    let Some(t) = x.scalar_text() else { continue };
                    if seen.iter().any(|(s, _)| *s == t) {
                        self.issue(
                            "validate/duplicate-item",
                            x.pos(),
                            Some(Seg::Idx(i)),
                            "duplicate item in a list that is a set (x-kubernetes-list-type: set)".into(),
                        );
                    } else {
                        seen.push((t, i));
                    }
                }
            }
            ListType::Map(keys) => {
                let mut seen: Vec<Vec<String>> = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    if x.as_map().is_none() {
                        continue;
                    }
                    let k: Vec<String> = keys
                        .iter()
                        .map(|k| match x.get(k).and_then(|v| v.scalar_text()).filter(|t| !t.is_empty()) {
                            Some(t) => t.to_string(),
                            // Every `protocol` key defaults to TCP in the built-in APIs.
                            None if k == "protocol" => "TCP".to_string(),
                            None => String::new(),
                        })
                        .collect();
                    if seen.contains(&k) {
                        let what: Vec<String> = keys.iter().zip(&k).map(|(a, b)| format!("{a}={b}")).collect();
                        self.issue(
                            "validate/duplicate-item",
                            x.pos(),
                            Some(Seg::Idx(i)),
                            format!(
                                "duplicate entry for key [{}] (x-kubernetes-list-type: map; server-side apply rejects it)",
                                what.join(",")
                            ),
                        );
                    } else {
                        seen.push(k);
                    }
                }
            }
        }
    }

    fn scalar(&mut self, s: &SNode, n: &Node, a: Actual<'_>) {
        if let Some(e) = &s.enumeration {
            if !e.iter().any(|x| enum_matches(x, a)) {
                self.issue("validate/enum", n.pos(), None, format!("value is not one of {}", enum_text(e)));
            }
        }
        match a {
            Actual::Str(t) => {
                let chars = || t.chars().count() as u64;
                if let Some(m) = s.min_length.filter(|m| chars() < *m) {
                    self.issue("validate/value", n.pos(), None, format!("shorter than {m} characters"));
                }
                if let Some(m) = s.max_length.filter(|m| chars() > *m) {
                    self.issue("validate/value", n.pos(), None, format!("longer than {m} characters"));
                }
                if let Some(p) = &s.pattern {
                    if !p.is_match(t) {
                        self.issue(
                            "validate/value",
                            n.pos(),
                            None,
                            format!("does not match the pattern {:?}", p.as_str()),
                        );
                    }
                }
            }
            Actual::Int(_) | Actual::Float(_) => {
                let v = match a {
                    Actual::Int(i) => i as f64,
                    Actual::Float(f) => f,
                    _ => 0.0,
                };
                if s.int32 && !(i32::MIN as f64..=i32::MAX as f64).contains(&v) {
                    self.issue("validate/value", n.pos(), None, "out of the 32-bit integer range".into());
                }
                if let Some((m, ex)) = s.minimum {
                    if v < m || (ex && v == m) {
                        self.issue("validate/value", n.pos(), None, format!("less than the minimum {m}"));
                    }
                }
                if let Some((m, ex)) = s.maximum {
                    if v > m || (ex && v == m) {
                        self.issue("validate/value", n.pos(), None, format!("greater than the maximum {m}"));
                    }
                }
            }
            _ => {}
        }
    }

    fn probe(&self, arena: &Arena, id: Id, n: &'a Node) -> bool {
        let mut w =
            Walker { meta: self.meta, path: self.path.clone(), out: Vec::new(), skip_type_meta: false, probing: true };
        w.walk(arena, id, n);
        w.out.is_empty()
    }

    fn branches(&mut self, arena: &Arena, s: &SNode, n: &'a Node) {
        for &b in &s.all_of {
            self.walk(arena, b, n);
        }
        if !s.any_of.is_empty() && !s.any_of.iter().any(|&b| self.probe(arena, b, n)) {
            self.issue("validate/value", n.pos(), None, "matches none of the schema's anyOf alternatives".into());
        }
        if !s.one_of.is_empty() {
            let hits = s.one_of.iter().filter(|&&b| self.probe(arena, b, n)).count();
            if hits != 1 {
                self.issue(
                    "validate/value",
                    n.pos(),
                    None,
                    format!("matches {hits} of the schema's oneOf alternatives (exactly one required)"),
                );
            }
        }
        if let Some(x) = s.not {
            if self.probe(arena, x, n) {
                self.issue("validate/value", n.pos(), None, "matches the schema's `not`".into());
            }
        }
    }
}
