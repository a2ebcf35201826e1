//! JIT stage: inject the Keycloak JIT (ad-hoc) provisioning plugin when the instance enables
//! external-IdP user sync (`externalIdp.userSync: true`).
//!
//! For every Keycloak workload (a `Deployment` or `StatefulSet` with a Keycloak container, see
//! [`is_keycloak_container`]):
//!
//! - an initContainer [`INIT_CONTAINER`] runs `jit.image` and copies the provider jar(s) from
//!   [`PLUGIN_SOURCE_DIR`] in that image into a shared volume
//!   (`sh -c 'cp /providers/*.jar /jit-providers/'`; the plugin image must contain a shell);
//! - the shared volume is an `emptyDir` named [`PROVIDERS_VOLUME`], mounted into the Keycloak
//!   container at Keycloak's providers directory [`PROVIDERS_PATH`]. When the Keycloak
//!   container already mounts a volume there (a chart that manages providers itself), that
//!   volume is reused instead of adding a second mount at the same path;
//! - `jit.pullSecret`, when set, is added to the pod's `imagePullSecrets`.
//!
//! Note: an `emptyDir` at the providers path hides providers baked into the Keycloak image at
//! that path; images that ship their own providers there need a chart-managed providers
//! volume (which is then reused).
//!
//! The stage is idempotent (a second run changes nothing) and a no-op when user sync is off.
//! A missing Keycloak workload is not an error here: the `jit-keycloak` guard
//! ([`crate::stages::guards`]) fails the render after overrides had their chance.

use super::{key, pod_spec_path, ContainerList, ImageRef};
use crate::config::InstanceConfig;
use crate::document::Document;
use crate::report::Finding;
use crate::yaml::{map_of, path_to_string, seq_of, Node, PathSeg};
use serde::Serialize;
use thiserror::Error;

/// Name of the injected initContainer.
pub const INIT_CONTAINER: &str = "keycloak-jit-plugin";
/// Name of the shared `emptyDir` volume (when no providers volume exists yet).
pub const PROVIDERS_VOLUME: &str = "keycloak-jit-providers";
/// Keycloak's (Quarkus distribution) providers directory.
pub const PROVIDERS_PATH: &str = "/opt/keycloak/providers";
/// Where the plugin image keeps its provider jar(s).
pub const PLUGIN_SOURCE_DIR: &str = "/providers";
/// Where the initContainer mounts the shared volume.
pub const INIT_MOUNT_PATH: &str = "/jit-providers";

const BY: &str = "stage:jit";

/// A fatal JIT configuration problem (bad instance config: exit 2).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum JitError {
    /// User sync is on but no plugin image is configured.
    #[error(
        "externalIdp.userSync is true but jit.image is empty: set `jit.image` to the JIT provisioning plugin image \
         (and `jit.pullSecret` if its registry needs credentials), or set `externalIdp.userSync: false`"
    )]
    MissingImage,
}

/// What the JIT stage did to one Keycloak workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JitWorkload {
    /// The workload (`Kind/namespace/name`).
    pub resource: String,
    /// Where it came from (`release/file:line`).
    pub origin: String,
    /// The Keycloak container that mounts the providers.
    pub container: String,
    /// The volume holding the providers.
    pub providers_volume: String,
    /// True when an existing providers volume of the chart was reused.
    pub reused_volume: bool,
    /// False when the workload already had the plugin exactly as configured.
    pub changed: bool,
}

/// The JIT stage's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JitReport {
    /// `externalIdp.userSync`.
    pub enabled: bool,
    /// Every Keycloak workload found, in document order (empty when disabled).
    pub workloads: Vec<JitWorkload>,
    /// One info finding per changed workload.
    pub findings: Vec<Finding>,
}

/// Is this container a Keycloak server? Its image is named `keycloak` (any registry), or the
/// container is named `keycloak` and its image is not a Keycloak helper (bootstrap,
/// extensions, config-cli, the JIT plugin).
pub fn is_keycloak_container(c: &Node) -> bool {
    let image = c.get("image").and_then(Node::scalar_text).unwrap_or("");
    let iname = ImageRef::parse(image).name();
    if iname == "keycloak" {
        return true;
    }
    let helper = ["bootstrap", "extension", "config-cli", "jit"].iter().any(|h| iname.contains(h));
    c.get("name").and_then(Node::scalar_text) == Some("keycloak") && !helper && !image.is_empty()
}

