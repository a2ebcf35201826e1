//! Module renders (`render --module KEY`): render and push a named set of releases of the
//! release graph's `modules:` on its own, guarded against secret skew.
//!
//! - [`ModuleScope::resolve`] turns module keys into the set of releases they cover; the
//!   loader reads only those release folders ([`crate::load::load_dir_only`]).
//! - Guards that need the whole instance are judged against the module ([`SCOPED_GUARDS`]):
//!   a `required` patch whose `select.release` can match no release of the module is not
//!   fatal ([`required_guard`]); the orphan-sidecar guard sees only the module's releases;
//!   the "no Keycloak workload" / "no SCIM server" existence checks do not fail a module that
//!   renders none (every one it does render is still checked).
//! - The secret-skew guard ([`secret_skew`]) compares every ExternalSecret of the module's
//!   releases with the one the base (the full render's output tree, [`BaseTree`]) holds for
//!   the same Secret: name, namespace, `secretStoreRef`, the set of `remoteRef.key`s and the
//!   set of `remoteRef.property`s must be equal. Messages carry names and key paths, never a
//!   value. A Secret new in the module is a warning; one that disappeared is fatal unless
//!   removal is allowed.

use crate::document::Document;
use crate::load::parse_text;
use crate::output::graph::ReleaseGraph;
use crate::patch::{PatchRun, Prepared};
use crate::report::{Finding, Severity};
use crate::stages::guards::GuardResult;
use crate::yaml::{parse_documents, Node};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Guards judged against the module instead of the whole instance, with how.
pub const SCOPED_GUARDS: [(&str, &str); 4] = [
    ("required-patch", "a required patch whose select.release matches no release of the module is not fatal"),
    ("orphan-synapse-sidecars", "judged against the module's releases only (keep Element's releases in one module)"),
    ("jit-keycloak", "a module without a Keycloak workload passes; each Keycloak workload it renders is checked"),
    ("scim", "a module without a SCIM server passes; each SCIM server it renders is checked"),
];

/// The name of the secret-skew guard.
pub const SKEW_GUARD: &str = "secret-skew";

/// Why a module render cannot start (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// `--module` without `--release-graph`.
    #[error("--module needs --release-graph: modules are declared in the release graph's `modules:`")]
    NoGraph,
    /// A key the graph does not declare.
    #[error("{file}: no module {key:?}; the release graph declares: {known}")]
    UnknownKey {
        /// The graph file.
        file: String,
        /// The key.
        key: String,
        /// The declared keys, comma-separated (or `none`).
        known: String,
    },
    /// A module render without `--base` and without `--no-base`.
    #[error(
        "a module render needs --base DIR (the full render's output tree, e.g. the instance folder at the branch \
         head) for the secret-skew guard; pass --no-base to skip that guard explicitly"
    )]
    NoBase,
    /// `--base` and `--no-base` together.
    #[error("--base and --no-base exclude each other")]
    BaseAndNoBase,
    /// `--base`, `--no-base` or `--allow-secret-removal` without `--module`.
    #[error("{0} only applies to a module render (--module KEY)")]
    NotAModuleRender(&'static str),
    /// The base is not a usable full output tree.
    #[error("--base {dir}: {why}")]
    BadBase {
        /// The base dir.
        dir: String,
        /// What is wrong.
        why: String,
    },
    /// None of the module's releases is in the input.
    #[error("module {keys} covers {releases}, but none of them is in the input; check the module and the input dir")]
    NothingToRender {
        /// The keys.
        keys: String,
        /// The releases.
        releases: String,
    },
}

/// The releases a module render covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModuleScope {
    /// The module keys, as given (deduplicated, in order).
    pub keys: Vec<String>,
    /// Every release of those modules.
    pub releases: BTreeSet<String>,
}

impl ModuleScope {
    /// Resolve module keys against the graph. An unknown key names the declared ones.
    pub fn resolve(graph: Option<&ReleaseGraph>, keys: &[String]) -> Result<Self, ModuleError> {
        let g = graph.ok_or(ModuleError::NoGraph)?;
        let mut scope = ModuleScope::default();
        for k in keys {
            if scope.keys.contains(k) {
                continue;
            }
            let m = g.module(k).ok_or_else(|| ModuleError::UnknownKey {
                file: g.file.display().to_string(),
                key: k.clone(),
                known: if g.modules.is_empty() {
                    "none (add `modules:` to the graph)".into()
                } else {
                    g.modules.iter().map(|m| m.key.as_str()).collect::<Vec<_>>().join(", ")
                },
            })?;
            scope.keys.push(k.clone());
            scope.releases.extend(m.releases.iter().cloned());
        }
        Ok(scope)
    }

