//! Argo CD `Application`s (`argoproj.io/v1alpha1`), built as [`Node`] trees.
//!
//! - One child per release: `<instance>-<release>` in `argocd.namespace`, source
//!   `<argocd.path>/releases/<release>` of `argocd.repoURL` at `argocd.targetRevision`,
//!   destination the in-cluster API server and the instance namespace, annotation
//!   `argocd.argoproj.io/sync-wave` from the release graph.
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
use crate::yaml::{map_of, seq_of, Node};

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

/// The child Application of one release.
pub fn child_application(cfg: &InstanceConfig, release: &str, sync_wave: i64, opts: &AppOptions) -> Node {
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
                    map_of(vec![
                        ("server", Node::string(IN_CLUSTER)),
                        ("namespace", Node::string(cfg.namespace.as_str())),
                    ]),
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
        };
        c
    }

    #[test]
    fn child_application_shape() {
        let n = child_application(&cfg(), "ums", 45, &AppOptions::default());
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
        let n = child_application(&c, "ums", 0, &AppOptions::default());
        assert!(n.get_path("metadata.labels").unwrap().get("app.kubernetes.io/part-of").is_none());
    }
}
