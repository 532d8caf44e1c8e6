//! `nixcross add-config`: a new configuration in an existing flake.

use crate::complete;
use crate::editing::{edit_tree, EditFlags};
use crate::error::CmdResult;
use crate::vocab::{ModeArg, StyleArg};
use clap_complete::engine::ArgValueCandidates;
use nixcross::ops::add_config::{add_config, AddConfigOptions};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross add-config lp4a --target riscv64-linux --mode cross
  nixcross add-config pi --target raspberryPi --mode emulate --style modern --dry-run
  nixcross add-config board --target aarch64-linux --mode cross --host x86_64-linux -f nix/flake.nix

The configuration is rendered as `init` renders it and goes after the last
configuration of nixosConfigurations, in the file's indentation and nesting.
When every configuration is built with one helper of the file
(`mkHost \"x86_64-linux\" \"a\"`) and its arguments are only the name and
platform strings, the new one calls it too. A flake whose nixosConfigurations
is generated (mapAttrs, genAttrs, readDir) is refused. `init` writes a new flake.")]
pub struct Args {
    /// The configuration's name under nixosConfigurations
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The platform NixOS runs on: a system double (riscv64-linux), a pkgsCross
    /// name (raspberryPi) or a config triple (aarch64-unknown-linux-musl)
    #[arg(long, short = 't', value_name = "T", add = ArgValueCandidates::new(complete::targets))]
    pub target: String,
    /// cross: compile with a cross toolchain; emulate: build natively, under
    /// QEMU on a machine of another system; native: build on a machine of
    /// the target's own system
    #[arg(long, value_enum)]
    pub mode: ModeArg,
    /// The build machine's system double, for cross builds [default: this machine's]
    #[arg(long, value_name = "SYSTEM", add = ArgValueCandidates::new(complete::systems))]
    pub host: Option<String>,
    /// Which NixOS options name the platforms [default: what the flake's
    /// configurations use, else legacy]
    #[arg(long, value_enum)]
    pub style: Option<StyleArg>,
    #[command(flatten)]
    pub edit: EditFlags,
}

pub fn run(args: Args) -> CmdResult {
    let json = args.edit.json;
    crate::common::reported("add-config", json, || edit(args))
}

fn edit(args: Args) -> CmdResult {
    let opts = AddConfigOptions {
        name: args.name,
        target: args.target,
        mode: args.mode.into(),
        host: args.host,
        style: args.style.map(Into::into),
        local_system: nixcross::platform::current_system(),
    };
    edit_tree(&args.edit, |files, flake| add_config(files, flake, &opts))
}
