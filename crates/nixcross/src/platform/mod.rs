//! The platform catalogue: every system double nixpkgs knows, every
//! `pkgsCross` example, the binfmt magics NixOS can emulate, and which
//! platforms the official binary cache builds.
//!
//! The data lives in `data/catalogue.json`, derived from nixpkgs' own `lib`
//! (see `data/README.md` for the command). It is embedded at build time, as
//! code that makes it (`build.rs`), so that nothing parses it at run time.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{Error, Result};

/// A system double (`riscv64-linux`) and the config triple nixpkgs elaborates it to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct System {
    /// The double, e.g. `riscv64-linux`.
    pub system: String,
    /// Its config triple, e.g. `riscv64-unknown-linux-gnu`.
    pub config: String,
}

/// A `lib.systems.examples` entry, i.e. a `pkgsCross.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Example {
    /// The name under `lib.systems.examples` and `pkgsCross`.
    pub name: String,
    /// Its config triple.
    pub config: String,
    /// The double `lib.systems.elaborate` gives the example.
    pub system: String,
    /// Attributes the example sets besides `config` (gcc, libc, ...). When
    /// non-empty, only the example itself is a faithful crossSystem.
    pub extra: Vec<String>,
    /// The example is exactly what its triple elaborates to: every extra
    /// attribute equals `lib.systems.elaborate { config = <triple>; }`'s
    /// (`mingwW64`'s `libc = "msvcrt"` is mingw's default; `raspberryPi`'s
    /// gcc flags are armv6l's). Always true without extras.
    pub exact: bool,
}

/// A binfmt_misc magic and mask from nixos/lib/binfmt-magics.nix, as `\xHH` text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Magic {
    /// The system, as `boot.binfmt.emulatedSystems` names it.
    pub system: String,
    /// The magic bytes, as `\xHH` text.
    pub magic: String,
    /// Which bits of the magic count; `None`: all of them.
    pub mask: Option<String>,
}

/// The whole catalogue.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalogue {
    /// Where the data comes from (the nixpkgs revision and attributes).
    pub source: String,
    /// The systems the official binary cache builds packages for.
    pub binary_cache: Vec<String>,
    /// `lib.systems.flakeExposed`: the systems flakes commonly list.
    pub flake_exposed: Vec<String>,
    /// `lib.systems.doubles.all`, each with the triple it elaborates to.
    pub systems: Vec<System>,
    /// `lib.systems.examples`.
    pub examples: Vec<Example>,
    /// The binfmt_misc magics of `nixos/lib/binfmt-magics.nix`.
    pub binfmt: Vec<Magic>,
}

static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();

/// A string of the embedded catalogue (a `String`, or a `Some` of one).
fn s<T: From<String>>(text: &str) -> T {
    T::from(text.to_string())
}

// `fn embedded() -> Catalogue`, made by build.rs from data/catalogue.json.
include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// The embedded catalogue.
pub fn catalogue() -> &'static Catalogue {
    CATALOGUE.get_or_init(embedded)
}

impl Catalogue {
    /// The system double `double`, if nixpkgs knows it.
    pub fn system(&self, double: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.system == double)
    }
    /// The pkgsCross example called `name`.
    pub fn example(&self, name: &str) -> Option<&Example> {
        self.examples.iter().find(|e| e.name == name)
    }
    /// The magic NixOS registers for this system, if NixOS can emulate it.
    pub fn magic(&self, double: &str) -> Option<&Magic> {
        self.binfmt.iter().find(|m| m.system == double)
    }
    /// Whether `boot.binfmt.emulatedSystems` accepts this system.
    pub fn can_emulate(&self, double: &str) -> bool {
        self.magic(double).is_some()
    }
    /// Whether the official binary cache builds packages natively for this system.
    pub fn binary_cache(&self, double: &str) -> bool {
        self.binary_cache.iter().any(|s| s == double)
    }
    /// The systems `boot.binfmt.emulatedSystems` accepts, in nixpkgs' order.
    pub fn emulatable(&self) -> impl Iterator<Item = &str> {
        self.binfmt.iter().map(|m| m.system.as_str())
    }
}

