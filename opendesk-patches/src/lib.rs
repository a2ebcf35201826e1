//! # opendesk-patches
//!
//! Patch sets from disk or built in, validation, the JSON Schema of the patch format, and the
//! patch-author test kit: every fix in `runtime-patches/rendered-patches/NNN-<name>.yaml` has
//! `runtime-patches/fixtures/<name>/input.yaml` (documents in the real bug shape) and an insta
//! snapshot `runtime-patches/fixtures/<name>/snapshots/<name>.snap` of the result.
//!
//! A fixture run applies the patches of that one file, then checks three things: the output
//! equals the snapshot, applying the patches again changes nothing (idempotence), and with an
//! openDesk version outside the patch's `appliesTo` nothing changes.
#![warn(missing_docs)]

use opendesk_render::document::{emit_stream, Document};
use opendesk_render::fsio::{self, FileError};
use opendesk_render::load::parse_text;
use opendesk_render::patch::{apply, PatchError, PatchSet, Prepared, Vars};
use std::path::{Path, PathBuf};
use std::sync::Arc;

include!(concat!(env!("OUT_DIR"), "/default_patches.rs"));

/// The default patch set (built into the binary from `runtime-patches/rendered-patches`).
pub fn default_set() -> Result<PatchSet, PatchError> {
    PatchSet::from_texts(DEFAULT_PATCHES.iter().copied())
}

/// The JSON Schema (draft 2020-12) of a patch document, for editors and CI: the document's
/// frame from `patch.schema.json`, the ops from the primitives' list
/// ([`opendesk_render::patch::ops::PRIMITIVES`], each body's schema beside its spec type and
/// tested against it).
pub fn schema() -> serde_json::Value {
    let mut s: serde_json::Value =
        serde_json::from_str(include_str!("patch.schema.json")).expect("schema is valid JSON");
    let ops: Vec<serde_json::Value> = opendesk_render::patch::ops::PRIMITIVES
        .iter()
        .map(|(name, summary, body)| {
            let mut props = serde_json::Map::new();
            props.insert(name.to_string(), body());
            serde_json::json!({
                "type": "object",
                "description": summary,
                "additionalProperties": false,
                "required": [name],
                "properties": props,
            })
        })
        .collect();
    s["properties"]["ops"]["items"] = serde_json::json!({ "oneOf": ops });
    s
}

/// Where the patch files of a `runtime-patches` root live.
pub fn patches_dir(root: &Path) -> PathBuf {
    let p = root.join("rendered-patches");
    if p.is_dir() {
        p
    } else {
        root.to_path_buf()
    }
}

/// Validate every patch file under `root` (or `root/rendered-patches`); all errors, in order.
pub fn check(root: &Path) -> Result<usize, Vec<PatchError>> {
    let dir = patches_dir(root);
    let mut errors = Vec::new();
    let mut count = 0;
    let mut texts = Vec::new();
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            return Err(vec![PatchError { file: dir.display().to_string(), line: 0, col: 0, message: e.to_string() }])
        }
    };
    entries.sort();
    for p in entries {
        if !p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        match read_config_like(&p) {
            Ok(t) => match opendesk_render::patch::compile_file(&p.display().to_string(), &t) {
                Ok(ps) => {
                    count += ps.len();
                    texts.push((p.display().to_string(), t));
                }
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(e.into()),
        }
    }
    if errors.is_empty() {
        // Cross-file checks (unique names).
        if let Err(e) = PatchSet::from_texts(texts.iter().map(|(a, b)| (a.as_str(), b.as_str()))) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(count)
    } else {
        Err(errors)
    }
}

/// A patch file or a fixture's `meta.yaml`: a regular file of at most
/// [`opendesk_render::limits::CONFIG_FILE`].
fn read_config_like(p: &Path) -> Result<String, FileError> {
    fsio::read_regular_string_max(p, opendesk_render::limits::CONFIG_FILE)
}

/// A fixture's input or snapshot: a regular file of at most
/// [`opendesk_render::limits::INPUT_FILE`].
fn read_data(p: &Path) -> Result<String, FileError> {
    fsio::read_regular_string_max(p, opendesk_render::limits::INPUT_FILE)
}

