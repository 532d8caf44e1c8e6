//! The `nixcross` binary: clap turns arguments into option structs, one
//! library call does the work, and this crate prints, writes atomically and
//! ends with an [`Exit`] status (0 done, 1 a check does not hold: would
//! change under `--check`, 2 bad input or refusal).

use std::process::ExitCode;

use error::CliError;
use exit::Exit;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

mod cmd;
mod common;
mod complete;
mod editing;
mod error;
mod exit;
mod fs;
mod term;
mod tree;
mod verify;
mod vocab;
mod write;

const EXAMPLES: &str = "\
Examples:
  nixcross targets                               list every platform nixpkgs knows
  nixcross init --target riscv64-linux --mode cross --stdout
  nixcross init --target raspberryPi --mode emulate --style modern
  nixcross show --json                           the configurations in ./flake.nix
  nixcross set-target aarch64-linux --mode emulate --dry-run
  nixcross set-target riscv64-linux --mode cross --verify
  nixcross add-overlay gcc=gcc12 --scoped --use hello
  nixcross add-config lp4a --target riscv64-linux --mode cross
  nixcross export -o nixcross.yaml               describe ./flake.nix as a spec
  nixcross apply --check                         exit 1 when the flake drifted from it
  nixcross emulate aarch64-linux riscv64-linux -f /etc/nixos/configuration.nix
  nixcross add-builder ssh-ng://nix@pi5 --system aarch64-linux -f /etc/nixos/configuration.nix
  nixcross binfmt line riscv64-linux --flags PF
  nixcross binfmt detect ./result/bin/hello
  nixcross doctor --target riscv64-linux

Exit codes: 0 done or already up to date, 1 would change (--check),
2 bad input, a file that does not parse, or a shape nixcross refuses to edit.
Colour: --color auto (the default: terminals only, and not when NO_COLOR is
set), always (e.g. `nixcross ... --color always | less -R`) or never.
Completion: `nixcross completions bash|zsh|fish|elvish|powershell`; the man
page: `nixcross man`.";

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
    /// When to colour the output: auto (terminals, unless NO_COLOR is set),
    /// always, never
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    color: clap::ColorChoice,
    /// No notes, warnings or status lines on stderr (errors, what stdout
    /// prints and --check's verdict stay)
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

// Each command's arguments are added when it is the one parsed (or when the
// whole tree is built, for help, completion and man pages), not on every run.
#[derive(Subcommand)]
#[command(defer = true)]
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
    /// Add a configuration to an existing flake's nixosConfigurations
    AddConfig(cmd::add_config::Args),
    /// Make the flake (and the build host) say what nixcross.yaml says
    Apply(cmd::apply::Args),
    /// Write the nixcross.yaml that describes a flake as it is
    Export(cmd::export::Args),
    /// Print the JSON Schema of nixcross.yaml (for editors)
    Schema(cmd::schema::Args),
    /// Set boot.binfmt.emulatedSystems on a build host's NixOS configuration
    Emulate(cmd::emulate::Args),
    /// Hand builds for other systems to a native remote builder (nix.buildMachines, /etc/nix/machines)
    AddBuilder(cmd::add_builder::Args),
    /// binfmt_misc registration lines and binary detection
    Binfmt(cmd::binfmt::Args),
    /// Check whether this machine can cross-build, emulate or remote-build a target
    Doctor(cmd::doctor::Args),
    /// Print the script that makes a shell complete nixcross's arguments
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write every page to a folder
    #[command(after_help = MAN_HELP)]
    Man(cmd::man::Args),
}

const COMPLETIONS_HELP: &str = "\
Completion is dynamic: the shell asks nixcross, which offers the platforms it
knows for --target and the configurations of ./flake.nix for --config.

  bash:  echo 'source <(nixcross completions bash)' >> ~/.bashrc
  zsh:   echo 'source <(nixcross completions zsh)' >> ~/.zshrc
  fish:  nixcross completions fish > ~/.config/fish/completions/nixcross.fish

`COMPLETE=<shell> nixcross` prints the same script. Re-create a saved script
after upgrading nixcross.";

const MAN_HELP: &str = "\
Examples:
  nixcross man | man -l -
  nixcross man set-target | man -l -
  nixcross man --dir ~/.local/share/man/man1     nixcross.1 and one page per command";

/// The `--color` value among the raw arguments, so that clap's own help
/// and errors follow it too.
/// Arguments are read as they are, not as UTF-8 (a file name may not be).
fn color_before_parsing() -> Option<clap::ColorChoice> {
    let mut args = std::env::args_os().skip(1).take_while(|a| a != "--");
    let mut found = None;
    while let Some(arg) = args.next() {
        // Only UTF-8 arguments can be `--color`; others are left to clap.
        let value = match arg.to_str().and_then(|a| a.strip_prefix("--color")) {
            Some("") => args.next().and_then(|v| v.into_string().ok()),
            Some(rest) => rest.strip_prefix('=').map(str::to_string),
            None => None,
        };
        if let Some(v) = value.and_then(|v| clap::ColorChoice::from_str(&v, false).ok()) {
            found = Some(v);
        }
    }
    found
}