/// A resolved `--target`: what the user typed, turned into a platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// The system double, e.g. `riscv64-linux`.
    pub system: String,
    /// The config triple, e.g. `riscv64-unknown-linux-gnu`.
    pub config: String,
    /// The pkgsCross example, when the user named one (or a triple that only an example has).
    pub example: Option<String>,
    /// True when the example carries more than a config (gcc flags, libc, ...),
    /// so the faithful crossSystem is `lib.systems.examples.<name>`.
    pub example_has_extras: bool,
}

impl Target {
    fn from_system(s: &System) -> Target {
        Target {
            system: s.system.clone(),
            config: s.config.clone(),
            example: None,
            example_has_extras: false,
        }
    }
    fn from_example(e: &Example) -> Target {
        Target {
            system: e.system.clone(),
            config: e.config.clone(),
            example: Some(e.name.clone()),
            example_has_extras: !e.extra.is_empty(),
        }
    }
    /// True when a bare `{ system = "<double>"; }` does not say everything:
    /// the config is not what the double elaborates to (musl, gnuabielfv2, ...)
    /// or the example carries extra attributes.
    pub fn needs_config(&self) -> bool {
        match catalogue().system(&self.system) {
            Some(s) => s.config != self.config,
            None => true,
        }
    }
    /// Whether the target runs Linux (its double contains `-linux`).
    pub fn is_linux(&self) -> bool {
        self.system.contains("-linux")
    }
}

/// Resolve a system double, a pkgsCross name or a config triple.
///
/// Doubles win over example names (`riscv64-linux` vs `riscv64`), and a
/// triple that a double elaborates to resolves to that double.
pub fn resolve(input: &str) -> Result<Target> {
    let cat = catalogue();
    let input = input.trim();
    if let Some(s) = cat.system(input) {
        return Ok(Target::from_system(s));
    }
    if let Some(e) = cat.example(input) {
        return Ok(Target::from_example(e));
    }
    if let Some(s) = cat.systems.iter().find(|s| s.config == input) {
        return Ok(Target::from_system(s));
    }
    // Triples such as arm64-apple-darwin vs aarch64-apple-darwin, or musl and
    // mingw ones that only an example has (and is exactly).
    if let Some(e) = cat.examples.iter().find(|e| e.config == input && e.exact) {
        let mut t = Target::from_example(e);
        t.example = None;
        t.example_has_extras = false;
        return Ok(t);
    }
    // Emulatable systems that are not in doubles.all (alpha-linux, sparc-linux, ...).
    if cat.can_emulate(input) {
        return Ok(Target {
            system: input.to_string(),
            config: String::new(),
            example: None,
            example_has_extras: false,
        });
    }
    // A Rust target triple (cross-rs, `rustup target add`).
    if let Some(t) = rust_triple(input).and_then(|c| resolve(&c).ok()) {
        return Ok(t);
    }
    let mut err = Error::invalid(format!("unknown target `{input}`"));
    if let Some((board, system)) = board_hint(input) {
        err = err.hint(format!(
            "`{input}` looks like a board: a {board} runs {system} (--target {system}); its hardware module comes from nixos-hardware"
        ));
    }
    let suggestions = suggest(input, 3);
    if !suggestions.is_empty() {
        err = err.hint(format!("did you mean {}?", suggestions.join(", ")));
    }
    Err(err.hint("`nixcross targets` lists every system, pkgsCross name and triple"))
}

