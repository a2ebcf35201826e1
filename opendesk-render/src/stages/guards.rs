//! Guards: last checks before anything is written. A failed guard fails the render (exit 1);
//! each failure says what to do.
//!
//! | guard | fails when |
//! |---|---|
//! | `jit-keycloak` | `externalIdp.userSync` is on and no Keycloak workload exists, or one lacks the JIT initContainer |
//! | `orphan-synapse-sidecars` | Synapse-adjacent releases ([`SYNAPSE_ADJACENT_RELEASES`]) render workloads but no Synapse homeserver workload is rendered |
//! | `namespace-markers` | an `__UPPER_CASE__` placeholder is left in any string or key; a namespaced resource lands in the Argo CD namespace |
//! | `scim` | `scim.enabled` and no SCIM server workload, or none that references a token Secret |
//! | `plaintext-secrets` | a `Secret` still carries data; a known secret value is left in a non-Secret document |
//! | `namespaces` | a namespaced resource lands in a namespace that neither an Application destination (`CreateNamespace=true`), a `Namespace` object in the tree, `argocd.externalNamespaces` nor the implied ones create |
//!
//! The `required-patch` guard lives with the patch engine; add its result with
//! [`GuardReport::push`].

use super::eso::{has_data, is_secret};
use super::inventory::{inventory, Inventory, ResourceEntry};
use super::jit::{keycloak_container, INIT_CONTAINER};
use super::redact::KnownSecrets;
use super::{containers, pod_spec, ContainerList, ImageRef, Scopes};
use crate::checks::Check;
use crate::config::InstanceConfig;
use crate::document::Document;
use crate::report::Finding;
use crate::yaml::{path_to_string, Node, PathSeg, Value};
use regex::Regex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Release-name patterns of Synapse-adjacent releases (a trailing `*` is a prefix match):
/// the Synapse web/admin/bot/pipe/groupsync releases and the matrix user verification
/// service. They need a Synapse homeserver in the same render.
pub const SYNAPSE_ADJACENT_RELEASES: &[&str] = &["opendesk-synapse-*", "opendesk-matrix-user-verification-service*"];

/// Release names treated as Argo CD itself (allowed in the Argo CD namespace).
pub const ARGOCD_RELEASES: &[&str] = &["argocd", "argo-cd"];

/// The outcome of one guard: an entry of the report's and render-meta's `guards[]` (every
/// guard's: this module's, `required-patch`, a module render's `secret-skew`), and the error
/// findings that say what to do when it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardResult {
    /// Guard name (`required-patch`, `namespace-markers`, …).
    pub name: String,
    /// True when it passed (or did not apply).
    pub passed: bool,
    /// Why it failed (or, passing, why it was not judged); never a secret value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Error findings when it failed, each saying what to do. The guards stage moves them to
    /// the report's findings; they are not part of `guards[]`.
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl GuardResult {
    /// A guard that passed.
    pub fn pass(name: impl Into<String>) -> Self {
        GuardResult { name: name.into(), passed: true, message: None, findings: Vec::new() }
    }

    /// A guard that failed with `message` (findings, if any, added by the caller).
    pub fn fail(name: impl Into<String>, message: impl Into<String>) -> Self {
        GuardResult { name: name.into(), passed: false, message: Some(message.into()), findings: Vec::new() }
    }

    /// Passed when `findings` is empty, else failed with `failed` as its message.
    fn from_findings(guard: Check, failed: impl Into<String>, findings: Vec<Finding>) -> Self {
        if findings.is_empty() {
            Self::pass(guard_name(guard))
        } else {
            GuardResult { findings, ..Self::fail(guard_name(guard), failed) }
        }
    }
}

/// Every guard's result, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardReport {
    /// Results in evaluation order.
    pub results: Vec<GuardResult>,
}

impl GuardReport {
    /// True when any guard failed (the render must fail with exit 1).
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| !r.passed)
    }

    /// The failed guards.
    pub fn failures(&self) -> impl Iterator<Item = &GuardResult> {
        self.results.iter().filter(|r| !r.passed)
    }

    /// Add a result computed elsewhere (e.g. the patch engine's `required-patch`).
    pub fn push(&mut self, r: GuardResult) {
        self.results.push(r);
    }

    /// All findings of failed guards, in order.
    pub fn findings(&self) -> Vec<Finding> {
        self.results.iter().flat_map(|r| r.findings.iter().cloned()).collect()
    }
}

/// What the guards need from earlier stages.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardContext<'a> {
    /// The inventory stage's facts (which workloads run which images); `None`: taken here.
    pub inventory: Option<&'a Inventory>,
    /// The known secret values (from the redact stage); `None` skips the value scan.
    pub known_secrets: Option<&'a KnownSecrets>,
    /// Per document, from the redact stage run just before on the same documents: the tree
    /// held no known value and was not changed since (see `RedactOutput::root_clean`). Those
    /// trees are not searched again; anything else is. Empty: search every tree.
    pub root_clean: &'a [bool],
    /// Per document, from the same redact stage run: the paths it refused
    /// (`RedactOutput::refused`). The guard does not report those again. Empty: report all.
    pub refused: &'a [Vec<String>],
    /// A module render (`render --module`): the instance-wide existence checks (a Keycloak
    /// workload for JIT, a SCIM server) do not fail a module that renders none; every one it
    /// renders is still checked.
    pub module: bool,
    /// Namespaces created outside the documents judged: in a module render, the destinations
    /// of the base full render's Applications ([`base_destinations`]).
    pub created_elsewhere: &'a [String],
}

