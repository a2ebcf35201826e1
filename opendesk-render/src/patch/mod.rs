//! The declarative patch engine (DESIGN §5, docs/patch-format.md).
//!
//! Patch files are parsed and compiled once ([`PatchSet`]); per render they are bound to the
//! instance config ([`PatchSet::prepare`]: `appliesTo` filtering and `${values...}`
//! substitution) and applied to every document in parallel ([`apply`]). Patches run in
//! file-name order and, within a file, in document order; documents are independent.

pub mod compile;
pub mod engine;
pub mod matrix;
pub mod ops;
pub mod query;
pub mod spec;

pub use compile::{compile_file, Patch, PatchError, Pattern};
pub use ops::{Op, NAMES as PRIMITIVE_NAMES};

use crate::document::Document;
use crate::yaml::{Node, Value};
use serde::Serialize;
use std::path::Path;

/// An ordered, compiled set of patches.
#[derive(Debug, Clone, Default)]
pub struct PatchSet {
    /// Patches in application order.
    pub patches: Vec<Patch>,
}

impl PatchSet {
    /// Compile patch files given as `(file name, text)`; they are applied in file-name order.
    pub fn from_texts<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, PatchError> {
        let mut files: Vec<(&str, &str)> = files.into_iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        let mut patches = Vec::new();
        for (name, text) in files {
            patches.extend(compile_file(name, text)?);
        }
        let set = PatchSet { patches };
        set.check_unique()?;
        Ok(set)
    }

    /// Load every `*.yaml`/`*.yml` in `dir` (not recursive).
    pub fn from_dir(dir: &Path) -> Result<Self, PatchError> {
        let io = |p: &Path, e: std::io::Error| PatchError {
            file: p.display().to_string(),
            line: 0,
            col: 0,
            message: e.to_string(),
        };
        // Regular files only; a symlink is followed only while it stays inside `dir`.
        let root = crate::fsio::canonical_root(dir)?;
        let mut texts = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let e = e.map_err(|e| io(dir, e))?;
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with('.') {
                if e.file_type().is_ok_and(|t| t.is_symlink()) {
                    crate::fsio::check_link(&root, &p)?;
                }
                let t = crate::fsio::read_regular_string_max(&p, crate::limits::CONFIG_FILE)?;
                texts.push((p.display().to_string(), t));
            }
        }
        PatchSet::from_texts(texts.iter().map(|(a, b)| (a.as_str(), b.as_str())))
    }

    fn check_unique(&self) -> Result<(), PatchError> {
        let mut seen = std::collections::HashMap::new();
        for p in &self.patches {
            if let Some((f, l)) = seen.insert(p.name.as_str(), (p.file.clone(), p.line)) {
                return Err(PatchError {
                    file: p.file.to_string(),
                    line: p.line as usize,
                    col: 1,
                    message: format!("patch name {:?} is already used at {f}:{l}", p.name),
                });
            }
        }
        Ok(())
    }

    /// Bind to a render: drop patches whose `appliesTo` excludes `version` (reported as
    /// skipped) and substitute `${values.*}`, `${instance}`, `${namespace}`,
    /// `${opendeskVersion}` in op values.
    pub fn prepare(&self, version: &semver::Version, vars: &Vars) -> Result<Prepared, PatchError> {
        let mut active = Vec::new();
        let mut skipped = Vec::new();
        let mut unbound_errors = Vec::new();
        for p in &self.patches {
            if let Some((text, req)) = &p.applies_to {
                if !req.matches(version) {
                    skipped.push(PatchStat {
                        name: p.name.clone(),
                        file: short_file(&p.file),
                        required: p.required,
                        matched: 0,
                        changed: 0,
                        skipped: Some(format!("appliesTo {text:?} excludes {version}")),
                    });
                    continue;
                }
            }
            let mut p = p.clone();
            let mut unbound = None;
            for (op, line) in &mut p.ops {
                if let Err(m) = op.bind(vars) {
                    unbound.get_or_insert(PatchError {
                        file: p.file.to_string(),
                        line: *line as usize,
                        col: 1,
                        message: format!("patch {:?}: {m}", p.name),
                    });
                }
            }
            unbound_errors.push(unbound);
            active.push(p);
        }
        Ok(Prepared { active, skipped, unbound: unbound_errors })
    }
}

/// Values available to `${...}` substitution.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// `values:` of the instance config.
    pub values: serde_json::Map<String, serde_json::Value>,
    /// Instance name.
    pub instance: String,
    /// Namespace.
    pub namespace: String,
    /// openDesk version.
    pub opendesk_version: String,
}

