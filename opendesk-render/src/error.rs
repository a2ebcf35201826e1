//! Error types of the core library.

use std::path::{Path, PathBuf};
use thiserror::Error;

/// Where an error or a finding points in an input file: the file, the 1-based line and column
/// (0 = unknown; see [`at`]) and, where known, where the offending text ends. The one position
/// type of the library: the CLI prints it, the C ABI and Python read its fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file as the user named it (a path, or a placeholder such as `<config>`).
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// The end of the offending text, when known.
    pub span: Option<Span>,
}

/// The end of a [`Location`]'s text (1-based, inclusive line, exclusive column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// Line of the end.
    pub end_line: usize,
    /// Column just after the end.
    pub end_col: usize,
}

impl Location {
    /// A position without a span.
    pub fn new(file: impl Into<PathBuf>, line: usize, col: usize) -> Self {
        Location { file: file.into(), line, col, span: None }
    }

    /// A whole file (no line).
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location::new(file, 0, 0)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&at(&self.file.display(), self.line, self.col))
    }
}

/// An error (or finding) that may point into a file.
pub trait Located {
    /// Its position, when it has one.
    fn location(&self) -> Option<Location>;
}

/// The process status every outcome maps to, decided here once: the CLI's exit code, the C
/// ABI's status and Python's `code` are these numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ExitCode {
    /// Success (warnings allowed).
    Ok = 0,
    /// The render ran, but a guard or a lint error failed it (nothing written).
    Failed = 1,
    /// Bad input, config or usage, or an I/O failure (nothing written).
    Usage = 2,
    /// A bug caught at a binding's boundary (a panic); never a CLI exit code.
    Internal = 3,
    /// The caller cancelled the render (nothing written); never a CLI exit code.
    Cancelled = 4,
}

impl ExitCode {
    /// The number.
    pub const fn code(self) -> i32 {
        self as i32
    }
}

impl From<ExitCode> for i32 {
    fn from(e: ExitCode) -> i32 {
        e.code()
    }
}

/// `file:line:col`, `file:line` or `file`: a position is only printed where it is known (a line
/// or column of 0 means unknown, and `:0:0` is never printed).
pub fn at(file: &dyn std::fmt::Display, line: usize, col: usize) -> String {
    match (line, col) {
        (0, _) => file.to_string(),
        (l, 0) => format!("{file}:{l}"),
        (l, c) => format!("{file}:{l}:{c}"),
    }
}

