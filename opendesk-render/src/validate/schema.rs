//! Compiled schemas: an arena of nodes compiled once from JSON schema / OpenAPI v3 definitions.
//!
//! One compiler serves both sources: the built-in Kubernetes definitions shipped in
//! `schemas/kubernetes.json` (strict JSON schemas: unknown fields carry
//! `additionalProperties: false`) and the `openAPIV3Schema` of CustomResourceDefinitions
//! (structural schemas: an object's unknown fields are pruned, which strict field validation
//! reports, unless `x-kubernetes-preserve-unknown-fields` says otherwise).

use crate::yaml::resolve::Resolved;
use crate::yaml::{Node, Value};
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

    /// Compile `v` into a new node (or return the node a `$ref` names). `v` is JSON (the
    /// built-in definitions) or a YAML tree (a CRD's `openAPIV3Schema`, read as [`to_json`]
    /// would read it, without building the JSON).
    ///
    /// [`to_json`]: super::crd::to_json
    pub fn compile<S: Source>(
        &mut self,
        v: &S,
        dialect: Dialect,
        defs: &HashMap<String, Id>,
    ) -> Result<Id, SchemaError> {
        self.compile_at(v, dialect, defs, 0)
    }

    /// Compile `v` into the reserved node `id`.
    pub fn compile_into<S: Source>(
        &mut self,
        id: Id,
        v: &S,
        dialect: Dialect,
        defs: &HashMap<String, Id>,
    ) -> Result<(), SchemaError> {
        let n = self.build(v, dialect, defs, 0)?;
        self.nodes[id as usize] = n;
        Ok(())
    }

    fn compile_at<S: Source>(
        &mut self,
        v: &S,
        d: Dialect,
        defs: &HashMap<String, Id>,
        depth: usize,
    ) -> Result<Id, SchemaError> {
        if let Some(r) = v.only_ref() {
            return defs.get(r).copied().ok_or_else(|| SchemaError::Ref(r.to_string()));
        }
        let n = self.build(v, d, defs, depth)?;
        self.nodes.push(n);
        Ok((self.nodes.len() - 1) as Id)
    }

    fn build<S: Source>(
        &mut self,
        o: &S,
        d: Dialect,
        defs: &HashMap<String, Id>,
        depth: usize,
    ) -> Result<SNode, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::TooDeep(MAX_DEPTH));
        }
        let mut n = SNode::default();
        if !o.is_object() {
            // `true` / `{}`-like: anything.
            return Ok(n);
        }
        let kw = Keywords::of(o);
        let sub = |a: &mut Arena, x: &S| a.compile_at(x, d, defs, depth + 1);
        if let Some(t) = kw.get(kw::TYPE) {
            let names: Vec<&str> = match (t.string(), t.array()) {
                (Some(s), _) => vec![s],
                (None, Some(a)) => a.iter().filter_map(S::string).collect(),
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
        if let Some(props) = kw.get(kw::PROPERTIES).filter(|p| p.is_object()) {
            let fields = props.fields();
            let mut ps = Vec::with_capacity(fields.len());
            for (k, x) in fields {
                ps.push((k.into(), sub(self, x)?));
            }
            ps.sort_by(|a: &(Box<str>, Id), b| a.0.cmp(&b.0));
            n.props = ps;
        }
        let flag = |k: usize| kw.get(k).and_then(S::boolean) == Some(true);
        n.preserve_unknown = flag(kw::X_KUBERNETES_PRESERVE_UNKNOWN_FIELDS);
        n.embedded = flag(kw::X_KUBERNETES_EMBEDDED_RESOURCE);
        let additional = kw.get(kw::ADDITIONAL_PROPERTIES);
        n.extra = match additional.map(|x| (x.boolean(), x.is_object())) {
            Some((Some(false), _)) => Extra::Forbid,
            Some((Some(true), _)) => Extra::Any,
            Some((None, true)) => Extra::Schema(sub(self, additional.expect("matched Some"))?),
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
        if let Some(x) = kw.get(kw::ITEMS) {
            n.items = Some(match x.array() {
                Some([first, ..]) => sub(self, first)?,
                _ => sub(self, x)?,
            });
        }
        if let Some(r) = kw.get(kw::REQUIRED).and_then(S::array) {
            n.required = r.iter().filter_map(S::string).map(Into::into).collect();
        }
        if let Some(e) = kw.get(kw::ENUM).and_then(S::array) {
            n.enumeration = Some(e.iter().map(S::json).collect());
        }
        if flag(kw::X_KUBERNETES_INT_OR_STRING) {
            n.special = Special::IntOrString;
        }
        match kw.get(kw::X_KIND).and_then(S::string) {
            Some("int-or-string") => n.special = Special::IntOrString,
            Some("quantity") => n.special = Special::Quantity,
            _ => {}
        }
        match kw.get(kw::FORMAT).and_then(S::string) {
            Some("int32") => n.int32 = true,
            Some("int-or-string") => n.special = Special::IntOrString,
            _ => {}
        }
        match kw.get(kw::X_KUBERNETES_LIST_TYPE).and_then(S::string) {
            Some("set") => n.list = ListType::Set,
            Some("map") => {
                let keys: Vec<String> = o
                    .field("x-kubernetes-list-map-keys")
                    .and_then(S::array)
                    .map(|a| a.iter().filter_map(S::string).map(String::from).collect())
                    .unwrap_or_default();
                if !keys.is_empty() {
                    n.list = ListType::Map(keys);
                }
            }
            _ => {}
        }
        let num = |k: usize| kw.get(k).and_then(S::number);
        n.minimum = num(kw::MINIMUM).map(|m| (m, flag(kw::EXCLUSIVE_MINIMUM)));
        n.maximum = num(kw::MAXIMUM).map(|m| (m, flag(kw::EXCLUSIVE_MAXIMUM)));
        let cnt = |k: usize| kw.get(k).and_then(S::count);
        n.min_length = cnt(kw::MIN_LENGTH);
        n.max_length = cnt(kw::MAX_LENGTH);
        n.min_items = cnt(kw::MIN_ITEMS);
        n.max_items = cnt(kw::MAX_ITEMS);
        n.min_props = cnt(kw::MIN_PROPERTIES);
        n.max_props = cnt(kw::MAX_PROPERTIES);
        if let Some(p) = kw.get(kw::PATTERN).and_then(S::string) {
            match pattern(p) {
                Some(r) => n.pattern = Some(r),
                None => self.unchecked_patterns += 1,
            }
        }
        for (key, into) in [(kw::ALL_OF, 0), (kw::ANY_OF, 1), (kw::ONE_OF, 2)] {
            if let Some(bs) = kw.get(key).and_then(S::array) {
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
        if let Some(x) = kw.get(kw::NOT) {
            n.not = Some(self.compile_at(x, Dialect::Builtin, defs, depth + 1)?);
        }
        if let Some(rules) = kw.get(kw::X_KUBERNETES_VALIDATIONS).and_then(S::array) {
            n.cel = rules.len() as u32;
            self.cel_rules += n.cel;
        }
        Ok(n)
    }
}

/// The keywords the compiler reads, as slots of [`Keywords`].
mod kw {
    /// `type`
    pub const TYPE: usize = 0;
    /// `properties`
    pub const PROPERTIES: usize = 1;
    /// `x-kubernetes-preserve-unknown-fields`
    pub const X_KUBERNETES_PRESERVE_UNKNOWN_FIELDS: usize = 2;
    /// `x-kubernetes-embedded-resource`
    pub const X_KUBERNETES_EMBEDDED_RESOURCE: usize = 3;
    /// `additionalProperties`
    pub const ADDITIONAL_PROPERTIES: usize = 4;
    /// `items`
    pub const ITEMS: usize = 5;
    /// `required`
    pub const REQUIRED: usize = 6;
    /// `enum`
    pub const ENUM: usize = 7;
    /// `x-kubernetes-int-or-string`
    pub const X_KUBERNETES_INT_OR_STRING: usize = 8;
    /// `x-kind`
    pub const X_KIND: usize = 9;
    /// `format`
    pub const FORMAT: usize = 10;
    /// `x-kubernetes-list-type`
    pub const X_KUBERNETES_LIST_TYPE: usize = 11;
    /// `x-kubernetes-list-map-keys`
    pub const X_KUBERNETES_LIST_MAP_KEYS: usize = 12;
    /// `minimum`
    pub const MINIMUM: usize = 13;
    /// `exclusiveMinimum`
    pub const EXCLUSIVE_MINIMUM: usize = 14;
    /// `maximum`
    pub const MAXIMUM: usize = 15;
    /// `exclusiveMaximum`
    pub const EXCLUSIVE_MAXIMUM: usize = 16;
    /// `minLength`
    pub const MIN_LENGTH: usize = 17;
    /// `maxLength`
    pub const MAX_LENGTH: usize = 18;
    /// `minItems`
    pub const MIN_ITEMS: usize = 19;
    /// `maxItems`
    pub const MAX_ITEMS: usize = 20;
    /// `minProperties`
    pub const MIN_PROPERTIES: usize = 21;
    /// `maxProperties`
    pub const MAX_PROPERTIES: usize = 22;
    /// `pattern`
    pub const PATTERN: usize = 23;
    /// `allOf`
    pub const ALL_OF: usize = 24;
    /// `anyOf`
    pub const ANY_OF: usize = 25;
    /// `oneOf`
    pub const ONE_OF: usize = 26;
    /// `not`
    pub const NOT: usize = 27;
    /// `x-kubernetes-validations`
    pub const X_KUBERNETES_VALIDATIONS: usize = 28;
    /// How many.
    pub const COUNT: usize = 29;

    /// The slot of keyword `k`.
    pub fn slot(k: &str) -> Option<usize> {
        Some(match k {
            "type" => TYPE,
            "properties" => PROPERTIES,
            "x-kubernetes-preserve-unknown-fields" => X_KUBERNETES_PRESERVE_UNKNOWN_FIELDS,
            "x-kubernetes-embedded-resource" => X_KUBERNETES_EMBEDDED_RESOURCE,
            "additionalProperties" => ADDITIONAL_PROPERTIES,
            "items" => ITEMS,
            "required" => REQUIRED,
            "enum" => ENUM,
            "x-kubernetes-int-or-string" => X_KUBERNETES_INT_OR_STRING,
            "x-kind" => X_KIND,
            "format" => FORMAT,
            "x-kubernetes-list-type" => X_KUBERNETES_LIST_TYPE,
            "x-kubernetes-list-map-keys" => X_KUBERNETES_LIST_MAP_KEYS,
            "minimum" => MINIMUM,
            "exclusiveMinimum" => EXCLUSIVE_MINIMUM,
            "maximum" => MAXIMUM,
            "exclusiveMaximum" => EXCLUSIVE_MAXIMUM,
            "minLength" => MIN_LENGTH,
            "maxLength" => MAX_LENGTH,
            "minItems" => MIN_ITEMS,
            "maxItems" => MAX_ITEMS,
            "minProperties" => MIN_PROPERTIES,
            "maxProperties" => MAX_PROPERTIES,
            "pattern" => PATTERN,
            "allOf" => ALL_OF,
            "anyOf" => ANY_OF,
            "oneOf" => ONE_OF,
            "not" => NOT,
            "x-kubernetes-validations" => X_KUBERNETES_VALIDATIONS,
            _ => return None,
        })
    }
}

/// A schema object's keyword values, found in one pass over its fields (a YAML mapping is a
/// list of entries: 29 lookups by key would scan it 29 times). The last of repeated keys wins.
struct Keywords<'a, S>([Option<&'a S>; kw::COUNT]);

impl<'a, S: Source> Keywords<'a, S> {
    fn of(o: &'a S) -> Self {
        let mut k = Keywords([None; kw::COUNT]);
        o.each_field(&mut |name, v| {
            if let Some(i) = kw::slot(name) {
                k.0[i] = Some(v);
            }
        });
        k
    }

    fn get(&self, slot: usize) -> Option<&'a S> {
        self.0[slot]
    }
}

