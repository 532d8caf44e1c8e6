//! The planner every editing operation uses: edits across the files of one
//! configuration, guarded so that nothing another configuration also uses
//! changes, in each file's own layout, collected into one [`Plan`](crate::edit::Plan).
//!
//! Rules it enforces:
//! - an edit inside a module, a `nixosSystem` call or a platform literal that
//!   another configuration also uses is refused with that configuration's
//!   name ([`Flake::users_of`]);
//! - new definitions go into the configuration's own module ([`Planner::home`]):
//!   an inline module of its `modules` list, else a new inline module, else
//!   the first file module only it loads.
//!
//! The parts: [`Edits`] (`edits.rs`) is the planning core: the files read,
//! the edits planned for each with their reasons, warnings and claims.
//! [`Planner`] (`planner.rs`) adds a flake configuration's guards and its
//! edits of the flake's text; `home.rs` says where new definitions and
//! modules go.

mod edits;
mod home;
mod planner;

pub(crate) use edits::Edits;
pub(crate) use home::{Home, ModuleSlot};
pub(crate) use planner::Planner;

use crate::flake::{Config, Flake, SeenStyle};

/// How an operation treats a configuration whose platforms come from
/// `nixpkgs.pkgs = <package set>;` (NixOS then ignores the other
/// `nixpkgs.*` platform options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkgsOptionUse {
    /// Refuse: what the operation writes would not decide the platforms.
    Refuse,
    /// Go on: `set-target` retargets that package set itself.
    Retarget,
}

/// Why nixcross will not edit `config`, or `None` when it will try.
pub(crate) fn edit_blocker(flake: &Flake, config: &Config, pkgs: PkgsOptionUse) -> Option<String> {
    let Some(sys) = config.system() else {
        return Some(
            config
                .platforms
                .unknown
                .clone()
                .unwrap_or_else(|| "nixcross cannot follow this configuration".into()),
        );
    };
    if let Some(p) = &sys.pkgs_arg {
        return Some(format!(
            "the configuration is given a package set (`pkgs`, {}), whose platforms decide; edit that by hand",
            flake.describe(p)
        ));
    }
    if let Some(po) = sys
        .pkgs_option
        .as_ref()
        .filter(|_| pkgs == PkgsOptionUse::Refuse)
    {
        let at = po
            .site
            .as_ref()
            .map(|s| format!(" ({})", flake.describe(s)))
            .unwrap_or_default();
        return Some(format!(
            "it sets nixpkgs.pkgs{at}, whose platforms decide (NixOS then ignores the other nixpkgs.* options); edit that package set by hand"
        ));
    }
    if config.platforms.style == Some(SeenStyle::Mixed) {
        return Some("it sets both nixpkgs.crossSystem/localSystem and nixpkgs.hostPlatform/buildPlatform; NixOS rejects that mix with an assertion, so fix it by hand first".into());
    }
    if let Some(o) = sys.opaque.first() {
        let at =
            o.at.as_ref()
                .map(|a| format!(" ({})", flake.describe(a)))
                .unwrap_or_default();
        return Some(format!("{}{at}", o.reason));
    }
    if config.platforms.style.is_some() {
        if let Some(why) = &config.platforms.unknown {
            return Some(why.clone());
        }
    }
    None
}

pub(crate) use crate::syntax::compact;

/// Indent every line but the first by two spaces (for nesting generated text).
pub(crate) fn indent_tail(text: &str) -> String {
    text.replace('\n', "\n  ")
}

/// Group definitions of one option by priority: the winners.
pub(crate) fn winners<'d>(
    defs: impl Iterator<Item = &'d crate::flake::Definition>,
) -> Vec<&'d crate::flake::Definition> {
    let all: Vec<&crate::flake::Definition> = defs.filter(|d| d.condition.is_none()).collect();
    let best = all.iter().map(|d| d.priority).min();
    all.into_iter()
        .filter(|d| Some(d.priority) == best)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::list_names;

    #[test]
    fn compact_joins_generated_text() {
        assert_eq!(
            compact("{\n  # c\n  nixpkgs.crossSystem = {\n    system = \"x\";\n  };\n}"),
            "{ nixpkgs.crossSystem = { system = \"x\"; }; }"
        );
        assert_eq!(
            list_names(&["a".into(), "b".into(), "c".into()]),
            "`a`, `b` and `c`"
        );
    }
}
