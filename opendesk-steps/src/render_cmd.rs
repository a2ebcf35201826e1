//! `render`, `explain`, `diff` and `patches matrix` as the CLI runs them: the printing (findings,
//! summary, explain and diff output) and the exit code. The work is the library session
//! ([`crate::session`]).

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::session::{
    explain_entries_in, load_tree, matrix_of, prepare, render_to_with_progress, run_with_progress, Inputs,
};
use opendesk_render::error::ExitCode;
use opendesk_render::pipeline::{RenderError, Report};
use std::path::Path;
use std::time::Instant;

/// `releases: +a +b −c` against the tree that was replaced (nothing when the set is unchanged).
fn release_changes(previous: &[String], now: &[String]) -> Option<String> {
    let added: Vec<&String> = now.iter().filter(|r| !previous.contains(r)).collect();
    let removed: Vec<&String> = previous.iter().filter(|r| !now.contains(r)).collect();
    if previous.is_empty() && !now.is_empty() {
        return Some(format!("releases: {} added (new tree)\n", now.len()));
    }
    if added.is_empty() && removed.is_empty() {
        return None;
    }
    let mut s = String::from("releases vs the replaced tree:");
    for a in added {
        s.push_str(&format!(" +{a}"));
    }
    for r in removed {
        s.push_str(&format!(" -{r}"));
    }
    s.push('\n');
    Some(s)
}

fn print_summary(r: &Report, out: &Path, output_bytes: u64, total_ms: f64, changes: Option<String>) {
    use crate::term::{count, size};
    use std::fmt::Write as _;
    if crate::term::quiet() {
        return;
    }
    let s = &r.summary;
    let f = |k| s.findings.get(&k).copied().unwrap_or(0);
    use opendesk_render::Severity::*;
    let t: Vec<String> = r.timings.iter().map(|t| format!("{} {:.1}ms", t.stage, t.ms)).collect();
    let mut text = String::new();
    let _ = write!(
        text,
        "rendered {}: {} in ({}) → {} out ({}) into {}\n\
         patches: {} applied, {} skipped (appliesTo), {} matched nothing\n\
         findings: {}, {}, {} info\n\
         ESO: {} → ExternalSecrets; {} → valueFrom.secretKeyRef; {} refused; {} masked\n\
         time: {total_ms:.1}ms total ({})\n",
        count(s.releases, "release", "releases"),
        count(s.documents_in, "document", "documents"),
        size(s.input_bytes),
        count(s.documents_out, "resource", "resources"),
        size(output_bytes),
        out.display(),
        s.patches_applied,
        s.patches_skipped,
        s.patches_dead,
        count(f(Error), "error", "errors"),
        count(f(Warning), "warning", "warnings"),
        f(Info),
        count(s.eso_converted, "Secret", "Secrets"),
        count(s.secret_refs, "env value", "env values"),
        count(s.inline_secrets_refused, "inline secret value", "inline secret values"),
        count(s.redactions, "inline secret value", "inline secret values"),
        t.join(", ")
    );
    if !s.masked_documents.is_empty() {
        let _ = writeln!(
            text,
            "redact.mode mask: {} masked (may not work as before): {}",
            count(s.masked_documents.len(), "document", "documents"),
            s.masked_documents.join(", ")
        );
    }
    if let Some(v) = &r.validation {
        let _ = write!(
            text,
            "validate: {} checked against Kubernetes {}, {} without a schema",
            count(v.checked, "resource", "resources"),
            v.kubernetes_version,
            v.no_schema
        );
        if v.cel_rules_not_checked > 0 || v.patterns_not_checked > 0 {
            let _ = write!(
                text,
                "; not evaluated: {} (x-kubernetes-validations), {}",
                count(v.cel_rules_not_checked as usize, "CEL rule", "CEL rules"),
                count(v.patterns_not_checked as usize, "CRD pattern", "CRD patterns")
            );
        }
        text.push('\n');
    }
    if let Some(values) = s.secret_values_discarded {
        let _ = writeln!(
            text,
            "secret values DISCARDED (--discard-secret-values): {} value(s) of {} were not written anywhere; \
             the secrets manager does not get them from this render",
            values,
            count(s.eso_converted, "Secret", "Secrets"),
        );
    }
    if let Some(c) = changes {
        text.push_str(&c);
    }
    if let Some(m) = &r.module {
        let scoped: Vec<&str> = m.scoped_guards.iter().map(|g| g.name.as_str()).collect();
        let base = match &m.base {
            Some(b) => format!("secret-skew guard against base output {}", b.output_digest),
            None => "--no-base: secret-skew guard SKIPPED".into(),
        };
        let _ = writeln!(
            text,
            "module {}: {} of {} release(s) rendered ({}); {base}; guards judged against the module: {}",
            m.keys.join(", "),
            m.rendered.len(),
            m.covers.len(),
            m.rendered.join(", "),
            scoped.join(", ")
        );
    }
    to_stderr(&text);
}

