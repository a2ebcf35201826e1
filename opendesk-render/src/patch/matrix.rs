//! The upgrade matrix of the fixes (`patches matrix`): the patch stage over one input for each
//! of several openDesk versions, per patch × version: out of range (`appliesTo` excludes the
//! version), in range and changed N documents, in range and matched N but changed none
//! (already fixed upstream), or in range and matched nothing (dead: the fix no longer finds
//! what it fixes).

use super::{apply, PatchError, PatchSet, Vars};
use crate::document::Document;
use serde::Serialize;
use std::fmt::Write as _;

/// One patch at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// The version.
    pub version: String,
    /// `out-of-range`, `changed`, `no-op` (matched, changed nothing) or `dead`.
    pub state: &'static str,
    /// Documents selected.
    pub matched: usize,
    /// Documents changed.
    pub changed: usize,
}

/// One patch across the versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Patch name.
    pub patch: String,
    /// Its `appliesTo`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<String>,
    /// Per version, in the order of [`Matrix::versions`].
    pub cells: Vec<Cell>,
}

/// The matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// The versions, ascending.
    pub versions: Vec<String>,
    /// Per patch, in application order.
    pub patches: Vec<Row>,
}

/// Every version boundary the set's `appliesTo` ranges mention, plus `configured`, ascending
/// and without duplicates.
pub fn default_versions(set: &PatchSet, configured: &semver::Version) -> Vec<semver::Version> {
    let mut v = vec![configured.clone()];
    for p in &set.patches {
        if let Some((_, req)) = &p.applies_to {
            for c in &req.comparators {
                let mut b = semver::Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
                b.pre = c.pre.clone();
                v.push(b);
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

/// Run the patch set over `docs` (cloned per version) for each version.
pub fn matrix(
    set: &PatchSet,
    docs: &[Document],
    versions: &[semver::Version],
    vars: &Vars,
) -> Result<Matrix, PatchError> {
    let mut versions = versions.to_vec();
    versions.sort();
    versions.dedup();
    let mut rows: Vec<Row> = set
        .patches
        .iter()
        .map(|p| Row {
            patch: p.name.clone(),
            applies_to: p.applies_to.as_ref().map(|(t, _)| t.clone()),
            cells: Vec::new(),
        })
        .collect();
    for v in &versions {
        let vars = Vars { opendesk_version: v.to_string(), ..vars.clone() };
        let prepared = set.prepare(v, &vars)?;
        let mut copy = docs.to_vec();
        let run = apply(&prepared, &mut copy, "patch");
        for row in &mut rows {
            let s = run.stats.iter().find(|s| s.name == row.patch);
            let cell = match s {
                Some(s) if s.skipped.is_some() => {
                    Cell { version: v.to_string(), state: "out-of-range", matched: 0, changed: 0 }
                }
                Some(s) => Cell {
                    version: v.to_string(),
                    state: if s.matched == 0 {
                        "dead"
                    } else if s.changed == 0 {
                        "no-op"
                    } else {
                        "changed"
                    },
                    matched: s.matched,
                    changed: s.changed,
                },
                None => Cell { version: v.to_string(), state: "out-of-range", matched: 0, changed: 0 },
            };
            row.cells.push(cell);
        }
    }
    Ok(Matrix { versions: versions.iter().map(ToString::to_string).collect(), patches: rows })
}

fn cell_text(c: &Cell) -> String {
    match c.state {
        "out-of-range" => "out of range".into(),
        "changed" => format!("changed {}", c.changed),
        "no-op" => format!("no-op ({} matched)", c.matched),
        _ => "DEAD".into(),
    }
}

impl Matrix {
    /// `(patch, version)` of every dead in-range cell.
    pub fn dead(&self) -> Vec<(&str, &str)> {
        self.patches
            .iter()
            .flat_map(|r| {
                r.cells.iter().filter(|c| c.state == "dead").map(move |c| (r.patch.as_str(), c.version.as_str()))
            })
            .collect()
    }

    /// An aligned table for a terminal, and a line per dead cell.
    pub fn to_text(&self) -> String {
        let mut cols = vec![std::iter::once("patch".to_string())
            .chain(self.patches.iter().map(|r| r.patch.clone()))
            .collect::<Vec<_>>()];
        for (i, v) in self.versions.iter().enumerate() {
            cols.push(std::iter::once(v.clone()).chain(self.patches.iter().map(|r| cell_text(&r.cells[i]))).collect());
        }
        let widths: Vec<usize> = cols.iter().map(|c| c.iter().map(|s| s.chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for row in 0..=self.patches.len() {
            let line: Vec<String> = cols.iter().zip(&widths).map(|(c, w)| format!("{:<w$}", c[row], w = *w)).collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        let dead = self.dead();
        let _ = writeln!(
            out,
            "{} patches × {} versions; {} dead in-range cell(s)",
            self.patches.len(),
            self.versions.len(),
            dead.len()
        );
        out
    }

    /// A Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut out =
            format!("| patch | {} |\n|---|{}\n", self.versions.join(" | "), "---|".repeat(self.versions.len()));
        for r in &self.patches {
            let cells: Vec<String> =
                r.cells.iter().map(|c| if c.state == "dead" { "**dead**".into() } else { cell_text(c) }).collect();
            let _ = writeln!(out, "| `{}` | {} |", r.patch, cells.join(" | "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_text;
    use std::path::Path;
    use std::sync::Arc;

    #[test]
    fn states_per_version() {
        let set = PatchSet::from_texts([
            ("a.yaml", "name: old-fix\nappliesTo: \"<1.17.0\"\nselect: {kind: ConfigMap}\nops:\n  - set: {path: $.data.x, value: \"1\"}\n"),
            ("b.yaml", "name: gone\nselect: {kind: Deployment}\nops:\n  - set: {path: $.spec.replicas, value: 1}\n"),
        ])
        .unwrap();
        let r: Arc<str> = "r".into();
        let docs = parse_text(&r, &r, Path::new("x"), "kind: ConfigMap\nmetadata: {name: c}\ndata: {x: \"0\"}\n", true)
            .unwrap();
        let v: Vec<semver::Version> = default_versions(&set, &semver::Version::new(1, 13, 1));
        assert_eq!(v.iter().map(ToString::to_string).collect::<Vec<_>>(), ["1.13.1", "1.17.0"]);
        let m = matrix(&set, &docs, &v, &Vars::default()).unwrap();
        let states: Vec<Vec<&str>> = m.patches.iter().map(|r| r.cells.iter().map(|c| c.state).collect()).collect();
        assert_eq!(states, [vec!["changed", "out-of-range"], vec!["dead", "dead"]]);
        assert_eq!(m.dead().len(), 2);
        assert!(m.to_text().contains("DEAD") && m.to_markdown().contains("**dead**"));
    }
}
