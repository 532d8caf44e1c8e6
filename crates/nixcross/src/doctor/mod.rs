//! Host diagnosis: can this machine build a target by cross-compiling, under
//! binfmt_misc emulation, or on a remote builder?
//!
//! Pure: the caller (the CLI, reading a root directory it was given) fills a
//! [`HostInput`]; [`diagnose`] returns a [`Report`] with problems and the
//! exact lines that fix them.
//!
//! Emulated builds need (nixpkgs' `nixos/modules/system/boot/binfmt.nix`):
//! binfmt_misc mounted and enabled; an enabled registration whose magic
//! claims the target's binaries; the interpreter reachable inside the Nix
//! sandbox (the `F` flag with a static interpreter, or `extra-sandbox-paths`,
//! or no sandbox); and the system in `extra-platforms`. `F` needs kernel 4.8.

pub mod builders;
mod nixconf;

pub use builders::{BuilderReport, Probe, ProbeRun};
pub use nixconf::NixConf;

use crate::binfmt::{self, decoded_magic, Entry, Registration};
use crate::error::Result;
use crate::platform::{catalogue, resolve};

/// What the caller read from the host. Every field is optional knowledge:
/// `None` means "not read", which the report says instead of guessing.
#[derive(Debug, Clone, Default)]
pub struct HostInput {
    /// `<root>/proc/sys/fs/binfmt_misc/status` exists (the filesystem is mounted).
    pub binfmt_mounted: bool,
    /// Content of the `status` file (`enabled`/`disabled`).
    pub binfmt_status: Option<String>,
    /// Every other file in the binfmt_misc folder: (name, text).
    pub binfmt_entries: Vec<(String, String)>,
    /// `<root>/proc/sys/kernel/osrelease`.
    pub osrelease: Option<String>,
    /// `<root>/proc/sys/kernel/arch` (`x86_64`, `aarch64`, ...).
    pub kernel_arch: Option<String>,
    /// The system nixcross runs on, used when nothing else says.
    pub fallback_system: Option<String>,
    /// `<root>/etc/NIXOS` exists or os-release says `ID=nixos`.
    pub nixos: bool,
    /// Parsed `<root>/etc/nix/nix.conf`, includes followed; `None` if absent.
    pub nix_conf: Option<NixConf>,
    /// Machines files named by `builders` (default `/etc/nix/machines`):
    /// (path, text); [`builders::files_to_read`] says which.
    pub machines_files: Vec<(String, String)>,
    /// `--builders` text, which replaces nix.conf's `builders` setting (as
    /// `nix --builders` does).
    pub builders: Option<String>,
    /// Probe outcomes by builder store URI (`--probe`).
    pub probes: Vec<(String, ProbeRun)>,
    /// Whether the probes ran as root, whose SSH configuration the nix
    /// daemon uses; `None` when unknown.
    pub probed_as_root: Option<bool>,
    /// `nix --version` output; `None` if not asked.
    pub nix_version: Option<String>,
    /// `Some(false)` when Nix was looked for on PATH and not found.
    pub nix_found: Option<bool>,
    /// Files that exist but could not be read: (path, reason). Each is
    /// reported as a problem instead of being taken for missing.
    pub unreadable: Vec<(String, String)>,
}

/// One fix: a line and where it goes (`/etc/nix/nix.conf`, `configuration.nix`,
/// a binfmt.d file, or `shell` for a command).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Fix {
    /// Where the line goes (serialized as `where`).
    #[serde(rename = "where")]
    pub place: String,
    /// The line to add, or the command to run.
    pub line: String,
}

fn fix(place: &str, line: impl Into<String>) -> Fix {
    Fix {
        place: place.to_string(),
        line: line.into(),
    }
}

/// The running kernel, as far as it matters for binfmt_misc.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Kernel {
    /// `osrelease` as read (trimmed); `None` when not read.
    pub release: Option<String>,
    /// Major and minor version from the release ([`kernel_version`]).
    pub version: Option<(u32, u32)>,
    /// Whether the kernel supports the `F` flag (4.8+); `None` if unknown.
    pub fix_binary: Option<bool>,
}

