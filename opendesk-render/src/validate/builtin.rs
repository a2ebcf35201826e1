//! The built-in Kubernetes schemas, shipped as data (`schemas/kubernetes.json`, see
//! `schemas/README.md`) and compiled once per process and version.

use super::schema::{Arena, Dialect, Id, SchemaError};
use serde_json::Value as J;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

/// The schema data: every distinct definition once, and per version the names and kinds.
static DATA: &str = include_str!("../../schemas/kubernetes.json");

/// The default target version (`kubernetesVersion` unset).
pub const DEFAULT_VERSION: &str = "1.31";

/// The compiled schemas of one Kubernetes version.
#[derive(Debug)]
pub struct Builtin {
    /// `1.31`.
    pub version: String,
    /// The nodes.
    pub arena: Arena,
    /// `(apiVersion, kind)` → root node.
    pub kinds: HashMap<(String, String), Id>,
    /// kind → every apiVersion serving it (sorted), for "use X instead".
    pub versions_of: HashMap<String, Vec<String>>,
    /// API groups this version serves (`""` for core).
    pub groups: BTreeSet<String>,
    /// `ObjectMeta`, for the metadata of custom resources and embedded resources.
    pub object_meta: Id,
}

fn data() -> &'static J {
    static PARSED: OnceLock<J> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(DATA).expect("schemas/kubernetes.json is valid JSON (checked by tests)"))
}

/// The versions shipped (`1.30`, `1.31`, ...), sorted.
pub fn versions() -> Vec<String> {
    let mut v: Vec<String> =
        data().get("versions").and_then(J::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    v.sort_by_key(|s| s.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>());
    v
}

/// Where the data came from (for docs and `validate --json`).
pub fn source() -> &'static str {
    data().get("source").and_then(J::as_str).unwrap_or("")
}

/// Normalize `v1.31`, `1.31.4`, `1.31` to `1.31`.
pub fn normalize_version(v: &str) -> String {
    let v = v.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => format!("{a}.{b}"),
        _ => v.to_string(),
    }
}

/// The compiled versions of this process ([`get`]).
static COMPILED: OnceLock<std::sync::Mutex<HashMap<String, Arc<Builtin>>>> = OnceLock::new();

/// Forget the compiled versions (the next [`get`] compiles again): cold-path benchmarks.
pub(crate) fn clear_cache() {
    if let Some(c) = COMPILED.get() {
        c.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The compiled schemas of `version` (compiled on first use, then shared for the process).
/// `None` when the version is not shipped.
pub fn get(version: &str) -> Option<Arc<Builtin>> {
    let v = normalize_version(version);
    let cache = COMPILED.get_or_init(Default::default);
    if let Some(b) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&v) {
        return Some(b.clone());
    }
    // Compile outside the lock: two threads may both compile once; one result is kept.
    let b = Arc::new(compile(&v).ok()??);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    Some(c.entry(v).or_insert(b).clone())
}

fn compile(version: &str) -> Result<Option<Builtin>, SchemaError> {
    // Parsed here, not through `data()`: the JSON tree is dropped once compiled.
    let d: J = serde_json::from_str(DATA).map_err(|e| SchemaError::Bad(format!("schemas/kubernetes.json: {e}")))?;
    let Some(ver) = d.get("versions").and_then(|v| v.get(version)) else { return Ok(None) };
    let all = d.get("defs").and_then(J::as_array).ok_or_else(|| SchemaError::Bad("no defs".into()))?;
    let names = ver.get("defs").and_then(J::as_object).ok_or_else(|| SchemaError::Bad("no names".into()))?;
    let mut arena = Arena::default();
    let mut ids: HashMap<String, Id> = HashMap::with_capacity(names.len());
    for name in names.keys() {
        ids.insert(name.clone(), arena.reserve());
    }
    for (name, idx) in names {
        let i = idx.as_u64().ok_or_else(|| SchemaError::Bad(format!("index of {name}")))? as usize;
        let def = all.get(i).ok_or_else(|| SchemaError::Bad(format!("index of {name}")))?;
        arena.compile_into(ids[name], def, Dialect::Builtin, &ids)?;
    }
    let mut kinds = HashMap::new();
    let mut versions_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut groups = BTreeSet::new();
    for k in ver.get("kinds").and_then(J::as_array).into_iter().flatten() {
        let (Some(api), Some(kind), Some(def)) =
            (k.get(0).and_then(J::as_str), k.get(1).and_then(J::as_str), k.get(2).and_then(J::as_str))
        else {
            continue;
        };
        let Some(&id) = ids.get(def) else { continue };
        // List kinds and meta types (`WatchEvent`, `DeleteOptions`) are served under every
        // group; only resources matter here, and they live in their own group's definitions.
        kinds.insert((api.to_string(), kind.to_string()), id);
        if !def.starts_with("io.k8s.apimachinery.pkg.apis.meta.") {
            versions_of.entry(kind.to_string()).or_default().push(api.to_string());
            groups.insert(api.rsplit_once('/').map_or("", |(g, _)| g).to_string());
        }
    }
    for v in versions_of.values_mut() {
        v.sort();
        v.dedup();
    }
    let object_meta = *ids
        .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        .ok_or_else(|| SchemaError::Bad("no ObjectMeta".into()))?;
    Ok(Some(Builtin { version: version.to_string(), arena, kinds, versions_of, groups, object_meta }))
}

/// API groups Kubernetes served once and no longer does (a resource in one of them is an
/// unserved built-in, not a custom resource without a CRD).
pub const RETIRED_GROUPS: [&str; 1] = ["extensions"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_three_versions_and_compiles_them() {
        let v = versions();
        assert!(v.len() >= 3, "{v:?}");
        assert!(v.contains(&DEFAULT_VERSION.to_string()));
        for ver in &v {
            let b = get(ver).unwrap();
            assert!(b.kinds.contains_key(&("apps/v1".into(), "Deployment".into())));
            assert!(b.kinds.contains_key(&("policy/v1".into(), "PodDisruptionBudget".into())));
            assert!(!b.kinds.contains_key(&("extensions/v1beta1".into(), "PodDisruptionBudget".into())));
            assert_eq!(b.versions_of["PodDisruptionBudget"], vec!["policy/v1".to_string()]);
            assert!(b.groups.contains("") && b.groups.contains("apps"));
        }
        assert!(get("1.2").is_none());
        assert_eq!(normalize_version("v1.31.4"), "1.31");
        assert!(Arc::ptr_eq(&get("1.31").unwrap(), &get("v1.31").unwrap()));
    }

    #[test]
    fn a_fresh_compile_is_the_cached_one() {
        // What a cold process (or `validate::clear_caches`) gets. The cache itself is not
        // cleared here: other tests compare cached `Arc`s concurrently.
        let a = get(DEFAULT_VERSION).unwrap();
        let b = compile(DEFAULT_VERSION).unwrap().unwrap();
        assert_eq!(format!("{:?}", a.arena.nodes), format!("{:?}", b.arena.nodes));
        assert_eq!(a.kinds, b.kinds);
    }
}
