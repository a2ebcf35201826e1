//! Findings and per-stage reports shared by every stage.

use crate::document::{Origin, ResourceId};
use crate::error::Location;
use crate::yaml::Pos;
use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational (e.g. a dedup that kept one of two identical resources).
    Info,
    /// Reported, does not fail the render.
    Warning,
    /// Fails the render (exit 1) after all findings are collected.
    Error,
}

/// One finding of a stage: what, where, how bad. Never carries a secret value.
///
/// Serialized (render-meta, `--json`) as `{stage, code, severity, message, resource?, origin?,
/// line?, col?, path?}`: `line` and `col` are the [`Location`]'s, each only when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stage that produced it (`lint`, `dedup`, `guards`, ...).
    pub stage: &'static str,
    /// Stable machine-readable code (`lint/image-latest`, `guard/namespace-marker`, ...).
    pub code: String,
    /// Severity.
    pub severity: Severity,
    /// Human message; says what to do where that helps.
    pub message: String,
    /// The resource concerned, if any (`Kind/namespace/name`).
    pub resource: Option<String>,
    /// Origin (release/file:line), if any.
    pub origin: Option<String>,
    /// Where in the input the finding points: `release/file` (as the origin names it), the
    /// 1-based line and column of the node it is about (column 0 when only the line is known,
    /// e.g. for a node made by a stage, which points at its document's first line).
    pub location: Option<Location>,
    /// JSONPath inside the resource, if any.
    pub path: Option<String>,
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (line, col) = self.location.as_ref().map_or((0, 0), |l| (l.line, l.col));
        let mut st = ser.serialize_struct("Finding", 9)?;
        st.serialize_field("stage", self.stage)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("message", &self.message)?;
        let opt = |st: &mut S::SerializeStruct, k: &'static str, v: &Option<String>| match v {
            Some(v) => st.serialize_field(k, v),
            None => st.skip_field(k),
        };
        opt(&mut st, "resource", &self.resource)?;
        opt(&mut st, "origin", &self.origin)?;
        for (k, v) in [("line", line), ("col", col)] {
            if v != 0 {
                st.serialize_field(k, &v)?;
            } else {
                st.skip_field(k)?;
            }
        }
        opt(&mut st, "path", &self.path)?;
        st.end()
    }
}

impl Finding {
    /// A finding without location.
    pub fn new(stage: &'static str, code: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            stage,
            code: code.into(),
            severity,
            message: message.into(),
            resource: None,
            origin: None,
            location: None,
            path: None,
        }
    }

    /// A finding of a registered check, at its default severity, without location.
    pub fn of(check: crate::checks::Check, message: impl Into<String>) -> Self {
        Finding::new(check.stage(), check.code(), check.default_severity(), message)
    }

    /// Attach a resource and its origin (the location: the document's first line).
    pub fn at(mut self, id: &ResourceId, origin: &Origin) -> Self {
        self.resource = Some(id.to_string());
        self.origin = Some(origin.to_string());
        self.location = Some(origin.location(Pos::default()));
        self
    }

    /// Attach a resource, its origin and the position of the node the finding is about (a
    /// node made by a stage, at `0:0`, points at the document's first line).
    pub fn at_node(mut self, id: &ResourceId, origin: &Origin, pos: Pos) -> Self {
        let loc = origin.location(pos);
        self.resource = Some(id.to_string());
        self.origin = Some(origin.with_line(loc.line as u32));
        self.location = Some(loc);
        self
    }

    /// Where the finding points, as `file:line:col` (`file:line` or `file` where less is
    /// known), else its origin: what the CLI prints.
    pub fn position(&self) -> Option<String> {
        self.location.as_ref().map(Location::to_string).or_else(|| self.origin.clone())
    }

    /// Attach a path inside the resource.
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.path = Some(p.into());
        self
    }
}
