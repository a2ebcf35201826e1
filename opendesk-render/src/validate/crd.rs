//! CustomResourceDefinitions as schemas: from the render itself, from `validate.crds` files and
//! the built-in ones for what the pipeline emits (`schemas/emitted-crds.yaml`).
//!
//! Each CRD is compiled once per process: the cache key is a hash of its tree
//! ([`tree_key`]), so the same CRD in the next render (the C ABI and Python keep the process)
//! costs one hashing walk.

use super::schema::{Arena, Dialect, Id};
use crate::yaml::resolve::Resolved;
use crate::yaml::{Node, Value};
use serde_json::Value as J;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// One compiled CRD.
#[derive(Debug)]
pub struct CompiledCrd {
    /// `spec.group`.
    pub group: String,
    /// `spec.names.kind`.
    pub kind: String,
    /// Per version: name, served, root node (None: no schema).
    pub versions: Vec<(String, bool, Option<Id>)>,
    /// The nodes.
    pub arena: Arena,
}

/// Every CRD known to one validation run, by (group, kind); later additions replace earlier.
#[derive(Debug, Default, Clone)]
pub struct CrdSet {
    by_kind: HashMap<(String, String), Arc<CompiledCrd>>,
}

/// A YAML tree as JSON, scalars resolved the way Kubernetes reads them.
pub fn to_json(n: &Node) -> J {
    match &n.value {
        Value::Scalar(s) => match s.resolve() {
            Resolved::Null => J::Null,
            Resolved::Bool(b) => J::Bool(b),
            Resolved::Int(i) => J::from(i),
            Resolved::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
            Resolved::Str(t) => J::String(t.to_string()),
        },
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(es) => J::Object(es.iter().map(|e| (e.key.text.clone(), to_json(&e.value))).collect()),
    }
}

/// A document tree's content key: a 64-bit foldhash (seeded at random once per process, so a
/// collision cannot be crafted from outside) over every node (kind, source line, scalar text,
/// style and tag, mapping keys with their lines), plus the node count and the text length.
/// Lines and columns are part of it because the cached issues of a CRD document carry them.
///
/// The corpus's 23 CRDs are 8.8 MB of its 10.5 MB: the key is computed for each of them on
/// every render, so it must be cheap. (Before: two SipHash walks, a third of the stage.)
pub fn tree_key(n: &Node) -> TreeKey {
    use std::hash::{BuildHasher, Hasher};
    struct Feed {
        h: foldhash::quality::FoldHasher<'static>,
        nodes: u64,
        bytes: u64,
    }
    /// A position in one word beside the kind bits (32, 33): the line low, the column from
    /// bit 40 (a column beyond 2^24 only weakens the key, never breaks it).
    fn pos_word(line: u32, col: u32) -> u64 {
        u64::from(line) | u64::from(col) << 40
    }
    impl Feed {
        /// One word for what precedes a scalar's bytes (kind and line, or a key's line; text
        /// length, style, tag presence), then the bytes (the length keeps it prefix-free).
        fn scalar(&mut self, head: u64, s: &crate::yaml::Scalar) {
            let meta = (s.text.len() as u64) << 2
                | u64::from(s.style == crate::yaml::Style::Plain) << 1
                | u64::from(s.tag.is_some());
            self.h.write_u128(u128::from(head) | u128::from(meta) << 64);
            if let Some(t) = &s.tag {
                self.h.write_usize(t.len());
                self.h.write(t.as_bytes());
            }
            self.h.write(s.text.as_bytes());
            self.bytes += s.text.len() as u64;
        }
        fn node(&mut self, n: &Node) {
            self.nodes += 1;
            match &n.value {
                Value::Scalar(s) => self.scalar(pos_word(n.line, n.col), s),
                Value::Seq(items) => {
                    self.h.write_u128(u128::from(1 << 32 | pos_word(n.line, n.col)) | (items.len() as u128) << 64);
                    for x in items {
                        self.node(x);
                    }
                }
                Value::Map(es) => {
                    self.h.write_u128(u128::from(2 << 32 | pos_word(n.line, n.col)) | (es.len() as u128) << 64);
                    for e in es {
                        self.scalar(3 << 32 | pos_word(e.key_line, e.key_col), &e.key);
                        self.node(&e.value);
                    }
                }
            }
        }
    }
    static SEED: OnceLock<foldhash::quality::RandomState> = OnceLock::new();
    let mut f = Feed { h: SEED.get_or_init(Default::default).build_hasher(), nodes: 0, bytes: 0 };
    f.node(n);
    TreeKey { hash: f.h.finish(), nodes: f.nodes, bytes: f.bytes }
}

/// The content key of a document tree ([`tree_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeKey {
    hash: u64,
    nodes: u64,
    bytes: u64,
}

/// Why a CRD gave no schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CrdError(pub String);

/// Compile one CRD document (`apiextensions.k8s.io/v1` `CustomResourceDefinition`).
pub fn compile(root: &Node) -> Result<Arc<CompiledCrd>, CrdError> {
    compile_keyed(root, tree_key(root))
}

/// The compiled CRDs of this process, by content key ([`compile_keyed`]).
static COMPILED: OnceLock<Mutex<HashMap<TreeKey, Arc<CompiledCrd>>>> = OnceLock::new();