    /// Does the scope cover this release?
    pub fn covers(&self, release: &str) -> bool {
        self.releases.contains(release)
    }
}

/// The full render a module render is checked against: its render-meta facts and the
/// ExternalSecrets of the module's releases.
#[derive(Debug, Clone, Default)]
pub struct BaseTree {
    /// The base dir (for messages).
    pub dir: PathBuf,
    /// `instance` of its render-meta.
    pub instance: String,
    /// `inputDigest` of its render-meta.
    pub input_digest: String,
    /// `outputDigest` of its render-meta.
    pub output_digest: String,
    /// The module releases that have a folder in the base.
    pub releases: BTreeSet<String>,
    /// The ExternalSecrets of those folders.
    pub external_secrets: Vec<Document>,
    /// The other documents of those folders that hold a masked secret value
    /// ([`crate::stages::redact::MASK`]): where the full render knew a secret value that a
    /// module render may not (a value of a Secret of a release outside the module).
    pub masked: Vec<Document>,
}

impl BaseTree {
    /// Read `dir/render-meta.yaml` and the ExternalSecrets under `dir/releases/<r>/` for each
    /// release of `scope` (only those folders are read). A module render's own output tree is
    /// refused: the base must be a full tree.
    pub fn load(dir: &Path, scope: &ModuleScope) -> Result<Self, ModuleError> {
        let bad = |why: String| ModuleError::BadBase { dir: dir.display().to_string(), why };
        let meta_file = dir.join(crate::output::META_FILE);
        // A render-meta linking out of the base is refused before it is opened.
        let root = crate::fsio::canonical_root(dir)
            .map_err(|e| bad(format!("{e} (the base must be an output tree of a full render)")))?;
        crate::fsio::follow_inside(&root, &meta_file).map_err(|e| bad(e.to_string()))?;
        let text = crate::fsio::read_regular_string_max(&meta_file, crate::limits::CONFIG_FILE)
            .map_err(|e| bad(format!("{e} (the base must be an output tree of a full render)")))?;
        let roots = parse_documents(&text)
            .map_err(|e| bad(format!("{}:{}:{}: {}", meta_file.display(), e.line, e.col, e.reason)))?;
        let root = roots.first().ok_or_else(|| bad(format!("{}: empty", meta_file.display())))?;
        let get = |k: &str| root.get(k).and_then(Node::scalar_text).unwrap_or("").to_string();
        if root.get("module").is_some() {
            return Err(bad(
                "it is a module render's output (its render-meta has `module:`); give the full tree, e.g. the \
                 instance folder at the branch head"
                    .into(),
            ));
        }
        let (releases, docs) = read_release_docs(dir, &scope.releases, true).map_err(|e| bad(e.to_string()))?;
        let (external_secrets, masked) = docs.into_iter().partition(is_external_secret);
        let base = BaseTree {
            masked,
            dir: dir.to_path_buf(),
            instance: get("instance"),
            input_digest: get("inputDigest"),
            output_digest: get("outputDigest"),
            releases,
            external_secrets,
        };
        Ok(base)
    }
}

/// The ExternalSecrets under `dir/releases/<r>/` for each of `releases` (only those folders
/// are read; a missing folder is skipped) and the releases that have a folder. Each file is
/// read as an input file is: regular files only, at most [`crate::limits::INPUT_FILE`], and a
/// symlink (`releases/`, a release folder, a file) is followed only while it stays inside `dir`
/// ([`crate::fsio::check_link`]; else [`crate::fsio::FileError::SymlinkOutside`], naming the
/// link and its target, whose content is never read).
pub fn read_external_secrets(
    dir: &Path,
    releases: &BTreeSet<String>,
) -> Result<(BTreeSet<String>, Vec<Document>), crate::error::LoadError> {
    read_release_docs(dir, releases, false)
}

