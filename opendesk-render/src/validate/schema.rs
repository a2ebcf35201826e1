//! Compiled schemas: an arena of nodes compiled once from JSON schema / OpenAPI v3 definitions.
//!
//! One compiler serves both sources: the built-in Kubernetes definitions shipped in
//! `schemas/kubernetes.json` (strict JSON schemas: unknown fields carry
//! `additionalProperties: false`) and the `openAPIV3Schema` of CustomResourceDefinitions
//! (structural schemas: an object's unknown fields are pruned, which strict field validation
//! reports, unless `x-kubernetes-preserve-unknown-fields` says otherwise).

use regex::Regex;
use serde_json::Value as J;
use std::collections::HashMap;

/// Index of a node in its [`Arena`].
pub type Id = u32;

/// JSON types a node accepts (bit set; 0 = any).
pub mod ty {
    /// object
    pub const OBJECT: u8 = 1;
    /// array
    pub const ARRAY: u8 = 2;
    /// string
    pub const STRING: u8 = 4;
    /// integer
    pub const INTEGER: u8 = 8;
    /// number (integers included)
    pub const NUMBER: u8 = 16;
    /// boolean
    pub const BOOLEAN: u8 = 32;
}

/// What an object does with keys that are not in `properties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Anything goes (no `additionalProperties`, not strict; or `true`).
    Any,
    /// Unknown fields are an error (strict).
    Forbid,
    /// Every extra value must match this node (maps: labels, data).
    Schema(Id),
}

/// A scalar shape with its own syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// No special shape.
    None,
    /// `x-kubernetes-int-or-string` / `IntOrString`: an integer or a string.
    IntOrString,
    /// `resource.Quantity`: a number or a string in quantity syntax (`512Mi`, `0.5`, `1e3`).
    Quantity,
}

/// `x-kubernetes-list-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// No uniqueness (atomic or unset).
    Atomic,
    /// Unique scalar items.
    Set,
    /// Unique items by these keys.
    Map(Vec<String>),
}

/// One compiled schema node.
#[derive(Debug)]
pub struct SNode {
    /// Accepted types (bits of [`ty`]; 0 = any).
    pub types: u8,
    /// Properties, sorted by key.
    pub props: Vec<(Box<str>, Id)>,
    /// Keys that are not properties.
    pub extra: Extra,
    /// Sequence items.
    pub items: Option<Id>,
    /// Required properties.
    pub required: Vec<Box<str>>,
    /// Allowed values.
    pub enumeration: Option<Vec<J>>,
    /// A scalar shape with its own syntax.
    pub special: Special,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown: bool,
    /// `x-kubernetes-embedded-resource`.
    pub embedded: bool,
    /// `x-kubernetes-list-type`.
    pub list: ListType,
    /// `format: int32` (range checked).
    pub int32: bool,
    /// `minimum` / `maximum` (with exclusivity).
    pub minimum: Option<(f64, bool)>,
    /// See `minimum`.
    pub maximum: Option<(f64, bool)>,
    /// `minLength` / `maxLength` (characters).
    pub min_length: Option<u64>,
    /// See `min_length`.
    pub max_length: Option<u64>,
    /// `minItems` / `maxItems`.
    pub min_items: Option<u64>,
    /// See `min_items`.
    pub max_items: Option<u64>,
    /// `minProperties` / `maxProperties`.
    pub min_props: Option<u64>,
    /// See `min_props`.
    pub max_props: Option<u64>,
    /// `pattern`, when the regex crate can compile it (ECMA look-arounds cannot: not checked).
    pub pattern: Option<Regex>,
    /// `allOf` branches (all must hold).
    pub all_of: Vec<Id>,
    /// `anyOf` branches (one must hold; only their value checks: structural schemas keep
    /// the structure outside them).
    pub any_of: Vec<Id>,
    /// `oneOf` branches (exactly one must hold).
    pub one_of: Vec<Id>,
    /// `not`.
    pub not: Option<Id>,
    /// CEL rules (`x-kubernetes-validations`) on this node: counted, not evaluated.
    pub cel: u32,
}

impl Default for SNode {
    fn default() -> Self {
        SNode {
            types: 0,
            props: Vec::new(),
            extra: Extra::Any,
            items: None,
            required: Vec::new(),
            enumeration: None,
            special: Special::None,
            preserve_unknown: false,
            embedded: false,
            list: ListType::Atomic,
            int32: false,
            minimum: None,
            maximum: None,
            min_length: None,
            max_length: None,
            min_items: None,
            max_items: None,
            min_props: None,
            max_props: None,
            pattern: None,
            all_of: Vec::new(),
            any_of: Vec::new(),
            one_of: Vec::new(),
            not: None,
            cel: 0,
        }
    }
}

impl SNode {
    /// The property `key`.
    pub fn prop(&self, key: &str) -> Option<Id> {
        self.props.binary_search_by(|(k, _)| (**k).cmp(key)).ok().map(|i| self.props[i].1)
    }
}

