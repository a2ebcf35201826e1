//! The pipeline stages after patches (DESIGN §6), one module per stage.
//!
//! Every stage is a pure function of the documents and the instance config (plus, for the
//! later stages, what an earlier stage returned). Each returns its own serializable report
//! (deterministic order, never a secret value) with [`Finding`](crate::Finding)s, or a typed
//! error for conditions that must stop the render. The pipeline composes them in this order:
//!
//! ```text
//! jit → (overrides) → dedup → lint → inventory → eso → redact → guards
//! ```
//!
//! | stage | function | fatal condition |
//! |---|---|---|
//! | [`jit`] | [`jit::jit`] | `externalIdp.userSync` without `jit.image` ([`jit::JitError`]) |
//! | [`dedup`] | [`dedup::dedup`] | same identity, different content ([`dedup::DedupError`]) |
//! | [`lint`] | [`lint::lint`] | none: error findings fail the render after collection |
//! | [`inventory`] | [`inventory::inventory`] | none |
//! | [`eso`] | [`eso::eso`] | Secrets with data and no usable `secretsManager` ([`eso::EsoError`]) |
//! | [`redact`] | [`redact::redact`] | never fails: an inlined secret value is an error finding (`redact/inline-secret`) |
//! | [`guards`] | [`guards::guards`] | none: failed guards fail the render (exit 1) |
//!
//! This module holds the helpers the stages share: where a workload keeps its pod spec,
//! iterating containers, image references, and which kinds are namespaced.

pub mod classify;
pub mod dedup;
pub mod embedded;
pub mod eso;
pub mod forms;
pub mod guards;
pub mod inventory;
pub mod jit;
pub mod lint;
pub mod output;
pub mod patches;
pub mod redact;

use crate::config::InstanceConfig;
use crate::document::Document;
use crate::yaml::{Node, PathSeg};
use std::collections::HashMap;

pub(crate) use crate::yaml::key;

/// One step of a borrowed path, for walks that build a [`PathSeg`] path only where they
/// report something (no key copied per visited node).
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl Seg<'_> {
    /// The owned segment.
    pub(crate) fn owned(&self) -> PathSeg {
        match self {
            Seg::Key(k) => key(k),
            Seg::Index(i) => PathSeg::Index(*i),
        }
    }
}

/// The path of the pod spec inside a workload of this kind, or `None` for kinds without one.
///
/// `Pod` → `spec`; `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, `Job`,
/// `ReplicationController` → `spec.template.spec`; `CronJob` →
/// `spec.jobTemplate.spec.template.spec`; `PodTemplate` → `template.spec`.
pub fn pod_spec_keys(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController" => {
            Some(&["spec", "template", "spec"])
        }
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "PodTemplate" => Some(&["template", "spec"]),
        _ => None,
    }
}

/// Kinds that run pods (have a pod spec), in the order [`pod_spec_keys`] knows them.
pub const WORKLOAD_KINDS: &[&str] =
    &["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController", "CronJob"];

/// The concrete path of the document's pod spec, when it has one (and it is a mapping).
pub fn pod_spec_path(doc: &Document) -> Option<Vec<PathSeg>> {
    let keys = pod_spec_keys(doc.kind()?)?;
    let path: Vec<PathSeg> = keys.iter().map(|k| key(k)).collect();
    doc.root.at(&path)?.as_map()?;
    Some(path)
}

/// The document's pod spec, when it has one.
pub fn pod_spec(doc: &Document) -> Option<&Node> {
    doc.root.at(&pod_spec_path(doc)?)
}

/// The document's pod spec, mutable, when it has one.
pub fn pod_spec_mut(doc: &mut Document) -> Option<&mut Node> {
    let p = pod_spec_path(doc)?;
    doc.root.at_mut(&p)
}

/// Which list of a pod spec a container sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerList {
    /// `initContainers`.
    InitContainers,
    /// `containers`.
    Containers,
    /// `ephemeralContainers`.
    EphemeralContainers,
}

impl ContainerList {
    /// Every list, in the order the stages visit them.
    pub const ALL: [ContainerList; 3] =
        [ContainerList::InitContainers, ContainerList::Containers, ContainerList::EphemeralContainers];

    /// The pod spec field name.
    pub fn field(self) -> &'static str {
        match self {
            ContainerList::InitContainers => "initContainers",
            ContainerList::Containers => "containers",
            ContainerList::EphemeralContainers => "ephemeralContainers",
        }
    }
}

