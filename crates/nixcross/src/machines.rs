//! Remote builders as Nix reads them: one [`Machine`] per line of
//! `/etc/nix/machines` (or of the nix.conf `builders` setting), and the same
//! machine as an entry of NixOS's `nix.buildMachines`.
//!
//! The line format (Nix manual, "Remote Builds"; `parseBuilderLine` in Nix's
//! `machines.cc`) is up to eight fields separated by whitespace:
//!
//! ```text
//! ssh-ng://nix@pi5 aarch64-linux,armv7l-linux /root/.ssh/id_builder 4 2 big-parallel,kvm - c3NoLWVk...
//! URI              systems (comma)            SSH identity file     jobs speed features  mandatory  base64 host key
//! ```
//!
//! `-` (or a missing field) stands for the default: the local system, no
//! key (the SSH configuration of the user that builds, root for the
//! daemon), 1 job, speed 1, no features, no host key (`known_hosts`).
//! Machines are separated by newlines or `;`, and `#` starts a comment.
//!
//! Nothing here is trusted: [`Machine::parse`] reads what a file says,
//! and [`Machine::validate`] is what `nixcross add-builder` requires before
//! it writes a machine anywhere (no character that could leave a Nix string
//! or a machines-file field, no SSH option smuggled in as a host name).

use std::fmt;

use base64::Engine;

use crate::error::{Error, Result};

/// How Nix talks to a builder: the URI's scheme, and NixOS's `protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// `ssh://`: the legacy `nix-store --serve` protocol (NixOS's default).
    Ssh,
    /// `ssh-ng://`: the daemon protocol over SSH (newer, more capable).
    SshNg,
}

impl Protocol {
    /// The URI scheme, which is also NixOS's `protocol` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Ssh => "ssh",
            Protocol::SshNg => "ssh-ng",
        }
    }

    /// The protocol of a scheme or a NixOS `protocol` value.
    pub fn from_scheme(s: &str) -> Option<Protocol> {
        match s {
            "ssh" => Some(Protocol::Ssh),
            "ssh-ng" => Some(Protocol::SshNg),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A builder reached over SSH: `ssh://[user@]host` or `ssh-ng://[user@]host`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshUri {
    /// `ssh://` or `ssh-ng://` (NixOS's `protocol`).
    pub protocol: Protocol,
    /// The user to log in as (NixOS's `sshUser`); `None`: SSH's own choice.
    pub user: Option<String>,
    /// The host name or address (NixOS's `hostName`).
    pub host: String,
}

impl fmt::Display for SshUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.protocol)?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        f.write_str(&self.host)
    }
}

