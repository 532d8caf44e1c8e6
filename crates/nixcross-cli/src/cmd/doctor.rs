//! `nixcross doctor`: read the host under `--root`, diagnose, print.

use std::path::{Path, PathBuf};

use nixcross::files::FileError;
use std::process::Command;

use nixcross::doctor::{self, builders, HostInput, NixConf, Probe, ProbeRun, Report, Strategy};

use crate::common::{self, print, print_json};
use crate::complete;
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;
use crate::fs::RootFiles;
use crate::term::escape;
use clap_complete::engine::ArgValueCandidates;

const EXAMPLES: &str = "\
Examples:
  nixcross doctor                                what this host can build, and how
  nixcross doctor --target riscv64-linux --target raspberryPi
  nixcross doctor --target aarch64-linux --json | jq '.targets[0].emulation'
  nixcross doctor --root /mnt --target aarch64-linux   a mounted system or a test fixture
  nixcross doctor --target aarch64-linux --probe  is each remote builder reachable, and trusted?
  nixcross doctor --builders 'ssh-ng://nix@pi5 aarch64-linux' --probe

For each target: cross (needs only Nix; no binary cache), emulation (binfmt_misc
registration, interpreter visible in the sandbox, extra-platforms) and remote
(a builder in /etc/nix/machines or `builders`), each with problems and the exact
lines that fix them. Without --target the report covers the systems the host
already claims (binfmt entries, extra-platforms, remote builders).