/// One write for the whole text: stderr is unbuffered, and `eprintln!` makes a system call
/// per formatted piece (about ten per finding; a render prints over a hundred findings).
fn to_stderr(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn print_findings(r: &Report) {
    use std::fmt::Write as _;
    let mut text = String::new();
    for f in &r.findings {
        if f.severity == opendesk_render::Severity::Info
            || (crate::term::quiet() && f.severity != opendesk_render::Severity::Error)
        {
            continue;
        }
        let sev = format!("{:?}", f.severity);
        let _ = write!(text, "{}[{}]", crate::term::paint(&sev, &sev), f.code);
        match (&f.resource, f.position()) {
            (Some(res), Some(o)) => _ = write!(text, " {res} ({o})"),
            (Some(res), None) => _ = write!(text, " {res}"),
            _ => {}
        }
        if let Some(p) = &f.path {
            let _ = write!(text, " at {p}");
        }
        let _ = writeln!(text, ": {}", f.message);
    }
    for g in r.guards.iter().filter(|g| !g.passed) {
        let head = crate::term::paint("error", &format!("guard {} failed", g.name));
        let _ = writeln!(text, "{head}: {}", g.message.as_deref().unwrap_or(""));
    }
    to_stderr(&text);
}

/// `render`: exit 0, 1 or 2; writes nothing unless 0. The CLI's command: it does not free the
/// render (the process exits next), so library callers use [`render_to_with_progress`].
pub fn render(input: Option<&Path>, out: &Path, secrets_out: Option<&Path>, json: bool, a: &Inputs) -> i32 {
    let start = Instant::now();
    let bar = crate::progress::StageProgress::stderr();
    let tick = |stage: &'static str| bar.stage(stage);
    let previous = opendesk_render::output::write::previous_releases(out);
    let result = render_to_with_progress(input, out, secrets_out, a, Some(&tick));
    bar.finish();
    let rendered = match result {
        Ok(r) => r,
        Err(f) => {
            if let Some(r) = &f.report {
                print_findings(r);
                if json {
                    println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
                }
            }
            let message = f.message();
            let message = opendesk_render::scrub::redact_url_credentials(&message);
            eprintln!("{}", crate::term::paint_text(&crate::suggest::annotate(&message)));
            if f.exit() == ExitCode::Failed {
                eprintln!(
                    "nothing was written; fix the findings above (or `explain` a resource to see what changed it)"
                );
            }
            return f.exit_code();
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&rendered.report).unwrap_or_default());
    } else {
        print_findings(&rendered.report);
    }
    let now: Vec<String> = rendered.tree.releases.iter().map(|r| r.name.clone()).collect();
    let output_bytes = rendered.tree.files.values().map(|t| t.len() as u64).sum();
    print_summary(
        &rendered.report,
        out,
        output_bytes,
        start.elapsed().as_secs_f64() * 1000.0,
        release_changes(&previous, &now),
    );
    // Freeing every node of the render one by one takes milliseconds the user waits for, and
    // this is the CLI's last step before the process exits: leave the memory to the OS. (A
    // thread dropping it could still be running while `exit` tears the allocator down.)
    std::mem::forget(rendered);
    EXIT_OK
}