/// Run every guard of this module.
pub fn guards(docs: &[Document], cfg: &InstanceConfig, ctx: &GuardContext<'_>) -> GuardReport {
    let taken;
    let inv = match ctx.inventory {
        Some(i) => i,
        None => {
            taken = inventory(docs, cfg);
            &taken
        }
    };
    GuardReport {
        results: vec![
            scoped(jit_keycloak(docs, cfg), ctx.module),
            orphan_synapse_sidecars(inv, cfg),
            namespace_markers(docs, cfg),
            scoped(scim(docs, cfg), ctx.module),
            plaintext_secrets(docs, cfg, ctx.known_secrets, ctx.root_clean, ctx.refused),
            namespaces(docs, cfg, ctx.created_elsewhere),
        ],
    }
}

/// In a module render, a guard that failed only because the module renders none of what it
/// looks for (its findings name no resource) passes: that workload's release is outside the
/// module, and the full render checks it.
fn scoped(r: GuardResult, module: bool) -> GuardResult {
    if module && !r.passed && r.findings.iter().all(|f| f.resource.is_none()) {
        // Not judged in a module render: it passes, as the full render's judgement stands.
        return GuardResult::pass(r.name);
    }
    r
}

/// The guard's name in `guards[]` (`scim` for `guard/scim`).
fn guard_name(guard: Check) -> &'static str {
    guard.guard_name().unwrap_or(guard.code())
}

fn fail(guard: Check, doc: Option<&Document>, message: String) -> Finding {
    let f = Finding::of(guard, message);
    match doc {
        Some(d) => f.at(&d.id(), &d.origin),
        None => f,
    }
}

/// `jit-keycloak`: with user sync on, every Keycloak workload carries the plugin and there is
/// at least one.
pub fn jit_keycloak(docs: &[Document], cfg: &InstanceConfig) -> GuardResult {
    const G: Check = Check::GuardJitKeycloak;
    if !cfg.external_idp.user_sync {
        return GuardResult::pass(guard_name(G));
    }
    let kc: Vec<&Document> = docs.iter().filter(|d| keycloak_container(d).is_some()).collect();
    let mut findings = Vec::new();
    if kc.is_empty() {
        findings.push(fail(
            G,
            None,
            "externalIdp.userSync is true but the render has no Keycloak workload (a Deployment or StatefulSet \
             running the keycloak image) to inject the JIT plugin into: include the release that renders Keycloak \
             (ums) or set `externalIdp.userSync: false`"
                .into(),
        ));
    }
    for d in &kc {
        let has = pod_spec(d)
            .and_then(|s| s.get("initContainers"))
            .and_then(Node::as_seq)
            .is_some_and(|l| l.iter().any(|c| c.get("name").and_then(Node::scalar_text) == Some(INIT_CONTAINER)));
        if !has {
            findings.push(fail(
                G,
                Some(d),
                format!(
                    "Keycloak workload has no `{INIT_CONTAINER}` initContainer although externalIdp.userSync is true: \
                     run the JIT stage, and check that no override removes it"
                ),
            ));
        }
    }
    GuardResult::from_findings(G, "JIT plugin missing", findings)
}

fn release_matches(release: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => release.starts_with(prefix),
        None => release == pattern,
    }
}

/// Is this a Synapse homeserver workload (a container running an image named `synapse`)?
pub fn is_synapse_homeserver(d: &Document) -> bool {
    containers(d).iter().any(|c| {
        c.list == ContainerList::Containers
            && c.node.get("image").and_then(Node::scalar_text).is_some_and(|i| ImageRef::parse(i).name() == "synapse")
    })
}

/// Does this inventory entry run a Synapse homeserver ([`is_synapse_homeserver`] on the
/// inventory's facts)?
pub fn runs_synapse_homeserver(e: &ResourceEntry) -> bool {
    e.workload
        && e.containers
            .iter()
            .any(|c| c.list == ContainerList::Containers && ImageRef::parse(&c.image).name() == "synapse")
}

