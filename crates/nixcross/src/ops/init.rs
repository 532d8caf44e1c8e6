//! `nixcross init`: a new flake.nix that builds, for a target platform, by
//! cross-compiling or under emulation, one of:
//!
//! - a NixOS system (`--kind nixos`, the default), in the legacy option
//!   style the seed document uses (`system` + `nixpkgs.crossSystem`) or the
//!   modern one (`nixpkgs.hostPlatform` + `nixpkgs.buildPlatform`);
//! - a package (`--kind package`): a nixpkgs package or the user's own
//!   `callPackage` file (see `outputs`);
//! - a development shell with the target's cross compiler (`--kind shell`).
//!
//! Pure: options in, text and notes out. Writing the file is the caller's job.

mod outputs;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::platform::{self, Target};
use crate::vocab::{Kind, Mode, Style};

/// The nixpkgs input when `--nixpkgs` is not given: the current stable
/// NixOS release branch (25.11, released November 2025).
pub const DEFAULT_NIXPKGS: &str = "github:nixos/nixpkgs/nixos-25.11";

/// What `nixcross init` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// What the flake builds: a NixOS system, a package or a dev shell.
    pub kind: Kind,
    /// A system double, a pkgsCross name or a config triple.
    pub target: String,
    /// How the target is built. A shell is always cross (`Emulate` is refused).
    pub mode: Mode,
    /// The NixOS option style (`--kind nixos` only; other kinds ignore it).
    pub style: Style,
    /// The build machine's system double. `None`: this machine's own
    /// ([`platform::current_system`]).
    pub host: Option<String>,
    /// The name of the output: the configuration under `nixosConfigurations`
    /// ([`default_name`]), the attribute under `packages.<system>`, or the
    /// shell under `devShells.<system>` (see [`output_name`]).
    pub name: Option<String>,
    /// `--kind package`: the nixpkgs attribute path to build (`hello`,
    /// `python3Packages.numpy`); exactly one of this and `call`.
    /// `--kind shell`: libraries for the target (`buildInputs`), any number.
    pub packages: Vec<String>,
    /// `--kind package`: a file, relative to the flake's folder, to build
    /// with `callPackage <file> { }`.
    pub call: Option<String>,
    /// The nixpkgs flake reference. `None`: [`DEFAULT_NIXPKGS`].
    pub nixpkgs: Option<String>,
    /// The flake's description. `None`: one that names the target and mode.
    pub description: Option<String>,
}

impl InitOptions {
    /// Options for a NixOS configuration (`--kind nixos`) of `target` built
    /// in `mode`, with every other option at its default.
    pub fn new(target: impl Into<String>, mode: Mode) -> Self {
        InitOptions {
            kind: Kind::default(),
            target: target.into(),
            mode,
            style: Style::default(),
            host: None,
            name: None,
            packages: Vec::new(),
            call: None,
            nixpkgs: None,
            description: None,
        }
    }
}

/// The rendered flake and what the build machine needs besides it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InitOutput {
    /// The flake's text (`flake.nix`).
    pub text: String,
    /// One paragraph per note, for the user (stderr): binfmt registration,
    /// extra-platforms, cache expectations.
    pub notes: Vec<String>,
}

/// The configuration name used when none is given: the pkgsCross name when
/// the target was named by one, otherwise the CPU part of the double
/// (`riscv64-linux` → `riscv64`), with the ABI appended when the triple is
/// not the double's default (`aarch64-unknown-linux-musl` → `aarch64-musl`).
pub fn default_name(target: &Target) -> String {
    if let Some(example) = &target.example {
        return example.clone();
    }
    let cpu = target
        .system
        .split_once('-')
        .map_or(target.system.as_str(), |(cpu, _)| cpu);
    if has_own_config(target) {
        if let Some((_, abi)) = target.config.rsplit_once("-linux-") {
            return format!("{cpu}-{abi}");
        }
    }
    cpu.to_string()
}

/// The config triple must be written out: the double alone would elaborate
/// to another one. (An emulation-only system has no triple in the catalogue
/// at all; its double is all there is to say.)
fn has_own_config(t: &Target) -> bool {
    !t.config.is_empty() && t.needs_config()
}

