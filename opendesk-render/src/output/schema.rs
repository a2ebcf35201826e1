//! Test-only (the library's unit tests and `tests/stages_corpus.rs`; the render's own schema
//! checks are in `validate/`): a small structural OpenAPI v3 validator, the subset Kubernetes
//! CRD schemas use:
//! `type`, `properties`, `required`, `items`, `enum`, `additionalProperties` (bool or schema),
//! `nullable`, `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-int-or-string`,
//! `pattern`, `minLength`/`maxLength`, `minItems`/`maxItems`, `minProperties`/`maxProperties`.
//!
//! Unknown fields are errors (Kubernetes prunes or, with strict field validation, rejects
//! them), unless the schema preserves unknown fields or allows additional properties. Formats
//! and CEL rules are not checked.

use serde_json::Value as J;

/// Validate `value` against `schema`; returns every violation as `<path>: <problem>`.
pub fn validate(schema: &J, value: &J) -> Vec<String> {
    let mut errs = Vec::new();
    check(schema, value, "$", &mut errs);
    errs
}

fn type_ok(ty: &str, v: &J) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

fn check(schema: &J, v: &J, path: &str, errs: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    let flag = |k: &str| s.get(k).and_then(J::as_bool).unwrap_or(false);
    if v.is_null() {
        if !flag("nullable") && s.get("type").is_some() {
            errs.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if flag("x-kubernetes-int-or-string") {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            errs.push(format!("{path}: expected an integer or a string"));
        }
        return;
    }
    if let Some(ty) = s.get("type").and_then(J::as_str) {
        if !type_ok(ty, v) {
            errs.push(format!("{path}: expected {ty}, found {}", kind_of(v)));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(J::as_array) {
        if !allowed.contains(v) {
            errs.push(format!("{path}: {v} is not one of {}", J::Array(allowed.clone())));
        }
    }
    let num = |k: &str| s.get(k).and_then(J::as_u64);
    match v {
        J::String(text) => {
            let n = text.chars().count() as u64;
            if num("minLength").is_some_and(|m| n < m) {
                errs.push(format!("{path}: shorter than minLength"));
            }
            if num("maxLength").is_some_and(|m| n > m) {
                errs.push(format!("{path}: longer than maxLength"));
            }
            if let Some(p) = s.get("pattern").and_then(J::as_str) {
                match regex::Regex::new(p) {
                    Ok(re) if !re.is_match(text) => errs.push(format!("{path}: {text:?} does not match {p}")),
                    Ok(_) => {}
                    Err(_) => errs.push(format!("{path}: schema pattern {p:?} does not compile")),
                }
            }
        }
        J::Object(obj) => {
            let n = obj.len() as u64;
            if num("minProperties").is_some_and(|m| n < m) {
                errs.push(format!("{path}: fewer properties than minProperties"));
            }
            if num("maxProperties").is_some_and(|m| n > m) {
                errs.push(format!("{path}: more properties than maxProperties"));
            }
            if let Some(req) = s.get("required").and_then(J::as_array) {
                for r in req.iter().filter_map(J::as_str) {
                    if !obj.contains_key(r) {
                        errs.push(format!("{path}: missing required field {r:?}"));
                    }
                }
            }
            let props = s.get("properties").and_then(J::as_object);
            let preserve = flag("x-kubernetes-preserve-unknown-fields");
            let additional = s.get("additionalProperties");
            for (k, child) in obj {
                let cpath = format!("{path}.{k}");
                if let Some(ps) = props.and_then(|p| p.get(k)) {
                    check(ps, child, &cpath, errs);
                } else {
                    match additional {
                        Some(J::Bool(true)) => {}
                        Some(a @ J::Object(_)) => check(a, child, &cpath, errs),
                        _ if preserve => {}
                        // No properties and no type constraints: an opaque object (e.g. metadata).
                        _ if props.is_none() && additional.is_none() => {}
                        _ => errs.push(format!("{path}: unknown field {k:?}")),
                    }
                }
            }
        }
        J::Array(items) => {
            let n = items.len() as u64;
            if num("minItems").is_some_and(|m| n < m) {
                errs.push(format!("{path}: fewer items than minItems"));
            }
            if num("maxItems").is_some_and(|m| n > m) {
                errs.push(format!("{path}: more items than maxItems"));
            }
            if let Some(is) = s.get("items") {
                for (i, it) in items.iter().enumerate() {
                    check(is, it, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
}

fn kind_of(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(n) if n.is_i64() || n.is_u64() => "integer",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

/// The `openAPIV3Schema` of `version` from a CustomResourceDefinition (as JSON).
pub fn crd_schema<'a>(crd: &'a J, version: &str) -> Option<&'a J> {
    crd.get("spec")?
        .get("versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(J::as_str) == Some(version))?
        .get("schema")?
        .get("openAPIV3Schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_the_subset() {
        let s = json!({
            "type": "object",
            "required": ["spec"],
            "properties": {
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "required": ["mode"],
                    "properties": {
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "list": {"type": "array", "items": {"type": "integer"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "opt": {"type": "string", "nullable": true}
                    }
                }
            }
        });
        let ok = json!({"metadata": {"name": "x", "any": {"thing": 1}}, "spec": {"mode": "a", "port": "http",
            "list": [1, 2], "labels": {"a": "b"}, "free": {"x": [1]}, "opt": null}});
        assert_eq!(validate(&s, &ok), Vec::<String>::new());
        let bad = json!({"spec": {"mode": "c", "port": 1.5, "list": [1, "x"], "labels": {"a": 1}, "extra": true,
            "opt": 1}});
        let e = validate(&s, &bad);
        assert_eq!(
            e,
            [
                "$.spec: \"c\" is not one of [\"a\",\"b\"]",
                "$.spec.port: expected an integer or a string",
                "$.spec.list[1]: expected integer, found string",
                "$.spec.labels.a: expected string, found integer",
                "$.spec: unknown field \"extra\"",
                "$.spec.opt: expected string, found integer",
            ]
            .iter()
            .map(|s| s.replace("$.spec: \"c\"", "$.spec.mode: \"c\""))
            .collect::<Vec<_>>()
        );
        assert_eq!(validate(&s, &json!({})), ["$: missing required field \"spec\""]);
    }
}