/// The outcome of one fixture.
#[derive(Debug, Clone)]
pub struct FixtureOutcome {
    /// Fixture (= patch) name.
    pub name: String,
    /// The rendered snapshot content.
    pub output: String,
    /// Snapshot file.
    pub snapshot: PathBuf,
    /// Problems found; empty = pass.
    pub problems: Vec<String>,
    /// Whether a new snapshot was written (accept mode).
    pub accepted: bool,
}

impl FixtureOutcome {
    /// Passed?
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FixtureMeta {
    #[serde(default)]
    opendesk_version: Option<String>,
    #[serde(default)]
    values: serde_json::Map<String, serde_json::Value>,
}

/// Default openDesk version of fixtures without `meta.yaml`.
pub const FIXTURE_VERSION: &str = "1.13.1";

/// Why a fixture's input could not be loaded; the text is the underlying error's.
#[derive(Debug, thiserror::Error)]
pub enum FixtureInputError {
    /// The file could not be read (type, size, symlink, I/O).
    #[error(transparent)]
    File(#[from] FileError),
    /// The file is not valid input YAML (with its position).
    #[error(transparent)]
    Load(#[from] opendesk_render::error::LoadError),
}

/// Load a fixture's input documents; a `# Release: <name>` head comment sets the release.
pub fn load_fixture_input(path: &Path) -> Result<Vec<Document>, FixtureInputError> {
    let text = read_data(path)?;
    let rel: Arc<str> = Arc::from("fixture");
    let file: Arc<str> = Arc::from(path.file_name().and_then(|f| f.to_str()).unwrap_or("input.yaml"));
    let mut docs = parse_text(&rel, &file, path, &text, true)?;
    for d in &mut docs {
        if let Some(r) = d.head_comments.iter().find_map(|c| c.strip_prefix("# Release:")) {
            d.origin.release = Arc::from(r.trim());
        }
    }
    Ok(docs)
}

/// Render the snapshot content: the patched documents plus the recorded changes.
pub fn snapshot_content(docs: &[Document]) -> String {
    let mut out = emit_stream(docs);
    out.push_str("---\n# changes\n");
    for d in docs {
        for c in &d.changes {
            out.push_str(&format!("# {} {}: {} {} {}", d.id(), d.origin.line, c.by, c.action, c.path));
            if let Some(det) = &c.detail {
                // One comment line per change: a multi-line value's line breaks are shown as \n.
                out.push_str(&format!(" ({})", det.replace('\n', "\\n")));
            }
            out.push('\n');
        }
    }
    out
}

/// Read the content of an insta `.snap` file (after its metadata header).
pub fn read_snapshot(path: &Path) -> Option<String> {
    let t = read_data(path).ok()?;
    let rest = t.strip_prefix("---\n")?;
    let i = rest.find("\n---\n")?;
    Some(rest[i + 5..].to_string())
}

/// Write an insta-compatible `.snap` file.
pub fn write_snapshot(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut s = String::from("---\nsource: opendesk-patches/tests/fixtures.rs\nexpression: output\n---\n");
    s.push_str(content);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    std::fs::write(path, s)
}

fn version_outside(req: &semver::VersionReq) -> Option<semver::Version> {
    ["0.1.0", "1.0.0", "1.13.1", "1.18.1", "2.0.0", "99.0.0"]
        .iter()
        .map(|v| semver::Version::parse(v).unwrap())
        .find(|v| !req.matches(v))
}

/// Run one fixture dir against the patch files of `root`. `accept` writes the snapshot.
pub fn run_fixture(root: &Path, fixture: &Path, accept: bool) -> Result<FixtureOutcome, String> {
    let name = fixture.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
    let dir = patches_dir(root);
    let file = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| {
                s.split_once('-').is_some_and(|(n, rest)| n.chars().all(|c| c.is_ascii_digit()) && rest == name)
            })
        })
        .ok_or_else(|| format!("fixture {name}: no patch file NNN-{name}.yaml in {}", dir.display()))?;
    let text = read_config_like(&file).map_err(|e| e.to_string())?;
    let set =
        PatchSet::from_texts([(file.display().to_string().as_str(), text.as_str())]).map_err(|e| e.to_string())?;
    let meta_file = fixture.join("meta.yaml");
    let meta: FixtureMeta = match read_config_like(&meta_file) {
        Ok(t) => serde_saphyr::from_str_with_options(&t, opendesk_render::config::saphyr_options())
            .map_err(|e| format!("{}/meta.yaml: {e}", fixture.display()))?,
        // No meta.yaml: the defaults. One that cannot be read is an error, not a silent default.
        Err(FileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => FixtureMeta::default(),
        Err(e) => return Err(e.to_string()),
    };
    let version = semver::Version::parse(meta.opendesk_version.as_deref().unwrap_or(FIXTURE_VERSION))
        .map_err(|e| e.to_string())?;
    let vars = Vars {
        values: meta.values.clone(),
        instance: "acme".into(),
        namespace: "opendesk".into(),
        opendesk_version: version.to_string(),
    };
    let input = load_fixture_input(&fixture.join("input.yaml")).map_err(|e| e.to_string())?;
    let prep = set.prepare(&version, &vars).map_err(|e| e.to_string())?;
    let mut docs = input.clone();
    let run = apply(&prep, &mut docs, "patch");
    let output = snapshot_content(&docs);
    let mut problems = Vec::new();

    for s in &run.stats {
        if s.skipped.is_none() && s.changed == 0 {
            problems.push(format!("patch {} changed no fixture document", s.name));
        }
        if let Some(why) = &s.skipped {
            problems.push(format!("patch {} did not run for the fixture version: {why}", s.name));
        }
    }
    if docs.iter().all(|d| !d.changes.is_empty()) {
        problems.push("every fixture document changed: add one that must not change".into());
    }
    // Idempotence.
    let once = emit_stream(&docs);
    let mut twice = docs.clone();
    apply(&prep, &mut twice, "patch");
    if emit_stream(&twice) != once {
        problems.push("not idempotent: applying the patch again changed the output".into());
    }
    // Outside the appliesTo range nothing changes.
    for p in &set.patches {
        if let Some((text, req)) = &p.applies_to {
            if let Some(v) = version_outside(req) {
                let prep_out: Prepared = set.prepare(&v, &vars).map_err(|e| e.to_string())?;
                let mut d2 = input.clone();
                apply(&prep_out, &mut d2, "patch");
                if d2.iter().any(|d| d.changes.iter().any(|c| c.by == format!("patch:{}", p.name))) {
                    problems.push(format!("patch {} changed documents for {v}, outside appliesTo {text:?}", p.name));
                }
            }
        }
    }
    let snapshot = fixture.join("snapshots").join(format!("{name}.snap"));
    let mut accepted = false;
    match read_snapshot(&snapshot) {
        Some(expected) if expected.trim_end() == output.trim_end() => {}
        Some(expected) if !accept => {
            problems.push(format!("output differs from {}:\n{}", snapshot.display(), line_diff(&expected, &output)))
        }
        None if !accept => problems.push(format!(
            "no snapshot at {} (run `opendesk-render patches test --accept` and review it)",
            snapshot.display()
        )),
        _ => {
            write_snapshot(&snapshot, &output).map_err(|e| format!("{}: {e}", snapshot.display()))?;
            accepted = true;
        }
    }
    Ok(FixtureOutcome { name, output, snapshot, problems, accepted })
}

/// Run every fixture under `root/fixtures`, in name order.
pub fn run_fixtures(root: &Path, accept: bool) -> Result<Vec<FixtureOutcome>, String> {
    let fx = root.join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&fx)
        .map_err(|e| format!("{}: {e}", fx.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| run_fixture(root, d, accept)).collect()
}

/// A small line diff (`-` expected, `+` actual) for mismatch messages.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // LCS table; fixtures are small.
    let (n, m) = (a.len(), b.len());
    let mut t = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i][j] = if a[i] == b[j] { t[i + 1][j + 1] + 1 } else { t[i + 1][j].max(t[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || t[i][j + 1] >= t[i + 1][j]) {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_input_errors_keep_their_type_and_text() {
        let d = opendesk_render::testing::Scratch::new("fixture-input");
        let missing = d.join("missing.yaml");
        let e = load_fixture_input(&missing).unwrap_err();
        let direct = read_data(&missing).unwrap_err().to_string();
        assert!(matches!(&e, FixtureInputError::File(f) if f.path() == missing), "{e:?}");
        assert_eq!(e.to_string(), direct);
        let bad = d.join("bad.yaml");
        std::fs::write(&bad, "a: [\n").unwrap();
        let e = load_fixture_input(&bad).unwrap_err();
        assert!(matches!(e, FixtureInputError::Load(_)), "{e:?}");
        assert!(e.to_string().contains("bad.yaml"), "{e}");
    }
}
