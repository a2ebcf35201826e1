//! Dedup stage: resources rendered twice, and env vars defined twice in one container.
//!
//! - **Resources**: the identity is (API group, kind, namespace, name), with the namespace a
//!   resource lands in ([`Scopes::effective_namespace`]: the instance namespace when unset,
//!   none for cluster-scoped kinds). Identical copies (same content as Kubernetes reads it:
//!   `0644` equals `420`, quoting and comments do not matter) → the first is kept, the others
//!   are dropped and reported. Copies that differ → [`DedupError`] naming both origins, since
//!   either choice would silently drop configuration.
//! - **Env vars**: within one container or initContainer, a name defined twice keeps the last
//!   definition, at its position (strategic-merge semantics: the later one wins, and vars
//!   that reference it with `$(NAME)` still come after it).

use super::{containers, for_each_container_mut, key, Scopes};
use crate::config::InstanceConfig;
use crate::document::{Document, Origin, ResourceId};
use crate::report::Finding;
use crate::yaml::{path_to_string, Node, PathSeg};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use thiserror::Error;

/// Two different resources with the same identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The identity (namespace as it lands in the cluster).
    pub id: ResourceId,
    /// The first document.
    pub first: Origin,
    /// The later, different document.
    pub second: Origin,
}

/// Fatal dedup result: at least one identity rendered twice with different content.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct DedupError {
    /// Every conflict, in input order.
    pub conflicts: Vec<Conflict>,
}

impl fmt::Display for DedupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} resource(s) rendered twice with different content:", self.conflicts.len())?;
        for c in &self.conflicts {
            write!(f, "\n  {}: {} and {}", c.id, c.first, c.second)?;
        }
        write!(
            f,
            "\nEach resource must be rendered by exactly one release: disable it in one of the releases \
             (chart values), rename it, or remove one copy with an override."
        )
    }
}

/// One identity that was rendered more than once with identical content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateResource {
    /// `Kind/namespace/name` (`-` for cluster-scoped).
    pub resource: String,
    /// API group (empty for the core group).
    pub group: String,
    /// The copy that was kept (`release/file:line`).
    pub kept: String,
    /// The copies that were dropped, in input order.
    pub dropped: Vec<String>,
}

/// Env var names defined more than once in one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateEnv {
    /// The workload (`Kind/namespace/name`).
    pub resource: String,
    /// Its origin (`release/file:line`).
    pub origin: String,
    /// Path of the `env` list.
    pub path: String,
    /// The container's name.
    pub container: String,
    /// Names that were defined more than once (the last definition was kept), sorted.
    pub names: Vec<String>,
    /// How many definitions were removed.
    pub removed: usize,
}

/// The dedup stage's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DedupReport {
    /// Identical duplicates, in order of the kept copy.
    pub resources: Vec<DuplicateResource>,
    /// Duplicate env vars, in document order.
    pub env: Vec<DuplicateEnv>,
    /// One finding per duplicate (info for resources, warning for env vars).
    pub findings: Vec<Finding>,
}

/// The identity dedup uses: group, kind, landing namespace, name.
pub fn identity(doc: &Document, scopes: &Scopes, cfg: &InstanceConfig) -> ResourceId {
    ResourceId {
        group: doc.group().to_string(),
        kind: doc.kind().unwrap_or("").to_string(),
        namespace: scopes.effective_namespace(doc, cfg).to_string(),
        name: doc.name().unwrap_or("").to_string(),
    }
}

