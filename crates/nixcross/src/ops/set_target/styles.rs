//! The styles of saying the platforms: legacy (`system` and
//! `nixpkgs.crossSystem`), modern (`nixpkgs.hostPlatform` and
//! `buildPlatform`), and a configuration's scoped package sets that follow
//! them.

use super::*;

pub(super) fn legacy(p: &mut Planner, want: &Want) -> Result<()> {
    // The building system: localSystem when the configuration uses it, else
    // nixpkgs.system or nixosSystem's `system` argument. Built natively for
    // a target the double does not say all of (a pkgsCross example with
    // gcc flags, a musl triple), localSystem names it whole, as `init`
    // writes it.
    let full =
        !want.mode.is_cross() && (want.target.example_has_extras || want.target.needs_config());
    let native = match want.mode {
        Mode::Cross => platform::resolve(want.build)?,
        Mode::Emulate | Mode::Native => want.target.clone(),
    };
    let double = platform::resolve(&want.native())?;
    let has_local = p
        .sys
        .definitions
        .iter()
        .any(|d| d.option == PlatformOption::LocalSystem);
    let has_system = p
        .sys
        .definitions
        .iter()
        .any(|d| d.option == PlatformOption::System);
    if has_local || full {
        let comment = "`system` names only the CPU and kernel; this names the exact platform.";
        set_option(
            p,
            PlatformOption::LocalSystem,
            &native,
            !want.mode.is_cross(),
            None,
            comment,
        )?;
        if !has_local && has_system {
            set_option(p, PlatformOption::System, &double, false, None, "")?;
        } else if !has_local {
            add_system_argument(p, &double.system)?;
        }
    } else if has_system {
        set_option(p, PlatformOption::System, &double, false, None, "")?;
    } else {
        add_system_argument(p, &double.system)?;
    }
    match want.mode {
        Mode::Cross => {
            let comment = format!(
                "Cross-compile: built on {}, runs on {}.",
                want.build, want.target.system
            );
            set_option(
                p,
                PlatformOption::CrossSystem,
                want.target,
                true,
                None,
                &comment,
            )
        }
        Mode::Emulate | Mode::Native => remove_option(p, PlatformOption::CrossSystem),
    }
}

/// `system = "<double>";` as the first argument of nixosSystem.
pub(super) fn add_system_argument(p: &mut Planner, system: &str) -> Result<()> {
    let Some(args) = p.sys.args.clone() else {
        // Not a literal set (`host // { ... }`): the option, in the
        // configuration's own module.
        let double = platform::resolve(system)?;
        return set_option(p, PlatformOption::System, &double, false, None, "");
    };
    p.guard(args.file, args.range(), "nixosSystem's arguments")?;
    let set = args
        .node
        .attrset()
        .ok_or_else(|| Error::internal("the arguments are not a set"))?;
    let e = module::insert_binding(
        p.text(args.file),
        p.layout(args.file),
        &set,
        "system",
        &syntax::quote(system),
        module::Position::First,
    );
    p.push(args.file, e, &format!("system = {system}"));
    Ok(())
}

pub(super) fn modern(p: &mut Planner, want: &Want) -> Result<()> {
    let host_win = p.winning(PlatformOption::HostPlatform);
    let comment = match want.mode {
        Mode::Cross => format!(
            "Cross-compile: built on {}, runs on {}.",
            want.build, want.target.system
        ),
        Mode::Emulate | Mode::Native => format!(
            "Runs on {}; built natively or under emulation.",
            want.target.system
        ),
    };
    // Nothing set yet and no module to put it in: one new module with both
    // (as `init` writes it), not one module per option.
    if want.mode == Mode::Cross
        && host_win.is_empty()
        && p.winning(PlatformOption::BuildPlatform).is_empty()
        && matches!(p.home(), Ok(crate::ops::editor::Home::NewInline))
    {
        let lib = p.call_lib();
        let host = host_value(want.target, Some(&lib), false)?;
        let text = format!(
            "{{\n  nixpkgs.buildPlatform = {};\n  nixpkgs.hostPlatform = {};\n}}",
            syntax::quote(want.build),
            crate::ops::editor::indent_tail(&host)
        );
        let reason = format!(
            "nixpkgs.hostPlatform = {}, nixpkgs.buildPlatform = {}",
            want.target.system, want.build
        );
        return p.add_module(&comment, &text, &reason);
    }
    set_option(
        p,
        PlatformOption::HostPlatform,
        want.target,
        true,
        None,
        &comment,
    )?;
    match want.mode {
        Mode::Cross => {
            let build = platform::resolve(want.build)?;
            set_option(
                p,
                PlatformOption::BuildPlatform,
                &build,
                false,
                host_win.first(),
                &comment,
            )
        }
        // buildPlatform defaults to the host: one that already says the
        // target (a shared `lib.mkDefault "x86_64-linux"`) changes nothing
        // and stays.
        Mode::Emulate | Mode::Native
            if p.winning(PlatformOption::BuildPlatform)
                .iter()
                .all(|d| d.system.as_deref() == Some(want.target.system.as_str()))
                && !p.winning(PlatformOption::BuildPlatform).is_empty() =>
        {
            Ok(())
        }
        Mode::Emulate | Mode::Native => remove_option(p, PlatformOption::BuildPlatform),
    }
}