Remote builders are listed with the systems each serves. --builders takes a
value of nix.conf's `builders` setting (machines separated by `;`, `@FILE` to
read a machines file) and replaces the setting, as `nix --builders` does.
--probe runs `nix store info --store <uri>` (`nix store ping` before Nix 2.19)
for each builder, with ssh in batch mode and a timeout, and says whether it is
reachable, refuses the login, has no Nix on its PATH, or does not trust the
user; run it as root (sudo) to test with the SSH keys the nix daemon uses.
Reads <root>/proc/sys/fs/binfmt_misc/*, <root>/proc/sys/kernel/{osrelease,arch},
<root>/etc/nix/nix.conf (includes followed), <root>/etc/nix/machines; paths,
symlinks and includes resolve inside the root as if it were / (nothing outside is read),
and runs `nix --version` only when --root is /.

Exit codes: 0 every --target can be built as a native derivation here (emulation
or a remote builder), or no --target was given; 1 some --target can only be
cross-compiled; 2 bad input (unknown target, unreadable root).";

#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Target to check: system double, pkgsCross name or config triple (repeatable)
    #[arg(long = "target", short = 't', value_name = "T", add = ArgValueCandidates::new(complete::targets))]
    targets: Vec<String>,
    /// Root of the system to inspect
    #[arg(long, value_name = "DIR", default_value = "/", value_hint = clap::ValueHint::DirPath)]
    root: PathBuf,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Remote builders to check instead of nix.conf's `builders` setting
    /// (same syntax: `uri systems ...` separated by `;`, or `@FILE`)
    #[arg(long, value_name = "BUILDERS")]
    builders: Option<String>,
    /// Connect to each remote builder (`nix store info`) and report whether it works
    #[arg(long)]
    probe: bool,
    /// Seconds to wait for each builder to answer
    #[arg(long, value_name = "SECS", default_value_t = 10, requires = "probe", value_parser = clap::value_parser!(u64).range(1..=600))]
    probe_timeout: u64,
}

/// Reads under the root; a file that exists but cannot be read is noted.
struct Reader {
    files: RootFiles,
    unreadable: Vec<(String, String)>,
}

impl Reader {
    fn read(&mut self, abs: &str) -> Option<String> {
        match self.files.read(abs) {
            Ok(t) => Some(t),
            Err(FileError::NotFound) => None,
            Err(e) => {
                self.unreadable.push((abs.to_string(), e.to_string()));
                None
            }
        }
    }
}

/// Fill the library's input from the files under `root`, every path and
/// symlink resolved inside it (see [`RootFiles`]); `builders_arg` is the
/// `--builders` value.
pub fn gather(root: &Path, builders_arg: Option<&str>) -> Result<HostInput, CliError> {
    let files = RootFiles::new(root).map_err(|e| {
        CliError::usage(format!("{}: cannot inspect this root: {e}", root.display()))
    })?;
    let host = files.is_host();
    let mut r = Reader {
        files,
        unreadable: Vec::new(),
    };
    let mut input = HostInput::default();
    let bm = "/proc/sys/fs/binfmt_misc";
    input.binfmt_status = r.read(&format!("{bm}/status"));
    input.binfmt_mounted = input.binfmt_status.is_some();
    if let Ok(names) = r.files.list(bm) {
        for name in names {
            if name == "status" || name == "register" || name.contains('/') {
                continue;
            }
            if let Some(text) = r.read(&format!("{bm}/{name}")) {
                input.binfmt_entries.push((name, text));
            }
        }
    }
    input.osrelease = r.read("/proc/sys/kernel/osrelease");
    input.kernel_arch = r.read("/proc/sys/kernel/arch");
    if host {
        input.fallback_system = nixcross::platform::current_system();
    }
    input.nixos = r.files.exists("/etc/NIXOS")
        || r.read("/etc/os-release")
            .is_some_and(|t| t.lines().any(|l| l.trim() == "ID=nixos"));
    let conf_path = "/etc/nix/nix.conf";
    if let Some(text) = r.read(conf_path) {
        let mut load = |p: &str| r.read(p);
        let conf = NixConf::parse(&text, conf_path, &mut load);
        input.nix_conf = Some(conf);
    }
    input.builders = builders_arg.map(str::to_string);
    for f in builders::files_to_read(input.nix_conf.as_ref(), builders_arg) {
        if let Some(text) = r.read(&f) {
            input.machines_files.push((f, text));
        }
    }
    if host {
        match Command::new("nix").arg("--version").output() {
            Ok(out) if out.status.success() => {
                input.nix_found = Some(true);
                input.nix_version = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
            }
            _ => input.nix_found = Some(false),
        }
    }
    input.unreadable = r.unreadable;
    Ok(input)
}

/// Run `nix` with `args`, for at most `timeout` seconds, with ssh in batch
/// mode (no prompt can hang the probe).
fn run_probe(args: &[String], timeout: u64) -> ProbeRun {
    use std::io::Read;
    use std::process::Stdio;
    use wait_timeout::ChildExt;
    let mut sshopts = std::env::var("NIX_SSHOPTS").unwrap_or_default();
    sshopts.push_str(&format!(" -o BatchMode=yes -o ConnectTimeout={timeout}"));
    let child = Command::new("nix")
        .args(args)
        .env("NIX_SSHOPTS", sshopts.trim())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return ProbeRun {
                not_started: Some(format!("cannot run `nix`: {e}")),
                ..ProbeRun::default()
            }
        }
    };
    // Read both pipes on threads, so a chatty child cannot block on a full pipe.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    match child.wait_timeout(std::time::Duration::from_secs(timeout)) {
        Ok(Some(status)) => ProbeRun {
            success: status.success(),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            ..ProbeRun::default()
        },
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            // The readers may wait on an ssh that outlives nix: leave them.
            ProbeRun {
                timed_out: Some(timeout),
                ..ProbeRun::default()
            }
        }
    }
}

/// Probe every builder of `input` (in parallel), filling `input.probes`.
fn probe_all(input: &mut HostInput, timeout: u64) {
    let conf = input.nix_conf.clone().unwrap_or_default();
    let mut ignored = Vec::new();
    let listed = builders::list(input, &conf, &mut ignored);
    let version = match Command::new("nix").arg("--version").output() {
        Ok(out) if out.status.success() => {
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        _ => None,
    };
    let mut uris: Vec<(String, Vec<String>)> = Vec::new();
    for b in &listed {
        let uri = b.machine.uri.to_string();
        if !uris.iter().any(|(u, _)| *u == uri) {
            uris.push((uri, builders::probe_command(&b.machine, version.as_deref())));
        }
    }
    let runs: Vec<(String, ProbeRun)> = std::thread::scope(|scope| {
        let handles: Vec<_> = uris
            .into_iter()
            .map(|(uri, args)| scope.spawn(move || (uri, run_probe(&args, timeout))))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    input.probes = runs;
    input.probed_as_root = std::fs::metadata("/proc/self")
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
}

pub fn run(args: Args) -> CmdResult {
    let mut input = gather(&args.root, args.builders.as_deref())?;
    if args.probe {
        probe_all(&mut input, args.probe_timeout);
    }
    let report = doctor::diagnose(&input, &args.targets)?;
    if args.json {
        print_json(&report);
    } else {
        print(&human(&report, common::stdout_has_color()));
    }
    let all_ready = report.targets.iter().all(|t| t.native_ready());
    Ok(if args.targets.is_empty() || all_ready {
        Exit::Success
    } else {
        Exit::CheckFailed
    })
}

struct Marks {
    ok: String,
    no: String,
}

fn strategy(out: &mut String, m: &Marks, name: &str, s: &Strategy, extra: &str) {
    let mark = if s.ready { &m.ok } else { &m.no };
    let verdict = if s.ready { "ready" } else { "not ready" };
    out.push_str(&format!("  {mark} {name:<10} {verdict}{}\n", escape(extra)));
    for p in &s.problems {
        out.push_str(&format!("      - {}\n", escape(p)));
    }
    for f in &s.fixes {
        out.push_str(&format!(
            "      fix {}: {}\n",
            escape(&f.place),
            escape(&f.line)
        ));
    }
    for n in &s.notes {
        out.push_str(&format!("      note: {}\n", escape(n)));
    }
}

/// The human report. Marks are a green ✓ and a red ✗ in colour, `ok` and
/// `no` otherwise.
pub fn human(r: &Report, color: bool) -> String {
    use common::{BAD, GOOD};
    let m = if color {
        Marks {
            ok: format!("{GOOD}✓{GOOD:#}"),
            no: format!("{BAD}✗{BAD:#}"),
        }
    } else {
        Marks {
            ok: "ok".into(),
            no: "no".into(),
        }
    };
    let mut out = String::new();
    let kernel = match (&r.kernel.release, r.kernel.fix_binary) {
        (Some(rel), Some(f)) => format!(
            "{rel} (F flag {})",
            if f {
                "supported"
            } else {
                "NOT supported: older than 4.8"
            }
        ),
        (Some(rel), None) => rel.clone(),
        (None, _) => "unknown".into(),
    };
    out.push_str(&format!("kernel    {}\n", escape(&kernel)));
    out.push_str(&format!(
        "host      {}{}\n",
        escape(r.nix.system.as_deref().unwrap_or("unknown")),
        if r.nixos { " (NixOS)" } else { "" }
    ));
    let conf = if r.nix.config_files.is_empty() {
        "no nix.conf".to_string()
    } else {
        r.nix.config_files.join(", ")
    };
    out.push_str(&format!(
        "nix       {}; {}; flakes {}; sandbox {}; platforms {}\n",
        escape(r.nix.version.as_deref().unwrap_or("version not checked")),
        escape(&conf),
        if r.nix.flakes { "on" } else { "off" },
        if r.nix.sandbox { "on" } else { "off" },
        escape(&r.nix.platforms.join(" "))
    ));
    // Problems read as sentences ("flakes are not enabled"), so they get a
    // dash, as under each strategy, not the `no` mark.
    for p in &r.nix.problems {
        out.push_str(&format!("      - {}\n", escape(p)));
    }
    for f in &r.nix.fixes {
        out.push_str(&format!(
            "      fix {}: {}\n",
            escape(&f.place),
            escape(&f.line)
        ));
    }
    let b = &r.binfmt_state;
    out.push_str(&format!(
        "binfmt    {}\n",
        if !b.mounted {
            "binfmt_misc not mounted".to_string()
        } else {
            format!(
                "{}, {} entr{}",
                match b.enabled {
                    Some(true) => "enabled",
                    Some(false) => "DISABLED",
                    None => "status unknown",
                },
                b.entries.len(),
                if b.entries.len() == 1 { "y" } else { "ies" }
            )
        }
    ));
    for e in &b.entries {
        out.push_str(&format!(
            "  {} {} [{}] {} -> {}\n",
            if e.enabled { &m.ok } else { &m.no },
            escape(&e.name),
            escape(&e.flags),
            escape(e.interpreter.as_deref().unwrap_or("?")),
            escape(&if let Some(err) = &e.error {
                format!("unreadable: {err}")
            } else if e.systems.is_empty() {
                "no NixOS system".into()
            } else {
                e.systems.join(", ")
            })
        ));
    }
    builders_section(&mut out, &m, r);
    if r.targets.is_empty() {
        out.push_str("\nno targets: pass --target <T> to check one\n");
    }
    for t in &r.targets {
        out.push('\n');
        match &t.input {
            Some(i) => out.push_str(&format!("{} ({})\n", escape(&t.system), escape(i))),
            None => out.push_str(&format!("{}\n", escape(&t.system))),
        }
        strategy(&mut out, &m, "cross", &t.cross, "");
        let via = t
            .binfmt_entry
            .as_ref()
            .map(|e| format!(" (binfmt entry {e})"))
            .unwrap_or_default();
        strategy(&mut out, &m, "emulation", &t.emulation, &via);
        let remote = if t.remote_builders.is_empty() {
            String::new()
        } else {
            format!(" ({})", t.remote_builders.join(", "))
        };
        strategy(&mut out, &m, "remote", &t.remote, &remote);
    }
    out
}

/// The builders: each with the systems it serves, where it is listed, and
/// the probe's verdict.
fn builders_section(out: &mut String, m: &Marks, r: &Report) {
    let b = &r.nix.builders;
    if b.is_empty() {
        match r.nix.unread_builder_files.as_slice() {
            [] => out.push_str("builders  none\n"),
            unread => out.push_str(&format!(
                "builders  none read: {} not read (see nix above)\n",
                unread
                    .iter()
                    .map(|f| format!("@{}", crate::term::escape(f)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        return;
    }
    out.push_str(&format!(
        "builders  {} (builders-use-substitutes {})\n",
        b.len(),
        if r.nix.builders_use_substitutes {
            "on"
        } else {
            "off"
        }
    ));
    for b in b {
        let mc = &b.machine;
        let systems = if mc.systems.is_empty() {
            "the local system".to_string()
        } else {
            mc.systems.join(", ")
        };
        let mut extra = Vec::new();
        if let Some(j) = mc.max_jobs {
            extra.push(format!("{j} jobs"));
        }
        if let Some(s) = mc.speed_factor {
            extra.push(format!("speed {s}"));
        }
        if !mc.supported_features.is_empty() {
            extra.push(mc.supported_features.join(","));
        }
        if !mc.mandatory_features.is_empty() {
            extra.push(format!("only {}", mc.mandatory_features.join(",")));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join("; "))
        };
        let mark = if b.usable() { &m.ok } else { &m.no };
        let probe = match &b.probe {
            None => String::new(),
            Some(Probe::Reachable { trusted, version }) => format!(
                ": reachable{}{}",
                version
                    .as_ref()
                    .map(|v| format!(", Nix {v}"))
                    .unwrap_or_default(),
                match trusted {
                    Some(true) => ", trusted",
                    Some(false) => ", NOT trusted",
                    None => "",
                }
            ),
            Some(Probe::Unreachable { .. }) => ": unreachable".into(),
            Some(Probe::Authentication { .. }) => ": login refused".into(),
            Some(Probe::NoRemoteNix { .. }) => ": no Nix on its PATH".into(),
            Some(Probe::Failed { .. }) => ": probe failed".into(),
            Some(Probe::NotRun { .. }) => ": not probed".into(),
            // `Probe` is non-exhaustive: a verdict added to the library later.
            Some(_) => ": probe failed".into(),
        };
        out.push_str(&format!(
            "  {mark} {} -> {}{} [{}]{}\n",
            escape(&mc.uri.to_string()),
            escape(&systems),
            escape(&extra),
            escape(&b.source),
            escape(&probe)
        ));
        for p in &b.problems {
            out.push_str(&format!("      - {}\n", escape(p)));
        }
        for f in &b.fixes {
            out.push_str(&format!(
                "      fix {}: {}\n",
                escape(&f.place),
                escape(&f.line)
            ));
        }
    }
}
