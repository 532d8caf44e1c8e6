//! Just enough of nix.conf and the machines file for the doctor.

use std::collections::BTreeMap;

/// Settings after Nix's rules: a later line overrides an earlier one, and
/// `extra-<name>` appends to `<name>`. `extra-platforms` is a setting of its
/// own (so it overrides); `extra-extra-platforms` would append to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NixConf {
    /// The files read, in order (includes followed).
    pub files: Vec<String>,
    /// Raw values by canonical name.
    pub settings: BTreeMap<String, String>,
    /// `include` lines whose file was missing (Nix itself fails on these).
    pub missing_includes: Vec<String>,
}

/// Old names Nix still accepts.
fn canonical(name: &str) -> &str {
    match name {
        "build-sandbox-paths" | "build-chroot-dirs" => "sandbox-paths",
        "build-use-sandbox" | "build-use-chroot" => "sandbox",
        "build-max-jobs" => "max-jobs",
        other => other,
    }
}

/// Settings that are themselves named `extra-...`.
const EXTRA_SETTINGS: &[&str] = &["extra-platforms"];

const MAX_INCLUDE_DEPTH: usize = 16;

impl NixConf {
    /// Parse `text` (read from `path`). `load` returns the text of an
    /// included file, given the path written in the include line resolved
    /// against the including file's folder; the caller decides where files
    /// come from (the doctor's `--root`).
    pub fn parse(text: &str, path: &str, load: &mut dyn FnMut(&str) -> Option<String>) -> NixConf {
        let mut conf = NixConf::default();
        conf.read(text, path, load, 0);
        conf
    }

    fn read(
        &mut self,
        text: &str,
        path: &str,
        load: &mut dyn FnMut(&str) -> Option<String>,
        depth: usize,
    ) {
        self.files.push(path.to_string());
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or("");
            if first == "include" || first == "!include" {
                let Some(inc) = words.next() else { continue };
                let full = resolve_relative(path, inc);
                if depth >= MAX_INCLUDE_DEPTH || self.files.contains(&full) {
                    continue;
                }
                match load(&full) {
                    Some(t) => self.read(&t, &full, load, depth + 1),
                    None if first == "include" => self.missing_includes.push(full),
                    None => {}
                }
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            match key.strip_prefix("extra-") {
                Some(base) if !EXTRA_SETTINGS.contains(&key) => {
                    let slot = self
                        .settings
                        .entry(canonical(base).to_string())
                        .or_default();
                    if !slot.is_empty() && !value.is_empty() {
                        slot.push(' ');
                    }
                    slot.push_str(&value);
                }
                _ => {
                    self.settings.insert(canonical(key).to_string(), value);
                }
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.settings.get(name).map(String::as_str)
    }

    /// A whitespace-separated list setting.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// A boolean setting; `None` when unset or not a boolean.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The files the `builders` setting points at (`@/etc/nix/machines`,
    /// the default when unset), for the caller to read.
    pub fn builder_files(&self) -> Vec<String> {
        match self.get("builders") {
            None => vec!["/etc/nix/machines".to_string()],
            Some(v) => v
                .split([';', '\n'])
                .filter_map(|m| m.trim().strip_prefix('@'))
                .map(str::to_string)
                .collect(),
        }
    }

    /// Machines written inline in `builders` (not `@file` references).
    pub fn inline_builders(&self) -> Vec<Machine> {
        self.get("builders")
            .map(|v| {
                v.split(';')
                    .filter(|m| !m.trim().starts_with('@'))
                    .flat_map(|m| parse_machines(m, "nix.conf builders"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn resolve_relative(from: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    match from.rfind('/') {
        Some(i) => format!("{}/{}", &from[..i], path),
        None => path.to_string(),
    }
}

/// One remote builder line: `uri systems key maxJobs speedFactor features mandatory hostKey`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Machine {
    pub uri: String,
    /// Empty when the field is `-` or missing (the local system).
    pub systems: Vec<String>,
    pub max_jobs: Option<u32>,
    pub supported_features: Vec<String>,
    /// Where the line came from.
    pub source: String,
}

/// Parse a machines file (or a `builders` value): one machine per line or
/// `;`-separated, `#` comments, `-` for a default field.
pub fn parse_machines(text: &str, source: &str) -> Vec<Machine> {
    text.split(['\n', ';'])
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut f = line.split_whitespace();
            let uri = f.next()?.to_string();
            let list = |s: Option<&str>| -> Vec<String> {
                match s {
                    None | Some("-") => Vec::new(),
                    Some(s) => s
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect(),
                }
            };
            let systems = list(f.next());
            let _key = f.next();
            let max_jobs = f.next().and_then(|s| s.parse().ok());
            let _speed = f.next();
            let supported_features = list(f.next());
            Some(Machine {
                uri,
                systems,
                max_jobs,
                supported_features,
                source: source.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_appends_and_includes() {
        let main = "experimental-features = nix-command # flakes later\nextra-platforms = aarch64-linux\n\
                    sandbox-paths = /bin/sh=/x\ninclude extra.conf\n!include missing.conf\ninclude gone.conf\n";
        let extra = "extra-experimental-features = flakes\nextra-sandbox-paths = /run/binfmt\nextra-platforms = riscv64-linux\n";
        let conf = NixConf::parse(main, "/etc/nix/nix.conf", &mut |p| {
            (p == "/etc/nix/extra.conf").then(|| extra.to_string())
        });
        assert_eq!(
            conf.list("experimental-features"),
            ["nix-command", "flakes"]
        );
        // extra-platforms is its own setting: the later line wins.
        assert_eq!(conf.list("extra-platforms"), ["riscv64-linux"]);
        assert_eq!(conf.list("sandbox-paths"), ["/bin/sh=/x", "/run/binfmt"]);
        assert_eq!(conf.files, ["/etc/nix/nix.conf", "/etc/nix/extra.conf"]);
        assert_eq!(conf.missing_includes, ["/etc/nix/gone.conf"]);
    }

    #[test]
    fn include_loops_stop() {
        let conf = NixConf::parse(
            "include nix.conf\nsandbox = false\n",
            "/etc/nix/nix.conf",
            &mut |_| Some("include nix.conf\n".to_string()),
        );
        assert_eq!(conf.bool("sandbox"), Some(false));
    }

    #[test]
    fn machines() {
        let m = parse_machines(
            "# builders\nssh-ng://nix@arm aarch64-linux,armv7l-linux /root/.ssh/k 8 2 big-parallel - -\n\nssh://x - - 1\n",
            "/etc/nix/machines",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].systems, ["aarch64-linux", "armv7l-linux"]);
        assert_eq!(m[0].max_jobs, Some(8));
        assert_eq!(m[0].supported_features, ["big-parallel"]);
        assert!(m[1].systems.is_empty());
        let conf = NixConf::parse(
            "builders = ssh://a riscv64-linux ; @/etc/nix/more\n",
            "/etc/nix/nix.conf",
            &mut |_| None,
        );
        assert_eq!(conf.builder_files(), ["/etc/nix/more"]);
        assert_eq!(conf.inline_builders()[0].systems, ["riscv64-linux"]);
        assert_eq!(NixConf::default().builder_files(), ["/etc/nix/machines"]);
    }
}
