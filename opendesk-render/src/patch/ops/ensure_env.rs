//! `ensureEnv`: set an env var in matching containers and initContainers.

use super::{containers, upsert_by, value_schema, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::{PatchError, Pattern, Vars};
use crate::yaml::{with_key, Node};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// `ensureEnv: {container, name, value | valueFrom}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::EnsureEnv")]
pub struct EnsureEnvSpec {
    /// Container name pattern (all when not given).
    #[serde(default)]
    pub container: Option<String>,
    /// The variable's name.
    pub name: String,
    /// Its value (read from the lossless tree, written as a string).
    #[serde(default)]
    pub value: Option<IgnoredAny>,
    /// Or its `valueFrom` (read from the lossless tree).
    #[serde(default)]
    pub value_from: Option<IgnoredAny>,
}

/// A compiled `ensureEnv`.
#[derive(Debug, Clone)]
pub struct EnsureEnv {
    /// Which containers.
    pub container: Pattern,
    /// The env entry (`name` and `value` or `valueFrom`).
    pub env: Node,
}

impl Primitive for EnsureEnv {
    type Spec = EnsureEnvSpec;
    const SUMMARY: &'static str = "Set an env var in matching containers and initContainers.";

    fn compile(spec: &EnsureEnvSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        if spec.value.is_some() == spec.value_from.is_some() {
            return Err(cx.error("ensureEnv", "give exactly one of `value` and `valueFrom`"));
        }
        let mut env = Node::map();
        env.insert("name", Node::string(spec.name.as_str()));
        if spec.value.is_some() {
            // An env value is a string to Kubernetes: write it so.
            let text = cx.value("value").scalar_text().unwrap_or("").to_string();
            env.insert("value", Node::string(text));
        } else {
            env.insert("valueFrom", cx.value("valueFrom"));
        }
        Ok(EnsureEnv { container: cx.container(&spec.container)?, env })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.env)?;
        // A whole `${values.x}` binds to the value's own type: a number stays a string here.
        if let Some(v) = self.env.get_mut("value") {
            *v = Node::string(v.scalar_text().unwrap_or(""));
        }
        Ok(())
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let name = self.env.get("name").and_then(Node::scalar_text).unwrap_or("").to_string();
        let mut changed = false;
        for cp in containers(d, &self.container) {
            let c = d.root.at_mut(&cp).expect("container");
            let list = c.ensure_seq("env").expect("env list");
            let list = list.as_seq_mut().expect("seq");
            if upsert_by(list, "name", &name, &self.env) {
                rec.record(d, &with_key(&cp, "env"), Some(name.clone()));
                changed = true;
            }
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name"],
            "properties": {
                "container": {"type": "string"},
                "name": {"type": "string"},
                "value": value_schema(),
                "valueFrom": {"type": "object"}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, run};

    const DOCS: &str = "kind: Deployment\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: init\n      containers:\n      - name: app\n        env:\n        - name: PORT\n          value: \"80\"\n";

    #[test]
    fn sets_the_variable_as_a_string_in_matching_containers() {
        let (out, changes, again) =
            run("{kind: Deployment}", "  - ensureEnv: {container: app, name: PORT, value: \"${values.port}\"}\n", DOCS);
        assert_eq!(changes, ["ensureEnv $.spec.template.spec.containers[0].env (PORT)"]);
        assert!(out.contains("- name: PORT\n              value: '8080'"), "a string: {out}");
        assert!(!again);
        let (_, changes, _) = run("{kind: Deployment}", "  - ensureEnv: {name: X, value: 1}\n", DOCS);
        assert_eq!(changes.len(), 2, "init and app: {changes:?}");
    }

    #[test]
    fn exactly_one_of_value_and_value_from() {
        let e = error("  - ensureEnv: {name: X}\n");
        assert!(e.contains("op #1 (ensureEnv): give exactly one of `value` and `valueFrom`"), "{e}");
    }
}