/// The ExternalSecrets (and with `masked`, the documents holding a masked value) under
/// `dir/releases/<r>/` for each of `releases`, and the releases that have a folder.
fn read_release_docs(
    dir: &Path,
    releases: &BTreeSet<String>,
    masked: bool,
) -> Result<(BTreeSet<String>, Vec<Document>), crate::error::LoadError> {
    let mask = crate::stages::redact::MASK;
    let mut present = BTreeSet::new();
    let mut out = Vec::new();
    // No tree, nothing to read (as a missing release folder).
    let Ok(root) = crate::fsio::canonical_root(dir) else { return Ok((present, out)) };
    let releases_dir = dir.join(crate::output::RELEASES_DIR);
    crate::fsio::follow_inside(&root, &releases_dir)?;
    for r in releases {
        let folder = releases_dir.join(r);
        crate::fsio::follow_inside(&root, &folder)?;
        let Ok(rd) = std::fs::read_dir(&folder) else { continue };
        present.insert(r.clone());
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        let release: Arc<str> = Arc::from(r.as_str());
        for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "yaml")) {
            crate::fsio::follow_inside(&root, f)?;
            let text = crate::fsio::read_regular_string_max(f, crate::limits::INPUT_FILE)?;
            // A masked value (`redact.mode: mask`), or an env value the redact stage may have
            // turned into a `secretKeyRef`.
            let has_mask = masked && (text.contains(mask) || text.contains("secretKeyRef"));
            if !text.contains("ExternalSecret") && !has_mask {
                continue;
            }
            let name: Arc<str> = Arc::from(f.file_name().and_then(|n| n.to_str()).unwrap_or(""));
            let docs = parse_text(&release, &name, f, &text, true)?;
            out.extend(docs.into_iter().filter(|d| {
                is_external_secret(d) || (has_mask && d.root.any_text(&mut |t| t.contains(mask) || t == "secretKeyRef"))
            }));
        }
    }
    Ok((present, out))
}

/// What a module render was asked for, beside the scope.
#[derive(Debug, Clone, Default)]
pub struct ModuleRequest {
    /// The releases covered.
    pub scope: ModuleScope,
    /// The base; `None` only with `--no-base` (the secret-skew guard is skipped, and says so).
    pub base: Option<BaseTree>,
    /// A Secret of the base that the module no longer renders is a warning, not fatal.
    pub allow_secret_removal: bool,
}

/// The base a module render was checked against (in render-meta).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseRef {
    /// The base's `inputDigest`.
    pub input_digest: String,
    /// The base's `outputDigest`.
    pub output_digest: String,
}

/// One guard judged against the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopedGuard {
    /// Guard name.
    pub name: String,
    /// How it was scoped.
    pub how: String,
}

/// `module:` in render-meta and the JSON report of a module render. Absent in a full render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleMeta {
    /// The module keys.
    pub keys: Vec<String>,
    /// Every release the modules cover (the push replaces exactly these folders).
    pub covers: Vec<String>,
    /// The covered releases that were rendered (in the input).
    pub rendered: Vec<String>,
    /// The base checked against; `None` with `--no-base`.
    pub base: Option<BaseRef>,
    /// True when `--no-base` skipped the secret-skew guard.
    pub no_base: bool,
    /// `--allow-secret-removal`.
    pub allow_secret_removal: bool,
    /// Guards judged against the module.
    pub scoped_guards: Vec<ScopedGuard>,
    /// Patches whose required check was skipped because they select no release of the module.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_out_of_scope: Vec<String>,
}

impl ModuleMeta {
    /// The module facts for render-meta.
    pub fn new(req: &ModuleRequest, rendered: impl IntoIterator<Item = String>, out_of_scope: Vec<String>) -> Self {
        ModuleMeta {
            keys: req.scope.keys.clone(),
            covers: req.scope.releases.iter().cloned().collect(),
            rendered: rendered.into_iter().collect::<BTreeSet<_>>().into_iter().collect(),
            base: req
                .base
                .as_ref()
                .map(|b| BaseRef { input_digest: b.input_digest.clone(), output_digest: b.output_digest.clone() }),
            no_base: req.base.is_none(),
            allow_secret_removal: req.allow_secret_removal,
            scoped_guards: SCOPED_GUARDS
                .iter()
                .map(|(n, h)| ScopedGuard { name: (*n).into(), how: (*h).into() })
                .collect(),
            required_out_of_scope: out_of_scope,
        }
    }
}

