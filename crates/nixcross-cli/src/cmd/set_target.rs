//! `nixcross set-target`: switch a configuration's target and strategy.

use nixcross::ops::set_target::{set_target, SetTargetOptions};
use nixcross::outputs::{retarget, RetargetOptions};
use nixcross::vocab::{Kind, Mode};

use crate::common;
use crate::complete;
use crate::editing::{edit_tree, EditFlags};
use crate::error::{CliError, CmdResult};
use crate::vocab::ModeArg;
use clap_complete::engine::ArgValueCandidates;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross set-target riscv64-linux --mode cross
  nixcross set-target --target riscv64-linux --mode cross --config lp4a
  nixcross set-target aarch64-linux --mode emulate --config pi --dry-run
  nixcross set-target x86_64-linux --mode native --config desktop
  nixcross set-target raspberryPi --mode cross --host x86_64-linux --check
  nixcross set-target mingwW64 --mode cross --package hello
  nixcross set-target riscv64-linux --mode emulate --package hello
  nixcross set-target aarch64-multiplatform --shell default

native and emulate write the same flake (the target built natively); native
says that a machine of the target's own system builds it, so nothing needs
QEMU there.

The file keeps its style: system + nixpkgs.crossSystem (legacy) or
nixpkgs.hostPlatform + nixpkgs.buildPlatform (modern). A file with neither
gets the legacy style, as in the NixOS & Flakes book.")]
#[command(group = clap::ArgGroup::new("the_target").args(["target", "target_flag"]).required(true))]
pub struct Args {
    /// The target, as --target T says it (a shorthand)
    #[arg(value_name = "T", add = ArgValueCandidates::new(complete::targets))]
    pub target: Option<String>,
    /// The target: a system double (riscv64-linux), a pkgsCross name
    /// (raspberryPi) or a config triple (riscv64-unknown-linux-gnu)
    #[arg(long = "target", short = 't', value_name = "T", add = ArgValueCandidates::new(complete::targets))]
    pub target_flag: Option<String>,
    /// How to build for the target: cross (a cross toolchain), emulate
    /// (natively, under QEMU on a machine of another system) or native (on
    /// a machine of the target's system) [required, except with --shell: a
    /// shell is cross]
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// The configuration to edit (required when the flake has several)
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(complete::configs), conflicts_with_all = ["package", "shell"])]
    pub config: Option<String>,
    /// Retarget the package packages.<system>.<ATTR> instead of a NixOS
    /// configuration (<SYSTEM>.<ATTR> when it is defined under several systems)
    #[arg(long, value_name = "ATTR", conflicts_with_all = ["shell", "verify"])]
    pub package: Option<String>,
    /// Retarget the dev shell devShells.<system>.<NAME>
    #[arg(long, value_name = "NAME", conflicts_with = "verify")]
    pub shell: Option<String>,
    /// The system that builds (default: the configuration's current build
    /// system, else this machine); with --mode emulate it only decides
    /// whether the comments nixcross writes call the build native, and with
    /// --mode native it must be the target's system
    #[arg(long, value_name = "SYSTEM", add = ArgValueCandidates::new(complete::systems))]
    pub host: Option<String>,
    #[command(flatten)]
    pub edit: EditFlags,
}

pub fn run(args: Args) -> CmdResult {
    let json = args.edit.json;
    crate::common::reported("set-target", json, || edit(args))
}

fn edit(args: Args) -> CmdResult {
    // The group requires exactly one of them.
    let target = args
        .target
        .or(args.target_flag)
        .expect("clap requires a target");
    let output = match (args.package, args.shell) {
        (Some(p), _) => Some((Kind::Package, p)),
        (None, Some(s)) => Some((Kind::Shell, s)),
        (None, None) => None,
    };
    if let Some((kind, name)) = output {
        let mode = match (kind, args.mode.map(Mode::from)) {
            (_, Some(m)) => m,
            (Kind::Shell, None) => Mode::Cross,
            _ => {
                return Err(CliError::usage(
                    "--package needs --mode cross, --mode emulate or --mode native",
                ))
            }
        };
        let opts = RetargetOptions {
            kind,
            name,
            target,
            mode,
            host: args.host,
            local_system: nixcross::platform::current_system(),
        };
        return edit_tree(&args.edit, |files, flake| retarget(files, flake, &opts));
    }
    let Some(mode) = args.mode.map(Mode::from) else {
        return Err(CliError::usage(
            "--mode cross, --mode emulate or --mode native is required",
        ));
    };
    let opts = SetTargetOptions {
        target,
        mode,
        config: args.config,
        host: args.host,
        local_system: nixcross::platform::current_system(),
        style: None,
    };
    let code = edit_tree(&args.edit, |files, flake| set_target(files, flake, &opts))?;
    // An emulated build can also go to a machine of the target's CPU
    // (advice, which --check does not give).
    if opts.mode == Mode::Emulate && !args.edit.check {
        if let Ok(t) = nixcross::platform::resolve(&opts.target) {
            if Some(&t.system) != opts.local_system.as_ref() {
                common::note(&nixcross::ops::add_builder::remote_note(&t.system));
            }
        }
    }
    Ok(code)
}
