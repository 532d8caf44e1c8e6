//! `nixcross init`: render a flake with the library, then print it or write
//! `<dir>/flake.nix` atomically, never over an existing file without `--force`.

use std::path::PathBuf;
use std::process::ExitCode;

use nixcross::ops::init::{self, InitOptions};
use nixcross::vocab::{Mode, Style};

use crate::common::{self, CliError, CmdResult};
use crate::write::{self, Before, Change, WriteError};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The platform NixOS runs on: a system double (riscv64-linux), a pkgsCross
    /// name (raspberryPi) or a config triple (aarch64-unknown-linux-musl)
    #[arg(long, short = 't', value_name = "T")]
    pub target: String,
    /// cross: compile with a cross toolchain; emulate: build natively, under QEMU
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// The build machine's system double [default: this machine's]
    #[arg(long, value_name = "SYSTEM")]
    pub host: Option<String>,
    /// The name under nixosConfigurations [default: the pkgsCross name, else
    /// the target's CPU (riscv64), plus its ABI when not the default (aarch64-musl)]
    #[arg(long, value_name = "CONFIG")]
    pub name: Option<String>,
    /// Which NixOS options say where the system is built and where it runs
    #[arg(long, value_enum, default_value_t = Style::Legacy)]
    pub style: Style,
    /// The nixpkgs flake reference
    #[arg(long, value_name = "FLAKE-REF", default_value = init::DEFAULT_NIXPKGS)]
    pub nixpkgs: String,
    /// The flake's description [default: names the target and the mode]
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Write DIR/flake.nix
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Print the flake to stdout instead of writing it
    #[arg(long)]
    pub stdout: bool,
    /// Overwrite an existing flake.nix
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> CmdResult {
    let opts = InitOptions {
        target: args.target,
        mode: args.mode,
        style: args.style,
        host: args.host,
        name: args.name,
        nixpkgs: (args.nixpkgs != init::DEFAULT_NIXPKGS).then_some(args.nixpkgs),
        description: args.description,
    };
    let out = init::render(&opts)?;
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
            match std::fs::symlink_metadata(&path) {
                Ok(_) => Before::Text(common::read_source(&path)?),
                Err(_) => Before::Absent,
            }
        } else {
            Before::Absent
        };
        let change = Change {
            path: path.clone(),
            before,
            after: out.text.clone(),
        };
        match write::commit(&[change]) {
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
        common::status(&format!("note: {note}"));
    }
    Ok(ExitCode::SUCCESS)
}