/// A module's package set built natively for the configuration's host
/// (`inherit (pkgs) system;`) is built on its build platform for its host
/// instead: `localSystem = pkgs.stdenv.buildPlatform.system; crossSystem =
/// pkgs.stdenv.hostPlatform.system;` (or `config.nixpkgs.*`). For a native
/// configuration both are the same system, which nixpkgs reads as a native
/// build: so text other configurations use changes only when they are all
/// native (their meaning stays).
pub(super) fn follow_build_and_host(
    p: &mut Planner,
    s: &crate::flake::ScopedSet,
    what: &str,
) -> Result<()> {
    let Some(site) = s.local_site.clone() else {
        return Ok(());
    };
    let users = p.flake.users_of(site.file, site.range(), &p.config.name);
    let not_native: Vec<String> = users
        .iter()
        .filter(|u| {
            !p.flake.configs.iter().any(|c| {
                &c.name == *u
                    && c.platforms.build.is_some()
                    && c.platforms.build == c.platforms.host
            })
        })
        .cloned()
        .collect();
    if !not_native.is_empty() {
        return Err(p.error_at(
            Error::shared(format!(
                "{what} is built natively for the host; making it a cross set would change {}, which {} not built natively (or not known to be)",
                list_names(&not_native),
                if not_native.len() == 1 { "is" } else { "are" },
            )),
            &site,
        ));
    }
    let base = match crate::flake::config_platform_base(&site) {
        Some(b) => b,
        None => return Ok(()),
    };
    let (build, host) = if base == "config" {
        (
            "config.nixpkgs.buildPlatform.system".to_string(),
            "config.nixpkgs.hostPlatform.system".to_string(),
        )
    } else {
        (
            format!("{base}.stdenv.buildPlatform.system"),
            format!("{base}.stdenv.hostPlatform.system"),
        )
    };
    let text = format!(
        "localSystem = {build};{}crossSystem = {host};",
        p.layout(site.file).nl
    );
    // One line as the binding was, or one binding per line at its indent.
    let src = p.text(site.file);
    let indent = syntax::indent_at(src, site.node.start()).to_string();
    let text = if syntax::starts_line(src, site.node.start()) {
        text.replace(
            p.layout(site.file).nl,
            &format!("{}{indent}", p.layout(site.file).nl),
        )
    } else {
        format!("localSystem = {build}; crossSystem = {host};")
    };
    p.core.mark_replaced(&site);
    p.push(
        site.file,
        TextEdit::replace(site.range(), text),
        &format!("{what} is built on the configuration's build platform for its host"),
    );
    Ok(())
}

