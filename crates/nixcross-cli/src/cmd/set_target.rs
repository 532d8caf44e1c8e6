//! `nixcross set-target`: switch a configuration's target and strategy.

use nixcross::ops::set_target::{set_target, SetTargetOptions};
use nixcross::vocab::Mode;

use crate::common::{edit_tree, CmdResult, EditFlags};
use crate::complete;
use clap_complete::engine::ArgValueCandidates;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross set-target riscv64-linux --mode cross
  nixcross set-target aarch64-linux --mode emulate --config pi --dry-run
  nixcross set-target raspberryPi --mode cross --host x86_64-linux --check

The file keeps its style: system + nixpkgs.crossSystem (legacy) or
nixpkgs.hostPlatform + nixpkgs.buildPlatform (modern). A file with neither
gets the legacy style, as in the NixOS & Flakes book.")]
pub struct Args {
    /// The target: a system double (riscv64-linux), a pkgsCross name (raspberryPi)
    /// or a config triple (riscv64-unknown-linux-gnu)
    #[arg(add = ArgValueCandidates::new(complete::targets))]
    pub target: String,
    /// How to build for the target
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// The configuration to edit (required when the flake has several)
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(complete::configs))]
    pub config: Option<String>,
    /// The system that builds, for cross builds (default: the configuration's
    /// current build system, else this machine)
    #[arg(long, value_name = "SYSTEM", add = ArgValueCandidates::new(complete::systems))]
    pub host: Option<String>,
    #[command(flatten)]
    pub edit: EditFlags,
}

pub fn run(args: Args) -> CmdResult {
    let opts = SetTargetOptions {
        target: args.target,
        mode: args.mode,
        config: args.config,
        host: args.host,
        local_system: nixcross::platform::current_system(),
        style: None,
    };
    edit_tree(&args.edit, |files, flake| set_target(files, flake, &opts))
}