/// Index of the Keycloak container of a `Deployment`/`StatefulSet`, if it has one.
pub fn keycloak_container(doc: &Document) -> Option<usize> {
    if !matches!(doc.kind(), Some("Deployment" | "StatefulSet")) {
        return None;
    }
    let spec = doc.root.at(&pod_spec_path(doc)?)?;
    spec.get("containers")?.as_seq()?.iter().position(is_keycloak_container)
}

/// Inject the JIT plugin into every Keycloak workload when `externalIdp.userSync` is on.
pub fn jit(docs: &mut [Document], cfg: &InstanceConfig) -> Result<JitReport, JitError> {
    let mut report = JitReport { enabled: cfg.external_idp.user_sync, ..Default::default() };
    if !cfg.external_idp.user_sync {
        return Ok(report);
    }
    let image = cfg.jit.image.trim();
    if image.is_empty() {
        return Err(JitError::MissingImage);
    }
    let pull_secret = cfg.jit.pull_secret.trim();
    for doc in docs.iter_mut() {
        let Some(ci) = keycloak_container(doc) else { continue };
        let w = inject(doc, ci, image, pull_secret);
        if w.changed {
            report.findings.push(
                Finding::of(
                    crate::checks::Check::JitInjected,
                    format!("JIT provisioning plugin injected into container {:?}", w.container),
                )
                .at(&doc.id(), &doc.origin),
            );
        }
        report.workloads.push(w);
    }
    Ok(report)
}

fn trim_slash(p: &str) -> &str {
    if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    }
}

