//! Shared helpers for the benchmarks: where the corpus is.

use std::path::PathBuf;

/// The rendered corpus (`OPENDESK_CORPUS` or `../shared/corpus/opendesk-like` beside the repo).
pub fn corpus() -> PathBuf {
    std::env::var_os("OPENDESK_CORPUS").map(PathBuf::from).unwrap_or_else(opendesk_render::testing::corpus_dir)
}
