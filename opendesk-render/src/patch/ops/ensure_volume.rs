//! `ensureVolume`: replace-or-append a pod volume by name.

use super::{pod_specs, upsert_by, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::{PatchError, Vars};
use crate::yaml::{with_key, Node};
use serde::de::IgnoredAny;

/// A compiled `ensureVolume`.
#[derive(Debug, Clone)]
pub struct EnsureVolume {
    /// The volume (has a `name`).
    pub volume: Node,
}

impl Primitive for EnsureVolume {
    /// The body is the volume itself (read from the lossless tree).
    type Spec = IgnoredAny;
    const SUMMARY: &'static str = "Replace-or-append a pod volume by name.";

    fn compile(_: &IgnoredAny, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        if cx.body.get("name").and_then(Node::as_str).is_none() {
            return Err(cx.error("ensureVolume", "the volume needs a `name`"));
        }
        Ok(EnsureVolume { volume: cx.body.clone() })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.volume)
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let name = self.volume.get("name").and_then(Node::scalar_text).unwrap_or("").to_string();
        let mut changed = false;
        for sp in pod_specs(d) {
            let spec = d.root.at_mut(&sp).expect("pod spec");
            let Some(list) = spec.ensure_seq("volumes").and_then(Node::as_seq_mut) else { continue };
            if upsert_by(list, "name", &name, &self.volume) {
                rec.record(d, &with_key(&sp, "volumes"), Some(name.clone()));
                changed = true;
            }
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({"type": "object", "required": ["name"]})
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, run};

    #[test]
    fn replaces_or_appends_by_name() {
        let docs = "kind: StatefulSet\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      volumes:\n      - name: data\n        emptyDir: {}\n";
        let (out, changes, again) =
            run("{kind: StatefulSet}", "  - ensureVolume: {name: data, configMap: {name: c}}\n", docs);
        assert_eq!(changes, ["ensureVolume $.spec.template.spec.volumes (data)"]);
        assert!(out.contains("configMap") && !out.contains("emptyDir"), "{out}");
        assert!(!again);
        assert!(error("  - ensureVolume: {emptyDir: {}}\n").contains("the volume needs a `name`"));
    }
}