/// How the template writes the target platform.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Spec {
    /// `{ system = "<double>"; }` or the bare string.
    System,
    /// `{ config = "<triple>"; }`.
    Config,
    /// `nixpkgs.lib.systems.examples.<name>`.
    Example,
}

/// What the configuration template (`templates/configuration.nix.j2`)
/// needs; `init` and `add-config` both fill it with [`configuration`].
#[derive(Debug, Serialize)]
pub(crate) struct ConfigCtx {
    /// The attribute path the configuration is bound to.
    pub key: Vec<String>,
    /// The attribute path to nixpkgs' `lib` (`["nixpkgs", "lib"]`).
    pub lib: Vec<String>,
    mode: Mode,
    style: Style,
    host: String,
    system: String,
    config: String,
    default_config: String,
    spec: Spec,
    example: String,
    extras: String,
    cached: bool,
    native: bool,
}

/// A configuration to render, checked: the resolved target and build
/// machine, and the template's context.
#[derive(Debug)]
pub(crate) struct Configuration {
    pub target: Target,
    /// The build machine's double.
    pub host: String,
    pub ctx: ConfigCtx,
}

#[derive(Serialize)]
struct Ctx<'a> {
    description: &'a str,
    nixpkgs: &'a str,
    nixpkgs_is_default: bool,
    #[serde(flatten)]
    configuration: &'a ConfigCtx,
}

/// Reject a value that is empty or contains control characters. Everything
/// else is escaped when written.
pub(crate) fn check_text(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} must not contain control characters (newlines, tabs, ...)"
        )));
    }
    Ok(())
}

/// The text the user gave for `what` (checked), or the default.
fn given_or(
    what: &str,
    given: &Option<String>,
    default: impl FnOnce() -> String,
) -> Result<String> {
    match given {
        Some(v) => {
            check_text(what, v)?;
            Ok(v.clone())
        }
        None => Ok(default()),
    }
}

/// Resolve the build machine. A pkgsCross name or a triple means its double.
fn resolve_host(host: Option<&str>) -> Result<String> {
    let host = match host {
        Some(h) => h.to_string(),
        None => platform::current_system().ok_or_else(|| {
            Error::invalid("cannot tell this machine's system double")
                .hint("pass --host, e.g. --host x86_64-linux")
        })?,
    };
    let resolved = platform::resolve(&host).map_err(|mut e| {
        e.message = format!("unknown build host: {}", e.message);
        e
    })?;
    Ok(resolved.system)
}

/// The machine that builds `target` in `mode`: `host` (`None`: this
/// machine), or for a native build a machine of the target's own system
/// (`host`, when given, must be one).
pub(crate) fn build_machine(target: &Target, mode: Mode, host: Option<&str>) -> Result<String> {
    if mode != Mode::Native {
        return resolve_host(host);
    }
    if let Some(h) = host {
        mode.check_builder(&target.system, &resolve_host(Some(h))?)?;
    }
    Ok(target.system.clone())
}

/// Check a `--nixpkgs` flake reference; `None` means [`DEFAULT_NIXPKGS`].
fn nixpkgs_ref(given: Option<&str>) -> Result<&str> {
    let nixpkgs = given.unwrap_or(DEFAULT_NIXPKGS);
    check_text("the nixpkgs flake reference (--nixpkgs)", nixpkgs)?;
    if nixpkgs.chars().any(char::is_whitespace) {
        return Err(Error::invalid(format!(
            "`{nixpkgs}` is not a flake reference: it contains whitespace"
        )));
    }
    Ok(nixpkgs)
}

/// Render the flake for `opts`.
///
/// # Examples
///
/// ```
/// use nixcross::ops::init::{render, InitOptions};
/// use nixcross::vocab::Mode;
///
/// let mut opts = InitOptions::new("riscv64-linux", Mode::Cross);
/// opts.host = Some("x86_64-linux".into());
/// let out = render(&opts)?;
/// assert!(out.text.contains("nixosConfigurations.riscv64 = nixpkgs.lib.nixosSystem {"));
/// assert!(out.text.contains(r#"system = "riscv64-linux";"#));
/// # Ok::<(), nixcross::Error>(())
/// ```
pub fn render(opts: &InitOptions) -> Result<InitOutput> {
    match opts.kind {
        Kind::Nixos => render_nixos(opts),
        Kind::Package | Kind::Shell => outputs::render(opts),
    }
}