/// Characters a user name may have (a POSIX portable user name).
fn user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Characters a host name may have: letters, digits, dots, dashes,
/// underscores (found in the wild), and an IPv6 address in brackets.
fn host_ok(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    }
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl SshUri {
    /// Read `ssh://[user@]host` or `ssh-ng://[user@]host` as the user typed
    /// it, refusing anything else: another scheme, a port or query (set
    /// those in root's `~/.ssh/config`), and any character that could leave
    /// a Nix string or a machines-file field. A user or host starting with
    /// `-` is refused too: SSH would read it as an option.
    pub fn parse(input: &str) -> Result<SshUri> {
        let example =
            "write ssh://[user@]host or ssh-ng://[user@]host, e.g. ssh-ng://nix@pi5.local";
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(
                Error::invalid(format!("`{}` is not a builder URI", printable(input)))
                    .hint(example),
            );
        };
        let Some(protocol) = Protocol::from_scheme(scheme) else {
            return Err(Error::invalid(format!(
                "`{}`: nixcross writes SSH builders only (ssh:// or ssh-ng://), not `{}://`",
                printable(input),
                printable(scheme)
            ))
            .hint(example));
        };
        if rest.contains(['?', '/', '#']) {
            return Err(Error::invalid(format!(
                "`{}`: a builder URI is only [user@]host, without a path, query or fragment",
                printable(input)
            ))
            .hint("the SSH key goes in --ssh-key and the host key in --host-key; ports and other SSH options go in root's ~/.ssh/config (Host ... / Port ...)"));
        }
        let (user, host) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if let Some(u) = user {
            if u.is_empty() || !u.chars().all(user_char) || u.starts_with('-') {
                return Err(Error::invalid(format!(
                    "`{}`: `{}` is not a user name nixcross will write (letters, digits, `.`, `_`, `-`; not starting with `-`)",
                    printable(input),
                    printable(u)
                )));
            }
        }
        if host.contains(':') && !host.starts_with('[') {
            return Err(Error::invalid(format!(
                "`{}`: a port in the builder URI is not understood by every Nix version",
                printable(input)
            ))
            .hint("set the port in root's ~/.ssh/config: Host <name> / HostName <address> / Port <port>, and use ssh://<name>"));
        }
        if !host_ok(host) || host.starts_with('-') || host.starts_with('.') {
            return Err(Error::invalid(format!(
                "`{}`: `{}` is not a host name nixcross will write (letters, digits, `.`, `-`, `_`, or an IPv6 address in brackets)",
                printable(input),
                printable(host)
            ))
            .hint(example));
        }
        Ok(SshUri {
            protocol,
            user: user.map(str::to_string),
            host: host.to_string(),
        })
    }
}

/// `s` with control characters shown escaped, for messages.
fn printable(s: &str) -> String {
    s.chars().flat_map(char::escape_debug).collect::<String>()
}

/// The store a machine line names: an SSH builder, or any other store URI
/// Nix accepts there (`local`, `unix://...`, `ssh://host?ssh-key=...`),
/// kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreUri {
    /// `ssh://[user@]host` or `ssh-ng://[user@]host`, or a bare host name.
    Ssh(SshUri),
    /// Any other store URI, as written.
    Other(String),
}

impl fmt::Display for StoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUri::Ssh(s) => s.fmt(f),
            StoreUri::Other(s) => f.write_str(s),
        }
    }
}

impl serde::Serialize for StoreUri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl StoreUri {
    /// Read the first field of a machine line. A bare host name means
    /// `ssh://` (Nix's backwards compatibility); `ssh://` and `ssh-ng://`
    /// URIs of the plain `[user@]host` form become [`StoreUri::Ssh`].
    pub fn read(field: &str) -> StoreUri {
        let plain = |rest: &str| -> Option<(Option<String>, String)> {
            let (user, host) = match rest.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_string()), h),
                None => (None, rest),
            };
            (host_ok(host)
                && user
                    .as_deref()
                    .is_none_or(|u| !u.is_empty() && u.chars().all(user_char)))
            .then(|| (user, host.to_string()))
        };
        if let Some((scheme, rest)) = field.split_once("://") {
            if let (Some(protocol), Some((user, host))) =
                (Protocol::from_scheme(scheme), plain(rest))
            {
                return StoreUri::Ssh(SshUri {
                    protocol,
                    user,
                    host,
                });
            }
            return StoreUri::Other(field.to_string());
        }
        let special = ["local", "remote", "auto", "daemon"]
            .iter()
            .any(|w| field == *w || field.starts_with(&format!("{w}?")));
        if special || field.starts_with('/') || field.starts_with('?') {
            return StoreUri::Other(field.to_string());
        }
        match plain(field) {
            Some((user, host)) => StoreUri::Ssh(SshUri {
                protocol: Protocol::Ssh,
                user,
                host,
            }),
            None => StoreUri::Other(field.to_string()),
        }
    }
}

