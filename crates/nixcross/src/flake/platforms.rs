//! Platform options and the effective platforms of a configuration, decided
//! as `nixos/modules/misc/nixpkgs.nix` decides them:
//!
//! - every option takes its definitions of the highest priority (the lowest
//!   number: `mkForce` 50, plain 100, `mkDefault` 1000, `mkOptionDefault`
//!   1500); `nixosSystem { system = ...; }` is `nixpkgs.system = mkDefault`;
//! - with `nixpkgs.hostPlatform` defined, it is the host, and
//!   `nixpkgs.buildPlatform` (default: the host) the build platform; the
//!   legacy options are ignored;
//! - otherwise `nixpkgs.localSystem` (default `{ system = nixpkgs.system; }`)
//!   builds and `nixpkgs.crossSystem` (default: none) is the host;
//! - "mixed": a platform option (`hostPlatform`, or `buildPlatform` above
//!   1500) together with `localSystem` or `crossSystem` below 1500 fails
//!   NixOS's assertion. (A `nixpkgs.system` definition does not.)
//!
//! A definition under a `mkIf` whose condition nixcross cannot decide, or a
//! module nixcross cannot read, makes the answer unknown; never a guess.

use serde::Serialize;

use crate::source::Src;
use crate::vocab::Style;
pub(crate) use crate::vocab::{MK_DEFAULT, MK_FORCE, MK_OPTION_DEFAULT, PLAIN};

/// The platform options of `nixos/modules/misc/nixpkgs.nix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PlatformOption {
    /// `nixpkgs.crossSystem` (legacy): the host, when cross-compiling.
    CrossSystem,
    /// `nixpkgs.localSystem` (legacy): the build platform.
    LocalSystem,
    /// `nixpkgs.system` (legacy), and nixosSystem's `system` argument.
    System,
    /// `nixpkgs.hostPlatform`: where the system runs.
    HostPlatform,
    /// `nixpkgs.buildPlatform`: where it is built.
    BuildPlatform,
}

impl PlatformOption {
    /// All five.
    pub const ALL: [PlatformOption; 5] = [
        PlatformOption::CrossSystem,
        PlatformOption::LocalSystem,
        PlatformOption::System,
        PlatformOption::HostPlatform,
        PlatformOption::BuildPlatform,
    ];

    /// The option's name under `nixpkgs`.
    pub fn name(self) -> &'static str {
        match self {
            PlatformOption::CrossSystem => "crossSystem",
            PlatformOption::LocalSystem => "localSystem",
            PlatformOption::System => "system",
            PlatformOption::HostPlatform => "hostPlatform",
            PlatformOption::BuildPlatform => "buildPlatform",
        }
    }
}

/// One definition of a platform option.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Which option.
    pub option: PlatformOption,
    /// Its priority (lower wins).
    pub priority: u32,
    /// Set when it is under a `mkIf` nixcross cannot decide: why.
    pub condition: Option<String>,
    /// The module it is in (index into [`super::SystemCall::modules`]);
    /// `None` for nixosSystem's `system` argument.
    pub module: Option<usize>,
    /// The binding that writes it.
    pub site: Option<Src>,
    /// The string literal its value comes from, when it is one literal.
    pub literal: Option<Src>,
    /// The system double it means, when known.
    pub system: Option<String>,
    /// Why the value is not known, when it is not.
    pub unknown: Option<String>,
    /// `null` (for `crossSystem = null`).
    pub is_null: bool,
    /// The value as written, shortened, for reports.
    pub text: String,
}

/// The style of the options a configuration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeenStyle {
    /// Only one style.
    One(Style),
    /// Both: NixOS rejects the configuration with an assertion.
    Mixed,
}

impl SeenStyle {
    /// `legacy`, `modern` or `mixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            SeenStyle::One(s) => s.as_str(),
            SeenStyle::Mixed => "mixed",
        }
    }
}

impl Serialize for SeenStyle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The effective platforms of a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Platforms {
    /// Where it is built, as a system double.
    pub build: Option<String>,
    /// Where it runs, as a system double.
    pub host: Option<String>,
    /// Which options decide them.
    pub style: Option<SeenStyle>,
    /// Why `build` or `host` is unknown, when one is.
    pub unknown: Option<String>,
}

