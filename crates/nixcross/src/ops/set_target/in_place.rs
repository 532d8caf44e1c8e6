//! Platform options written where they are: a definition rewritten in
//! place when only this configuration reads it, a new one that overrides it
//! (`nixpkgs.hostPlatform`, `crossSystem`, ...), `nixpkgs.pkgs`, and the
//! removal of the options of the other style.

use super::*;

/// Rewrite definition `d` to mean `target` (host side) or the double
/// `target.system` (build side), in place. Errors when that would change
/// another configuration or the value cannot be rewritten.
/// Why a definition was not rewritten where it lives.
pub(super) enum NotInPlace {
    /// Its text is used by other configurations too.
    Shared(Error),
    /// Its value is an expression nixcross cannot rewrite.
    Opaque(Error),
    /// Anything else: the edit is refused.
    Other(Error),
}

impl From<Error> for NotInPlace {
    fn from(e: Error) -> Self {
        match e.kind {
            crate::ErrorKind::Shared => NotInPlace::Shared(e),
            _ => NotInPlace::Other(e),
        }
    }
}

pub(super) fn rewrite_in_place(
    p: &mut Planner,
    d: &Definition,
    target: &Target,
    host_side: bool,
    reason: &str,
) -> std::result::Result<(), NotInPlace> {
    let site = d
        .site
        .clone()
        .ok_or_else(|| Error::internal("a platform definition without a binding"))?;
    let extras = host_side && target.example_has_extras;
    let value = site_value(&site).map(|v| unwrap_priority(&v));
    // A pkgsCross example written as `lib.systems.examples.<name>`.
    if let Some(v) = &value {
        if let Some(name) = example_name(v) {
            // The same example, or (host side) an example that says no more
            // than the target's triple: nothing to change.
            if host_side && target.example.as_deref() == Some(name.as_str()) {
                return Ok(());
            }
            let same_triple = platform::catalogue()
                .example(&name)
                .is_some_and(|e| e.extra.is_empty() && e.config == target.config);
            if host_side && !extras && same_triple {
                return Ok(());
            }
            let lib = v.reference().map(|r| r[..r.len() - 3].join("."));
            let text = if host_side {
                host_value(target, lib.as_deref(), true)?
            } else {
                syntax::quote(&target.system)
            };
            return Ok(p.replace_node(&Src::new(site.file, v.clone()), &text, reason)?);
        }
    }
    if extras {
        let Some(v) = value else {
            return Err(NotInPlace::Opaque(p.error_at(
                Error::refused(
                    "this platform is inherited; nixcross cannot write a pkgsCross example there",
                ),
                &site,
            )));
        };
        let lib = p.lib_for_site(&site);
        let text = host_value(target, lib.as_deref(), true)?;
        return Ok(p.replace_node(&Src::new(site.file, v), &text, reason)?);
    }
    if d.system.as_deref() == Some(target.system.as_str()) && !target.needs_config() {
        return Ok(());
    }
    // The literal the value comes from, when there is one.
    if let Some(lit) = &d.literal {
        let key = key_of_literal(lit);
        let text = if host_side {
            literal_value(target, key.as_deref())
        } else {
            target.system.clone()
        };
        if p.owns_literal(lit) {
            return Ok(p.replace_literal(lit, &text, reason)?);
        }
        // The literal is shared (a `let` variable, a helper's argument):
        // write the value at this configuration's own definition instead.
        match (value, site.node.as_entry()) {
            (Some(v), _) if v.string_literal().is_none() => {
                let replacement = if v.attrset().is_some() {
                    // `{ system = sys; }`: the inner value.
                    let set = v.attrset().expect("checked");
                    let inner = set.entries.iter().find_map(|e| match e {
                        Entry::Binding(b)
                            if matches!(b.path.as_deref(), Some([k]) if k == "system" || k == "config") =>
                        {
                            Some((b.value.clone(), b.path.clone().unwrap_or_default()[0].clone()))
                        }
                        _ => None,
                    });
                    match inner {
                        Some((n, k)) => (n, syntax::quote(&literal_value(target, Some(&k)))),
                        None => (v, syntax::quote(&text)),
                    }
                } else {
                    (v, syntax::quote(&text))
                };
                return Ok(p.replace_node(
                    &Src::new(site.file, replacement.0),
                    &replacement.1,
                    reason,
                )?);
            }
            (None, Some(Entry::Inherit(i))) if i.names.len() == 1 => {
                let key = &i.names[0].0;
                p.guard(site.file, site.range(), "the setting")?;
                p.push(
                    site.file,
                    TextEdit::replace(
                        site.range(),
                        format!("{} = {};", syntax::attr_name(key), syntax::quote(&text)),
                    ),
                    reason,
                );
                return Ok(());
            }
            _ => {
                return Ok(p.replace_literal(lit, &text, reason)?);
            }
        }
    }
    let shown = value
        .map(|v| compact(&v.text()))
        .unwrap_or_else(|| d.text.clone());
    Err(NotInPlace::Opaque(p.error_at(
        Error::refused(format!(
            "nixpkgs.{} is `{shown}`, which nixcross cannot rewrite safely",
            d.option.name()
        )),
        &site,
    )))
}