pub use outputs::output_name;

fn render_nixos(opts: &InitOptions) -> Result<InitOutput> {
    if !opts.packages.is_empty() || opts.call.is_some() {
        return Err(Error::invalid(
            "--package and --call say what a package or a dev shell builds; a NixOS system takes its packages from its modules",
        )
        .hint("pass --kind package or --kind shell"));
    }
    let mut c = configuration(&opts.target, opts.mode, opts.style, opts.host.as_deref())?;
    let name = given_or("the configuration name (--name)", &opts.name, || {
        default_name(&c.target)
    })?;
    let nixpkgs = nixpkgs_ref(opts.nixpkgs.as_deref())?;
    let shown = c.target.example.as_deref().unwrap_or(&c.target.system);
    let host = &c.host;
    let description = given_or("the description", &opts.description, || match opts.mode {
        Mode::Cross => format!("NixOS for {shown}, cross-compiled on {host}"),
        Mode::Emulate => format!("NixOS for {shown}, built natively or under emulation"),
        Mode::Native => format!("NixOS for {shown}, built natively"),
    })?;
    c.ctx.key = vec!["nixosConfigurations".into(), name];
    let ctx = Ctx {
        description: &description,
        nixpkgs,
        nixpkgs_is_default: opts.nixpkgs.is_none(),
        configuration: &c.ctx,
    };
    let text = crate::render::render("flake.nix", &ctx)?;
    Ok(InitOutput {
        text,
        notes: notes(&c, opts.mode),
    })
}

/// Check and describe one NixOS configuration for `target_input` built in
/// `mode` on `host` (`None`: this machine), written in `style`; `key` and
/// `lib` are filled in by the caller.
pub(crate) fn configuration(
    target_input: &str,
    mode: Mode,
    style: Style,
    host: Option<&str>,
) -> Result<Configuration> {
    let target = platform::resolve(target_input)?;
    if !target.is_linux() {
        let what = if target_input.trim() == target.system {
            target.system.clone()
        } else {
            format!("{} ({})", target_input.trim(), target.system)
        };
        return Err(Error::invalid(format!(
            "{what} is not a Linux platform, and NixOS only runs on Linux"
        ))
        .hint("pick a -linux system, e.g. aarch64-linux or riscv64-linux (`nixcross targets`)"));
    }
    let host = build_machine(&target, mode, host)?;
    let cat = platform::catalogue();
    let spec = if target.example_has_extras {
        Spec::Example
    } else if has_own_config(&target) {
        Spec::Config
    } else {
        Spec::System
    };
    let same_platform = target.system == host && !matches!(spec, Spec::Config | Spec::Example);
    match mode {
        Mode::Cross if same_platform => {
            return Err(Error::invalid(format!(
                "{} is the build machine's own platform: there is nothing to cross-compile",
                target.system
            ))
            .hint("use --mode emulate for a native build, or pass --host with the build machine's system"));
        }
        Mode::Emulate | Mode::Native
            if target.system != host && !cat.can_emulate(&target.system) =>
        {
            return Err(Error::invalid(format!(
                "NixOS has no emulator for {}: boot.binfmt.emulatedSystems does not accept it",
                target.system
            ))
            .hint("use --mode cross"));
        }
        _ => {}
    }
    let default_config = cat
        .system(&target.system)
        .map_or("", |s| s.config.as_str())
        .to_string();
    let extras = target
        .example
        .as_deref()
        .and_then(|n| cat.example(n))
        .map(|e| e.extra.join(", "))
        .unwrap_or_default();
    // The cache builds the double's default platform only: a musl triple or
    // an example with its own gcc flags is a different set of packages.
    let cached = cat.binary_cache(&target.system) && matches!(spec, Spec::System);
    let native = target.system == host;
    let ctx = ConfigCtx {
        key: Vec::new(),
        lib: vec!["nixpkgs".into(), "lib".into()],
        // A native build's flake is an emulated build's.
        mode: if mode.is_cross() {
            Mode::Cross
        } else {
            Mode::Emulate
        },
        style,
        host: host.clone(),
        system: target.system.clone(),
        config: target.config.clone(),
        default_config,
        spec,
        example: target.example.clone().unwrap_or_default(),
        extras,
        cached,
        native,
    };
    Ok(Configuration { target, host, ctx })
}

