//! Validation of the final documents: Kubernetes schemas of the target version, the CRDs in
//! the render (plus `validate.crds` files and built-in schemas for what the pipeline emits),
//! and the API server's rules that no schema holds. See docs/validation.md.
//!
//! | code | severity | what |
//! |------|----------|------|
//! | `validate/unknown-field` | error | a field the schema does not declare (strict field validation) |
//! | `validate/type` | error | wrong type (YAML 1.1 resolution: `"2"` is a string, `on` a boolean) |
//! | `validate/required` | error | a required field is missing or null |
//! | `validate/enum` | error | a value outside the schema's `enum` |
//! | `validate/quantity` | error | a string that is not a Kubernetes quantity (`512 MB`) |
//! | `validate/value` | error | minimum/maximum, length, pattern, item counts, int32 range, anyOf/oneOf/not |
//! | `validate/duplicate-item` | error | duplicates in an `x-kubernetes-list-type` set or map |
//! | `validate/unserved-api` | error | an `apiVersion`/`kind` pair the target version does not serve |
//! | `validate/no-schema` | warning (configurable) | a custom resource whose CRD is nowhere |
//! | `validate/crd-invalid` | warning | a CRD whose schema could not be compiled (its resources are then unchecked) |
//! | `validate/duplicate-volume` | error | two volumes of a pod with one name |
//! | `validate/duplicate-container` | error | two containers (init, regular, ephemeral) with one name |
//! | `validate/duplicate-mount-path` | error | one mountPath twice in a container |
//! | `validate/unknown-volume` | error | a volumeMount naming no volume of the pod |
//! | `validate/port-range` | error | a port outside 1-65535, or a named port that is not an IANA name |
//! | `validate/protocol` | error | a protocol other than TCP, UDP, SCTP |
//! | `validate/service-type` | error | a Service type other than ClusterIP, NodePort, LoadBalancer, ExternalName |
//! | `validate/restart-policy` | error | a restartPolicy the workload kind does not allow |
//! | `validate/image-pull-policy` | error | not Always, IfNotPresent, Never |
//! | `validate/path-type` | error | an Ingress pathType other than Exact, Prefix, ImplementationSpecific |
//! | `validate/label-key` / `validate/annotation-key` | error | not a qualified name (`prefix/name`) |
//! | `validate/label-value` | error | a label value that is not 0-63 of `[A-Za-z0-9-_.]` |
//! | `validate/annotation-size` | error | annotations over 256 KiB |
//! | `validate/name` | error | a name that is not DNS-1123 as the kind requires |
//! | `validate/pdb-both-bounds` | error | a PodDisruptionBudget with `minAvailable` and `maxUnavailable` |
//! | `validate/probe-handlers` | error | a probe with zero or several handlers |

pub mod builtin;
mod check;
pub mod crd;
mod rules;
pub mod schema;
mod stage;
pub use stage::ValidateStage;

use crate::document::Document;
use crate::report::{Finding, Severity};
use crate::yaml::Node;
use builtin::Builtin;
use crd::CrdSet;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One problem found in a document (before it becomes a [`Finding`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `validate/...`.
    pub code: &'static str,
    /// Normalized JSONPath inside the resource.
    pub path: String,
    /// 1-based source line of the node (0: made by a stage).
    pub line: u32,
    /// 1-based source column of the node, in characters (0: made by a stage or unknown).
    pub col: u32,
    /// What is wrong and, where that helps, what to do.
    pub message: String,
}

/// What to do with a custom resource whose CRD is nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoSchema {
    /// A warning (default): the CRD is usually installed outside the render.
    #[default]
    Warning,
    /// An error.
    Error,
    /// Nothing.
    Off,
}

/// `validate:` in the instance config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateConfig {
    /// CRD files (or directories of them) to validate custom resources against, relative to
    /// the config file.
    #[serde(default)]
    pub crds: Vec<PathBuf>,
    /// `validate/no-schema` severity: `warning` (default), `error` or `off`.
    #[serde(default)]
    pub no_schema: NoSchema,
}

