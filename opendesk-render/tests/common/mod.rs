//! Shared by the integration tests that read the real corpus.

use std::path::PathBuf;

/// `../shared/corpus/opendesk-like` beside the repository, when present. Under CI (`CI` set)
/// its absence is a failure, not a skip.
pub fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/opendesk-like");
    if p.is_dir() {
        return Some(p);
    }
    assert!(std::env::var_os("CI").is_none(), "corpus missing at {} (required when CI is set)", p.display());
    eprintln!("skipping: corpus not found at {}", p.display());
    None
}
