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
        let run = apply(&prepared, &mut cx.docs, "override");
        if let Some(e) = run.unbound {
            return Err(RenderError::Patch(e));
        }
        cx.patch_stats.extend(run.stats.into_iter().map(|s| PatchStat { name: format!("override:{}", s.name), ..s }));
        Ok(Vec::new())
    }
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