/// Drop identical duplicate resources and duplicate env vars; fail on conflicting duplicates.
///
/// Documents without kind or name are left alone (lint reports them). On error the documents
/// are unchanged.
pub fn dedup(docs: &mut Vec<Document>, cfg: &InstanceConfig) -> Result<DedupReport, DedupError> {
    let scopes = Scopes::from_docs(docs);
    let mut first: HashMap<ResourceId, usize> = HashMap::new();
    let mut drop = vec![false; docs.len()];
    let mut dups: Vec<(usize, Vec<usize>)> = Vec::new(); // (kept, dropped) in order of kept
    let mut dup_index: HashMap<usize, usize> = HashMap::new();
    let mut conflicts = Vec::new();
    // Identities in parallel (four strings each); the first-seen map in order.
    let ids = crate::par::map(docs, Document::weight, |d| {
        (d.kind().is_some() && d.name().is_some()).then(|| identity(d, &scopes, cfg))
    });
    for (i, (d, id)) in docs.iter().zip(ids).enumerate() {
        let Some(id) = id else { continue };
        match first.get(&id) {
            None => {
                first.insert(id, i);
            }
            Some(&k) => {
                if same_resource(&docs[k].root, &d.root) {
                    drop[i] = true;
                    let slot = *dup_index.entry(k).or_insert_with(|| {
                        dups.push((k, Vec::new()));
                        dups.len() - 1
                    });
                    dups[slot].1.push(i);
                } else {
                    conflicts.push(Conflict { id, first: docs[k].origin.clone(), second: d.origin.clone() });
                }
            }
        }
    }
    if !conflicts.is_empty() {
        // The error is printed before the redact stage knows the secret values: a name that
        // holds a Secret's value (the redact stage would refuse it) shows masked.
        let known = crate::diff::secret_values_in(&[docs]);
        if !known.is_empty() {
            for c in &mut conflicts {
                for field in [&mut c.id.namespace, &mut c.id.name] {
                    if let std::borrow::Cow::Owned(m) = known.mask(field) {
                        *field = m;
                    }
                }
            }
        }
        return Err(DedupError { conflicts });
    }
    let mut report = DedupReport::default();
    dups.sort_by_key(|(k, _)| *k);
    for (k, dropped) in dups {
        let d = &docs[k];
        let id = identity(d, &scopes, cfg);
        let dropped: Vec<String> = dropped.iter().map(|&j| docs[j].origin.to_string()).collect();
        report.findings.push(
            Finding::of(
                crate::checks::Check::DedupIdenticalResource,
                format!(
                    "rendered {} times with identical content; kept the first, dropped {}",
                    dropped.len() + 1,
                    dropped.join(", ")
                ),
            )
            .at(&id, &d.origin),
        );
        report.resources.push(DuplicateResource {
            resource: id.to_string(),
            group: id.group.clone(),
            kept: d.origin.to_string(),
            dropped,
        });
    }
    let mut it = drop.into_iter();
    docs.retain(|_| !it.next().unwrap_or(false));

    // Per document in parallel; the findings and entries are joined in document order.
    let per_doc = crate::par::map_mut(docs, Document::weight, |d| {
        let mut r = DedupReport::default();
        dedup_env(d, &mut r);
        r
    });
    for r in per_doc {
        report.env.extend(r.env);
        report.findings.extend(r.findings);
    }
    Ok(report)
}

/// Kubernetes-semantic equality of two nodes: scalars by the value Kubernetes reads, maps
/// regardless of key order, sequences in order.
pub fn same_value(a: &Node, b: &Node) -> bool {
    use crate::yaml::Value;
    match (&a.value, &b.value) {
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|e| {
                    y.iter().find(|f| f.key.text == e.key.text).is_some_and(|f| same_value(&e.value, &f.value))
                })
        }
        (Value::Seq(x), Value::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q)),
        (Value::Scalar(_), Value::Scalar(_)) => a == b,
        _ => false,
    }
}

/// Two copies of one resource (same identity) are identical when they are equal apart from
/// `metadata.namespace` (already part of the identity, so an explicit and a defaulted
/// namespace compare equal).
pub fn same_resource(a: &Node, b: &Node) -> bool {
    fn strip(n: &Node) -> Node {
        let mut n = n.clone();
        if let Some(m) = n.get_mut("metadata") {
            m.remove("namespace");
        }
        n
    }
    same_value(&strip(a), &strip(b))
}

