//! `nixcross add-builder`: point a build host at a native remote builder,
//! through Nix's own distributed builds.
//!
//! - On NixOS, one entry of `nix.buildMachines` (`hostName`, `sshUser`,
//!   `protocol`, `systems`, and the options given) plus
//!   `nix.distributedBuilds = true;` and, unless the file sets it already,
//!   `nix.settings.builders-use-substitutes = true;` (see
//!   [`plan_add_builder`]).
//! - Anywhere else, the line for `/etc/nix/machines` and the nix.conf lines
//!   that make Nix read it ([`machines_output`]); nothing is written.
//!
//! Every value is checked first ([`builder_machine`]): the URI is
//! `ssh://[user@]host` or `ssh-ng://[user@]host` and nothing else, systems
//! come from the catalogue (with suggestions), counts are positive, feature
//! names Nix does not know get a warning, the host key must be an SSH
//! public key line in base64, and no value may hold a character that could
//! leave a Nix string or a machines-file field.

use crate::error::{Error, Result};
use crate::machines::{Machine, SshUri};
use crate::platform;

/// What `nixcross add-builder` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct AddBuilderOptions {
    /// `ssh://[user@]host` or `ssh-ng://[user@]host`.
    pub uri: String,
    /// Systems the builder builds for: doubles, pkgsCross names or triples.
    pub systems: Vec<String>,
    /// How many builds it runs at once (`maxJobs`).
    pub max_jobs: Option<u32>,
    /// Its speed relative to other builders (`speedFactor`).
    pub speed_factor: Option<u32>,
    /// Features it supports (`supportedFeatures`); empty: not given.
    pub features: Vec<String>,
    /// Features a derivation must ask for to go there (`mandatoryFeatures`);
    /// empty: not given.
    pub mandatory_features: Vec<String>,
    /// The SSH private key the root daemon logs in with (`sshKey`).
    pub ssh_key: Option<String>,
    /// The builder's SSH host key, base64 of its public key line (`publicHostKey`).
    pub host_key: Option<String>,
    /// Take the builder out instead.
    pub remove: bool,
    /// A configuration inside a flake (`--config NAME`).
    pub config: Option<String>,
}

/// One system the user typed, as the double a builder announces.
pub fn builder_system(input: &str) -> Result<String> {
    let s = input.trim();
    match platform::resolve(s) {
        Ok(t) => Ok(t.system),
        Err(e) => {
            let mut err = Error::invalid(format!("unknown system `{}`", s.escape_debug()));
            err.hints = e.hints;
            Err(err)
        }
    }
}

/// The machine `opts` describes, checked (see the module docs), and the
/// warnings about it. `--remove` needs only the URI.
pub fn builder_machine(opts: &AddBuilderOptions) -> Result<(Machine, Vec<String>)> {
    let uri = SshUri::parse(opts.uri.trim())?;
    let mut m = Machine::new(uri);
    if opts.remove {
        return Ok((m, Vec::new()));
    }
    for s in &opts.systems {
        let s = builder_system(s)?;
        if !m.systems.contains(&s) {
            m.systems.push(s);
        }
    }
    m.max_jobs = opts.max_jobs;
    m.speed_factor = opts.speed_factor;
    let dedup = |l: &[String]| {
        let mut out: Vec<String> = Vec::new();
        for f in l {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
        out
    };
    m.supported_features = dedup(&opts.features);
    m.mandatory_features = dedup(&opts.mandatory_features);
    m.ssh_key = opts.ssh_key.clone();
    m.public_host_key = opts.host_key.clone();
    let warnings = m.validate()?;
    Ok((m, warnings))
}

/// Why `builders-use-substitutes` is worth setting, for the output.
pub const SUBSTITUTES_WHY: &str = "builders-use-substitutes = true: the builder fetches what it needs from the binary cache itself, instead of receiving everything from this machine over SSH";

/// What `--format machines` prints: the machines-file line, and the
/// nix.conf lines that make Nix use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachinesOutput {
    /// The builder.
    pub machine: Machine,
    /// Its line for `/etc/nix/machines`.
    pub line: String,
    /// Lines for `/etc/nix/nix.conf`.
    pub nix_conf: Vec<String>,
    /// What the user should know.
    pub warnings: Vec<String>,
}

/// The machines-file form of `opts`, for a machine that does not run NixOS.
pub fn machines_output(opts: &AddBuilderOptions) -> Result<MachinesOutput> {
    if opts.remove {
        return Err(Error::invalid(
            "--format machines prints a line to add; to remove a builder, delete its line from /etc/nix/machines",
        ));
    }
    let (machine, warnings) = builder_machine(opts)?;
    Ok(MachinesOutput {
        line: machine.to_machines_line(),
        nix_conf: vec![
            "builders = @/etc/nix/machines".into(),
            "builders-use-substitutes = true".into(),
        ],
        machine,
        warnings,
    })
}

/// The command that sets up a remote builder for `system`, for a NixOS
/// build machine or another one.
pub fn advice_command(system: &str, nixos: bool) -> String {
    let base = format!("nixcross add-builder ssh-ng://<user>@<builder> --system {system}");
    if nixos {
        format!("{base} -f /etc/nixos/configuration.nix")
    } else {
        format!("{base} --format machines")
    }
}

/// The note that names the third strategy next to emulation: a machine of
/// that CPU builds natively.
pub fn remote_note(system: &str) -> String {
    format!(
        "or build natively on a machine with a {system} CPU (a remote builder, faster than emulation): on a NixOS build machine `{}`; elsewhere `{}` prints the /etc/nix/machines line",
        advice_command(system, true),
        advice_command(system, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(uri: &str, systems: &[&str]) -> AddBuilderOptions {
        AddBuilderOptions {
            uri: uri.into(),
            systems: systems.iter().map(|s| s.to_string()).collect(),
            ..AddBuilderOptions::default()
        }
    }

    #[test]
    fn systems_come_from_the_catalogue() {
        let (m, w) = builder_machine(&opts("ssh-ng://nix@pi5", &["aarch64-linux", "raspberryPi", "aarch64-unknown-linux-gnu"])).unwrap();
        assert_eq!(m.systems, ["aarch64-linux", "armv6l-linux"]);
        assert!(w.is_empty());
        let e = builder_machine(&opts("ssh://pi", &["aarch64-linx"])).unwrap_err();
        assert!(e.message.contains("unknown system `aarch64-linx`"), "{}", e.message);
        assert!(e.hints.iter().any(|h| h.contains("aarch64-linux")), "{:?}", e.hints);
        assert!(builder_machine(&opts("ssh://pi", &[])).is_err());
    }

    #[test]
    fn the_machines_line_and_nix_conf() {
        let mut o = opts("ssh-ng://nix@pi5", &["aarch64-linux"]);
        o.max_jobs = Some(4);
        o.features = vec!["big-parallel".into(), "big-parallel".into()];
        let out = machines_output(&o).unwrap();
        assert_eq!(out.line, "ssh-ng://nix@pi5 aarch64-linux - 4 - big-parallel - -");
        assert_eq!(Machine::parse(&out.line).unwrap(), out.machine);
        assert_eq!(out.nix_conf, ["builders = @/etc/nix/machines", "builders-use-substitutes = true"]);
    }
}
