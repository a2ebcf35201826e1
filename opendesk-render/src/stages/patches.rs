//! The patch stages: the patch set (`patches`), then the instance config's overrides
//! (`overrides`, the same engine without `appliesTo`). The `required-patch` guard lives here:
//! it reads what the patch run matched.

use crate::checks::Check;
use crate::patch::{apply, PatchRun, PatchSet, PatchStat, Prepared};
use crate::pipeline::{RenderContext, RenderError, Stage};
use crate::report::Finding;
use crate::stages::guards::GuardResult;

/// `patches`: apply the patch set; adds the `required-patch` guard's result.
pub struct PatchesStage;

impl Stage for PatchesStage {
    fn name(&self) -> &'static str {
        "patches"
    }

    fn label(&self) -> &'static str {
        "applying patches"
    }

    fn run(&self, cx: &mut RenderContext<'_>) -> Result<Vec<Finding>, RenderError> {
        let prepared = match cx.patches {
            Some(set) => set.prepare(&cx.version, &cx.vars)?,
            None => Prepared::default(),
        };
        let run = apply(&prepared, &mut cx.docs, "patch");
        if let Some(e) = run.unbound {
            return Err(RenderError::Patch(e));
        }
        let required = match cx.module {
            Some(m) => {
                let (g, out_of_scope) = crate::module::required_guard(&run, &prepared, &m.scope);
                cx.out_of_scope_patches = out_of_scope;
                g
            }
            None => required_guard(&run),
        };
        cx.guards.push(required);
        let findings = dead_patches(&run, &prepared, &cx.version, cx.module.map(|m| &m.scope));
        cx.patch_stats.extend(run.stats);
        Ok(findings)
    }
}

/// `patches/dead`: one warning per in-range patch that selected no document, naming the patch
/// and its file:line. Required patches are left to the `required-patch` guard (which fails the
/// render); in a module render, a patch whose `select.release` names no release of the module
/// is expected to select nothing and is left out.
pub fn dead_patches(
    run: &PatchRun,
    prepared: &Prepared,
    version: &semver::Version,
    scope: Option<&crate::module::ModuleScope>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in run.stats.iter().filter(|s| s.skipped.is_none() && s.matched == 0 && !s.required) {
        let Some(p) = prepared.active.iter().find(|p| p.name == s.name) else { continue };
        if let Some(scope) = scope {
            let outside = !p.select.release.is_empty()
                && !scope.releases.iter().any(|r| p.select.release.iter().any(|pt| pt.matches(r)));
            if outside {
                continue;
            }
        }
        let range = match &p.applies_to {
            Some((text, _)) => format!("appliesTo {text:?} includes {version}"),
            None => format!("no appliesTo, so it runs for {version}"),
        };
        out.push(Finding::of(
            Check::PatchesDead,
            format!(
                "patch `{}` ({}:{}) is in range ({range}) but selected no document: the fix no longer finds what it \
                 fixes (the chart changed shape, the release is gone, or upstream fixed it). Check it with \
                 `opendesk-render patches matrix`, then update its select, narrow its appliesTo, or remove it",
                p.name, p.file, p.line
            ),
        ));
    }
    out
}

/// `overrides`: apply the instance config's overrides; their stats are named `override:<name>`.
pub struct OverridesStage;

impl Stage for OverridesStage {
    fn name(&self) -> &'static str {
        "overrides"
    }

    fn label(&self) -> &'static str {
        "applying instance overrides"
    }

    fn run(&self, cx: &mut RenderContext<'_>) -> Result<Vec<Finding>, RenderError> {
        let overrides = PatchSet { patches: cx.cfg.compiled_overrides()? };
        let prepared = overrides.prepare(&cx.version, &cx.vars)?;
        let whole: Vec<Option<String>> =
            cx.docs.iter().map(|d| missing_identity(d).is_none().then(|| d.id().to_string())).collect();
        let run = apply(&prepared, &mut cx.docs, "override");
        if let Some(e) = run.unbound {
            return Err(RenderError::Patch(e));
        }
        if let Some(e) = broken_by_override(&cx.docs, &whole, &overrides, cx.cfg) {
            return Err(RenderError::Patch(e));
        }
        assign_release_namespaces(&mut cx.docs, cx.cfg);
        cx.patch_stats.extend(run.stats.into_iter().map(|s| PatchStat { name: format!("override:{}", s.name), ..s }));
        Ok(Vec::new())
    }
}

/// After the overrides (the last changes to where a resource lands): every namespaced resource
/// without a namespace gets its release's, the namespace its Application deploys to
/// ([`crate::output::argo::release_namespaces`]), so every later stage, the guards and the
/// tree see where it lands.
fn assign_release_namespaces(docs: &mut [crate::document::Document], cfg: &crate::InstanceConfig) {
    let scopes = crate::stages::Scopes::from_docs(docs);
    let plan = crate::output::argo::release_namespaces_with(docs, cfg, &scopes);
    crate::output::argo::assign_namespaces(docs, &plan, &scopes);
}

/// The first of `apiVersion`, `kind`, `metadata.name` the document lacks.
fn missing_identity(d: &crate::document::Document) -> Option<&'static str> {
    if d.api_version().is_none() {
        Some("apiVersion")
    } else if d.kind().is_none() {
        Some("kind")
    } else if d.name().is_none() {
        Some("metadata.name")
    } else {
        None
    }
}

