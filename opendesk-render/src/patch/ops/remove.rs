//! `remove`: delete every match.

use super::{OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::PatchError;
use crate::yaml::{Node, PathSeg, Value};
use serde::Deserialize;

/// `remove: {path}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::Remove")]
pub struct RemoveSpec {
    /// JSONPath of what to delete.
    pub path: String,
}

/// A compiled `remove`.
#[derive(Debug, Clone)]
pub struct Remove {
    /// What to delete.
    pub path: CompiledPath,
}

impl Primitive for Remove {
    type Spec = RemoveSpec;
    const SUMMARY: &'static str = "Delete every match.";

    fn compile(spec: &RemoveSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Remove { path: cx.path(&spec.path)? })
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let mut changed = false;
        let mut ps = self.path.find(&d.root);
        ps.sort();
        ps.dedup();
        // Last first, so the indices of earlier matches stay valid.
        for p in ps.into_iter().rev() {
            if remove_at(&mut d.root, &p) {
                rec.record(d, &p, None);
                changed = true;
            }
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["path"],
            "properties": {"path": super::path_schema()}
        })
    }
}

fn remove_at(root: &mut Node, p: &[PathSeg]) -> bool {
    let Some((last, parent)) = p.split_last() else { return false };
    let Some(parent) = root.at_mut(parent) else { return false };
    match (last, &mut parent.value) {
        (PathSeg::Key(k), Value::Map(m)) => {
            let before = m.len();
            m.retain(|e| e.key.text != *k);
            m.len() != before
        }
        (PathSeg::Index(i), Value::Seq(s)) if *i < s.len() => {
            s.remove(*i);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run;

    #[test]
    fn removes_keys_and_list_items_last_first() {
        let docs = "kind: Pod\nmetadata:\n  name: a\nspec:\n  hostNetwork: true\n  containers:\n  - name: a\n    args: [x, drop, y, drop]\n";
        let (out, changes, again) = run(
            "{kind: Pod}",
            "  - remove: {path: \"$.spec.hostNetwork\"}\n  - remove: {path: \"$..args[?@ == 'drop']\"}\n",
            docs,
        );
        assert_eq!(
            changes,
            ["remove $.spec.hostNetwork", "remove $.spec.containers[0].args[3]", "remove $.spec.containers[0].args[1]"]
        );
        assert!(!out.contains("hostNetwork") && !out.contains("drop"), "{out}");
        assert!(!again);
    }
}
