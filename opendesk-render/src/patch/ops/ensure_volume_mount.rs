//! `ensureVolumeMount`: replace-or-append a volume mount by mountPath in matching containers.

use super::{containers, upsert_by, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::{PatchError, Pattern, Vars};
use crate::yaml::{with_key, Node};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// `ensureVolumeMount: {container, mount}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::EnsureVolumeMount")]
pub struct EnsureVolumeMountSpec {
    /// Container name pattern (all when not given).
    #[serde(default)]
    pub container: Option<String>,
    /// The mount (read from the lossless tree).
    pub mount: IgnoredAny,
}

/// A compiled `ensureVolumeMount`.
#[derive(Debug, Clone)]
pub struct EnsureVolumeMount {
    /// Which containers.
    pub container: Pattern,
    /// The mount (has `name` and `mountPath`).
    pub mount: Node,
}

impl Primitive for EnsureVolumeMount {
    type Spec = EnsureVolumeMountSpec;
    const SUMMARY: &'static str = "Replace-or-append a volume mount by mountPath.";

    fn compile(spec: &EnsureVolumeMountSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        let m = cx.value("mount");
        if m.get("mountPath").and_then(Node::as_str).is_none() || m.get("name").is_none() {
            return Err(cx.error("mount", "`mount` needs `name` and `mountPath`"));
        }
        Ok(EnsureVolumeMount { container: cx.container(&spec.container)?, mount: m })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.mount)
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let mp = self.mount.get("mountPath").and_then(Node::scalar_text).unwrap_or("").to_string();
        let mut changed = false;
        for cp in containers(d, &self.container) {
            let c = d.root.at_mut(&cp).expect("container");
            let Some(list) = c.ensure_seq("volumeMounts").and_then(Node::as_seq_mut) else { continue };
            if upsert_by(list, "mountPath", &mp, &self.mount) {
                rec.record(d, &with_key(&cp, "volumeMounts"), Some(mp.clone()));
                changed = true;
            }
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["mount"],
            "properties": {
                "container": {"type": "string"},
                "mount": {"type": "object", "required": ["name", "mountPath"]}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, run};

    #[test]
    fn replaces_or_appends_by_mount_path() {
        let docs = "kind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: app\n  - name: side\n";
        let (out, changes, again) = run(
            "{kind: Pod}",
            "  - ensureVolumeMount: {container: app, mount: {name: data, mountPath: /data}}\n",
            docs,
        );
        assert_eq!(changes, ["ensureVolumeMount $.spec.containers[0].volumeMounts (/data)"]);
        assert_eq!(out.matches("mountPath: /data").count(), 1, "{out}");
        assert!(!again);
        assert!(error("  - ensureVolumeMount: {mount: {name: d}}\n").contains("`mount` needs `name` and `mountPath`"));
    }
}
