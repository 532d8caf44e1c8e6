//! Stand-ins for what lives outside the files: flake inputs, nixpkgs'
//! package sets (`import nixpkgs`, `legacyPackages.<system>`, `pkgsCross`,
//! `mkShell`, a package) and `nixosSystem`.

use std::rc::Rc;

use super::{lib::lib_attrs, prim, unknown_at, Applied};
use crate::eval::{
    Evaluator, KeyPos, PathValue, PkgsSite, PkgsValue, PkgsVia, Prim, PrimApp, Special, ThunkId,
    Value, Written,
};
use crate::source::Src;

/// Run a stand-in of nixpkgs with all its arguments.
pub(super) fn run(ev: &mut Evaluator, call: Applied) -> Value {
    use Prim::*;
    let Applied { p, args, input, at } = call;
    match p {
        ImportNixpkgs => {
            let written = at.is_some();
            let set = Rc::new(PkgsValue {
                input: input.unwrap_or("nixpkgs").to_string(),
                via: PkgsVia::Import {
                    args: args[0],
                    call: at,
                },
            });
            if written {
                ev.site(PkgsSite::Written(set.clone()));
            }
            Value::Special(Rc::new(Special::Pkgs(set)))
        }
        MkShell => {
            // Its inputs reach package sets too: rewriting the shell's set
            // rewrites theirs.
            let set = match ev.force(args[0]) {
                Value::Special(s) => match &*s {
                    Special::Pkgs(p) => p.clone(),
                    _ => {
                        return unknown_at("`mkShell` of something that is not a package set", &at)
                    }
                },
                _ => return unknown_at("`mkShell` of something that is not a package set", &at),
            };
            if let Value::Attrs(a) = ev.force(args[1]) {
                for key in [
                    "buildInputs",
                    "nativeBuildInputs",
                    "packages",
                    "inputsFrom",
                    "depsBuildBuild",
                ] {
                    if let Some(e) = a.entries.get(key) {
                        ev.force_deep(e.value);
                    }
                }
            }
            Value::Special(Rc::new(Special::Package(set)))
        }
        NixosSystem => Value::Special(Rc::new(Special::NixosSystem {
            args: args[0],
            input: input.unwrap_or("nixpkgs").to_string(),
            call: at,
        })),
        _ => unreachable!("{p:?} is not a stand-in of nixpkgs"),
    }
}

/// `<input>.legacyPackages.<system>` (`None`: the current system of a
/// helper whose systems are not listed), written at `pos`.
fn legacy(ev: &mut Evaluator, input: &str, system: Option<String>, pos: Option<KeyPos>) -> Value {
    let written = pos.map(|p| Written {
        file: p.file,
        range: (p.start, p.key.range.1),
        key: p.key,
        input_text: p.before_previous,
        env: p.env,
    });
    let set = Rc::new(PkgsValue {
        input: input.to_string(),
        via: PkgsVia::Legacy {
            system,
            written: written.clone(),
        },
    });
    if written.is_some() {
        ev.site(PkgsSite::Written(set.clone()));
    }
    Value::Special(Rc::new(Special::Pkgs(set)))
}

/// `x.${system}` where `system` is [`Special::AnySystem`].
pub(in crate::eval) fn select_any_system(
    ev: &mut Evaluator,
    x: Value,
    pos: Option<KeyPos>,
    at: Option<Src>,
) -> Value {
    match &x {
        Value::Special(s) => match &**s {
            Special::Input {
                name,
                nixpkgs: true,
                path,
            } if path == &["legacyPackages"] => legacy(ev, name, None, pos),
            _ => unknown_at(
                "a selection by the current system that nixcross does not follow",
                &at,
            ),
        },
        Value::Unknown(_) => x,
        _ => unknown_at(
            "a selection by the current system that nixcross does not follow",
            &at,
        ),
    }
}

/// `set.name` in the rewritable reading, where package sets are modelled.
fn select_pkgs(ev: &mut Evaluator, set: &Rc<PkgsValue>, name: &str, at: Option<Src>) -> Value {
    let derived = |via| {
        Value::Special(Rc::new(Special::Pkgs(Rc::new(PkgsValue {
            input: set.input.clone(),
            via,
        }))))
    };
    match name {
        "buildPackages" => derived(PkgsVia::BuildPackages(set.clone())),
        "mkShell" | "mkShellNoCC" => {
            let s = ev.value(Value::Special(Rc::new(Special::Pkgs(set.clone()))));
            Value::Prim(Rc::new(PrimApp {
                prim: Prim::MkShell,
                args: vec![s],
                input: None,
            }))
        }
        n if n.starts_with("pkgs") && n.len() > 4 => unknown_at(
            format!("`{n}` is another package set (another libc, static linking, ...), which nixcross does not follow"),
            &at,
        ),
        "extend" | "appendOverlays" | "applyPatches" => unknown_at(
            format!("`{name}` makes another package set, which nixcross does not follow"),
            &at,
        ),
        // A package, `callPackage`, `stdenv`, ...: something of the set.
        _ => Value::Special(Rc::new(Special::Package(set.clone()))),
    }
}