/// The nixpkgs config triple a Rust target triple names, when it differs
/// only in Rust's spelling: `riscv64gc-unknown-linux-gnu` is
/// `riscv64-unknown-linux-gnu`, `armv7-unknown-linux-gnueabihf` is
/// `armv7l-unknown-linux-gnueabihf`, `arm-unknown-linux-gnueabihf` (ARMv6)
/// is `armv6l-unknown-linux-gnueabihf`, `x86_64-pc-windows-gnu` is
/// `x86_64-w64-mingw32`, `aarch64-apple-darwin` is `arm64-apple-darwin`,
/// `wasm32-wasip1` is `wasm32-unknown-wasi`.
pub fn rust_triple(input: &str) -> Option<String> {
    match input {
        "wasm32-wasip1" | "wasm32-wasi" | "wasm32-unknown-wasi" => {
            return Some("wasm32-unknown-wasi".into())
        }
        // nixpkgs spells Apple's 64-bit ARM `arm64`.
        "aarch64-apple-darwin" => return Some("arm64-apple-darwin".into()),
        _ => {}
    }
    let parts: Vec<&str> = input.split('-').collect();
    if parts.len() < 3 {
        return None;
    }
    let (arch, rest) = (parts[0], &parts[1..]);
    let rest = rest.join("-");
    let arch = match arch {
        "riscv64gc" | "riscv64imac" => "riscv64",
        "riscv32gc" | "riscv32imac" | "riscv32imc" | "riscv32i" => "riscv32",
        "armv7" if rest.ends_with("gnueabihf") || rest.ends_with("musleabihf") => "armv7l",
        "arm" if rest.ends_with("gnueabihf") || rest.ends_with("musleabihf") => "armv6l",
        "i586" | "i686" | "x86_64" | "aarch64" | "powerpc64le" | "powerpc64" | "s390x"
        | "loongarch64" | "mips64el" | "mipsel" | "mips" | "wasm32" => arch,
        _ => return None,
    };
    let rest = match rest.as_str() {
        "pc-windows-gnu" | "pc-windows-gnullvm" => "w64-mingw32".to_string(),
        "wasip1" | "wasi" => "unknown-wasi".to_string(),
        r => r
            .strip_prefix("pc-")
            .map_or_else(|| r.to_string(), |r| format!("unknown-{r}")),
    };
    let triple = format!("{arch}-{rest}");
    (triple != input || catalogue().systems.iter().any(|s| s.config == triple)).then_some(triple)
}

/// A board someone may type as a target, and the system it runs: the
/// target is the CPU's platform, not the board.
pub fn board_hint(input: &str) -> Option<(&'static str, &'static str)> {
    let key: String = input
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    const BOARDS: &[(&[&str], &str, &str)] = &[
        (
            &["raspberrypi5", "rpi5", "pi5"],
            "Raspberry Pi 5",
            "aarch64-linux",
        ),
        (
            &["raspberrypi4", "rpi4", "pi4"],
            "Raspberry Pi 4",
            "aarch64-linux",
        ),
        (
            &["raspberrypi3", "rpi3", "pi3"],
            "Raspberry Pi 3",
            "aarch64-linux",
        ),
        (
            &["raspberrypizero2w", "rpizero2w", "zero2w", "rpi02w"],
            "Raspberry Pi Zero 2 W",
            "aarch64-linux",
        ),
        (
            &["visionfive2", "starfivevisionfive2", "vf2"],
            "VisionFive 2",
            "riscv64-linux",
        ),
        (
            &["star64", "pine64star64"],
            "Pine64 Star64",
            "riscv64-linux",
        ),
        (&["licheepi4a", "lp4a"], "LicheePi 4A", "riscv64-linux"),
        (&["rock5b", "radxarock5b"], "Rock 5B", "aarch64-linux"),
        (
            &["pinebookpro", "pine64pinebookpro"],
            "Pinebook Pro",
            "aarch64-linux",
        ),
        (&["orangepi5", "opi5"], "Orange Pi 5", "aarch64-linux"),
    ];
    BOARDS
        .iter()
        .find(|(names, _, _)| names.contains(&key.as_str()))
        .map(|(_, board, system)| (*board, *system))
}

/// A catalogue name resolved, without suggestions (for ranking them).
fn resolve_known(name: &str) -> Option<Target> {
    let cat = catalogue();
    cat.system(name)
        .map(Target::from_system)
        .or_else(|| cat.example(name).map(Target::from_example))
        .or_else(|| {
            cat.systems
                .iter()
                .find(|s| s.config == name)
                .map(Target::from_system)
        })
}

