//! `append`: append to matched lists (created when missing); idempotent.

use super::{detail, parents, value_schema, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::{PatchError, Vars};
use crate::yaml::{with_key, Node, PathSeg};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// `append: {path, value, unlessExists}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::Append")]
pub struct AppendSpec {
    /// JSONPath of the lists.
    pub path: String,
    /// The item (read from the lossless tree).
    pub value: IgnoredAny,
    /// A key: the item counts as present when an item has the same value under it.
    #[serde(default)]
    pub unless_exists: Option<String>,
}

/// A compiled `append`.
#[derive(Debug, Clone)]
pub struct Append {
    /// The lists.
    pub path: CompiledPath,
    /// The item.
    pub value: Node,
    /// Presence by this key instead of by equality.
    pub unless_exists: Option<String>,
}

impl Primitive for Append {
    type Spec = AppendSpec;
    const SUMMARY: &'static str = "Append to matched lists (created if missing); idempotent.";

    fn compile(spec: &AppendSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Append { path: cx.path(&spec.path)?, value: cx.value("value"), unless_exists: spec.unless_exists.clone() })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.value)
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let mut changed = false;
        for p in list_targets(&self.path, &mut d.root) {
            let list = d.root.at_mut(&p).and_then(Node::as_seq_mut).expect("list");
            let present = match &self.unless_exists {
                Some(k) => {
                    let want = self.value.get(k);
                    list.iter().any(|i| i.get(k).is_some() && i.get(k) == want)
                }
                None => list.contains(&self.value),
            };
            if !present {
                list.push(self.value.clone());
                let det = detail(d, &self.value);
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
            "required": ["path", "value"],
            "properties": {"path": super::path_schema(), "value": value_schema(), "unlessExists": {"type": "string"}}
        })
    }
}

/// Lists targeted by an append: found lists, or (when the last key is missing or null in a
/// found parent map) a new empty list created there.
fn list_targets(path: &CompiledPath, root: &mut Node) -> Vec<Vec<PathSeg>> {
    let mut out: Vec<Vec<PathSeg>> = path
        .find(root)
        .into_iter()
        .filter(|p| root.at(p).is_some_and(|n| n.as_seq().is_some() || n.is_null()))
        .collect();
    if let Some((_, key)) = &path.parent {
        let (ps, _) = parents(path, root);
        for p in ps {
            let parent = root.at(&p).expect("found");
            if parent.get(key).is_none_or(Node::is_null) {
                out.push(with_key(&p, key));
            }
        }
    }
    out.sort();
    out.dedup();
    for p in &out {
        let n = root.at_mut(p);
        if let Some(n) = n {
            if n.is_null() {
                *n = Node::seq();
            }
        } else if let Some((last, parent)) = p.split_last() {
            if let (PathSeg::Key(k), Some(pn)) = (last, root.at_mut(parent)) {
                pn.ensure_seq(k);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run;

    #[test]
    fn appends_once_creating_a_missing_list() {
        let docs = "kind: Pod\nmetadata:\n  name: a\nspec:\n  tolerations:\n  - key: a\n---\nkind: Pod\nmetadata:\n  name: b\nspec:\n  x: 1\n";
        let (out, changes, again) =
            run("{kind: Pod}", "  - append: {path: \"$.spec.tolerations\", value: {key: b}}\n", docs);
        assert_eq!(changes, ["append $.spec.tolerations ({key: b})", "append $.spec.tolerations ({key: b})"]);
        assert_eq!(out.matches("key: b").count(), 2, "{out}");
        assert!(!again);
    }

    #[test]
    fn unless_exists_compares_by_key() {
        let docs = "kind: Pod\nmetadata:\n  name: a\nspec:\n  tolerations:\n  - key: b\n    effect: NoSchedule\n";
        let (_, changes, _) = run(
            "{kind: Pod}",
            "  - append: {path: \"$.spec.tolerations\", value: {key: b, effect: NoExecute}, unlessExists: key}\n",
            docs,
        );
        assert!(changes.is_empty(), "{changes:?}");
    }
}