/// `required-patch` judged against the module: a required, in-range patch that matched nothing
/// fails unless its `select.release` patterns match no release of the module (then its
/// releases are all outside the module: returned in the second list, not fatal). A patch
/// without `select.release` may apply to any release, so it stays fatal.
pub fn required_guard(run: &PatchRun, prepared: &Prepared, scope: &ModuleScope) -> (GuardResult, Vec<String>) {
    let mut fatal = Vec::new();
    let mut out_of_scope = Vec::new();
    for s in run.required_unmatched() {
        let outside = prepared.active.iter().find(|p| p.name == s.name).is_some_and(|p| {
            !p.select.release.is_empty()
                && !scope.releases.iter().any(|r| p.select.release.iter().any(|pt| pt.matches(r)))
        });
        if outside {
            out_of_scope.push(s.name.clone());
        } else {
            fatal.push(format!("{} ({})", s.name, s.file));
        }
    }
    let g = if fatal.is_empty() {
        GuardResult::pass("required-patch")
    } else {
        GuardResult::fail(
            "required-patch",
            format!(
                "required patch(es) matched no document of the module: {}. The chart changed shape or the release is \
                 missing: update the patch's select (a select.release that names its releases lets a module render \
                 outside them skip it), or narrow its appliesTo",
                fatal.join(", ")
            ),
        )
    };
    (g, out_of_scope)
}

fn is_external_secret(d: &Document) -> bool {
    d.kind() == Some("ExternalSecret") && d.api_version().is_some_and(|v| v.starts_with("external-secrets.io/"))
}

/// The facts of one ExternalSecret the guard compares (names and key paths, never values).
#[derive(Debug, Clone, PartialEq, Eq)]
struct EsFacts {
    release: String,
    name: String,
    namespace: String,
    /// The Secret it materialises (`spec.target.name`, default the ExternalSecret's name).
    target: String,
    store: String,
    keys: BTreeSet<String>,
    properties: BTreeSet<String>,
}

fn es_facts(d: &Document) -> EsFacts {
    let spec = d.root.get("spec");
    let txt = |n: Option<&Node>| n.and_then(Node::scalar_text).unwrap_or("").to_string();
    let name = d.name().unwrap_or("").to_string();
    let target = spec.and_then(|s| s.get_path("target.name")).and_then(Node::scalar_text).unwrap_or(&name).to_string();
    let store = spec.and_then(|s| s.get("secretStoreRef"));
    let store = format!(
        "{}/{}",
        store.map(|s| txt(s.get("kind"))).filter(|k| !k.is_empty()).unwrap_or_else(|| "SecretStore".into()),
        store.map(|s| txt(s.get("name"))).unwrap_or_default()
    );
    let mut keys = BTreeSet::new();
    let mut properties = BTreeSet::new();
    for e in spec.and_then(|s| s.get("data")).and_then(Node::as_seq).into_iter().flatten() {
        if let Some(r) = e.get("remoteRef") {
            keys.insert(txt(r.get("key")));
            if let Some(p) = r.get("property").and_then(Node::scalar_text) {
                properties.insert(p.to_string());
            }
        }
    }
    for e in spec.and_then(|s| s.get("dataFrom")).and_then(Node::as_seq).into_iter().flatten() {
        for how in ["extract", "find"] {
            if let Some(x) = e.get(how) {
                let k = x.get("key").and_then(Node::scalar_text).map(str::to_string).unwrap_or_else(|| {
                    x.get_path("name.regexp").and_then(Node::scalar_text).map(|r| format!("/{r}/")).unwrap_or_default()
                });
                keys.insert(format!("{how}:{k}"));
            }
        }
    }
    EsFacts {
        release: d.origin.release.to_string(),
        name,
        namespace: d.namespace().unwrap_or("").to_string(),
        target,
        store,
        keys,
        properties,
    }
}

fn set_diff(what: &str, base: &BTreeSet<String>, module: &BTreeSet<String>) -> Option<String> {
    if base == module {
        return None;
    }
    let gone: Vec<&str> = base.difference(module).map(String::as_str).collect();
    let new: Vec<&str> = module.difference(base).map(String::as_str).collect();
    let mut parts = Vec::new();
    if !gone.is_empty() {
        parts.push(format!("only in the base: {}", gone.join(", ")));
    }
    if !new.is_empty() {
        parts.push(format!("only in the module: {}", new.join(", ")));
    }
    Some(format!("{what} differs ({})", parts.join("; ")))
}

