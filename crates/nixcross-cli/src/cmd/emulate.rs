//! `nixcross emulate`: set `boot.binfmt.emulatedSystems` in a build host's
//! NixOS module.

use nixcross::ops::emulate::{emulate, EmulateOptions};

use crate::common;
use crate::complete;
use crate::editing::{self, EditFlags};
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;
use clap_complete::engine::ArgValueCandidates;

const AFTER_HELP: &str = "\
The option belongs in the configuration of the machine that BUILDS, not of the
target. After `nixos-rebuild switch` on that machine, QEMU is registered
through binfmt_misc, and NixOS adds the systems to nix.settings.extra-platforms
and the interpreters to the build sandbox by itself.

Without --config, -f must name the module to edit (a flake is not a module).
With --config NAME, the edit goes into an inline module of that configuration
in the flake (a new `{ boot.binfmt.emulatedSystems = [ ... ]; }` if it has none).
The build host's own system is refused: it is --host when given, else what the
file says (nixpkgs.hostPlatform, nixpkgs.system, or the configuration's
system). When neither says,
naming the system nixcross runs on only warns, since the module may be for
another machine. --remove takes systems out; when the list becomes empty the
whole option goes. With --remove, --static removes preferStaticEmulators.

Examples:
  nixcross emulate aarch64-linux riscv64-linux -f /etc/nixos/configuration.nix
  nixcross emulate raspberryPi --static -f hosts/builder.nix --dry-run
  nixcross emulate riscv64-linux --remove -f /etc/nixos/configuration.nix
  nixcross emulate aarch64-linux --host x86_64-linux -f builder.nix --check
  nixcross emulate aarch64-linux riscv64-linux --config builder   (in ./flake.nix)";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
#[command(mut_arg("file", |a| a.help(
    "The NixOS module to edit (e.g. /etc/nixos/configuration.nix); with --config, the flake (or its folder) [default with --config: flake.nix in this folder or the nearest parent]"
)))]
pub struct Args {
    /// Systems to emulate: doubles (aarch64-linux), pkgsCross names or triples
    #[arg(value_name = "SYSTEM", required = true, add = ArgValueCandidates::new(complete::emulated_systems))]
    pub systems: Vec<String>,
    /// Take the systems out of the list instead
    #[arg(long)]
    pub remove: bool,
    /// Also set boot.binfmt.preferStaticEmulators = true (static QEMU, `F` flag; for containers and chroots)
    #[arg(long = "static")]
    pub static_emulators: bool,
    /// The build host's own system; refused as an emulated system
    #[arg(long, value_name = "SYSTEM", add = ArgValueCandidates::new(complete::systems))]
    pub host: Option<String>,
    /// Edit this nixosConfigurations entry of the flake given with -f (default flake.nix)
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(complete::configs))]
    pub config: Option<String>,
    #[command(flatten)]
    pub edit: EditFlags,
}

pub fn run(args: Args) -> CmdResult {
    let json = args.edit.json;
    crate::common::reported("emulate", json, || edit(args))
}

fn edit(args: Args) -> CmdResult {
    let flags = &args.edit;
    // EditFlags defaults to flake.nix, which is not a module: without
    // --config the user must say which module to edit.
    let names_flake = match &flags.file {
        None => true,
        Some(f) => f.is_dir() || f.file_name().is_some_and(|n| n == "flake.nix"),
    };
    if args.config.is_none() && names_flake {
        return Err(CliError::usage(
            "emulate edits a NixOS module: pass -f <FILE> (e.g. -f /etc/nixos/configuration.nix), \
             or --config NAME to edit a configuration inside flake.nix",
        ));
    }
    let opts = EmulateOptions {
        systems: args.systems,
        remove: args.remove,
        static_emulators: args.static_emulators,
        host: args.host,
        config: args.config,
        local_system: nixcross::platform::current_system(),
    };
    let mut wrote = false;
    let adding = !opts.remove;
    let code = editing::edit_tree(flags, |files, path| {
        let out = emulate(files, path, &opts)?;
        wrote = out.changed() && !flags.dry_run && !flags.check;
        Ok(out)
    })?;
    if wrote && code == Exit::Success {
        if adding {
            common::note(
                "after `nixos-rebuild switch` on the build host, QEMU is registered through binfmt_misc; \
                 NixOS adds these systems to nix.settings.extra-platforms and the emulators to the sandbox paths itself",
            );
        } else {
            common::note(
                "after `nixos-rebuild switch` on the build host, the removed systems are no longer emulated or offered as extra-platforms",
            );
        }
    }
    Ok(code)
}
