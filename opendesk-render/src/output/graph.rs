//! The release graph (`--release-graph FILE`, DESIGN §10): Argo CD sync waves as data.
//!
//! ```yaml
//! waves:                       # in sync order; a release sits in exactly one wave
//!   - name: services
//!     releases: [redis, postgresql]
//!   - name: components
//!     syncWave: 50             # optional; default: the wave's position 0, 1, 2, ...
//!     releases: [ums, open-xchange, ox-connector]
//! needs:                       # optional; each must sit in an earlier wave
//!   ox-connector: [postgresql]
//! modules:                     # optional; key → releases rendered and pushed on their own
//!   groupware: [open-xchange, ox-connector]
//! ```
//!
//! Rules, checked by [`ReleaseGraph::parse`] (all problems are reported at once, each naming
//! the release, wave or cycle with its line and column):
//! - a release listed in two waves, an empty or repeated wave name;
//! - a `needs` key or target that is in no wave (an unknown release);
//! - a `needs` cycle (reported once per cycle, as `a -> b -> a`);
//! - a `needs` edge pointing at the same or a later wave;
//! - a module key that is empty or not `[A-Za-z0-9._-]+`, a module without releases, a module
//!   release that is in no wave, a release in two modules (or twice in one);
//! - effective sync-wave values that do not strictly increase with the wave order. A wave
//!   without `syncWave` takes its position, so after an explicit `syncWave: 50` every later
//!   wave needs an explicit value too; nothing is renumbered silently.
//!
//! [`ReleaseGraph::assign`] then checks the releases actually rendered: one in no wave is an
//! error; a graph release that was not rendered is fine (an instance may disable components)
//! and is reported as info. Without a graph file, [`WaveAssignment::flat`] puts every release
//! in wave 0 and warns.

use crate::config::{saphyr_options, ConfigError};
use crate::report::Finding;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    waves: Vec<RawWave>,
    #[serde(default)]
    needs: HashMap<Spanned<String>, Vec<Spanned<String>>>,
    #[serde(default)]
    modules: HashMap<Spanned<String>, Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawWave {
    name: Spanned<String>,
    #[serde(default)]
    sync_wave: Option<Spanned<i64>>,
    #[serde(default)]
    releases: Vec<Spanned<String>>,
}

/// A 1-based line and column in the graph file (0 when not tied to a place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line (0 = unknown).
    pub line: usize,
    /// 1-based column (0 = unknown).
    pub col: usize,
}

impl<T> From<&Spanned<T>> for Pos {
    fn from(s: &Spanned<T>) -> Self {
        Pos { line: s.referenced.line() as usize, col: s.referenced.column() as usize }
    }
}

/// One wave of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    /// The wave's name (`services`, `components`, ...).
    pub name: String,
    /// The `argocd.argoproj.io/sync-wave` value of its releases.
    pub sync_wave: i64,
    /// True when `syncWave` was given; false when it is the wave's position.
    pub explicit: bool,
    /// Its releases in file order.
    pub releases: Vec<String>,
    /// Where the wave's name is.
    pub pos: Pos,
}

/// A validated release graph.
#[derive(Debug, Clone)]
pub struct ReleaseGraph {
    /// The file it came from (for messages).
    pub file: PathBuf,
    /// Waves in sync order.
    pub waves: Vec<Wave>,
    /// `needs` edges: release → releases it needs (sorted, deduplicated).
    pub needs: BTreeMap<String, Vec<String>>,
    /// Modules (`modules:`), in file order: named sets of releases rendered and pushed on
    /// their own (`render --module KEY`). A release sits in at most one module.
    pub modules: Vec<Module>,
    /// Release → index into `waves`.
    index: HashMap<String, usize>,
}

/// One module of the graph: a named set of releases (`module:<key>` in the deployer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Module {
    /// The key (`nextcloud`, `element`, ...).
    pub key: String,
    /// Its releases in file order.
    pub releases: Vec<String>,
    /// Where the key is.
    #[serde(skip)]
    pub pos: Pos,
}

