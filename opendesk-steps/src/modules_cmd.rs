//! `opendesk-render modules` and the module flags of `render` (docs/output-and-push.md#modules).

use crate::cli::{EXIT_OK, EXIT_USAGE};
use crate::session::ModuleArgs;
use opendesk_render::output::graph::ReleaseGraph;
use std::path::PathBuf;

/// The module flags of `render`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModuleFlags {
    /// Render only this module's releases (a key of the release graph's `modules:`; repeatable).
    /// Only their input folders are read; needs --release-graph and --base or --no-base.
    #[arg(long = "module", value_name = "KEY")]
    pub module: Vec<String>,
    /// The full render's output tree (e.g. the instance folder at the branch head): every
    /// ExternalSecret of the module must point at the same store, keys and properties as there.
    #[arg(long, value_name = "DIR", conflicts_with = "no_base")]
    pub base: Option<PathBuf>,
    /// Skip the secret-skew guard of a module render explicitly (printed in the summary).
    #[arg(long)]
    pub no_base: bool,
    /// A Secret of the base that the module no longer renders is a warning, not fatal.
    #[arg(long)]
    pub allow_secret_removal: bool,
}

impl From<ModuleFlags> for ModuleArgs {
    fn from(f: ModuleFlags) -> Self {
        ModuleArgs { keys: f.module, base: f.base, no_base: f.no_base, allow_secret_removal: f.allow_secret_removal }
    }
}

/// `modules --release-graph FILE [--json]`.
#[derive(clap::Args, Debug)]
pub struct ModulesArgs {
    /// The release graph whose `modules:` to list.
    #[arg(long)]
    pub release_graph: PathBuf,
    /// Print as JSON: `[{key, releases: [{name, wave, syncWave}]}]`.
    #[arg(long)]
    pub json: bool,
}

/// The listing: per module its releases with their waves, in file order.
pub fn listing(g: &ReleaseGraph) -> serde_json::Value {
    let mods: Vec<serde_json::Value> = g
        .modules
        .iter()
        .map(|m| {
            let rels: Vec<serde_json::Value> = m
                .releases
                .iter()
                .map(|r| {
                    let w = g.wave_of(r);
                    serde_json::json!({
                        "name": r,
                        "wave": w.map(|w| w.name.as_str()),
                        "syncWave": w.map(|w| w.sync_wave),
                    })
                })
                .collect();
            serde_json::json!({"key": m.key, "releases": rels})
        })
        .collect();
    serde_json::Value::Array(mods)
}

/// Run `modules`: exit 0, or 2 for an unreadable or invalid graph.
pub fn modules(a: &ModulesArgs) -> i32 {
    let g = match ReleaseGraph::load(&a.release_graph) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(i) = e.issues.first() {
                crate::cli::print_snippet(&e.file, i.pos.line, i.pos.col);
            }
            return EXIT_USAGE;
        }
    };
    if a.json {
        let text = serde_json::to_string_pretty(&listing(&g)).unwrap_or_default() + "\n";
        return out(&text);
    }
    out(&text(&g))
}

/// Print to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn out(text: &str) -> i32 {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    EXIT_OK
}

/// The text listing.
pub fn text(g: &ReleaseGraph) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if g.modules.is_empty() {
        let _ = writeln!(out, "{}: no modules (add `modules:` to the release graph)", g.file.display());
        return out;
    }
    let width = g.modules.iter().flat_map(|m| m.releases.iter()).map(String::len).max().unwrap_or(0);
    for m in &g.modules {
        let mut waves: Vec<String> = Vec::new();
        for r in &m.releases {
            if let Some(w) = g.wave_of(r) {
                let s = format!("{} ({})", w.name, w.sync_wave);
                if !waves.contains(&s) {
                    waves.push(s);
                }
            }
        }
        let _ = writeln!(out, "{}: {} release(s), waves {}", m.key, m.releases.len(), waves.join(", "));
        for r in &m.releases {
            let w = g.wave_of(r).map(|w| format!("{} ({})", w.name, w.sync_wave)).unwrap_or_default();
            let _ = writeln!(out, "  {r:<width$}  {w}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn lists_modules_with_waves() {
        let g = ReleaseGraph::parse(
            Path::new("g.yaml"),
            "waves:\n  - name: a\n    releases: [x]\n  - name: b\n    syncWave: 5\n    releases: [y, z]\nmodules:\n  m: [y, x]\n  n: [z]\n",
        )
        .unwrap();
        assert_eq!(
            text(&g),
            "m: 2 release(s), waves b (5), a (0)\n  y  b (5)\n  x  a (0)\nn: 1 release(s), waves b (5)\n  z  b (5)\n"
        );
        let j = listing(&g);
        assert_eq!(j[0]["key"], "m");
        assert_eq!(j[0]["releases"][1], serde_json::json!({"name": "x", "wave": "a", "syncWave": 0}));
        assert_eq!(j[1]["releases"].as_array().unwrap().len(), 1);
    }
}