/// `; did you mean `x`?` for the candidate closest to `word` (edit distance ≤ a third of its
/// length, at least 2), or an empty string.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    fn dist(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.to_lowercase().chars().collect(), b.to_lowercase().chars().collect());
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push((prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (dist(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map_or(String::new(), |(_, c)| format!("; did you mean `{c}`?"))
}

/// A problem reading or parsing the input tree. Every variant names the file, and the line and
/// column where one applies.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read (or a directory listed).
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The input path is not a directory.
    #[error("{path}: not a directory (expected a helmfile --output-dir tree)")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file is not UTF-8.
    #[error("{file}:{line}:{col}: invalid UTF-8 (YAML input must be UTF-8; is this a binary file?)")]
    InvalidUtf8 {
        /// File.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
    },
    /// YAML syntax or structure error.
    #[error("{file}:{line}:{col}: {reason}")]
    Syntax {
        /// File.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        reason: String,
    },
    /// A Kubernetes document whose root is not a mapping.
    #[error("{file}:{line}:1: document is a {what}, not a mapping (a Kubernetes manifest must be a mapping)")]
    NotAMapping {
        /// File.
        file: PathBuf,
        /// 1-based line of the document.
        line: usize,
        /// What it is instead.
        what: &'static str,
    },
    /// A symlink cycle in the input tree.
    #[error("{path}: symlink loop (a directory links back to one of its parents)")]
    SymlinkLoop {
        /// Where the loop closes.
        path: PathBuf,
    },
    /// Two folders map to the same release name.
    #[error("release {release:?} appears twice: folders {first:?} and {second:?}")]
    DuplicateRelease {
        /// Release.
        release: String,
        /// First folder.
        first: String,
        /// Second folder.
        second: String,
    },
    /// A file that must not be read: not a regular file, or a symlink leaving the input root.
    #[error(transparent)]
    File(#[from] crate::fsio::FileError),
    /// A budget of [`crate::limits`] was hit while parsing `file` (too many nodes in the
    /// render, too much alias expansion in the file): exit 2, nothing built beyond the budget.
    #[error("{}: {}", at(&file.display(), hit.line, hit.col), hit.describe())]
    Limit {
        /// The file being parsed.
        file: PathBuf,
        /// Which budget, its value, and the position in the file.
        hit: crate::limits::LimitHit,
    },
    /// The input is larger than [`crate::limits::MAX_INPUT_BYTES`]: refused from the sizes
    /// its listing gives, before a byte is read (or, for a file that grew since, on reading).
    #[error(
        "{path}: {bytes} bytes of input in {files} YAML files: more than the limit {} = {limit} bytes per render \
         (a full openDesk render is ~10 MB){}. Check that this is the helmfile output dir you meant, or render \
         fewer releases at a time (--module)",
        crate::limits::Limit::InputBytes.name(),
        largest_files(largest)
    )]
    InputTooLarge {
        /// The input dir (or the file that grew while it was read).
        path: PathBuf,
        /// Bytes found (at least).
        bytes: u64,
        /// YAML files listed.
        files: usize,
        /// The limit.
        limit: u64,
        /// The largest files and their sizes, largest first (at most 3).
        largest: Vec<(PathBuf, u64)>,
    },
    /// A YAML file directly in the input dir, outside any release folder.
    #[error("{path}: YAML file outside a release folder (expected <input>/<release>/<chart>/templates/*.yaml)")]
    OutsideRelease {
        /// The file.
        path: PathBuf,
    },
}

fn largest_files(v: &[(PathBuf, u64)]) -> String {
    if v.is_empty() {
        return String::new();
    }
    let list: Vec<String> = v.iter().map(|(p, n)| format!("{} ({n} bytes)", p.display())).collect();
    format!("; the largest: {}", list.join(", "))
}

impl LoadError {
    /// The message without the position [`Located::location`] gives, for a caller that prints
    /// the position apart (`validate`'s `file:line:col - ...` lines): never the position twice.
    pub fn reason(&self) -> String {
        match self {
            LoadError::Syntax { reason, .. } => reason.clone(),
            LoadError::InvalidUtf8 { .. } => "invalid UTF-8 (YAML input must be UTF-8; is this a binary file?)".into(),
            LoadError::NotAMapping { what, .. } => {
                format!("document is a {what}, not a mapping (a Kubernetes manifest must be a mapping)")
            }
            LoadError::Limit { hit, .. } => hit.describe(),
            LoadError::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }

    /// The file an error without a line names (an unreadable file, a symlink loop, a YAML file
    /// outside a release folder).
    pub fn unpositioned_file(&self) -> Option<&Path> {
        match self {
            LoadError::Io { path, .. }
            | LoadError::NotADirectory { path }
            | LoadError::SymlinkLoop { path }
            | LoadError::OutsideRelease { path }
            | LoadError::InputTooLarge { path, .. } => Some(path),
            LoadError::Limit { file, hit } if hit.line == 0 => Some(file),
            _ => None,
        }
    }
}

impl Located for LoadError {
    /// File, line and column, when the error points into a file; else the file it names.
    fn location(&self) -> Option<Location> {
        match self {
            LoadError::InvalidUtf8 { file, line, col } | LoadError::Syntax { file, line, col, .. } => {
                Some(Location::new(file, *line, *col))
            }
            LoadError::NotAMapping { file, line, .. } => Some(Location::new(file, *line, 1)),
            LoadError::Limit { file, hit } if hit.line > 0 => Some(Location::new(file, hit.line, hit.col)),
            _ => self.unpositioned_file().map(Location::file),
        }
    }
}
