//! Argo CD `Application`s (`argoproj.io/v1alpha1`), built as [`Node`] trees.
//!
//! - One child per release: `<instance>-<release>` in `argocd.namespace`, source
//!   `<argocd.path>/releases/<release>` of `argocd.repoURL` at `argocd.targetRevision`,
//!   destination the in-cluster API server and the release's namespace
//!   ([`release_namespaces`]: the namespace its namespaced resources carry, else the instance
//!   namespace), annotation `argocd.argoproj.io/sync-wave` from the release graph.
//! - One parent ("app of apps"), `<instance>-parent`, whose source is
//!   `<argocd.path>/applications`; it excludes its own file (`<instance>-parent.yaml`) so that it
//!   does not manage itself: the deployer applies the parent once, Argo CD does the rest.
//!
//! Sync policy (both kinds): automated with `prune` and `selfHeal`; sync options
//! `ServerSideApply=true` (the manifests are written for server-side apply: list-map keys,
//! field ownership), `PruneLast=true` (remove old resources only after the new ones are
//! healthy), and for children `CreateNamespace=true` (helmfile's default `createNamespace`);
//! a bounded retry with backoff (e.g. while a CRD from an earlier wave becomes established).
//! The finalizer `resources-finalizer.argocd.argoproj.io` makes deletion cascade.
//!
//! Note: Argo CD applies child Applications in sync-wave order, but since v1.8 it does not wait
//! for a child Application to be *healthy* before the next wave unless the health check for
//! `argoproj.io/Application` is enabled in `argocd-cm`
//! (`resource.customizations.health.argoproj.io_Application`). Enable it for the waves to gate.

use crate::config::InstanceConfig;
use crate::document::Document;
use crate::stages::Scopes;
use crate::yaml::{map_of, seq_of, Entry, Node, Scalar};
use std::collections::{BTreeMap, BTreeSet};

/// The in-cluster API server.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";
/// Finalizer for cascading delete.
pub const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
/// The sync-wave annotation.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// `apiVersion` of Applications.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// Sync policy knobs (defaults: automated, prune, self-heal, 5 retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOptions {
    /// `syncPolicy.automated` present.
    pub automated: bool,
    /// `automated.prune`.
    pub prune: bool,
    /// `automated.selfHeal`.
    pub self_heal: bool,
    /// `retry.limit` (0 = no retry block).
    pub retry_limit: u32,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions { automated: true, prune: true, self_heal: true, retry_limit: 5 }
    }
}

fn b(v: bool) -> Node {
    Node::plain(if v { "true" } else { "false" })
}

/// Join repository path parts with `/`, dropping empty parts and stray slashes
/// (`("", "releases/ums")` → `releases/ums`; `("a/", "/b")` → `a/b`).
pub fn repo_path(parts: &[&str]) -> String {
    parts.iter().flat_map(|p| p.split('/')).filter(|s| !s.is_empty() && *s != ".").collect::<Vec<_>>().join("/")
}

/// Name of a release's child Application.
pub fn application_name(cfg: &InstanceConfig, release: &str) -> String {
    format!("{}-{release}", cfg.instance)
}

/// Name of the parent Application.
pub fn parent_name(cfg: &InstanceConfig) -> String {
    format!("{}-parent", cfg.instance)
}

