//! How the CLI talks to the terminal: `-q/--quiet` (errors only) and `--color
//! auto|always|never` (auto: colour when stderr is a terminal, `NO_COLOR` is unset or empty and
//! `TERM` is not `dumb`). Set once by [`init`] at the start of `main`; read by every place that
//! prints a diagnostic. Library callers never call [`init`]: the defaults are "not quiet, no
//! colour", which is what a library wants.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);
static COLOR: AtomicBool = AtomicBool::new(false);

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always colour (even into a pipe or file; overrides `NO_COLOR`).
    Always,
    /// Never colour.
    Never,
}

/// Whether `auto` colours, given the environment and whether stderr is a terminal.
/// `NO_COLOR` (<https://no-color.org>) disables it when present and not empty.
pub fn auto_color(no_color: Option<&str>, term: Option<&str>, is_tty: bool) -> bool {
    is_tty && no_color.is_none_or(str::is_empty) && term != Some("dumb")
}

/// Apply `--quiet` and `--color` for the rest of the process.
pub fn init(quiet: bool, color: ColorChoice) {
    QUIET.store(quiet, Ordering::Relaxed);
    let on = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => auto_color(
            std::env::var("NO_COLOR").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
            std::io::stderr().is_terminal(),
        ),
    };
    COLOR.store(on, Ordering::Relaxed);
}

/// `--quiet`: print errors only (no warnings, notes, progress or summary).
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether diagnostics on stderr are coloured.
pub fn color() -> bool {
    COLOR.load(Ordering::Relaxed)
}

/// A severity's SGR sequence: errors bold red, warnings bold yellow, notes and info cyan.
fn sgr(severity: &str) -> Option<&'static str> {
    match severity.to_ascii_lowercase().as_str() {
        "error" | "failed" => Some("\x1b[1;31m"),
        "warning" => Some("\x1b[1;33m"),
        "info" | "note" | "hint" => Some("\x1b[36m"),
        _ => None,
    }
}

/// `label` coloured for `severity` when colour is on (else `label` as it is).
pub fn paint(severity: &str, label: &str) -> String {
    match sgr(severity) {
        Some(s) if color() => format!("{s}{label}\x1b[0m"),
        _ => label.to_string(),
    }
}

/// Colour the severity word that starts a diagnostic line (`error:`, `warning:`,
/// `Warning[lint/…]`, `note:`, `hint:`, `guard … failed`) when colour is on; other lines and
/// the rest of the line are left alone.
pub fn paint_line(line: &str) -> String {
    if !color() {
        return line.to_string();
    }
    let word_end = line.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(line.len());
    let word = &line[..word_end];
    if word == "guard" {
        return paint("error", line);
    }
    match sgr(word) {
        Some(_) if word_end > 0 => format!("{}{}", paint(word, word), &line[word_end..]),
        _ => line.to_string(),
    }
}

/// [`paint_line`] on every line of `text` (kept line ends).
pub fn paint_text(text: &str) -> String {
    if !color() {
        return text.to_string();
    }
    text.split_inclusive('\n')
        .map(|l| match l.strip_suffix('\n') {
            Some(body) => paint_line(body) + "\n",
            None => paint_line(l),
        })
        .collect()
}

/// `n` and the noun, singular for 1: `1 warning`, `2 warnings`, `0 errors`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// A byte size for people: `512 B`, `3.4 kB`, `12.5 MB` (decimal units; never `0.0 MB`).
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_and_dumb_terminals_turn_auto_off() {
        assert!(auto_color(None, Some("xterm"), true));
        assert!(auto_color(Some(""), None, true), "an empty NO_COLOR does not count");
        assert!(!auto_color(Some("1"), Some("xterm"), true));
        assert!(!auto_color(None, Some("dumb"), true));
        assert!(!auto_color(None, Some("xterm"), false), "not a terminal");
    }

    #[test]
    fn plurals_and_sizes() {
        assert_eq!(count(1, "warning", "warnings"), "1 warning");
        assert_eq!(count(0, "warning", "warnings"), "0 warnings");
        assert_eq!(count(2, "error", "errors"), "2 errors");
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(34_567), "34.6 kB");
        assert_eq!(size(12_345_678), "12.3 MB");
        assert_eq!(size(2_500_000_000), "2.50 GB");
    }
}
