//! `merge`: deep-merge a mapping.

use super::{detail, parents, OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::{PatchError, Vars};
use crate::yaml::{with_key, Entry, Node};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// `merge: {path, value}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::Merge")]
pub struct MergeSpec {
    /// JSONPath of the maps (a missing last key is created).
    pub path: String,
    /// The mapping to merge in (read from the lossless tree).
    pub value: IgnoredAny,
}

/// A compiled `merge`.
#[derive(Debug, Clone)]
pub struct Merge {
    /// The maps.
    pub path: CompiledPath,
    /// The mapping.
    pub value: Node,
}

impl Primitive for Merge {
    type Spec = MergeSpec;
    const SUMMARY: &'static str = "Deep-merge a mapping.";

    fn compile(spec: &MergeSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        let value = cx.value("value");
        if value.as_map().is_none() {
            return Err(cx.error("merge", "`value` must be a mapping"));
        }
        Ok(Merge { path: cx.path(&spec.path)?, value })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.value)
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let path = &self.path;
        let mut changed = false;
        let mut targets = path.find(&d.root);
        if targets.is_empty() {
            if let Some((_, key)) = &path.parent {
                let (ps, _) = parents(path, &d.root);
                for p in ps {
                    d.root.at_mut(&p).expect("found").ensure_map(key);
                    targets.push(with_key(&p, key));
                }
            }
        }
        for p in targets {
            let Some(n) = d.root.at_mut(&p) else { continue };
            if n.is_null() {
                *n = Node::map();
            }
            if n.as_map().is_some() && merge(n, &self.value) {
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
            "properties": {"path": super::path_schema(), "value": {"type": "object"}}
        })
    }
}

/// Deep merge `src` into `dst` (maps merge recursively, anything else replaces).
fn merge(dst: &mut Node, src: &Node) -> bool {
    let (Some(_), Some(sm)) = (dst.as_map(), src.as_map()) else {
        if dst.same(src) {
            return false;
        }
        *dst = src.clone();
        return true;
    };
    let mut changed = false;
    for e in sm {
        match dst.get_mut(&e.key.text) {
            Some(v) if v.as_map().is_some() && e.value.as_map().is_some() => changed |= merge(v, &e.value),
            Some(v) => {
                if !v.same(&e.value) {
                    *v = e.value.clone();
                    changed = true;
                }
            }
            None => {
                dst.as_map_mut().expect("map").push(Entry { key: e.key.clone(), key_line: 0, key_col: 0, value: e.value.clone() });
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, run};

    #[test]
    fn merges_deeply_and_creates_the_map() {
        let docs = "kind: Pod\nmetadata:\n  name: a\nspec:\n  securityContext:\n    runAsUser: 0\n    fsGroup: 1\n---\nkind: Pod\nmetadata:\n  name: b\nspec:\n  x: 1\n";
        let (out, changes, again) = run(
            "{kind: Pod}",
            "  - merge: {path: \"$.spec.securityContext\", value: {runAsUser: 1000, runAsNonRoot: true}}\n",
            docs,
        );
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(out.contains("runAsUser: 1000\n    fsGroup: 1\n    runAsNonRoot: true"), "{out}");
        assert!(!again);
    }

    #[test]
    fn value_must_be_a_mapping() {
        let e = error("  - merge: {path: \"$.spec\", value: 1}\n");
        assert!(e.contains("op #1 (merge): `value` must be a mapping"), "{e}");
    }
}