/// One binfmt_misc entry of the host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct EntryReport {
    /// The file name in the binfmt_misc folder.
    pub name: String,
    /// Whether it is enabled (`false` when it could not be parsed).
    pub enabled: bool,
    /// Its interpreter, when the file shows one.
    pub interpreter: Option<String>,
    /// Its flag letters as shown.
    pub flags: String,
    /// NixOS systems whose binaries this entry claims.
    pub systems: Vec<String>,
    /// Why the file could not be parsed, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Nix on the host: its settings, builders and what is missing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct NixReport {
    /// `nix --version` output, when the caller ran it.
    pub version: Option<String>,
    /// Whether `nix` was found on PATH; `None` when not looked for.
    pub found: Option<bool>,
    /// The nix.conf files read (inside the root), includes followed.
    pub config_files: Vec<String>,
    /// The host system (nix.conf `system`, else the kernel's arch).
    pub system: Option<String>,
    /// nix.conf's `experimental-features`.
    pub experimental_features: Vec<String>,
    /// Whether `flakes` is among them.
    pub flakes: bool,
    /// Whether builds run in the sandbox (unless nix.conf says
    /// `sandbox = false`).
    pub sandbox: bool,
    /// The systems Nix builds for: `system` plus `extra-platforms` (Nix's own
    /// default `i686-linux` on x86_64 when the setting is absent).
    pub platforms: Vec<String>,
    /// nix.conf's `sandbox-paths` (or an older name of it).
    pub sandbox_paths: Vec<String>,
    /// The remote builders Nix would use, with the systems each serves.
    pub builders: Vec<BuilderReport>,
    /// Whether nix.conf sets `builders-use-substitutes = true`.
    pub builders_use_substitutes: bool,
    /// Machines files the `builders` setting names that were not read (a
    /// relative path, too large, unreadable, missing): `builders` may lack
    /// what they list. Each has its problem in `problems`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread_builder_files: Vec<String>,
    /// What is wrong with Nix's setup, one sentence each.
    pub problems: Vec<String>,
    /// The lines that fix the problems.
    pub fixes: Vec<Fix>,
}

/// One way to build for a target (cross, emulation or a remote builder):
/// whether the host is ready for it, and if not, why and the fixes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Strategy {
    /// Whether builds can take this way now.
    pub ready: bool,
    /// What stands in the way, one sentence each.
    pub problems: Vec<String>,
    /// The lines that fix the problems.
    pub fixes: Vec<Fix>,
    /// What the user should know either way.
    pub notes: Vec<String>,
}