/// What is wrong with a release graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphProblem {
    /// The file is not valid YAML or does not have the expected shape.
    Syntax {
        /// serde-saphyr's message.
        message: String,
    },
    /// A wave without a name.
    EmptyWaveName,
    /// Two waves with the same name.
    DuplicateWave {
        /// The name.
        wave: String,
        /// Line of the first one.
        first_line: usize,
    },
    /// An empty release name in a wave or in `needs`.
    EmptyRelease,
    /// A release listed in two waves (or twice in one).
    TwoWaves {
        /// The release.
        release: String,
        /// The wave that lists it first.
        first: String,
        /// The wave that lists it again.
        second: String,
        /// Line of the first listing.
        first_line: usize,
    },
    /// A `needs` key or target that sits in no wave.
    UnknownRelease {
        /// The release.
        release: String,
        /// For a target: the release whose `needs` names it.
        needed_by: Option<String>,
    },
    /// A `needs` cycle, first release repeated at the end (`a -> b -> a`).
    Cycle {
        /// The releases on the cycle.
        cycle: Vec<String>,
    },
    /// A `needs` edge to a release in the same or a later wave.
    NeedsNotEarlier {
        /// The release that needs.
        release: String,
        /// Its wave.
        release_wave: String,
        /// The release it needs.
        needs: String,
        /// That release's wave.
        needed_wave: String,
    },
    /// An effective sync-wave value not greater than the previous wave's.
    SyncWaveNotIncreasing {
        /// The wave.
        wave: String,
        /// Its value.
        value: i64,
        /// True when the value is the default (the wave's position).
        implicit: bool,
        /// The previous wave.
        previous: String,
        /// Its value.
        previous_value: i64,
    },
    /// A rendered release that sits in no wave.
    NoWave {
        /// The release.
        release: String,
    },
    /// A module key that is empty or holds characters other than `[A-Za-z0-9._-]`.
    BadModuleKey {
        /// The key.
        module: String,
    },
    /// A module that lists no release.
    EmptyModule {
        /// The key.
        module: String,
    },
    /// A module release that sits in no wave (an unknown release).
    UnknownModuleRelease {
        /// The module.
        module: String,
        /// The release.
        release: String,
    },
    /// A release listed in two modules (or twice in one).
    TwoModules {
        /// The release.
        release: String,
        /// The module that lists it first.
        first: String,
        /// The module that lists it again.
        second: String,
        /// Line of the first listing.
        first_line: usize,
    },
}

impl fmt::Display for GraphProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use GraphProblem::*;
        match self {
            Syntax { message } => write!(f, "{message}"),
            EmptyWaveName => write!(f, "a wave needs a non-empty `name`"),
            DuplicateWave { wave, first_line } => {
                write!(f, "wave {wave:?} is declared twice (first on line {first_line}); wave names must be unique")
            }
            EmptyRelease => write!(f, "empty release name"),
            TwoWaves { release, first, second, first_line } => {
                if first == second {
                    write!(f, "release {release:?} is listed twice in wave {first:?} (first on line {first_line})")
                } else {
                    write!(
                        f,
                        "release {release:?} is in two waves: {first:?} (line {first_line}) and {second:?}; \
                         a release sits in exactly one wave"
                    )
                }
            }
            UnknownRelease { release, needed_by: None } => {
                write!(f, "unknown release {release:?} in `needs`: it is in no wave; add it to a wave")
            }
            UnknownRelease { release, needed_by: Some(by) } => {
                write!(f, "unknown release {release:?} needed by {by:?}: it is in no wave; add it to a wave")
            }
            Cycle { cycle } => write!(f, "`needs` cycle: {}", cycle.join(" -> ")),
            NeedsNotEarlier { release, release_wave, needs, needed_wave } => {
                let rel = if release_wave == needed_wave { "the same" } else { "a later" };
                write!(
                    f,
                    "release {release:?} (wave {release_wave:?}) needs {needs:?}, which is in {rel} wave \
                     ({needed_wave:?}); a needed release must sit in an earlier wave"
                )
            }
            SyncWaveNotIncreasing { wave, value, implicit, previous, previous_value } => {
                let how = if *implicit { " (its position; set `syncWave` explicitly)" } else { "" };
                write!(
                    f,
                    "wave {wave:?} has syncWave {value}{how}, not greater than {previous_value} of the previous \
                     wave {previous:?}; sync-wave values must increase with the wave order"
                )
            }
            NoWave { release } => {
                write!(f, "release {release:?} is rendered but sits in no wave of the release graph; add it to a wave")
            }
            BadModuleKey { module } => {
                write!(f, "module key {module:?} must be non-empty and use only letters, digits, '.', '_' and '-'")
            }
            EmptyModule { module } => write!(f, "module {module:?} lists no release"),
            UnknownModuleRelease { module, release } => {
                write!(f, "unknown release {release:?} in module {module:?}: it is in no wave; add it to a wave")
            }
            TwoModules { release, first, second, first_line } => {
                if first == second {
                    write!(f, "release {release:?} is listed twice in module {first:?} (first on line {first_line})")
                } else {
                    write!(
                        f,
                        "release {release:?} is in two modules: {first:?} (line {first_line}) and {second:?}; \
                         a release sits in at most one module"
                    )
                }
            }
        }
    }
}

