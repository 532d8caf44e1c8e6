//! Scoped package sets: a second package set with its overlays (`import
//! nixpkgs { ... }` passed as `specialArgs` or `_module.args`), the modules
//! that use it, and their removal.

use super::*;

/// The form a scoped set was written in, for the summary.
pub(super) fn scoped_instance(
    p: &mut Planner,
    args: &(String, String),
    pairs: &[Pair],
    name: &str,
    uses: &[String],
) -> Result<&'static str> {
    let want: BTreeMap<String, String> = pairs
        .iter()
        .map(|p| (p.attr.clone(), p.package.clone()))
        .collect();
    let (build, host) = match (&p.config.platforms.build, &p.config.platforms.host) {
        (Some(b), Some(h)) => (b.clone(), h.clone()),
        _ => (String::new(), String::new()),
    };
    // The set exists already (passed through specialArgs)?
    if let Some(s) = p.sys.scoped.iter().find(|s| s.name == name).cloned() {
        let same_platforms = s.local.as_deref() == Some(build.as_str())
            && (s.cross.as_deref() == Some(host.as_str()) || (s.cross.is_none() && build == host));
        let same_overlays = effective(&s.overlays) == want;
        if !same_platforms || !same_overlays {
            let what = if !same_platforms {
                format!(
                    "a package set for {} on {}, not {host} on {build} as the configuration",
                    s.cross
                        .as_deref()
                        .or(s.local.as_deref())
                        .unwrap_or("unknown platforms"),
                    s.local.as_deref().unwrap_or("an unknown system")
                )
            } else {
                "a package set with other overlays".to_string()
            };
            let at = s.entry.clone().or(s.import.clone());
            let e = Error::refused(format!(
                "`{name}` already exists here as {what}, not as the package set this command would write"
            ))
            .hint("choose another name with --instance NAME");
            return Err(match at {
                Some(at) => p.error_at(e, &at),
                None => e,
            });
        }
        use_packages(p, name, uses)?;
        return Ok("already there");
    }
    if p.flake.outputs_formals.iter().any(|f| f == name)
        || p.flake.outputs_bind.as_deref() == Some(name)
    {
        let e = Error::refused(format!(
            "`{name}` already exists here as a function argument, not as the package set this command would write"
        ))
        .hint("choose another name with --instance NAME");
        return Err(match formal_src(p, name) {
            Some(at) => p.error_at(e, &at),
            None => e,
        });
    }
    // A specialArgs entry of that name that is not such a package set.
    if let Some(e) = p
        .sys
        .special_args
        .as_ref()
        .and_then(|a| a.entries.get(name))
    {
        let err = Error::refused(format!(
            "`{name}` already exists here as a specialArgs entry, not as the package set this command would write"
        ))
        .hint("choose another name with --instance NAME");
        return Err(match &e.def {
            Some(at) => p.error_at(err, at),
            None => err,
        });
    }
    let nixpkgs = nixpkgs_ref(p);
    // The seed's form when it applies cleanly: the `let` around the outputs
    // body must be in scope where the arguments are written.
    let seed_form = !build.is_empty()
        && special_args_editable(p)
        && p.sys
            .args
            .as_ref()
            .is_some_and(|a| p.outputs_let_reaches(a, name));
    if seed_form {
        let nixpkgs = nixpkgs.clone()?;
        if let Some(existing) = p.outputs_let_binding(name) {
            let file = p.flake.file;
            match let_instance_difference(&existing, &build, &host, &want, &nixpkgs) {
                None => {
                    // The same set is there already: pass it.
                    special_args_entry(p, name)?;
                    use_packages(p, name, uses)?;
                    return Ok("passed through specialArgs");
                }
                Some(why) => {
                    return Err(p.error_at(
                        Error::refused(format!(
                            "`{name}` already exists here as `{}` ({why})",
                            short(&existing.text())
                        ))
                        .hint("choose another name with --instance NAME"),
                        &Src::new(file, existing),
                    ));
                }
            }
        }
        let mut text = format!("{name} = import {nixpkgs} {{\n");
        text.push_str(&format!("  localSystem = {};\n", syntax::quote(&build)));
        if build != host {
            text.push_str(&format!(
                "  crossSystem = {};\n",
                indent_tail(&cross_text(p, &host)?)
            ));
        }
        text.push_str(&format!(
            "  overlays = [\n    {}\n  ];\n}};",
            overlay_text(args, pairs)
        ));
        let comment = format!(
            "A package set with {}, only for the modules that take `{name}`.",
            describe(pairs)
        );
        let reason = format!("scoped package set {name}");
        p.insert_outputs_let(&comment, &text, &reason)?;
        special_args_entry(p, name)?;
        use_packages(p, name, uses)?;
        return Ok("passed through specialArgs");
    }
    // `_module.args`, built from the configuration's own platforms.
    let (local, cross) = match p.config.platforms.style {
        Some(SeenStyle::One(Style::Modern)) => (
            "config.nixpkgs.buildPlatform",
            "config.nixpkgs.hostPlatform",
        ),
        _ => ("config.nixpkgs.localSystem", "config.nixpkgs.crossSystem"),
    };
    if p.config.platforms.style.is_none() {
        return Err(Error::refused(format!(
            "`{}` sets no platform, so a package set cannot take the configuration's",
            p.config.name
        ))
        .hint("set one first, e.g. `nixcross set-target riscv64-linux --mode cross`"));
    }
    // The flake's own nixpkgs input in flake.nix; in another file, the
    // nixpkgs the configuration's `pkgs` comes from.
    let slot = match p.module_slot() {
        Ok(slot) => slot,
        Err(no_slot) => {
            let value = format!(
                "import pkgs.path {{\n  localSystem = {local};\n  crossSystem = {cross};\n  overlays = [\n    {}\n  ];\n}}",
                overlay_text(args, pairs)
            );
            module_args_in_own_file(p, name, &value).ok_or(no_slot)?;
            use_packages(p, name, uses)?;
            return Ok("given to the modules through _module.args");
        }
    };
    let (formals, source) = match slot {
        ModuleSlot::List(list) if list.file == p.flake.file => ("config", nixpkgs?),
        _ => ("config, pkgs", "pkgs.path".to_string()),
    };
    let module = format!(
        "{{ {formals}, ... }}: {{\n  _module.args.{name} = import {source} {{\n    localSystem = {local};\n    crossSystem = {cross};\n    overlays = [\n      {}\n    ];\n  }};\n}}",
        overlay_text(args, pairs)
    );
    p.add_module_after_inline(
        &format!(
            "A package set with {}, on this configuration's platforms, for the modules that take `{name}`.",
            describe(pairs)
        ),
        &format!("({module})"),
        &format!("scoped package set {name} (_module.args)"),
    )?;
    use_packages(p, name, uses)?;
    Ok("given to the modules through _module.args")
}

