//! `replace`: matched scalars equal to `from` become `to`.

use super::{detail, value_schema, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::{PatchError, Vars};
use crate::yaml::Node;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// `replace: {path, from, to}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::Replace")]
pub struct ReplaceSpec {
    /// JSONPath of the candidates.
    pub path: String,
    /// The value to replace (read from the lossless tree).
    pub from: IgnoredAny,
    /// The replacement (read from the lossless tree).
    pub to: IgnoredAny,
}

/// A compiled `replace`.
#[derive(Debug, Clone)]
pub struct Replace {
    /// The candidates.
    pub path: CompiledPath,
    /// The value to replace.
    pub from: Node,
    /// The replacement.
    pub to: Node,
}

impl Primitive for Replace {
    type Spec = ReplaceSpec;
    const SUMMARY: &'static str = "Matched scalars equal to from become to.";

    fn compile(spec: &ReplaceSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Replace { path: cx.path(&spec.path)?, from: cx.value("from"), to: cx.value("to") })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.from)?;
        vars.bind(&mut self.to)
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let mut changed = false;
        for p in self.path.find(&d.root) {
            let n = d.root.at_mut(&p).expect("found");
            if *n == self.from && !n.same(&self.to) {
                *n = self.to.clone();
                let det = detail(d, &self.to);
                rec.record(d, &p, det);
                changed = true;
            }
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["path", "from", "to"],
            "properties": {"path": super::path_schema(), "from": value_schema(), "to": value_schema()}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run;

    #[test]
    fn replaces_equal_values_only() {
        let docs = "kind: Service\nmetadata:\n  name: a\nspec:\n  ports:\n  - port: 80\n  - port: 443\n";
        let (out, changes, again) =
            run("{kind: Service}", "  - replace: {path: \"$.spec.ports[*].port\", from: 80, to: 8080}\n", docs);
        assert_eq!(changes, ["replace $.spec.ports[0].port (8080)"]);
        assert!(out.contains("port: 8080") && out.contains("port: 443"), "{out}");
        assert!(!again);
    }
}
