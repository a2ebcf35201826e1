//! `dedup`: keep the last list item per key.

use super::{OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::PatchError;
use crate::yaml::Node;
use serde::Deserialize;

/// `dedup: {path, key}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::Dedup")]
pub struct DedupSpec {
    /// JSONPath of the lists.
    pub path: String,
    /// The item field that identifies an item.
    pub key: String,
}

/// A compiled `dedup`.
#[derive(Debug, Clone)]
pub struct Dedup {
    /// The lists.
    pub path: CompiledPath,
    /// The identifying field.
    pub key: String,
}

impl Primitive for Dedup {
    type Spec = DedupSpec;
    const SUMMARY: &'static str = "Keep the last list item per key.";

    fn compile(spec: &DedupSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Dedup { path: cx.path(&spec.path)?, key: spec.key.clone() })
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let mut changed = false;
        for p in self.path.find(&d.root) {
            let Some(list) = d.root.at_mut(&p).and_then(Node::as_seq_mut) else { continue };
            if dedup_keep_last(list, &self.key) {
                rec.record(d, &p, Some(format!("by {}", self.key)));
                changed = true;
            }
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["path", "key"],
            "properties": {"path": super::path_schema(), "key": {"type": "string"}}
        })
    }
}

/// Keep the last item for each key value, at its position. Items without the key stay.
pub fn dedup_keep_last(list: &mut Vec<Node>, key: &str) -> bool {
    let keys: Vec<Option<String>> =
        list.iter().map(|i| i.get(key).and_then(Node::scalar_text).map(str::to_string)).collect();
    let mut keep = vec![true; list.len()];
    let mut seen = std::collections::HashSet::new();
    for i in (0..list.len()).rev() {
        if let Some(k) = &keys[i] {
            if !seen.insert(k.clone()) {
                keep[i] = false;
            }
        }
    }
    if keep.iter().all(|k| *k) {
        return false;
    }
    let mut it = keep.into_iter();
    list.retain(|_| it.next().unwrap_or(true));
    true
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run;

    #[test]
    fn keeps_the_last_item_per_key_at_its_position() {
        let docs = "kind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: a\n    env:\n    - name: X\n      value: \"1\"\n    - name: Y\n      value: \"2\"\n    - name: X\n      value: \"3\"\n    - value: nameless\n";
        let (out, changes, again) = run("{kind: Pod}", "  - dedup: {path: \"$..env\", key: name}\n", docs);
        assert_eq!(changes, ["dedup $.spec.containers[0].env (by name)"]);
        let at = |t: &str| out.find(t).unwrap_or_else(|| panic!("{t} in {out}"));
        assert!(!out.contains("\"1\""), "{out}");
        assert!(at("\"2\"") < at("\"3\"") && at("\"3\"") < at("nameless"), "{out}");
        assert!(!again);
    }
}
