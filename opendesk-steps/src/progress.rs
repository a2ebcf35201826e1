//! Stage-level progress on stderr: an `indicatif` bar with a spinner and the current stage,
//! drawn only when stderr is a terminal (silent in CI, in pipes and under `2>file`).
//!
//! The stages are [`stages`]: [`LOAD`] (config, patches, graph and the input dir), the
//! pipeline's own stages (the registry, [`opendesk_render::pipeline::STAGES`]: names and
//! labels come from there), and [`WRITE`] (the atomic tree write). The bar shows no document
//! content, so it cannot leak a secret value.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use opendesk_render::pipeline;
use std::io::IsTerminal;
use std::time::Duration;

/// The stage before the pipeline: loading config, patches, graph and input.
pub const LOAD: &str = "load";

/// The stage after the pipeline: writing the output tree.
pub const WRITE: &str = "write";

/// Every stage a render reports, in order: [`LOAD`], the pipeline stages, [`WRITE`].
pub fn stages() -> Vec<&'static str> {
    std::iter::once(LOAD).chain(pipeline::stage_names()).chain(std::iter::once(WRITE)).collect()
}

/// What the bar says during a stage.
pub fn label(stage: &str) -> &'static str {
    match stage {
        LOAD => "loading config, patches and input",
        WRITE => "writing the output tree",
        s => pipeline::stage::stage(s).map_or("working", |st| st.label()),
    }
}

/// A progress display for one render: visible on a terminal, a no-op otherwise.
pub struct StageProgress {
    bar: Option<ProgressBar>,
}

impl StageProgress {
    /// A bar on stderr when stderr is a terminal (and not `--quiet`), else silent.
    pub fn stderr() -> Self {
        if std::io::stderr().is_terminal() && !crate::term::quiet() {
            Self::on(ProgressDrawTarget::stderr())
        } else {
            Self::hidden()
        }
    }

    /// A silent display.
    pub fn hidden() -> Self {
        StageProgress { bar: None }
    }

    fn on(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(stages().len() as u64), target);
        let style =
            ProgressStyle::with_template("{spinner:.cyan} [{bar:24.cyan/blue}] {pos:>2}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        StageProgress { bar: Some(bar) }
    }

    /// True when something is drawn.
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// A stage starts.
    pub fn stage(&self, stage: &str) {
        if let Some(bar) = &self.bar {
            let pos = stages().iter().position(|s| *s == stage).unwrap_or(0);
            bar.set_position(pos as u64);
            bar.set_message(label(stage));
        }
    }

    /// Remove the bar (before the summary and findings are printed).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for StageProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_load_pipeline_write() {
        let all = stages();
        let pipeline: Vec<&str> = pipeline::stage_names().collect();
        assert_eq!(all[0], "load");
        assert_eq!(&all[1..all.len() - 1], &pipeline[..]);
        assert_eq!(all[all.len() - 1], "write");
        for s in all {
            assert_ne!(label(s), "working", "{s} has a label");
        }
    }

    #[test]
    fn hidden_progress_is_a_no_op() {
        let p = StageProgress::hidden();
        assert!(!p.is_visible());
        p.stage("lint");
        p.finish();
    }

    #[test]
    fn visible_progress_moves_through_the_stages() {
        let p = StageProgress::on(ProgressDrawTarget::hidden());
        for s in stages() {
            p.stage(s);
        }
        let bar = p.bar.as_ref().unwrap();
        assert_eq!(bar.position(), stages().len() as u64 - 1);
        assert_eq!(bar.message(), "writing the output tree");
        p.finish();
        assert!(bar.is_finished());
    }
}
