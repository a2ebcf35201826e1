//! The patch stages: the patch set (`patches`), then the instance config's overrides
//! (`overrides`, the same engine without `appliesTo`). The `required-patch` guard lives here:
//! it reads what the patch run matched.

use crate::checks::Check;
use crate::output::meta::GuardResult;
use crate::patch::{apply, PatchRun, PatchSet, PatchStat, Prepared};
use crate::pipeline::{RenderContext, RenderError, Stage};
use crate::report::Finding;

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
        cx.patch_stats.extend(run.stats);
        Ok(Vec::new())
    }
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
        GuardResult { name, passed: true, message: None }
    } else {
        let names: Vec<String> = dead.iter().map(|s| format!("{} ({})", s.name, s.file)).collect();
        GuardResult {
            name,
            passed: false,
            message: Some(format!(
                "required patch(es) matched no document: {}. The chart changed shape or the release is missing: update the patch's select, or narrow its appliesTo",
                names.join(", ")
            )),
        }
    }
}