/// True for a Kubernetes label value (≤ 63 characters, alphanumeric at both ends, `-_.`).
fn label_value_ok(v: &str) -> bool {
    v.len() <= 63
        && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && v.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && v.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// True for a DNS-1123 subdomain (Application names).
pub fn dns_subdomain_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn metadata(cfg: &InstanceConfig, name: String, component: &str, wave: Option<i64>) -> Node {
    let mut labels = vec![("app.kubernetes.io/managed-by", Node::string("opendesk-render"))];
    if label_value_ok(&cfg.instance) {
        labels.push(("app.kubernetes.io/part-of", Node::string(cfg.instance.as_str())));
    }
    if label_value_ok(component) {
        labels.push(("app.kubernetes.io/component", Node::string(component)));
    }
    let mut md = vec![
        ("name", Node::string(name)),
        ("namespace", Node::string(cfg.argocd.namespace.as_str())),
        ("labels", map_of(labels)),
    ];
    if let Some(w) = wave {
        md.push(("annotations", map_of(vec![(SYNC_WAVE, Node::string(w.to_string()))])));
    }
    md.push(("finalizers", seq_of(vec![Node::string(FINALIZER)])));
    map_of(md)
}

fn sync_policy(opts: &AppOptions, create_namespace: bool) -> Node {
    let mut sp = Vec::new();
    if opts.automated {
        sp.push(("automated", map_of(vec![("prune", b(opts.prune)), ("selfHeal", b(opts.self_heal))])));
    }
    let mut so = vec![Node::string("ServerSideApply=true")];
    if create_namespace {
        so.push(Node::string("CreateNamespace=true"));
    }
    so.push(Node::string("PruneLast=true"));
    sp.push(("syncOptions", seq_of(so)));
    if opts.retry_limit > 0 {
        sp.push((
            "retry",
            map_of(vec![
                ("limit", Node::plain(opts.retry_limit.to_string())),
                (
                    "backoff",
                    map_of(vec![
                        ("duration", Node::plain("5s")),
                        ("factor", Node::plain("2")),
                        ("maxDuration", Node::plain("3m")),
                    ]),
                ),
            ]),
        ));
    }
    map_of(sp)
}

fn source(cfg: &InstanceConfig, path: String, exclude: Option<String>) -> Node {
    let mut s = vec![
        ("repoURL", Node::string(cfg.argocd.repo_url.as_str())),
        ("targetRevision", Node::string(cfg.argocd.target_revision.as_str())),
        ("path", Node::string(path)),
    ];
    if let Some(x) = exclude {
        s.push(("directory", map_of(vec![("exclude", Node::string(x))])));
    }
    map_of(s)
}

/// Namespaces every cluster has: resources may use them without anything creating them.
pub const IMPLIED_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "default"];

/// Where one release's namespaced resources land.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseNamespaces {
    /// The Application's destination namespace (created with `CreateNamespace=true`); the
    /// resources without a namespace get it.
    pub destination: String,
    /// Namespaced resources per namespace they carry in `metadata.namespace`.
    pub carried: BTreeMap<String, usize>,
    /// Namespaced resources that carry none.
    pub unset: usize,
}

impl ReleaseNamespaces {
    /// Every namespace the release's resources land in (the destination for the unset ones).
    pub fn spanned(&self) -> BTreeSet<&str> {
        let mut s: BTreeSet<&str> = self.carried.keys().map(String::as_str).collect();
        if self.unset > 0 || s.is_empty() {
            s.insert(self.destination.as_str());
        }
        s
    }
}

/// Per release, the namespace its Application deploys to (the helmfile release namespace as
/// its namespaced resources carry it) and the namespaces they use. Cluster-scoped kinds (the
/// built-in list and the CRDs in `docs` with `scope: Cluster`) do not count.
///
/// The destination is the namespace most of the release's namespaced resources carry, not
/// counting the ones every cluster has ([`IMPLIED_NAMESPACES`], e.g. cert-manager's leader
/// election Role in `kube-system`) unless the release uses nothing else. A tie goes to the
/// instance namespace when it is one of the tied, else to the first by name. A release whose
/// resources carry no namespace deploys to the instance namespace.
pub fn release_namespaces(docs: &[Document], cfg: &InstanceConfig) -> BTreeMap<String, ReleaseNamespaces> {
    release_namespaces_with(docs, cfg, &Scopes::from_docs(docs))
}

/// [`release_namespaces`] with the scopes already taken.
pub fn release_namespaces_with(
    docs: &[Document],
    cfg: &InstanceConfig,
    scopes: &Scopes,
) -> BTreeMap<String, ReleaseNamespaces> {
    let mut out: BTreeMap<String, ReleaseNamespaces> = BTreeMap::new();
    for d in docs {
        let r = out.entry(d.origin.release.to_string()).or_default();
        let Some(kind) = d.kind() else { continue };
        if !scopes.is_namespaced(d.group(), kind) {
            continue;
        }
        match d.namespace() {
            Some(ns) => *r.carried.entry(ns.to_string()).or_default() += 1,
            None => r.unset += 1,
        }
    }
    for r in out.values_mut() {
        r.destination = pick_destination(&r.carried, &cfg.namespace);
    }
    out
}

fn pick_destination(carried: &BTreeMap<String, usize>, instance: &str) -> String {
    let own: Vec<(&String, &usize)> =
        carried.iter().filter(|(ns, _)| !IMPLIED_NAMESPACES.contains(&ns.as_str())).collect();
    let pool = if own.is_empty() { carried.iter().collect() } else { own };
    let Some(max) = pool.iter().map(|(_, n)| **n).max() else { return instance.to_string() };
    let tied: Vec<&String> = pool.iter().filter(|(_, n)| **n == max).map(|(ns, _)| *ns).collect();
    match tied.iter().find(|ns| ns.as_str() == instance) {
        Some(ns) => ns.to_string(),
        None => tied[0].clone(),
    }
}

