//! `setDefault`: like `set`, only where the key is missing or null.

use super::set::{path_and_value_schema, set_at, SetSpec};
use super::{OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::{PatchError, Vars};
use crate::yaml::Node;

/// A compiled `setDefault`.
#[derive(Debug, Clone)]
pub struct SetDefault {
    /// Where (ends in a key name).
    pub path: CompiledPath,
    /// The value.
    pub value: Node,
}

impl Primitive for SetDefault {
    type Spec = SetSpec;
    const SUMMARY: &'static str = "Like set, only where missing or null.";

    fn compile(spec: &SetSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(SetDefault { path: cx.write_path(&spec.path)?, value: cx.value("value") })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.value)
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        set_at(&self.path, &self.value, true, rec, d)
    }

    fn schema() -> serde_json::Value {
        path_and_value_schema()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run;

    #[test]
    fn sets_only_missing_or_null() {
        let docs = "kind: Job\nmetadata:\n  name: a\nspec:\n  backoffLimit: 6\n---\nkind: Job\nmetadata:\n  name: b\nspec:\n  backoffLimit: null\n---\nkind: Job\nmetadata:\n  name: c\nspec:\n  x: 1\n";
        let (out, changes, again) =
            run("{kind: Job}", "  - setDefault: {path: \"$.spec.backoffLimit\", value: 20}\n", docs);
        assert_eq!(changes, ["setDefault $.spec.backoffLimit (20)", "setDefault $.spec.backoffLimit (20)"]);
        assert!(out.contains("backoffLimit: 6"), "{out}");
        assert!(!again);
    }
}