/// One container of a workload.
#[derive(Debug, Clone)]
pub struct ContainerRef<'a> {
    /// Which list it is in.
    pub list: ContainerList,
    /// Its index in that list.
    pub index: usize,
    /// Its `name`, when set.
    pub name: Option<&'a str>,
    /// The container node.
    pub node: &'a Node,
    /// The concrete path of the container inside the document.
    pub path: Vec<PathSeg>,
}

/// Every container of a workload document: `initContainers`, then `containers`, then
/// `ephemeralContainers`, each in list order. Empty for documents without a pod spec.
pub fn containers(doc: &Document) -> Vec<ContainerRef<'_>> {
    let Some(sp) = pod_spec_path(doc) else { return Vec::new() };
    let spec = doc.root.at(&sp).expect("pod spec path exists");
    let mut out = Vec::new();
    for list in ContainerList::ALL {
        if let Some(items) = spec.get(list.field()).and_then(Node::as_seq) {
            for (index, node) in items.iter().enumerate() {
                let mut path = sp.clone();
                path.push(key(list.field()));
                path.push(PathSeg::Index(index));
                let name = node.get("name").and_then(Node::scalar_text);
                out.push(ContainerRef { list, index, name, node, path });
            }
        }
    }
    out
}

/// Visit every container of a workload mutably (same order as [`containers`]).
pub fn for_each_container_mut(doc: &mut Document, mut f: impl FnMut(ContainerList, usize, &mut Node)) {
    let Some(spec) = pod_spec_mut(doc) else { return };
    for list in ContainerList::ALL {
        if let Some(items) = spec.get_mut(list.field()).and_then(Node::as_seq_mut) {
            for (i, c) in items.iter_mut().enumerate() {
                f(list, i, c);
            }
        }
    }
}

/// A container image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Everything before the tag and digest (`quay.io/keycloak/keycloak`).
    pub repository: &'a str,
    /// The tag (`26.5.6`), when given.
    pub tag: Option<&'a str>,
    /// The digest (`sha256:…`), when given.
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Split `registry[:port]/path/name[:tag][@digest]`.
    pub fn parse(image: &'a str) -> Self {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (image, None),
        };
        // A ':' after the last '/' is the tag separator; before it, a registry port.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        ImageRef { repository, tag, digest }
    }

    /// The last path segment of the repository (`keycloak` for `quay.io/keycloak/keycloak`).
    pub fn name(&self) -> &'a str {
        self.repository.rsplit('/').next().unwrap_or(self.repository)
    }
}

/// Which kinds are namespaced: the built-in cluster-scoped kinds plus the `scope` of every
/// CustomResourceDefinition in the render. Unknown kinds count as namespaced.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    crds: HashMap<(String, String), bool>,
}