/// `orphan-synapse-sidecars`: Synapse-adjacent workloads need a homeserver in the render.
/// Reads the inventory: which resources are workloads, and their containers' images.
pub fn orphan_synapse_sidecars(inv: &Inventory, _cfg: &InstanceConfig) -> GuardResult {
    const G: Check = Check::GuardOrphanSynapseSidecars;
    let mut adjacent: BTreeMap<&str, Vec<&ResourceEntry>> = BTreeMap::new();
    let mut homeserver = false;
    for r in &inv.releases {
        for e in r.resources.iter().filter(|e| e.workload) {
            homeserver |= runs_synapse_homeserver(e);
            if SYNAPSE_ADJACENT_RELEASES.iter().any(|p| release_matches(&r.release, p)) {
                adjacent.entry(&r.release).or_default().push(e);
            }
        }
    }
    if homeserver || adjacent.is_empty() {
        return GuardResult::pass(guard_name(G));
    }
    let findings = adjacent
        .iter()
        .map(|(release, es)| {
            let mut f = fail(
                G,
                None,
                format!(
                    "release {release} renders {} Synapse-adjacent workload(s) but no Synapse homeserver workload is \
                     rendered: enable Element/Synapse (apps.element.enabled) or disable the Synapse add-on releases \
                     (apps.elementAdmin, apps.elementGroupsync)",
                    es.len()
                ),
            );
            f.resource = Some(es[0].resource());
            f.origin = Some(es[0].origin(release));
            f
        })
        .collect();
    GuardResult::from_findings(G, "Synapse-adjacent workloads without a homeserver", findings)
}

fn marker_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:^|[^A-Za-z0-9_])(__[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*__)(?:$|[^A-Za-z0-9_])").expect("valid regex")
    })
}

/// The first `__UPPER_CASE__` placeholder in `text` (a whole token: not inside a longer
/// identifier such as `AWS__ACCESS__KEY`).
pub fn find_marker(text: &str) -> Option<&str> {
    // Most texts have no `_` at all: a SIMD scan for it, then a look at the next byte.
    let b = text.as_bytes();
    if !memchr::memchr_iter(b'_', b).any(|i| b.get(i + 1) == Some(&b'_')) {
        return None;
    }
    marker_re().captures(text).and_then(|c| c.get(1)).map(|m| m.as_str())
}

fn walk_markers(n: &Node, path: &mut Vec<PathSeg>, out: &mut Vec<(String, String)>) {
    match &n.value {
        Value::Scalar(s) => {
            if let Some(m) = find_marker(&s.text) {
                out.push((path_to_string(path), m.to_string()));
            }
        }
        Value::Seq(items) => {
            for (i, c) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                walk_markers(c, path, out);
                path.pop();
            }
        }
        Value::Map(m) => {
            for e in m {
                path.push(PathSeg::Key(e.key.text.clone()));
                if let Some(mk) = find_marker(&e.key.text) {
                    out.push((format!("{} (key)", path_to_string(path)), mk.to_string()));
                }
                walk_markers(&e.value, path, out);
                path.pop();
            }
        }
    }
}

fn is_argocd_own(d: &Document) -> bool {
    d.group() == "argoproj.io"
        || ARGOCD_RELEASES.contains(&d.origin.release.as_ref())
        || d.label("app.kubernetes.io/part-of") == Some("argocd")
}

/// `namespace-markers`: no placeholder left anywhere, nothing namespaced in the Argo CD
/// namespace (Argo CD's own resources and `argoproj.io` kinds excepted).
pub fn namespace_markers(docs: &[Document], cfg: &InstanceConfig) -> GuardResult {
    const G: Check = Check::GuardNamespaceMarkers;
    let scopes = Scopes::from_docs(docs);
    let argo = cfg.argocd.namespace.trim();
    let mut findings = Vec::new();
    if !argo.is_empty() && cfg.namespace.trim() == argo {
        findings.push(fail(
            G,
            None,
            format!(
                "the instance namespace {:?} is the Argo CD namespace: every release would land next to Argo CD. Set \
                 `namespace` (and helmfile's -n) to the openDesk namespace",
                cfg.namespace
            ),
        ));
    }
    // Per document in parallel, in document order; most documents hold no `__` at all, so
    // paths are only built for the ones that do.
    let per_doc: Vec<Vec<Finding>> = crate::par::map(docs, Document::weight, |d| {
        let mut findings = Vec::new();
        if d.root.any_text(&mut |t| find_marker(t).is_some()) {
            let mut hits = Vec::new();
            walk_markers(&d.root, &mut Vec::new(), &mut hits);
            for (path, marker) in hits {
                findings.push(
                    fail(
                        G,
                        Some(d),
                        format!(
                            "placeholder {marker} was never replaced: set the value it stands for (helmfile \
                             environment values or an override), e.g. render with `helmfile -n <namespace>` for \
                             __NAMESPACE__"
                        ),
                    )
                    .path(path),
                );
            }
        }
        if argo.is_empty() || is_argocd_own(d) {
            return findings;
        }
        let Some(kind) = d.kind() else { return findings };
        if !scopes.is_namespaced(d.group(), kind) {
            return findings;
        }
        if d.namespace() == Some(argo) {
            findings.push(
                fail(
                    G,
                    Some(d),
                    format!(
                        "namespaced resource in the Argo CD namespace {argo:?} (the `.Release.Namespace = argocd` \
                         bug: helmfile ran without `-n <namespace>`): render with `helmfile -n {}` or fix the \
                         namespace with an override",
                        cfg.namespace
                    ),
                )
                .path("$.metadata.namespace"),
            );
        }
        findings
    });
    findings.extend(per_doc.into_iter().flatten());
    GuardResult::from_findings(G, "namespace markers found", findings)
}