/// What a schema is read from: JSON, or a YAML tree read the way [`super::crd::to_json`]
/// reads it (scalars resolved as Kubernetes does; a repeated key's last value wins, at its
/// first position, as in a JSON object built from the entries). Reading the tree directly
/// saves building a JSON copy of every CRD schema (the corpus's CRDs are 8.8 MB of YAML).
pub trait Source: Sized {
    /// True for an object (a mapping).
    fn is_object(&self) -> bool;
    /// The value of key `k` of an object.
    fn field(&self, k: &str) -> Option<&Self>;
    /// The keys and values of an object, each key once, in first-seen order.
    fn fields(&self) -> Vec<(&str, &Self)>;
    /// Every key and value of an object in order (a repeated key more than once).
    fn each_field<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a Self));
    /// `r` when this is an object whose only key is `$ref`, a string `r`.
    fn only_ref(&self) -> Option<&str>;
    /// A string.
    fn string(&self) -> Option<&str>;
    /// A boolean.
    fn boolean(&self) -> Option<bool>;
    /// A finite number.
    fn number(&self) -> Option<f64>;
    /// A non-negative integer.
    fn count(&self) -> Option<u64>;
    /// An array.
    fn array(&self) -> Option<&[Self]>;
    /// As JSON (enum values).
    fn json(&self) -> J;
}