/// Keep the last definition of each env name in every container of `doc`.
fn dedup_env(doc: &mut Document, report: &mut DedupReport) {
    // Find the containers with duplicates first (cheap, read-only).
    let todo: Vec<(Vec<PathSeg>, String)> = containers(doc)
        .into_iter()
        .filter(|c| {
            c.node.get("env").and_then(Node::as_seq).is_some_and(|env| {
                let mut seen = HashSet::new();
                env.iter().filter_map(env_name).any(|n| !seen.insert(n))
            })
        })
        .map(|c| (c.path, c.name.unwrap_or("").to_string()))
        .collect();
    if todo.is_empty() {
        return;
    }
    let id = doc.id();
    let mut found = Vec::new();
    for_each_container_mut(doc, |_, _, c| {
        let Some(env) = c.get_mut("env").and_then(Node::as_seq_mut) else { return };
        let names: Vec<Option<String>> = env.iter().map(|e| env_name(e).map(str::to_string)).collect();
        let mut seen = HashSet::new();
        let mut keep = vec![true; env.len()];
        let mut dup_names = std::collections::BTreeSet::new();
        for i in (0..env.len()).rev() {
            if let Some(n) = &names[i] {
                if !seen.insert(n.clone()) {
                    keep[i] = false;
                    dup_names.insert(n.clone());
                }
            }
        }
        if dup_names.is_empty() {
            return;
        }
        let removed = keep.iter().filter(|k| !**k).count();
        let mut k = keep.into_iter();
        env.retain(|_| k.next().unwrap_or(true));
        found.push((dup_names.into_iter().collect::<Vec<_>>(), removed));
    });
    for ((cpath, container), (names, removed)) in todo.into_iter().zip(found) {
        let mut p = cpath;
        p.push(key("env"));
        let path = path_to_string(&p);
        doc.record("stage:dedup", "dedup", path.clone(), Some(format!("env: kept the last of {}", names.join(", "))));
        report.findings.push(
            Finding::of(
                crate::checks::Check::DedupDuplicateEnv,
                format!(
                    "container {container:?} defines env {} more than once; kept the last definition",
                    names.join(", ")
                ),
            )
            .at(&id, &doc.origin)
            .path(path.clone()),
        );
        report.env.push(DuplicateEnv {
            resource: id.to_string(),
            origin: doc.origin.to_string(),
            path,
            container,
            names,
            removed,
        });
    }
}

fn env_name(e: &Node) -> Option<&str> {
    e.get("name").and_then(Node::scalar_text)
}

/// The `dedup` stage ([`dedup`]).
pub struct DedupStage;