fn differences(b: &EsFacts, m: &EsFacts) -> Vec<String> {
    let mut out = Vec::new();
    let mut one = |what: &str, x: &str, y: &str| {
        if x != y {
            out.push(format!("{what} differs (base {x:?}, module {y:?})"));
        }
    };
    one("metadata.name", &b.name, &m.name);
    one("metadata.namespace", &b.namespace, &m.namespace);
    one("spec.secretStoreRef", &b.store, &m.store);
    out.extend(set_diff("remoteRef.key", &b.keys, &m.keys));
    out.extend(set_diff("remoteRef.property", &b.properties, &m.properties));
    out
}

/// The secret-skew guard's result and its findings.
#[derive(Debug, Clone)]
pub struct SkewOutcome {
    /// The guard result (`secret-skew`).
    pub guard: GuardResult,
    /// `module/secret-skew` (error), `module/secret-removed` (error, or a warning when removal
    /// is allowed), `module/secret-new` (warning).
    pub findings: Vec<Finding>,
    /// ExternalSecrets compared with the base.
    pub compared: usize,
}

/// Compare the module's ExternalSecrets (`docs`, after ESO) with the base's for the releases
/// of `scope`. Secrets are paired by (release, namespace, target Secret name), then the rest
/// by (release, target Secret name), so a changed namespace is reported as a difference.
pub fn secret_skew(docs: &[Document], base: &BaseTree, scope: &ModuleScope, allow_removal: bool) -> SkewOutcome {
    let module: Vec<(EsFacts, &Document)> = docs
        .iter()
        .filter(|d| is_external_secret(d) && scope.covers(&d.origin.release))
        .map(|d| (es_facts(d), d))
        .collect();
    let based: Vec<EsFacts> =
        base.external_secrets.iter().filter(|d| scope.covers(&d.origin.release)).map(es_facts).collect();
    let mut used_m = vec![false; module.len()];
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut used_b = vec![false; based.len()];
    let exact: BTreeMap<(&str, &str, &str), usize> = module
        .iter()
        .enumerate()
        .map(|(i, (f, _))| ((f.release.as_str(), f.namespace.as_str(), f.target.as_str()), i))
        .collect();
    for (bi, b) in based.iter().enumerate() {
        if let Some(&mi) = exact.get(&(b.release.as_str(), b.namespace.as_str(), b.target.as_str())) {
            if !used_m[mi] {
                used_m[mi] = true;
                used_b[bi] = true;
                pairs.push((bi, mi));
            }
        }
    }
    for (bi, b) in based.iter().enumerate() {
        if used_b[bi] {
            continue;
        }
        let cands: Vec<usize> = (0..module.len())
            .filter(|&mi| !used_m[mi] && module[mi].0.release == b.release && module[mi].0.target == b.target)
            .collect();
        if let [mi] = cands[..] {
            used_m[mi] = true;
            used_b[bi] = true;
            pairs.push((bi, mi));
        }
    }
    pairs.sort_unstable();
    let mut findings = Vec::new();
    let label = |f: &EsFacts| {
        let ns = if f.namespace.is_empty() { "-" } else { &f.namespace };
        format!("ExternalSecret {ns}/{} (Secret {:?}, release {})", f.name, f.target, f.release)
    };
    for &(bi, mi) in &pairs {
        let (m, d) = &module[mi];
        let diffs = differences(&based[bi], m);
        if !diffs.is_empty() {
            findings.push(
                Finding::new(
                    "guards",
                    "module/secret-skew",
                    Severity::Error,
                    format!(
                        "{}: {}; after the sync the pods would read other secrets than the full render points at: \
                         render the module with the same secretsManager config and chart values as the full render, \
                         or render and push the whole instance",
                        label(m),
                        diffs.join("; ")
                    ),
                )
                .at(&d.id(), &d.origin),
            );
        }
    }
    let mut removed = 0;
    for (bi, b) in based.iter().enumerate() {
        if used_b[bi] {
            continue;
        }
        removed += 1;
        let (sev, tail) = if allow_removal {
            (Severity::Warning, "allowed by --allow-secret-removal")
        } else {
            (
                Severity::Error,
                "pods that mount it would lose it after the sync; if the removal is intended pass \
                 --allow-secret-removal",
            )
        };
        findings.push(Finding::new(
            "guards",
            "module/secret-removed",
            sev,
            format!(
                "{} is in the base ({}) but the module render has no such Secret: {tail}",
                label(b),
                base.dir.display()
            ),
        ));
    }
    let mut added = 0;
    for (mi, (m, d)) in module.iter().enumerate() {
        if used_m[mi] {
            continue;
        }
        added += 1;
        findings.push(
            Finding::new(
                "guards",
                "module/secret-new",
                Severity::Warning,
                format!("{} is new: the base has no ExternalSecret for it (not fatal)", label(m)),
            )
            .at(&d.id(), &d.origin),
        );
    }
    findings.extend(unknown_secret_values(docs, base, scope));
    let failed: Vec<&Finding> = findings.iter().filter(|f| f.severity == Severity::Error).collect();
    let guard = if failed.is_empty() {
        GuardResult::pass(SKEW_GUARD)
    } else {
        GuardResult::fail(
            SKEW_GUARD,
            format!(
                "{} ExternalSecret(s) differ from or are missing against the base {}: {}",
                failed.len(),
                base.dir.display(),
                failed.iter().map(|f| f.message.split(':').next().unwrap_or("")).collect::<Vec<_>>().join(", ")
            ),
        )
    };
    let _ = (removed, added);
    SkewOutcome { guard, findings, compared: pairs.len() }
}

