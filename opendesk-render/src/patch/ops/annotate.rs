//! `annotate`: set `metadata.annotations` entries.

use super::{OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::{PatchError, Vars};
use crate::yaml::{keys, Node};
use serde::de::IgnoredAny;

/// A compiled `annotate`.
#[derive(Debug, Clone)]
pub struct Annotate {
    /// The entries (values as strings).
    pub entries: Node,
}

impl Primitive for Annotate {
    /// The body is the mapping of entries (read from the lossless tree).
    type Spec = IgnoredAny;
    const SUMMARY: &'static str = "Set metadata.annotations entries.";

    fn compile(_: &IgnoredAny, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Annotate { entries: string_entries(cx)? })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.entries)?;
        stringify_values(&mut self.entries);
        Ok(())
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        set_metadata_entries("annotations", &self.entries, rec, d)
    }

    fn schema() -> serde_json::Value {
        string_entries_schema()
    }
}

/// The body of `annotate` and `label`: a mapping whose values are written as strings.
pub(crate) fn string_entries(cx: &OpCx<'_>) -> Result<Node, PatchError> {
    if cx.body.as_map().is_none() {
        return Err(cx.error(cx.name, "expects a mapping of keys to values"));
    }
    let mut entries = cx.body.clone();
    stringify_values(&mut entries);
    Ok(entries)
}

/// Annotation and label values are strings to Kubernetes: write them so (after compiling and
/// again after binding, where a whole `${values.x}` takes the value's own type).
pub(crate) fn stringify_values(entries: &mut Node) {
    for e in entries.as_map_mut().into_iter().flatten() {
        let t = e.value.scalar_text().unwrap_or("").to_string();
        e.value = Node::string(t);
    }
}

/// The body schema of `annotate` and `label`.
pub(crate) fn string_entries_schema() -> serde_json::Value {
    serde_json::json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}})
}

/// Set `entries` under `metadata.<field>`; one change per key set.
pub(crate) fn set_metadata_entries(field: &str, entries: &Node, rec: &Rec<'_>, d: &mut Document) -> bool {
    let Some(meta) = d.root.ensure_map("metadata") else { return false };
    let Some(target) = meta.ensure_map(field) else { return false };
    let mut done = Vec::new();
    for e in entries.as_map().into_iter().flatten() {
        if target.get(&e.key.text).is_some_and(|v| v == &e.value) {
            continue;
        }
        target.insert(&e.key.text, e.value.clone());
        done.push(e.key.text.clone());
    }
    let changed = !done.is_empty();
    for k in done {
        rec.record(d, &keys(&["metadata", field, &k]), None);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, run};

    #[test]
    fn sets_string_annotations_once() {
        let docs = "kind: Service\nmetadata:\n  name: a\n  annotations:\n    keep: \"1\"\n";
        let (out, changes, again) = run("{kind: Service}", "  - annotate: {a.example/x: 5, keep: \"1\"}\n", docs);
        assert_eq!(changes, ["annotate $.metadata.annotations['a.example/x']"]);
        assert!(out.contains("a.example/x: '5'"), "{out}");
        assert!(!again);
        assert!(error("  - annotate: [x]\n").contains("op #1 (annotate): expects a mapping"));
    }
}