impl crate::pipeline::Stage for DedupStage {
    fn name(&self) -> &'static str {
        "dedup"
    }

    fn label(&self) -> &'static str {
        "deduplicating resources"
    }

    fn run(&self, cx: &mut crate::pipeline::RenderContext<'_>) -> Result<Vec<Finding>, crate::pipeline::RenderError> {
        Ok(dedup(&mut cx.docs, cx.cfg)?.findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::emit_stream;
    use crate::report::Severity;
    use crate::stages::testutil::docs;

    fn cfg() -> InstanceConfig {
        InstanceConfig::minimal("1.13.1")
    }

    #[test]
    fn identical_resources_keep_the_first() {
        let mut ds = docs("postfix", "postfix/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: relay, namespace: opendesk}\ndata: {mode: '0644'}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n");
        ds.extend(docs(
            "postfix-ox",
            "postfix/templates/cm.yaml",
            "# Source: postfix/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: relay\ndata:\n  mode: \"0644\"\n",
        ));
        let mut r = dedup(&mut ds, &cfg()).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds[0].origin.release.as_ref(), "postfix");
        assert_eq!(r.resources.len(), 1);
        assert_eq!(r.resources[0].resource, "ConfigMap/opendesk/relay");
        assert_eq!(r.resources[0].dropped, ["postfix-ox/postfix/templates/cm.yaml:2"]);
        r.findings.clear();
        insta::assert_yaml_snapshot!("dedup_report_identical", r);
        insta::assert_snapshot!("dedup_identical_output", emit_stream(&ds));
    }

    #[test]
    fn different_resources_are_fatal_with_both_origins() {
        let mut ds = docs(
            "a",
            "x/templates/s.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
        );
        ds.extend(docs(
            "b",
            "y/templates/s.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: opendesk}\nspec: {ports: [{port: 81}]}\n",
        ));
        let before = emit_stream(&ds);
        let e = dedup(&mut ds, &cfg()).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("Service/opendesk/web: a/x/templates/s.yaml:1 and b/y/templates/s.yaml:1"), "{m}");
        assert!(m.contains("exactly one release"), "{m}");
        assert_eq!(emit_stream(&ds), before, "unchanged on error");
    }

    /// A conflict's name that holds a Secret's value is masked in the error, which is printed
    /// before the redact stage runs (tests/secret_leaks.rs, `conflicting_names`).
    #[test]
    fn a_secret_value_in_a_conflicting_name_is_masked() {
        let v = "q7kp2mvr9lst4wzzxk3ab";
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{token: {v}}}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{v}}}\ndata: {{a: b}}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{v}}}\ndata: {{a: c}}\n"
        );
        let mut ds = docs("a", "x/templates/all.yaml", &text);
        let m = dedup(&mut ds, &cfg()).unwrap_err().to_string();
        assert!(!m.contains(v), "{m}");
        assert!(
            m.contains("ConfigMap/opendesk/cm-<redacted>: a/x/templates/all.yaml:6 and a/x/templates/all.yaml:11"),
            "{m}"
        );
    }

    #[test]
    fn cluster_scoped_and_other_groups_are_distinct() {
        let mut ds = docs(
            "a",
            "f.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, namespace: x}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\n---\napiVersion: other.io/v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: {a: b}\n",
        );
        // The ClusterRoles differ only in a namespace field Kubernetes ignores for them.
        let r = dedup(&mut ds, &cfg()).unwrap();
        assert_eq!(r.resources.len(), 1);
        assert_eq!(r.resources[0].resource, "ClusterRole/-/r");
        assert_eq!(ds.len(), 3, "ConfigMap in the core group and in other.io are different resources");
        // Key order does not matter; content does.
        let two = |b: &str| {
            format!("kind: ConfigMap\napiVersion: v1\nmetadata: {{name: r}}\ndata: {{a: '1', b: '2'}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: r}}\ndata: {{b: \"2\", a: {b}}}\n")
        };
        assert_eq!(dedup(&mut docs("a", "f.yaml", &two("'1'")), &cfg()).unwrap().resources.len(), 1);
        // A plain 1 is an integer to Kubernetes, not the string "1".
        assert!(dedup(&mut docs("a", "f.yaml", &two("1")), &cfg()).is_err());
    }

    #[test]
    fn env_keeps_the_last_definition() {
        let t = r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kc, namespace: opendesk}
spec:
  template:
    spec:
      initContainers:
        - name: init
          env:
            - {name: A, value: "1"}
      containers:
        - name: keycloak
          env:
            - name: KC_PROXY_HEADERS
              value: forwarded
            - name: KC_DB
              value: postgres
            - name: KC_PROXY_HEADERS
              value: xforwarded
            - name: NODE_EXTRA_CA_CERTS
              value: /a
            - name: NODE_EXTRA_CA_CERTS
              value: /etc/ssl/certs/ca-certificates.crt
"#;
        let mut ds = docs("ums-keycloak", "keycloakx/templates/statefulset.yaml", t);
        let r = dedup(&mut ds, &cfg()).unwrap();
        assert_eq!(r.env.len(), 1);
        assert_eq!(r.env[0].names, ["KC_PROXY_HEADERS", "NODE_EXTRA_CA_CERTS"]);
        assert_eq!(r.env[0].removed, 2);
        assert_eq!(r.env[0].path, "$.spec.template.spec.containers[0].env");
        assert_eq!(r.findings[0].severity, Severity::Warning);
        insta::assert_snapshot!("dedup_env_output", emit_stream(&ds));
        // Idempotent.
        let r2 = dedup(&mut ds, &cfg()).unwrap();
        assert!(r2.env.is_empty() && r2.resources.is_empty());
    }
}