/// One remote builder: a line of a machines file, or an entry of
/// `nix.buildMachines`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Machine {
    /// The store to build in (the line's first field).
    pub uri: StoreUri,
    /// The systems it builds for. Empty means Nix's own system (written `-`).
    pub systems: Vec<String>,
    /// The SSH private key to log in with (`sshKey`); `None`: the SSH
    /// configuration of the user that builds.
    pub ssh_key: Option<String>,
    /// How many builds it runs at once; `None`: Nix's default, 1.
    pub max_jobs: Option<u32>,
    /// Its speed relative to the other builders; `None`: 1.
    pub speed_factor: Option<u32>,
    /// Features it supports (`big-parallel`, `kvm`, ...).
    pub supported_features: Vec<String>,
    /// Features a derivation must ask for to be built there.
    pub mandatory_features: Vec<String>,
    /// Its SSH host key, base64 of the public key line; `None`: known_hosts.
    pub public_host_key: Option<String>,
}

/// The system features Nix knows (the `system-features` setting and
/// `requiredSystemFeatures`). `gccarch-<arch>` is a family of its own.
pub const KNOWN_FEATURES: &[&str] = &[
    "kvm",
    "big-parallel",
    "nixos-test",
    "benchmark",
    "ca-derivations",
    "uid-range",
    "recursive-nix",
    "apple-virt",
];

/// Whether Nix or nixpkgs use feature `name`.
pub fn known_feature(name: &str) -> bool {
    KNOWN_FEATURES.contains(&name) || name.strip_prefix("gccarch-").is_some_and(|a| !a.is_empty())
}

/// A machines-file field value nixcross will write: no whitespace, no
/// `#`/`;` (comment, machine separator), no `,` (list separator), nothing
/// that could leave a Nix string (`"`, `\`, `$`).
fn field_ok(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+') || extra.contains(&c)
        })
}

/// Check a base64 host key as Nix and SSH will read it: valid base64 whose
/// text is an OpenSSH public key line (`ssh-ed25519 AAAA... [comment]`).
pub fn check_host_key(key: &str) -> Result<()> {
    let hint = "give the whole public key line in base64: base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub (on the builder)";
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|e| Error::invalid(format!("the host key is not valid base64: {e}")).hint(hint))?;
    let text = String::from_utf8(bytes).unwrap_or_default();
    let kind = text.split_whitespace().next().unwrap_or("");
    let known = kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-");
    if !known || text.split_whitespace().nth(1).is_none() {
        return Err(Error::invalid(
            "the host key decodes to something that is not an SSH public key line (`ssh-ed25519 AAAA...`); a bare key blob (AAAA...) is not what Nix expects",
        )
        .hint(hint));
    }
    Ok(())
}

impl Machine {
    /// A machine at `uri` with nothing else set.
    pub fn new(uri: SshUri) -> Machine {
        Machine {
            uri: StoreUri::Ssh(uri),
            systems: Vec::new(),
            ssh_key: None,
            max_jobs: None,
            speed_factor: None,
            supported_features: Vec::new(),
            mandatory_features: Vec::new(),
            public_host_key: None,
        }
    }