/// One problem with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphIssue {
    /// Where (line 0 when the problem has no single place, e.g. a rendered release in no wave).
    pub pos: Pos,
    /// What.
    pub problem: GraphProblem,
}

/// A release graph that cannot be used (exit 2). Lists every problem found.
#[derive(Debug, Clone, thiserror::Error)]
pub struct GraphError {
    /// The graph file.
    pub file: PathBuf,
    /// The problems, in file order.
    pub issues: Vec<GraphIssue>,
}

impl crate::error::Located for GraphError {
    /// The first problem's position (the file alone when it has none).
    fn location(&self) -> Option<crate::error::Location> {
        let (l, c) = self.issues.first().map_or((0, 0), |i| (i.pos.line, i.pos.col));
        Some(crate::error::Location::new(&self.file, l, c))
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, is) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if is.pos.line > 0 {
                write!(f, "{}:{}:{}: {}", self.file.display(), is.pos.line, is.pos.col, is.problem)?;
            } else {
                write!(f, "{}: {}", self.file.display(), is.problem)?;
            }
        }
        Ok(())
    }
}

/// The sync wave of one release.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseWave {
    /// The wave's name (`default` without a graph).
    pub wave: String,
    /// The `argocd.argoproj.io/sync-wave` value.
    pub sync_wave: i64,
}

/// Sync waves of the rendered releases, plus findings for the report.
#[derive(Debug, Clone, Default)]
pub struct WaveAssignment {
    /// Release → wave.
    pub releases: BTreeMap<String, ReleaseWave>,
    /// Warnings (no graph) and infos (graph releases that were not rendered).
    pub findings: Vec<Finding>,
}

impl WaveAssignment {
    /// No graph: every release in wave 0 (`default`), with a warning.
    pub fn flat<'a>(releases: impl IntoIterator<Item = &'a str>) -> Self {
        let releases: BTreeMap<String, ReleaseWave> = releases
            .into_iter()
            .map(|r| (r.to_string(), ReleaseWave { wave: "default".into(), sync_wave: 0 }))
            .collect();
        let msg = format!(
            "no release graph given (--release-graph): all {} releases are in sync wave 0 and Argo CD applies \
             them together, without ordering",
            releases.len()
        );
        WaveAssignment { releases, findings: vec![Finding::of(crate::checks::Check::OutputNoReleaseGraph, msg)] }
    }

    /// The wave of a release.
    pub fn get(&self, release: &str) -> Option<&ReleaseWave> {
        self.releases.get(release)
    }
}

impl ReleaseGraph {
    /// Read and parse a graph file.
    pub fn load(file: &Path) -> Result<Self, GraphError> {
        let text = crate::fsio::read_regular_string_max(file, crate::limits::CONFIG_FILE).map_err(|e| GraphError {
            file: file.to_path_buf(),
            issues: vec![GraphIssue { pos: Pos::default(), problem: GraphProblem::Syntax { message: e.reason() } }],
        })?;
        Self::parse(file, &text)
    }