/// Why validation could not run (bad input or config: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The Kubernetes version is not shipped.
    #[error("Kubernetes version {0:?} has no schemas here (shipped: {1}); see docs/validation.md to add one")]
    Version(String, String),
    /// A CRD file could not be parsed or compiled.
    #[error("{0}")]
    CrdFile(String),
    /// A CRD file must not be read: not a regular file, or over
    /// [`crate::limits::INPUT_FILE`].
    #[error(transparent)]
    CrdRead(#[from] crate::fsio::FileError),
}

/// Everything one validation run checks against.
#[derive(Debug, Clone)]
pub struct Schemas {
    /// The built-in schemas of the target version.
    pub builtin: Arc<Builtin>,
    /// CRDs from files and the emitted defaults (the render's own are added per run).
    pub crds: CrdSet,
    /// `validate/no-schema` severity.
    pub no_schema: NoSchema,
}

impl Schemas {
    /// The schemas of `version` (None: the default), the emitted CRDs, and no files.
    pub fn new(version: Option<&str>) -> Result<Schemas, ValidateError> {
        let v = version.unwrap_or(builtin::DEFAULT_VERSION);
        let builtin =
            builtin::get(v).ok_or_else(|| ValidateError::Version(v.to_string(), builtin::versions().join(", ")))?;
        Ok(Schemas { builtin, crds: CrdSet::emitted(), no_schema: NoSchema::Warning })
    }

    /// The schemas an instance config asks for (`kubernetesVersion`, `validate.crds` relative
    /// to the config file).
    pub fn for_config(cfg: &crate::InstanceConfig) -> Result<Schemas, ValidateError> {
        let mut s = Schemas::new(cfg.kubernetes_version.as_deref())?;
        s.no_schema = cfg.validation.no_schema;
        let base = cfg.source.as_ref().and_then(|(f, _)| Path::new(f).parent().map(Path::to_path_buf));
        for p in &cfg.validation.crds {
            let p = match &base {
                Some(b) if p.is_relative() => b.join(p),
                _ => p.clone(),
            };
            s.add_crd_path(&p)?;
        }
        Ok(s)
    }

    /// Add the CRDs in a file, or in every `.yaml`/`.yml`/`.json` file under a directory.
    pub fn add_crd_path(&mut self, p: &Path) -> Result<usize, ValidateError> {
        let mut files = Vec::new();
        collect_files(p, &mut files).map_err(|e| ValidateError::CrdFile(format!("{}: {e}", p.display())))?;
        let mut n = 0;
        for f in files {
            let text = crate::fsio::read_regular_string_max(&f, crate::limits::INPUT_FILE)?;
            let docs = crate::yaml::parse_documents(&text)
                .map_err(|e| ValidateError::CrdFile(format!("{}:{}:{}: {}", f.display(), e.line, e.col, e.reason)))?;
            for d in docs.iter().filter(|d| crd::is_crd(d)) {
                let c = crd::compile(d)
                    .map_err(|e| ValidateError::CrdFile(format!("{}: CRD {}: {e}", f.display(), crd_name(d))))?;
                self.crds.add(c);
                n += 1;
            }
        }
        Ok(n)
    }
}

fn crd_name(d: &Node) -> &str {
    d.get_path("metadata.name").and_then(Node::scalar_text).unwrap_or("?")
}

/// Files under `p` (itself when it is not a directory), sorted, YAML/JSON only for directories.
pub fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    // Anything but a directory is read as a file, so a FIFO or a device named here is refused
    // by type when it is read (`fsio`), not reported as "Not a directory".
    if !p.is_dir() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect_files(&e, out)?;
        } else if e.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x, "yaml" | "yml" | "json")) {
            out.push(e);
        }
    }
    Ok(())
}

/// What a validation run found.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// The findings, in document order, then by path.
    pub findings: Vec<Finding>,
    /// Resources checked against a schema.
    pub checked: usize,
    /// Resources without a schema (`validate/no-schema`).
    pub no_schema: usize,
    /// CEL rules (`x-kubernetes-validations`) of the CRDs used: not evaluated.
    pub cel_rules_not_checked: u32,
    /// CRD patterns the regex engine cannot run (look-arounds): not evaluated.
    pub patterns_not_checked: u32,
    /// The Kubernetes version validated against.
    pub kubernetes_version: String,
}

