//! A config given as a structure (a Python dict, a Go struct marshalled to JSON) is rendered
//! to JSON text with one key or list item per line, and every line remembers the key path it
//! holds. An error the config parser reports at `<config>:LINE:COL` is then reported by the
//! key path of that line (`secretsManager.keyPrefix`), not by a position in a text the caller
//! never saw.

use serde_json::Value;

/// The text given to the config parser, and the key path of each of its lines.
#[derive(Debug, Clone)]
pub struct KeyedText {
    /// JSON text (valid YAML), one key or list item per line.
    pub text: String,
    /// `paths[i]` is the key path held by line `i + 1` (`""` is the top level).
    paths: Vec<String>,
}

impl KeyedText {
    /// Lay out `v` one key per line. `v` must be an object to be a config; anything else is
    /// laid out too (the parser then says what it expected, at the top level).
    pub fn new(v: &Value) -> Self {
        let mut k = KeyedText { text: String::new(), paths: vec![String::new()] };
        k.value(v, "", 0);
        k.text.push('\n');
        k
    }

    /// The key path of 1-based `line`, `None` for line 0 (unknown) or past the end.
    pub fn path_at(&self, line: usize) -> Option<&str> {
        line.checked_sub(1).and_then(|i| self.paths.get(i)).map(String::as_str)
    }

    fn newline(&mut self, indent: usize, path: &str) {
        self.text.push('\n');
        self.text.push_str(&" ".repeat(indent));
        self.paths.push(path.to_string());
    }

    fn value(&mut self, v: &Value, path: &str, indent: usize) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                self.text.push('{');
                for (i, (key, val)) in m.iter().enumerate() {
                    let child = join_key(path, key);
                    self.newline(indent + 2, &child);
                    self.text.push_str(&Value::String(key.clone()).to_string());
                    self.text.push_str(": ");
                    self.value(val, &child, indent + 2);
                    if i + 1 < m.len() {
                        self.text.push(',');
                    }
                }
                self.newline(indent, path);
                self.text.push('}');
            }
            Value::Array(a) if !a.is_empty() => {
                self.text.push('[');
                for (i, val) in a.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    self.newline(indent + 2, &child);
                    self.value(val, &child, indent + 2);
                    if i + 1 < a.len() {
                        self.text.push(',');
                    }
                }
                self.newline(indent, path);
                self.text.push(']');
            }
            other => self.text.push_str(&other.to_string()),
        }
    }
}

/// `path.key`, or `path["key"]` when the key is not a plain identifier.
fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendesk_render::config::InstanceConfig;
    use serde_json::json;
    use std::path::Path;

    fn config() -> Value {
        json!({
            "opendeskVersion": "1.13.1",
            "instance": "acme",
            "namespace": "opendesk",
            "secretsManager": {"storeRef": {"kind": "ClusterSecretStore", "name": "sm"}, "keyPrefix": "acme"},
            "values": {"a.b": [1, {"c": true}], "": {}},
        })
    }

    /// The key path of the position the real config parser reports.
    fn error_path(v: &Value) -> (String, String) {
        let k = KeyedText::new(v);
        let e = InstanceConfig::parse(Path::new("<config>"), &k.text).expect_err("an error");
        (k.path_at(e.line).unwrap_or("?").to_string(), e.message)
    }

    #[test]
    fn the_text_is_the_same_config() {
        let v = config();
        let k = KeyedText::new(&v);
        let back: Value = serde_json::from_str(&k.text).unwrap();
        assert_eq!(back, v);
        assert_eq!(k.text.lines().count(), k.paths.len());
        InstanceConfig::parse(Path::new("<config>"), &k.text).expect("a valid config");
    }

    #[test]
    fn every_line_knows_its_path() {
        let k = KeyedText::new(&config());
        let at = |needle: &str| {
            let i = k.text.lines().position(|l| l.contains(needle)).unwrap();
            k.path_at(i + 1).unwrap().to_string()
        };
        assert_eq!(at("\"keyPrefix\""), "secretsManager.keyPrefix");
        assert_eq!(at("\"kind\""), "secretsManager.storeRef.kind");
        assert_eq!(at("\"c\""), "values[\"a.b\"][1].c");
        assert_eq!(at("\"\": {}"), "values[\"\"]");
        assert_eq!(k.path_at(1), Some(""));
        assert_eq!(k.path_at(0), None);
        assert_eq!(k.path_at(10_000), None);
    }

    #[test]
    fn parser_errors_map_to_key_paths() {
        let mut v = config();
        v["secretsManager"]["keyPrefx"] = json!("x");
        let (path, msg) = error_path(&v);
        assert_eq!(path, "secretsManager.keyPrefx", "{msg}");

        let mut v = config();
        v["secretsManager"]["keyPrefix"] = json!({"nested": 1});
        assert_eq!(error_path(&v).0, "secretsManager.keyPrefix");

        let mut v = config();
        v["argocd"] = json!({"path": "p", "repoURL": ["not", "a", "string"]});
        assert!(error_path(&v).0.starts_with("argocd.repoURL"));
    }
}