    /// Parse and validate a graph; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Self, GraphError> {
        let raw: RawGraph = serde_saphyr::from_str_with_options(text, saphyr_options()).map_err(|e| {
            let c = ConfigError::from_saphyr(file, &e);
            GraphError {
                file: file.to_path_buf(),
                issues: vec![GraphIssue {
                    pos: Pos { line: c.line, col: c.col },
                    problem: GraphProblem::Syntax { message: c.message },
                }],
            }
        })?;
        let mut issues = Vec::new();
        let mut waves: Vec<Wave> = Vec::with_capacity(raw.waves.len());
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut first_pos: HashMap<String, Pos> = HashMap::new();
        let mut wave_names: HashMap<String, usize> = HashMap::new();
        for (i, w) in raw.waves.iter().enumerate() {
            let name = w.name.value.trim().to_string();
            if name.is_empty() {
                issues.push(GraphIssue { pos: Pos::from(&w.name), problem: GraphProblem::EmptyWaveName });
            } else if let Some(&first_line) = wave_names.get(&name) {
                issues.push(GraphIssue {
                    pos: Pos::from(&w.name),
                    problem: GraphProblem::DuplicateWave { wave: name.clone(), first_line },
                });
            } else {
                wave_names.insert(name.clone(), Pos::from(&w.name).line);
            }
            let mut releases = Vec::with_capacity(w.releases.len());
            for r in &w.releases {
                let rel = r.value.trim().to_string();
                if rel.is_empty() {
                    issues.push(GraphIssue { pos: Pos::from(r), problem: GraphProblem::EmptyRelease });
                    continue;
                }
                if let Some(&prev) = index.get(&rel) {
                    let first = if prev == i { name.clone() } else { waves[prev].name.clone() };
                    issues.push(GraphIssue {
                        pos: Pos::from(r),
                        problem: GraphProblem::TwoWaves {
                            release: rel.clone(),
                            first,
                            second: name.clone(),
                            first_line: first_pos[&rel].line,
                        },
                    });
                    continue;
                }
                index.insert(rel.clone(), i);
                first_pos.insert(rel.clone(), Pos::from(r));
                releases.push(rel);
            }
            let (sync_wave, explicit) = match &w.sync_wave {
                Some(s) => (s.value, true),
                None => (i as i64, false),
            };
            waves.push(Wave { name, sync_wave, explicit, releases, pos: Pos::from(&w.name) });
        }
        for pair in waves.windows(2).zip(raw.waves.iter().skip(1)) {
            let ([prev, cur], raw_cur) = (pair.0, pair.1) else { continue };
            if cur.sync_wave <= prev.sync_wave {
                let pos = raw_cur.sync_wave.as_ref().map(Pos::from).unwrap_or(cur.pos);
                issues.push(GraphIssue {
                    pos,
                    problem: GraphProblem::SyncWaveNotIncreasing {
                        wave: cur.name.clone(),
                        value: cur.sync_wave,
                        implicit: !cur.explicit,
                        previous: prev.name.clone(),
                        previous_value: prev.sync_wave,
                    },
                });
            }
        }

        // needs: sorted by position so errors come in file order.
        let mut raw_needs: Vec<(&Spanned<String>, &Vec<Spanned<String>>)> = raw.needs.iter().collect();
        raw_needs.sort_by_key(|(k, _)| (Pos::from(*k), k.value.clone()));
        let mut needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut edge_pos: HashMap<(String, String), Pos> = HashMap::new();
        for (k, targets) in raw_needs {
            let key = k.value.trim().to_string();
            if key.is_empty() {
                issues.push(GraphIssue { pos: Pos::from(k), problem: GraphProblem::EmptyRelease });
                continue;
            }
            let key_known = index.contains_key(&key);
            if !key_known {
                issues.push(GraphIssue {
                    pos: Pos::from(k),
                    problem: GraphProblem::UnknownRelease { release: key.clone(), needed_by: None },
                });
            }
            let entry = needs.entry(key.clone()).or_default();
            for t in targets {
                let tv = t.value.trim().to_string();
                if tv.is_empty() {
                    issues.push(GraphIssue { pos: Pos::from(t), problem: GraphProblem::EmptyRelease });
                    continue;
                }
                if !index.contains_key(&tv) {
                    issues.push(GraphIssue {
                        pos: Pos::from(t),
                        problem: GraphProblem::UnknownRelease { release: tv.clone(), needed_by: Some(key.clone()) },
                    });
                }
                edge_pos.entry((key.clone(), tv.clone())).or_insert_with(|| Pos::from(t));
                entry.push(tv);
            }
            entry.sort();
            entry.dedup();
        }