impl Source for J {
    fn is_object(&self) -> bool {
        self.is_object()
    }
    fn field(&self, k: &str) -> Option<&J> {
        self.get(k)
    }
    fn fields(&self) -> Vec<(&str, &J)> {
        self.as_object().map(|o| o.iter().map(|(k, v)| (k.as_str(), v)).collect()).unwrap_or_default()
    }
    fn each_field<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a J)) {
        for (k, v) in self.as_object().into_iter().flatten() {
            f(k, v);
        }
    }
    fn only_ref(&self) -> Option<&str> {
        let r = self.get("$ref").and_then(J::as_str)?;
        self.as_object().is_some_and(|o| o.len() == 1).then_some(r)
    }
    fn string(&self) -> Option<&str> {
        self.as_str()
    }
    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }
    fn number(&self) -> Option<f64> {
        self.as_f64()
    }
    fn count(&self) -> Option<u64> {
        self.as_u64()
    }
    fn array(&self) -> Option<&[J]> {
        self.as_array().map(Vec::as_slice)
    }
    fn json(&self) -> J {
        self.clone()
    }
}

impl Source for Node {
    fn is_object(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
    fn field(&self, k: &str) -> Option<&Node> {
        // The last of repeated keys, as a JSON object built from the entries keeps it.
        self.as_map()?.iter().rfind(|e| e.key.text == k).map(|e| &e.value)
    }
    fn fields(&self) -> Vec<(&str, &Node)> {
        let Some(es) = self.as_map() else { return Vec::new() };
        let mut out: Vec<(&str, &Node)> = es.iter().map(|e| (e.key.text.as_str(), &e.value)).collect();
        // Repeated keys are a parse error; a stage could still make one. Keep the first
        // position and the last value, as a JSON object does.
        let mut sorted: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            let mut seen: HashMap<&str, usize> = HashMap::with_capacity(out.len());
            let mut dedup: Vec<(&str, &Node)> = Vec::with_capacity(out.len());
            for (k, v) in out {
                match seen.get(k) {
                    Some(&i) => dedup[i].1 = v,
                    None => {
                        seen.insert(k, dedup.len());
                        dedup.push((k, v));
                    }
                }
            }
            out = dedup;
        }
        out
    }
    fn each_field<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a Node)) {
        for e in self.as_map().into_iter().flatten() {
            f(&e.key.text, &e.value);
        }
    }
    fn only_ref(&self) -> Option<&str> {
        let es = self.as_map()?;
        let r = self.field("$ref").and_then(Source::string)?;
        es.iter().all(|e| e.key.text == "$ref").then_some(r)
    }
    fn string(&self) -> Option<&str> {
        match self.as_scalar()?.resolve() {
            Resolved::Str(t) => Some(t),
            _ => None,
        }
    }
    fn boolean(&self) -> Option<bool> {
        match self.as_scalar()?.resolve() {
            Resolved::Bool(b) => Some(b),
            _ => None,
        }
    }
    fn number(&self) -> Option<f64> {
        match self.as_scalar()?.resolve() {
            Resolved::Int(i) => Some(i as f64),
            // JSON has no infinities: `to_json` makes them null.
            Resolved::Float(f) if f.is_finite() => Some(f),
            _ => None,
        }
    }
    fn count(&self) -> Option<u64> {
        match self.as_scalar()?.resolve() {
            Resolved::Int(i) => u64::try_from(i).ok(),
            _ => None,
        }
    }
    fn array(&self) -> Option<&[Node]> {
        self.as_seq().map(Vec::as_slice)
    }
    fn json(&self) -> J {
        super::crd::to_json(self)
    }
}