/// Up to `n` catalogue names (doubles, example names, triples) closest to `input`.
pub fn suggest(input: &str, n: usize) -> Vec<String> {
    let cat = catalogue();
    // `x86-64-linux`: the usual misspelling of the architecture.
    let input = &input
        .replace("x86-64", "x86_64")
        .replace("amd64", "x86_64")
        .replace("arm64", "aarch64");
    let lower = input.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = cat
        .systems
        .iter()
        .map(|s| s.system.as_str())
        .chain(cat.examples.iter().map(|e| e.name.as_str()))
        .chain(cat.systems.iter().map(|s| s.config.as_str()))
        .chain(cat.emulatable())
        .map(|name| {
            let mut score = strsim::jaro_winkler(&lower, &name.to_ascii_lowercase());
            // "riscv64" typed for the double: a prefix match is a strong hint.
            if name.starts_with(&lower) {
                score += 0.1;
            }
            // Prefer the double, the form most users mean, and what NixOS
            // runs on (`aarch64` means aarch64-linux before aarch64-none).
            if cat.system(name).is_some() {
                score += 0.02;
            }
            if resolve_known(name).is_some_and(|t| t.is_linux()) {
                score += 0.05;
            }
            (score, name)
        })
        .filter(|(score, _)| *score > 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, name) in scored {
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// One row of `nixcross targets`: a system double.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedSystem {
    /// The double.
    pub system: String,
    /// What `lib.systems.elaborate` gives the double.
    pub config: String,
    /// Whether NixOS can emulate it (`boot.binfmt.emulatedSystems`).
    pub emulation: bool,
    /// Whether cache.nixos.org builds packages for it.
    pub binary_cache: bool,
}

/// One `pkgsCross` row of `nixcross targets`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListedExample {
    /// The pkgsCross name.
    pub name: String,
    /// Its config triple.
    pub config: String,
    /// The double it elaborates to.
    pub system: String,
}

/// What `nixcross targets` shows: every double, then every pkgsCross name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listing {
    /// Every system double.
    pub systems: Vec<ListedSystem>,
    /// Every pkgsCross example (serialized as `pkgsCross`).
    #[serde(rename = "pkgsCross")]
    pub pkgs_cross: Vec<ListedExample>,
}

/// The catalogue as `nixcross targets` lists it, in nixpkgs' order.
pub fn listing() -> Listing {
    let cat = catalogue();
    Listing {
        systems: cat
            .systems
            .iter()
            .map(|s| ListedSystem {
                system: s.system.clone(),
                config: s.config.clone(),
                emulation: cat.can_emulate(&s.system),
                binary_cache: cat.binary_cache(&s.system),
            })
            .collect(),
        pkgs_cross: cat
            .examples
            .iter()
            .map(|e| ListedExample {
                name: e.name.clone(),
                config: e.config.clone(),
                system: e.system.clone(),
            })
            .collect(),
    }
}

/// The system double of a Rust target's arch and OS, as nixpkgs names it.
/// `None` for a combination nixpkgs has no double for.
pub fn system_of(arch: &str, os: &str) -> Option<String> {
    let arch = match arch {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" if cfg!(target_endian = "little") => "powerpc64le",
        other => other,
    };
    let os = match os {
        "macos" => "darwin",
        other => other,
    };
    let double = format!("{arch}-{os}");
    catalogue().system(&double).map(|s| s.system.clone())
}

/// The double of the machine this library was compiled for (the build host
/// when the CLI runs natively).
pub fn current_system() -> Option<String> {
    system_of(std::env::consts::ARCH, std::env::consts::OS)
}