        // Cycles (among all edges, known or not), then the wave order of the remaining edges.
        let cycles = find_cycles(&needs);
        let mut cycle_edges: BTreeSet<(String, String)> = BTreeSet::new();
        for c in &cycles {
            for e in c.windows(2) {
                cycle_edges.insert((e[0].clone(), e[1].clone()));
            }
            let pos = edge_pos.get(&(c[0].clone(), c[1].clone())).copied().unwrap_or_default();
            issues.push(GraphIssue { pos, problem: GraphProblem::Cycle { cycle: c.clone() } });
        }
        let mut order_issues = Vec::new();
        for (r, ts) in &needs {
            let Some(&rw) = index.get(r) else { continue };
            for t in ts {
                let Some(&tw) = index.get(t) else { continue };
                if tw >= rw && !cycle_edges.contains(&(r.clone(), t.clone())) {
                    order_issues.push(GraphIssue {
                        pos: edge_pos.get(&(r.clone(), t.clone())).copied().unwrap_or_default(),
                        problem: GraphProblem::NeedsNotEarlier {
                            release: r.clone(),
                            release_wave: waves[rw].name.clone(),
                            needs: t.clone(),
                            needed_wave: waves[tw].name.clone(),
                        },
                    });
                }
            }
        }
        order_issues.sort_by_key(|i| i.pos);
        issues.extend(order_issues);
        let modules = parse_modules(&raw.modules, &index, &mut issues);
        if !issues.is_empty() {
            issues.sort_by_key(|i| i.pos);
            return Err(GraphError { file: file.to_path_buf(), issues });
        }
        Ok(ReleaseGraph { file: file.to_path_buf(), waves, needs, modules, index })
    }

    /// The module with this key.
    pub fn module(&self, key: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.key == key)
    }

    /// The module a release belongs to, if any.
    pub fn module_of(&self, release: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.releases.iter().any(|r| r == release))
    }

    /// The wave of a release named in the graph.
    pub fn wave_of(&self, release: &str) -> Option<&Wave> {
        self.index.get(release).map(|&i| &self.waves[i])
    }

    /// Assign the rendered releases to their waves. A rendered release in no wave is an error
    /// (all of them are listed); graph releases that were not rendered are reported as info.
    pub fn assign<'a>(&self, rendered: impl IntoIterator<Item = &'a str>) -> Result<WaveAssignment, GraphError> {
        let rendered: BTreeSet<&str> = rendered.into_iter().collect();
        let mut issues = Vec::new();
        let mut out = WaveAssignment::default();
        for r in &rendered {
            match self.wave_of(r) {
                Some(w) => {
                    out.releases.insert(r.to_string(), ReleaseWave { wave: w.name.clone(), sync_wave: w.sync_wave });
                }
                None => issues
                    .push(GraphIssue { pos: Pos::default(), problem: GraphProblem::NoWave { release: r.to_string() } }),
            }
        }
        if !issues.is_empty() {
            return Err(GraphError { file: self.file.clone(), issues });
        }
        let missing: Vec<&str> = self
            .waves
            .iter()
            .flat_map(|w| w.releases.iter())
            .map(String::as_str)
            .filter(|r| !rendered.contains(r))
            .collect();
        if !missing.is_empty() {
            out.findings.push(Finding::of(
                crate::checks::Check::OutputGraphReleaseNotRendered,
                format!("release graph lists releases that were not rendered: {}", missing.join(", ")),
            ));
        }
        Ok(out)
    }
}