/// `namespaces`: every namespace a namespaced resource lands in is created by something:
/// an Application's destination (each release's, with `CreateNamespace=true`,
/// [`crate::output::argo::release_namespaces`]), a `Namespace` object in the tree, an entry
/// of `argocd.externalNamespaces`, or one every cluster has (`kube-system`, `kube-public`,
/// `default`) or Argo CD's own (`argocd.namespace`: nothing syncs without it). One finding
/// per namespace, naming it and its resources.
pub fn namespaces(docs: &[Document], cfg: &InstanceConfig, created_elsewhere: &[String]) -> GuardResult {
    const G: Check = Check::GuardNamespaces;
    use crate::output::argo::{release_namespaces_with, IMPLIED_NAMESPACES};
    let scopes = Scopes::from_docs(docs);
    let plan = release_namespaces_with(docs, cfg, &scopes);
    let mut created: std::collections::BTreeSet<&str> = plan.values().map(|r| r.destination.as_str()).collect();
    created.extend(IMPLIED_NAMESPACES);
    created.insert(cfg.argocd.namespace.as_str());
    created.extend(cfg.argocd.external_namespaces.iter().map(String::as_str));
    created.extend(created_elsewhere.iter().map(String::as_str));
    created
        .extend(docs.iter().filter(|d| d.group().is_empty() && d.kind() == Some("Namespace")).filter_map(|d| d.name()));
    let mut missing: BTreeMap<&str, Vec<&Document>> = BTreeMap::new();
    for d in docs {
        let Some(kind) = d.kind() else { continue };
        if !scopes.is_namespaced(d.group(), kind) {
            continue;
        }
        let ns = match d.namespace() {
            Some(ns) => ns,
            None => match plan.get(&*d.origin.release) {
                Some(r) => r.destination.as_str(),
                None => continue,
            },
        };
        if !created.contains(ns) {
            missing.entry(ns).or_default().push(d);
        }
    }
    const SHOWN: usize = 5;
    let findings: Vec<Finding> = missing
        .iter()
        .map(|(ns, ds)| {
            let mut releases: Vec<&str> = ds.iter().map(|d| &*d.origin.release).collect();
            releases.dedup();
            releases.sort_unstable();
            releases.dedup();
            let mut names: Vec<String> = ds.iter().take(SHOWN).map(|d| d.id().to_string()).collect();
            if ds.len() > SHOWN {
                names.push(format!("and {} more", ds.len() - SHOWN));
            }
            fail(
                G,
                Some(ds[0]),
                format!(
                    "namespace {ns:?} is used by {} resource(s) of release(s) {} ({}) but nothing creates it: no \
                     Application deploys to it with CreateNamespace=true and the tree has no Namespace {ns:?}. If \
                     something outside this tree creates it, list it in `argocd.externalNamespaces`; else add a \
                     Namespace manifest or move the resources to their release's namespace with an override",
                    ds.len(),
                    releases.join(", "),
                    names.join(", ")
                ),
            )
        })
        .collect();
    GuardResult::from_findings(G, "namespaces nobody creates", findings)
}

/// The destination namespaces the Applications under `<dir>/applications/` create
/// (`CreateNamespace=true`): what a module render's other releases create, read from the base
/// full render. Unreadable files are skipped (the base was checked when it was loaded).
pub fn base_destinations(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir.join(crate::output::APPLICATIONS_DIR)) else { return out };
    let mut files: Vec<std::path::PathBuf> =
        rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    for f in files {
        let Ok(text) = crate::fsio::read_regular_string_max(&f, crate::limits::CONFIG_FILE) else { continue };
        for app in crate::yaml::parse_documents(&text).unwrap_or_default() {
            let creates = app
                .get_path("spec.syncPolicy.syncOptions")
                .and_then(Node::as_seq)
                .is_some_and(|o| o.iter().any(|x| x.scalar_text() == Some("CreateNamespace=true")));
            if let Some(ns) = app.get_path("spec.destination.namespace").and_then(Node::scalar_text) {
                if creates && !out.iter().any(|o| o == ns) {
                    out.push(ns.to_string());
                }
            }
        }
    }
    out
}

/// A reference from a pod spec to a Secret: `(secret name, key)`.
pub fn secret_refs(d: &Document) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let text = |n: Option<&Node>| n.and_then(Node::scalar_text).map(str::to_string);
    for c in containers(d) {
        for e in c.node.get("env").and_then(Node::as_seq).into_iter().flatten() {
            if let Some(r) = e.get("valueFrom").and_then(|v| v.get("secretKeyRef")) {
                if let Some(n) = text(r.get("name")) {
                    out.push((n, text(r.get("key"))));
                }
            }
        }
        for e in c.node.get("envFrom").and_then(Node::as_seq).into_iter().flatten() {
            if let Some(n) = text(e.get("secretRef").and_then(|r| r.get("name"))) {
                out.push((n, None));
            }
        }
    }
    if let Some(vols) = pod_spec(d).and_then(|s| s.get("volumes")).and_then(Node::as_seq) {
        for v in vols {
            if let Some(n) = text(v.get("secret").and_then(|s| s.get("secretName"))) {
                out.push((n, None));
            }
            for s in v.get("projected").and_then(|p| p.get("sources")).and_then(Node::as_seq).into_iter().flatten() {
                if let Some(n) = text(s.get("secret").and_then(|s| s.get("name"))) {
                    out.push((n, None));
                }
            }
        }
    }
    out
}

