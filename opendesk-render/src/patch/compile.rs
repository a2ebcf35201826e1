//! Patch files → compiled patches: typed pass (serde-saphyr) for structure, lossless pass
//! (our tree) for values and positions, then JSONPath, regex and semver compiled once.

use super::ops::{Op, OpCx};
use super::query::{compile, CompiledPath};
use super::spec::{OneOrMany, PatchSpec, SelectSpec};
use crate::typed::ConfigError;
use crate::yaml::{parse_documents, Node};
use regex::Regex;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

/// A patch file or patch that cannot be used. Names the file, line and column, and the patch
/// and op where known.
#[derive(Debug, Clone, Error)]
#[error("{}: {message}", crate::error::at(.file, *.line, *.col))]
pub struct PatchError {
    /// Patch file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// What is wrong (names the patch and op).
    pub message: String,
}

impl crate::error::Located for PatchError {
    fn location(&self) -> Option<crate::error::Location> {
        Some(crate::error::Location::new(&self.file, self.line, self.col))
    }
}

impl From<crate::fsio::FileError> for PatchError {
    /// A patch file that cannot be read (not a regular file, over
    /// [`crate::limits::CONFIG_FILE`], a symlink out of the patch dir): the file, no position.
    fn from(e: crate::fsio::FileError) -> Self {
        PatchError { file: e.path().display().to_string(), line: 0, col: 0, message: e.reason() }
    }
}

impl From<ConfigError> for PatchError {
    fn from(e: ConfigError) -> Self {
        PatchError { file: e.file.display().to_string(), line: e.line, col: e.col, message: e.message }
    }
}

/// A name pattern: exact text, glob (`*`, `?`) or `/regex/`.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Exact match.
    Exact(String),
    /// Glob with `*` and `?`.
    Glob(String),
    /// Regular expression (anchored as written).
    Regex(Regex),
}

impl Pattern {
    /// Parse a pattern as written (`/…/` = regex, `*`/`?` = glob, else exact).
    pub fn parse(p: &str) -> Result<Pattern, String> {
        if p.len() >= 2 && p.starts_with('/') && p.ends_with('/') {
            Regex::new(&p[1..p.len() - 1]).map(Pattern::Regex).map_err(|e| format!("bad regex {p}: {e}"))
        } else if p.contains(['*', '?']) {
            Ok(Pattern::Glob(p.to_string()))
        } else {
            Ok(Pattern::Exact(p.to_string()))
        }
    }

    /// Does `s` match?
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(e) => e == s,
            Pattern::Glob(g) => glob(g.as_bytes(), s.as_bytes()),
            Pattern::Regex(r) => r.is_match(s),
        }
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    // Iterative glob with single-star backtracking: linear in practice.
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// A compiled selector.
#[derive(Debug, Clone, Default)]
pub struct Select {
    /// Kind patterns (any).
    pub kind: Vec<Pattern>,
    /// apiVersion patterns.
    pub api_version: Vec<Pattern>,
    /// Release patterns.
    pub release: Vec<Pattern>,
    /// Name patterns.
    pub name: Vec<Pattern>,
    /// Namespace patterns.
    pub namespace: Vec<Pattern>,
    /// Labels that must be equal.
    pub labels: Vec<(String, String)>,
    /// JSONPath that must find something.
    pub where_: Option<CompiledPath>,
}

/// A compiled patch.
#[derive(Debug, Clone)]
pub struct Patch {
    /// Unique name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The `appliesTo` text and requirement.
    pub applies_to: Option<(String, semver::VersionReq)>,
    /// Fatal when matching nothing in range.
    pub required: bool,
    /// Selector.
    pub select: Select,
    /// Ops with their 1-based lines.
    pub ops: Vec<(Op, u32)>,
    /// Patch file (as given).
    pub file: Arc<str>,
    /// 1-based line of the patch document.
    pub line: u32,
}

/// Parse and compile every patch document of one patch file.
pub fn compile_file(file: &str, text: &str) -> Result<Vec<Patch>, PatchError> {
    let path = Path::new(file);
    let specs: Vec<PatchSpec> = serde_saphyr::from_multiple_with_options(text, crate::typed::saphyr_options())
        .map_err(|e| PatchError::from(ConfigError::from_saphyr(path, &e)))?;
    let trees = parse_documents(text).map_err(|e| PatchError {
        file: file.into(),
        line: e.line,
        col: e.col,
        message: e.reason,
    })?;
    if trees.len() != specs.len() {
        return Err(PatchError {
            file: file.into(),
            line: 0,
            col: 0,
            message: "could not match patch documents to their text".into(),
        });
    }
    let file_arc: Arc<str> = Arc::from(file);
    specs.into_iter().zip(trees.iter()).map(|(s, t)| compile_patch(&file_arc, text, s, t)).collect()
}