/// `modules:` in file order: keys checked, every release in a wave and in at most one module.
fn parse_modules(
    raw: &HashMap<Spanned<String>, Vec<Spanned<String>>>,
    index: &HashMap<String, usize>,
    issues: &mut Vec<GraphIssue>,
) -> Vec<Module> {
    let mut raw: Vec<(&Spanned<String>, &Vec<Spanned<String>>)> = raw.iter().collect();
    raw.sort_by_key(|(k, _)| (Pos::from(*k), k.value.clone()));
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (k, rels) in raw {
        let key = k.value.trim().to_string();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            issues.push(GraphIssue { pos: Pos::from(k), problem: GraphProblem::BadModuleKey { module: key.clone() } });
        }
        if rels.is_empty() {
            issues.push(GraphIssue { pos: Pos::from(k), problem: GraphProblem::EmptyModule { module: key.clone() } });
        }
        let mut releases = Vec::with_capacity(rels.len());
        for r in rels {
            let rel = r.value.trim().to_string();
            if rel.is_empty() {
                issues.push(GraphIssue { pos: Pos::from(r), problem: GraphProblem::EmptyRelease });
                continue;
            }
            if !index.contains_key(&rel) {
                issues.push(GraphIssue {
                    pos: Pos::from(r),
                    problem: GraphProblem::UnknownModuleRelease { module: key.clone(), release: rel.clone() },
                });
            }
            if let Some((first, first_line)) = seen.get(&rel) {
                issues.push(GraphIssue {
                    pos: Pos::from(r),
                    problem: GraphProblem::TwoModules {
                        release: rel.clone(),
                        first: first.clone(),
                        second: key.clone(),
                        first_line: *first_line,
                    },
                });
                continue;
            }
            seen.insert(rel.clone(), (key.clone(), Pos::from(r).line));
            releases.push(rel);
        }
        out.push(Module { key, releases, pos: Pos::from(k) });
    }
    out
}

