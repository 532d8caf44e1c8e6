//! `nixcross export`: the nixcross.yaml that describes a flake as it is.

use std::path::{Component, Path, PathBuf};

use nixcross::ops::export::{export, to_text};

use crate::common;
use crate::complete;
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;
use crate::tree;
use crate::write::{self, Before, Change};
use clap_complete::engine::ArgValueCandidates;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross export                       print the spec of ./flake.nix
  nixcross export -o nixcross.yaml      write it next to the flake
  nixcross export -f nix/flake.nix -o nixcross.yaml

Every configuration nixcross can edit is described: its target (as the file
names it: a double, a pkgsCross example or a triple), mode (cross; native when
it is built for the system of the machine that builds, --host or this one;
else emulate), build machine, style and the overlays nixcross reads. What it cannot describe is listed in
comments at the end, with the reason. `nixcross apply` on the result changes
nothing. The build host is not exported: add `buildHost` by hand.")]
pub struct Args {
    /// The flake to describe, or its folder [default: flake.nix in this
    /// folder or the nearest parent]
    #[arg(short = 'f', long = "file", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub file: Option<PathBuf>,
    /// The system of the machine that builds: a configuration built for it
    /// is `mode: native`, one built natively for another system `mode:
    /// emulate` [default: this machine's]
    #[arg(long, value_name = "SYSTEM", add = ArgValueCandidates::new(complete::systems))]
    pub host: Option<String>,
    /// Write the spec to FILE instead of printing it
    #[arg(short = 'o', long = "output", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// With -o: print a unified diff of FILE and write nothing
    #[arg(long, requires = "output")]
    pub dry_run: bool,
    /// With -o: write nothing; exit 1 if FILE would change (with --dry-run,
    /// also print the diff)
    #[arg(long, requires = "output")]
    pub check: bool,
}

/// `path` relative to the folder `base` (both made absolute first).
fn relative(path: &Path, base: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let base = std::path::absolute(base).ok()?;
    fn clean(p: &Path) -> Vec<Component<'_>> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    }
    let (p, b) = (clean(&path), clean(&base));
    let common = p.iter().zip(&b).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

pub fn run(args: Args) -> CmdResult {
    let flake = tree::locate(args.file.as_deref())?;
    let flake_path = flake.display(&flake.rel);
    // Where the spec will be read from: the output's folder, or (printed)
    // this folder.
    let spec_dir = match &args.output {
        Some(o) => crate::cmd::apply::folder_of(o),
        None => PathBuf::from("."),
    };
    let flake_ref = match relative(&flake_path, &spec_dir) {
        Some(r) if r == Path::new("flake.nix") => None,
        Some(r) => Some(r.to_string_lossy().into_owned()),
        None => Some(
            std::path::absolute(&flake_path)
                .unwrap_or(flake_path.clone())
                .to_string_lossy()
                .into_owned(),
        ),
    };
    // apply reads only files inside the spec's folder.
    if let Some(r) = flake_ref
        .as_deref()
        .filter(|r| Path::new(r).is_absolute() || r.starts_with(".."))
    {
        let why = format!(
            "the spec would name the flake as {}, outside its folder, which `nixcross apply` refuses (unless --allow-outside names it)",
            crate::term::escape(r)
        );
        match &args.output {
            Some(o) => {
                return Err(CliError::usage(format!(
                    "{}: {why}; write the spec in the flake's folder or one above it",
                    o.display()
                )))
            }
            None => common::warn(&why),
        }
    }
    let local_system = match &args.host {
        Some(h) => Some(nixcross::platform::resolve(h)?.system),
        None => nixcross::platform::current_system(),
    };
    let exported = export(&flake.files, &flake.rel, flake_ref, local_system.as_deref())
        .map_err(|e| flake.error(&e))?;
    let text = to_text(&exported, &flake_path.display().to_string());
    let Some(o) = &args.output else {
        common::print(&text);
        return Ok(Exit::Success);
    };
    let current = write::current(o)?;
    let before = match &current {
        Before::Text(t) => t.clone(),
        Before::Absent => String::new(),
    };
    if before == text {
        common::status(&format!("{}: already up to date", o.display()));
        return Ok(Exit::Success);
    }
    if args.dry_run {
        common::print(&common::unified_diff(o, &before, &text));
    }
    if args.check {
        common::verdict(&format!(
            "{}: would change: the flake says something else",
            o.display()
        ));
        return Ok(Exit::CheckFailed);
    }
    if args.dry_run {
        return Ok(Exit::Success);
    }
    write::commit(&[Change {
        path: o.clone(),
        before: current,
        after: text.clone(),
    }])?;
    common::status(&format!(
        "{}: {} configuration(s) described{}",
        o.display(),
        exported.spec.configurations.len(),
        if exported.notes.is_empty() {
            String::new()
        } else {
            format!("; {} note(s) at the end", exported.notes.len())
        }
    ));
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/b/flake.nix"), Path::new("/a/b")).unwrap(),
            PathBuf::from("flake.nix")
        );
        assert_eq!(
            relative(Path::new("/a/nix/flake.nix"), Path::new("/a/b")).unwrap(),
            PathBuf::from("../nix/flake.nix")
        );
        assert_eq!(
            relative(Path::new("./nix/flake.nix"), Path::new(".")).unwrap(),
            PathBuf::from("nix/flake.nix")
        );
    }
}
