//! Template rendering: minijinja with the templates in the crate's `templates/`
//! (the repository's top-level `templates/`, through a symlink) embedded
//! at build time.
//!
//! Two rules keep generated Nix safe whatever the user typed:
//! - undefined variables are errors (`UndefinedBehavior::Strict`), so a typo
//!   in a template fails the tests instead of printing nothing;
//! - the output formatter refuses any value that did not pass through one of
//!   the filters below. A template can only print a string as a Nix string
//!   literal (`nix_str`), as an attribute name (`nix_attr`), as a path
//!   relative to the flake (`nix_path`) or inside a comment (`comment`), so
//!   no input can become Nix code.

use minijinja::{Environment, Error as JinjaError, ErrorKind as JinjaErrorKind, Value};

use crate::error::{Error, Result};

/// The templates, by name. One per generated artifact.
use crate::syntax;

const TEMPLATES: &[(&str, &str)] = &[
    ("flake.nix", include_str!("../../templates/flake.nix.j2")),
    (
        "configuration.nix",
        include_str!("../../templates/configuration.nix.j2"),
    ),
    (
        "outputs.nix",
        include_str!("../../templates/outputs.nix.j2"),
    ),
];

/// `s` as a Nix `"..."` string literal, quotes included (see `syntax::quote`).
pub fn nix_string(s: &str) -> String {
    syntax::quote(s)
}

/// `s` as one attribute-path component: bare when it may be, quoted otherwise.
pub fn nix_attr(s: &str) -> String {
    syntax::attr_name(s)
}

/// A path relative to the file's folder as a Nix expression: a path
/// literal (`./pkgs/hello.nix`, `./.` for the folder itself) when every
/// component may appear in one, else `(./. + "/<path>")`. `rel` is taken
/// as relative even when it starts with `/`; callers check that it stays
/// inside the folder.
pub fn nix_path(rel: &str) -> String {
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        return "./.".to_string();
    }
    let literal_ok = parts.iter().all(|p| {
        p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
    });
    let joined = parts.join("/");
    if literal_ok {
        format!("./{joined}")
    } else {
        format!("(./. + {})", nix_string(&format!("/{joined}")))
    }
}

/// Text that is safe inside a `# ...` comment: control characters (a newline
/// would end the comment) become spaces.
pub fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn filter_arg(name: &str, value: &Value) -> Result<String, JinjaError> {
    value.as_str().map(str::to_string).ok_or_else(|| {
        JinjaError::new(
            JinjaErrorKind::InvalidOperation,
            format!("the {name} filter takes a string, not {}", value.kind()),
        )
    })
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_filter("nix_str", |v: Value| {
        filter_arg("nix_str", &v).map(|s| Value::from_safe_string(nix_string(&s)))
    });
    env.add_filter("nix_attr", |v: Value| {
        filter_arg("nix_attr", &v).map(|s| Value::from_safe_string(nix_attr(&s)))
    });
    env.add_filter("nix_path", |v: Value| {
        filter_arg("nix_path", &v).map(|s| Value::from_safe_string(nix_path(&s)))
    });
    env.add_filter("comment", |v: Value| {
        filter_arg("comment", &v).map(|s| Value::from_safe_string(comment_text(&s)))
    });
    env.set_formatter(|out, _state, value| {
        if value.is_safe() {
            if let Some(s) = value.as_str() {
                out.write_str(s).map_err(|_| {
                    JinjaError::new(JinjaErrorKind::WriteFailure, "cannot write output")
                })?;
                return Ok(());
            }
        }
        Err(JinjaError::new(
            JinjaErrorKind::InvalidOperation,
            format!(
                "a template printed `{value}` without nix_str, nix_attr, nix_path or comment; \
                 every value must be escaped"
            ),
        ))
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .expect("embedded templates compile (checked by tests)");
    }
    env
}

/// Render the template `name` with `ctx`. A failure is a bug in a template
/// or its caller, so it is an [`Error::internal`].
pub fn render(name: &str, ctx: impl serde::Serialize) -> Result<String> {
    let env = environment();
    let template = env
        .get_template(name)
        .map_err(|e| Error::internal(format!("no template {name}: {e}")))?;
    template
        .render(ctx)
        .map_err(|e| Error::internal(format!("template {name}: {e:#}")))
}

/// The names of the embedded templates.
#[cfg(test)]
pub fn template_names() -> impl Iterator<Item = &'static str> {
    TEMPLATES.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(nix_string("plain"), r#""plain""#);
        assert_eq!(nix_string(r#"a"b"#), r#""a\"b""#);
        assert_eq!(nix_string(r"a\b"), r#""a\\b""#);
        assert_eq!(nix_string("${x}"), r#""\${x}""#);
        assert_eq!(nix_string("$x $"), r#""$x $""#);
        assert_eq!(nix_string("$${x}"), r#""$\${x}""#);
        assert_eq!(nix_string("a\nb\rc\td"), r#""a\nb\rc\td""#);
        assert_eq!(nix_string(r"\${"), r#""\\\${""#);
    }

    #[test]
    fn attribute_names() {
        for bare in ["lp4a", "_x", "a-b", "a'b", "x86_64-linux", "true", "or"] {
            assert_eq!(nix_attr(bare), bare, "{bare}");
        }
        for quoted in ["", "1x", "a.b", "a b", "if", "let", "inherit", "é"] {
            assert_eq!(nix_attr(quoted), nix_string(quoted), "{quoted:?}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(nix_path("package.nix"), "./package.nix");
        assert_eq!(
            nix_path("./pkgs//hello/./default.nix"),
            "./pkgs/hello/default.nix"
        );
        assert_eq!(nix_path("."), "./.");
        assert_eq!(nix_path("./"), "./.");
        assert_eq!(nix_path("a+b/c-d_e.nix"), "./a+b/c-d_e.nix");
        assert_eq!(nix_path("my prog.nix"), r#"(./. + "/my prog.nix")"#);
        assert_eq!(nix_path("${x}.nix"), r#"(./. + "/\${x}.nix")"#);
        assert_eq!(nix_path("a\"b"), r#"(./. + "/a\"b")"#);
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment_text("a\nb\r\tc"), "a b  c");
    }

    #[test]
    fn templates_compile() {
        let env = environment();
        for name in template_names() {
            env.get_template(name).unwrap();
        }
    }

    #[test]
    fn safe_is_only_applied_to_macro_output() {
        for (name, source) in TEMPLATES {
            for (i, _) in source.match_indices("| safe }}") {
                let open = source[..i].rfind("{{").expect("inside {{ }}");
                let expr = source[open + 2..i].trim();
                let callee = expr.split('(').next().unwrap();
                assert!(
                    expr.ends_with(')') && source.contains(&format!("{{% macro {callee}(")),
                    "{name}: `| safe` on `{expr}`, which is not a macro call"
                );
            }
        }
    }

    #[test]
    fn unescaped_and_undefined_values_are_errors() {
        let mut env = environment();
        env.add_template("raw", "x = {{ v }};").unwrap();
        env.add_template("undef", "x = {{ nope | nix_str }};")
            .unwrap();
        env.add_template("ok", "x = {{ v | nix_str }};").unwrap();
        let ctx = minijinja::context! { v => "1; evil = true" };
        assert!(env.get_template("raw").unwrap().render(&ctx).is_err());
        assert!(env.get_template("undef").unwrap().render(&ctx).is_err());
        assert_eq!(
            env.get_template("ok").unwrap().render(&ctx).unwrap(),
            r#"x = "1; evil = true";"#
        );
    }
}