/// The winning definitions of one option.
enum Winner {
    Undefined,
    Known {
        priority: u32,
        system: Option<String>,
        is_null: bool,
    },
    Unknown(String),
}

fn winner(defs: &[&Definition]) -> Winner {
    let sure: Vec<&&Definition> = defs.iter().filter(|d| d.condition.is_none()).collect();
    let best = sure.iter().map(|d| d.priority).min();
    // A conditional definition that could win or tie makes it unknown.
    if let Some(c) = defs
        .iter()
        .find(|d| d.condition.is_some() && best.is_none_or(|b| d.priority <= b))
    {
        return Winner::Unknown(format!(
            "nixpkgs.{} is defined under a condition nixcross cannot decide ({})",
            c.option.name(),
            c.condition.as_deref().unwrap_or_default()
        ));
    }
    let Some(best) = best else {
        return Winner::Undefined;
    };
    let top: Vec<&&&Definition> = sure.iter().filter(|d| d.priority == best).collect();
    if let Some(d) = top.iter().find(|d| d.unknown.is_some()) {
        return Winner::Unknown(format!(
            "the value of nixpkgs.{} is not known: {}",
            d.option.name(),
            d.unknown.as_deref().unwrap_or_default()
        ));
    }
    let first = &top[0];
    for d in &top[1..] {
        if d.system != first.system || d.is_null != first.is_null {
            return Winner::Unknown(format!(
                "nixpkgs.{} is defined more than once with different values",
                d.option.name()
            ));
        }
    }
    Winner::Known {
        priority: best,
        system: first.system.clone(),
        is_null: first.is_null,
    }
}