/// Where the base holds a masked secret value and the module's same resource, at the same
/// path, holds unmasked text: the full render knew that value (a Secret of a release outside
/// the module, typically a database password inlined in an env var) and this module render
/// cannot, so the output would carry it in plain text. Fatal (`module/secret-value-unknown`);
/// the message names the resource and the path, never the text.
fn unknown_secret_values(docs: &[Document], base: &BaseTree, scope: &ModuleScope) -> Vec<Finding> {
    let mask = crate::stages::redact::MASK;
    let key = |d: &Document| (d.origin.release.to_string(), d.id().to_string());
    let by_id: BTreeMap<(String, String), &Document> =
        docs.iter().filter(|d| scope.covers(&d.origin.release)).map(|d| (key(d), d)).collect();
    let mut out = Vec::new();
    for b in &base.masked {
        let Some(m) = by_id.get(&key(b)) else { continue };
        let mut paths = Vec::new();
        b.root.walk_scalars(&mut Vec::new(), &mut |path, s| {
            if s.text.contains(mask) {
                if let Some(n) = m.root.at(path) {
                    if n.as_scalar().is_some_and(|x| !x.text.contains(mask)) {
                        paths.push(crate::yaml::path_to_string(path));
                    }
                }
            }
        });
        // An env var the full render reads from a Secret (the redact stage rewrites a whole
        // env value equal to a Secret's value to a secretKeyRef) that this module render
        // leaves as a literal value: the same case, without a mask.
        b.root.walk_scalars(&mut Vec::new(), &mut |path, s| {
            let n = path.len();
            if n < 3 || s.text.is_empty() {
                return;
            }
            let (crate::yaml::PathSeg::Key(vf), crate::yaml::PathSeg::Key(skr), crate::yaml::PathSeg::Key(k)) =
                (&path[n - 3], &path[n - 2], &path[n - 1])
            else {
                return;
            };
            if vf != "valueFrom" || skr != "secretKeyRef" || k != "name" {
                return;
            }
            let entry = &path[..n - 3];
            let (Some(be), Some(me)) = (b.root.at(entry), m.root.at(entry)) else { return };
            let same_name = be.get("name").and_then(Node::scalar_text) == me.get("name").and_then(Node::scalar_text);
            if same_name && me.get("valueFrom").is_none() && me.get("value").and_then(Node::as_scalar).is_some() {
                let mut p = entry.to_vec();
                p.push(crate::yaml::PathSeg::Key("value".into()));
                paths.push(crate::yaml::path_to_string(&p));
            }
        });
        for p in paths {
            out.push(
                Finding::new(
                    "guards",
                    "module/secret-value-unknown",
                    Severity::Error,
                    "the full render (the base) masked a known secret value here (or read it from a Secret with \
                     valueFrom.secretKeyRef), and this module render leaves the text as it is: the value belongs to a Secret of a release outside the module, which a module \
                     render does not read. Reference that Secret instead (valueFrom.secretKeyRef or the chart's \
                     existingSecret), add the release to the module, or render the whole instance",
                )
                .at(&m.id(), &m.origin)
                .path(p),
            );
        }
    }
    out
}

