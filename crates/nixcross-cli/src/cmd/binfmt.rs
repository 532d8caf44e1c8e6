//! `nixcross binfmt line` and `nixcross binfmt detect`.

use std::path::PathBuf;

use nixcross::binfmt::{self, Flags, Registration};

use crate::common::{self, note, print, print_json};
use crate::complete;
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;
use clap_complete::engine::ArgValueCandidates;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print the binfmt_misc registration NixOS would write for a system
    #[command(after_help = LINE_EXAMPLES)]
    Line(LineArgs),
    /// Tell which system a binary is for, and which NixOS magics claim it
    #[command(after_help = DETECT_EXAMPLES)]
    Detect(DetectArgs),
}

const LINE_EXAMPLES: &str = "\
Examples:
  nixcross binfmt line riscv64-linux
      :riscv64-linux:M::\\x7fELF\\x02...:\\xff...:/run/binfmt/riscv64-linux:P
  nixcross binfmt line aarch64-linux --interpreter /usr/bin/qemu-aarch64-static --flags PF \\
      --format binfmt.d --nix-conf
  nixcross binfmt line aarch64-linux --interpreter /usr/bin/qemu-aarch64-static --flags F \\
      | sudo tee /proc/sys/fs/binfmt_misc/register

Defaults follow NixOS (boot.binfmt.emulatedSystems): the name is the system, the
interpreter /run/binfmt/<system>, flags P for QEMU and none for wasm and Windows.
Flags: P keep argv[0], O open binary, C credentials (implies O), F open the
interpreter now (kernel 4.8+; needed in containers, chroots and without
extra-sandbox-paths, with a static interpreter).
Exit codes: 0 printed, 2 unknown system, a system NixOS cannot emulate, or a
registration the kernel would reject.";

const DETECT_EXAMPLES: &str = "\
Examples:
  nixcross binfmt detect ./result/bin/hello
  nixcross binfmt detect --json /usr/aarch64-linux-gnu/lib/libc.so.6 ./app.exe

JSON: [{\"file\", \"systems\", \"format\", \"class\", \"endian\", \"machine\", \"kind\", \"abi\", \"magics\", ...}].
Exit codes: 0 every file decoded, 2 a file was missing, truncated or not a binary
(the other files are still reported).";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LineFormat {
    /// The bare registration line
    Line,
    /// A systemd /etc/binfmt.d/*.conf file with a comment header
    #[value(name = "binfmt.d")]
    BinfmtD,
}

#[derive(clap::Args, Debug)]
struct LineArgs {
    /// System double, pkgsCross name or config triple (e.g. riscv64-linux)
    #[arg(add = ArgValueCandidates::new(complete::emulated_systems))]
    system: String,
    /// The interpreter path (default /run/binfmt/<system>, as NixOS)
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    interpreter: Option<String>,
    /// Flag letters from P, O, C, F (default P for QEMU, none for wasm/Windows)
    #[arg(long, value_name = "LETTERS")]
    flags: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "line")]
    format: LineFormat,
    /// Also print the nix.conf lines a non-NixOS host needs
    #[arg(long)]
    nix_conf: bool,
}

#[derive(clap::Args, Debug)]
struct DetectArgs {
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Files to inspect
    #[arg(required = true, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> CmdResult {
    match args.command {
        Command::Line(a) => line(a),
        Command::Detect(a) => detect(a),
    }
}

/// The system a `binfmt line` argument names: a binfmt key as is
/// (`i386-linux`, `mips64-linuxabin32`), otherwise resolved.
fn system_for(input: &str) -> Result<String, CliError> {
    let cat = nixcross::platform::catalogue();
    if cat.can_emulate(input) {
        return Ok(input.to_string());
    }
    let target = nixcross::platform::resolve(input)?;
    Ok(target.system)
}

fn line(a: LineArgs) -> CmdResult {
    let system = system_for(&a.system)?;
    let mut reg = Registration::for_system(&system)?;
    if let Some(interp) = a.interpreter {
        reg.interpreter = interp;
    } else if a.format == LineFormat::BinfmtD || a.nix_conf {
        note(&format!(
            "/run/binfmt/{system} is where NixOS links the emulator; on other distros pass --interpreter (e.g. /usr/bin/qemu-{}-static)",
            binfmt::qemu_arch(&system).unwrap_or("<arch>")
        ));
    }
    if let Some(flags) = a.flags {
        reg.flags = Flags::parse(&flags)?;
    }
    let mut out = match a.format {
        LineFormat::Line => {
            let mut l = reg.line()?;
            l.push('\n');
            l
        }
        LineFormat::BinfmtD => reg.binfmt_d()?,
    };
    if a.nix_conf {
        out.push('\n');
        out.push_str(&reg.nix_conf());
    }
    print(&out);
    Ok(Exit::Success)
}

#[derive(serde::Serialize)]
struct FileReport<'a> {
    file: String,
    #[serde(flatten)]
    detection: &'a binfmt::Detection,
}

/// How much of a file `binfmt detect` reads: the ELF header is 64 bytes,
/// the kernel looks at 256, and a PE header sits within the first few hundred
/// bytes (its offset is at 0x3c); 64 KiB leaves room for odd PE files.
const DETECT_HEAD: usize = 64 * 1024;

fn detect(a: DetectArgs) -> CmdResult {
    let mut failed = false;
    let mut reports = Vec::new();
    for file in &a.files {
        let result = crate::fs::read_head(file, DETECT_HEAD)
            .map_err(|e| e.to_string())
            .and_then(|bytes| binfmt::detect(&bytes).map_err(|e| e.message));
        match result {
            Ok(d) => reports.push((file.display().to_string(), d)),
            Err(msg) => {
                failed = true;
                common::report(CliError::usage(format!("{}: {msg}", file.display())));
            }
        }
    }
    if a.json {
        let json: Vec<FileReport> = reports
            .iter()
            .map(|(file, d)| FileReport {
                file: file.clone(),
                detection: d,
            })
            .collect();
        print_json(&json);
    } else {
        let mut out = String::new();
        for (file, d) in &reports {
            out.push_str(&human(file, d));
        }
        print(&out);
    }
    Ok(if failed { Exit::Error } else { Exit::Success })
}

fn human(file: &str, d: &binfmt::Detection) -> String {
    let mut head = vec![format!("{:?}", d.format).to_uppercase()];
    if let Some(c) = d.class {
        head.push(format!("{c}-bit"));
    }
    if let Some(e) = d.endian {
        head.push(match e {
            binfmt::Endian::Little => "LSB".into(),
            binfmt::Endian::Big => "MSB".into(),
        });
    }
    if let Some(k) = &d.kind {
        head.push(k.clone());
    }
    head.push(d.machine.clone());
    if let Some(abi) = &d.abi {
        head.push(format!("({abi})"));
    }
    let systems = if d.systems.is_empty() {
        "no nixpkgs system".to_string()
    } else {
        d.systems.join(", ")
    };
    let magics = if d.magics.is_empty() {
        "none".to_string()
    } else {
        d.magics.join(", ")
    };
    format!(
        "{}: {}\n  system: {systems}\n  NixOS binfmt magics: {magics}\n",
        crate::term::escape(file),
        crate::term::escape(&head.join(" "))
    )
}
