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

    /// A setting's raw value, by its canonical name.
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

    /// The `builders` setting, when nix.conf sets it.
    pub fn builders(&self) -> Option<&str> {
        self.get("builders")
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
    fn builders_setting() {
        let conf = NixConf::parse(
            "builders = ssh://a riscv64-linux ; @/etc/nix/more\n",
            "/etc/nix/nix.conf",
            &mut |_| None,
        );
        assert_eq!(
            conf.builders(),
            Some("ssh://a riscv64-linux ; @/etc/nix/more")
        );
        assert_eq!(NixConf::default().builders(), None);
    }
}
