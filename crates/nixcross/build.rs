//! Turns `data/catalogue.json` into Rust code that builds the catalogue
//! (`$OUT_DIR/catalogue.rs`, included by `src/platform/mod.rs`): the binary
//! then makes its strings at start instead of parsing 28 KB of JSON, a
//! third of the time. A test checks the code against the JSON.

use serde_json::Value;

fn main() {
    let json = "data/catalogue.json";
    println!("cargo:rerun-if-changed={json}");
    let text = std::fs::read_to_string(json).expect("data/catalogue.json is readable");
    let value: Value = serde_json::from_str(&text).expect("data/catalogue.json is JSON");
    let code = format!(
        "/// The catalogue of `data/catalogue.json`.\nfn embedded() -> Catalogue {{\n    {}\n}}\n",
        rust(&value, "Catalogue")
    );
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("catalogue.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}

/// `value` as a Rust expression; an object is a struct `ty`, and the items
/// of its arrays the struct their field names. Strings are `s("...")`,
/// which makes a `String` or a `Some(String)`.
fn rust(value: &Value, ty: &str) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("s({s:?})"),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| rust(i, ty)).collect();
            format!("vec![{}]", items.join(", "))
        }
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", snake(k), rust(v, item_type(k))))
                .collect();
            format!("{ty} {{ {} }}", fields.join(", "))
        }
    }
}

/// The struct of the items of the catalogue's array `key`.
fn item_type(key: &str) -> &'static str {
    match key {
        "systems" => "System",
        "examples" => "Example",
        "binfmt" => "Magic",
        _ => "",
    }
}

/// `binaryCache` → `binary_cache`, as `#[serde(rename_all = "camelCase")]`.
fn snake(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
