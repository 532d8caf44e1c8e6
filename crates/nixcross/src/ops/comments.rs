//! The comments nixcross itself writes about a configuration's strategy,
//! so that `set-target` keeps them true.
//!
//! `init` (through `templates/configuration.nix.j2`) and `set-target` write
//! a few fixed sentences next to what they set: above nixosSystem's `system`
//! argument ("The build platform: ..." for a cross build, "Built natively
//! for ..." for an emulated one) and above the inline module that holds the
//! platform options ("Cross-compile: every package is built on ...").
//! [`Comment::parse`] recognises exactly those sentences, and [`block`]
//! writes them for a strategy. A comment block is rewritten only when every
//! line of it is one of these sentences; a user's own comment is never
//! touched. `tests` checks that [`block`] reproduces `init`'s output, so the
//! template and this file cannot drift apart.

use std::sync::OnceLock;

use regex::Regex;

use crate::platform;

/// One sentence nixcross writes (one comment line, without `# `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Comment {
    /// Above `system = <build>;` of a legacy cross build.
    BuildPlatform,
    /// Above the cross module: the first line ...
    CrossBuiltOn(String),
    /// ... and the second.
    CrossNoCache,
    /// Above an emulated build's platform: the first line ...
    EmulatedFor(String),
    /// ... and the second.
    EmulatedQemu,
    /// A build on the build machine's own platform.
    Native(String),
    /// The binary cache has the platform.
    Cached(String),
    /// The binary cache does not.
    NotCached,
    /// `set-target`'s own comment above a module it adds, for a cross build.
    SetCross { build: String, host: String },
    /// ... for an emulated build.
    SetEmulate(String),
}

/// A system double as it appears in those sentences.
const SYS: &str = r"([A-Za-z0-9_.+-]+)";

/// A sentence's pattern and how to read its captures.
type Pattern = (Regex, fn(&regex::Captures) -> Comment);

fn patterns() -> &'static [Pattern] {
    static P: OnceLock<Vec<Pattern>> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(&format!("^{}$", s.replace("SYS", SYS))).expect("a regex");
        vec![
            (
                re(r"The build platform: the machine that runs the cross toolchain\."),
                |_| Comment::BuildPlatform,
            ),
            (
                re(r"Cross-compile: every package is built on SYS for the target,"),
                |c| Comment::CrossBuiltOn(c[1].to_string()),
            ),
            (
                re(r"so almost nothing comes from the binary cache\."),
                |_| Comment::CrossNoCache,
            ),
            (
                re(r"Built natively for SYS\. On another machine the builds run"),
                |c| Comment::EmulatedFor(c[1].to_string()),
            ),
            (
                re(r"under QEMU: enable it there with boot\.binfmt\.emulatedSystems\."),
                |_| Comment::EmulatedQemu,
            ),
            (
                re(r"Built natively: SYS is the build machine's own platform\."),
                |c| Comment::Native(c[1].to_string()),
            ),
            (
                re(r"cache\.nixos\.org builds SYS, so most packages are downloaded\."),
                |c| Comment::Cached(c[1].to_string()),
            ),
            (
                re(r"cache\.nixos\.org does not build this platform: all of it compiles from source\."),
                |_| Comment::NotCached,
            ),
            (re(r"Cross-compile: built on SYS, runs on SYS\."), |c| {
                Comment::SetCross {
                    build: c[1].to_string(),
                    host: c[2].to_string(),
                }
            }),
            (re(r"Runs on SYS; built natively or under emulation\."), |c| {
                Comment::SetEmulate(c[1].to_string())
            }),
        ]
    })
}

impl Comment {
    /// The sentence of one comment line (`# ` and indentation stripped), if
    /// it is one nixcross writes.
    pub(crate) fn parse(line: &str) -> Option<Comment> {
        patterns()
            .iter()
            .find_map(|(re, make)| re.captures(line).map(|c| make(&c)))
    }