/// Every elementary cycle found by a depth-first search (each back edge yields one), in a
/// canonical rotation (smallest release first), deduplicated, with the first release repeated
/// at the end.
fn find_cycles(needs: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark: HashMap<&str, Mark> = HashMap::new();
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in needs.keys() {
        if mark.get(start.as_str()).copied().unwrap_or(Mark::New) != Mark::New {
            continue;
        }
        // Iterative DFS: stack of (node, next child index); `path` mirrors the active nodes.
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        mark.insert(start.as_str(), Mark::Active);
        while let Some((node, i)) = stack.last_mut() {
            let children = needs.get(*node).map(Vec::as_slice).unwrap_or(&[]);
            if *i >= children.len() {
                mark.insert(node, Mark::Done);
                stack.pop();
                continue;
            }
            let child = children[*i].as_str();
            *i += 1;
            match mark.get(child).copied().unwrap_or(Mark::New) {
                Mark::New => {
                    mark.insert(child, Mark::Active);
                    stack.push((child, 0));
                }
                Mark::Active => {
                    let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                    let mut cyc: Vec<String> = stack[from..].iter().map(|(n, _)| n.to_string()).collect();
                    let min = cyc.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
                    cyc.rotate_left(min);
                    cyc.push(cyc[0].clone());
                    found.insert(cyc);
                }
                Mark::Done => {}
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;

    fn parse(t: &str) -> Result<ReleaseGraph, GraphError> {
        ReleaseGraph::parse(Path::new("graph.yaml"), t)
    }

    fn err(t: &str) -> GraphError {
        parse(t).expect_err("expected an error")
    }

    const OK: &str = "\
waves:
  - name: migrations-pre
    releases: [opendesk-migrations-pre]
  - name: services
    releases: [redis, postgresql]
  - name: identity
    releases: [ums]
  - name: components
    syncWave: 50
    releases: [opendesk-keycloak-bootstrap, open-xchange, ox-connector]
needs:
  opendesk-keycloak-bootstrap: [ums]
  ox-connector: [postgresql]
";

    #[test]
    fn parses_waves_positions_and_explicit_values() {
        let g = parse(OK).unwrap();
        let v: Vec<(&str, i64)> = g.waves.iter().map(|w| (w.name.as_str(), w.sync_wave)).collect();
        assert_eq!(v, [("migrations-pre", 0), ("services", 1), ("identity", 2), ("components", 50)]);
        assert_eq!(g.wave_of("ums").unwrap().name, "identity");
        assert_eq!(g.needs["ox-connector"], ["postgresql"]);
        let a = g.assign(["redis", "ums", "ox-connector"]).unwrap();
        assert_eq!(a.get("ox-connector").unwrap().sync_wave, 50);
        assert_eq!(a.get("redis").unwrap(), &ReleaseWave { wave: "services".into(), sync_wave: 1 });
        assert_eq!(a.findings.len(), 1);
        assert_eq!(a.findings[0].severity, Severity::Info);
        assert!(a.findings[0].message.contains("postgresql"), "{}", a.findings[0].message);
    }

    #[test]
    fn rendered_release_in_no_wave() {
        let g = parse(OK).unwrap();
        let e = g.assign(["redis", "jitsi", "element"]).unwrap_err();
        assert_eq!(e.issues.len(), 2);
        let s = e.to_string();
        assert!(s.contains("\"element\" is rendered but sits in no wave"), "{s}");
        assert!(s.starts_with("graph.yaml: "), "{s}");
    }

    #[test]
    fn release_in_two_waves() {
        let e = err("waves:\n  - name: a\n    releases: [x, y]\n  - name: b\n    releases:\n      - z\n      - x\n");
        assert_eq!(e.issues.len(), 1);
        assert_eq!(e.issues[0].pos, Pos { line: 7, col: 9 });
        let s = e.to_string();
        assert!(s.starts_with("graph.yaml:7:9: release \"x\" is in two waves: \"a\" (line 3) and \"b\""), "{s}");
        let e = err("waves:\n  - name: a\n    releases: [x, x]\n");
        assert!(e.to_string().contains("listed twice in wave \"a\""), "{e}");
    }

    #[test]
    fn needs_cycle() {
        let e = err("waves:\n  - name: a\n    releases: [x, y, z]\nneeds:\n  x: [y]\n  y: [z]\n  z: [x]\n");
        assert_eq!(e.issues.len(), 1, "{e}");
        assert_eq!(
            e.issues[0].problem,
            GraphProblem::Cycle { cycle: vec!["x".into(), "y".into(), "z".into(), "x".into()] }
        );
        assert!(e.to_string().contains("`needs` cycle: x -> y -> z -> x"), "{e}");
        assert_eq!(e.issues[0].pos.line, 5);
        // A release that needs itself.
        let e = err("waves:\n  - name: a\n    releases: [x]\nneeds:\n  x: [x]\n");
        assert!(e.to_string().contains("cycle: x -> x"), "{e}");
        // A cycle across waves is reported as the cycle, not as order errors.
        let e =
            err("waves:\n  - name: a\n    releases: [x]\n  - name: b\n    releases: [y]\nneeds:\n  x: [y]\n  y: [x]\n");
        assert_eq!(e.issues.len(), 1, "{e}");
        assert!(e.to_string().contains("cycle: x -> y -> x"), "{e}");
    }

    #[test]
    fn needs_same_or_later_wave() {
        let e = err(
            "waves:\n  - name: a\n    releases: [x, y]\n  - name: b\n    releases: [z]\nneeds:\n  x: [y]\n  y: [z]\n",
        );
        assert_eq!(e.issues.len(), 2, "{e}");
        let s = e.to_string();
        assert!(s.contains("graph.yaml:7:7: release \"x\" (wave \"a\") needs \"y\", which is in the same wave"), "{s}");
        assert!(
            s.contains("graph.yaml:8:7: release \"y\" (wave \"a\") needs \"z\", which is in a later wave (\"b\")"),
            "{s}"
        );
    }

    #[test]
    fn unknown_release() {
        let e = err("waves:\n  - name: a\n    releases: [x]\nneeds:\n  x: [nope]\n  ghost: [x]\n");
        assert_eq!(e.issues.len(), 2, "{e}");
        let s = e.to_string();
        assert!(s.contains("graph.yaml:5:7: unknown release \"nope\" needed by \"x\""), "{s}");
        assert!(s.contains("graph.yaml:6:3: unknown release \"ghost\" in `needs`"), "{s}");
    }

    #[test]
    fn sync_wave_not_increasing() {
        let e = err("waves:\n  - name: a\n    syncWave: 10\n    releases: [x]\n  - name: b\n    syncWave: 10\n    releases: [y]\n");
        assert!(e.to_string().starts_with("graph.yaml:6:15: wave \"b\" has syncWave 10, not greater than 10"), "{e}");
        // An implicit position after an explicit value.
        let e = err("waves:\n  - name: a\n    syncWave: 10\n    releases: [x]\n  - name: b\n    releases: [y]\n");
        let s = e.to_string();
        assert!(s.contains("wave \"b\" has syncWave 1 (its position; set `syncWave` explicitly)"), "{s}");
        // Negative values are fine as long as they increase.
        parse("waves:\n  - name: a\n    syncWave: -5\n    releases: [x]\n  - name: b\n    releases: [y]\n").unwrap();
    }

    #[test]
    fn bad_shapes_and_names() {
        let e = err("waves:\n  - name: a\n    releasez: [x]\n");
        assert_eq!(e.issues[0].pos.line, 3, "{e}");
        assert!(matches!(e.issues[0].problem, GraphProblem::Syntax { .. }));
        let e = err("waves:\n  - name: a\n    releases: [x]\n  - name: a\n    releases: [y]\n");
        assert!(e.to_string().contains("wave \"a\" is declared twice"), "{e}");
        let e = err("waves:\n  - name: ''\n    releases: [x]\n");
        assert!(e.to_string().contains("non-empty `name`"), "{e}");
        let e = err("waves: []\nneeds:\n  a: [b]\n  a: [c]\n");
        assert!(matches!(e.issues[0].problem, GraphProblem::Syntax { .. }), "{e}");
    }

    #[test]
    fn several_problems_are_reported_together_in_file_order() {
        let e = err("waves:\n  - name: a\n    releases: [x, y]\n  - name: b\n    releases: [x]\nneeds:\n  y: [q]\n");
        assert_eq!(e.issues.len(), 2, "{e}");
        assert!(e.issues[0].pos < e.issues[1].pos);
    }

    #[test]
    fn modules_parse_in_file_order() {
        let g = parse(&format!("{OK}modules:\n  identity: [ums, opendesk-keycloak-bootstrap]\n  groupware:\n    - open-xchange\n    - ox-connector\n")).unwrap();
        let keys: Vec<&str> = g.modules.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["identity", "groupware"]);
        assert_eq!(g.module("groupware").unwrap().releases, ["open-xchange", "ox-connector"]);
        assert_eq!(g.module_of("ums").unwrap().key, "identity");
        assert!(g.module_of("redis").is_none());
        assert!(parse(OK).unwrap().modules.is_empty());
    }

    #[test]
    fn module_errors_name_file_line_col() {
        let base = "waves:\n  - name: a\n    releases: [x, y, z]\n";
        // Unknown release.
        let e = err(&format!("{base}modules:\n  m: [x, nope]\n"));
        assert_eq!(e.issues.len(), 1, "{e}");
        assert!(e.to_string().starts_with("graph.yaml:5:10: unknown release \"nope\" in module \"m\""), "{e}");
        // A release in two modules, and twice in one.
        let e = err(&format!("{base}modules:\n  m: [x]\n  n:\n    - y\n    - x\n"));
        assert_eq!(e.issues.len(), 1, "{e}");
        assert!(
            e.to_string().starts_with("graph.yaml:8:7: release \"x\" is in two modules: \"m\" (line 5) and \"n\""),
            "{e}"
        );
        let e = err(&format!("{base}modules:\n  m: [x, x]\n"));
        assert!(e.to_string().contains("graph.yaml:5:10: release \"x\" is listed twice in module \"m\""), "{e}");
        // Bad key, empty module, duplicate key (a YAML error).
        let e = err(&format!("{base}modules:\n  'a b': [x]\n  e: []\n"));
        assert_eq!(e.issues.len(), 2, "{e}");
        assert!(e.to_string().contains("graph.yaml:5:3: module key \"a b\""), "{e}");
        assert!(e.to_string().contains("graph.yaml:6:3: module \"e\" lists no release"), "{e}");
        let e = err(&format!("{base}modules:\n  m: [x]\n  m: [y]\n"));
        assert!(matches!(e.issues[0].problem, GraphProblem::Syntax { .. }), "{e}");
    }

    #[test]
    fn flat_assignment_warns() {
        let a = WaveAssignment::flat(["b", "a"]);
        assert_eq!(a.releases.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(a.releases.values().all(|w| w.sync_wave == 0));
        assert_eq!(a.findings[0].severity, Severity::Warning);
        assert_eq!(a.findings[0].code, "output/no-release-graph");
    }
}