    /// Read one machine line (comments and separators already split off,
    /// as [`parse_machines`] does). Fails as Nix does: no URI, a count that
    /// is not an unsigned integer, a host key that is not base64.
    pub fn parse(line: &str) -> Result<Machine> {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let set = |i: usize| tokens.get(i).copied().filter(|t| *t != "-");
        let list = |i: usize| -> Vec<String> {
            set(i)
                .map(|t| {
                    t.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let count = |i: usize, what: &str| -> Result<Option<u32>> {
            set(i)
                .map(|t| {
                    t.parse::<u32>().map_err(|_| {
                        Error::invalid(format!(
                            "the {what} `{t}` (field {}) is not an unsigned integer",
                            i + 1
                        ))
                    })
                })
                .transpose()
        };
        let Some(uri) = set(0) else {
            return Err(Error::invalid(
                "a machine line has no store URI in its first field",
            ));
        };
        let public_host_key = set(7).map(str::to_string);
        if let Some(k) = &public_host_key {
            base64::engine::general_purpose::STANDARD
                .decode(k)
                .map_err(|e| {
                    Error::invalid(format!("the host key (field 8) is not valid base64: {e}"))
                })?;
        }
        Ok(Machine {
            uri: StoreUri::read(uri),
            systems: list(1),
            ssh_key: set(2).map(str::to_string),
            max_jobs: count(3, "maximum number of jobs")?,
            speed_factor: count(4, "speed factor")?,
            supported_features: list(5),
            mandatory_features: list(6),
            public_host_key,
        })
    }

    /// The machine as one line of `/etc/nix/machines`: all eight fields,
    /// `-` for each default. A machine that [`Machine::parse`] read, or
    /// that passed [`Machine::validate`], gives a line that parses back to
    /// the same machine.
    pub fn to_machines_line(&self) -> String {
        let list = |l: &[String]| {
            if l.is_empty() {
                "-".to_string()
            } else {
                l.join(",")
            }
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let num = |n: Option<u32>| n.map_or("-".to_string(), |n| n.to_string());
        [
            self.uri.to_string(),
            list(&self.systems),
            opt(&self.ssh_key),
            num(self.max_jobs),
            num(self.speed_factor),
            list(&self.supported_features),
            list(&self.mandatory_features),
            opt(&self.public_host_key),
        ]
        .join(" ")
    }

    /// Whether it builds for `system` (an empty list: Nix's own system,
    /// which is `local`).
    pub fn serves(&self, system: &str, local: Option<&str>) -> bool {
        if self.systems.is_empty() {
            return local == Some(system);
        }
        self.systems.iter().any(|s| s == system)
    }

    /// What `nixcross add-builder` requires before writing the machine:
    /// an SSH URI, at least one system, counts of at least 1, an absolute
    /// key path outside the Nix store, a host key that is an SSH public key
    /// line in base64, and no field with a character that could break a
    /// Nix string or a machines-file field. Feature names Nix does not know
    /// are allowed with a warning (returned).
    pub fn validate(&self) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        if !matches!(self.uri, StoreUri::Ssh(_)) {
            return Err(Error::invalid(format!(
                "`{}` is not an ssh:// or ssh-ng:// builder",
                self.uri
            )));
        }
        if self.systems.is_empty() {
            return Err(Error::invalid(
                "name at least one system the builder builds for (--system)",
            ));
        }
        for s in &self.systems {
            if !field_ok(s, &[]) {
                return Err(Error::invalid(format!(
                    "`{}` is not a system name",
                    printable(s)
                )));
            }
        }
        for (what, n) in [
            ("--max-jobs", self.max_jobs),
            ("--speed-factor", self.speed_factor),
        ] {
            if n == Some(0) {
                return Err(Error::invalid(format!(
                    "{what} must be a positive integer, not 0"
                )));
            }
        }
        if let Some(k) = &self.ssh_key {
            let path_char = |c: char| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '/' | '.' | '_' | '-' | '+' | '@' | '=' | ':')
            };
            if !k.starts_with('/') || k.len() < 2 || !k.chars().all(path_char) {
                return Err(Error::invalid(format!(
                    "the SSH key `{}` is not an absolute path nixcross will write (letters, digits, `/`, `.`, `_`, `-`, `+`, `@`, `=`, `:`)",
                    printable(k)
                ))
                .hint("the root daemon opens the key: give its absolute path, e.g. /root/.ssh/id_builder (no ~)"));
            }
            // `//nix/store/x`, `/nix/./store/x`, `/a/../nix/store/x` are
            // in the store too.
            if in_nix_store(k) {
                return Err(Error::invalid(format!(
                    "the SSH key `{k}` is in the Nix store, which every user can read"
                ))
                .hint("keep the private key outside the store, e.g. /root/.ssh/id_builder or /etc/nix/builder_ed25519"));
            }
        }
        for (what, list) in [
            ("--feature", &self.supported_features),
            ("--mandatory-feature", &self.mandatory_features),
        ] {
            for f in list {
                if !field_ok(f, &[]) {
                    return Err(Error::invalid(format!(
                        "{what} `{}` is not a feature name (letters, digits, `.`, `_`, `-`, `+`)",
                        printable(f)
                    )));
                }
                if !known_feature(f) {
                    warnings.push(format!(
                        "`{f}` is not a feature Nix or nixpkgs use ({}, gccarch-<arch>); derivations must ask for it by name",
                        KNOWN_FEATURES.join(", ")
                    ));
                }
            }
        }
        if let Some(k) = &self.public_host_key {
            check_host_key(k)?;
        }
        Ok(warnings)
    }
}

/// One machine line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the text (a `;`-separated machine shares its
    /// line's number).
    pub line: usize,
    /// The machine's text.
    pub text: String,
    /// Why Nix would reject it.
    pub error: Error,
}