/// clap's help, version and usage errors, written as nixcross writes
/// everything (clap's own `exit` ignores a write error: `--help >/dev/full`
/// exited 0): help and version through [`common::print`], where an error
/// other than a closed pipe exits 2; usage errors as nixcross's errors, with
/// the arguments they quote escaped.
fn clap_output(e: clap::Error) -> Exit {
    if !e.use_stderr() {
        common::print(&e.render().ansi().to_string());
        return Exit::of_clap(&e);
    }
    let plain = e.render().to_string();
    match plain.strip_prefix("error: ") {
        Some(message) => common::report(CliError::usage(message.trim_end())),
        // Help shown for a missing subcommand.
        None => {
            common::status(plain.trim_end());
            Exit::of_clap(&e)
        }
    }
}

/// Which arguments are not UTF-8, for the error that refuses them.
fn not_utf8() -> String {
    let bad: Vec<String> = std::env::args_os()
        .skip(1)
        .filter(|a| a.to_str().is_none())
        .map(|a| format!("`{}`", term::escape_os(&a)))
        .collect();
    format!(
        "{} {} not UTF-8: only a file path may hold other bytes; names, targets and \
         other values are text",
        bad.join(", "),
        if bad.len() == 1 { "is" } else { "are" }
    )
}

/// The stack nixcross runs on. The library refuses input nested deeper than
/// 512 levels (the library's `syntax::limits`), and rnix and nixcross's own walks
/// recurse at most that deep; 64 MiB (reserved, not used, until needed)
/// leaves room for that in unoptimized builds too.
const STACK_BYTES: u64 = 64 * 1024 * 1024;

fn main() -> ExitCode {
    if main_stack_can_grow(STACK_BYTES) {
        return run().into();
    }
    // A hard limit below it: a thread of that size instead.
    let worker = std::thread::Builder::new()
        .name("nixcross".into())
        .stack_size(STACK_BYTES as usize)
        .spawn(run);
    match worker.map(|w| w.join()) {
        Ok(Ok(exit)) => exit.into(),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        // No thread either (a tight ulimit): run on the main thread.
        Err(_) => run().into(),
    }
}

/// Whether the main thread's stack can grow to `bytes`, raising the soft
/// `RLIMIT_STACK` to that when the hard limit allows. Linux grows the main
/// stack on demand and checks the soft limit at each growth, and it leaves
/// at least 128 MiB below the stack for it, so a raised limit is as good as
/// a thread of that size, without starting one. Processes nixcross starts
/// (`nix` for `doctor`) inherit the raised soft limit.
fn main_stack_can_grow(bytes: u64) -> bool {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let enough = |limit: Option<u64>| limit.is_none_or(|l| l >= bytes);
    let now = getrlimit(Resource::Stack);
    if enough(now.current) {
        return true;
    }
    enough(now.maximum)
        && setrlimit(
            Resource::Stack,
            Rlimit {
                current: Some(bytes),
                maximum: now.maximum,
            },
        )
        .is_ok()
}

fn run() -> Exit {
    // One operation, then exit: the OS takes the syntax trees back at once.
    let _keep = nixcross::flake::KeepTreesUntilExit::new();
    // `COMPLETE=<shell> nixcross ...`: answer the shell and exit.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    term::remember_args(std::env::args_os());
    if let Some(choice) = color_before_parsing() {
        common::set_color(choice);
    }
    let cli = match Cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        // clap says only that some argument is not UTF-8: name it.
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            return common::report(CliError::usage(not_utf8()));
        }
        Err(e) => return clap_output(e),
    };
    common::set_color(cli.color);
    common::set_quiet(cli.quiet);
    let result = match cli.command {
        Command::Init(args) => cmd::init::run(args),
        Command::Targets(args) => cmd::targets::run(args),
        Command::Show(args) => cmd::show::run(args),
        Command::SetTarget(args) => cmd::set_target::run(args),
        Command::AddOverlay(args) => cmd::add_overlay::run(args),
        Command::AddConfig(args) => cmd::add_config::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Schema(args) => cmd::schema::run(args),
        Command::Emulate(args) => cmd::emulate::run(args),
        Command::AddBuilder(args) => cmd::add_builder::run(args),
        Command::Binfmt(args) => cmd::binfmt::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Completions { shell } => complete::registration(shell, &complete::completer())
            .map(|script| {
                common::print(&script);
                Exit::Success
            })
            .map_err(CliError::usage),
        Command::Man(args) => cmd::man::run(Cli::command(), args),
    };
    match result {
        Ok(exit) => exit,
        Err(err) => common::report(err),
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