    /// The sentence.
    pub(crate) fn text(&self) -> String {
        match self {
            Comment::BuildPlatform => {
                "The build platform: the machine that runs the cross toolchain.".into()
            }
            Comment::CrossBuiltOn(b) => {
                format!("Cross-compile: every package is built on {b} for the target,")
            }
            Comment::CrossNoCache => "so almost nothing comes from the binary cache.".into(),
            Comment::EmulatedFor(s) => {
                format!("Built natively for {s}. On another machine the builds run")
            }
            Comment::EmulatedQemu => {
                "under QEMU: enable it there with boot.binfmt.emulatedSystems.".into()
            }
            Comment::Native(s) => {
                format!("Built natively: {s} is the build machine's own platform.")
            }
            Comment::Cached(s) => {
                format!("cache.nixos.org builds {s}, so most packages are downloaded.")
            }
            Comment::NotCached => {
                "cache.nixos.org does not build this platform: all of it compiles from source."
                    .into()
            }
            Comment::SetCross { build, host } => {
                format!("Cross-compile: built on {build}, runs on {host}.")
            }
            Comment::SetEmulate(s) => format!("Runs on {s}; built natively or under emulation."),
        }
    }
}

/// Where a comment block sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// Above nixosSystem's `system` argument (legacy style).
    SystemArgument,
    /// Above the inline module that holds the platform options.
    PlatformModule,
}

/// The strategy a configuration is built with, for its comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Cross-compiled on `build`.
    Cross { build: String },
    /// Built natively for `system` (under emulation on another machine);
    /// `native` when that is the build machine's own platform, `cached`
    /// when cache.nixos.org builds it.
    Emulate {
        system: String,
        native: bool,
        cached: bool,
    },
}

impl Strategy {
    /// The emulated strategy for `target`, seen from `local` (the machine
    /// that builds): `cached` as `init` decides it (the double's default
    /// platform only).
    pub(crate) fn emulate(target: &platform::Target, local: Option<&str>) -> Strategy {
        let cat = platform::catalogue();
        let default_config = cat.system(&target.system).map(|s| s.config.as_str());
        let plain = !target.example_has_extras && default_config == Some(target.config.as_str());
        Strategy::Emulate {
            system: target.system.clone(),
            native: local == Some(target.system.as_str()),
            cached: plain && cat.binary_cache(&target.system),
        }
    }
}

/// The sentences for `strategy` at `anchor`, as `init` writes them.
pub(crate) fn block(strategy: &Strategy, anchor: Anchor) -> Vec<Comment> {
    match (strategy, anchor) {
        (Strategy::Cross { .. }, Anchor::SystemArgument) => vec![Comment::BuildPlatform],
        (Strategy::Cross { build }, Anchor::PlatformModule) => {
            vec![Comment::CrossBuiltOn(build.clone()), Comment::CrossNoCache]
        }
        (
            Strategy::Emulate {
                system,
                native,
                cached,
            },
            _,
        ) => {
            let mut out = if *native {
                vec![Comment::Native(system.clone())]
            } else {
                vec![Comment::EmulatedFor(system.clone()), Comment::EmulatedQemu]
            };
            out.push(if *cached {
                Comment::Cached(system.clone())
            } else {
                Comment::NotCached
            });
            out
        }
    }
}