/// Built-in cluster-scoped kinds as `(group, kind)` (plus well-known operator kinds).
pub const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("apiregistration.k8s.io", "APIService"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("policy", "PodSecurityPolicy"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("resource.k8s.io", "DeviceClass"),
    ("cert-manager.io", "ClusterIssuer"),
    ("external-secrets.io", "ClusterSecretStore"),
    ("external-secrets.io", "ClusterExternalSecret"),
    ("external-secrets.io", "ClusterPushSecret"),
    ("generators.external-secrets.io", "ClusterGenerator"),
];

impl Scopes {
    /// Built-ins plus the CRDs found in `docs`.
    pub fn from_docs(docs: &[Document]) -> Self {
        let mut crds = HashMap::new();
        for d in docs {
            if d.kind() != Some("CustomResourceDefinition") {
                continue;
            }
            let spec = d.root.get("spec");
            let group = spec.and_then(|s| s.get("group")).and_then(Node::scalar_text);
            let kind = spec.and_then(|s| s.get("names")).and_then(|n| n.get("kind")).and_then(Node::scalar_text);
            let scope = spec.and_then(|s| s.get("scope")).and_then(Node::scalar_text);
            if let (Some(g), Some(k)) = (group, kind) {
                crds.insert((g.to_string(), k.to_string()), scope != Some("Cluster"));
            }
        }
        Scopes { crds }
    }

    /// Is a resource of this group and kind namespaced?
    pub fn is_namespaced(&self, group: &str, kind: &str) -> bool {
        if CLUSTER_SCOPED.iter().any(|(g, k)| *g == group && *k == kind) {
            return false;
        }
        self.crds.get(&(group.to_string(), kind.to_string())).copied().unwrap_or(true)
    }

    /// The namespace a document lands in: `""` for cluster-scoped kinds, else its
    /// `metadata.namespace`, else the instance namespace (the Applications' destination).
    pub fn effective_namespace<'a>(&self, doc: &'a Document, cfg: &'a InstanceConfig) -> &'a str {
        if !self.is_namespaced(doc.group(), doc.kind().unwrap_or("")) {
            return "";
        }
        doc.namespace().unwrap_or(cfg.namespace.as_str())
    }
}

/// `release/file:line` for a node of a document (the document's own line when the node was
/// created by a stage).
pub fn origin_at(doc: &Document, line: u32) -> String {
    let line = if line == 0 { doc.origin.line } else { line };
    format!("{}/{}:{}", doc.origin.release, doc.origin.file, line)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers for the stage tests.
    use crate::document::Document;
    use crate::load::parse_text;
    use std::path::Path;
    use std::sync::Arc;

    /// Parse a multi-document text as release `release`, file `file`.
    pub fn docs(release: &str, file: &str, text: &str) -> Vec<Document> {
        let r: Arc<str> = release.into();
        let f: Arc<str> = file.into();
        parse_text(&r, &f, Path::new(file), text, true).expect("fixture parses")
    }

    /// A config with a usable secrets manager.
    pub fn cfg_with_store() -> crate::InstanceConfig {
        let mut c = crate::InstanceConfig::minimal("1.13.1");
        c.instance = "acme".into();
        c.secrets_manager = Some(crate::config::SecretsManager {
            store_ref: crate::config::StoreRef { kind: "ClusterSecretStore".into(), name: "stackit-sm".into() },
            key_prefix: "acme".into(),
            refresh_interval: "1h".into(),
        });
        c
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::docs;
    use super::*;

    #[test]
    fn image_refs() {
        let i = ImageRef::parse("quay.io/keycloak/keycloak:26.5.6");
        assert_eq!(
            (i.repository, i.tag, i.digest, i.name()),
            ("quay.io/keycloak/keycloak", Some("26.5.6"), None, "keycloak")
        );
        let i = ImageRef::parse("registry:5000/app");
        assert_eq!((i.repository, i.tag), ("registry:5000/app", None));
        let i = ImageRef::parse("nginx@sha256:abc");
        assert_eq!((i.repository, i.tag, i.digest), ("nginx", None, Some("sha256:abc")));
        let i = ImageRef::parse("r:1/a/b:1.0@sha256:abc");
        assert_eq!((i.repository, i.tag, i.digest, i.name()), ("r:1/a/b", Some("1.0"), Some("sha256:abc"), "b"));
    }

    #[test]
    fn containers_in_order() {
        let d = &docs(
            "r",
            "f.yaml",
            "kind: CronJob\nmetadata: {name: x}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: main}]\n          initContainers: [{name: init}]\n",
        )[0];
        let c = containers(d);
        assert_eq!(c.iter().map(|c| c.name.unwrap()).collect::<Vec<_>>(), ["init", "main"]);
        assert_eq!(crate::yaml::path_to_string(&c[1].path), "$.spec.jobTemplate.spec.template.spec.containers[0]");
        assert!(containers(&docs("r", "f", "kind: ConfigMap\n")[0]).is_empty());
    }

    #[test]
    fn scopes_from_crds() {
        let ds = docs(
            "r",
            "f.yaml",
            "kind: CustomResourceDefinition\napiVersion: apiextensions.k8s.io/v1\nmetadata: {name: a.b}\nspec: {group: b, scope: Cluster, names: {kind: A}}\n---\napiVersion: b/v1\nkind: A\nmetadata: {name: x, namespace: y}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        );
        let s = Scopes::from_docs(&ds);
        let cfg = crate::InstanceConfig::minimal("1.0.0");
        assert!(!s.is_namespaced("b", "A"));
        assert!(!s.is_namespaced("rbac.authorization.k8s.io", "ClusterRole"));
        assert_eq!(s.effective_namespace(&ds[1], &cfg), "");
        assert_eq!(s.effective_namespace(&ds[2], &cfg), "opendesk");
    }
}
