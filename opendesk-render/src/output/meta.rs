//! `render-meta.yaml`: what was rendered, from what, with which result. Deterministic: no
//! timestamps, timings, host names or absolute paths, and never a secret value (only counts),
//! so two renders of the same input are byte-identical.
//!
//! ```yaml
//! schemaVersion: 1
//! rendererVersion: 0.1.0
//! opendeskVersion: 1.13.1
//! instance: acme
//! inputDigest: sha256:…          # over sorted relative input paths and each file's sha256
//! outputDigest: sha256:…         # over releases/ and applications/ (not this file): paths and file sha256s
//! totals: {releases: 2, resources: 14}
//! releases:
//!   - name: ums
//!     application: acme-ums
//!     wave: identity
//!     syncWave: 2
//!     resources: 12
//!     kinds: {ConfigMap: 3, Deployment: 2, …}
//!     images: [quay.io/keycloak/keycloak:26.5.6, …]   # the inventory's: sorted, unique; absent when none
//!     outputDigest: sha256:…     # over the release folder's file names and file sha256s
//! patches:
//!   - {name: fix-empty-protocol, matched: 4, changed: 2, skipped: false}
//!   - {name: old-fix, matched: 0, changed: 0, skipped: true, skipReason: appliesTo …}
//! findings: [{stage, code, severity, message, resource?, origin?, path?}]
//! guards: [{name, passed, message?}]
//! eso: {converted: 12}
//! redactions: 0                  # secret values masked (redact.mode: mask)
//! secrets:                       # every (Secret, key) converted: class and reason, names only
//!   - {secret: Secret/opendesk/redis, key: redis-password, class: secret, reason: strong}
//! module:                        # only in a module render's tree (render --module)
//!   keys: [nextcloud]
//!   covers: [opendesk-nextcloud]  # the releases the push replaces
//!   rendered: [opendesk-nextcloud]
//!   base: {inputDigest: sha256:…, outputDigest: sha256:…}   # null with noBase: true
//!   noBase: false
//!   allowSecretRemoval: false
//!   scopedGuards: [{name, how}]
//! ```

use crate::patch::PatchStat;
use crate::pipeline::Report;
use crate::report::Finding;
use crate::yaml::{emit, Node};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the render-meta layout; bump when a field changes meaning or goes away.
pub const META_SCHEMA_VERSION: u32 = 1;

/// This renderer's version.
pub const RENDERER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One patch's effect as render-meta writes it (from [`PatchStat`], the one type of it):
/// `skipped` as a flag and its reason beside it; no file or `required` (the report has them).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetaPatch<'a> {
    name: &'a str,
    matched: usize,
    changed: usize,
    skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_reason: Option<&'a str>,
}

impl<'a> From<&'a PatchStat> for MetaPatch<'a> {
    fn from(s: &'a PatchStat) -> Self {
        MetaPatch {
            name: &s.name,
            matched: s.matched,
            changed: s.changed,
            skipped: s.skipped.is_some(),
            skip_reason: s.skipped.as_deref(),
        }
    }
}

/// One guard's result (render-meta's `guards[]`): the guards stage's type.
pub use crate::stages::guards::GuardResult;

/// What render-meta is written from besides the output tree: the report as the output stage
/// starts (identity, patches, findings, guards, secrets, module, counts) and the inventory's
/// images. One source for the facts the report and render-meta share.
#[derive(Debug, Clone)]
pub struct MetaInput {
    /// The report so far ([`crate::pipeline::RenderContext::report`]); render-meta takes its
    /// identity fields, `patches`, `findings`, `guards`, `secrets`, `module` and the
    /// `summary`'s `eso_converted` and `redactions`.
    pub report: Report,
    /// Per release, its container images (the inventory stage's; sorted, unique).
    pub images: BTreeMap<String, Vec<String>>,
}

impl Default for MetaInput {
    fn default() -> Self {
        let report = Report { renderer_version: RENDERER_VERSION.to_string(), ..Default::default() };
        MetaInput { report, images: BTreeMap::new() }
    }
}

/// Per-release facts computed from the output tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseMeta {
    /// Release name.
    pub name: String,
    /// Its Application's name.
    pub application: String,
    /// Wave name.
    pub wave: String,
    /// `argocd.argoproj.io/sync-wave` value.
    pub sync_wave: i64,
    /// Number of resources (files).
    pub resources: usize,
    /// Resources by kind (sorted).
    pub kinds: BTreeMap<String, usize>,
    /// Container images its workloads run (the inventory's: sorted, unique).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// sha256 over the release folder's sorted file names and each file's sha256.
    pub output_digest: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    schema_version: u32,
    renderer_version: &'a str,
    opendesk_version: &'a str,
    instance: &'a str,
    input_digest: &'a str,
    output_digest: &'a str,
    totals: Totals,
    releases: &'a [ReleaseMeta],
    patches: Vec<MetaPatch<'a>>,
    findings: &'a [Finding],
    guards: &'a [GuardResult],
    eso: Eso,
    redactions: usize,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    secrets: &'a [crate::stages::classify::KeyClass],
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<&'a crate::module::ModuleMeta>,
}

#[derive(Serialize)]
struct Totals {
    releases: usize,
    resources: usize,
}

