//! Typed YAML files (the instance config, patch files, the release graph), read with
//! serde-saphyr: our options and the positioned error its errors become. Both `config` and
//! `patch` use it, so neither needs the other for this (`config` compiles its `overrides:`
//! with `patch`; `patch` does not depend on `config`).

use std::path::{Path, PathBuf};
use thiserror::Error;

/// A config file that could not be read or understood.
#[derive(Debug, Error)]
#[error("{}: {message}", crate::error::at(&.file.display(), *.line, *.col))]
pub struct ConfigError {
    /// The file (or `<inline>`).
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// What is wrong, and what to do.
    pub message: String,
}

impl ConfigError {
    /// Map a serde-saphyr error to a positioned error for `file`.
    pub fn from_saphyr(file: &Path, e: &serde_saphyr::Error) -> Self {
        let (line, col) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
        let full = e.without_snippet().to_string();
        // serde-saphyr prefixes "line N column M:"-style context and appends snippets; keep the
        // first line of the message.
        let first = full.lines().next().unwrap_or("invalid YAML").trim();
        // The position is printed once, before the message: drop serde-saphyr's own
        // ` at line N, column M` from the text.
        let message = match first.rfind(" at line ") {
            Some(i)
                if first[i + 9..]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == ' ' || c.is_ascii_alphabetic()) =>
            {
                first[..i].to_string()
            }
            _ => first.to_string(),
        };
        let message = with_did_you_mean(message);
        let message = message.trim_end_matches(", set DuplicateKeyPolicy in Options if acceptable").to_string();
        ConfigError { file: file.to_path_buf(), line, col, message }
    }
}

/// serde-saphyr options for our config files (instance config, patch files, release graph):
/// our own bounds instead of the library defaults. Config files are small and hand-written, so
/// the limits are generous for them and tight for hostile input: up to 10,000 documents (the
/// default 1,024 would cap a large patch set), 64 levels, 1,000 aliases, 16 MiB of scalars.
pub fn saphyr_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    let mut b = o.budget.clone().unwrap_or_default();
    b.max_documents = 10_000;
    b.max_depth = 64;
    b.max_aliases = 1_000;
    b.max_anchors = 1_000;
    b.max_nodes = 250_000;
    b.max_total_scalar_bytes = 16 << 20;
    o.budget = Some(b);
    o
}

/// serde's `unknown field `x`, expected one of `a`, `b`` with a did-you-mean for the closest.
fn with_did_you_mean(message: String) -> String {
    let Some(i) = message.find("unknown field `") else { return message };
    let rest = &message[i + 15..];
    let Some(end) = rest.find('`') else { return message };
    let word = &rest[..end];
    let Some(j) = rest.find("expected") else { return message };
    let list = rest[j + 8..].trim_start().trim_start_matches("one of").replace(" or ", ",");
    let candidates: Vec<&str> = list.split(',').map(|c| c.trim().trim_matches('`')).filter(|c| !c.is_empty()).collect();
    let hint = crate::error::did_you_mean(word, &candidates);
    format!("{message}{hint}")
}

impl crate::error::Located for ConfigError {
    fn location(&self) -> Option<crate::error::Location> {
        Some(crate::error::Location::new(&self.file, self.line, self.col))
    }
}
