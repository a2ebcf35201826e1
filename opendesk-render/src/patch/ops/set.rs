//! `set`: set every match, creating a missing last key.

use super::{detail, parents, value_schema, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::{PatchError, Vars};
use crate::yaml::{with_key, Node};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// `set: {path, value}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::Set")]
pub struct SetSpec {
    /// JSONPath ending in a key name.
    pub path: String,
    /// The value (read from the lossless tree).
    pub value: IgnoredAny,
}

/// A compiled `set`.
#[derive(Debug, Clone)]
pub struct Set {
    /// Where (ends in a key name).
    pub path: CompiledPath,
    /// The value.
    pub value: Node,
}

impl Primitive for Set {
    type Spec = SetSpec;
    const SUMMARY: &'static str = "Set every match (a missing last key is created).";

    fn compile(spec: &SetSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Set { path: cx.write_path(&spec.path)?, value: cx.value("value") })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.value)
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        set_at(&self.path, &self.value, false, rec, d)
    }

    fn schema() -> serde_json::Value {
        path_and_value_schema()
    }
}

/// The body schema of `set` and `setDefault`.
pub(crate) fn path_and_value_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["path", "value"],
        "properties": {"path": super::path_schema(), "value": value_schema()}
    })
}

/// Set `value` under the last key of `path` in every parent map found; with `only_missing`,
/// only where the key is missing or null.
pub(crate) fn set_at(path: &CompiledPath, value: &Node, only_missing: bool, rec: &Rec<'_>, d: &mut Document) -> bool {
    let mut changed = false;
    let (ps, key) = parents(path, &d.root);
    for p in ps {
        let parent = d.root.at_mut(&p).expect("found");
        let skip = match parent.get(&key) {
            Some(c) => (only_missing && !c.is_null()) || c.same(value),
            None => false,
        };
        if !skip {
            parent.insert(&key, value.clone());
            let det = detail(d, value);
            rec.record(d, &with_key(&p, &key), det);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, run};

    const DOCS: &str = "kind: Job\nmetadata:\n  name: a\nspec:\n  backoffLimit: 6\n---\nkind: Job\nmetadata:\n  name: b\nspec:\n  template: {}\n---\nkind: Pod\nmetadata:\n  name: c\n";

    #[test]
    fn sets_existing_and_missing_keys_once() {
        let (out, changes, again) = run("{kind: Job}", "  - set: {path: \"$.spec.backoffLimit\", value: 20}\n", DOCS);
        assert_eq!(changes, ["set $.spec.backoffLimit (20)", "set $.spec.backoffLimit (20)"]);
        assert_eq!(out.matches("backoffLimit: 20").count(), 2, "{out}");
        assert!(!again, "idempotent");
    }

    #[test]
    fn binds_variables_and_needs_a_key_path() {
        let (out, _, _) = run("{name: a}", "  - set: {path: \"$.spec.image\", value: \"x:${values.tag}\"}\n", DOCS);
        assert!(out.contains("image: x:1.2.3"), "{out}");
        let e = error("  - set: {path: \"$.spec[*]\", value: 1}\n");
        assert!(e.contains("op #1 (set)") && e.contains("must end in a key name"), "{e}");
    }
}
