//! The doctor's remote builders: which machines Nix would use (nix.conf
//! `builders`, the machines files it names, or `--builders`), the systems
//! each serves, and, with `--probe`, whether each one answers.
//!
//! Probing is the caller's I/O: it runs the command of [`probe_command`]
//! for each builder (a stand-in `nix` in tests) and hands the outcome back
//! as a [`ProbeRun`]; [`classify`] reads it into a [`Probe`] with the fix.

use crate::machines::{self, Machine, StoreUri};

use super::{fix, Fix, HostInput, NixConf};

/// Where Nix reads builders from when nothing says otherwise.
pub const DEFAULT_MACHINES: &str = "/etc/nix/machines";

/// The `builders` value in effect: `--builders` when given (it replaces the
/// setting, as `nix --builders` does), else nix.conf's, else Nix's default
/// `@/etc/nix/machines`.
pub fn builders_value<'a>(
    conf: Option<&'a NixConf>,
    arg: Option<&'a str>,
) -> std::borrow::Cow<'a, str> {
    match arg.or_else(|| conf.and_then(NixConf::builders)) {
        Some(v) => v.into(),
        None => format!("@{DEFAULT_MACHINES}").into(),
    }
}

/// The machines files the caller must read for `input` (the `@file`
/// references of the `builders` value in effect that are absolute paths:
/// [`unread_files`] says why the others are not read).
pub fn files_to_read(conf: Option<&NixConf>, arg: Option<&str>) -> Vec<String> {
    machines::machine_files(&builders_value(conf, arg))
        .into_iter()
        .filter(|f| f.starts_with('/'))
        .collect()
}

/// The machines files the `builders` value in effect names that were not
/// read, each with why: a relative path (Nix would read it from the working
/// directory of whichever process builds), a file the caller could not read
/// (`input.unreadable`: too large, not a regular file), or one that does
/// not exist when a setting names it (Nix's own default
/// `@/etc/nix/machines` may be absent).
pub fn unread_files(input: &HostInput, conf: &NixConf) -> Vec<(String, String)> {
    let named = input.builders.is_some() || conf.builders().is_some();
    let value = builders_value(Some(conf), input.builders.as_deref());
    let mut out = Vec::new();
    for f in machines::machine_files(&value) {
        let why = if !f.starts_with('/') {
            "it is a relative path, which Nix reads from the working directory of whichever process builds (the daemon's is /); give it as an absolute path (the builders it lists are not shown)".to_string()
        } else if input.machines_files.iter().any(|(p, _)| *p == f) {
            continue;
        } else if let Some((_, why)) = input.unreadable.iter().find(|(p, _)| *p == f) {
            format!("it cannot be read: {why} (the builders it lists are not shown)")
        } else if named {
            "it does not exist, so Nix uses no builders from it".to_string()
        } else {
            continue;
        };
        out.push((f, why));
    }
    out
}

/// A builder as the doctor reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BuilderReport {
    /// The builder, as its line or setting describes it.
    #[serde(flatten)]
    pub machine: Machine,
    /// Where it is listed: a machines file, `nix.conf builders` or `--builders`.
    pub source: String,
    /// The probe's verdict, when `--probe` ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    /// What is wrong with it, one sentence each.
    pub problems: Vec<String>,
    /// The lines that fix the problems.
    pub fixes: Vec<Fix>,
}

impl BuilderReport {
    /// Whether it can take builds, as far as the doctor knows (not probed,
    /// or probed and answering as a trusted user).
    pub fn usable(&self) -> bool {
        match &self.probe {
            None => true,
            Some(Probe::Reachable { trusted, .. }) => *trusted != Some(false),
            Some(_) => false,
        }
    }
}

/// What running a probe gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeRun {
    /// The command exited with status 0.
    pub success: bool,
    /// What the command printed on standard output.
    pub stdout: String,
    /// What the command printed on standard error.
    pub stderr: String,
    /// It was killed after this many seconds without an answer.
    pub timed_out: Option<u64>,
    /// The command could not be started (no `nix` on PATH).
    pub not_started: Option<String>,
}

