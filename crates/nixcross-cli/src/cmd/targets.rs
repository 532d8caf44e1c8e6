//! `nixcross targets`: the platform catalogue as an aligned table or JSON.

use crate::common;
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross targets riscv                 every platform whose name, double or triple has riscv
  nixcross targets 'aarch64-*-musl'      a glob: the whole name, double or triple matches
  nixcross targets --linux               what NixOS runs on
  nixcross targets raspberry --json")]
pub struct Args {
    /// Only the platforms whose name, double or triple contains PATTERN
    /// (case-insensitive), or matches it whole when it has * or ?
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Only Linux platforms (what NixOS runs on)
    #[arg(long)]
    pub linux: bool,
    /// Print JSON: {"systems": [{system, config, emulation, binaryCache}],
    /// "pkgsCross": [{name, config, system}]}
    #[arg(long)]
    pub json: bool,
}

/// Whether `pattern` selects one of `words`: a glob (`*`, `?`) matches a
/// whole word, anything else is found inside one; case is ignored.
fn selects(pattern: &str, words: &[&str]) -> bool {
    let pattern = pattern.to_lowercase();
    let glob = pattern.contains(['*', '?']);
    words.iter().any(|w| {
        let w = w.to_lowercase();
        if glob {
            glob_match(pattern.as_bytes(), w.as_bytes())
        } else {
            w.contains(&pattern)
        }
    })
}

/// `*` any run of characters, `?` one character, the rest itself.
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&p[1..], s) || (!s.is_empty() && glob_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Rows as columns padded to the widest cell (the last column unpadded).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len() - 1;
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push('\n');
    }
    out
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "-" }.to_string()
}

pub fn run(args: Args) -> CmdResult {
    let mut listing = nixcross::platform::listing();
    let linux = |system: &str| system.ends_with("-linux");
    listing.systems.retain(|s| {
        (!args.linux || linux(&s.system))
            && args
                .pattern
                .as_deref()
                .is_none_or(|p| selects(p, &[&s.system, &s.config]))
    });
    listing.pkgs_cross.retain(|e| {
        (!args.linux || linux(&e.system))
            && args
                .pattern
                .as_deref()
                .is_none_or(|p| selects(p, &[&e.name, &e.system, &e.config]))
    });
    if listing.systems.is_empty() && listing.pkgs_cross.is_empty() {
        if let Some(p) = &args.pattern {
            let mut message = format!("no platform matches `{p}`");
            // What --target would make of it: a Rust triple, a board, a typo.
            match nixcross::platform::resolve(p) {
                Ok(t) => message.push_str(&format!("\n  hint: as --target, `{p}` is {}", t.system)),
                Err(e) => {
                    for h in e.hints.iter().filter(|h| !h.contains("nixcross targets")) {
                        message.push_str(&format!("\n  hint: {h}"));
                    }
                }
            }
            return Err(CliError::usage(message));
        }
    }
    if args.json {
        common::print_json(&listing);
        return Ok(Exit::Success);
    }
    let systems: Vec<Vec<String>> = listing
        .systems
        .iter()
        .map(|s| {
            vec![
                s.system.clone(),
                s.config.clone(),
                yes(s.emulation),
                yes(s.binary_cache),
            ]
        })
        .collect();
    let examples: Vec<Vec<String>> = listing
        .pkgs_cross
        .iter()
        .map(|e| vec![e.name.clone(), e.config.clone(), e.system.clone()])
        .collect();
    let mut out =
        String::from("System doubles (--target accepts the double or its config triple):\n\n");
    out.push_str(&table(
        &["SYSTEM", "CONFIG", "EMULATION", "BINARY CACHE"],
        &systems,
    ));
    out.push_str("\npkgsCross names (lib.systems.examples):\n\n");
    out.push_str(&table(&["NAME", "CONFIG", "SYSTEM"], &examples));
    out.push_str(
        "\nEMULATION: NixOS can run it under QEMU (boot.binfmt.emulatedSystems).\n\
         BINARY CACHE: cache.nixos.org builds it natively; any other platform, and every\n\
         cross build, compiles locally. NixOS itself runs only on -linux systems.\n",
    );
    common::print(&out);
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_select_by_substring_or_glob() {
        assert!(selects("RISCV", &["riscv64-linux"]));
        assert!(selects("v64-li", &["riscv64-linux"]));
        assert!(!selects(
            "arm",
            &["riscv64-linux", "riscv64-unknown-linux-gnu"]
        ));
        assert!(selects("aarch64-*-musl", &["aarch64-unknown-linux-musl"]));
        assert!(!selects("aarch64-*", &["x86_64-linux"]));
        assert!(selects("*pi", &["raspberryPi"]));
        assert!(
            !selects("rasp?", &["raspberryPi"]),
            "a glob matches whole words"
        );
        assert!(selects("i?86-linux", &["i686-linux"]));
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["long".into(), "x".into()],
                vec!["s".into(), "yy".into()],
            ],
        );
        assert_eq!(t, "A     BB\nlong  x\ns     yy\n");
    }
}