/// Is this a SCIM server workload (its name or one of its images mentions `scim`)?
pub fn is_scim_server(d: &Document) -> bool {
    pod_spec(d).is_some()
        && (d.name().is_some_and(|n| n.to_ascii_lowercase().contains("scim"))
            || containers(d).iter().any(|c| {
                c.node
                    .get("image")
                    .and_then(Node::scalar_text)
                    .is_some_and(|i| ImageRef::parse(i).name().to_ascii_lowercase().contains("scim"))
            }))
}

/// `scim`: with `scim.enabled`, a SCIM server workload exists and references its token Secret
/// (a Secret reference whose Secret name or key contains `token`).
pub fn scim(docs: &[Document], cfg: &InstanceConfig) -> GuardResult {
    const G: Check = Check::GuardScim;
    if !cfg.scim.enabled {
        return GuardResult::pass(guard_name(G));
    }
    let servers: Vec<&Document> = docs.iter().filter(|d| is_scim_server(d)).collect();
    if servers.is_empty() {
        return GuardResult::from_findings(
            G,
            "no SCIM server",
            vec![fail(
                G,
                None,
                "scim.enabled is true but no SCIM server workload is rendered: enable the nubus scim-server sub-chart \
                 (nubusScimServer) in the ums release, or set `scim.enabled: false`"
                    .into(),
            )],
        );
    }
    let with_token = servers.iter().any(|d| {
        secret_refs(d).iter().any(|(n, k)| {
            n.to_ascii_lowercase().contains("token")
                || k.as_deref().is_some_and(|k| k.to_ascii_lowercase().contains("token"))
        })
    });
    if with_token {
        return GuardResult::pass(guard_name(G));
    }
    let findings = servers
        .iter()
        .map(|d| {
            fail(
                G,
                Some(d),
                "SCIM server workload references no token Secret (env valueFrom.secretKeyRef, envFrom.secretRef or a \
                 secret volume whose Secret or key names a token): configure the SCIM API token Secret of the \
                 scim-server chart (existingSecret) so clients can authenticate"
                    .into(),
            )
        })
        .collect();
    GuardResult::from_findings(G, "SCIM token Secret reference missing", findings)
}

/// `plaintext-secrets`: no Secret with data, and (given the known values) none of them in any
/// other document. Messages never contain a value. A value the redact stage already refused at
/// that path (`refused`, per document) is its finding, not reported again: one finding per
/// problem. The guard still fails on its own for a Secret with data and for a value anywhere
/// else.
pub fn plaintext_secrets(
    docs: &[Document],
    _cfg: &InstanceConfig,
    known: Option<&KnownSecrets>,
    root_clean: &[bool],
    refused: &[Vec<String>],
) -> GuardResult {
    // Only trusted when they describe exactly these documents.
    let root_clean = if root_clean.len() == docs.len() { root_clean } else { &[] };
    let refused = if refused.len() == docs.len() { refused } else { &[] };
    const G: Check = Check::GuardPlaintextSecrets;
    // Per document in parallel, collected in document order.
    let indexed: Vec<(usize, &Document)> = docs.iter().enumerate().collect();
    let per_doc: Vec<Vec<Finding>> = crate::par::map(
        &indexed,
        |(_, d)| d.weight(),
        |&(i, d)| {
            let mut findings = Vec::new();
            if is_secret(d) {
                if has_data(d) {
                    findings.push(fail(
                        G,
                        Some(d),
                        "Secret still carries data and would be pushed to git in plaintext: run the ESO stage with a \
                         usable `secretsManager` (storeRef kind and name, keyPrefix) so it becomes an ExternalSecret"
                            .into(),
                    ));
                }
                return findings;
            }
            let Some(k) = known.filter(|k| !k.is_empty()) else { return findings };
            if root_clean.get(i) == Some(&true) || !k.any_in(&d.root) {
                return findings;
            }
            let mut paths = Vec::new();
            d.root.walk_scalars(&mut Vec::new(), &mut |p, s| {
                if k.contains(&s.text) {
                    paths.push(p.to_vec());
                }
            });
            for p in paths {
                let path = k.masked_path(&p);
                if refused.get(i).is_some_and(|r| r.contains(&path)) {
                    continue;
                }
                findings.push(
                    fail(
                        G,
                        Some(d),
                        "a known secret value is left in this manifest (see redact/inline-secret): reference the \
                         Secret instead of inlining the value"
                            .into(),
                    )
                    .path(path),
                );
            }
            findings
        },
    );
    let findings: Vec<Finding> = per_doc.into_iter().flatten().collect();
    GuardResult::from_findings(G, "plaintext secrets in the output", findings)
}

