//! Findings and per-stage reports shared by every stage.

use crate::document::{Origin, ResourceId};
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Origin (release/file:line), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// JSONPath inside the resource, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
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
            path: None,
        }
    }

    /// A finding of a registered check, at its default severity, without location.
    pub fn of(check: crate::checks::Check, message: impl Into<String>) -> Self {
        Finding::new(check.stage(), check.code(), check.default_severity(), message)
    }

    /// Attach a resource and its origin.
    pub fn at(mut self, id: &ResourceId, origin: &Origin) -> Self {
        self.resource = Some(id.to_string());
        self.origin = Some(origin.to_string());
        self
    }

    /// Attach a path inside the resource.
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.path = Some(p.into());
        self
    }
}