/// Compile one typed patch with its lossless tree (also used for config `overrides`).
pub fn compile_patch(file: &Arc<str>, text: &str, spec: PatchSpec, tree: &Node) -> Result<Patch, PatchError> {
    let err_at = |line: u32, needle: &str, message: String| {
        let col = text.lines().nth(line.saturating_sub(1) as usize).and_then(|l| l.find(needle)).map_or(1, |c| c + 1);
        PatchError { file: file.to_string(), line: line as usize, col, message }
    };
    let line = tree.get("name").map_or(tree.line, |n| n.line);
    let pname = spec.name.clone();
    if pname.trim().is_empty() {
        return Err(err_at(line, "name", "patch name must not be empty".into()));
    }
    let applies_to = match &spec.applies_to {
        None => None,
        Some(r) => {
            let l = tree.get("appliesTo").map_or(line, |n| n.line);
            let req = semver::VersionReq::parse(r)
                .map_err(|e| err_at(l, r, format!("patch {pname:?}: appliesTo {r:?} is not a semver range: {e}")))?;
            Some((r.clone(), req))
        }
    };
    let select = compile_select(&spec.select, tree.get("select"), line, &pname, &err_at)?;
    let op_nodes = tree.get("ops").and_then(Node::as_seq).cloned().unwrap_or_default();
    let mut ops = Vec::new();
    for (i, (op, node)) in spec.ops.iter().zip(op_nodes.iter()).enumerate() {
        let oline = node.line;
        let body = node.as_map().and_then(|m| m.first()).map(|e| e.value.clone()).unwrap_or_default();
        let cx = OpCx { body: &body, line: oline, patch: &pname, index: i, name: op.name(), err_at: &err_at };
        let compiled: Op = op.compile(&cx)?;
        ops.push((compiled, oline));
    }
    Ok(Patch {
        name: spec.name,
        description: spec.description,
        applies_to,
        required: spec.required,
        select,
        ops,
        file: file.clone(),
        line,
    })
}

fn compile_select(
    s: &SelectSpec,
    node: Option<&Node>,
    line: u32,
    pname: &str,
    err_at: &dyn Fn(u32, &str, String) -> PatchError,
) -> Result<Select, PatchError> {
    let l = node.map_or(line, |n| n.line);
    let pats = |o: &Option<OneOrMany>| -> Result<Vec<Pattern>, PatchError> {
        o.as_ref()
            .map(|o| o.patterns().into_iter().map(Pattern::parse).collect::<Result<Vec<_>, _>>())
            .transpose()
            .map_err(|e| err_at(l, "select", format!("patch {pname:?}: select: {e}")))
            .map(Option::unwrap_or_default)
    };
    let where_ = match &s.where_ {
        None => None,
        Some(w) => {
            let wl = node.and_then(|n| n.get("where")).map_or(l, |n| n.line);
            Some(
                compile(w)
                    .map_err(|e| err_at(wl, w, format!("patch {pname:?}: select.where: bad JSONPath {w:?}: {e}")))?,
            )
        }
    };
    Ok(Select {
        kind: pats(&s.kind)?,
        api_version: pats(&s.api_version)?,
        release: pats(&s.release)?,
        name: pats(&s.name)?,
        namespace: pats(&s.namespace)?,
        labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        where_,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"*-udm-rest-api", b"ums-udm-rest-api"));
        assert!(glob(b"a?c*", b"abcdef"));
        assert!(!glob(b"a*b", b"acd"));
        assert!(glob(b"*", b""));
    }

    #[test]
    fn compiles_and_reports_positions() {
        let text =
            "name: p\ndescription: d\nselect: {kind: Job}\nops:\n  - set: {path: \"$.spec.backoffLimit\", value: 20}\n";
        let p = compile_file("p.yaml", text).unwrap();
        assert_eq!(p[0].ops.len(), 1);
        assert_eq!(p[0].ops[0].1, 5);

        let bad = "name: p\nops:\n  - set: {path: \"$.spec[\", value: 1}\n";
        let e = compile_file("p.yaml", bad).unwrap_err();
        assert_eq!((e.line, e.col), (3, 18), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(e.message.contains("op #1 (set)"), "{e}");

        let unknown = "name: p\nops:\n  - frobnicate: {path: \"$.a\"}\n";
        let e = compile_file("p.yaml", unknown).unwrap_err();
        assert_eq!(e.line, 3, "{e}");

        let field = "name: p\nselec: {}\nops: []\n";
        let e = compile_file("p.yaml", field).unwrap_err();
        assert_eq!(e.line, 2, "{e}");

        let range = "name: p\nappliesTo: \">=1.x.y\"\nops: []\n";
        let e = compile_file("p.yaml", range).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().starts_with("p.yaml:2:"), "{e}");
    }
}