/// `explain`.
pub fn explain(input: Option<&Path>, resource: Option<&str>, json: bool, a: &Inputs) -> i32 {
    let bar = crate::progress::StageProgress::stderr();
    bar.stage(crate::progress::LOAD);
    let prepared = match prepare(input, a) {
        Ok(p) => p,
        Err(e) => {
            bar.finish();
            eprintln!("{}", crate::term::paint_text(&crate::suggest::annotate(&e.message())));
            return e.exit().code();
        }
    };
    let namespace = prepared.config.namespace.clone();
    let tick = |stage: &'static str| bar.stage(stage);
    let result = run_with_progress(prepared, a.threads, Some(&tick));
    bar.finish();
    let (docs, failed) = match result {
        Ok(r) => (r.documents, None),
        Err(RenderError::Failed(rep, docs)) => (*docs, Some(rep)),
        Err(e) => {
            eprintln!("error: {}", opendesk_render::scrub::redact_url_credentials(&e.to_string()));
            return e.exit_code();
        }
    };
    let shown = explain_entries_in(&docs, resource, Some(&namespace));
    if let Some(w) = resource {
        if shown.is_empty() {
            eprintln!(
                "{}",
                crate::term::paint_line(&format!(
                    "error: no resource {w} (use KIND/NAMESPACE/NAME as in `explain` output; `-` or the namespace it is deployed to for one without its own)"
                ))
            );
            return EXIT_USAGE;
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
    } else {
        for s in &shown {
            println!(
                "{}  ({}/{}:{})",
                s["resource"].as_str().unwrap_or(""),
                s["release"].as_str().unwrap_or(""),
                s["file"].as_str().unwrap_or(""),
                s["line"]
            );
            let changes = s["changes"].as_array().cloned().unwrap_or_default();
            if changes.is_empty() {
                println!("    unchanged");
            }
            for c in changes {
                // The complete value, on one line (line breaks as \n; an elided one says so).
                let det = c["detail"].as_str().map(|d| format!("  = {}", d.replace('\n', "\\n"))).unwrap_or_default();
                println!(
                    "    {:<44} {:<18} {}{det}",
                    c["by"].as_str().unwrap_or(""),
                    c["action"].as_str().unwrap_or(""),
                    c["path"].as_str().unwrap_or("")
                );
            }
        }
    }
    if let Some(r) = failed {
        print_findings(&r);
        eprintln!("note: this render fails its guards or lint (exit 1); the changes above are what ran before that");
    }
    EXIT_OK
}

/// Output format of `diff` and `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// For a terminal.
    Text,
    /// `--json`.
    Json,
    /// `--markdown` (a merge-request comment).
    Markdown,
}

/// Print a diff report in `format`.
pub fn print_diff(d: &opendesk_render::diff::DiffReport, format: DiffFormat, title: &str) {
    use opendesk_render::diff::{render_markdown, render_text};
    match format {
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(d).unwrap_or_default()),
        DiffFormat::Text => print!("{}", render_text(d)),
        DiffFormat::Markdown => print!("{}", render_markdown(d, title)),
    }
}

/// `diff OLD NEW`: exit 0 equal, 1 different, 2 unreadable.
pub fn diff(old: &Path, new: &Path, format: DiffFormat) -> i32 {
    let (a, b) = match (load_tree(old), load_tree(new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let d = opendesk_render::diff::diff(&a, &b);
    print_diff(&d, format, &format!("Diff {} → {}", old.display(), new.display()));
    if d.changed {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// `patches matrix`: exit 0, or 2 for bad input or a version that is not semver.
pub fn matrix(input: Option<&Path>, versions: &[String], format: DiffFormat, a: &Inputs) -> i32 {
    let m = match prepare(input, a).and_then(|p| matrix_of(&p, versions)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}", e.message());
            return e.exit().code();
        }
    };
    match format {
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default()),
        DiffFormat::Markdown => print!("{}", m.to_markdown()),
        DiffFormat::Text => print!("{}", m.to_text()),
    }
    EXIT_OK
}