/// The comment block directly above the line of `offset`: its byte range
/// (whole lines) and its sentences, when every line is one nixcross
/// writes. `None` when there is no block, or a line of it is the user's.
pub(crate) fn own_block(src: &str, offset: usize) -> Option<((usize, usize), Vec<Comment>)> {
    let line = crate::syntax::line_start(src, offset);
    let start = crate::syntax::leading_comments_start(src, offset);
    if start >= line {
        return None;
    }
    let mut out = Vec::new();
    for l in src[start..line].lines() {
        let text = l.trim().strip_prefix('#')?.trim();
        out.push(Comment::parse(text)?);
    }
    Some(((start, line), out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::init::{render, InitOptions};
    use crate::vocab::{Kind, Mode, Style};

    fn init(target: &str, mode: Mode, style: Style, host: &str) -> String {
        render(&InitOptions {
            kind: Kind::Nixos,
            target: target.into(),
            mode,
            style,
            host: Some(host.into()),
            name: None,
            packages: Vec::new(),
            call: None,
            nixpkgs: None,
            description: None,
        })
        .unwrap()
        .text
    }

    /// The comment lines of `text` that come right before the first line
    /// (after `modules = [` when `next` is `{`) starting with `next`.
    fn block_before(text: &str, next: &str) -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        let from = if next == "{" {
            lines
                .iter()
                .position(|l| l.contains("modules = ["))
                .unwrap()
        } else {
            0
        };
        let i = (from..lines.len())
            .find(|&i| lines[i].trim_start().starts_with(next))
            .unwrap_or_else(|| panic!("no `{next}` in\n{text}"));
        let mut out = Vec::new();
        let mut j = i;
        while j > 0 && lines[j - 1].trim_start().starts_with('#') {
            j -= 1;
            out.insert(
                0,
                lines[j].trim().trim_start_matches('#').trim().to_string(),
            );
        }
        out
    }

    fn texts(b: &[Comment]) -> Vec<String> {
        b.iter().map(Comment::text).collect()
    }

    #[test]
    fn blocks_are_what_init_writes() {
        for (target, host) in [
            ("riscv64-linux", "x86_64-linux"),
            ("aarch64-linux", "x86_64-linux"),
            ("x86_64-linux", "x86_64-linux"),
            ("aarch64-multiplatform-musl", "x86_64-linux"),
        ] {
            let t = platform::resolve(target).unwrap();
            let emulate = Strategy::emulate(&t, Some(host));
            // Legacy emulation: above `system`.
            let text = init(target, Mode::Emulate, Style::Legacy, host);
            assert_eq!(
                block_before(&text, "system ="),
                texts(&block(&emulate, Anchor::SystemArgument)),
                "{target}\n{text}"
            );
            // Modern emulation: above the module.
            let text = init(target, Mode::Emulate, Style::Modern, host);
            assert_eq!(
                block_before(&text, "{"),
                texts(&block(&emulate, Anchor::PlatformModule)),
                "{target}\n{text}"
            );
            if t.system == host {
                continue;
            }
            let cross = Strategy::Cross {
                build: host.to_string(),
            };
            let text = init(target, Mode::Cross, Style::Legacy, host);
            assert_eq!(
                block_before(&text, "system ="),
                texts(&block(&cross, Anchor::SystemArgument))
            );
            assert_eq!(
                block_before(&text, "{"),
                texts(&block(&cross, Anchor::PlatformModule))
            );
        }
    }

    #[test]
    fn every_sentence_reads_back() {
        for c in [
            Comment::BuildPlatform,
            Comment::CrossBuiltOn("x86_64-linux".into()),
            Comment::CrossNoCache,
            Comment::EmulatedFor("riscv64-linux".into()),
            Comment::EmulatedQemu,
            Comment::Native("aarch64-linux".into()),
            Comment::Cached("aarch64-linux".into()),
            Comment::NotCached,
            Comment::SetCross {
                build: "x86_64-linux".into(),
                host: "armv7l-linux".into(),
            },
            Comment::SetEmulate("i686-linux".into()),
        ] {
            assert_eq!(Comment::parse(&c.text()), Some(c.clone()));
        }
        // Not ours: a user's sentence, or ours with words added.
        assert_eq!(Comment::parse("The build platform: my laptop."), None);
        assert_eq!(
            Comment::parse("Cross-compile: built on x86_64-linux, runs on riscv64-linux. Slow!"),
            None
        );
    }

    #[test]
    fn a_block_with_a_users_line_is_not_ours() {
        let src = "{\n  # Built natively: x86_64-linux is the build machine's own platform.\n  # My desktop.\n  system = \"x86_64-linux\";\n}\n";
        let at = src.find("system").unwrap();
        assert!(own_block(src, at).is_none());
        let src = "{\n  # The build platform: the machine that runs the cross toolchain.\n  system = \"x86_64-linux\";\n}\n";
        let at = src.find("system").unwrap();
        let (range, b) = own_block(src, at).unwrap();
        assert_eq!(b, vec![Comment::BuildPlatform]);
        assert_eq!(
            &src[range.0..range.1],
            "  # The build platform: the machine that runs the cross toolchain.\n"
        );
    }
}