/// Who [`assign_namespaces`] says made the change (`explain`): the overrides stage runs it
/// last, after the instance's overrides, the last changes to where a resource lands.
pub const ASSIGNED_BY: &str = "stage:overrides";

/// Give every namespaced resource without `metadata.namespace` its release's destination
/// (inserted after `metadata.name`), so the tree says where each resource lands. Returns how
/// many were set.
pub fn assign_namespaces(docs: &mut [Document], plan: &BTreeMap<String, ReleaseNamespaces>, scopes: &Scopes) -> usize {
    let mut set = 0;
    for d in docs.iter_mut() {
        let Some(kind) = d.kind() else { continue };
        if d.namespace().is_some() || !scopes.is_namespaced(d.group(), kind) {
            continue;
        }
        let Some(dest) = plan.get(&*d.origin.release).map(|r| r.destination.clone()) else { continue };
        let Some(md) = d.root.get_mut("metadata").and_then(Node::as_map_mut) else { continue };
        let entry =
            Entry { key: Scalar::string("namespace"), key_line: 0, key_col: 0, value: Node::string(dest.as_str()) };
        match md.iter().position(|e| e.key.text == "namespace") {
            // `namespace:` present but empty or null.
            Some(i) => md[i].value = entry.value,
            None => {
                let at = md.iter().position(|e| e.key.text == "name").map_or(md.len(), |i| i + 1);
                md.insert(at, entry);
            }
        }
        d.record(ASSIGNED_BY, "set", "$.metadata.namespace".into(), Some(format!("the release's namespace {dest}")));
        set += 1;
    }
    set
}

/// The child Application of one release, deploying to `namespace` (created if missing).
pub fn child_application(
    cfg: &InstanceConfig,
    release: &str,
    namespace: &str,
    sync_wave: i64,
    opts: &AppOptions,
) -> Node {
    map_of(vec![
        ("apiVersion", Node::string(API_VERSION)),
        ("kind", Node::string("Application")),
        ("metadata", metadata(cfg, application_name(cfg, release), release, Some(sync_wave))),
        (
            "spec",
            map_of(vec![
                ("project", Node::string(cfg.argocd.project.as_str())),
                ("source", source(cfg, repo_path(&[&cfg.argocd.path, "releases", release]), None)),
                (
                    "destination",
                    map_of(vec![("server", Node::string(IN_CLUSTER)), ("namespace", Node::string(namespace))]),
                ),
                ("syncPolicy", sync_policy(opts, true)),
            ]),
        ),
    ])
}

