//! "Did you mean …?" for the names a user types into files: config keys, patch fields and
//! primitives, check codes. serde reports an unknown name as ``unknown field `X`, expected one
//! of a, b, c`` (or ``unknown variant `X`, expected …``); [`did_you_mean`] finds the closest of
//! the expected names and [`annotate`] adds the suggestion to such a message. Suggestions are
//! made only for close names (Jaro-Winkler similarity ≥ 0.8, or a case-only difference), so a
//! typo gets one and an unrelated word does not.

/// The candidate closest to `typed`, when it is close enough to be what was meant.
pub fn did_you_mean<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == typed {
            return None;
        }
        let score = if c.eq_ignore_ascii_case(typed) {
            1.0
        } else {
            strsim::jaro_winkler(&typed.to_lowercase(), &c.to_lowercase())
        };
        if score >= 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `msg` with ``; did you mean `Y`?`` after every serde-style ``unknown field|variant `X`,
/// expected one of a, b, c`` (or ``expected `a` or `b` ``) whose closest expected name is close
/// to X. Messages without that shape come back unchanged.
pub fn annotate(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 32);
    for (i, line) in msg.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&annotate_line(line));
    }
    out
}

fn annotate_line(line: &str) -> String {
    // The library's typed-file errors (`typed::ConfigError`) carry their own hint already: one
    // hint per message.
    if line.contains("; did you mean `") {
        return line.to_string();
    }
    for kind in ["unknown field `", "unknown variant `"] {
        let Some(at) = line.find(kind) else { continue };
        let rest = &line[at + kind.len()..];
        let Some(end) = rest.find('`') else { continue };
        let typed = &rest[..end];
        let after = &rest[end + 1..];
        let Some(exp) = after.strip_prefix(", expected ") else { continue };
        // The list runs to " at line …" (serde-saphyr's position suffix) or the line's end.
        let list = exp.split(" at line ").next().unwrap_or(exp);
        let list = list.strip_prefix("one of ").unwrap_or(list);
        let names: Vec<&str> = list
            .split([',', ' '])
            .map(|w| w.trim_matches(|c: char| c == '`' || c.is_whitespace()))
            .filter(|w| !w.is_empty() && *w != "or")
            .collect();
        if let Some(m) = did_you_mean(typed, names) {
            return format!("{line}; did you mean `{m}`?");
        }
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_get_a_suggestion_and_others_do_not() {
        let keys = ["opendeskVersion", "instance", "namespace", "secretsManager", "overrides"];
        assert_eq!(did_you_mean("secretManager", keys), Some("secretsManager"));
        assert_eq!(did_you_mean("Namespace", keys), Some("namespace"));
        assert_eq!(did_you_mean("overide", keys), Some("overrides"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("instance", keys), None, "an exact name needs no suggestion");
    }

    #[test]
    fn serde_messages_are_annotated() {
        let m = "c.yaml:4:1: unknown field `secretManager`, expected one of opendeskVersion, instance, secretsManager at line 4, column 1\nhint: see docs";
        assert_eq!(
            annotate(m),
            "c.yaml:4:1: unknown field `secretManager`, expected one of opendeskVersion, instance, secretsManager at line 4, column 1; did you mean `secretsManager`?\nhint: see docs"
        );
        let m = "p.yaml:4:5: unknown variant `sett`, expected one of set, setDefault, remove";
        assert!(annotate(m).ends_with("did you mean `set`?"), "{}", annotate(m));
        let m = "unknown variant `ensureEnvs`, expected `ensureEnv` or `label`";
        assert!(annotate(m).ends_with("did you mean `ensureEnv`?"));
        let m = "unknown field `qqq`, expected one of name, ops";
        assert_eq!(annotate(m), m);
        assert_eq!(annotate("no such shape"), "no such shape");
        // A message that has its hint already (the library's typed-file errors) keeps one.
        let m = "g.yaml:5:5: unknown field `nam`, expected one of name, syncWave, releases; did you mean `name`?";
        assert_eq!(annotate(m), m);
    }
}