impl Strategy {
    fn new() -> Strategy {
        Strategy {
            ready: false,
            problems: Vec::new(),
            fixes: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The verdict for one target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TargetReport {
    /// The target's system double.
    pub system: String,
    /// What the user typed, when it was not the double itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The registration that claims the target (emulation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binfmt_entry: Option<String>,
    /// Cross-compiling on this host.
    pub cross: Strategy,
    /// Native builds under binfmt_misc emulation on this host.
    pub emulation: Strategy,
    /// Native builds on a remote builder.
    pub remote: Strategy,
    /// The remote builders whose systems include the target.
    pub remote_builders: Vec<String>,
}

impl TargetReport {
    /// The target can be built as a native derivation here or remotely.
    pub fn native_ready(&self) -> bool {
        self.emulation.ready || self.remote.ready
    }
}

/// binfmt_misc on the host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BinfmtReport {
    /// Whether the filesystem is mounted.
    pub mounted: bool,
    /// What its `status` file says; `None` when not read.
    pub enabled: Option<bool>,
    /// Its entries.
    pub entries: Vec<EntryReport>,
}

/// [`diagnose`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The kernel.
    pub kernel: Kernel,
    /// Whether the host runs NixOS.
    pub nixos: bool,
    /// binfmt_misc (serialized as `binfmt_misc`).
    #[serde(rename = "binfmt_misc")]
    pub binfmt_state: BinfmtReport,
    /// Same entries as `binfmt_misc.entries`, at the top level for scripts.
    pub binfmt: Vec<EntryReport>,
    /// Nix.
    pub nix: NixReport,
    /// One verdict per target.
    pub targets: Vec<TargetReport>,
}

/// `6.1.0-18-amd64` → (6, 1).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

/// The nixpkgs double for a kernel `uname -m` / `/proc/sys/kernel/arch`.
pub fn system_of_kernel_arch(arch: &str) -> Option<String> {
    let double = match arch.trim() {
        "x86_64" => "x86_64-linux",
        "aarch64" | "arm64" => "aarch64-linux",
        "armv7l" | "armv8l" => "armv7l-linux",
        "armv6l" => "armv6l-linux",
        "i386" | "i486" | "i586" | "i686" => "i686-linux",
        "riscv64" => "riscv64-linux",
        "ppc64le" => "powerpc64le-linux",
        "ppc64" => "powerpc64-linux",
        "s390x" => "s390x-linux",
        "loongarch64" => "loongarch64-linux",
        "mips64" => "mips64el-linux",
        _ => return None,
    };
    Some(double.to_string())
}

/// The systems whose NixOS magic `entry` claims (the magic itself, seen as a
/// header, is what a binary of that system starts with).
fn entry_systems(entry: &Entry) -> Vec<String> {
    catalogue()
        .binfmt
        .iter()
        .filter(|m| entry.matches(&decoded_magic(m).0))
        .map(|m| m.system.clone())
        .collect()
}

/// Diagnose the host for `targets` (system doubles, pkgsCross names, triples
/// or binfmt keys such as `i386-linux`). With no targets, the report covers
/// the systems the host already claims: those of enabled binfmt entries,
/// `extra-platforms` and remote builders (the host's own system left out).
pub fn diagnose(input: &HostInput, targets: &[String]) -> Result<Report> {
    let kernel_v = input.osrelease.as_deref().and_then(kernel_version);
    let kernel = Kernel {
        release: input.osrelease.as_ref().map(|s| s.trim().to_string()),
        version: kernel_v,
        fix_binary: kernel_v.map(|v| v >= (4, 8)),
    };

    // binfmt_misc
    let mut entries = Vec::new();
    let mut parsed = Vec::new();
    for (name, text) in &input.binfmt_entries {
        match Entry::parse(name, text) {
            Ok(e) => {
                entries.push(EntryReport {
                    name: name.clone(),
                    enabled: e.enabled,
                    interpreter: e.interpreter.clone(),
                    flags: e.flags.clone(),
                    systems: entry_systems(&e),
                    error: None,
                });
                parsed.push(e);
            }
            Err(err) => entries.push(EntryReport {
                name: name.clone(),
                enabled: false,
                interpreter: None,
                flags: String::new(),
                systems: Vec::new(),
                error: Some(err.message),
            }),
        }
    }
    let status_enabled = input
        .binfmt_status
        .as_deref()
        .map(|s| s.trim() == "enabled");
    let binfmt_state = BinfmtReport {
        mounted: input.binfmt_mounted,
        enabled: status_enabled,
        entries: entries.clone(),
    };

    // Nix
    let empty = NixConf::default();
    let conf = input.nix_conf.as_ref().unwrap_or(&empty);
    let host = conf
        .get("system")
        .map(str::to_string)
        .or_else(|| input.kernel_arch.as_deref().and_then(system_of_kernel_arch))
        .or_else(|| input.fallback_system.clone());
    let features = conf.list("experimental-features");
    let flakes = features.iter().any(|f| f == "flakes");
    let sandbox = !matches!(conf.get("sandbox"), Some("false"));
    let mut platforms: Vec<String> = host.iter().cloned().collect();
    match conf.get("extra-platforms") {
        Some(_) => platforms.extend(conf.list("extra-platforms")),
        // Nix's default extra-platforms on x86_64-linux.
        None if host.as_deref() == Some("x86_64-linux") => platforms.push("i686-linux".into()),
        None => {}
    }
    let sandbox_paths = conf.list("sandbox-paths");
    let mut builder_problems = Vec::new();
    let builders = builders::list(input, conf, &mut builder_problems);
    let conf_file = "/etc/nix/nix.conf";
    let mut nix = NixReport {
        version: input.nix_version.clone(),
        found: input.nix_found,
        config_files: conf.files.clone(),
        system: host.clone(),
        experimental_features: features.clone(),
        flakes,
        sandbox,
        platforms: platforms.clone(),
        sandbox_paths: sandbox_paths.clone(),
        builders: builders.clone(),
        builders_use_substitutes: conf.bool("builders-use-substitutes") == Some(true),
        unread_builder_files: Vec::new(),
        problems: builder_problems,
        fixes: Vec::new(),
    };
    if input.nix_found == Some(false) {
        nix.problems
            .push("Nix is not installed (no `nix` on PATH)".into());
        nix.fixes.push(fix(
            "shell",
            "sh <(curl -L https://nixos.org/nix/install) --daemon",
        ));
    }
    let unread_builders = builders::unread_files(input, conf);
    nix.unread_builder_files = unread_builders.iter().map(|(f, _)| f.clone()).collect();
    for (path, why) in &input.unreadable {
        // A builders file's problem is among the builders' above.
        if unread_builders.iter().any(|(f, _)| f == path) {
            continue;
        }
        nix.problems.push(format!(
            "cannot read {path}: {why}; the report may be incomplete"
        ));
    }
    nix.problems.extend(conf.include_problems.iter().cloned());
    for missing in &conf.missing_includes {
        nix.problems.push(format!(
            "nix.conf includes {missing}, which does not exist (Nix refuses to start)"
        ));
    }
    if !flakes {
        nix.problems
            .push("flakes are not enabled (nixcross writes flake.nix files)".into());
        if input.nixos {
            nix.fixes.push(fix(
                "configuration.nix",
                "nix.settings.experimental-features = [ \"nix-command\" \"flakes\" ];",
            ));
        } else {
            let mut all = features.clone();
            for f in ["nix-command", "flakes"] {
                if !all.iter().any(|x| x == f) {
                    all.push(f.into());
                }
            }
            nix.fixes.push(fix(
                conf_file,
                format!("experimental-features = {}", all.join(" ")),
            ));
        }
    }

    // Targets
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    if targets.is_empty() {
        let mut claimed: Vec<String> = Vec::new();
        for (e, rep) in parsed
            .iter()
            .zip(entries.iter().filter(|r| r.error.is_none()))
        {
            if e.enabled {
                claimed.extend(rep.systems.iter().cloned());
            }
        }
        claimed.extend(conf.list("extra-platforms"));
        claimed.extend(
            builders
                .iter()
                .flat_map(|b| b.machine.systems.iter().cloned()),
        );
        for s in catalogue().emulatable() {
            if claimed.iter().any(|c| c == s) && host.as_deref() != Some(s) {
                wanted.push((s.to_string(), None));
            }
        }
    } else {
        for t in targets {
            let system = if catalogue().can_emulate(t) {
                t.clone()
            } else {
                resolve(t)?.system
            };
            let input_name = (system != *t).then(|| t.clone());
            if !wanted.iter().any(|(s, _)| *s == system) {
                wanted.push((system, input_name));
            }
        }
    }

    let ctx = Ctx {
        input,
        kernel: &kernel,
        host: host.as_deref(),
        status_enabled,
        parsed: &parsed,
        platforms: &platforms,
        sandbox,
        sandbox_paths: &sandbox_paths,
        builders: &builders,
        conf,
    };
    let targets = wanted
        .into_iter()
        .map(|(system, input_name)| ctx.target(system, input_name))
        .collect();

    Ok(Report {
        kernel,
        nixos: input.nixos,
        binfmt: entries,
        binfmt_state,
        nix,
        targets,
    })
}

struct Ctx<'a> {
    input: &'a HostInput,
    kernel: &'a Kernel,
    host: Option<&'a str>,
    status_enabled: Option<bool>,
    parsed: &'a [Entry],
    platforms: &'a [String],
    sandbox: bool,
    sandbox_paths: &'a [String],
    builders: &'a [BuilderReport],
    conf: &'a NixConf,
}