/// A document that had `apiVersion`, `kind` and `metadata.name` before the overrides and lacks
/// one after: the error names the override that changed it last (there, or anywhere in the
/// document) and its config line, not the input file.
fn broken_by_override(
    docs: &[crate::document::Document],
    whole_before: &[Option<String>],
    overrides: &PatchSet,
    cfg: &crate::InstanceConfig,
) -> Option<crate::patch::PatchError> {
    let (d, id, what) = docs
        .iter()
        .zip(whole_before)
        .filter_map(|(d, w)| w.as_ref().map(|id| (d, id)))
        .find_map(|(d, id)| missing_identity(d).map(|m| (d, id, m)))?;
    let field = format!("$.{what}");
    let top = format!("$.{}", what.split('.').next().unwrap_or(what));
    let by_override = |c: &&crate::document::Change| c.by.starts_with("override:");
    let change = d
        .changes
        .iter()
        .rev()
        .filter(by_override)
        .find(|c| c.path == field || c.path == top || field.starts_with(&format!("{}.", c.path)))
        .or_else(|| d.changes.iter().rev().find(by_override))?;
    let name = change.by.trim_start_matches("override:");
    let p = overrides.patches.iter().find(|p| p.name == name)?;
    let file = cfg.source.as_ref().map_or_else(|| p.file.to_string(), |(f, _)| f.clone());
    let col = cfg
        .source
        .as_ref()
        .and_then(|(_, t)| t.lines().nth((p.line as usize).saturating_sub(1)))
        .and_then(|l| l.find("name"))
        .map_or(1, |c| c + 1);
    Some(crate::patch::PatchError {
        file,
        line: p.line as usize,
        col,
        message: format!(
            "override {name:?} leaves {} ({}:{}) without `{what}` ({} at {}); the API server rejects a resource \
             without apiVersion, kind and metadata.name: narrow the override's path or select",
            id, d.origin.release, d.origin.file, change.action, change.path
        ),
    })
}

/// The `required-patch` guard: every required, in-range patch matched a document.
pub fn required_guard(run: &PatchRun) -> GuardResult {
    let name = Check::GuardRequiredPatch.guard_name().unwrap_or_default().to_string();
    let dead = run.required_unmatched();
    if dead.is_empty() {
        GuardResult::pass(name)
    } else {
        let names: Vec<String> = dead.iter().map(|s| format!("{} ({})", s.name, s.file)).collect();
        GuardResult::fail(
            name,
            format!(
                "required patch(es) matched no document: {}. The chart changed shape or the release is missing: update the patch's select, or narrow its appliesTo",
                names.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::Vars;
    use crate::stages::testutil::docs;
    use std::collections::BTreeSet;

    const PATCHES: &str = "\
name: live
select: {kind: Deployment}
ops:
  - set: {path: $.spec.replicas, value: 2}
---
name: dead-one
select: {kind: StatefulSet}
ops:
  - set: {path: $.spec.replicas, value: 2}
---
name: dead-required
required: true
select: {kind: DaemonSet}
ops:
  - set: {path: $.spec.x, value: 1}
---
name: out-of-range
appliesTo: '>=2.0.0'
select: {kind: CronJob}
ops:
  - set: {path: $.spec.x, value: 1}
---
name: dead-elsewhere
appliesTo: '>=1.0.0'
select: {kind: Job, release: other}
ops:
  - set: {path: $.spec.x, value: 1}
";

    fn run(scope: Option<&crate::module::ModuleScope>) -> Vec<Finding> {
        let set = PatchSet::from_texts([("fix.yaml", PATCHES)]).unwrap();
        let v = semver::Version::new(1, 13, 1);
        let prepared = set.prepare(&v, &Vars::default()).unwrap();
        let mut d = docs("app", "d.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {}\n");
        let r = apply(&prepared, &mut d, "patch");
        dead_patches(&r, &prepared, &v, scope)
    }

    #[test]
    fn a_dead_in_range_patch_is_a_warning_naming_it_and_its_line() {
        let f = run(None);
        let msgs: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(f.len(), 2, "{msgs:#?}");
        assert!(f.iter().all(|f| f.code == "patches/dead" && f.severity == crate::report::Severity::Warning));
        assert!(msgs[0].starts_with("patch `dead-one` (fix.yaml:6) is in range (no appliesTo, so it runs for 1.13.1)"));
        assert!(
            msgs[1].starts_with(
                "patch `dead-elsewhere` (fix.yaml:23) is in range (appliesTo \">=1.0.0\" includes 1.13.1)"
            ),
            "{}",
            msgs[1]
        );
        // The live patch, the required one (the guard fails the render) and the out-of-range one: none.
        assert!(!msgs.iter().any(|m| m.contains("`live`") || m.contains("required") || m.contains("out-of-range")));
    }

    #[test]
    fn a_module_render_leaves_out_patches_scoped_to_other_releases() {
        let scope = crate::module::ModuleScope { keys: vec!["m".into()], releases: BTreeSet::from(["app".into()]) };
        let f = run(Some(&scope));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("`dead-one`"));
    }
}
