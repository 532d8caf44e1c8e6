//! The library's shared words ([`nixcross::vocab`]) as command-line values:
//! the library has no clap, so the command parses them itself, one
//! `ValueEnum` per word with the help its `--help` shows, each turned into
//! the library's type with `From`.

use nixcross::vocab::{Kind, Mode, Style};

/// `--mode`: how the target's packages are built ([`Mode`]).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeArg {
    /// Cross-compile on the build machine: fast, almost nothing comes from the binary cache
    Cross,
    /// Build natively for the target, under QEMU on a machine of another system: slow, but cached
    Emulate,
    /// Build on a machine of the target's own system: no emulation, no cross toolchain
    Native,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Mode {
        match mode {
            ModeArg::Cross => Mode::Cross,
            ModeArg::Emulate => Mode::Emulate,
            ModeArg::Native => Mode::Native,
        }
    }
}

/// `--style`: which NixOS options name the platforms ([`Style`]).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleArg {
    /// `system` plus `nixpkgs.crossSystem`, as most guides write it
    Legacy,
    /// `nixpkgs.hostPlatform`, plus `nixpkgs.buildPlatform` for a cross build
    Modern,
}

impl From<StyleArg> for Style {
    fn from(style: StyleArg) -> Style {
        match style {
            StyleArg::Legacy => Style::Legacy,
            StyleArg::Modern => Style::Modern,
        }
    }
}

/// `init --kind`: what the flake builds ([`Kind`]).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindArg {
    /// A NixOS system (`nixosConfigurations`)
    Nixos,
    /// A package for the target (`packages`), cross-compiled or emulated
    Package,
    /// A development shell with the target's cross compiler (`devShells`)
    Shell,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Kind {
        match kind {
            KindArg::Nixos => Kind::Nixos,
            KindArg::Package => Kind::Package,
            KindArg::Shell => Kind::Shell,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    /// Each value is the library's word for what it turns into.
    #[test]
    fn values_are_the_library_s_words() {
        for m in ModeArg::value_variants() {
            let name = m.to_possible_value().expect("not skipped");
            assert_eq!(name.get_name(), Mode::from(*m).as_str());
        }
        for s in StyleArg::value_variants() {
            let name = s.to_possible_value().expect("not skipped");
            assert_eq!(name.get_name(), Style::from(*s).as_str());
        }
        for k in KindArg::value_variants() {
            let name = k.to_possible_value().expect("not skipped");
            assert_eq!(name.get_name(), Kind::from(*k).as_str());
        }
    }
}
