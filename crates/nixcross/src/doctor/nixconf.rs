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
    /// `include` lines not followed, with why: nested deeper than
    /// nixcross follows, or a loop (which Nix follows without end).
    pub include_problems: Vec<String>,
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
        conf.read(text, path, load, &mut Vec::new());
        conf
    }

    /// Read `text` of `path`, which `chain` includes (outermost first).
    fn read(
        &mut self,
        text: &str,
        path: &str,
        load: &mut dyn FnMut(&str) -> Option<String>,
        chain: &mut Vec<String>,
    ) {
        self.files.push(path.to_string());
        chain.push(path.to_string());
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
                if chain.contains(&full) {
                    self.include_problems.push(format!(
                        "{path}: `{first} {inc}` includes {full} again while it is read (a loop: Nix follows includes without end, and fails)"
                    ));
                    continue;
                }
                if chain.len() > MAX_INCLUDE_DEPTH {
                    self.include_problems.push(format!(
                        "{path}: `{first} {inc}` is not read: includes nest more than {MAX_INCLUDE_DEPTH} files deep, as far as nixcross follows them; the settings in {full} are not checked"
                    ));
                    continue;
                }
                // A file included again elsewhere (not a loop) is read once.
                if self.files.contains(&full) {
                    continue;
                }
                match load(&full) {
                    Some(t) => self.read(&t, &full, load, chain),
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
        chain.pop();
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
        assert_eq!(
            conf.include_problems,
            ["/etc/nix/nix.conf: `include nix.conf` includes /etc/nix/nix.conf again while it is read (a loop: Nix follows includes without end, and fails)"]
        );
    }

    /// A chain deeper than nixcross follows says where it stops (it was cut
    /// without a word); a file included twice, not in a loop, is read once.
    #[test]
    fn deep_include_chains_say_where_they_stop() {
        let conf = NixConf::parse("include c1.conf\n", "/etc/nix/nix.conf", &mut |p| {
            let n: usize = p
                .trim_start_matches("/etc/nix/c")
                .trim_end_matches(".conf")
                .parse()
                .ok()?;
            Some(format!("include c{}.conf\nx{n} = 1\n", n + 1))
        });
        assert_eq!(conf.get("x16"), Some("1"));
        assert_eq!(conf.get("x17"), None);
        assert_eq!(
            conf.include_problems.len(),
            1,
            "{:?}",
            conf.include_problems
        );
        assert!(
            conf.include_problems[0].starts_with("/etc/nix/c16.conf: `include c17.conf` is not read: includes nest more than 16 files deep"),
            "{:?}",
            conf.include_problems
        );
        let twice = NixConf::parse(
            "include a.conf\ninclude b.conf\n",
            "/etc/nix/nix.conf",
            &mut |p| {
                Some(if p.ends_with("a.conf") {
                    "include b.conf\n".into()
                } else {
                    "y = 1\n".into()
                })
            },
        );
        assert!(
            twice.include_problems.is_empty(),
            "{:?}",
            twice.include_problems
        );
        assert_eq!(twice.get("y"), Some("1"));
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
