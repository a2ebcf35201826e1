//! Helpers the crates' tests share (not part of the API: hidden from the docs): a scratch
//! dir removed on drop, and where the real corpus is.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty dir under the temp dir (`opendesk-test-<tag>-<pid>-<n>`), removed with
/// everything under it on drop, so a test leaves nothing behind, passing or failing.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// Create it (replacing a leftover of the same name).
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("opendesk-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("a scratch dir under the temp dir");
        Scratch(p)
    }

    /// A path inside it.
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where the real corpus is: `../shared/corpus/opendesk-like` beside the repository.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/opendesk-like")
}

/// [`corpus_dir`] when present. Under CI (`CI` set) its absence is a failure, not a skip.
pub fn corpus() -> Option<PathBuf> {
    let p = corpus_dir();
    if p.is_dir() {
        return Some(p);
    }
    assert!(std::env::var_os("CI").is_none(), "corpus missing at {} (required when CI is set)", p.display());
    eprintln!("skipping: corpus not found at {}", p.display());
    None
}
