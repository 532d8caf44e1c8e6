//! `nixcross add-builder`: a native remote builder for a build host, as a
//! `nix.buildMachines` entry of its NixOS configuration, or as the line of
//! `/etc/nix/machines` for any other machine with Nix.

use nixcross::ops::add_builder::{
    add_builder, machines_output, AddBuilderOptions, SUBSTITUTES_WHY,
};

use crate::common;
use crate::complete;
use crate::editing::{self, EditFlags};
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;
use clap_complete::engine::ArgValueCandidates;

const AFTER_HELP: &str = "\
When emulation is too slow and cross-compiling breaks, a machine of the target's
CPU can build natively: Nix's distributed builds send it the derivations of its
systems over SSH. The entry belongs in the configuration of the machine that
hands the builds out (not of the builder).

--format nixos (the default) edits a NixOS module (-f FILE) or a configuration
of a flake (--config NAME): one entry of nix.buildMachines, plus
nix.distributedBuilds = true and, unless it is set already,
nix.settings.builders-use-substitutes = true (the builder then fetches from the
binary cache itself instead of receiving everything over SSH). The same host and
protocol again updates that entry in place: the systems, and the jobs, speed and
features given, become the ones requested; the SSH user, key and host key change
only when given. --remove takes the entry out, and with the last builder the
settings nixcross added.

--format machines writes nothing: it prints the /etc/nix/machines line and the
nix.conf lines for a machine that does not run NixOS.

The nix daemon connects as root: root's SSH key (--ssh-key) must be authorized
on the builder, and the builder's user must be trusted there (trusted-users).
`nixcross doctor --probe` checks both.

Examples:
  nixcross add-builder ssh-ng://nix@pi5.local --system aarch64-linux -f /etc/nixos/configuration.nix
  nixcross add-builder ssh://builder@ampere --system aarch64-linux --max-jobs 16 --feature big-parallel --config desktop
  nixcross add-builder ssh-ng://nix@visionfive --system riscv64-linux --ssh-key /root/.ssh/id_builder --format machines
  nixcross add-builder ssh-ng://nix@pi5.local --remove -f /etc/nixos/configuration.nix";

/// How the builder is written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// An entry of nix.buildMachines in a NixOS module or flake configuration
    #[default]
    Nixos,
    /// Print the /etc/nix/machines line and nix.conf lines; write nothing
    Machines,
}

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
#[command(mut_arg("file", |a| a.help(
    "The NixOS module to edit (e.g. /etc/nixos/configuration.nix); with --config, the flake (or its folder) [default with --config: flake.nix in this folder or the nearest parent]"
)))]
pub struct Args {
    /// The builder: ssh://[user@]host or ssh-ng://[user@]host
    #[arg(value_name = "URI")]
    pub uri: String,
    /// A system it builds for: a double (aarch64-linux), pkgsCross name or triple (repeatable)
    #[arg(long = "system", value_name = "SYSTEM", required_unless_present = "remove", add = ArgValueCandidates::new(complete::systems))]
    pub systems: Vec<String>,
    /// How many builds it runs at once
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub max_jobs: Option<u32>,
    /// Its speed relative to other builders (higher is preferred)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub speed_factor: Option<u32>,
    /// A feature it supports: kvm, big-parallel, nixos-test, benchmark, ca-derivations, uid-range, gccarch-<arch> (repeatable)
    #[arg(long = "feature", value_name = "F")]
    pub features: Vec<String>,
    /// A feature a derivation must ask for to be built there (repeatable)
    #[arg(long = "mandatory-feature", value_name = "F")]
    pub mandatory_features: Vec<String>,
    /// The SSH private key root logs in with (an absolute path outside the Nix store)
    #[arg(long, value_name = "PATH")]
    pub ssh_key: Option<String>,
    /// The builder's SSH host key: base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub
    #[arg(long, value_name = "BASE64")]
    pub host_key: Option<String>,
    /// Take the builder out instead
    #[arg(long, conflicts_with_all = ["systems", "max_jobs", "speed_factor", "features", "mandatory_features", "ssh_key", "host_key"])]
    pub remove: bool,
    /// Edit this nixosConfigurations entry of the flake given with -f (default flake.nix)
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(complete::configs))]
    pub config: Option<String>,
    /// nixos: edit a module or configuration; machines: print the /etc/nix/machines line
    #[arg(long, value_enum, default_value_t = Format::Nixos)]
    pub format: Format,
    #[command(flatten)]
    pub edit: EditFlags,
}

/// A count of 1 or more (what nix.buildMachines and a machines line take).
fn at_least_one(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("must be a whole number from 1 to {}", u32::MAX)),
    }
}

pub fn run(args: Args) -> CmdResult {
    let json = args.edit.json;
    crate::common::reported("add-builder", json, || edit(args))
}

fn edit(args: Args) -> CmdResult {
    let opts = AddBuilderOptions {
        uri: args.uri,
        systems: args.systems,
        max_jobs: args.max_jobs,
        speed_factor: args.speed_factor,
        features: args.features,
        mandatory_features: args.mandatory_features,
        ssh_key: args.ssh_key,
        host_key: args.host_key,
        remove: args.remove,
        config: args.config,
    };
    if args.format == Format::Machines && args.edit.json {
        return Err(CliError::usage(
            "--json describes an edit; --format machines prints lines for /etc/nix and edits nothing",
        ));
    }
    if args.format == Format::Machines {
        let out = machines_output(&opts).map_err(|e| CliError::lib(&e))?;
        for w in &out.warnings {
            common::warn(w);
        }
        common::print(&format!(
            "# /etc/nix/machines\n{}\n# /etc/nix/nix.conf\n{}\n",
            out.line,
            out.nix_conf.join("\n")
        ));
        common::note(&format!(
            "add the line to /etc/nix/machines and the settings to /etc/nix/nix.conf, then restart the daemon (sudo systemctl restart nix-daemon); {SUBSTITUTES_WHY}"
        ));
        common::note(
                "the nix daemon connects as root: root's SSH key must be authorized on the builder, and its user must be in the builder's trusted-users; check with `sudo nixcross doctor --probe`",
        );
        return Ok(Exit::Success);
    }
    let flags = &args.edit;
    let names_flake = match &flags.file {
        None => true,
        Some(f) => f.is_dir() || f.file_name().is_some_and(|n| n == "flake.nix"),
    };
    if opts.config.is_none() && names_flake {
        return Err(CliError::usage(
            "add-builder edits a NixOS module: pass -f <FILE> (e.g. -f /etc/nixos/configuration.nix), \
             --config NAME to edit a configuration inside flake.nix, or --format machines for another distribution",
        ));
    }
    let mut wrote = false;
    let code = editing::edit_tree(flags, |files, path| {
        let out = add_builder(files, path, &opts)?;
        wrote = out.changed() && !flags.dry_run && !flags.check;
        Ok(out)
    })?;
    if wrote && code == Exit::Success && !opts.remove {
        common::note(
                "after `nixos-rebuild switch`, the nix daemon sends builds for these systems to the builder over SSH as root: \
             root's SSH key must be authorized on the builder, and its user must be in the builder's nix.settings.trusted-users; \
             check with `sudo nixcross doctor --probe`",
        );
    }
    Ok(code)
}