/// The effective platforms from the definitions, as NixOS decides them.
/// `opaque` is why some module could not be read (then unknown).
pub fn effective(defs: &[Definition], opaque: Option<&str>) -> Platforms {
    let of =
        |o: PlatformOption| -> Vec<&Definition> { defs.iter().filter(|d| d.option == o).collect() };
    let host = winner(&of(PlatformOption::HostPlatform));
    let build = winner(&of(PlatformOption::BuildPlatform));
    let local = winner(&of(PlatformOption::LocalSystem));
    let cross = winner(&of(PlatformOption::CrossSystem));
    let system = winner(&of(PlatformOption::System));
    let defined = |w: &Winner| !matches!(w, Winner::Undefined);
    let below = |w: &Winner, p: u32| match w {
        Winner::Known { priority, .. } => *priority < p,
        Winner::Unknown(_) => true,
        Winner::Undefined => false,
    };
    let has_platform = defined(&host) || below(&build, MK_OPTION_DEFAULT);
    let legacy = below(&local, MK_OPTION_DEFAULT) || below(&cross, MK_OPTION_DEFAULT);
    let style = if has_platform && legacy {
        Some(SeenStyle::Mixed)
    } else if has_platform {
        Some(SeenStyle::One(Style::Modern))
    } else if defined(&local) || defined(&cross) || defined(&system) {
        Some(SeenStyle::One(Style::Legacy))
    } else {
        None
    };
    let mut unknown: Option<String> = opaque.map(str::to_string);
    let mut value = |w: &Winner| -> Option<String> {
        match w {
            Winner::Known { system, .. } => {
                if system.is_none() && unknown.is_none() {
                    unknown = Some("a platform value is not a system nixcross knows".into());
                }
                system.clone()
            }
            Winner::Unknown(why) => {
                if unknown.is_none() {
                    unknown = Some(why.clone());
                }
                None
            }
            Winner::Undefined => None,
        }
    };
    let (build_p, host_p) = if defined(&host) {
        let h = value(&host);
        let b = if defined(&build) {
            value(&build)
        } else {
            h.clone()
        };
        (b, h)
    } else {
        let b = if defined(&local) {
            value(&local)
        } else {
            value(&system)
        };
        let h = match &cross {
            Winner::Known { is_null: true, .. } | Winner::Undefined => b.clone(),
            w => value(w),
        };
        (b, h)
    };
    if opaque.is_some() {
        return Platforms {
            build: None,
            host: None,
            style,
            unknown,
        };
    }
    let unknown = if build_p.is_none() || host_p.is_none() {
        unknown.or_else(|| Some("no platform is set".into()))
    } else {
        None
    };
    Platforms {
        build: build_p,
        host: host_p,
        style,
        unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(option: PlatformOption, priority: u32, system: &str) -> Definition {
        Definition {
            option,
            priority,
            condition: None,
            module: Some(0),
            site: None,
            literal: None,
            system: Some(system.into()),
            unknown: None,
            is_null: false,
            text: String::new(),
        }
    }

    use PlatformOption::*;

    #[test]
    fn host_platform_wins_over_the_system_argument() {
        let p = effective(
            &[
                def(System, MK_DEFAULT, "x86_64-linux"),
                def(HostPlatform, MK_DEFAULT, "aarch64-linux"),
            ],
            None,
        );
        assert_eq!(p.host.as_deref(), Some("aarch64-linux"));
        assert_eq!(p.build.as_deref(), Some("aarch64-linux"));
        assert_eq!(p.style, Some(SeenStyle::One(Style::Modern)));
    }

    #[test]
    fn priorities_decide() {
        let p = effective(
            &[
                def(HostPlatform, MK_DEFAULT, "x86_64-linux"),
                def(HostPlatform, PLAIN, "riscv64-linux"),
                def(BuildPlatform, PLAIN, "x86_64-linux"),
            ],
            None,
        );
        assert_eq!(p.host.as_deref(), Some("riscv64-linux"));
        assert_eq!(p.build.as_deref(), Some("x86_64-linux"));
        let p = effective(
            &[
                def(HostPlatform, 50, "aarch64-linux"),
                def(HostPlatform, PLAIN, "riscv64-linux"),
            ],
            None,
        );
        assert_eq!(p.host.as_deref(), Some("aarch64-linux"));
    }

    #[test]
    fn legacy_and_mixed() {
        let p = effective(
            &[
                def(System, MK_DEFAULT, "x86_64-linux"),
                def(CrossSystem, PLAIN, "riscv64-linux"),
            ],
            None,
        );
        assert_eq!(p.build.as_deref(), Some("x86_64-linux"));
        assert_eq!(p.host.as_deref(), Some("riscv64-linux"));
        assert_eq!(p.style, Some(SeenStyle::One(Style::Legacy)));
        let p = effective(
            &[
                def(HostPlatform, MK_DEFAULT, "x86_64-linux"),
                def(CrossSystem, PLAIN, "riscv64-linux"),
            ],
            None,
        );
        assert_eq!(p.style, Some(SeenStyle::Mixed));
        // A plain nixpkgs.system next to hostPlatform is not the mix NixOS rejects.
        let p = effective(
            &[
                def(HostPlatform, MK_DEFAULT, "x86_64-linux"),
                def(System, PLAIN, "x86_64-linux"),
            ],
            None,
        );
        assert_eq!(p.style, Some(SeenStyle::One(Style::Modern)));
    }

    #[test]
    fn undecidable_conditions_and_opaque_modules_are_unknown() {
        let mut c = def(HostPlatform, PLAIN, "aarch64-linux");
        c.condition = Some("config.x".into());
        let p = effective(&[def(HostPlatform, MK_DEFAULT, "x86_64-linux"), c], None);
        assert_eq!(p.host, None);
        assert!(p.unknown.unwrap().contains("condition"));
        let p = effective(
            &[def(HostPlatform, PLAIN, "x86_64-linux")],
            Some("a module"),
        );
        assert_eq!(p.host, None);
        // A conditional definition that loses anyway does not matter.
        let mut c = def(HostPlatform, MK_DEFAULT, "aarch64-linux");
        c.condition = Some("config.x".into());
        let p = effective(&[def(HostPlatform, PLAIN, "x86_64-linux"), c], None);
        assert_eq!(p.host.as_deref(), Some("x86_64-linux"));
    }
}