/// What the build machine needs besides the configuration, one paragraph
/// per note.
fn notes(c: &Configuration, mode: Mode) -> Vec<String> {
    match mode {
        Mode::Cross => cross_notes(&c.target, &c.host),
        Mode::Emulate | Mode::Native => emulate_notes(&c.target, &c.host, c.ctx.cached),
    }
}

fn cross_notes(target: &Target, host: &str) -> Vec<String> {
    vec![format!(
        "cross build: {host} compiles everything for {} with a cross toolchain; \
         cache.nixos.org has almost none of it, so the first build takes a while",
        target.system
    )]
}

fn emulate_notes(target: &Target, host: &str, cached: bool) -> Vec<String> {
    let system = &target.system;
    let mut notes = Vec::new();
    if system == host {
        notes.push(format!(
            "{system} is this build machine's own platform: it builds natively, no emulation needed"
        ));
        return notes;
    }
    if host == "x86_64-linux" && (system == "i686-linux" || system == "i386-linux") {
        notes.push(format!(
            "an x86_64 CPU runs {system} code natively; the build machine only needs \
             `extra-platforms = {system}` in nix.conf (NixOS: nix.settings.extra-platforms = [ \"{system}\" ];)"
        ));
        return notes;
    }
    notes.push(format!(
        "the build machine ({host}) must run {system} programs under QEMU. On NixOS, add to its \
         configuration (the build machine's, not this flake's):\n    \
         boot.binfmt.emulatedSystems = [ \"{system}\" ];"
    ));
    notes.push(format!(
        "on another Linux distribution: register QEMU for {system} with binfmt_misc \
         (a /etc/binfmt.d/*.conf file; `nixcross binfmt line {system}` prints the line), \
         add `extra-platforms = {system}` to /etc/nix/nix.conf, and make the interpreter visible \
         in the build sandbox (extra-sandbox-paths, or a static QEMU registered with the F flag)"
    ));
    notes.push(super::add_builder::remote_note(system));
    if !cached {
        notes.push(format!(
            "cache.nixos.org does not build this platform ({}), so every package compiles under \
             emulation: expect hours, or use --mode cross",
            if target.config.is_empty() {
                system.as_str()
            } else {
                target.config.as_str()
            }
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(target: &str, mode: Mode, style: Style) -> InitOptions {
        InitOptions {
            host: Some("x86_64-linux".into()),
            style,
            ..InitOptions::new(target, mode)
        }
    }

    fn text(o: &InitOptions) -> String {
        render(o).unwrap().text
    }

    #[test]
    fn default_names() {
        let name = |t: &str| default_name(&platform::resolve(t).unwrap());
        assert_eq!(name("riscv64-linux"), "riscv64");
        assert_eq!(name("raspberryPi"), "raspberryPi");
        assert_eq!(name("aarch64-unknown-linux-musl"), "aarch64-musl");
        assert_eq!(name("armv7l-unknown-linux-gnueabihf"), "armv7l");
        assert_eq!(
            name("powerpc64-unknown-linux-gnuabielfv2"),
            "powerpc64-gnuabielfv2"
        );
    }

    #[test]
    fn legacy_cross_is_the_seed_shape() {
        let t = text(&opts("riscv64-linux", Mode::Cross, Style::Legacy));
        assert!(t.contains("system = \"x86_64-linux\";"), "{t}");
        assert!(t.contains("nixpkgs.crossSystem = {"), "{t}");
        assert!(t.contains("system = \"riscv64-linux\";"), "{t}");
        assert!(t.contains(DEFAULT_NIXPKGS), "{t}");
        assert!(!t.contains("Platform"), "{t}");
    }

    #[test]
    fn modern_styles_never_mention_legacy_options() {
        for mode in [Mode::Cross, Mode::Emulate] {
            for target in ["riscv64-linux", "raspberryPi", "aarch64-unknown-linux-musl"] {
                let t = text(&opts(target, mode, Style::Modern));
                assert!(t.contains("nixpkgs.hostPlatform"), "{t}");
                assert_eq!(
                    t.contains("nixpkgs.buildPlatform"),
                    mode == Mode::Cross,
                    "{t}"
                );
                for legacy in ["crossSystem", "localSystem", "system = \""] {
                    assert!(!t.contains(legacy), "{legacy} in\n{t}");
                }
            }
        }
    }

    #[test]
    fn extras_use_the_example_and_odd_triples_use_config() {
        let t = text(&opts("raspberryPi", Mode::Cross, Style::Legacy));
        assert!(t.contains("nixpkgs.crossSystem = nixpkgs.lib.systems.examples.raspberryPi;"));
        let t = text(&opts(
            "aarch64-unknown-linux-musl",
            Mode::Cross,
            Style::Legacy,
        ));
        assert!(
            t.contains("config = \"aarch64-unknown-linux-musl\";"),
            "{t}"
        );
        let t = text(&opts("musl64", Mode::Emulate, Style::Legacy));
        assert!(t.contains("nixpkgs.localSystem = {"), "{t}");
        assert!(t.contains("config = \"x86_64-unknown-linux-musl\";"), "{t}");
    }

    #[test]
    fn refusals() {
        let err = |o: InitOptions| render(&o).unwrap_err();
        let e = err(opts("x86_64-linux", Mode::Cross, Style::Legacy));
        assert!(e.message.contains("own platform"), "{e:?}");
        let e = err(opts("gnu64", Mode::Cross, Style::Modern));
        assert!(e.message.contains("own platform"), "{e:?}");
        let e = err(opts("x86_64-darwin", Mode::Cross, Style::Legacy));
        assert!(e.message.contains("only runs on Linux"), "{e:?}");
        let e = err(opts("mingwW64", Mode::Emulate, Style::Legacy));
        assert!(e.message.contains("only runs on Linux"), "{e:?}");
        let e = err(opts("m68k-linux", Mode::Emulate, Style::Legacy));
        assert!(e.message.contains("no emulator"), "{e:?}");
        let e = err(opts("riscv64-linx", Mode::Cross, Style::Legacy));
        assert!(e.hints.iter().any(|h| h.contains("riscv64-linux")), "{e:?}");
        let e = err(InitOptions {
            host: Some("x86_64-lnux".into()),
            ..InitOptions::new("riscv64-linux", Mode::Cross)
        });
        assert!(e.message.contains("build host"), "{e:?}");
        let e = err(InitOptions {
            name: Some("a\nb".into()),
            ..opts("riscv64-linux", Mode::Cross, Style::Legacy)
        });
        assert!(e.message.contains("control"), "{e:?}");
        let e = err(InitOptions {
            nixpkgs: Some("github:a b".into()),
            ..opts("riscv64-linux", Mode::Cross, Style::Legacy)
        });
        assert!(e.message.contains("whitespace"), "{e:?}");
    }

    #[test]
    fn a_musl_cross_from_the_same_cpu_is_allowed() {
        let t = text(&opts("musl64", Mode::Cross, Style::Modern));
        assert!(t.contains("config = \"x86_64-unknown-linux-musl\";"), "{t}");
    }

    #[test]
    fn emulation_notes_name_what_the_build_host_needs() {
        let out = render(&opts("riscv64-linux", Mode::Emulate, Style::Legacy)).unwrap();
        let all = out.notes.join("\n");
        assert!(
            all.contains("boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];"),
            "{all}"
        );
        assert!(all.contains("extra-platforms = riscv64-linux"), "{all}");
        assert!(all.contains("does not build"), "{all}");
        let out = render(&opts("aarch64-linux", Mode::Emulate, Style::Legacy)).unwrap();
        assert!(!out.notes.join("\n").contains("does not build"));
        let out = render(&opts("x86_64-linux", Mode::Emulate, Style::Legacy)).unwrap();
        assert!(!out.notes.join("\n").contains("emulatedSystems"));
    }
}
