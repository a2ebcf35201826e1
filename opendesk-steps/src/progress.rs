//! Stage-level progress on stderr: an `indicatif` bar with a spinner and the current stage,
//! drawn only when stderr is a terminal (silent in CI, in pipes and under `2>file`).
//!
//! The stages are [`STAGES`]: `load` (config, patches, graph and the input dir), the pipeline's
//! own stages ([`opendesk_render::pipeline::STAGES`]), and `write` (the atomic tree write).
//! The bar shows no document content, so it cannot leak a secret value.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Every stage a render reports, in order: `load`, the pipeline stages, `write`.
pub const STAGES: [&str; 12] =
    ["load", "patches", "jit", "overrides", "dedup", "lint", "inventory", "eso", "redact", "guards", "output", "write"];

/// What the bar says during a stage.
pub fn label(stage: &str) -> &'static str {
    match stage {
        "load" => "loading config, patches and input",
        "patches" => "applying patches",
        "jit" => "JIT provisioning plugin",
        "overrides" => "applying instance overrides",
        "dedup" => "deduplicating resources",
        "lint" => "linting",
        "inventory" => "taking inventory",
        "eso" => "converting Secrets to ExternalSecrets",
        "redact" => "redacting secret values",
        "guards" => "checking guards",
        "output" => "building the output tree",
        "write" => "writing the output tree",
        _ => "working",
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
        let bar = ProgressBar::with_draw_target(Some(STAGES.len() as u64), target);
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
            let pos = STAGES.iter().position(|s| *s == stage).unwrap_or(0);
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
        assert_eq!(STAGES[0], "load");
        assert_eq!(&STAGES[1..11], &opendesk_render::pipeline::STAGES[..]);
        assert_eq!(STAGES[11], "write");
        for s in STAGES {
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
        for s in STAGES {
            p.stage(s);
        }
        let bar = p.bar.as_ref().unwrap();
        assert_eq!(bar.position(), 11);
        assert_eq!(bar.message(), "writing the output tree");
        p.finish();
        assert!(bar.is_finished());
    }
}