/// Forget the compiled CRDs (the emitted ones stay): cold-path benchmarks.
pub(crate) fn clear_cache() {
    if let Some(c) = COMPILED.get() {
        c.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// [`compile`] with the document's [`tree_key`] already computed.
pub fn compile_keyed(root: &Node, key: TreeKey) -> Result<Arc<CompiledCrd>, CrdError> {
    let cache = COMPILED.get_or_init(Default::default);
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    let c = Arc::new(compile_uncached(root)?);
    let mut m = cache.lock().unwrap_or_else(|e| e.into_inner());
    // Bound the cache: a long-lived process rendering many different CRD sets starts over.
    if m.len() > 4096 {
        m.clear();
    }
    Ok(m.entry(key).or_insert(c).clone())
}

fn compile_uncached(root: &Node) -> Result<CompiledCrd, CrdError> {
    let spec = root.get("spec").ok_or_else(|| CrdError("CRD without `spec`".into()))?;
    let group = spec.get("group").and_then(Node::as_str).ok_or_else(|| CrdError("CRD without `spec.group`".into()))?;
    let kind = spec
        .get_path("names.kind")
        .and_then(Node::as_str)
        .ok_or_else(|| CrdError("CRD without `spec.names.kind`".into()))?;
    let mut arena = Arena::default();
    let mut versions = Vec::new();
    let defs = HashMap::new();
    // apiextensions.k8s.io/v1beta1 had one schema for every version (`spec.validation`).
    let shared = spec.get_path("validation.openAPIV3Schema");
    for v in spec.get("versions").and_then(Node::as_seq).into_iter().flatten() {
        let Some(name) = v.get("name").and_then(Node::as_str) else { continue };
        let served = v.get("served").and_then(Node::as_bool).unwrap_or(true);
        let schema = v.get_path("schema.openAPIV3Schema").or(shared);
        let id = match schema {
            Some(s) => {
                Some(arena.compile(s, Dialect::Crd, &defs).map_err(|e| CrdError(format!("version {name}: {e}")))?)
            }
            None => None,
        };
        versions.push((name.to_string(), served, id));
    }
    if versions.is_empty() {
        if let Some(v) = spec.get("version").and_then(Node::as_str) {
            let id = match shared {
                Some(s) => Some(arena.compile(s, Dialect::Crd, &defs).map_err(|e| CrdError(e.to_string()))?),
                None => None,
            };
            versions.push((v.to_string(), true, id));
        }
    }
    Ok(CompiledCrd { group: group.to_string(), kind: kind.to_string(), versions, arena })
}

/// True for a CRD document.
pub fn is_crd(root: &Node) -> bool {
    root.get("kind").and_then(Node::as_str) == Some("CustomResourceDefinition")
        && root.get("apiVersion").and_then(Node::as_str).is_some_and(|v| v.starts_with("apiextensions.k8s.io/"))
}

impl CrdSet {
    /// Add (or replace) a compiled CRD.
    pub fn add(&mut self, c: Arc<CompiledCrd>) {
        self.by_kind.insert((c.group.clone(), c.kind.clone()), c);
    }

    /// The CRD of `group` and `kind`.
    pub fn get(&self, group: &str, kind: &str) -> Option<&Arc<CompiledCrd>> {
        self.by_kind.get(&(group.to_string(), kind.to_string()))
    }

    /// The CRDs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<CompiledCrd>> {
        self.by_kind.values()
    }

    /// Number of CRDs.
    pub fn len(&self) -> usize {
        self.by_kind.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }

    /// CEL rules across the CRDs (not evaluated).
    pub fn cel_rules(&self) -> u32 {
        self.by_kind.values().map(|c| c.arena.cel_rules).sum()
    }

    /// Patterns the regex crate could not compile (not checked).
    pub fn unchecked_patterns(&self) -> u32 {
        self.by_kind.values().map(|c| c.arena.unchecked_patterns).sum()
    }

    /// The CRDs for what the pipeline emits (ExternalSecret, Application).
    pub fn emitted() -> CrdSet {
        static SET: OnceLock<CrdSet> = OnceLock::new();
        SET.get_or_init(|| {
            let text = include_str!("../../schemas/emitted-crds.yaml");
            let mut s = CrdSet::default();
            for d in crate::yaml::parse_documents(text).expect("schemas/emitted-crds.yaml parses (checked by tests)") {
                s.add(compile(&d).expect("schemas/emitted-crds.yaml compiles (checked by tests)"));
            }
            s
        })
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emitted_crds_compile_and_cache() {
        let s = CrdSet::emitted();
        assert!(s.get("external-secrets.io", "ExternalSecret").is_some());
        assert!(s.get("argoproj.io", "Application").is_some());
        let d = &crate::yaml::parse_documents(include_str!("../../schemas/emitted-crds.yaml")).unwrap()[0];
        assert!(Arc::ptr_eq(&compile(d).unwrap(), &compile(d).unwrap()));
        assert!(is_crd(d));
        let bad = &crate::yaml::parse_documents("kind: CustomResourceDefinition\nspec: {}\n").unwrap()[0];
        assert!(compile(bad).is_err());
    }
}
