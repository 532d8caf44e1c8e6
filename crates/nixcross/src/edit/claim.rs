//! What an edit says it does, as data: the claims a [`super::Plan`]
//! carries, which the self-check proves before anything is written (see
//! [`super::Plan::apply`]) and which `--verify` asks the user's Nix about.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::files::RelPath;
use crate::vocab::Toggle;

/// What a claim is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Subject {
    /// `nixosConfigurations.<name>` of the flake.
    Config(String),
    /// A NixOS module file (a build host's), read as if it were the only
    /// module of a configuration.
    Module(RelPath),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Config(name) => write!(f, "`{name}`"),
            Subject::Module(path) => write!(f, "{path}"),
        }
    }
}

/// One fact an edit establishes. Everything an edit does not claim stays
/// as it was, for its subject and for every other configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "claim", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Claim {
    /// The configuration is built on `build` for `host` (natively when they
    /// are equal).
    Platforms {
        /// The configuration.
        config: String,
        /// The system double that builds.
        build: String,
        /// The system double it runs on.
        host: String,
    },
    /// In the configuration's package set (`set` is `None`) or in its
    /// scoped package set `set`, `attr` is replaced by `package`; with
    /// `package` `None`, no overlay nixcross reads replaces `attr` (or the
    /// scoped set is gone).
    Overlay {
        /// The configuration.
        config: String,
        /// The scoped package set, if the overlay is in one.
        set: Option<String>,
        /// The attribute replaced.
        attr: String,
        /// The package that replaces it.
        package: Option<String>,
    },
    /// A module of the configuration adds `package` of the scoped set `set`
    /// to `environment.systemPackages`.
    Uses {
        /// The configuration.
        config: String,
        /// The scoped package set.
        set: String,
        /// The package.
        package: String,
    },
    /// `system` is (`listed`) or is not in `boot.binfmt.emulatedSystems`.
    Emulated {
        /// The configuration or module.
        subject: Subject,
        /// The system double.
        system: String,
        /// Whether it is listed.
        listed: bool,
    },
    /// A boolean option of the build host has `value` (`None`: unset).
    Toggle {
        /// The configuration or module.
        subject: Subject,
        /// The option.
        option: Toggle,
        /// Its value.
        value: Option<bool>,
    },
    /// `nix.buildMachines` has an entry for `host` over `protocol` with
    /// these fields (each as NixOS reads it: a list's items joined with
    /// `,`), or, with `fields` `None`, has none.
    Builder {
        /// The configuration or module.
        subject: Subject,
        /// The builder's `hostName`.
        host: String,
        /// `ssh` or `ssh-ng`.
        protocol: String,
        /// The fields the entry has, or `None` for no entry.
        fields: Option<BTreeMap<String, String>>,
    },
    /// The flake has the configuration `config`, built on `build` for
    /// `host`.
    Configuration {
        /// The configuration.
        config: String,
        /// The system double that builds.
        build: String,
        /// The system double it runs on.
        host: String,
    },
}

impl Claim {
    /// What the claim is about.
    pub fn subject(&self) -> Subject {
        match self {
            Claim::Platforms { config, .. }
            | Claim::Overlay { config, .. }
            | Claim::Uses { config, .. }
            | Claim::Configuration { config, .. } => Subject::Config(config.clone()),
            Claim::Emulated { subject, .. }
            | Claim::Toggle { subject, .. }
            | Claim::Builder { subject, .. } => subject.clone(),
        }
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Claim::Platforms {
                config,
                build,
                host,
            }
            | Claim::Configuration {
                config,
                build,
                host,
            } => {
                if build == host {
                    write!(f, "`{config}` is built natively for {host}")
                } else {
                    write!(f, "`{config}` is built on {build} for {host}")
                }
            }
            Claim::Overlay {
                config,
                set,
                attr,
                package,
            } => {
                let set = match set {
                    Some(s) => format!("{s} of `{config}`"),
                    None => format!("the package set of `{config}`"),
                };
                match package {
                    Some(p) => write!(f, "{attr} is {p} in {set}"),
                    None => write!(f, "no overlay replaces {attr} in {set}"),
                }
            }
            Claim::Uses {
                config,
                set,
                package,
            } => write!(f, "`{config}` installs {set}.{package}"),
            Claim::Emulated {
                subject,
                system,
                listed,
            } => write!(
                f,
                "{subject} {} {system}",
                if *listed {
                    "emulates"
                } else {
                    "does not emulate"
                }
            ),
            Claim::Toggle {
                subject,
                option,
                value,
            } => match value {
                Some(v) => write!(f, "{subject} sets {option} = {v}"),
                None => write!(f, "{subject} does not set {option}"),
            },
            Claim::Builder {
                subject,
                host,
                protocol,
                fields,
            } => match fields {
                Some(_) => write!(f, "{subject} builds on {protocol}://{host}"),
                None => write!(f, "{subject} has no builder {protocol}://{host}"),
            },
        }
    }
}
