//! `nixcross targets`: the platform catalogue as an aligned table or JSON.

use std::process::ExitCode;

use crate::common::{self, CmdResult};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON: {"systems": [{system, config, emulation, binaryCache}],
    /// "pkgsCross": [{name, config, system}]}
    #[arg(long)]
    pub json: bool,
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
    let listing = nixcross::platform::listing();
    if args.json {
        common::print_json(&listing);
        return Ok(ExitCode::SUCCESS);
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
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

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
