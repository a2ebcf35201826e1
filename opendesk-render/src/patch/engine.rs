//! Selecting documents and applying a patch's ops to one. Every op is idempotent: applied
//! twice it changes nothing the second time. Each change is recorded on the document for
//! `explain`. The primitives themselves are in [`super::ops`].

use super::compile::{Patch, Pattern, Select};
use crate::document::Document;

/// Does the selector match this document? Cheap string checks first, the JSONPath last.
pub fn selects(s: &Select, d: &Document) -> bool {
    fn any(p: &[Pattern], v: Option<&str>) -> bool {
        p.is_empty() || v.is_some_and(|v| p.iter().any(|p| p.matches(v)))
    }
    any(&s.kind, d.kind())
        && any(&s.release, Some(&d.origin.release))
        && any(&s.name, d.name())
        && any(&s.api_version, d.api_version())
        && (s.namespace.is_empty() || s.namespace.iter().any(|p| p.matches(d.namespace().unwrap_or(""))))
        && s.labels.iter().all(|(k, v)| d.label(k) == Some(v.as_str()))
        && s.where_.as_ref().is_none_or(|w| w.exists(&d.root))
}

/// Apply one patch's ops to a selected document; returns whether anything changed.
pub fn apply_patch(p: &Patch, by: &str, d: &mut Document) -> bool {
    let mut changed = false;
    for (op, _) in &p.ops {
        changed |= op.apply(by, d);
    }
    changed
}