fn inject(doc: &mut Document, ci: usize, image: &str, pull_secret: &str) -> JitWorkload {
    let sp = pod_spec_path(doc).expect("keycloak workloads have a pod spec");
    let resource = doc.id().to_string();
    let origin = doc.origin.to_string();
    let mut changes: Vec<(&'static str, Vec<PathSeg>, Option<String>)> = Vec::new();
    let spec = doc.root.at_mut(&sp).expect("pod spec");

    // The Keycloak container and an existing providers mount.
    let containers = spec.get_mut("containers").and_then(Node::as_seq_mut).expect("has containers");
    let kc = &mut containers[ci];
    let container = kc.get("name").and_then(Node::scalar_text).unwrap_or("").to_string();
    let existing = kc.get("volumeMounts").and_then(Node::as_seq).and_then(|ms| {
        ms.iter().find_map(|m| {
            let path = m.get("mountPath").and_then(Node::scalar_text).map(trim_slash);
            let sub = m.get("subPath").and_then(Node::scalar_text).unwrap_or("");
            (path == Some(PROVIDERS_PATH) && sub.is_empty())
                .then(|| m.get("name").and_then(Node::scalar_text).map(str::to_string))
                .flatten()
        })
    });
    let reused_volume = existing.is_some();
    let volume = existing.unwrap_or_else(|| PROVIDERS_VOLUME.to_string());
    let cpath = |extra: &[PathSeg]| {
        let mut p = vec![key(ContainerList::Containers.field()), PathSeg::Index(ci)];
        p.extend_from_slice(extra);
        p
    };
    if !reused_volume {
        let mounts = kc.ensure_seq("volumeMounts").expect("container is a map");
        let list = mounts.as_seq_mut().expect("seq");
        list.push(map_of(vec![("name", Node::string(volume.as_str())), ("mountPath", Node::string(PROVIDERS_PATH))]));
        changes.push(("append", cpath(&[key("volumeMounts"), PathSeg::Index(list.len() - 1)]), Some(volume.clone())));
    }
    let security = kc.get("securityContext").filter(|n| n.as_map().is_some_and(|m| !m.is_empty())).cloned();

    // The shared volume.
    if !reused_volume {
        let vols = spec.ensure_seq("volumes").expect("pod spec is a map");
        let list = vols.as_seq_mut().expect("seq");
        if !list.iter().any(|v| v.get("name").and_then(Node::scalar_text) == Some(volume.as_str())) {
            list.push(map_of(vec![("name", Node::string(volume.as_str())), ("emptyDir", Node::map())]));
            changes.push(("append", vec![key("volumes"), PathSeg::Index(list.len() - 1)], Some(volume.clone())));
        }
    }

    // The initContainer (replaced in place when present, so re-runs converge).
    let security = security.unwrap_or_else(|| {
        map_of(vec![
            ("allowPrivilegeEscalation", Node::plain("false")),
            ("readOnlyRootFilesystem", Node::plain("true")),
            ("capabilities", map_of(vec![("drop", seq_of(vec![Node::string("ALL")]))])),
        ])
    });
    let init = map_of(vec![
        ("name", Node::string(INIT_CONTAINER)),
        ("image", Node::string(image)),
        ("imagePullPolicy", Node::string("IfNotPresent")),
        (
            "command",
            seq_of(vec![
                Node::string("sh"),
                Node::string("-c"),
                Node::string(format!("cp {PLUGIN_SOURCE_DIR}/*.jar {INIT_MOUNT_PATH}/")),
            ]),
        ),
        (
            "volumeMounts",
            seq_of(vec![map_of(vec![
                ("name", Node::string(volume.as_str())),
                ("mountPath", Node::string(INIT_MOUNT_PATH)),
            ])]),
        ),
        ("securityContext", security),
    ]);
    let inits = spec.ensure_seq(ContainerList::InitContainers.field()).expect("pod spec is a map");
    let list = inits.as_seq_mut().expect("seq");
    match list.iter().position(|c| c.get("name").and_then(Node::scalar_text) == Some(INIT_CONTAINER)) {
        Some(i) if list[i].same(&init) => {}
        Some(i) => {
            list[i] = init;
            changes.push(("set", vec![key("initContainers"), PathSeg::Index(i)], Some(INIT_CONTAINER.into())));
        }
        None => {
            list.push(init);
            changes.push((
                "append",
                vec![key("initContainers"), PathSeg::Index(list.len() - 1)],
                Some(INIT_CONTAINER.into()),
            ));
        }
    }

    // The plugin's pull secret.
    if !pull_secret.is_empty() {
        let ps = spec.ensure_seq("imagePullSecrets").expect("pod spec is a map");
        let list = ps.as_seq_mut().expect("seq");
        if !list.iter().any(|s| s.get("name").and_then(Node::scalar_text) == Some(pull_secret)) {
            list.push(map_of(vec![("name", Node::string(pull_secret))]));
            changes.push((
                "append",
                vec![key("imagePullSecrets"), PathSeg::Index(list.len() - 1)],
                Some(pull_secret.into()),
            ));
        }
    }

    let changed = !changes.is_empty();
    for (action, rel, detail) in changes {
        let mut p = sp.clone();
        p.extend(rel);
        doc.record(BY, action, path_to_string(&p), detail);
    }
    JitWorkload { resource, origin, container, providers_volume: volume, reused_volume, changed }
}

/// The `jit` stage ([`jit`]).
pub struct JitStage;

impl crate::pipeline::Stage for JitStage {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn label(&self) -> &'static str {
        "JIT provisioning plugin"
    }

    fn run(&self, cx: &mut crate::pipeline::RenderContext<'_>) -> Result<Vec<Finding>, crate::pipeline::RenderError> {
        Ok(jit(&mut cx.docs, cx.cfg)?.findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::emit_stream;
    use crate::stages::testutil::docs;

    const KEYCLOAK: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ums-keycloak
  namespace: opendesk
spec:
  template:
    spec:
      containers:
        - name: keycloak
          image: "artifacts.software-univention.de/nubus/images/keycloak:26.1.4"
          securityContext:
            runAsUser: 1000
          volumeMounts:
      volumes:
---
apiVersion: batch/v1
kind: Job
metadata:
  name: ums-keycloak-bootstrap
spec:
  template:
    spec:
      containers:
        - name: keycloak
          image: "artifacts.software-univention.de/nubus/images/keycloak-bootstrap:1.0"
"#;

    fn cfg(on: bool) -> InstanceConfig {
        let mut c = InstanceConfig::minimal("1.13.1");
        c.external_idp.user_sync = on;
        c.jit.image = "registry.example.org/keycloak-jit:1.0.0".into();
        c.jit.pull_secret = "jit-pull-secret".into();
        c
    }

    #[test]
    fn injects_plugin_snapshot_and_is_idempotent() {
        let mut ds = docs("ums", "keycloak/templates/statefulset.yaml", KEYCLOAK);
        let r = jit(&mut ds, &cfg(true)).unwrap();
        assert_eq!(r.workloads.len(), 1, "only the Keycloak server, not the bootstrap Job");
        assert!(r.workloads[0].changed);
        assert!(!r.workloads[0].reused_volume);
        let once = emit_stream(&ds);
        insta::assert_snapshot!("jit_injected", once);
        let r2 = jit(&mut ds, &cfg(true)).unwrap();
        assert!(!r2.workloads[0].changed);
        assert!(r2.findings.is_empty());
        assert_eq!(emit_stream(&ds), once);
        let explain: Vec<_> = ds[0].changes.iter().map(|c| format!("{} {}", c.action, c.path)).collect();
        assert_eq!(
            explain,
            [
                "append $.spec.template.spec.containers[0].volumeMounts[0]",
                "append $.spec.template.spec.volumes[0]",
                "append $.spec.template.spec.initContainers[0]",
                "append $.spec.template.spec.imagePullSecrets[0]",
            ]
        );
    }

    #[test]
    fn disabled_is_a_no_op() {
        let mut ds = docs("ums", "f.yaml", KEYCLOAK);
        let before = emit_stream(&ds);
        let r = jit(&mut ds, &cfg(false)).unwrap();
        assert!(!r.enabled && r.workloads.is_empty());
        assert_eq!(emit_stream(&ds), before);
    }

    #[test]
    fn missing_image_is_a_config_error() {
        let mut ds = docs("ums", "f.yaml", KEYCLOAK);
        let mut c = cfg(true);
        c.jit.image = " ".into();
        assert_eq!(jit(&mut ds, &c), Err(JitError::MissingImage));
    }

    #[test]
    fn reuses_existing_providers_volume_and_updates_image() {
        let t = "kind: Deployment\nmetadata: {name: kc}\nspec:\n  template:\n    spec:\n      containers:\n        - name: server\n          image: quay.io/keycloak/keycloak:26.0\n          volumeMounts:\n            - {name: providers, mountPath: /opt/keycloak/providers/}\n      volumes:\n        - {name: providers, emptyDir: {}}\n";
        let mut ds = docs("kc", "f.yaml", t);
        let mut c = cfg(true);
        c.jit.pull_secret.clear();
        let r = jit(&mut ds, &c).unwrap();
        assert!(r.workloads[0].reused_volume);
        assert_eq!(r.workloads[0].providers_volume, "providers");
        let spec = crate::stages::pod_spec(&ds[0]).unwrap();
        assert_eq!(spec.get("volumes").unwrap().as_seq().unwrap().len(), 1);
        assert!(spec.get("imagePullSecrets").is_none());
        let init = &spec.get("initContainers").unwrap().as_seq().unwrap()[0];
        assert_eq!(
            init.get_path("volumeMounts").unwrap().as_seq().unwrap()[0].get("name").unwrap().as_str(),
            Some("providers")
        );
        // A new plugin version replaces the initContainer in place.
        c.jit.image = "registry.example.org/keycloak-jit:2.0.0".into();
        let r = jit(&mut ds, &c).unwrap();
        assert!(r.workloads[0].changed);
        let spec = crate::stages::pod_spec(&ds[0]).unwrap();
        let inits = spec.get("initContainers").unwrap().as_seq().unwrap();
        assert_eq!(inits.len(), 1);
        assert_eq!(inits[0].get("image").unwrap().as_str(), Some("registry.example.org/keycloak-jit:2.0.0"));
    }

    #[test]
    fn keycloak_detection() {
        let ds = docs("r", "f.yaml", KEYCLOAK);
        assert_eq!(keycloak_container(&ds[0]), Some(0));
        assert_eq!(keycloak_container(&ds[1]), None);
    }
}