impl Vars {
    fn lookup(&self, name: &str) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        if let Some((n, default)) = name.split_once(":-") {
            return Ok(self.lookup(n).unwrap_or_else(|_| J::String(default.to_string())));
        }
        match name {
            "instance" => return Ok(J::String(self.instance.clone())),
            "namespace" => return Ok(J::String(self.namespace.clone())),
            "opendeskVersion" => return Ok(J::String(self.opendesk_version.clone())),
            _ => {}
        }
        let Some(rest) = name.strip_prefix("values.") else {
            return Err(format!(
                "unknown variable ${{{name}}} (use values.<path>, instance, namespace or opendeskVersion)"
            ));
        };
        let mut cur: Option<&J> = None;
        for (i, k) in rest.split('.').enumerate() {
            cur = if i == 0 { self.values.get(k) } else { cur.and_then(|c| c.get(k)) };
        }
        cur.cloned().ok_or_else(|| format!("${{{name}}} is not set: add it under `values:` in the instance config"))
    }

    /// Substitute variables inside a string (values rendered as flow YAML/JSON).
    pub(crate) fn expand(&self, s: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            let Some(j) = rest[i..].find('}') else { break };
            let name = &rest[i + 2..i + j];
            if !is_var(name) {
                out.push_str(&rest[..i + j + 1]);
                rest = &rest[i + j + 1..];
                continue;
            }
            out.push_str(&rest[..i]);
            match self.lookup(name)? {
                serde_json::Value::String(v) => out.push_str(&v),
                v => out.push_str(&v.to_string()),
            }
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Substitute variables in a value: a whole `${...}` scalar becomes the value itself,
    /// one inside a longer string is rendered into it.
    pub(crate) fn bind(&self, n: &mut Node) -> Result<(), String> {
        match &mut n.value {
            Value::Scalar(s) => {
                if !s.text.contains("${") {
                    return Ok(());
                }
                let t = s.text.trim();
                if t.starts_with("${")
                    && t.ends_with('}')
                    && t[2..t.len() - 1].chars().all(|c| c != '}')
                    && is_var(&t[2..t.len() - 1])
                {
                    *n = Node::from_json(&self.lookup(&t[2..t.len() - 1])?);
                } else {
                    let e = self.expand(&s.text)?;
                    *n = Node::string(e);
                }
                Ok(())
            }
            Value::Seq(items) => items.iter_mut().try_for_each(|i| self.bind(i)),
            Value::Map(m) => m.iter_mut().try_for_each(|e| self.bind(&mut e.value)),
        }
    }
}

fn is_var(name: &str) -> bool {
    let name = name.split_once(":-").map_or(name, |(n, _)| n);
    matches!(name, "instance" | "namespace" | "opendeskVersion") || name.starts_with("values.")
}

/// Keep only the file name of a patch path (render-meta must not carry absolute paths).
fn short_file(f: &str) -> String {
    if f.starts_with('<') {
        return f.to_string(); // a placeholder name such as `<bundled examples/instance.yaml>`
    }
    Path::new(f).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| f.to_string())
}

/// Patches bound to one render.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Patches that apply to this version, in order.
    pub active: Vec<Patch>,
    /// Patches skipped by `appliesTo`.
    pub skipped: Vec<PatchStat>,
    /// Per active patch: a `${...}` variable that is not set. Such a patch is fine as long as
    /// it selects no document; if it does, [`PatchRun::unbound`] holds the error.
    pub unbound: Vec<Option<PatchError>>,
}

/// What one patch did in a render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchStat {
    /// Patch name.
    pub name: String,
    /// Patch file name.
    pub file: String,
    /// Required patch.
    pub required: bool,
    /// Documents selected.
    pub matched: usize,
    /// Documents changed.
    pub changed: usize,
    /// Why it did not run (appliesTo), if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The result of applying a prepared set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PatchRun {
    /// Per patch, in order: the active ones then the skipped ones.
    pub stats: Vec<PatchStat>,
    /// A patch that selected documents but needs a variable the config does not set.
    #[serde(skip)]
    pub unbound: Option<PatchError>,
}

impl PatchRun {
    /// Required, in-range patches that matched no document.
    pub fn required_unmatched(&self) -> Vec<&PatchStat> {
        self.stats.iter().filter(|s| s.required && s.skipped.is_none() && s.matched == 0).collect()
    }
}

/// Apply prepared patches to every document (in parallel; deterministic). `prefix` labels
/// the changes (`patch` or `override`).
pub fn apply(prep: &Prepared, docs: &mut [Document], prefix: &str) -> PatchRun {
    let bys: Vec<String> = prep.active.iter().map(|p| format!("{prefix}:{}", p.name)).collect();
    let per_doc: Vec<Vec<(bool, bool)>> = crate::par::map_mut(docs, Document::weight, |d| {
        prep.active
            .iter()
            .zip(&bys)
            .map(
                |(p, by)| {
                    if engine::selects(&p.select, d) {
                        (true, engine::apply_patch(p, by, d))
                    } else {
                        (false, false)
                    }
                },
            )
            .collect()
    });
    let mut stats: Vec<PatchStat> = prep
        .active
        .iter()
        .map(|p| PatchStat {
            name: p.name.clone(),
            file: short_file(&p.file),
            required: p.required,
            matched: 0,
            changed: 0,
            skipped: None,
        })
        .collect();
    for row in per_doc {
        for (s, (m, c)) in stats.iter_mut().zip(row) {
            s.matched += usize::from(m);
            s.changed += usize::from(c);
        }
    }
    let unbound =
        stats.iter().zip(&prep.unbound).find(|(s, u)| s.matched > 0 && u.is_some()).and_then(|(_, u)| u.clone()).map(
            |mut e| {
                e.message.push_str(" (the patch selects documents of this render, so the value is needed)");
                e
            },
        );
    stats.extend(prep.skipped.iter().cloned());
    PatchRun { stats, unbound }
}