/// What a validation run covered, without its findings (the render report's `validation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// The Kubernetes version validated against.
    pub kubernetes_version: String,
    /// Resources checked against a schema.
    pub checked: usize,
    /// Resources without a schema (`validate/no-schema`).
    pub no_schema: usize,
    /// CEL rules (`x-kubernetes-validations`) of the CRDs used: counted, not evaluated.
    pub cel_rules_not_checked: u32,
    /// CRD patterns the regex engine cannot run (look-arounds): not evaluated.
    pub patterns_not_checked: u32,
}

impl Validation {
    /// What the run covered.
    pub fn coverage(&self) -> Coverage {
        Coverage {
            kubernetes_version: self.kubernetes_version.clone(),
            checked: self.checked,
            no_schema: self.no_schema,
            cel_rules_not_checked: self.cel_rules_not_checked,
            patterns_not_checked: self.patterns_not_checked,
        }
    }
}

enum Target<'s> {
    Builtin(schema::Id),
    Crd(&'s crd::CompiledCrd, schema::Id),
    Unserved(String),
    NoSchema(String),
    Skip,
}

fn lookup<'s>(b: &Builtin, crds: &'s CrdSet, api: &str, kind: &str) -> Target<'s> {
    if let Some(&id) = b.kinds.get(&(api.to_string(), kind.to_string())) {
        return Target::Builtin(id);
    }
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    if let Some(c) = crds.get(group, kind) {
        return match c.versions.iter().find(|(v, _, _)| v == version) {
            Some((_, true, Some(id))) => Target::Crd(c, *id),
            Some((_, true, None)) => Target::Skip,
            _ => {
                let served: Vec<String> =
                    c.versions.iter().filter(|(_, s, _)| *s).map(|(v, _, _)| format!("{group}/{v}")).collect();
                Target::Unserved(format!(
                    "{api} {kind} is not served by its CRD ({}); served: {}",
                    c.kind,
                    if served.is_empty() { "none".to_string() } else { served.join(", ") }
                ))
            }
        };
    }
    let builtin_group = !group.contains('.') || group.ends_with(".k8s.io") || builtin::RETIRED_GROUPS.contains(&group);
    if builtin_group
        && (b.groups.contains(group) || builtin::RETIRED_GROUPS.contains(&group) || b.versions_of.contains_key(kind))
    {
        let alt = b.versions_of.get(kind).map(|v| v.join(" or "));
        return Target::Unserved(match alt {
            Some(a) => format!("Kubernetes {} does not serve {kind} as {api}: use {a}", b.version),
            None => format!("Kubernetes {} does not serve {api} {kind}", b.version),
        });
    }
    Target::NoSchema(format!(
        "no schema for {api} {kind}: its CRD is neither in the render nor in `validate.crds`; the resource is not checked"
    ))
}

/// Check one document's tree; `crds` must include the render's own CRDs.
pub fn check_node(root: &Node, s: &Schemas, crds: &CrdSet) -> (Vec<Issue>, Option<Severity>, bool) {
    let mut out = Vec::new();
    let (Some(api), Some(kind)) =
        (root.get("apiVersion").and_then(Node::as_str), root.get("kind").and_then(Node::as_str))
    else {
        // Missing apiVersion/kind: lint's `lint/missing-field` (the CLI reports it below).
        for k in ["apiVersion", "kind"] {
            if root.get(k).and_then(Node::as_str).is_none_or(str::is_empty) {
                out.push(Issue {
                    code: "validate/required",
                    path: format!("$.{k}"),
                    line: root.line,
                    col: root.col,
                    message: format!("missing `{k}`"),
                });
            }
        }
        return (out, None, false);
    };
    if root.as_map().is_none() {
        return (out, None, false);
    }
    let b = &s.builtin;
    let meta = (&b.arena, b.object_meta);
    let mut checked = true;
    let mut sev = None;
    match lookup(b, crds, api, kind) {
        Target::Builtin(id) => {
            let mut w = check::Walker::new(meta);
            w.walk(&b.arena, id, root);
            out.extend(w.out);
        }
        Target::Crd(c, id) => {
            let mut w = check::Walker::new(meta);
            // The API server owns apiVersion, kind and metadata of every custom resource.
            let (ma, mid) = meta;
            if let Some(md) = root.get("metadata") {
                w.path.push(check::Seg::Key("metadata"));
                w.walk(ma, mid, md);
                w.path.pop();
            }
            w.skip_type_meta = true;
            w.walk(&c.arena, id, root);
            out.extend(w.out);
        }
        Target::Unserved(msg) => {
            out.push(Issue {
                code: "validate/unserved-api",
                path: "$.apiVersion".into(),
                line: pos_of(root, "apiVersion").line,
                col: pos_of(root, "apiVersion").col,
                message: msg,
            });
        }
        Target::NoSchema(msg) => {
            checked = false;
            sev = match s.no_schema {
                NoSchema::Warning => Some(Severity::Warning),
                NoSchema::Error => Some(Severity::Error),
                NoSchema::Off => None,
            };
            if sev.is_some() {
                out.push(Issue {
                    code: "validate/no-schema",
                    path: "$.apiVersion".into(),
                    line: pos_of(root, "apiVersion").line,
                    col: pos_of(root, "apiVersion").col,
                    message: msg,
                });
            }
        }
        Target::Skip => checked = false,
    }
    rules::check(kind, api, root, &mut out);
    (out, sev, checked)
}