/// A guard message as it may leave the process: known secret values masked (given them), and
/// credentials in URLs shown as `https://***@host/…`, like findings.
pub fn scrub_guard_message(known: Option<&KnownSecrets>, m: &mut String) {
    if let Some(k) = known {
        super::redact::scrub(k, m);
    }
    if let std::borrow::Cow::Owned(t) = crate::scrub::redact_url_credentials(m) {
        *m = t;
    }
}

/// The `guards` stage ([`guards`]), with the facts of the earlier stages: the inventory, and
/// the redact stage's known values. Its results join `required-patch` (patches stage) and
/// `redact-strict` (redact stage); their messages are scrubbed of known values here, the
/// findings by the pipeline as it merges them.
pub struct GuardsStage;

impl crate::pipeline::Stage for GuardsStage {
    fn name(&self) -> &'static str {
        "guards"
    }

    fn label(&self) -> &'static str {
        "checking guards"
    }

    fn run(&self, cx: &mut crate::pipeline::RenderContext<'_>) -> Result<Vec<Finding>, crate::pipeline::RenderError> {
        let elsewhere: Vec<String> =
            cx.module.and_then(|m| m.base.as_ref()).map(|b| base_destinations(&b.dir)).unwrap_or_default();
        let ctx = GuardContext {
            created_elsewhere: &elsewhere,
            inventory: Some(&cx.inventory),
            known_secrets: cx.redact.as_ref().map(|r| &r.known),
            root_clean: cx.redact.as_ref().map_or(&[][..], |r| &r.root_clean),
            refused: cx.redact.as_ref().map_or(&[][..], |r| &r.refused),
            module: cx.module.is_some(),
        };
        let mut results = guards(&cx.docs, cx.cfg, &ctx).results;
        // The findings go to the report's findings, in guard order; `guards[]` lists outcomes.
        let mut found: Vec<Finding> = results.iter_mut().flat_map(|r| std::mem::take(&mut r.findings)).collect();
        if let Some(m) = cx.module {
            // A module render: the secret-skew guard against the base full render.
            match &m.base {
                Some(base) => {
                    let skew = crate::module::secret_skew(&cx.docs, base, &m.scope, m.allow_secret_removal);
                    results.push(skew.guard);
                    found.extend(skew.findings);
                }
                None => {
                    let (g, f) = crate::module::no_base_guard();
                    results.push(g);
                    found.push(f);
                }
            }
            let rendered: std::collections::BTreeSet<String> =
                cx.docs.iter().map(|d| d.origin.release.to_string()).collect();
            cx.module_meta =
                Some(crate::module::ModuleMeta::new(m, rendered, std::mem::take(&mut cx.out_of_scope_patches)));
        }
        for m in results.iter_mut().filter_map(|g| g.message.as_mut()) {
            scrub_guard_message(cx.known_secrets(), m);
        }
        cx.guards.extend(results);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::testutil::docs;

    fn cfg() -> InstanceConfig {
        InstanceConfig::minimal("1.13.1")
    }

    fn codes(r: &GuardResult) -> Vec<String> {
        r.findings
            .iter()
            .map(|f| format!("{} {}", f.resource.clone().unwrap_or_default(), f.path.clone().unwrap_or_default()))
            .collect()
    }

    const KEYCLOAK: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: ums-keycloak, namespace: opendesk}\nspec:\n  template:\n    spec:\n      containers: [{name: keycloak, image: quay.io/keycloak/keycloak:26.0}]\n";

    #[test]
    fn jit_keycloak_guard() {
        let mut c = cfg();
        assert!(jit_keycloak(&[], &c).passed, "off: not applicable");
        c.external_idp.user_sync = true;
        c.jit.image = "jit:1".into();
        // Failing: no Keycloak at all.
        let r = jit_keycloak(&docs("x", "f.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), &c);
        assert!(!r.passed);
        assert!(r.findings[0].message.contains("set `externalIdp.userSync: false`"));
        // Failing: Keycloak without the plugin.
        let mut ds = docs("ums", "f.yaml", KEYCLOAK);
        let r = jit_keycloak(&ds, &c);
        assert_eq!(codes(&r), ["StatefulSet/opendesk/ums-keycloak "]);
        // Passing: after the JIT stage.
        crate::stages::jit::jit(&mut ds, &c).unwrap();
        assert!(jit_keycloak(&ds, &c).passed);
    }

    #[test]
    fn orphan_synapse_guard() {
        let web = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: synapse-web}\nspec: {template: {spec: {containers: [{name: web, image: nginx:1}]}}}\n";
        let hs = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: synapse}\nspec: {template: {spec: {initContainers: [{name: i, image: matrix-tools:1}], containers: [{name: synapse, image: oci.element.io/synapse:v1.159.0}]}}}\n";
        // Failing: adjacent release alone.
        let ds = docs("opendesk-synapse-web", "f.yaml", web);
        let r = orphan_synapse_sidecars(&inventory(&ds, &cfg()), &cfg());
        assert!(!r.passed);
        assert!(
            r.findings[0].message.contains("release opendesk-synapse-web renders 1 Synapse-adjacent"),
            "{}",
            r.findings[0].message
        );
        assert!(r.findings[0].message.contains("apps.element.enabled"));
        // Passing: with the homeserver.
        let mut ds = ds;
        ds.extend(docs("opendesk-synapse", "f.yaml", hs));
        assert!(orphan_synapse_sidecars(&inventory(&ds, &cfg()), &cfg()).passed);
        // Passing: nothing Synapse-related.
        assert!(orphan_synapse_sidecars(&inventory(&docs("redis", "f.yaml", web), &cfg()), &cfg()).passed);
    }

    #[test]
    fn markers() {
        assert_eq!(find_marker("http://x.__NAMESPACE__.svc"), Some("__NAMESPACE__"));
        assert_eq!(find_marker("__DOMAIN__"), Some("__DOMAIN__"));
        assert_eq!(find_marker("OPENPROJECT_AWS__ACCESS__KEY"), None);
        assert_eq!(find_marker("__init__ __meta_kubernetes__"), None);
        assert_eq!(find_marker("a__B__"), None);
    }

    #[test]
    fn namespace_markers_guard() {
        let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: argocd}\ndata:\n  url: http://svc.__NAMESPACE__.svc\n  __TOKEN__: x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, namespace: argocd}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: app, namespace: argocd}\n";
        let r = namespace_markers(&docs("ums", "f.yaml", bad), &cfg());
        assert!(!r.passed);
        assert_eq!(
            codes(&r),
            [
                "ConfigMap/argocd/a $.data.url",
                "ConfigMap/argocd/a $.data.__TOKEN__ (key)",
                "ConfigMap/argocd/a $.metadata.namespace"
            ]
        );
        assert!(r.findings[2].message.contains("helmfile -n opendesk"));
        // Argo CD's own release may live there.
        assert!(
            namespace_markers(
                &docs("argocd", "f.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: argocd}\n"),
                &cfg()
            )
            .passed
        );
        // The instance namespace equal to Argo CD's is one clear finding.
        let mut c = cfg();
        c.namespace = "argocd".into();
        let r = namespace_markers(&docs("ums", "f.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), &c);
        assert_eq!(r.findings.len(), 1);
        assert!(r.findings[0].message.contains("is the Argo CD namespace"));
        // Passing.
        let good =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: opendesk}\ndata: {k: AWS__ACCESS__KEY}\n";
        assert!(namespace_markers(&docs("ums", "f.yaml", good), &cfg()).passed);
    }

    #[test]
    fn scim_guard() {
        let mut c = cfg();
        assert!(scim(&[], &c).passed);
        c.scim.enabled = true;
        // Failing: no server.
        let r = scim(&docs("ums", "f.yaml", KEYCLOAK), &c);
        assert!(!r.passed && r.findings[0].message.contains("nubusScimServer"));
        // Failing: server without a token reference.
        let server = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ums-scim-server}\nspec:\n  template:\n    spec:\n      containers:\n        - name: scim\n          image: nubus/scim-server:1.0\n          env:\n            - name: DB_PASSWORD\n              valueFrom: {secretKeyRef: {name: ums-scim-db, key: password}}\n";
        let r = scim(&docs("ums", "f.yaml", server), &c);
        assert!(!r.passed);
        assert_eq!(codes(&r), ["Deployment/-/ums-scim-server "]);
        // Passing: a token Secret reference.
        let ok = server.replace("ums-scim-db, key: password", "ums-scim-server-api, key: token");
        assert!(scim(&docs("ums", "f.yaml", &ok), &c).passed);
        let ok = format!("{server}      volumes: [{{name: t, secret: {{secretName: scim-api-token}}}}]\n");
        assert!(scim(&docs("ums", "f.yaml", &ok), &c).passed);
    }

    #[test]
    fn plaintext_guard() {
        let bad = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter22}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {conf: \"pw=hunter22\"}\n";
        let ds = docs("r", "f.yaml", bad);
        let known = KnownSecrets::from_values(["hunter22"]);
        let r = plaintext_secrets(&ds, &cfg(), Some(&known), &[], &[]);
        assert!(!r.passed);
        assert_eq!(codes(&r), ["Secret/-/s ", "ConfigMap/-/c $.data.conf"]);
        let all = serde_json::to_string(&r).unwrap();
        assert!(!all.contains("hunter22"));
        // Passing: data-less Secret and clean documents.
        let good = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {conf: \"pw=<redacted>\"}\n";
        assert!(plaintext_secrets(&docs("r", "f.yaml", good), &cfg(), Some(&known), &[], &[]).passed);
        // Trees the redact stage found clean are not searched again; a list that does not
        // describe these documents is ignored.
        let skip = plaintext_secrets(&ds, &cfg(), Some(&known), &[false, true], &[]);
        assert_eq!(codes(&skip), ["Secret/-/s "]);
        let wrong = plaintext_secrets(&ds, &cfg(), Some(&known), &[true], &[]);
        assert_eq!(codes(&wrong), ["Secret/-/s ", "ConfigMap/-/c $.data.conf"]);
        // A value the redact stage refused at that path is its finding, not a second one; the
        // guard still fails for the Secret with data, for any other path, and ignores a list
        // that does not describe these documents.
        let refused = vec![Vec::new(), vec!["$.data.conf".to_string()]];
        assert_eq!(codes(&plaintext_secrets(&ds, &cfg(), Some(&known), &[], &refused)), ["Secret/-/s "]);
        let other = vec![Vec::new(), vec!["$.data.other".to_string()]];
        assert_eq!(
            codes(&plaintext_secrets(&ds, &cfg(), Some(&known), &[], &other)),
            ["Secret/-/s ", "ConfigMap/-/c $.data.conf"]
        );
        let short = vec![vec!["$.data.conf".to_string()]];
        assert_eq!(
            codes(&plaintext_secrets(&ds, &cfg(), Some(&known), &[], &short)),
            ["Secret/-/s ", "ConfigMap/-/c $.data.conf"]
        );
    }

    #[test]
    fn guard_messages_are_scrubbed_like_findings() {
        let known = KnownSecrets::from_values(["Zq8kW3pVx7Lm2Rt"]);
        let mut m = "pushed to https://me:tok3n@git.example/x.git with Zq8kW3pVx7Lm2Rt".to_string();
        scrub_guard_message(Some(&known), &mut m);
        assert_eq!(m, "pushed to https://***@git.example/x.git with <redacted>");
        let mut m = "see http://u:p@h/".to_string();
        scrub_guard_message(None, &mut m);
        assert_eq!(m, "see http://***@h/");
    }

    #[test]
    fn namespaces_guard() {
        let c = cfg();
        // vault's chart puts everything in `vault`: its Application deploys there and creates it.
        let vault = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: vault}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: vault}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n";
        let mut ds = docs("vault", "f.yaml", vault);
        assert!(namespaces(&ds, &c, &[]).passed, "{:?}", namespaces(&ds, &c, &[]));
        // A second release uses `vault` for one resource and `monitoring`, which nothing creates;
        // its own namespace is opendesk (the most resources).
        let mixed = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: opendesk}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, namespace: opendesk}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: e, namespace: vault}\n---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: monitoring}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: k, namespace: kube-system}\n";
        ds.extend(docs("app", "g.yaml", mixed));
        let r = namespaces(&ds, &c, &[]);
        assert!(!r.passed);
        assert_eq!(codes(&r), ["ServiceMonitor/monitoring/m "]);
        let m = &r.findings[0].message;
        assert!(m.contains("namespace \"monitoring\" is used by 1 resource(s) of release(s) app"), "{m}");
        assert!(m.contains("argocd.externalNamespaces"), "{m}");
        // Listed as created elsewhere: passes.
        let mut c2 = c.clone();
        c2.argocd.external_namespaces = vec!["monitoring".into()];
        assert!(namespaces(&ds, &c2, &[]).passed);
        assert!(namespaces(&ds, &c, &["monitoring".to_string()]).passed, "created by the base's Applications");
        // A Namespace object in the tree creates it too.
        let mut with_ns = ds.clone();
        with_ns.extend(docs("platform", "n.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: monitoring}\n"));
        assert!(namespaces(&with_ns, &c, &[]).passed);
        // A cluster-scoped kind carrying a namespace does not use one; a CRD's scope counts.
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: xs.ex.io}\nspec: {group: ex.io, scope: Cluster, names: {kind: X}}\n---\napiVersion: ex.io/v1\nkind: X\nmetadata: {name: x, namespace: nowhere}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b, namespace: nowhere}\n";
        assert!(namespaces(&docs("x", "c.yaml", crd), &c, &[]).passed);
        let namespaced = crd.replace("scope: Cluster", "scope: Namespaced");
        let mut two = docs("x", "c.yaml", &namespaced);
        two.extend(docs("y", "y.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n"));
        // x: its one namespaced resource carries `nowhere` → its destination: created.
        assert!(namespaces(&two, &c, &[]).passed);
        // Many resources: five are named, then a count.
        let many: String = (0..7)
            .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: far}}\n"))
            .collect();
        let own: String = (0..8)
            .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: o{i}, namespace: opendesk}}\n"))
            .collect();
        let mut ds = docs("app", "h.yaml", &own);
        ds.extend(docs("app", "i.yaml", &many));
        let r = namespaces(&ds, &c, &[]);
        assert_eq!(r.findings.len(), 1, "{r:?}");
        assert!(r.findings[0].message.contains("used by 7 resource(s)"), "{}", r.findings[0].message);
        assert!(r.findings[0].message.contains("and 2 more"), "{}", r.findings[0].message);
    }

    #[test]
    fn all_guards_pass_on_a_clean_render() {
        let ds = docs("ums", "f.yaml", KEYCLOAK);
        let r = guards(&ds, &cfg(), &GuardContext::default());
        assert!(!r.failed(), "{r:?}");
        assert_eq!(r.results.len(), 6);
        let mut r = r;
        r.push(GuardResult::fail("required-patch", "x"));
        assert!(r.failed());
        assert_eq!(r.failures().count(), 1);
    }
}
