//! `opendesk-render rules [CODE] [--json]`: the checks registry
//! ([`opendesk_render::checks::Check`]): every finding code and guard with its stage, default
//! severity and whether a config may tune it; with a code, that check's whole documentation.
//! An unknown code is a usage error with "did you mean" for the closest registered code.

use crate::cli::{EXIT_OK, EXIT_USAGE};
use crate::term;
use opendesk_render::checks::{Check, Tuning};

fn row(c: Check) -> serde_json::Value {
    serde_json::json!({
        "code": c.code(),
        "stage": c.stage(),
        "severity": c.default_severity(),
        "tunable": c.tuning() == Tuning::Tunable,
        "summary": c.summary(),
        "doc": c.doc(),
    })
}

/// The closest registered code to `typed`, when there is a close one.
pub fn suggest(typed: &str) -> Option<&'static str> {
    crate::suggest::did_you_mean(typed, Check::ALL.iter().map(|c| c.code()))
}

/// Run `rules`.
pub fn rules(code: Option<&str>, json: bool) -> i32 {
    let Some(code) = code else {
        if json {
            let all: Vec<_> = Check::ALL.iter().map(|c| row(*c)).collect();
            println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            return EXIT_OK;
        }
        let w = Check::ALL.iter().map(|c| c.code().len()).max().unwrap_or(4);
        println!("{:<w$} {:<10} {:<8} {:<8} WHAT", "CODE", "STAGE", "SEVERITY", "TUNABLE");
        for c in Check::ALL {
            let sev = format!("{:?}", c.default_severity()).to_lowercase();
            let tun = if c.tuning() == Tuning::Tunable { "yes" } else { "no" };
            println!("{:<w$} {:<10} {:<8} {:<8} {}", c.code(), c.stage(), sev, tun, c.summary());
        }
        return EXIT_OK;
    };
    let found =
        Check::from_code(code).or_else(|| Check::ALL.iter().copied().find(|c| c.code().eq_ignore_ascii_case(code)));
    let Some(c) = found else {
        let hint = suggest(code).map(|m| format!("; did you mean `{m}`?")).unwrap_or_default();
        eprintln!(
            "{}",
            term::paint_line(&format!("error: no check `{code}`{hint} (`opendesk-render rules` lists them all)"))
        );
        return EXIT_USAGE;
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&row(c)).unwrap_or_default());
    } else {
        let sev = format!("{:?}", c.default_severity()).to_lowercase();
        let tun = if c.tuning() == Tuning::Tunable { "tunable" } else { "fixed" };
        println!("{} ({} stage, {sev}, {tun})\n", c.code(), c.stage());
        for l in c.doc().lines() {
            println!("  {}", l.trim_start());
        }
    }
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_suggested() {
        let c = Check::ALL[0].code();
        let typo: String = c.chars().take(c.len() - 1).collect();
        assert_eq!(suggest(&typo), Some(c));
        assert_eq!(suggest("zzzz/qqqq"), None);
    }
}