/// Whether `path` is visible in the sandbox through one of `paths`
/// (`/in/sandbox[=/on/host]`, optionally suffixed `?`).
fn in_sandbox(path: &str, paths: &[String]) -> bool {
    paths.iter().any(|p| {
        let inside = p.split('=').next().unwrap_or("").trim_end_matches('?');
        let inside = inside.trim_end_matches('/');
        !inside.is_empty() && (path == inside || path.starts_with(&format!("{inside}/")))
    })
}

impl Ctx<'_> {
    fn platforms_fix(&self, system: &str) -> Fix {
        let mut list: Vec<String> = self.conf.list("extra-platforms");
        if self.conf.get("extra-platforms").is_none() && self.host == Some("x86_64-linux") {
            // Setting it replaces Nix's default, so keep i686-linux.
            list.push("i686-linux".into());
        }
        if !list.iter().any(|s| s == system) {
            list.push(system.to_string());
        }
        fix(
            "/etc/nix/nix.conf",
            format!("extra-platforms = {}", list.join(" ")),
        )
    }

    fn target(&self, system: String, input_name: Option<String>) -> TargetReport {
        let cross = self.cross(&system);
        let (emulation, binfmt_entry) = self.emulation(&system);
        let (remote, remote_builders) = self.remote(&system);
        TargetReport {
            system,
            input: input_name,
            binfmt_entry,
            cross,
            emulation,
            remote,
            remote_builders,
        }
    }

    fn cross(&self, system: &str) -> Strategy {
        let mut s = Strategy::new();
        if self.input.nix_found == Some(false) {
            s.problems.push("Nix is not installed".into());
        }
        if system.ends_with("-darwin") && !self.host.is_some_and(|h| h.ends_with("-darwin")) {
            s.problems
                .push("nixpkgs cannot cross-compile to Darwin from Linux".into());
        }
        s.ready = s.problems.is_empty();
        s.notes.push(
            "needs nothing on the host beyond Nix; the binary cache has no cross builds, so everything compiles locally"
                .into(),
        );
        s
    }

    fn emulation(&self, system: &str) -> (Strategy, Option<String>) {
        let mut s = Strategy::new();
        let on_platforms = self.platforms.iter().any(|p| p == system);
        if self.host == Some(system) {
            s.ready = true;
            s.notes
                .push("this is the host's own system: builds run natively".into());
            return (s, None);
        }
        if self.host == Some("x86_64-linux") && system == "i686-linux" {
            // The kernel runs 32-bit x86 natively; Nix only has to accept it.
            if !on_platforms {
                s.problems
                    .push("i686-linux is not in extra-platforms (setting extra-platforms replaced Nix's default)".into());
                s.fixes.push(self.platforms_fix(system));
            }
            s.ready = s.problems.is_empty();
            s.notes
                .push("x86_64 kernels run i686 binaries natively, without binfmt_misc".into());
            return (s, None);
        }
        let Some(magic) = catalogue().magic(system) else {
            s.problems.push(format!(
                "NixOS has no binfmt magic for {system}, so it cannot be emulated"
            ));
            return (s, None);
        };
        let header = decoded_magic(magic).0;
        let fix_ok = self.kernel.fix_binary != Some(false);
        let nixos = self.input.nixos;
        let mut nixos_fix = false;
        let mut conf_changed = false;

        if !self.input.binfmt_mounted {
            s.problems
                .push("binfmt_misc is not mounted (no /proc/sys/fs/binfmt_misc/status)".into());
            if nixos {
                nixos_fix = true;
            } else {
                s.fixes.push(fix(
                    "shell",
                    "sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc",
                ));
            }
        } else if self.status_enabled == Some(false) {
            s.problems
                .push("binfmt_misc is disabled (status: disabled)".into());
            s.fixes.push(fix(
                "shell",
                "echo 1 | sudo tee /proc/sys/fs/binfmt_misc/status",
            ));
        }

        // The kernel uses the first enabled match (newest first); any enabled one will do.
        let matching: Vec<&Entry> = self.parsed.iter().filter(|e| e.matches(&header)).collect();
        let enabled = matching.iter().find(|e| e.enabled);
        let entry_name = enabled.map(|e| e.name.clone());
        match enabled {
            None => {
                if let Some(off) = matching.first() {
                    s.problems.push(format!(
                        "the binfmt_misc entry `{}` handles {system} but is disabled",
                        off.name
                    ));
                    s.fixes.push(fix(
                        "shell",
                        format!("echo 1 | sudo tee /proc/sys/fs/binfmt_misc/{}", off.name),
                    ));
                } else {
                    s.problems.push(format!(
                        "no binfmt_misc registration handles {system} binaries"
                    ));
                    if nixos {
                        nixos_fix = true;
                    } else {
                        let mut reg = Registration::for_system(system)
                            .expect("a catalogue magic always makes a registration");
                        if let Some(arch) = binfmt::qemu_arch(system) {
                            reg.interpreter = format!("/usr/bin/qemu-{arch}-static");
                            reg.flags.fix_binary = fix_ok;
                        }
                        if let Ok(line) = reg.line() {
                            s.fixes.push(fix(&reg.binfmt_d_path(), line));
                            s.fixes
                                .push(fix("shell", "sudo systemctl restart systemd-binfmt"));
                        }
                        if binfmt::qemu_arch(system).is_some() {
                            s.notes.push(format!(
                                "{} is a static QEMU (Debian/Ubuntu: qemu-user-static)",
                                reg.interpreter
                            ));
                        } else {
                            s.notes.push(format!(
                                "point {} at the emulator for {system} (wasmtime or wine)",
                                reg.interpreter
                            ));
                        }
                        if !reg.flags.fix_binary && self.sandbox {
                            s.fixes.push(fix(
                                "/etc/nix/nix.conf",
                                format!("extra-sandbox-paths = {}", reg.interpreter),
                            ));
                            conf_changed = true;
                        }
                    }
                }
            }
            Some(e) => {
                let interp = e.interpreter.clone().unwrap_or_default();
                if e.has_flag('F') {
                    s.notes.push(format!(
                        "`{}` has F: the kernel holds {interp} open, so it works in the sandbox if it is static",
                        e.name
                    ));
                    if !fix_ok {
                        s.notes
                            .push("this kernel is older than 4.8 yet shows F".into());
                    }
                } else if !self.sandbox {
                    s.notes.push(
                        "the Nix sandbox is off, so the interpreter is visible to builds".into(),
                    );
                } else if !in_sandbox(&interp, self.sandbox_paths) {
                    s.problems.push(format!(
                        "`{}` has no F flag and its interpreter {interp} is not in extra-sandbox-paths, so builds cannot start it",
                        e.name
                    ));
                    if nixos {
                        nixos_fix = true;
                    } else {
                        s.fixes.push(fix(
                            "/etc/nix/nix.conf",
                            format!("extra-sandbox-paths = {interp}"),
                        ));
                        conf_changed = true;
                        if fix_ok {
                            s.notes.push(format!(
                                "or register a static interpreter with F (nixcross binfmt line {system} --interpreter /usr/bin/qemu-{}-static --flags PF)",
                                binfmt::qemu_arch(system).unwrap_or("<arch>")
                            ));
                        }
                    }
                }
            }
        }

        if !on_platforms {
            s.problems.push(format!(
                "{system} is not in extra-platforms, so Nix will not build {system} derivations here"
            ));
            if nixos {
                nixos_fix = true;
            } else {
                s.fixes.push(self.platforms_fix(system));
                conf_changed = true;
            }
        }
        if !fix_ok {
            s.notes.push(format!(
                "kernel {} is older than 4.8: no F flag, so the interpreter must be in extra-sandbox-paths and emulation does not reach containers or chroots",
                self.kernel.release.as_deref().unwrap_or("?")
            ));
        }
        if nixos_fix {
            s.fixes.push(fix(
                "configuration.nix",
                format!("boot.binfmt.emulatedSystems = [ \"{system}\" ];"),
            ));
            s.fixes.push(fix("shell", "sudo nixos-rebuild switch"));
        } else if conf_changed {
            s.fixes
                .push(fix("shell", "sudo systemctl restart nix-daemon"));
        }
        s.ready = s.problems.is_empty();
        (s, entry_name)
    }

    fn remote(&self, system: &str) -> (Strategy, Vec<String>) {
        let mut s = Strategy::new();
        let serving: Vec<&BuilderReport> = self
            .builders
            .iter()
            .filter(|b| b.machine.serves(system, self.host))
            .collect();
        let found: Vec<String> = serving.iter().map(|b| b.machine.uri.to_string()).collect();
        if serving.is_empty() {
            s.problems.push(format!("no remote builder lists {system}"));
            s.fixes.push(fix(
                "shell",
                crate::machines::advice_command(system, self.input.nixos),
            ));
        } else if !serving.iter().any(|b| b.usable()) {
            for b in &serving {
                s.problems.extend(b.problems.iter().cloned());
                s.fixes.extend(b.fixes.iter().cloned());
            }
        } else if self.conf.bool("builders-use-substitutes") != Some(true) {
            s.notes.push(
                "builders-use-substitutes = true lets the builder fetch from the binary cache itself"
                    .into(),
            );
        }
        s.ready = s.problems.is_empty();
        (s, found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_arches() {
        assert_eq!(kernel_version("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(kernel_version("4.4.0-210-generic\n"), Some((4, 4)));
        assert_eq!(kernel_version("4.8"), Some((4, 8)));
        assert_eq!(kernel_version("junk"), None);
        assert_eq!(
            system_of_kernel_arch("aarch64").as_deref(),
            Some("aarch64-linux")
        );
        assert_eq!(system_of_kernel_arch("sparc"), None);
    }

    #[test]
    fn sandbox_coverage() {
        let paths = vec![
            "/run/binfmt".to_string(),
            "/bin/sh=/nix/store/x-busybox/bin/sh".into(),
            "/opt/q?".into(),
        ];
        assert!(in_sandbox("/run/binfmt/aarch64-linux", &paths));
        assert!(in_sandbox("/bin/sh", &paths));
        assert!(in_sandbox("/opt/q/qemu", &paths));
        assert!(!in_sandbox("/run/binfmtx/a", &paths));
        assert!(!in_sandbox("/usr/bin/qemu-aarch64", &paths));
    }
}