/// Which dialect a schema is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Strict JSON schema (built-in definitions): an object is open unless it says
    /// `additionalProperties: false`; `$ref` names a definition.
    Builtin,
    /// CRD structural schema: an object's unknown fields are pruned (strict validation
    /// reports them) unless `x-kubernetes-preserve-unknown-fields: true`.
    Crd,
}

/// Why a schema could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A `$ref` names no definition.
    #[error("$ref {0:?} names no definition")]
    Ref(String),
    /// The schema nests deeper than the compiler follows.
    #[error("schema nests deeper than {0} levels")]
    TooDeep(usize),
    /// A keyword has the wrong type.
    #[error("{0}")]
    Bad(String),
}

/// An arena of compiled nodes.
#[derive(Debug, Default)]
pub struct Arena {
    /// The nodes.
    pub nodes: Vec<SNode>,
    /// Patterns the regex crate could not compile (not checked).
    pub unchecked_patterns: u32,
    /// CEL rules seen (not evaluated).
    pub cel_rules: u32,
}

const MAX_DEPTH: usize = 64;

impl Arena {
    /// The node `id`.
    #[inline]
    pub fn get(&self, id: Id) -> &SNode {
        &self.nodes[id as usize]
    }

    /// Reserve a node to fill in later (definitions referenced before they are compiled).
    pub fn reserve(&mut self) -> Id {
        self.nodes.push(SNode::default());
        (self.nodes.len() - 1) as Id
    }

    /// Compile `v` into a new node (or return the node a `$ref` names).
    pub fn compile(&mut self, v: &J, dialect: Dialect, defs: &HashMap<String, Id>) -> Result<Id, SchemaError> {
        self.compile_at(v, dialect, defs, 0)
    }

    /// Compile `v` into the reserved node `id`.
    pub fn compile_into(
        &mut self,
        id: Id,
        v: &J,
        dialect: Dialect,
        defs: &HashMap<String, Id>,
    ) -> Result<(), SchemaError> {
        let n = self.build(v, dialect, defs, 0)?;
        self.nodes[id as usize] = n;
        Ok(())
    }

    fn compile_at(&mut self, v: &J, d: Dialect, defs: &HashMap<String, Id>, depth: usize) -> Result<Id, SchemaError> {
        if let Some(r) = v.get("$ref").and_then(J::as_str) {
            if v.as_object().is_some_and(|o| o.len() == 1) {
                return defs.get(r).copied().ok_or_else(|| SchemaError::Ref(r.to_string()));
            }
        }
        let n = self.build(v, d, defs, depth)?;
        self.nodes.push(n);
        Ok((self.nodes.len() - 1) as Id)
    }