/// One system the user typed, as a key of the binfmt magics table.
pub fn emulated_system(input: &str) -> Result<String> {
    let cat = catalogue();
    let s = input.trim();
    if cat.can_emulate(s) {
        return Ok(s.to_string());
    }
    let all: Vec<&str> = cat.emulatable().collect();
    match resolve(s) {
        Ok(t) if cat.can_emulate(&t.system) => Ok(t.system),
        Ok(t) => {
            let what = if t.system == s {
                format!("`{s}`")
            } else {
                format!("`{s}` ({})", t.system)
            };
            Err(
                Error::invalid(format!("{what} is not a system NixOS can emulate")).hint(format!(
                    "boot.binfmt.emulatedSystems accepts: {}",
                    all.join(", ")
                )),
            )
        }
        Err(_) => {
            let mut err = Error::invalid(format!("unknown system `{s}`"));
            let mut near: Vec<String> = Vec::new();
            for name in suggest(s, 10) {
                if let Ok(t) = resolve(&name) {
                    if cat.can_emulate(&t.system) && !near.contains(&t.system) {
                        near.push(t.system);
                    }
                }
            }
            near.truncate(3);
            if !near.is_empty() {
                err = err.hint(format!("did you mean {}?", near.join(", ")));
            }
            Err(err.hint(format!(
                "boot.binfmt.emulatedSystems accepts: {}",
                all.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_triples_and_boards() {
        for (rust, system) in [
            ("riscv64gc-unknown-linux-gnu", "riscv64-linux"),
            ("armv7-unknown-linux-gnueabihf", "armv7l-linux"),
            ("arm-unknown-linux-gnueabihf", "armv6l-linux"),
            ("x86_64-pc-windows-gnu", "x86_64-windows"),
            ("aarch64-apple-darwin", "aarch64-darwin"),
            ("x86_64-unknown-linux-musl", "x86_64-linux"),
            ("wasm32-wasip1", "wasm32-wasi"),
        ] {
            assert_eq!(resolve(rust).unwrap().system, system, "{rust}");
        }
        assert_eq!(suggest("aarch64", 3)[0], "aarch64-linux");
        assert_eq!(suggest("x86-64-linux", 3)[0], "x86_64-linux");
        let e = resolve("raspberryPi4").unwrap_err();
        assert!(
            e.hints[0].contains("Raspberry Pi 4 runs aarch64-linux"),
            "{e:?}"
        );
    }

    #[test]
    fn catalogue_is_the_json() {
        let json: Catalogue =
            serde_json::from_str(include_str!("../../data/catalogue.json")).unwrap();
        assert_eq!(*catalogue(), json);
    }

    #[test]
    fn catalogue_loads_and_is_consistent() {
        let cat = catalogue();
        assert!(cat.systems.len() > 50);
        assert!(cat.examples.len() > 50);
        assert_eq!(cat.binfmt.len(), 29);
        for e in &cat.examples {
            assert!(!e.config.is_empty(), "{}", e.name);
            assert!(e.exact || !e.extra.is_empty(), "{}", e.name);
        }
    }

    #[test]
    fn resolves_doubles_examples_and_triples() {
        let t = resolve("riscv64-linux").unwrap();
        assert_eq!(t.config, "riscv64-unknown-linux-gnu");
        assert_eq!(t.example, None);
        let t = resolve("raspberryPi").unwrap();
        assert_eq!(t.system, "armv6l-linux");
        assert!(t.example_has_extras);
        let t = resolve("riscv64-unknown-linux-gnu").unwrap();
        assert_eq!(t.system, "riscv64-linux");
        let t = resolve("armv7l-linux").unwrap();
        assert_eq!(t.config, "armv7l-unknown-linux-gnueabihf");
        let t = resolve("aarch64-unknown-linux-musl").unwrap();
        assert_eq!(t.system, "aarch64-linux");
        assert!(t.needs_config());
        // Only examples have this triple, and mingwW64 is nothing more than it.
        let t = resolve("x86_64-w64-mingw32").unwrap();
        assert_eq!(t.system, "x86_64-windows");
        assert!(!t.example_has_extras);
    }

    #[test]
    fn unknown_target_suggests() {
        let err = resolve("riscv64-linx").unwrap_err();
        assert!(err.hints[0].contains("riscv64-linux"), "{:?}", err.hints);
        let err = resolve("aarch64").unwrap_err();
        assert!(err.hints[0].contains("aarch64-linux"), "{:?}", err.hints);
    }

    #[test]
    fn rust_arch_maps_to_double() {
        assert_eq!(
            system_of("x86_64", "linux").as_deref(),
            Some("x86_64-linux")
        );
        assert_eq!(
            system_of("aarch64", "macos").as_deref(),
            Some("aarch64-darwin")
        );
        assert_eq!(system_of("nonsense", "linux"), None);
    }
}