/// The skipped guard of a `--no-base` module render (in the guards, so it is visible).
pub fn no_base_guard() -> (GuardResult, Finding) {
    (
        GuardResult { message: Some("skipped: --no-base".into()), ..GuardResult::pass(SKEW_GUARD) },
        Finding::new(
            "guards",
            "module/no-base",
            Severity::Warning,
            "--no-base: the secret-skew guard was skipped; this module render was not checked against the full render, \
             and secret values of releases outside the module are not known to it (they are not masked)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ES: &str = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: minio\n  namespace: opendesk\nspec:\n  refreshInterval: '1h'\n  secretStoreRef:\n    kind: ClusterSecretStore\n    name: stackit-sm\n  target:\n    name: minio\n  data:\n    - secretKey: root-user\n      remoteRef:\n        key: acme/opendesk/minio\n        property: root-user\n    - secretKey: root-password\n      remoteRef:\n        key: acme/opendesk/minio\n        property: root-password\n";

    fn docs(release: &str, text: &str) -> Vec<Document> {
        let r: Arc<str> = release.into();
        let f: Arc<str> = "externalsecret-minio.yaml".into();
        parse_text(&r, &f, Path::new("x.yaml"), text, true).unwrap()
    }

    fn scope(rs: &[&str]) -> ModuleScope {
        ModuleScope { keys: vec!["m".into()], releases: rs.iter().map(|s| s.to_string()).collect() }
    }

    fn base(text: &str) -> BaseTree {
        BaseTree { dir: "base".into(), external_secrets: docs("minio", text), ..Default::default() }
    }

    fn errors(o: &SkewOutcome) -> Vec<String> {
        o.findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.message.clone()).collect()
    }

    #[test]
    fn unchanged_passes() {
        let o = secret_skew(&docs("minio", ES), &base(ES), &scope(&["minio"]), false);
        assert!(o.guard.passed, "{:?}", o.findings);
        assert!(o.findings.is_empty());
        assert_eq!(o.compared, 1);
    }

    #[test]
    fn each_difference_is_named() {
        let s = scope(&["minio"]);
        let prefix = ES.replace("key: acme/", "key: acme2/");
        let o = secret_skew(&docs("minio", &prefix), &base(ES), &s, false);
        assert!(!o.guard.passed);
        let e = errors(&o);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("ExternalSecret opendesk/minio (Secret \"minio\", release minio): remoteRef.key differs (only in the base: acme/opendesk/minio; only in the module: acme2/opendesk/minio)"), "{}", e[0]);
        let renamed = ES.replace("property: root-password", "property: root-pass");
        let e = errors(&secret_skew(&docs("minio", &renamed), &base(ES), &s, false));
        assert!(
            e[0].contains(
                "remoteRef.property differs (only in the base: root-password; only in the module: root-pass)"
            ),
            "{}",
            e[0]
        );
        let store = ES.replace("name: stackit-sm", "name: other-sm");
        let e = errors(&secret_skew(&docs("minio", &store), &base(ES), &s, false));
        assert!(e[0].contains("spec.secretStoreRef differs (base \"ClusterSecretStore/stackit-sm\", module \"ClusterSecretStore/other-sm\")"), "{}", e[0]);
        let ns = ES.replace("namespace: opendesk", "namespace: other");
        let e = errors(&secret_skew(&docs("minio", &ns), &base(ES), &s, false));
        assert!(e[0].contains("metadata.namespace differs (base \"opendesk\", module \"other\")"), "{}", e[0]);
        // Never a value: the Secret's data is not in the documents, and messages hold names only.
        assert!(!e[0].contains("1h"));
    }

    #[test]
    fn removed_is_fatal_unless_allowed_and_new_is_reported() {
        let s = scope(&["minio"]);
        let o = secret_skew(&[], &base(ES), &s, false);
        assert!(!o.guard.passed);
        assert!(
            errors(&o)[0].contains("is in the base (base) but the module render has no such Secret"),
            "{:?}",
            o.findings
        );
        let o = secret_skew(&[], &base(ES), &s, true);
        assert!(o.guard.passed);
        assert_eq!(o.findings[0].severity, Severity::Warning);
        let o = secret_skew(&docs("minio", ES), &BaseTree::default(), &s, false);
        assert!(o.guard.passed);
        assert_eq!(o.findings[0].code, "module/secret-new");
        // Releases outside the scope are not compared.
        let o = secret_skew(&[], &base(ES), &scope(&["redis"]), false);
        assert!(o.guard.passed && o.findings.is_empty());
    }
}