/// `_module.args.<name> = <value>;` written into the configuration's own
/// module file itself, when that file has no literal `imports` list a new
/// module could join (`imports = lib.flatten [ ... ]`): its function takes
/// `config` and `pkgs` (they are added to its pattern when missing).
/// `None` when there is no such file, or its module is not a function with
/// a pattern.
pub(super) fn module_args_in_own_file(p: &mut Planner, name: &str, value: &str) -> Option<()> {
    let Some(Home::Module {
        file, body, full, ..
    }) = p.own_file_module()
    else {
        return None;
    };
    let Some(Param::Pattern { formals, .. }) = &body.formals else {
        return None;
    };
    let lambda = body.expr.let_layers().1;
    let reason = format!("scoped package set {name} (_module.args)");
    for needed in ["config", "pkgs"] {
        if !formals.iter().any(|f| f.name == needed) {
            let e = module::insert_formal(p.text(file), p.layout(file), &lambda, needed)?;
            p.push(file, e, &reason);
        }
    }
    let mut path = Vec::new();
    if full {
        path.push("config");
    }
    path.extend(["_module", "args", name]);
    let e = module::insert_at_path(p.text(file), p.layout(file), &body.set, &path, value);
    p.push(file, e, &reason);
    Some(())
}

/// Where the outputs function takes `name`.
pub(super) fn formal_src(p: &Planner, name: &str) -> Option<Src> {
    let body = p.flake.outputs_body.as_ref()?;
    let lambda = body.node.parent()?;
    let l = lambda.lambda()?;
    match &l.param {
        Param::Pattern { formals, .. } => formals.iter().find(|f| f.name == name).map(|f| {
            let n = lambda.find_covering(f.range).unwrap_or(lambda.clone());
            Src::new(body.file, n)
        }),
        Param::Ident { .. } => Some(Src::new(body.file, lambda.clone())),
    }
}