    fn build(&mut self, v: &J, d: Dialect, defs: &HashMap<String, Id>, depth: usize) -> Result<SNode, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::TooDeep(MAX_DEPTH));
        }
        let mut n = SNode::default();
        let Some(o) = v.as_object() else {
            // `true` / `{}`-like: anything.
            return Ok(n);
        };
        let sub = |a: &mut Arena, x: &J| a.compile_at(x, d, defs, depth + 1);
        if let Some(t) = o.get("type") {
            let names: Vec<&str> = match t {
                J::String(s) => vec![s.as_str()],
                J::Array(a) => a.iter().filter_map(J::as_str).collect(),
                _ => return Err(SchemaError::Bad("`type` is neither a string nor a list".into())),
            };
            for name in names {
                n.types |= match name {
                    "object" => ty::OBJECT,
                    "array" => ty::ARRAY,
                    "string" => ty::STRING,
                    "integer" => ty::INTEGER,
                    "number" => ty::NUMBER,
                    "boolean" => ty::BOOLEAN,
                    _ => 0,
                };
            }
        }
        if let Some(J::Object(props)) = o.get("properties") {
            let mut ps = Vec::with_capacity(props.len());
            for (k, x) in props {
                ps.push((k.as_str().into(), sub(self, x)?));
            }
            ps.sort_by(|a: &(Box<str>, Id), b| a.0.cmp(&b.0));
            n.props = ps;
        }
        n.preserve_unknown = o.get("x-kubernetes-preserve-unknown-fields").and_then(J::as_bool) == Some(true);
        n.embedded = o.get("x-kubernetes-embedded-resource").and_then(J::as_bool) == Some(true);
        n.extra = match o.get("additionalProperties") {
            Some(J::Bool(false)) => Extra::Forbid,
            Some(J::Bool(true)) => Extra::Any,
            Some(x @ J::Object(_)) => Extra::Schema(sub(self, x)?),
            _ => match d {
                Dialect::Builtin => Extra::Any,
                Dialect::Crd if n.preserve_unknown => Extra::Any,
                // A structural object: what it does not declare is pruned; strict field
                // validation reports it. An object schema without properties or type says
                // nothing about its fields: `{}` accepts anything.
                Dialect::Crd if n.types == ty::OBJECT || !n.props.is_empty() => Extra::Forbid,
                Dialect::Crd => Extra::Any,
            },
        };
        if let Some(x) = o.get("items") {
            n.items = Some(match x {
                J::Array(a) if !a.is_empty() => sub(self, &a[0])?,
                _ => sub(self, x)?,
            });
        }
        if let Some(J::Array(r)) = o.get("required") {
            n.required = r.iter().filter_map(J::as_str).map(Into::into).collect();
        }
        if let Some(J::Array(e)) = o.get("enum") {
            n.enumeration = Some(e.clone());
        }
        if o.get("x-kubernetes-int-or-string").and_then(J::as_bool) == Some(true) {
            n.special = Special::IntOrString;
        }
        match o.get("x-kind").and_then(J::as_str) {
            Some("int-or-string") => n.special = Special::IntOrString,
            Some("quantity") => n.special = Special::Quantity,
            _ => {}
        }
        match o.get("format").and_then(J::as_str) {
            Some("int32") => n.int32 = true,
            Some("int-or-string") => n.special = Special::IntOrString,
            _ => {}
        }
        match o.get("x-kubernetes-list-type").and_then(J::as_str) {
            Some("set") => n.list = ListType::Set,
            Some("map") => {
                let keys: Vec<String> = o
                    .get("x-kubernetes-list-map-keys")
                    .and_then(J::as_array)
                    .map(|a| a.iter().filter_map(J::as_str).map(String::from).collect())
                    .unwrap_or_default();
                if !keys.is_empty() {
                    n.list = ListType::Map(keys);
                }
            }
            _ => {}
        }
        let num = |k: &str| o.get(k).and_then(J::as_f64);
        let excl = |k: &str| o.get(k).and_then(J::as_bool) == Some(true);
        n.minimum = num("minimum").map(|m| (m, excl("exclusiveMinimum")));
        n.maximum = num("maximum").map(|m| (m, excl("exclusiveMaximum")));
        let cnt = |k: &str| o.get(k).and_then(J::as_u64);
        n.min_length = cnt("minLength");
        n.max_length = cnt("maxLength");
        n.min_items = cnt("minItems");
        n.max_items = cnt("maxItems");
        n.min_props = cnt("minProperties");
        n.max_props = cnt("maxProperties");
        if let Some(p) = o.get("pattern").and_then(J::as_str) {
            match Regex::new(p) {
                Ok(r) => n.pattern = Some(r),
                Err(_) => self.unchecked_patterns += 1,
            }
        }
        for (key, into) in [("allOf", 0), ("anyOf", 1), ("oneOf", 2)] {
            if let Some(J::Array(bs)) = o.get(key) {
                let mut ids = Vec::with_capacity(bs.len());
                for b in bs {
                    // Branches check values; the structure (and so unknown fields) is the
                    // enclosing schema's: compile them open.
                    ids.push(self.compile_at(b, Dialect::Builtin, defs, depth + 1)?);
                }
                match into {
                    0 => n.all_of = ids,
                    1 => n.any_of = ids,
                    _ => n.one_of = ids,
                }
            }
        }
        if let Some(x) = o.get("not") {
            n.not = Some(self.compile_at(x, Dialect::Builtin, defs, depth + 1)?);
        }
        if let Some(J::Array(rules)) = o.get("x-kubernetes-validations") {
            n.cel = rules.len() as u32;
            self.cel_rules += n.cel;
        }
        Ok(n)
    }
}

/// True for a string in Kubernetes quantity syntax: a signed decimal number, then nothing, a
/// binary suffix (`Ki` … `Ei`), a decimal suffix (`n u m k M G T P E`) or an exponent (`e3`).
pub fn is_quantity(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let (mut digits, mut dot) = (0, false);
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => digits += 1,
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return false;
    }
    let rest = &s[i..];
    match rest {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        _ => {
            let r = rest.as_bytes();
            if r[0] != b'e' && r[0] != b'E' {
                return false;
            }
            let mut j = 1;
            if j < r.len() && (r[j] == b'+' || r[j] == b'-') {
                j += 1;
            }
            j < r.len() && r[j..].iter().all(u8::is_ascii_digit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["1", "0.5", "512Mi", "1Gi", "100m", "1e3", "1E-2", "+1k", "-2", "1.", ".5"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["512 MB", "", "Mi", "1MB", "1e", "1.2.3", "1Kib", "abc", "1 "] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn crd_objects_are_closed_unless_preserved() {
        let mut a = Arena::default();
        let defs = HashMap::new();
        let v: J = serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}},
            "x-kubernetes-validations": [{"rule": "true"}]});
        let id = a.compile(&v, Dialect::Crd, &defs).unwrap();
        assert_eq!(a.get(id).extra, Extra::Forbid);
        assert_eq!(a.cel_rules, 1);
        let v: J = serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        let id = a.compile(&v, Dialect::Crd, &defs).unwrap();
        assert_eq!(a.get(id).extra, Extra::Any);
        let id = a.compile(&serde_json::json!({"properties": {}}), Dialect::Builtin, &defs).unwrap();
        assert_eq!(a.get(id).extra, Extra::Any);
        assert!(matches!(
            a.compile(&serde_json::json!({"$ref": "x"}), Dialect::Builtin, &defs),
            Err(SchemaError::Ref(_))
        ));
    }
}