/// Scoped package sets (through specialArgs or `_module.args`) follow the
/// new platforms.
pub(super) fn scoped(p: &mut Planner, want: &Want) -> Result<()> {
    let sets = p.sys.scoped.clone();
    let lib = p.call_lib();
    let native = want.native();
    // The configuration already means what is asked: a set whose platform
    // nixcross cannot read is left as it is (nothing it depends on changes).
    let unchanged = p.config.platforms.build.as_deref() == Some(native.as_str())
        && p.config.platforms.host.as_deref() == Some(want.target.system.as_str());
    // A set built from the configuration's own platforms follows by itself.
    for s in sets
        .into_iter()
        .filter(|s| s.tracking != Tracking::BuildAndHost)
    {
        if unchanged && s.local.is_none() {
            continue;
        }
        let what = format!("the scoped package set `{}`", s.name);
        let reason = format!("{what} follows");
        if s.tracking == Tracking::Host {
            // Native for the host: right for an emulated build as it is; a
            // configuration made a cross build takes both platforms from the
            // configuration (one that is one already keeps what it says).
            if want.mode == Mode::Cross && !unchanged {
                follow_build_and_host(p, &s, &what)?;
            }
            continue;
        }
        // Its building system.
        match (&s.local_literal, &s.local_site) {
            (_, _) if s.local.as_deref() == Some(native.as_str()) => {}
            (Some(lit), _) => {
                if !p.owns_literal(lit) {
                    p.guard(lit.file, lit.range(), &what)?;
                }
                p.replace_literal(lit, &native, &reason)?;
            }
            (None, Some(site)) => {
                return Err(p.error_at(
                    Error::refused(format!(
                        "{what} sets its platform with an expression nixcross cannot rewrite"
                    )),
                    site,
                ));
            }
            (None, None) => {
                let Some(args) = s.args.clone() else {
                    return Err(Error::refused(format!(
                        "{what} is not `import nixpkgs {{ ... }}` with a literal argument set"
                    )));
                };
                p.guard(args.file, args.range(), &what)?;
                let set = args.node.attrset().expect("a set");
                let e = module::insert_binding(
                    p.text(args.file),
                    p.layout(args.file),
                    &set,
                    "localSystem",
                    &syntax::quote(&native),
                    module::Position::First,
                );
                p.push(args.file, e, &reason);
            }
        }
        // Its host platform, written in a helper other configurations call
        // too: given through this configuration's own call of it
        // (`ops::params`), when the helper can take it from there.
        let shared_cross = match &s.cross_site {
            Some(c) => !p.private(c.file, c.range()),
            None => s
                .args
                .as_ref()
                .is_some_and(|a| !p.private(a.file, a.range())),
        };
        if want.mode == Mode::Cross
            && shared_cross
            && s.cross.as_deref() != Some(want.target.system.as_str())
            && !want.target.example_has_extras
        {
            if let Some(a) = &s.args {
                let own = host_value(want.target, None, true)?;
                if p.cross_through_call(a, &own, &reason)? {
                    continue;
                }
            }
        }
        match (want.mode, &s.cross_site) {
            (Mode::Cross, Some(site)) => {
                let value = site_value(site).map(|v| unwrap_priority(&v));
                let same_example = value
                    .as_ref()
                    .and_then(example_name)
                    .is_some_and(|n| want.target.example.as_deref() == Some(n.as_str()));
                if same_example && want.target.example_has_extras {
                    continue;
                }
                if s.cross.as_deref() == Some(want.target.system.as_str())
                    && !want.target.example_has_extras
                    && !want.target.needs_config()
                {
                    continue;
                }
                match (&s.cross_literal, value) {
                    (Some(lit), Some(v))
                        if !want.target.example_has_extras && example_name(&v).is_none() =>
                    {
                        let key = key_of_literal(lit);
                        let text = literal_value(want.target, key.as_deref());
                        if !p.owns_literal(lit) {
                            p.guard(lit.file, lit.range(), &what)?;
                        }
                        p.replace_literal(lit, &text, &reason)?;
                    }
                    (_, Some(v)) => {
                        let text = host_value(want.target, Some(&lib), true)?;
                        p.replace_node(&Src::new(site.file, v), &text, &reason)?;
                    }
                    (_, None) => {
                        return Err(p.error_at(
                            Error::refused(format!(
                                "{what} inherits its crossSystem; nixcross cannot rewrite it"
                            )),
                            site,
                        ))
                    }
                }
            }
            (Mode::Cross, None) => {
                let value = host_value(want.target, Some(&lib), true)?;
                match &s.local_site {
                    Some(site) => {
                        if let Some(args) = &s.args {
                            p.guard(args.file, args.range(), &what)?;
                        }
                        p.insert_after(site, "crossSystem", &value, &reason)?
                    }
                    None => {
                        let Some(args) = s.args.clone() else { continue };
                        p.guard(args.file, args.range(), &what)?;
                        let set = args.node.attrset().expect("a set");
                        let e = module::insert_binding(
                            p.text(args.file),
                            p.layout(args.file),
                            &set,
                            "crossSystem",
                            &value,
                            module::Position::Last,
                        );
                        p.push(args.file, e, &reason);
                    }
                }
            }
            (Mode::Emulate | Mode::Native, Some(site)) => {
                let through_call = match (&s.args, shared_cross) {
                    (Some(a), true) => p.native_through_call(a, &reason)?,
                    _ => false,
                };
                if !through_call {
                    p.remove_binding(site, &reason)?;
                }
            }
            (Mode::Emulate | Mode::Native, None) => {}
        }
    }
    Ok(())
}