impl Planner<'_, '_> {
    /// The `lib` expression usable at a binding: the call's lib in flake.nix,
    /// `lib` in a module that takes it.
    pub(super) fn lib_for_site(&self, site: &Src) -> Option<String> {
        if site.file == self.flake.file {
            return Some(self.call_lib());
        }
        let m = self.sys.modules.iter().find(|m| {
            m.expr
                .as_ref()
                .is_some_and(|e| e.contains(site.file, site.range()))
        })?;
        let body = module::module_body(&m.expr.as_ref()?.node)?;
        match &body.formals {
            Some(syntax::Param::Pattern { formals, .. })
                if formals.iter().any(|f| f.name == "lib") =>
            {
                Some("lib".into())
            }
            _ => None,
        }
    }

    /// The winning definitions of `option`.
    pub(super) fn winning(&self, option: PlatformOption) -> Vec<Definition> {
        winners(self.sys.definitions.iter().filter(|d| d.option == option))
            .into_iter()
            .cloned()
            .collect()
    }
}

/// Make `option` mean `target` (host side) or `target.system` (build side):
/// rewrite the winning definitions where they live, or override them in the
/// configuration's own module, or add the option.
pub(super) fn set_option(
    p: &mut Planner,
    option: PlatformOption,
    target: &Target,
    host_side: bool,
    sibling: Option<&Definition>,
    comment: &str,
) -> Result<()> {
    let reason = format!("nixpkgs.{} = {}", option.name(), target.system);
    let reason = reason.as_str();
    let win = p.winning(option);
    if !win.is_empty() {
        // Rewrite every winner in place; all or none.
        let saved = p.core.snapshot();
        let mut failed = None;
        for d in &win {
            if let Err(e) = rewrite_in_place(p, d, target, host_side, reason) {
                failed = Some(e);
                break;
            }
        }
        let Some(failure) = failed else { return Ok(()) };
        p.core.restore(saved);
        // Shared, or an expression: override in the configuration's own
        // module, at a priority that wins.
        let (err, why) = match failure {
            NotInPlace::Other(e) => return Err(e),
            NotInPlace::Shared(e) => {
                let users: Vec<String> = win
                    .iter()
                    .filter_map(|d| d.site.as_ref())
                    .flat_map(|s| p.flake.users_of(s.file, s.range(), &p.config.name))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let generated = win
                    .iter()
                    .filter_map(|d| d.site.as_ref())
                    .map(|s| p.flake.ev.sources.get(s.file))
                    .find(|s| s.generated);
                let why = match (generated, users.is_empty()) {
                    (Some(g), true) => format!(
                        "is set in {}, which a tool writes (nixos-generate-config) and nixcross leaves alone",
                        g.path
                    ),
                    _ => format!("is shared with {}", list_names(&users)),
                };
                (e, why)
            }
            NotInPlace::Opaque(e) => {
                let why = match win.first() {
                    Some(d) => {
                        format!("is `{}`, which nixcross cannot rewrite where it is", d.text)
                    }
                    None => "cannot be rewritten where it is".to_string(),
                };
                (e, why)
            }
        };
        let best = win
            .iter()
            .map(|d| d.priority)
            .min()
            .unwrap_or(crate::flake::platforms::PLAIN);
        let home = p.home().map_err(|h| {
            err.clone()
                .hint(format!("it cannot be overridden either: {}", h.message))
        })?;
        // The override would go into the set that holds the definition: an
        // attribute Nix does not let one set define twice.
        if let crate::ops::editor::Home::Module { file, body, .. } = &home {
            let set = body.set.node.range();
            let inside = |s: &Src| s.file == *file && set.0 <= s.range().0 && s.range().1 <= set.1;
            if win.iter().filter_map(|d| d.site.as_ref()).any(inside) {
                return Err(err);
            }
        }
        let lib = p.lib_in(&home);
        let value = if host_side {
            host_value(
                target,
                lib.as_deref(),
                option == PlatformOption::CrossSystem || option == PlatformOption::LocalSystem,
            )?
        } else if option == PlatformOption::LocalSystem {
            format!("{{\n  system = {};\n}}", syntax::quote(&target.system))
        } else {
            syntax::quote(&target.system)
        };
        let path = ["nixpkgs", option.name()];
        // `mkForce` already: nothing nixcross writes would win.
        if best <= crate::flake::platforms::MK_FORCE {
            return Err(err);
        }
        if best > crate::flake::platforms::PLAIN {
            p.insert_option(&path, &value, comment, reason)?;
        } else if let Some(lib) = lib {
            let value = format!("{lib}.mkForce {}", paren(&value));
            p.insert_option(&path, &value, comment, reason)?;
        } else {
            // The module has no `lib`: a module of its own that takes it.
            let module = format!(
                "{{ lib, ... }}: {{\n  {} = lib.mkForce {};\n}}",
                path.join("."),
                indent_tail(&paren(&value))
            );
            p.add_module(comment, &format!("({module})"), reason)
                .map_err(|h| {
                    err.clone()
                        .hint(format!("it cannot be overridden either: {}", h.message))
                })?;
        }
        let w = format!(
            "nixpkgs.{} {why}, so `{}` gets its own definition that wins over it",
            option.name(),
            p.config.name
        );
        p.core.warnings.push(w.into());
        return Ok(());
    }
    // Not defined yet: next to its sibling when that module is ours.
    let value = if host_side {
        let lib = match sibling.and_then(|s| s.site.clone()) {
            Some(site) => p.lib_for_site(&site),
            None => p.home().ok().and_then(|h| p.lib_in(&h)),
        };
        host_value(
            target,
            lib.as_deref(),
            option == PlatformOption::CrossSystem,
        )?
    } else {
        syntax::quote(&target.system)
    };
    if let Some(site) = sibling.and_then(|s| s.site.clone()) {
        if p.private(site.file, site.range()) {
            if let Some(Entry::Binding(b)) = site.node.as_entry() {
                if let Some(path) = &b.path {
                    // The sibling's key names its option, maybe followed by
                    // an attribute of its value (`hostPlatform.system`):
                    // the new option replaces the option's name and drops
                    // the rest.
                    let mut key: Vec<String> = path.iter().map(|k| syntax::attr_name(k)).collect();
                    let sibling_name = sibling.map(|s| s.option.name());
                    if let Some(at) = key.iter().rposition(|k| Some(k.as_str()) == sibling_name) {
                        key.truncate(at + 1);
                        key[at] = option.name().to_string();
                        return p.insert_after(&site, &key.join("."), &value, reason);
                    }
                }
            }
        }
    }
    p.insert_option(&["nixpkgs", option.name()], &value, comment, reason)
}