#[derive(Serialize)]
struct Eso {
    converted: usize,
}

/// The text of `render-meta.yaml`. `extra_findings` (e.g. the output stage's) follow
/// `input.findings`.
pub fn render_meta(
    input: &MetaInput,
    releases: &[ReleaseMeta],
    output_digest: &str,
    extra_findings: &[Finding],
) -> String {
    let input = &input.report;
    let mut findings = input.findings.clone();
    findings.extend_from_slice(extra_findings);
    let meta = Meta {
        schema_version: META_SCHEMA_VERSION,
        renderer_version: &input.renderer_version,
        opendesk_version: &input.opendesk_version,
        instance: &input.instance,
        input_digest: &input.input_digest,
        output_digest,
        totals: Totals { releases: releases.len(), resources: releases.iter().map(|r| r.resources).sum() },
        releases,
        patches: input.patches.iter().map(MetaPatch::from).collect(),
        findings: &findings,
        guards: &input.guards,
        eso: Eso { converted: input.summary.eso_converted },
        redactions: input.summary.redactions,
        secrets: &input.secrets,
        module: input.module.as_ref(),
    };
    // Serialising plain structs of strings and integers cannot fail.
    let json = serde_json::to_value(&meta).unwrap_or_default();
    let mut out = String::from("# Written by opendesk-render.\n");
    out.push_str(&emit(&Node::from_json(&json)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Summary;
    use crate::report::Severity;
    use crate::yaml::parse_documents;

    fn sample() -> (MetaInput, Vec<ReleaseMeta>) {
        let report = Report {
            renderer_version: RENDERER_VERSION.into(),
            opendesk_version: "1.13.1".into(),
            instance: "acme".into(),
            input_digest: "sha256:00".into(),
            patches: vec![
                PatchStat {
                    name: "fix-a".into(),
                    file: "010-a.yaml".into(),
                    required: false,
                    matched: 3,
                    changed: 1,
                    skipped: None,
                },
                PatchStat {
                    name: "old".into(),
                    file: "020-old.yaml".into(),
                    required: true,
                    matched: 0,
                    changed: 0,
                    skipped: Some("appliesTo <1.0.0 excludes 1.13.1".into()),
                },
            ],
            findings: vec![Finding::new("lint", "lint/image-latest", Severity::Warning, "image uses :latest")],
            guards: vec![GuardResult::pass("namespace-marker")],
            summary: Summary { eso_converted: 4, redactions: 1, ..Default::default() },
            ..Default::default()
        };
        let input = MetaInput { report, ..Default::default() };
        let rel = ReleaseMeta {
            name: "ums".into(),
            application: "acme-ums".into(),
            wave: "identity".into(),
            sync_wave: 2,
            resources: 3,
            kinds: [("ConfigMap".to_string(), 2), ("Deployment".to_string(), 1)].into_iter().collect(),
            images: vec!["redis:7".into()],
            output_digest: "sha256:11".into(),
        };
        (input, vec![rel])
    }

    #[test]
    fn meta_is_deterministic_yaml_without_volatile_fields() {
        let (input, rels) = sample();
        let a = render_meta(&input, &rels, "sha256:22", &[]);
        assert_eq!(a, render_meta(&input, &rels, "sha256:22", &[]));
        let doc = &parse_documents(&a).unwrap()[0];
        assert_eq!(doc.get("schemaVersion").unwrap().as_i64(), Some(1));
        assert_eq!(doc.get("rendererVersion").unwrap().as_str(), Some(RENDERER_VERSION));
        assert_eq!(doc.get("opendeskVersion").unwrap().as_str(), Some("1.13.1"));
        assert_eq!(doc.get_path("totals.resources").unwrap().as_i64(), Some(3));
        let r = &doc.get("releases").unwrap().as_seq().unwrap()[0];
        assert_eq!(r.get_path("kinds.ConfigMap").unwrap().as_i64(), Some(2));
        assert_eq!(r.get("syncWave").unwrap().as_i64(), Some(2));
        let p = &doc.get("patches").unwrap().as_seq().unwrap()[1];
        assert_eq!(p.get("skipped").unwrap().as_bool(), Some(true));
        assert_eq!(doc.get_path("eso.converted").unwrap().as_i64(), Some(4));
        assert_eq!(doc.get("redactions").unwrap().as_i64(), Some(1));
        assert!(doc.get("findings").unwrap().as_seq().unwrap()[0].get("origin").is_none());
        for bad in ["time", "Time", "duration", "/tmp", "/home"] {
            assert!(!a.contains(bad), "render-meta must not contain {bad:?}:\n{a}");
        }
    }

    #[test]
    fn versions_stay_strings_and_extra_findings_follow() {
        let (mut input, rels) = sample();
        input.report.opendesk_version = "1.10".into();
        let extra = Finding::new("output", "output/no-release-graph", Severity::Warning, "no graph");
        let a = render_meta(&input, &rels, "sha256:22", &[extra]);
        let doc = &parse_documents(&a).unwrap()[0];
        assert_eq!(doc.get("opendeskVersion").unwrap().as_str(), Some("1.10"));
        let f = doc.get("findings").unwrap().as_seq().unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].get("code").unwrap().as_str(), Some("output/no-release-graph"));
    }
}
