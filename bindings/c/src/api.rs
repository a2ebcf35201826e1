//! The Rust-level calls both bindings share: render and explain with results as JSON values,
//! and failures with an exit code, a message and (where the message names one) a position.

use opendesk_render::pipeline::RenderError;
use opendesk_steps::render_cmd::{self, Inputs, RenderFailure, UsageError};
use serde_json::Value;
use std::path::Path;

/// Exit code for bad input or usage (same as the CLI).
pub const EXIT_USAGE: i32 = 2;
/// Exit code for a failed guard or lint (same as the CLI).
pub const EXIT_FAILED: i32 = 1;
/// Status for a panic caught at the boundary (a bug; never a CLI exit code).
pub const EXIT_INTERNAL: i32 = 3;

/// Where an error points: the file, and its 1-based line and column when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the message names it (a path, or e.g. `<config>` for config text).
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
}

/// Why a call produced no result.
#[derive(Debug, Clone)]
pub struct Failure {
    /// 1 guard/lint failure, 2 bad input or usage, 3 internal error.
    pub exit_code: i32,
    /// The message as the CLI prints it (`error: FILE:LINE:COL: ...` plus a snippet where known).
    pub message: String,
    /// The position the message names, if any.
    pub location: Option<Box<Location>>,
    /// The report (same JSON as `--json`), when the pipeline ran.
    pub report: Option<Box<Value>>,
}

impl Failure {
    /// A failure from a message, with the position parsed from its first line.
    pub fn new(exit_code: i32, message: String) -> Self {
        let location = location_of(&message).map(Box::new);
        Failure { exit_code, message, location, report: None }
    }
}

impl From<RenderFailure> for Failure {
    fn from(f: RenderFailure) -> Self {
        let mut out = Failure::new(f.exit_code, f.message);
        out.report = f.report.and_then(|r| serde_json::to_value(&*r).ok()).map(Box::new);
        out
    }
}

/// Parse `FILE:LINE:COL: ` from the first line of a message (after an optional `error: `).
///
/// The first `:<digits>:<digits>:` splits file from position; a line or column of 0 means
/// "unknown" and becomes `None`.
pub fn location_of(message: &str) -> Option<Location> {
    let first = message.lines().next()?;
    let rest = first.strip_prefix("error: ").unwrap_or(first);
    let b = rest.as_bytes();
    let digits = |mut i: usize| {
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i > s).then_some(i)
    };
    for (i, _) in rest.match_indices(':') {
        if i == 0 {
            continue;
        }
        let Some(l_end) = digits(i + 1) else { continue };
        if b.get(l_end) != Some(&b':') {
            continue;
        }
        let Some(c_end) = digits(l_end + 1) else { continue };
        if b.get(c_end) != Some(&b':') {
            continue;
        }
        let num = |s: &str| s.parse::<usize>().ok().filter(|n| *n > 0);
        return Some(Location {
            file: rest[..i].to_string(),
            line: num(&rest[i + 1..l_end]),
            column: num(&rest[l_end + 1..c_end]),
        });
    }
    None
}

/// Render `input` (the bundled example when `None`) into `out`; the report as JSON.
///
/// Writes nothing unless everything succeeded (the tree is replaced atomically).
pub fn render(input: Option<&Path>, out: &Path, secrets_out: Option<&Path>, a: &Inputs) -> Result<Value, Failure> {
    let rendered = render_cmd::render_to(input, out, secrets_out, a)?;
    serde_json::to_value(&rendered.report).map_err(|e| Failure::new(EXIT_USAGE, format!("error: report: {e}")))
}

/// What changed each resource: `[{resource, release, file, line, changes}]`, as `explain --json`.
///
/// `resource` (`KIND/NAMESPACE/NAME`, case-insensitive) keeps one resource; naming one that
/// does not exist is a usage error. A render that fails its guards still explains (what ran
/// before the failure), as the CLI does.
pub fn explain(input: Option<&Path>, resource: Option<&str>, a: &Inputs) -> Result<Value, Failure> {
    let prepared = render_cmd::prepare(input, a).map_err(|UsageError(m)| Failure::new(EXIT_USAGE, m))?;
    let docs = match render_cmd::run(prepared, a.threads) {
        Ok(r) => r.documents,
        Err(RenderError::Failed(_, docs)) => *docs,
        Err(e) => return Err(Failure::new(e.exit_code(), format!("error: {e}"))),
    };
    let shown = render_cmd::explain_entries(&docs, resource);
    if let Some(w) = resource {
        if shown.is_empty() {
            return Err(Failure::new(
                EXIT_USAGE,
                format!(
                    "error: no resource {w} (use KIND/NAMESPACE/NAME as in `explain` output; `-` for no namespace)"
                ),
            ));
        }
    }
    Ok(Value::Array(shown))
}

/// A panic payload as text.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_from_messages() {
        let l = location_of("error: /tmp/x/rel/a.yaml:3:5: duplicate key\n  |\n3 | a: 1").unwrap();
        assert_eq!(l, Location { file: "/tmp/x/rel/a.yaml".into(), line: Some(3), column: Some(5) });
        let l = location_of("error: <config>:0:0: invalid YAML").unwrap();
        assert_eq!((l.file.as_str(), l.line, l.column), ("<config>", None, None));
        let l = location_of("error: C:\\x\\a.yaml:12:1: bad").unwrap();
        assert_eq!((l.file.as_str(), l.line), ("C:\\x\\a.yaml", Some(12)));
        assert_eq!(location_of("error: release \"a\" appears twice"), None);
        assert_eq!(location_of("error: a:1:b: no"), None);
        assert_eq!(location_of(""), None);
    }
}