/// The compiled patterns of this process ([`pattern`]).
static PATTERNS: std::sync::OnceLock<std::sync::Mutex<HashMap<Box<str>, Option<Regex>>>> = std::sync::OnceLock::new();

/// Forget the compiled patterns: cold-path benchmarks.
pub(crate) fn clear_cache() {
    if let Some(c) = PATTERNS.get() {
        c.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The compiled `pattern` (None: the regex crate cannot run it), compiled once per process.
///
/// CRDs repeat a handful of patterns hundreds of times (the corpus: 1,891 `pattern`s, a few
/// dozen distinct: DNS-1123 names, label values, durations), and compiling a regex costs tens
/// of microseconds, so a cold render spent most of its CRD compile time here. A [`Regex`]
/// clone shares the compiled program.
fn pattern(p: &str) -> Option<Regex> {
    let cache = PATTERNS.get_or_init(Default::default);
    if let Some(r) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(p) {
        return r.clone();
    }
    let r = Regex::new(p).ok();
    let mut m = cache.lock().unwrap_or_else(|e| e.into_inner());
    // Bound the cache as the compiled-CRD cache is bounded.
    if m.len() > 4096 {
        m.clear();
    }
    m.entry(p.into()).or_insert(r).clone()
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

    /// The arena compiled from a YAML tree, printed, and the one compiled from its JSON.
    fn both_ways(n: &Node) -> (Result<String, SchemaError>, Result<String, SchemaError>) {
        let show = |a: Arena, id: Id| format!("{id} {} {} {:?}", a.cel_rules, a.unchecked_patterns, a.nodes);
        let defs = HashMap::new();
        let mut a = Arena::default();
        let tree = a.compile(n, Dialect::Crd, &defs).map(|id| show(a, id));
        let mut b = Arena::default();
        let json = b.compile(&crate::validate::crd::to_json(n), Dialect::Crd, &defs).map(|id| show(b, id));
        (tree, json)
    }

    #[test]
    fn a_tree_compiles_as_its_json() {
        // Scalars resolved as Kubernetes reads them, repeated keys (made by a stage: the
        // parser refuses them), non-finite numbers, `$ref` alone or not, odd keyword types.
        let mut cases: Vec<Node> = [
            "{type: object, properties: {a: {type: string, pattern: '^a+$', maxLength: 5.0}, b: {type: [integer, 'null'], minimum: -1, maximum: .inf, exclusiveMaximum: yes}}}",
            "{type: object, required: [a, 1, b], additionalProperties: {type: integer, format: int32}, x-kubernetes-validations: [{rule: x}, {rule: y}]}",
            "{type: array, items: [{type: string}, {type: integer}], x-kubernetes-list-type: map, x-kubernetes-list-map-keys: [name, port], minItems: 1, maxItems: 0x10}",
            "{type: array, items: [], x-kubernetes-list-type: set}",
            "{enum: [a, 1, 1.5, true, ~, '1', [x], {k: v}], type: string, x-kubernetes-int-or-string: true, format: int-or-string}",
            "{anyOf: [{type: integer}, {type: string, pattern: '(?=x)'}], oneOf: [{required: [a]}], allOf: [{minProperties: 1}], not: {maxProperties: 0}}",
            "{$ref: '#/x'}",
            "{$ref: '#/x', type: object}",
            "{type: 1}",
            "{type: ~}",
            "{properties: [a]}",
            "{additionalProperties: false}",
            "{additionalProperties: 'no'}",
            "{additionalProperties: on, type: object, x-kubernetes-preserve-unknown-fields: true}",
            "{x-kubernetes-embedded-resource: true, type: object, properties: {}}",
            "[]",
            "true",
        ]
        .iter()
        .map(|t| crate::yaml::parse_documents(t).unwrap().remove(0))
        .collect();
        let mut dup =
            crate::yaml::parse_documents("{type: object, properties: {a: {type: string}, b: {}}, pattern: x}")
                .unwrap()
                .remove(0);
        let es = dup.as_map_mut().unwrap();
        let again: Vec<crate::yaml::Entry> = es.clone();
        es.extend(again);
        es[3].value = crate::yaml::parse_documents("{b: {type: integer}, a: {maxLength: 2}, c: {}}").unwrap().remove(0);
        es[0].value = Node::plain("integer");
        cases.push(dup);
        let mut deep = crate::yaml::parse_documents("{type: string}").unwrap().remove(0);
        for _ in 0..70 {
            deep = crate::yaml::map_of(vec![
                ("type", Node::plain("object")),
                ("properties", crate::yaml::map_of(vec![("x", deep)])),
            ]);
        }
        cases.push(deep);
        // Every CRD of the corpus, every version.
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/opendesk-like");
        let mut files = Vec::new();
        if corpus.is_dir() {
            crate::validate::collect_files(&corpus, &mut files).unwrap();
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            if !text.contains("CustomResourceDefinition") {
                continue;
            }
            for d in crate::yaml::parse_documents(&text).unwrap().into_iter().filter(crate::validate::crd::is_crd) {
                for v in d.get_path("spec.versions").and_then(Node::as_seq).into_iter().flatten() {
                    cases.extend(v.get_path("schema.openAPIV3Schema").cloned());
                }
            }
        }
        for n in &cases {
            let (tree, json) = both_ways(n);
            assert_eq!(tree, json, "{}", crate::yaml::emit(n).chars().take(200).collect::<String>());
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
