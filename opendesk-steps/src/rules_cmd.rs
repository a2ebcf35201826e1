//! `opendesk-render rules [CODE] [--json]`: the checks registry
//! ([`opendesk_render::checks`]): every finding code and guard, its stage, default severity,
//! whether the instance config may change it (`lint: {severity: {CODE: …}}`) and its doc.

use crate::cli::{EXIT_OK, EXIT_USAGE};
use opendesk_render::checks::{unknown_code_message, Check, Tuning};
use opendesk_render::Severity;
use serde::Serialize;

/// One check as `rules --json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleInfo {
    /// The code (`lint/image-latest`).
    pub code: &'static str,
    /// The stage that emits it.
    pub stage: &'static str,
    /// `info`, `warning` or `error`.
    pub severity: Severity,
    /// Whether `lint.severity` may change it.
    pub tunable: bool,
    /// One line.
    pub summary: &'static str,
    /// The full doc (Markdown).
    pub doc: String,
}

impl From<Check> for RuleInfo {
    fn from(c: Check) -> Self {
        RuleInfo {
            code: c.code(),
            stage: c.stage(),
            severity: c.default_severity(),
            tunable: c.tuning() == Tuning::Tunable,
            summary: c.summary(),
            doc: doc_text(c),
        }
    }
}

/// The doc without the Markdown source's leading spaces.
fn doc_text(c: Check) -> String {
    let lines: Vec<&str> = c.doc().lines().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
    lines.join("\n").trim().to_string()
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

/// The text `rules` prints: one line per check.
pub fn list_text() -> String {
    let width = Check::ALL.iter().map(|c| c.code().len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in Check::ALL {
        let fixed = if c.tuning() == Tuning::Fixed { "fixed" } else { "" };
        out.push_str(&format!(
            "{:<width$}  {:<7}  {:<5}  {}\n",
            c.code(),
            severity_word(c.default_severity()),
            fixed,
            c.summary()
        ));
    }
    out
}

/// The text `rules CODE` prints.
pub fn show_text(c: Check) -> String {
    let tuning = match c.tuning() {
        Tuning::Tunable => format!("tunable: `lint: {{severity: {{{c}: info|warning|error|off}}}}`"),
        Tuning::Fixed => "fixed: the config cannot lower it".to_string(),
    };
    format!(
        "{c}\nstage: {}, default severity: {}, {tuning}\n\n{}\n",
        c.stage(),
        severity_word(c.default_severity()),
        doc_text(c)
    )
}

/// Run `rules`; returns the exit code.
pub fn rules(code: Option<&str>, json: bool) -> i32 {
    match code {
        None if json => {
            let all: Vec<RuleInfo> = Check::ALL.iter().copied().map(RuleInfo::from).collect();
            println!("{}", serde_json::to_string_pretty(&all).expect("rules serialize"));
        }
        None => print!("{}", list_text()),
        Some(code) => {
            let Some(c) = Check::from_code(code) else {
                eprintln!("{}", crate::term::paint_line(&format!("error: {}", unknown_code_message(code))));
                return EXIT_USAGE;
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&RuleInfo::from(c)).expect("rule serializes"));
            } else {
                print!("{}", show_text(c));
            }
        }
    }
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_every_check_and_a_doc_shows_its_settings() {
        let list = list_text();
        assert_eq!(list.lines().count(), Check::ALL.len());
        assert!(list.lines().any(|l| l.starts_with("guard/plaintext-secrets") && l.contains("fixed")));
        let t = show_text(Check::LintImageLatest);
        assert!(t.starts_with("lint/image-latest\nstage: lint, default severity: warning, tunable"), "{t}");
        assert!(t.contains("Pin a version or a digest"), "{t}");
        assert!(show_text(Check::GuardScim).contains("fixed"));
        let j = serde_json::to_value(RuleInfo::from(Check::DedupDuplicateEnv)).unwrap();
        assert_eq!(j["severity"], "warning");
        assert_eq!(j["tunable"], true);
    }
}