/// The machines of a machines file or a `builders` value: one per line or
/// `;`-separated, `#` comments, `@file` references skipped (see
/// [`machine_files`]). Lines Nix would reject come back as [`BadLine`]s.
pub fn parse_machines(text: &str) -> (Vec<Machine>, Vec<BadLine>) {
    let mut machines = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for part in line.split(';') {
            let part = part.split('#').next().unwrap_or("").trim();
            if part.is_empty() || part.starts_with('@') {
                continue;
            }
            match Machine::parse(part) {
                Ok(m) => machines.push(m),
                Err(error) => bad.push(BadLine {
                    line: n + 1,
                    text: part.to_string(),
                    error,
                }),
            }
        }
    }
    (machines, bad)
}

/// The files a `builders` value reads (`@/etc/nix/machines`), in order.
pub fn machine_files(builders: &str) -> Vec<String> {
    builders
        .split([';', '\n'])
        .filter_map(|m| m.split('#').next().unwrap_or("").trim().strip_prefix('@'))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The command that sets up a remote builder for `system`, for a NixOS
/// build machine or another one.
pub(crate) fn advice_command(system: &str, nixos: bool) -> String {
    let base = format!("nixcross add-builder ssh-ng://<user>@<builder> --system {system}");
    if nixos {
        format!("{base} -f /etc/nixos/configuration.nix")
    } else {
        format!("{base} --format machines")
    }
}

/// Whether the absolute path `p`, normalised lexically (empty and `.`
/// components dropped, `..` taking the one before it off), is in the Nix
/// store, or is the store itself.
fn in_nix_store(p: &str) -> bool {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.starts_with(&["nix", "store"])
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUdEbmd2VzFJZ1VTVzRMbmE3dE9vREJzQzJzRytJbHBEZllDZTF3QlZNcDIgcm9vdEBwaTU=";

    #[test]
    fn uris_are_strict() {
        let u = SshUri::parse("ssh-ng://nix@pi5.local").unwrap();
        assert_eq!(
            (u.protocol, u.user.as_deref(), u.host.as_str()),
            (Protocol::SshNg, Some("nix"), "pi5.local")
        );
        assert_eq!(u.to_string(), "ssh-ng://nix@pi5.local");
        assert_eq!(SshUri::parse("ssh://[fe80::1]").unwrap().host, "[fe80::1]");
        for bad in [
            "pi5",
            "http://pi5",
            "ssh://",
            "ssh://nix@",
            "ssh://@pi",
            "ssh://pi5:2222",
            "ssh://pi5?ssh-key=/k",
            "ssh://pi5/x",
            "ssh://pi 5",
            "ssh://pi\"5",
            "ssh://${pi}",
            "ssh://-oProxyCommand=x",
            "ssh://-x@pi",
            "ssh://pi#5",
            "ssh://pi;5",
            "ssh://pi\n5",
        ] {
            assert!(SshUri::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn lines_read_as_nix_reads_them() {
        let m = Machine::parse(&format!(
            "ssh-ng://nix@arm aarch64-linux,armv7l-linux /root/.ssh/k 8 2 big-parallel,kvm benchmark {KEY}"
        ))
        .unwrap();
        assert_eq!(m.systems, ["aarch64-linux", "armv7l-linux"]);
        assert_eq!((m.max_jobs, m.speed_factor), (Some(8), Some(2)));
        assert_eq!(m.supported_features, ["big-parallel", "kvm"]);
        assert_eq!(m.mandatory_features, ["benchmark"]);
        assert_eq!(m.public_host_key.as_deref(), Some(KEY));
        let m = Machine::parse("builder").unwrap();
        assert_eq!(m.uri.to_string(), "ssh://builder");
        assert!(m.systems.is_empty() && m.max_jobs.is_none());
        assert_eq!(m.to_machines_line(), "ssh://builder - - - - - - -");
        assert!(matches!(
            Machine::parse("local x86_64-linux").unwrap().uri,
            StoreUri::Other(_)
        ));
        assert!(matches!(
            Machine::parse("ssh://h?ssh-key=/k").unwrap().uri,
            StoreUri::Other(_)
        ));
        assert!(Machine::parse("ssh://h x86_64-linux - four").is_err());
        assert!(Machine::parse("ssh://h x86_64-linux - 1 1 - - not*base64").is_err());
        assert!(Machine::parse("").is_err());
    }

    #[test]
    fn files_split_on_lines_semicolons_and_comments() {
        let (ms, bad) = parse_machines("# builders\nssh://a x86_64-linux ; ssh://b aarch64-linux # b\n@/etc/nix/more\n\nssh://c - - x\n");
        assert_eq!(ms.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 5);
        assert_eq!(
            machine_files("ssh://a ; @/etc/nix/machines\n@ /x # c"),
            ["/etc/nix/machines", "/x"]
        );
    }

    #[test]
    fn validation_refuses_what_could_break_out() {
        let mut m = Machine::new(SshUri::parse("ssh://pi").unwrap());
        assert!(m.validate().is_err(), "no system");
        m.systems = vec!["aarch64-linux".into()];
        assert!(m.validate().unwrap().is_empty());
        for key in [
            "~/.ssh/k",
            "/root/my key",
            "/root/k\"",
            "/nix/store/abc-key",
            "//nix/store/abc-key",
            "/nix//store/abc-key",
            "/nix/./store/abc-key",
            "/a/../nix/store/abc-key",
            "/nix/store/../store/abc-key",
            "/../nix/store/abc-key",
            "/nix/store",
            "/root/${x}",
        ] {
            let mut k = m.clone();
            k.ssh_key = Some(key.into());
            assert!(k.validate().is_err(), "{key}");
        }
        // Only the store: paths that merely look like it are keys.
        for key in [
            "/nix/storefoo/k",
            "/root/nix/store/k",
            "/nix/var/k",
            "/nix/store.k",
        ] {
            let mut k = m.clone();
            k.ssh_key = Some(key.into());
            assert!(k.validate().is_ok(), "{key}");
        }
        let mut f = m.clone();
        f.supported_features = vec!["big,parallel".into()];
        assert!(f.validate().is_err());
        f.supported_features = vec!["my-feature".into(), "gccarch-armv8-a".into()];
        assert_eq!(f.validate().unwrap().len(), 1);
        let mut j = m.clone();
        j.max_jobs = Some(0);
        assert!(j.validate().is_err());
        let mut h = m.clone();
        h.public_host_key = Some(KEY.into());
        assert!(h.validate().is_ok());
        // The key blob alone, and the plain key line, are not what Nix wants.
        h.public_host_key =
            Some("AAAAC3NzaC1lZDI1NTE5AAAAIGDngvW1IgUSW4Lna7tOoDBsC2sG+IlpDfYCe1wBVMp2".into());
        assert!(h.validate().is_err());
        h.public_host_key = Some("ssh-ed25519 AAAA".into());
        assert!(h.validate().is_err());
    }
}