type Checked = (Vec<Issue>, Option<Severity>, bool);
type CrdChecks = std::sync::Mutex<std::collections::HashMap<(crd::TreeKey, String), Arc<Checked>>>;
/// The checks of CRD documents of this process ([`crd_check_cached`]).
static CRD_CHECKS: std::sync::OnceLock<CrdChecks> = std::sync::OnceLock::new();

/// Forget everything compiled or checked once per process (built-in schemas, CRDs, their
/// checks, patterns; the emitted CRDs stay), so the next validation pays the cold path as a
/// fresh process does. For benchmarks (`stage_validate_cold`); the results are the same.
#[doc(hidden)]
pub fn clear_caches() {
    builtin::clear_cache();
    crd::clear_cache();
    schema::clear_cache();
    if let Some(c) = CRD_CHECKS.get() {
        c.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// [`check_node`] of a CRD document, cached by its content key and the Kubernetes version.
fn crd_check_cached(
    key: crd::TreeKey,
    root: &Node,
    s: &Schemas,
    crds: &CrdSet,
) -> (Vec<Issue>, Option<Severity>, bool) {
    // Only a CRD the built-in schemas cover (`apiextensions.k8s.io/v1`) is independent of the
    // render's CRD set.
    let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    if !s.builtin.kinds.contains_key(&(api.to_string(), "CustomResourceDefinition".to_string())) {
        return check_node(root, s, crds);
    }
    let cache = CRD_CHECKS.get_or_init(Default::default);
    let k = (key, s.builtin.version.clone());
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&k) {
        return (**c).clone();
    }
    let c = check_node(root, s, crds);
    let mut m = cache.lock().unwrap_or_else(|e| e.into_inner());
    // Bound the cache as the compiled-CRD cache is bounded.
    if m.len() > 4096 {
        m.clear();
    }
    m.insert(k, Arc::new(c.clone()));
    c
}

/// Where the value of the top-level key `k` is (the document's root when it has none).
fn pos_of(root: &Node, k: &str) -> crate::yaml::Pos {
    root.get(k).map_or(root.pos(), Node::pos)
}

/// Validate documents in parallel (heaviest first; results in input order). Findings that
/// name the same resource and path as one in `already` (lint's) are left out: one finding per
/// problem.
pub fn validate(docs: &[Document], s: &Schemas, already: &[Finding]) -> Validation {
    // Precedence: the emitted defaults, then the render's CRDs, then the files named in the
    // config (the operator's word).
    let mut crds = CrdSet::emitted();
    let mut crd_findings = Vec::new();
    // A CRD document's content key serves twice: the compiled-CRD cache and the cache of its
    // own check against the built-in CustomResourceDefinition schema (below).
    type Compiled = (crd::TreeKey, Result<Arc<crd::CompiledCrd>, crd::CrdError>);
    let compiled: Vec<Option<Compiled>> = crate::par::map(docs, Document::weight, |d| {
        crd::is_crd(&d.root).then(|| {
            let key = crd::tree_key(&d.root);
            (key, crd::compile_keyed(&d.root, key))
        })
    });
    let keys: Vec<Option<crd::TreeKey>> = compiled.iter().map(|c| c.as_ref().map(|(k, _)| *k)).collect();
    for (d, c) in docs.iter().zip(compiled) {
        match c.map(|(_, c)| c) {
            Some(Ok(c)) => crds.add(c),
            Some(Err(e)) => crd_findings.push(
                Finding::new(
                    "validate",
                    "validate/crd-invalid",
                    Severity::Warning,
                    format!("CRD {} gives no schema ({e}); its custom resources are not checked", crd_name(&d.root)),
                )
                .at(&d.id(), &d.origin),
            ),
            None => {}
        }
    }
    for c in s.crds.iter() {
        crds.add(c.clone());
    }
    let skip: HashSet<(&str, &str)> =
        already.iter().filter_map(|f| Some((f.resource.as_deref()?, f.path.as_deref()?))).collect();
    let indexed: Vec<(&Document, Option<crd::TreeKey>)> = docs.iter().zip(keys).collect();
    let per_doc = crate::par::map(
        &indexed,
        |(d, _)| d.weight(),
        |&(d, key)| {
            let (issues, sev, checked) = match key {
                // A CRD document is checked against the built-in CustomResourceDefinition schema
                // (a deep, recursive JSONSchemaProps walk); the same content against the same
                // Kubernetes version gives the same issues, so it is done once per process.
                Some(key) => crd_check_cached(key, &d.root, s, &crds),
                None => check_node(&d.root, s, &crds),
            };
            let id = d.id();
            let rid = id.to_string();
            let mut fs: Vec<Finding> = Vec::with_capacity(issues.len());
            for i in issues {
                if skip.contains(&(rid.as_str(), i.path.as_str())) {
                    continue;
                }
                let severity =
                    if i.code == "validate/no-schema" { sev.unwrap_or(Severity::Warning) } else { Severity::Error };
                let loc = d.origin.location(crate::yaml::Pos { line: i.line, col: i.col });
                let mut f = Finding::new("validate", i.code, severity, i.message).path(i.path);
                f.resource = Some(rid.clone());
                f.origin = Some(d.origin.with_line(loc.line as u32));
                f.location = Some(loc);
                fs.push(f);
            }
            (fs, checked)
        },
    );
    let mut v = Validation { kubernetes_version: s.builtin.version.clone(), ..Validation::default() };
    v.findings = crd_findings;
    for (fs, checked) in per_doc {
        if checked {
            v.checked += 1;
        } else if fs.iter().any(|f| f.code == "validate/no-schema") || s.no_schema == NoSchema::Off {
            v.no_schema += 1;
        }
        v.findings.extend(fs);
    }
    v.cel_rules_not_checked = crds.cel_rules();
    v.patterns_not_checked = crds.unchecked_patterns();
    v
}

/// Validate the files of an output tree under `dir` (the generated Applications), as
/// documents of the pseudo-release `dir`.
pub fn validate_tree_files(
    files: &std::collections::BTreeMap<PathBuf, String>,
    dir: &str,
    s: &Schemas,
) -> Vec<Finding> {
    let mut docs = Vec::new();
    for (p, text) in files.iter().filter(|(p, _)| p.starts_with(dir)) {
        let file = p.strip_prefix(dir).unwrap_or(p).to_string_lossy().replace('\\', "/");
        match crate::yaml::parse_documents(text) {
            Ok(roots) => {
                for root in roots {
                    let line = root.line.max(1);
                    let origin = crate::Origin { release: Arc::from(dir), file: Arc::from(file.as_str()), line };
                    docs.push(Document::new(origin, Vec::new(), root));
                }
            }
            Err(e) => {
                return vec![Finding::new(
                    "validate",
                    "validate/syntax",
                    Severity::Error,
                    format!("{dir}/{file}:{}:{}: {}", e.line, e.col, e.reason),
                )]
            }
        }
    }
    validate(&docs, s, &[]).findings
}

#[cfg(test)]
mod tests;