/// `x.name` where `x` stands for something outside the files; `pos` is
/// where the key is written (rewritable reading).
pub(in crate::eval) fn select_special(
    ev: &mut Evaluator,
    s: &Special,
    name: &str,
    at: Option<Src>,
    pos: Option<KeyPos>,
) -> Value {
    match s {
        Special::Input {
            name: input,
            nixpkgs,
            path,
        } => {
            if *nixpkgs && path.is_empty() {
                match name {
                    "lib" => {
                        let l = if input == "nixpkgs" {
                            ev.lib()
                        } else {
                            lib_attrs(ev, Some(input))
                        };
                        return ev.force(l);
                    }
                    "legacyPackages" => {
                        return Value::Special(Rc::new(Special::Input {
                            name: input.clone(),
                            nixpkgs: true,
                            path: vec!["legacyPackages".into()],
                        }))
                    }
                    "outPath" => {
                        return Value::Path(Rc::new(PathValue::Elsewhere {
                            base: input.clone(),
                            rest: String::new(),
                        }))
                    }
                    _ => {}
                }
            }
            if *nixpkgs && path.len() == 1 && path[0] == "legacyPackages" {
                return legacy(ev, input, Some(name.to_string()), pos);
            }
            // flake-utils' `lib.system.<name>` is the name.
            if !*nixpkgs && path == &["lib", "system"] {
                return Value::string(name);
            }
            if path.is_empty() && name == "outPath" {
                return Value::Path(Rc::new(PathValue::Elsewhere {
                    base: input.clone(),
                    rest: String::new(),
                }));
            }
            let mut p = path.clone();
            p.push(name.to_string());
            Value::Special(Rc::new(Special::Input {
                name: input.clone(),
                nixpkgs: *nixpkgs,
                path: p,
            }))
        }
        // `pkgs.lib` is nixpkgs' lib.
        Special::Pkgs(_) if name == "lib" => {
            let l = ev.lib();
            ev.force(l)
        }
        // `pkgs.path` is the nixpkgs source the set was imported from
        // (`import pkgs.path { ... }` makes another set).
        Special::Pkgs(p) if name == "path" => Value::Special(Rc::new(Special::Input {
            name: p.input.clone(),
            nixpkgs: true,
            path: Vec::new(),
        })),
        // `pkgs.pkgsCross.<example>`: nixpkgs again, with the same
        // localSystem, config and overlays, cross-compiling for the example.
        Special::Pkgs(p) if name == "pkgsCross" => {
            Value::Special(Rc::new(Special::PkgsCross(p.clone())))
        }
        Special::Pkgs(p) if ev.rewritable() => select_pkgs(ev, p, name, at),
        Special::Pkgs(_) => unknown_at(
            format!("`{name}` of a package set is only known when nixpkgs is evaluated"),
            &at,
        ),
        // `<set>.pkgsCross.<example>`: a cross set built by `of`.
        Special::PkgsCross(of) => {
            let written = pos.map(|p| Written {
                file: p.file,
                range: (p.start, p.key.range.1),
                key: p.key,
                input_text: None,
                env: p.env,
            });
            let set = Rc::new(PkgsValue {
                input: of.input.clone(),
                via: PkgsVia::Cross {
                    of: of.clone(),
                    example: name.to_string(),
                    at: written.clone(),
                },
            });
            if written.is_some() {
                ev.site(PkgsSite::Written(set.clone()));
            }
            Value::Special(Rc::new(Special::Pkgs(set)))
        }
        // Whatever is taken from a package is of its set.
        Special::Package(p) => Value::Special(Rc::new(Special::Package(p.clone()))),
        Special::AnySystem => unknown_at(
            format!("cannot select `{name}` from the current system"),
            &at,
        ),
        Special::NixosSystem { args, .. } => {
            // `nixosSystem { ... }.config` etc.: not modelled, except `_module`.
            let _ = args;
            unknown_at(
                format!("`{name}` of a NixOS configuration is only known when NixOS evaluates"),
                &at,
            )
        }
        Special::Property(_) => unknown_at(
            format!("cannot select `{name}` from a module property"),
            &at,
        ),
    }
}

/// Calling something that stands for the outside world.
pub(in crate::eval) fn apply_special(
    ev: &mut Evaluator,
    s: &Special,
    arg: ThunkId,
    at: Option<Src>,
) -> Value {
    match s {
        Special::Input {
            name,
            nixpkgs,
            path,
        } => {
            let last = path.last().map(String::as_str);
            if !nixpkgs && path.len() == 2 && path[0] == "lib" {
                // flake-parts and flake-utils, by what they are called.
                let p = match last {
                    Some("mkFlake") => Some(Prim::MkFlake),
                    Some("evalFlakeModule") => Some(Prim::EvalFlakeModule),
                    Some("eachSystem") => Some(Prim::EachSystem),
                    Some("eachDefaultSystem") => Some(Prim::EachDefaultSystem),
                    Some("eachSystemMap") => Some(Prim::EachSystemMap),
                    Some("eachDefaultSystemMap") => Some(Prim::EachDefaultSystemMap),
                    _ => None,
                };
                if let Some(p) = p {
                    return ev.apply(prim(p), arg, at);
                }
            }
            unknown_at(
                format!(
                    "`{}` comes from the flake input `{name}`, which nixcross does not read",
                    std::iter::once(name.as_str())
                        .chain(path.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                &at,
            )
        }
        // `callPackage`, `overrideAttrs`, ...: still something of the set.
        Special::Package(p) => Value::Special(Rc::new(Special::Package(p.clone()))),
        _ => unknown_at("this value is not a function", &at),
    }
}
