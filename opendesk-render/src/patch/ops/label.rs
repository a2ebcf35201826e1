//! `label`: set `metadata.labels` entries.

use super::annotate::{set_metadata_entries, string_entries, string_entries_schema, stringify_values};
use super::{OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::{PatchError, Vars};
use crate::yaml::Node;
use serde::de::IgnoredAny;

/// A compiled `label`.
#[derive(Debug, Clone)]
pub struct Label {
    /// The entries (values as strings).
    pub entries: Node,
}

impl Primitive for Label {
    /// The body is the mapping of entries (read from the lossless tree).
    type Spec = IgnoredAny;
    const SUMMARY: &'static str = "Set metadata.labels entries.";

    fn compile(_: &IgnoredAny, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(Label { entries: string_entries(cx)? })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        vars.bind(&mut self.entries)?;
        stringify_values(&mut self.entries);
        Ok(())
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        set_metadata_entries("labels", &self.entries, rec, d)
    }

    fn schema() -> serde_json::Value {
        string_entries_schema()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::run;

    #[test]
    fn sets_string_labels_creating_the_map() {
        let docs = "kind: Service\nmetadata:\n  name: a\n";
        let (out, changes, again) = run("{kind: Service}", "  - label: {tier: web, v: \"${values.port}\"}\n", docs);
        assert_eq!(changes, ["label $.metadata.labels.tier", "label $.metadata.labels.v"]);
        assert!(out.contains("labels:\n    tier: web\n    v: '8080'"), "{out}");
        assert!(!again);
    }
}
