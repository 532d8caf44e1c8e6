//! The `nixcross` binary: clap turns arguments into option structs, one
//! library call does the work, and this crate prints, writes atomically and
//! maps errors to exit codes (0 done, 1 would change under `--check`, 2 bad
//! input or refusal).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cmd;
#[allow(dead_code)] // used as the commands land
mod common;
mod fs;
mod term;
mod write;

const EXAMPLES: &str = "\
Examples:
  nixcross targets                               list every platform nixpkgs knows
  nixcross init --target riscv64-linux --mode cross --stdout
  nixcross init --target raspberryPi --mode emulate --style modern
  nixcross show --json                           the configurations in ./flake.nix
  nixcross set-target aarch64-linux --mode emulate --dry-run
  nixcross add-overlay gcc=gcc12 --scoped --use hello
  nixcross emulate aarch64-linux riscv64-linux -f /etc/nixos/configuration.nix
  nixcross binfmt line riscv64-linux --flags PF
  nixcross binfmt detect ./result/bin/hello
  nixcross doctor --target riscv64-linux

Exit codes: 0 done or already up to date, 1 would change (--check),
2 bad input, a file that does not parse, or a shape nixcross refuses to edit.
Set NO_COLOR to turn colour off.";

#[derive(Parser)]
#[command(
    name = "nixcross",
    version,
    about = "Cross-compiled and emulated NixOS flakes: written for you, edited in place",
    long_about = "nixcross writes flake.nix files that build NixOS for another CPU, either by \
cross-compiling (fast, no binary cache) or under QEMU emulation (slow, cached), and edits \
existing flakes and NixOS modules without touching a byte outside the edit.",
    after_help = EXAMPLES,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a new flake.nix for a cross-compiled or emulated NixOS system
    Init(cmd::init::Args),
    /// List the platforms nixpkgs knows: doubles, triples, pkgsCross names
    Targets(cmd::targets::Args),
    /// Show the NixOS configurations of a flake and how each one is built
    Show(cmd::show::Args),
    /// Switch a configuration's target platform and strategy (cross or emulate)
    SetTarget(cmd::set_target::Args),
    /// Add a toolchain overlay (gcc=gcc12), globally or as a scoped package set
    AddOverlay(cmd::add_overlay::Args),
    /// Set boot.binfmt.emulatedSystems on a build host's NixOS configuration
    Emulate(cmd::emulate::Args),
    /// binfmt_misc registration lines and binary detection
    Binfmt(cmd::binfmt::Args),
    /// Check whether this machine can cross-build, emulate or remote-build a target
    Doctor(cmd::doctor::Args),
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

/// The stack nixcross runs on. The library refuses input nested deeper than
/// `nixcross::syntax::limits::MAX_DEPTH`, and rnix and nixcross's own walks
/// recurse at most that deep; 64 MiB (reserved, not used, until needed)
/// leaves room for that in unoptimized builds too.
const STACK_BYTES: usize = 64 * 1024 * 1024;

fn main() -> ExitCode {
    let worker = std::thread::Builder::new()
        .name("nixcross".into())
        .stack_size(STACK_BYTES)
        .spawn(run);
    match worker.map(|w| w.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        // No thread (a tight ulimit): run on the main thread.
        Err(_) => run(),
    }
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => cmd::init::run(args),
        Command::Targets(args) => cmd::targets::run(args),
        Command::Show(args) => cmd::show::run(args),
        Command::SetTarget(args) => cmd::set_target::run(args),
        Command::AddOverlay(args) => cmd::add_overlay::run(args),
        Command::Emulate(args) => cmd::emulate::run(args),
        Command::Binfmt(args) => cmd::binfmt::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "nixcross", &mut buf);
            common::print(&String::from_utf8_lossy(&buf));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => err.report(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