/// How a `let`-bound `import <nixpkgs> { ... }` differs from the wanted
/// package set, read from its literals; `None` when it means the same.
pub(super) fn let_instance_difference(
    expr: &syntax::Node,
    build: &str,
    host: &str,
    want: &BTreeMap<String, String>,
    nixpkgs: &str,
) -> Option<String> {
    let Some((f, a)) = expr.unparen().call() else {
        return Some("it is not `import nixpkgs { ... }`".into());
    };
    if f.reference().as_deref() != Some(&["import".to_string()][..]) || a.len() != 2 {
        return Some("it is not `import nixpkgs { ... }`".into());
    }
    let source = a[0].reference().and_then(|r| r.last().cloned());
    if source.as_deref() != nixpkgs.rsplit('.').next() {
        return Some(format!("it does not import `{nixpkgs}`"));
    }
    let Some(args) = a[1].unparen().attrset() else {
        return Some("its argument is not a literal set".into());
    };
    let value = |keys: &[&str]| {
        args.entries.iter().find_map(|e| match e {
            Entry::Binding(b) => match b.path.as_deref() {
                Some([k]) if keys.contains(&k.as_str()) => Some(b.value.clone()),
                _ => None,
            },
            _ => None,
        })
    };
    let double = |n: Option<syntax::Node>| -> Option<String> {
        let n = n?.unparen();
        let s = match n.string_literal() {
            Some(s) => s,
            None => n.attrset()?.entries.iter().find_map(|e| match e {
                Entry::Binding(b) if matches!(b.path.as_deref(), Some([k]) if k == "system" || k == "config") => {
                    b.value.string_literal()
                }
                _ => None,
            })?,
        };
        platform::resolve(&s).ok().map(|t| t.system)
    };
    let local = double(value(&["localSystem", "system"]));
    if local.as_deref() != Some(build) {
        return Some(format!(
            "its localSystem is {}, the configuration builds on {build}",
            local.as_deref().unwrap_or("unknown")
        ));
    }
    let cross = value(&["crossSystem"]).map(|c| double(Some(c)));
    match cross {
        None if build == host => {}
        Some(Some(c)) if c == host => {}
        _ if build != host => {
            return Some(format!(
                "it is not cross-compiled for {host} as the configuration is"
            ))
        }
        _ => return Some("it is cross-compiled, and the configuration is not".into()),
    }
    let overlays = value(&["overlays"])
        .and_then(|v| literal_list(&v))
        .and_then(|l| l.list())
        .map(|l| {
            effective(
                &l.items
                    .iter()
                    .map(crate::flake::overlays::read_overlay)
                    .collect::<Vec<_>>(),
            )
        });
    if overlays.as_ref() != Some(want) {
        return Some("its overlays are not the ones asked for".into());
    }
    None
}

/// Whether `specialArgs` can take a new entry: the call and its arguments
/// are this configuration's own, and `specialArgs` is a literal set or absent.
pub(super) fn special_args_editable(p: &Planner) -> bool {
    let Some(args) = &p.sys.args else {
        return false;
    };
    if !p.private(args.file, args.range()) {
        return false;
    }
    match &p.sys.special_args_binding {
        None => true,
        Some(site) => match site.node.as_entry() {
            Some(Entry::Binding(b)) if b.path.as_ref().is_some_and(|k| k.len() == 1) => {
                b.value.unparen().attrset().is_some_and(|s| !s.rec)
            }
            // `specialArgs.x = ...;`: another dotted entry joins it.
            Some(Entry::Binding(b)) => b.path.as_ref().is_some_and(|k| k.len() == 2),
            _ => false,
        },
    }
}

