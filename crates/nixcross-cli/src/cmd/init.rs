//! `nixcross init`: render a flake with the library, then print it or write
//! `<dir>/flake.nix` atomically, never over an existing file without `--force`.

use std::path::PathBuf;

use nixcross::ops::init::{self, InitOptions};
use nixcross::vocab::{Kind, Mode, Style};

use crate::common;
use crate::complete;
use crate::error::{CliError, CmdResult, WriteError};
use crate::exit::Exit;
use crate::vocab::{KindArg, ModeArg, StyleArg};
use crate::write::{self, Before, Change};
use clap_complete::engine::ArgValueCandidates;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross init --target riscv64-linux --mode cross
  nixcross init --kind shell --target aarch64-multiplatform --package zlib
  nixcross init --kind package --target mingwW64 --mode cross --package hello
  nixcross init --kind package --target riscv64-linux --mode emulate --call ./package.nix")]
pub struct Args {
    /// What the flake builds: a NixOS system, a package, or a dev shell with
    /// the target's cross compiler
    #[arg(long, value_enum, default_value_t = KindArg::Nixos)]
    pub kind: KindArg,
    /// The target platform: a system double (riscv64-linux), a pkgsCross
    /// name (raspberryPi) or a config triple (aarch64-unknown-linux-musl)
    #[arg(long, short = 't', value_name = "T", add = ArgValueCandidates::new(complete::targets))]
    pub target: String,
    /// cross: compile with a cross toolchain; emulate: build natively, under
    /// QEMU on a machine of another system; native: build on a machine of
    /// the target's own system (the flake of emulate, without its advice)
    /// [required for --kind nixos and package; a shell is cross]
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// The build machine's system double [default: this machine's; with
    /// --mode native, the target's]
    #[arg(long, value_name = "SYSTEM", add = ArgValueCandidates::new(complete::systems))]
    pub host: Option<String>,
    /// The output's name. nixos: the name under nixosConfigurations [default:
    /// the pkgsCross name, else the target's CPU (riscv64), plus its ABI when
    /// not the default (aarch64-musl)]. package: the attribute under
    /// packages.<system> [default: the package's last attribute (numpy for
    /// python3Packages.numpy), or `default` with --call]. shell: the name
    /// under devShells.<system> [default: `default`]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// package: the nixpkgs package to build (hello, python3Packages.numpy).
    /// shell: a library for the target, in buildInputs (repeatable)
    #[arg(long, value_name = "ATTR")]
    pub package: Vec<String>,
    /// package: build your own program, `callPackage <FILE> { }`, with FILE
    /// relative to the flake's folder (--dir), where it must exist (a folder
    /// must have a default.nix)
    #[arg(long, value_name = "FILE", conflicts_with = "package")]
    pub call: Option<String>,
    /// Which NixOS options say where the system is built and where it runs
    /// (--kind nixos) [default: legacy]
    #[arg(long, value_enum)]
    pub style: Option<StyleArg>,
    /// The nixpkgs flake reference
    #[arg(long, value_name = "FLAKE-REF", default_value = init::DEFAULT_NIXPKGS)]
    pub nixpkgs: String,
    /// The flake's description [default: names the target and the mode]
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Write DIR/flake.nix
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub dir: PathBuf,
    /// Print the flake to stdout instead of writing it
    #[arg(long)]
    pub stdout: bool,
    /// Overwrite an existing flake.nix
    #[arg(long)]
    pub force: bool,
}

/// `--call`'s file, relative to the flake's folder `dir`: a file, or a
/// folder with a default.nix (what `callPackage` imports).
fn called_file_exists(dir: &std::path::Path, call: &str) -> Result<(), CliError> {
    let path = dir.join(call);
    let shown = if dir == std::path::Path::new(".") {
        std::path::PathBuf::from(call)
    } else {
        path.clone()
    };
    let missing = if path.is_dir() {
        !path.join("default.nix").is_file()
    } else {
        !path.is_file()
    };
    if missing {
        let what = if path.is_dir() {
            format!("{} has no default.nix", shown.display())
        } else {
            format!("{} does not exist", shown.display())
        };
        return Err(CliError::usage(format!(
            "--call {call}: {what}, so the flake would not evaluate\n  hint: write the package's file first (FILE is relative to the flake's folder, --dir)"
        )));
    }
    Ok(())
}

pub fn run(args: Args) -> CmdResult {
    let kind = Kind::from(args.kind);
    let mode = match (kind, args.mode.map(Mode::from)) {
        (_, Some(m)) => m,
        (Kind::Shell, None) => Mode::Cross,
        (kind, None) => {
            return Err(CliError::usage(format!(
                "--kind {kind} needs --mode cross, --mode emulate or --mode native"
            )))
        }
    };
    if kind != Kind::Nixos && args.style.is_some() {
        return Err(CliError::usage(format!(
            "--style chooses NixOS options; --kind {kind} has none"
        )));
    }
    let opts = InitOptions {
        kind,
        target: args.target,
        mode,
        style: args.style.map(Style::from).unwrap_or_default(),
        host: args.host,
        name: args.name,
        packages: args.package,
        call: args.call,
        nixpkgs: (args.nixpkgs != init::DEFAULT_NIXPKGS).then_some(args.nixpkgs),
        description: args.description,
    };
    let out = init::render(&opts)?;
    // A flake that calls a file it does not have cannot evaluate.
    if let Some(call) = &opts.call {
        called_file_exists(&args.dir, call)?;
    }
    if args.stdout {
        common::print(&out.text);
    } else {
        let path = args.dir.join("flake.nix");
        if !args.dir.is_dir() {
            return Err(CliError::usage(format!(
                "{}: no such directory",
                args.dir.display()
            )));
        }
        // Without --force, the file is created only if nothing is at that
        // name (a dangling symlink counts), checked by the create itself.
        let before = if args.force {
            write::current(&path)?
        } else {
            Before::Absent
        };
        let change = Change {
            path: path.clone(),
            before,
            after: out.text.clone(),
        };
        // --force replaces the file whatever its permissions say.
        match write::WriteBatch::new()
            .forced(args.force)
            .commit(&[change])
        {
            Ok(_) => {}
            Err(WriteError::Exists { .. }) => {
                return Err(CliError::usage(format!(
                    "{}: already exists; pass --force to overwrite it, or --stdout to print",
                    path.display()
                )))
            }
            Err(e) => return Err(e.into()),
        }
        common::status(&format!("wrote {}", path.display()));
    }
    for note in &out.notes {
        common::note(note);
    }
    Ok(Exit::Success)
}
