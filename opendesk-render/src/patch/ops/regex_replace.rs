//! `regexReplace`: regex replace inside string scalars.

use super::{OpCx, Primitive, Rec};
use crate::document::Document;
use crate::patch::query::CompiledPath;
use crate::patch::{PatchError, Vars};
use crate::yaml::{Scalar, Style, Value};
use regex::Regex;
use serde::Deserialize;

/// `regexReplace: {path, regex, replacement}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "struct variant OpSpec::RegexReplace")]
pub struct RegexReplaceSpec {
    /// JSONPath of the strings.
    pub path: String,
    /// The regular expression.
    pub regex: String,
    /// The replacement (`$1`, `${name}` groups; `${values.*}` substituted first).
    pub replacement: String,
}

/// A compiled `regexReplace`.
#[derive(Debug, Clone)]
pub struct RegexReplace {
    /// The strings.
    pub path: CompiledPath,
    /// The regular expression.
    pub regex: Regex,
    /// The replacement.
    pub replacement: String,
}

impl Primitive for RegexReplace {
    type Spec = RegexReplaceSpec;
    const SUMMARY: &'static str = "Regex replace inside string scalars.";

    fn compile(spec: &RegexReplaceSpec, cx: &OpCx<'_>) -> Result<Self, PatchError> {
        Ok(RegexReplace {
            path: cx.path(&spec.path)?,
            regex: Regex::new(&spec.regex).map_err(|e| cx.error("regex", &format!("bad regex: {e}")))?,
            replacement: spec.replacement.clone(),
        })
    }

    fn bind(&mut self, vars: &Vars) -> Result<(), String> {
        self.replacement = vars.expand(&self.replacement)?;
        Ok(())
    }

    fn apply(&self, rec: &Rec<'_>, d: &mut Document) -> bool {
        let (regex, replacement) = (&self.regex, &self.replacement);
        let is_secret = d.kind() == Some("Secret");
        let mut changed = false;
        for p in self.path.find(&d.root) {
            let Some(Value::Scalar(s)) = d.root.at_mut(&p).map(|n| &mut n.value) else { continue };
            if !s.is_string() {
                continue;
            }
            let new = regex.replace_all(&s.text, replacement.as_str());
            if new != s.text {
                let new = new.into_owned();
                let style = match s.style {
                    Style::Plain => Scalar::string(new.as_str()).style,
                    Style::Literal | Style::Folded if new.contains('\n') => Style::Literal,
                    Style::Literal | Style::Folded => Scalar::string(new.as_str()).style,
                    st => st,
                };
                s.text = new;
                s.style = style;
                let det = if is_secret {
                    None
                } else {
                    Some(format!("/{}/ → {}", regex.as_str(), replacement).replace('\n', "\\n"))
                };
                rec.record(d, &p, det);
                changed = true;
            }
        }
        changed
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["path", "regex", "replacement"],
            "properties": {
                "path": super::path_schema(),
                "regex": {"type": "string"},
                "replacement": {"type": "string"}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, run};

    #[test]
    fn replaces_inside_strings_only() {
        let docs = "kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  url: http://a.example:80/x\n  n: 80\n";
        let (out, changes, again) = run(
            "{kind: ConfigMap}",
            "  - regexReplace: {path: \"$.data.*\", regex: \":80/\", replacement: \":${values.port}/\"}\n",
            docs,
        );
        assert_eq!(changes, ["regexReplace $.data.url (/:80// → :8080/)"]);
        assert!(out.contains("url: http://a.example:8080/x\n  n: 80"), "{out}");
        assert!(!again);
    }

    #[test]
    fn a_bad_regex_is_an_error() {
        let e = error("  - regexReplace: {path: \"$.a\", regex: \"(\", replacement: x}\n");
        assert!(e.contains("op #1 (regexReplace): bad regex"), "{e}");
    }
}
