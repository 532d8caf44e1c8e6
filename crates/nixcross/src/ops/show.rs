//! `nixcross show`: what the file says about each NixOS configuration.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{LineIndex, Result};
use crate::flake_old::{Config, Flake};
use crate::ops::add_overlay::{self, ScopedReport};

/// Options for [`show`].
#[derive(Debug, Clone, Default)]
pub struct ShowOptions {
    /// The system of the machine that will build (this machine, by default
    /// in the CLI). A configuration whose host differs from it and that is
    /// not cross-compiled is reported as `emulate`; an equal one as `native`.
    pub local_system: Option<String>,
}

/// One configuration, as `show --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigReport {
    pub name: String,
    /// The platform that builds, as a system double.
    pub build: Option<String>,
    /// The platform the system runs on, as a system double.
    pub host: Option<String>,
    /// `cross`, `emulate`, `native` or `None` when unknown.
    pub mode: Option<&'static str>,
    /// `legacy` (system/crossSystem), `modern` (hostPlatform/buildPlatform),
    /// `mixed` (both: NixOS rejects it) or `None` (nothing set).
    pub style: Option<&'static str>,
    pub editable: bool,
    pub reason: Option<String>,
    /// 1-based line of the configuration's name.
    pub line: usize,
    /// What the inline modules' `nixpkgs.overlays` replace: `attr -> package`
    /// (`gcc -> gcc12` for `gcc = final.gcc12`), later overlays winning.
    pub overlays: BTreeMap<String, String>,
    /// Scoped package sets passed through `specialArgs`.
    pub scoped: Vec<ScopedReport>,
}

/// The build mode implied by a build and host platform.
pub fn mode_of(
    build: Option<&str>,
    host: Option<&str>,
    local: Option<&str>,
) -> Option<&'static str> {
    let (build, host) = (build?, host?);
    if build != host {
        return Some("cross");
    }
    match local {
        Some(l) if l == host => Some("native"),
        Some(_) => Some("emulate"),
        None => None,
    }
}

/// Report every configuration in `src`.
pub fn show(src: &str, opts: &ShowOptions) -> Result<Vec<ConfigReport>> {
    let flake = Flake::parse(src)?;
    let lines = LineIndex::new(src);
    Ok(flake
        .configs
        .iter()
        .map(|c| report(&lines, c, opts))
        .collect())
}

fn report(lines: &LineIndex, c: &Config, opts: &ShowOptions) -> ConfigReport {
    let p = c.platforms();
    let blocker = c.edit_blocker();
    let (overlays, scoped) = add_overlay::report(c);
    ConfigReport {
        name: c.name.clone(),
        mode: mode_of(
            p.build.as_deref(),
            p.host.as_deref(),
            opts.local_system.as_deref(),
        ),
        build: p.build,
        host: p.host,
        style: p.style,
        editable: blocker.is_none(),
        reason: blocker.map(|(r, _)| r),
        line: lines.line(c.name_range.0),
        overlays,
        scoped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_of(Some("a"), Some("b"), None), Some("cross"));
        assert_eq!(mode_of(Some("a"), Some("a"), Some("a")), Some("native"));
        assert_eq!(mode_of(Some("a"), Some("a"), Some("b")), Some("emulate"));
        assert_eq!(mode_of(None, Some("a"), Some("b")), None);
    }

    #[test]
    fn mixed_styles_are_not_editable() {
        let src = r#"{ outputs = { nixpkgs, ... }: {
  nixosConfigurations.m = nixpkgs.lib.nixosSystem {
    modules = [ { nixpkgs.crossSystem.system = "riscv64-linux"; nixpkgs.hostPlatform = "riscv64-linux"; } ];
  };
}; }"#;
        let r = show(src, &ShowOptions::default()).unwrap();
        assert_eq!(r[0].style, Some("mixed"));
        assert!(!r[0].editable);
        assert_eq!(r[0].line, 2);
    }
}