/// The parent ("app of apps") Application: syncs `<path>/applications` into the Argo CD
/// namespace, excluding its own file.
pub fn parent_application(cfg: &InstanceConfig, opts: &AppOptions) -> Node {
    let own_file = format!("{}.yaml", parent_name(cfg));
    map_of(vec![
        ("apiVersion", Node::string(API_VERSION)),
        ("kind", Node::string("Application")),
        ("metadata", metadata(cfg, parent_name(cfg), "parent", None)),
        (
            "spec",
            map_of(vec![
                ("project", Node::string(cfg.argocd.project.as_str())),
                ("source", source(cfg, repo_path(&[&cfg.argocd.path, "applications"]), Some(own_file))),
                (
                    "destination",
                    map_of(vec![
                        ("server", Node::string(IN_CLUSTER)),
                        ("namespace", Node::string(cfg.argocd.namespace.as_str())),
                    ]),
                ),
                ("syncPolicy", sync_policy(opts, false)),
            ]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ArgoCd;
    use crate::yaml::emit;

    pub(crate) fn cfg() -> InstanceConfig {
        let mut c = InstanceConfig::minimal("1.13.1");
        c.instance = "acme".into();
        c.argocd = ArgoCd {
            namespace: "argocd".into(),
            project: "opendesk".into(),
            repo_url: "https://git.example.org/opendesk/acme.git".into(),
            target_revision: "main".into(),
            path: "instances/acme".into(),
            external_namespaces: Vec::new(),
        };
        c
    }

    #[test]
    fn child_application_shape() {
        let n = child_application(&cfg(), "ums", "opendesk", 45, &AppOptions::default());
        let y = emit(&n);
        assert_eq!(
            y,
            "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: acme-ums
  namespace: argocd
  labels:
    app.kubernetes.io/managed-by: opendesk-render
    app.kubernetes.io/part-of: acme
    app.kubernetes.io/component: ums
  annotations:
    argocd.argoproj.io/sync-wave: '45'
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: opendesk
  source:
    repoURL: https://git.example.org/opendesk/acme.git
    targetRevision: main
    path: instances/acme/releases/ums
  destination:
    server: https://kubernetes.default.svc
    namespace: opendesk
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - ServerSideApply=true
      - CreateNamespace=true
      - PruneLast=true
    retry:
      limit: 5
      backoff:
        duration: 5s
        factor: 2
        maxDuration: 3m
"
        );
        // The annotation is a string to Kubernetes (annotations are map[string]string).
        assert_eq!(n.get_path("metadata.annotations").unwrap().get(SYNC_WAVE).unwrap().as_str(), Some("45"));
    }

    #[test]
    fn parent_application_shape() {
        let n = parent_application(&cfg(), &AppOptions { automated: false, retry_limit: 0, ..Default::default() });
        assert_eq!(n.get_path("metadata.name").unwrap().as_str(), Some("acme-parent"));
        assert_eq!(n.get_path("spec.source.path").unwrap().as_str(), Some("instances/acme/applications"));
        assert_eq!(n.get_path("spec.source.directory.exclude").unwrap().as_str(), Some("acme-parent.yaml"));
        assert_eq!(n.get_path("spec.destination.namespace").unwrap().as_str(), Some("argocd"));
        assert!(n.get_path("metadata.annotations").is_none());
        assert!(n.get_path("spec.syncPolicy.automated").is_none());
        assert!(n.get_path("spec.syncPolicy.retry").is_none());
        let so: Vec<_> = n.get_path("spec.syncPolicy.syncOptions").unwrap().to_json().as_array().unwrap().clone();
        assert_eq!(so, ["ServerSideApply=true", "PruneLast=true"]);
    }

    #[test]
    fn destinations_and_assignment() {
        let c = cfg();
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: vault}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  labels: {x: y}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: le, namespace: kube-system}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: cr}\n";
        let mut ds = crate::stages::testutil::docs("vault", "f.yaml", text);
        ds.extend(crate::stages::testutil::docs(
            "plain",
            "g.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\n",
        ));
        ds.extend(crate::stages::testutil::docs(
            "sys",
            "h.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s, namespace: kube-system}\n",
        ));
        let plan = release_namespaces(&ds, &c);
        assert_eq!(plan["vault"].destination, "vault", "kube-system does not outvote the release's own");
        assert_eq!(plan["vault"].carried.len(), 2);
        assert_eq!(plan["vault"].unset, 1);
        assert_eq!(plan["vault"].spanned().into_iter().collect::<Vec<_>>(), ["kube-system", "vault"]);
        assert_eq!(plan["plain"].destination, "opendesk", "no namespace carried: the instance's");
        assert_eq!(plan["sys"].destination, "kube-system", "only implied ones: the most used");
        // Ties: the instance namespace wins when tied, else the first by name.
        let tie = |a: &str, b: &str| {
            let m: BTreeMap<String, usize> = [(a.to_string(), 1), (b.to_string(), 1)].into();
            pick_destination(&m, "opendesk")
        };
        assert_eq!(tie("zz", "opendesk"), "opendesk");
        assert_eq!(tie("zz", "bb"), "bb");
        let scopes = Scopes::from_docs(&ds);
        assert_eq!(assign_namespaces(&mut ds, &plan, &scopes), 2);
        assert_eq!(ds[1].namespace(), Some("vault"));
        assert_eq!(
            emit(&ds[1].root),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: vault\n  labels:\n    x: y\n"
        );
        assert_eq!(ds[3].namespace(), None, "cluster-scoped: never");
        assert_eq!(ds[4].namespace(), Some("opendesk"));
        assert_eq!(ds[1].changes.len(), 1);
        let n = child_application(&c, "vault", "vault", 0, &AppOptions::default());
        assert_eq!(n.get_path("spec.destination.namespace").unwrap().as_str(), Some("vault"));
    }

    #[test]
    fn paths_and_names() {
        assert_eq!(repo_path(&["", "releases", "ums"]), "releases/ums");
        assert_eq!(repo_path(&["/a/b/", "./", "c"]), "a/b/c");
        assert!(dns_subdomain_ok("acme-opendesk-keycloak-bootstrap"));
        assert!(!dns_subdomain_ok("Acme-x"));
        assert!(!dns_subdomain_ok("acme_x"));
        assert!(!dns_subdomain_ok("-a"));
        assert!(label_value_ok("ums") && !label_value_ok("-x") && !label_value_ok(&"a".repeat(64)));
        let mut c = cfg();
        c.instance = "a".repeat(70);
        let n = child_application(&c, "ums", "opendesk", 0, &AppOptions::default());
        assert!(n.get_path("metadata.labels").unwrap().get("app.kubernetes.io/part-of").is_none());
    }
}