/// `specialArgs = { inherit name; };`, or `name` added to it.
pub(super) fn special_args_entry(p: &mut Planner, name: &str) -> Result<()> {
    let reason = format!("pass {name} through specialArgs");
    let Some(site) = p.sys.special_args_binding.clone() else {
        return p.insert_arg_before_modules(
            "specialArgs",
            &format!("{{\n  inherit {name};\n}}"),
            &reason,
        );
    };
    let Some(Entry::Binding(b)) = site.node.as_entry() else {
        return Err(Error::internal("specialArgs is not a binding"));
    };
    if b.path.as_ref().is_some_and(|k| k.len() == 2) {
        return p.insert_after(&site, &format!("specialArgs.{name}"), name, &reason);
    }
    let set = b
        .value
        .unparen()
        .attrset()
        .ok_or_else(|| Error::internal("specialArgs is not a set"))?;
    if set.entries.iter().any(|e| e.defines(name)) {
        return Ok(());
    }
    if let Some(e) = set.entries.iter().find(|e| e.is_dynamic()) {
        return Err(p.error_at(
            Error::refused(
                "specialArgs has a dynamic name (`${...}`), which could already define this name",
            ),
            &Src::new(
                site.file,
                match e {
                    Entry::Binding(b) => b.node.clone(),
                    Entry::Inherit(i) => i.node.clone(),
                },
            ),
        ));
    }
    p.guard(site.file, site.range(), "specialArgs")?;
    let last_inherit = set.entries.iter().rev().find_map(|e| match e {
        Entry::Inherit(i) if i.from.is_none() && !i.names.is_empty() => {
            Some(i.names.last().expect("names").1 .1)
        }
        _ => None,
    });
    let src = p.text(site.file);
    let e = match last_inherit {
        Some(at) => TextEdit::insert(at, format!(" {name}")),
        None => module::insert_entry(
            src,
            p.layout(site.file),
            &set,
            &format!("inherit {name};"),
            module::Position::Last,
        ),
    };
    p.push(site.file, e, &reason);
    Ok(())
}

/// The crossSystem value for the set: the example when the configuration
/// uses one that carries more than a config, else `{ config = "<triple>"; }`.
pub(super) fn cross_text(p: &Planner, host: &str) -> Result<String> {
    let lib = p.call_lib();
    for d in p.sys.definitions.iter().filter(|d| {
        matches!(
            d.option,
            crate::flake::PlatformOption::CrossSystem | crate::flake::PlatformOption::HostPlatform
        )
    }) {
        let Some(site) = &d.site else { continue };
        let Some(Entry::Binding(b)) = site.node.as_entry() else {
            continue;
        };
        let v = b.value.unparen();
        if let Some(r) = v.reference() {
            if r.len() >= 3 && r[r.len() - 3] == "systems" && r[r.len() - 2] == "examples" {
                let name = r.last().expect("checked");
                if platform::catalogue()
                    .example(name)
                    .is_some_and(|e| !e.extra.is_empty())
                {
                    return Ok(format!("{lib}.systems.examples.{name}"));
                }
            }
        }
        if let Some(lit) = &d.literal {
            if let Some(v) = lit.node.string_literal() {
                if v.split('-').count() >= 3 {
                    return Ok(format!("{{\n  config = {};\n}}", syntax::quote(&v)));
                }
            }
        }
    }
    let triple = platform::resolve(host)?.config;
    Ok(format!("{{\n  config = {};\n}}", syntax::quote(&triple)))
}

