//! `rename`: rename the key each match sits under.

use super::{parents, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::PatchError;
use crate::yaml::{with_key, Scalar};
use serde::Deserialize;

/// `rename: {path, to}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::Rename")]
pub struct RenameSpec {
    /// JSONPath ending in the key to rename.
    pub path: String,
    /// The new key name.
    pub to: String,
}

/// A compiled `rename`.
#[derive(Debug, Clone)]
pub struct Rename {
    /// Where (ends in the key name).
    pub path: CompiledPath,
    /// The new key name.
    pub to: String,
}

impl Primitive for Rename {
    type Spec = RenameSpec;
    const SUMMARY: &'static str = "Rename the key the path ends in.";

    fn compile(spec: &RenameSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Rename { path: cx.write_path(&spec.path)?, to: spec.to.clone() })
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let to = &self.to;
        let mut changed = false;
        let (ps, key) = parents(&self.path, &d.root);
        for p in ps {
            let parent = d.root.at_mut(&p).expect("found");
            let Some(map) = parent.as_map_mut() else { continue };
            let Some(i) = map.iter().position(|e| e.key.text == key) else { continue };
            if key == *to {
                continue;
            }
            // An existing key of the new name is replaced.
            map.retain(|e| e.key.text != *to);
            let i = map.iter().position(|e| e.key.text == key).unwrap_or(i);
            map[i].key = Scalar::string(to.as_str());
            rec.record(d, &with_key(&p, &key), Some(format!("→ {to}")));
            changed = true;
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["path", "to"],
            "properties": {"path": super::path_schema(), "to": {"type": "string"}}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run;

    #[test]
    fn renames_in_place_and_replaces_an_existing_target() {
        let docs = "kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  old: \"1\"\n  new: \"0\"\n  z: \"2\"\n";
        let (out, changes, again) = run("{kind: ConfigMap}", "  - rename: {path: \"$.data.old\", to: new}\n", docs);
        assert_eq!(changes, ["rename $.data.old (→ new)"]);
        assert!(out.contains("data:\n  new: \"1\"\n  z: \"2\"\n"), "{out}");
        assert!(!again);
    }
}
