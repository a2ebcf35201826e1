//! The typed patch file format (docs/patch-format.md), as serde-saphyr reads it.
//!
//! The typed pass validates the structure (unknown fields, unknown primitives, missing
//! fields) with line and column. Op *values* are taken from our own lossless tree of the same
//! text, so `value: 0644` or `value: on` reach the output exactly as the author wrote them.

pub use super::ops::OpSpec;
use serde::Deserialize;

/// One string or a list of strings (`kind: Job` or `kind: [Job, CronJob]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single pattern.
    One(String),
    /// Several patterns (any may match).
    Many(Vec<String>),
}

impl OneOrMany {
    /// The patterns.
    pub fn patterns(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Which documents a patch applies to; every given field must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectSpec {
    /// `kind` globs or `/regex/`.
    #[serde(default)]
    pub kind: Option<OneOrMany>,
    /// `apiVersion` globs or `/regex/`.
    #[serde(default)]
    pub api_version: Option<OneOrMany>,
    /// Release globs or `/regex/`.
    #[serde(default)]
    pub release: Option<OneOrMany>,
    /// `metadata.name` globs or `/regex/`.
    #[serde(default)]
    pub name: Option<OneOrMany>,
    /// `metadata.namespace` globs or `/regex/`.
    #[serde(default)]
    pub namespace: Option<OneOrMany>,
    /// Label equality.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// A JSONPath that must find at least one node.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
}

/// One patch document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchSpec {
    /// Unique name.
    pub name: String,
    /// What bug, what fix.
    #[serde(default)]
    pub description: String,
    /// semver range on the openDesk version; omitted = always.
    #[serde(default)]
    pub applies_to: Option<String>,
    /// Matching nothing for an in-range version is fatal.
    #[serde(default)]
    pub required: bool,
    /// Document selector.
    #[serde(default)]
    pub select: SelectSpec,
    /// The operations, in order.
    pub ops: Vec<OpSpec>,
}