/// The expression for nixpkgs that is in scope around the outputs body: the
/// configuration's own input (`nixpkgs`, `inputs.nixpkgs`, ...).
pub(super) fn nixpkgs_ref(p: &Planner) -> Result<String> {
    let input = p.sys.input.clone();
    let f = p.flake;
    if f.outputs_formals.iter().any(|n| n == &input) {
        return Ok(input);
    }
    if let Some(b) = &f.outputs_bind {
        return Ok(format!("{b}.{input}"));
    }
    let lib = p.call_lib();
    if let Some(r) = lib.strip_suffix(".lib") {
        return Ok(r.to_string());
    }
    Err(Error::refused(format!(
        "cannot tell how to reach the input `{input}` around the outputs (no `{input}` argument and no `inputs@`)"
    )))
}

/// Modules that use the set: `environment.systemPackages = [ <name>.<pkg> ];`.
pub(super) fn use_packages(p: &mut Planner, name: &str, uses: &[String]) -> Result<()> {
    let lists: Vec<Src> = p.sys.package_lists.iter().map(|(_, s)| s.clone()).collect();
    let have = used_packages(&lists, name);
    let mut missing: Vec<String> = Vec::new();
    for u in uses {
        if !have.contains(u) && !missing.contains(u) {
            missing.push(u.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let items: Vec<String> = missing.iter().map(|u| format!("{name}.{u}")).collect();
    let reason = format!("use {} from {name}", missing.join(", "));
    // A module of this configuration that takes the set and lists packages.
    for (i, site) in p.sys.package_lists.clone() {
        let m = &p.sys.modules[i];
        let takes = m
            .expr
            .as_ref()
            .and_then(|e| module::module_body(&e.node))
            .and_then(|b| b.formals)
            .is_some_and(|f: Param| f.names().contains(&name));
        if !takes || !p.private(site.file, site.range()) {
            continue;
        }
        let Some(Entry::Binding(b)) = site.node.as_entry() else {
            continue;
        };
        let Some(list) = literal_list(&b.value).and_then(|l| l.list()) else {
            continue;
        };
        let e = list::append(p.text(site.file), p.layout(site.file), &list, &items);
        p.push(site.file, e, &reason);
        return Ok(());
    }
    let module = format!(
        "({{ {name}, ... }}: {{\n  environment.systemPackages = [ {} ];\n}})",
        items.join(" ")
    );
    p.add_module_after_inline(&format!("Packages built with `{name}`."), &module, &reason)
}

/// Remove `attrs` from the scoped set `name`; a set left without overlays
/// goes, with what passes and uses it.
pub(super) fn remove_scoped(p: &mut Planner, name: &str, attrs: &[String]) -> Result<()> {
    let Some(s) = p.sys.scoped.iter().find(|s| s.name == name).cloned() else {
        let w = format!(
            "`{}` receives no scoped package set `{name}`; nothing to remove",
            p.config.name
        );
        p.core.warnings.push(w.into());
        return Ok(());
    };
    let reason = format!("remove {} from {name}", attrs.join(", "));
    let pairs: Vec<(String, String)> = s
        .overlays
        .iter()
        .flat_map(|o| o.pairs.clone().unwrap_or_default())
        .collect();
    let left: Vec<&(String, String)> = pairs.iter().filter(|(a, _)| !attrs.contains(a)).collect();
    let readable = s.overlays.iter().all(|o| o.pairs.is_some());
    if left.is_empty() && readable {
        // The whole set goes: its let binding, its specialArgs entry, and the
        // modules nixcross wrote to use it.
        let Some(entry) = s.entry.clone() else {
            return Err(Error::refused(format!(
                "nixcross cannot see where `{name}` is passed"
            )));
        };
        let import = s.import.clone().ok_or_else(|| {
            Error::refused(format!("nixcross cannot see where `{name}` is defined"))
        })?;
        p.guard(
            import.file,
            import.range(),
            &format!("the package set `{name}`"),
        )?;
        // Inline modules that go whole, taken out together (an `imports`
        // list they leave empty goes too).
        let mut whole: Vec<usize> = Vec::new();
        match s.via {
            // `_module.args.name = ...;`, and its module when that is all
            // it holds.
            ScopedVia::ModuleArgs => match p.inline_module_holding_only(&entry) {
                Some(i) => whole.push(i),
                None => p.remove_binding(&entry, &reason)?,
            },
            ScopedVia::SpecialArgs => {
                // specialArgs: `inherit a name b;` loses one name; `inherit name;` goes.
                match entry.node.as_entry() {
                    Some(Entry::Inherit(i)) if i.names.len() > 1 => {
                        let (_, r) = i
                            .names
                            .iter()
                            .find(|(n, _)| n == name)
                            .expect("inherits it");
                        let src = p.text(entry.file);
                        let start = src[..r.0].trim_end_matches([' ', '\t']).len();
                        p.guard(entry.file, entry.range(), "specialArgs")?;
                        p.push(entry.file, TextEdit::delete((start, r.1)), &reason);
                    }
                    _ => {
                        let set_is_single = entry
                            .node
                            .parent_set()
                            .is_some_and(|s| s.entries.len() == 1);
                        match (&p.sys.special_args_binding, set_is_single) {
                            (Some(sa), true) => p.remove_binding(sa, &reason)?,
                            _ => p.remove_binding(&entry, &reason)?,
                        }
                    }
                }
                // The let binding (`name = import nixpkgs { ... };`).
                if let Some(holder) = import.node.holding_entry() {
                    let binding = Src::new(import.file, holder.clone());
                    if let Some(set) = holder.parent_set() {
                        if set.entries.len() == 1 {
                            // The only binding of the `let`: the whole `let ... in `.
                            let src = p.text(import.file);
                            let body_start = set
                                .node
                                .let_in()
                                .map(|l| l.body.start())
                                .unwrap_or(set.close);
                            let start = set.node.start();
                            let _ = src;
                            p.push(import.file, TextEdit::delete((start, body_start)), &reason);
                        } else {
                            let src = p.text(import.file);
                            let e = module::remove_entry(src, &set, binding.range());
                            p.push(import.file, e, &reason);
                        }
                    }
                }
            }
        }
        // Modules that only list packages of the set.
        for (i, m) in p.sys.modules.clone().into_iter().enumerate() {
            let ModuleOrigin::Inline(src) = &m.origin else {
                continue;
            };
            let Some(body) = module::module_body(&src.node) else {
                continue;
            };
            let only_name = matches!(&body.formals, Some(Param::Pattern { formals, .. }) if formals.len() == 1 && formals[0].name == name);
            if !only_name || body.set.entries.len() != 1 {
                continue;
            }
            whole.push(i);
        }
        p.remove_inline_modules(&whole, &reason)?;
        return Ok(());
    }
    // Only some overlays go.
    let Some(site) = &s.overlays_site else {
        return Ok(());
    };
    let Some(Entry::Binding(b)) = site.node.as_entry() else {
        return Ok(());
    };
    let Some(lv) = literal_list(&b.value).and_then(|l| l.list()) else {
        return Ok(());
    };
    for o in &s.overlays {
        let Some(op) = &o.pairs else { continue };
        let hits: Vec<&String> = attrs
            .iter()
            .filter(|a| op.iter().any(|(x, _)| x == *a))
            .collect();
        if hits.is_empty() {
            continue;
        }
        p.guard(
            site.file,
            site.range(),
            &format!("the package set `{name}`"),
        )?;
        if hits.len() == op.len() {
            let item = item_holding(&lv, &o.node);
            let e = module::remove_item(p.text(site.file), &lv, &item);
            p.push(site.file, e, &reason);
        } else {
            for a in hits {
                let Some(bn) = overlay_binding(o, a) else {
                    continue;
                };
                let Some(set) = bn.parent_set() else { continue };
                let e = module::remove_entry(p.text(site.file), &set, bn.range());
                p.push(site.file, e, &reason);
            }
        }
    }
    Ok(())
}

pub(super) fn short(s: &str) -> String {
    let one = compact(s);
    if one.chars().count() > 40 {
        format!("{}...", one.chars().take(37).collect::<String>())
    } else {
        one
    }
}
