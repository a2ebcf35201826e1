//! The bundled example, built into the binary: a small helmfile output dir with a handful of
//! openDesk-shaped releases, its instance config and its release graph (see `examples/`).

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/example_files.rs"));

/// The example's instance config text.
pub fn instance_config() -> Option<&'static str> {
    EXAMPLE_FILES.iter().find(|(p, _)| *p == "instance.yaml").map(|(_, t)| *t)
}

/// The example's release graph text.
pub fn release_graph() -> Option<&'static str> {
    EXAMPLE_FILES.iter().find(|(p, _)| *p == "release-graph.yaml").map(|(_, t)| *t)
}

/// A temporary copy of the example's helmfile output dir, removed on drop.
pub struct Materialized {
    /// The helmfile output dir.
    pub dir: PathBuf,
    root: PathBuf,
}

impl Drop for Materialized {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Write the example's `helmfile-output/` into a fresh temp dir.
pub fn materialize() -> std::io::Result<Materialized> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "opendesk-render-example-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let dir = root.join("helmfile-output");
    for (rel, text) in EXAMPLE_FILES {
        if let Some(r) = rel.strip_prefix("helmfile-output/") {
            let p = dir.join(r);
            std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")))?;
            std::fs::write(p, text)?;
        }
    }
    Ok(Materialized { dir, root })
}
