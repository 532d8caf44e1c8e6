//! The JSON Schema (`nixcross schema`) agrees with what nixcross reads:
//! every spec among the fixtures that `Document::parse` accepts is valid
//! under the schema, and the fixtures whose errors are about types (an
//! unknown field, mode or target, a wrong type, a build host given twice)
//! are invalid under it too. The validator here covers the keywords the
//! schema uses (`$ref`, `type`, `enum`, `const`, `properties`, `required`,
//! `additionalProperties`, `minProperties`, `items`, `oneOf`, `anyOf`,
//! `minimum`, `pattern` as a prefix check).

use std::path::PathBuf;

use nixcross::spec::{schema, Document};
use serde_json::Value;

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local references");
            resolve(root, &root["$defs"][name])
        }
        None => s,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => false,
    }
}

/// Why `v` is not valid under `s`, or `None`.
fn invalid(root: &Value, s: &Value, v: &Value, at: &str) -> Option<String> {
    let s = resolve(root, s);
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
            _ => true,
        };
        if !ok {
            return Some(format!("{at}: {v} is not of type {t}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Some(format!("{at}: {v} is not one of the {} values", e.len()));
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            return Some(format!("{at}: {v} is not {c}"));
        }
    }
    if let (Some(m), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < m {
            return Some(format!("{at}: {n} < {m}"));
        }
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        // The schema's only pattern is a prefix: ^ssh(-ng)?://
        let ok = ["ssh://", "ssh-ng://"].iter().any(|x| text.starts_with(x));
        if p.starts_with("^ssh") && !ok {
            return Some(format!("{at}: {text} does not match {p}"));
        }
    }
    if let Some(o) = v.as_object() {
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req {
                if !o.contains_key(r.as_str().unwrap()) {
                    return Some(format!("{at}: {r} is missing"));
                }
            }
        }
        if let Some(n) = s.get("minProperties").and_then(Value::as_u64) {
            if (o.len() as u64) < n {
                return Some(format!("{at}: fewer than {n} entries"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => {
                    if let Some(e) = invalid(root, ps, x, &format!("{at}.{k}")) {
                        return Some(e);
                    }
                }
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => return Some(format!("{at}: `{k}` is not allowed")),
                    Some(ap @ Value::Object(_)) => {
                        if let Some(e) = invalid(root, ap, x, &format!("{at}.{k}")) {
                            return Some(e);
                        }
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            if let Some(e) = invalid(root, items, x, &format!("{at}[{i}]")) {
                return Some(e);
            }
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let n = one
            .iter()
            .filter(|x| invalid(root, x, v, at).is_none())
            .count();
        if n != 1 {
            return Some(format!("{at}: {n} of oneOf match"));
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        if any.iter().all(|x| invalid(root, x, v, at).is_some()) {
            return Some(format!("{at}: none of anyOf matches"));
        }
    }
    None
}

/// Every nixcross.yaml in `fixtures/apply`, by case.
fn specs() -> Vec<(String, String)> {
    let root = nixcross_testkit::repo_root().join("fixtures/apply");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for d in dirs {
        for rel in ["input/nixcross.yaml", "input/deploy/nixcross.yaml"] {
            if let Ok(t) = std::fs::read_to_string(d.join(rel)) {
                out.push((d.file_name().unwrap().to_string_lossy().into_owned(), t));
            }
        }
    }
    out
}

#[test]
fn the_schema_accepts_what_nixcross_reads_and_rejects_type_errors() {
    let root = schema();
    let type_errors = [
        "err-unknown-field",
        "err-unknown-mode",
        "err-unknown-target",
        "err-wrong-type",
        "err-build-host-twice",
    ];
    let mut checked = 0;
    for (case, text) in specs() {
        let value: Value = serde_yaml::from_str(&text).unwrap();
        let verdict = invalid(&root, &root, &value, "spec");
        if Document::parse(&text).is_ok() {
            assert_eq!(
                verdict, None,
                "{case}: nixcross reads it, the schema rejects it"
            );
            checked += 1;
        }
        if type_errors.contains(&case.as_str()) {
            assert!(
                verdict.is_some(),
                "{case}: the schema accepts a spec with a type error"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} specs checked");
    // And the format's own example from the README.
    let readme = std::fs::read_to_string(nixcross_testkit::repo_root().join("README.md")).unwrap();
    let start = readme
        .find("```yaml\n# yaml-language-server")
        .expect("the README shows a spec")
        + 8;
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    Document::parse(example).unwrap();
    let value: Value = serde_yaml::from_str(example).unwrap();
    assert_eq!(invalid(&root, &root, &value, "README"), None);
}
