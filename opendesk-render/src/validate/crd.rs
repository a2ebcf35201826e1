//! CustomResourceDefinitions as schemas: from the render itself, from `validate.crds` files and
//! the built-in ones for what the pipeline emits (`schemas/emitted-crds.yaml`).
//!
//! Each CRD is compiled once per process: the cache key is a 128-bit hash of its tree, so the
//! same CRD in the next render (the C ABI and Python keep the process) costs one walk.

use super::schema::{Arena, Dialect, Id};
use crate::yaml::resolve::Resolved;
use crate::yaml::{Node, Value};
use serde_json::Value as J;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
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

fn tree_hash(n: &Node) -> (u64, u64) {
    fn feed<H: Hasher>(n: &Node, h: &mut H) {
        match &n.value {
            Value::Scalar(s) => {
                0u8.hash(h);
                s.text.hash(h);
                (s.style == crate::yaml::Style::Plain).hash(h);
                s.tag.hash(h);
            }
            Value::Seq(items) => {
                1u8.hash(h);
                items.len().hash(h);
                for x in items {
                    feed(x, h);
                }
            }
            Value::Map(es) => {
                2u8.hash(h);
                es.len().hash(h);
                for e in es {
                    e.key.text.hash(h);
                    feed(&e.value, h);
                }
            }
        }
    }
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0xC0FFEEu32.hash(&mut b);
    feed(n, &mut a);
    feed(n, &mut b);
    (a.finish(), b.finish())
}

/// Why a CRD gave no schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CrdError(pub String);

/// Compile one CRD document (`apiextensions.k8s.io/v1` `CustomResourceDefinition`).
pub fn compile(root: &Node) -> Result<Arc<CompiledCrd>, CrdError> {
    type Cache = Mutex<HashMap<(u64, u64), Arc<CompiledCrd>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = tree_hash(root);
    let cache = CACHE.get_or_init(Default::default);
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
            Some(s) => Some(
                arena
                    .compile(&to_json(s), Dialect::Crd, &defs)
                    .map_err(|e| CrdError(format!("version {name}: {e}")))?,
            ),
            None => None,
        };
        versions.push((name.to_string(), served, id));
    }
    if versions.is_empty() {
        if let Some(v) = spec.get("version").and_then(Node::as_str) {
            let id = match shared {
                Some(s) => Some(arena.compile(&to_json(s), Dialect::Crd, &defs).map_err(|e| CrdError(e.to_string()))?),
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
