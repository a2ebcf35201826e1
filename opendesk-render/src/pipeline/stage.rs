//! The stage registry: one trait every stage implements and [`STAGES`], the one ordered list
//! of them. The pipeline loop ([`super::render`]), the CLI's progress bar, the report's
//! timings and the docs all take the stage names from here (in the spirit of kyaml's
//! `kio.Filter`/`kio.Pipeline`: a stage is a value with a name that runs over shared state).
//!
//! A stage reads and changes the [`RenderContext`] and returns its findings; the loop reports
//! progress, times the stage, checks for cancellation at the boundary and merges the findings
//! (severity settings, secret scrubbing) in one place. A stage that must stop the render
//! returns a typed [`RenderError`].

use super::{RenderContext, RenderError};
use crate::report::Finding;
use crate::stages;

/// One pipeline stage.
pub trait Stage: Sync {
    /// The stable name (`patches`, `jit`, …): progress events, timings and docs use it.
    fn name(&self) -> &'static str;

    /// What a progress bar says while the stage runs (`applying patches`).
    fn label(&self) -> &'static str;

    /// Run over the shared context; return the stage's findings (the loop merges them).
    fn run(&self, cx: &mut RenderContext<'_>) -> Result<Vec<Finding>, RenderError>;

    /// True for a stage that only runs when nothing so far failed the render (a failed guard
    /// or an error finding): the loop stops before it with [`RenderError::Failed`].
    fn needs_passing_render(&self) -> bool {
        false
    }
}

/// Every stage, in pipeline order: the single source of the stage names.
pub static STAGES: &[&dyn Stage] = &[
    &stages::patches::PatchesStage,
    &stages::jit::JitStage,
    &stages::patches::OverridesStage,
    &stages::dedup::DedupStage,
    &stages::lint::LintStage,
    &stages::inventory::InventoryStage,
    &stages::eso::EsoStage,
    &stages::redact::RedactStage,
    &stages::guards::GuardsStage,
    &crate::validate::ValidateStage,
    &stages::output::OutputStage,
];

/// The stage names, in order.
pub fn stage_names() -> impl Iterator<Item = &'static str> + Clone {
    STAGES.iter().map(|s| s.name())
}

/// The stage with this name.
pub fn stage(name: &str) -> Option<&'static dyn Stage> {
    STAGES.iter().copied().find(|s| s.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_labelled() {
        let names: Vec<&str> = stage_names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate stage name in {names:?}");
        for s in STAGES {
            assert!(!s.label().is_empty(), "{} has a label", s.name());
            assert!(std::ptr::eq(stage(s.name()).unwrap(), *s));
        }
        assert!(stage("nope").is_none());
    }

    #[test]
    fn only_the_output_waits_for_a_passing_render() {
        let gated: Vec<&str> = STAGES.iter().filter(|s| s.needs_passing_render()).map(|s| s.name()).collect();
        assert_eq!(gated, ["output"]);
    }
}