/// Retarget a configuration whose platforms come from `nixpkgs.pkgs` (rule
/// 6 of the module docs); the summary of what it does.
pub(super) fn pkgs_option(p: &mut Planner, want: &Want, po: &PkgsOption) -> Result<String> {
    let target = &want.target.system;
    let native = want.native();
    let name = &p.config.name;
    let refuse = |why: String| {
        let e = Error::refused(format!(
            "cannot edit `{name}`: it sets nixpkgs.pkgs, whose platforms decide (NixOS ignores the other nixpkgs.* options), and {why}"
        ))
        .hint("change that package set by hand");
        match &po.site {
            Some(site) => p.error_at(e, site),
            None => e,
        }
    };
    if po.several {
        return Err(refuse(
            "it is defined more than once or under a condition, so nixcross cannot tell which definition NixOS uses".into(),
        ));
    }
    if po.build.as_deref() == Some(native.as_str()) && po.host.as_deref() == Some(target.as_str()) {
        // Already so: nothing to write.
        return Ok(format!("nixpkgs.pkgs already builds {target} on {native}"));
    }
    let Some(site) = &po.site else {
        return Err(refuse("nixcross cannot tell where".into()));
    };
    // The value: the binding's, or the site itself when it is the value;
    // an `inherit` has no value of its own to rewrite.
    let inherited = |n: &Node| matches!(n.as_entry(), Some(Entry::Inherit(_)));
    if inherited(&site.node) || site.node.parent().is_some_and(|p| inherited(&p)) {
        return Err(refuse(
            "it is inherited (`inherit pkgs;`), which nixcross cannot rewrite".into(),
        ));
    }
    let value = site_value(site).unwrap_or_else(|| site.node.clone());
    let inner = unwrap_priority(&value);
    let path = inner.reference();
    let cross_of = path
        .as_ref()
        .filter(|r| r.len() >= 3 && r[r.len() - 2] == "pkgsCross")
        .map(|r| r[..r.len() - 2].to_vec());
    let spell = |keys: &[String]| {
        keys.iter()
            .map(|k| syntax::attr_name(k))
            .collect::<Vec<_>>()
            .join(".")
    };
    let text = match want.mode {
        Mode::Cross => {
            let Some(example) = crate::outputs::pkgset::exact_example(want.target) else {
                return Err(refuse(format!(
                    "{target} is not exactly a pkgsCross example, so nixcross cannot derive a cross set from it"
                )));
            };
            if po.build.as_deref() != Some(want.build) {
                return Err(refuse(format!(
                    "that set builds on {}, not {}; nixcross keeps a set's build platform",
                    po.build.as_deref().unwrap_or("a platform nixcross cannot tell"),
                    want.build
                )));
            }
            let name = syntax::attr_name(&example.name);
            match (&cross_of, &path) {
                (Some(base), _) => format!("{}.pkgsCross.{name}", spell(base)),
                (None, Some(r)) => format!("{}.pkgsCross.{name}", spell(r)),
                (None, None) => format!("({}).pkgsCross.{name}", inner.text()),
            }
        }
        Mode::Emulate | Mode::Native => match &cross_of {
            Some(base) if po.build.as_deref() == Some(target.as_str()) => spell(base),
            _ => {
                return Err(refuse(
                    "nixcross can only cross-compile that set (`--mode cross`, as `<set>.pkgsCross.<example>`), not make it native on another system".into(),
                ))
            }
        },
    };
    let at_inner = Src::new(site.file, inner.clone());
    p.replace_node(&at_inner, &text, "retarget nixpkgs.pkgs")?;
    p.core.warnings.push(format!(
        "nixpkgs.pkgs decides this configuration's platforms; it is now `{text}`, the same package set's config and overlays{}",
        match want.mode {
            Mode::Cross => format!(", cross-compiling for {target} on {}", want.build),
            Mode::Emulate | Mode::Native => format!(", built natively for {target}"),
        }
    ).into());
    Ok(match want.mode {
        Mode::Cross => format!(
            "cross-compile for {target} on {} (nixpkgs.pkgs)",
            want.build
        ),
        Mode::Emulate | Mode::Native => format!("build {target} natively (nixpkgs.pkgs)"),
    })
}

pub(super) fn paren(v: &str) -> String {
    if v.starts_with('"') || v.starts_with('{') || !v.contains(' ') {
        v.to_string()
    } else {
        format!("({v})")
    }
}

/// Remove every definition of `option` (for emulation).
pub(super) fn remove_option(p: &mut Planner, option: PlatformOption) -> Result<()> {
    let defs: Vec<Definition> = p
        .sys
        .definitions
        .iter()
        .filter(|d| d.option == option && d.module.is_some())
        .cloned()
        .collect();
    for d in defs {
        let Some(site) = &d.site else { continue };
        let s = p.flake.ev.sources.get(site.file);
        if s.generated {
            // NixOS rejects the other style's options next to this one, and
            // the file is not nixcross's to change.
            return Err(p.error_at(
                Error::refused(format!(
                    "cannot change the style of `{}`: its nixpkgs.{} is set in {}, which a tool writes (nixos-generate-config), and NixOS rejects the other style's options next to it",
                    p.config.name,
                    option.name(),
                    s.path
                ))
                .hint("keep the style the configuration has (leave out `style`), or move the setting out of that file by hand"),
                site,
            ));
        }
        p.remove_binding(site, &format!("remove nixpkgs.{}", option.name()))?;
    }
    Ok(())
}