/// A probe's verdict on one builder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Probe {
    /// The builder's Nix answered.
    Reachable {
        /// What it says about the user nixcross logged in as (`Trusted: 1`);
        /// `None` when it does not say (older Nix, `ssh://`).
        trusted: Option<bool>,
        /// The builder's Nix version, when it says.
        version: Option<String>,
    },
    /// No SSH connection: a name that does not resolve, nothing listening,
    /// or no answer in time.
    Unreachable {
        /// The line of the probe's error output that says so, or the
        /// timeout.
        reason: String,
    },
    /// SSH answered but refused the login, or the host key did not match.
    Authentication {
        /// The line of the probe's error output that says so.
        reason: String,
    },
    /// The login worked but Nix is not on the builder's PATH for
    /// non-interactive sessions.
    NoRemoteNix {
        /// The line of the probe's error output that says so.
        reason: String,
    },
    /// Something else went wrong; the reason is Nix's last line.
    Failed {
        /// The last line of the probe's error output.
        reason: String,
    },
    /// The probe could not run here (no `nix`).
    NotRun {
        /// Why the command could not start.
        reason: String,
    },
}

/// The store URI to probe: the machine's, with its SSH key and host key as
/// store parameters (`?ssh-key=...&base64-ssh-public-host-key=...`), as Nix
/// passes them when it builds there.
pub fn probe_uri(m: &Machine) -> String {
    let mut params = Vec::new();
    if let StoreUri::Ssh(_) = &m.uri {
        if let Some(k) = &m.ssh_key {
            params.push(format!("ssh-key={}", percent(k)));
        }
        if let Some(k) = &m.public_host_key {
            params.push(format!("base64-ssh-public-host-key={}", percent(k)));
        }
    }
    let uri = m.uri.to_string();
    if params.is_empty() {
        return uri;
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", params.join("&"))
}

/// Percent-encode a query value (everything but unreserved characters and `/`).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `(major, minor)` of `nix --version` output (`nix (Nix) 2.18.1`).
pub fn nix_version(out: &str) -> Option<(u32, u32)> {
    let v = out.split_whitespace().last()?;
    let mut parts = v.split(['.', 'p', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The arguments of `nix` that probe a builder: `nix store info` on Nix
/// 2.19 and newer, `nix store ping` (its old name) before or when the
/// version is unknown.
pub fn probe_command(m: &Machine, version: Option<&str>) -> Vec<String> {
    let new = version.and_then(nix_version).is_some_and(|v| v >= (2, 19));
    vec![
        "--extra-experimental-features".into(),
        "nix-command".into(),
        "store".into(),
        if new { "info" } else { "ping" }.into(),
        "--store".into(),
        probe_uri(m),
    ]
}

/// The last line of `text` that says something.
fn last_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_string()
}

/// The first line of `text` that contains one of `needles`.
fn line_with(text: &str, needles: &[&str]) -> Option<String> {
    text.lines()
        .find(|l| needles.iter().any(|n| l.contains(n)))
        .map(|l| l.trim().to_string())
}

const UNREACHABLE: &[&str] = &[
    "Could not resolve hostname",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "Network is unreachable",
    "Connection reset",
    "Connection closed by",
];
const AUTH: &[&str] = &[
    "Permission denied",
    "Host key verification failed",
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "Too many authentication failures",
    "UNPROTECTED PRIVATE KEY FILE",
    "no such identity",
    "Load key",
];
const NO_NIX: &[&str] = &[
    "command not found",
    "nix-store: not found",
    "nix-daemon: not found",
];
const UNTRUSTED: &[&str] = &[
    "is not a trusted user",
    "not a trusted user",
    "you are not privileged",
    "lacks a signature by a trusted key",
];

/// Read a probe's outcome.
pub fn classify(run: &ProbeRun) -> Probe {
    if let Some(why) = &run.not_started {
        return Probe::NotRun {
            reason: why.clone(),
        };
    }
    if let Some(secs) = run.timed_out {
        return Probe::Unreachable {
            reason: format!("no answer within {secs} s"),
        };
    }
    let err = &run.stderr;
    if let Some(l) = line_with(err, NO_NIX) {
        return Probe::NoRemoteNix { reason: l };
    }
    if let Some(l) = line_with(err, AUTH) {
        return Probe::Authentication { reason: l };
    }
    if let Some(l) = line_with(err, UNREACHABLE) {
        return Probe::Unreachable { reason: l };
    }
    if line_with(err, UNTRUSTED).is_some() {
        return Probe::Reachable {
            trusted: Some(false),
            version: None,
        };
    }
    if !run.success {
        return Probe::Failed {
            reason: last_line(err),
        };
    }
    let field = |name: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
    };
    Probe::Reachable {
        trusted: field("Trusted:").map(|t| t != "0"),
        version: field("Version:"),
    }
}

/// The builders `input` lists, with the lines Nix would reject as problems
/// (Nix refuses to build at all then).
pub fn list(input: &HostInput, conf: &NixConf, problems: &mut Vec<String>) -> Vec<BuilderReport> {
    let (value, inline_source) = match input.builders.as_deref() {
        Some(v) => (v.to_string(), "--builders"),
        None => (
            builders_value(Some(conf), None).into_owned(),
            "nix.conf builders",
        ),
    };
    let mut sources: Vec<(String, String)> = Vec::new();
    // The inline machines of the value, then each file it names, in order.
    let inline: String = value
        .split([';', '\n'])
        .filter(|m| !m.split('#').next().unwrap_or("").trim().starts_with('@'))
        .collect::<Vec<_>>()
        .join(";");
    sources.push((inline_source.to_string(), inline));
    for (f, why) in unread_files(input, conf) {
        problems.push(format!(
            "{inline_source}: the builders file `@{f}` is not read: {why}"
        ));
    }
    for f in machines::machine_files(&value) {
        if let Some((_, text)) = input.machines_files.iter().find(|(p, _)| *p == f) {
            sources.push((f.clone(), text.clone()));
        }
    }
    let mut out = Vec::new();
    for (source, text) in sources {
        let (found, bad) = machines::parse_machines(&text);
        for b in bad {
            let at = if source.starts_with('/') {
                format!("{source}:{}", b.line)
            } else {
                source.clone()
            };
            problems.push(format!(
                "{at}: `{}`: {} (Nix refuses to build while a machine line is bad)",
                b.text, b.error.message
            ));
        }
        for machine in found {
            out.push(BuilderReport {
                machine,
                source: source.clone(),
                probe: None,
                problems: Vec::new(),
                fixes: Vec::new(),
            });
        }
    }
    for b in &mut out {
        let uri = b.machine.uri.to_string();
        if let Some((_, run)) = input.probes.iter().find(|(u, _)| *u == uri) {
            let probe = classify(run);
            explain(b, &probe, input.probed_as_root);
            b.probe = Some(probe);
        }
    }
    out
}

/// The `user@host` an SSH command needs.
fn login(m: &Machine) -> String {
    match &m.uri {
        StoreUri::Ssh(s) => match &s.user {
            Some(u) => format!("{u}@{}", s.host),
            None => s.host.clone(),
        },
        StoreUri::Other(o) => o.clone(),
    }
}

/// Problems and fixes for a probe's verdict.
fn explain(b: &mut BuilderReport, probe: &Probe, as_root: Option<bool>) {
    let m = &b.machine;
    let login = login(m);
    let key = m.ssh_key.as_deref();
    let ssh = match key {
        Some(k) => format!("sudo ssh -i {k} {login} nix-store --version"),
        None => format!("sudo ssh {login} nix-store --version"),
    };
    let user = match &m.uri {
        StoreUri::Ssh(s) => s.user.clone().unwrap_or_else(|| "root".into()),
        StoreUri::Other(_) => "<user>".into(),
    };
    match probe {
        Probe::Reachable {
            trusted: Some(false),
            ..
        } => {
            b.problems.push(format!(
                "{login} answers, but `{user}` is not a trusted user there, so it will not take builds"
            ));
            b.fixes.push(fix(
                "the builder's configuration.nix",
                format!("nix.settings.trusted-users = [ \"{user}\" ];"),
            ));
            b.fixes.push(fix(
                "the builder's /etc/nix/nix.conf",
                format!("extra-trusted-users = {user}"),
            ));
        }
        Probe::Reachable { .. } => {}
        Probe::Unreachable { reason } => {
            b.problems.push(format!("{login} is unreachable: {reason}"));
            b.fixes.push(fix(
                "shell",
                format!("ssh {login} true   # the host name, the network and sshd on the builder"),
            ));
        }
        Probe::Authentication { reason } => {
            b.problems
                .push(format!("{login} refused the login: {reason}"));
            b.fixes.push(fix(
                "shell",
                format!(
                    "{ssh}   # the nix daemon logs in as root: this must work without a prompt"
                ),
            ));
            let pubkey = key
                .map(|k| format!("{k}.pub"))
                .unwrap_or_else(|| "/root/.ssh/id_ed25519.pub".into());
            b.fixes.push(fix(
                "the builder's configuration.nix",
                format!("users.users.{user}.openssh.authorizedKeys.keys = [ \"<the contents of {pubkey}>\" ];"),
            ));
            if reason.contains("Host key") || reason.contains("IDENTIFICATION") {
                b.fixes.push(fix(
                    "shell",
                    format!("nixcross add-builder {} --system <SYSTEM> --host-key \"$(ssh-keyscan -t ed25519 {} 2>/dev/null | cut -d' ' -f2- | base64 -w0)\"", m.uri, host_of(m)),
                ));
            }
        }
        Probe::NoRemoteNix { reason } => {
            b.problems.push(format!(
                "{login} has no Nix on the PATH of non-interactive SSH sessions: {reason}"
            ));
            b.fixes.push(fix(
                "shell",
                format!("ssh {login} nix-store --version   # must work; on a multi-user install, source the Nix profile in the builder's ~/.bashrc or /etc/bashrc"),
            ));
        }
        Probe::Failed { reason } => b.problems.push(format!("probing {login} failed: {reason}")),
        Probe::NotRun { reason } => b.problems.push(format!("{login} was not probed: {reason}")),
    }
    let failed = !matches!(
        probe,
        Probe::Reachable {
            trusted: Some(true) | None,
            ..
        }
    );
    if as_root == Some(false) && failed {
        b.problems.push(
            "the probe ran as you, not as root: the nix daemon builds with root's SSH keys and known_hosts, so run `sudo nixcross doctor --probe` to see what it sees".into(),
        );
    }
}

fn host_of(m: &Machine) -> String {
    match &m.uri {
        StoreUri::Ssh(s) => s.host.clone(),
        StoreUri::Other(o) => o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machines::SshUri;

    fn run(success: bool, stdout: &str, stderr: &str) -> ProbeRun {
        ProbeRun {
            success,
            stdout: stdout.into(),
            stderr: stderr.into(),
            ..ProbeRun::default()
        }
    }

    #[test]
    fn probe_outcomes() {
        assert_eq!(
            classify(&run(
                true,
                "Store URL: ssh-ng://pi\nVersion: 2.24.9\nTrusted: 1\n",
                ""
            )),
            Probe::Reachable {
                trusted: Some(true),
                version: Some("2.24.9".into())
            }
        );
        assert!(matches!(
            classify(&run(true, "Store URL: ssh-ng://pi\nTrusted: 0\n", "")),
            Probe::Reachable {
                trusted: Some(false),
                ..
            }
        ));
        assert!(matches!(
            classify(&run(false, "", "ssh: Could not resolve hostname pi: Name or service not known\nerror: failed to start SSH connection to 'pi'")),
            Probe::Unreachable { .. }
        ));
        assert!(matches!(
            classify(&run(
                false,
                "",
                "nix@pi: Permission denied (publickey).\nerror: cannot connect to 'nix@pi'"
            )),
            Probe::Authentication { .. }
        ));
        assert!(matches!(
            classify(&run(
                false,
                "",
                "bash: line 1: nix-store: command not found\nerror: cannot connect to 'pi'"
            )),
            Probe::NoRemoteNix { .. }
        ));
        assert!(matches!(
            classify(&ProbeRun {
                timed_out: Some(5),
                ..ProbeRun::default()
            }),
            Probe::Unreachable { .. }
        ));
        assert_eq!(
            classify(&run(false, "", "error: boom\n")),
            Probe::Failed {
                reason: "error: boom".into()
            }
        );
    }

    #[test]
    fn probe_commands_follow_the_nix_version() {
        let mut m = Machine::new(SshUri::parse("ssh-ng://nix@pi").unwrap());
        m.ssh_key = Some("/root/.ssh/id builder".into());
        m.public_host_key = Some("c3No+a/b=".into());
        let old = probe_command(&m, Some("nix (Nix) 2.8.0"));
        assert_eq!(old[3], "ping");
        assert_eq!(
            old[5],
            "ssh-ng://nix@pi?ssh-key=/root/.ssh/id%20builder&base64-ssh-public-host-key=c3No%2Ba/b%3D"
        );
        assert_eq!(probe_command(&m, Some("nix (Nix) 2.24.9"))[3], "info");
        assert_eq!(probe_command(&m, None)[3], "ping");
        assert_eq!(
            nix_version("nix (Nix) 2.19pre20231011_dirty"),
            Some((2, 19))
        );
    }

    #[test]
    fn the_builders_value_in_effect() {
        let conf = NixConf::parse(
            "builders = @/etc/nix/other\n",
            "/etc/nix/nix.conf",
            &mut |_| None,
        );
        assert_eq!(files_to_read(Some(&conf), None), ["/etc/nix/other"]);
        assert_eq!(files_to_read(None, None), [DEFAULT_MACHINES]);
        assert!(files_to_read(Some(&conf), Some("ssh://x aarch64-linux")).is_empty());
        let empty = NixConf::parse("builders =\n", "/etc/nix/nix.conf", &mut |_| None);
        assert!(files_to_read(Some(&empty), None).is_empty());
    }
}
