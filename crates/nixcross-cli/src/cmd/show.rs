//! `nixcross show`: the configurations of a flake, as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use nixcross::ops::show::{show, ConfigReport, ShowOptions};

use crate::common::{print, print_json, CliError, CmdResult};
use crate::complete;
use clap_complete::engine::ArgValueCandidates;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross show
  nixcross show -f hosts/flake.nix --json
  nixcross show -f ~/nix-config

nixcross follows each configuration through the files it loads (the modules
list, imports, hardware-configuration.nix, helpers, configurations generated
with genAttrs/mapAttrs/listToAttrs/readDir) and reports the platforms NixOS
decides: hostPlatform over system, mkForce over plain over mkDefault. With
--json, `sources` says where each setting is.

`mode` is relative to the machine that builds (--host, default this machine):
a configuration whose host platform is that machine's system is `native`,
another one built without a cross toolchain is `emulate`.")]
pub struct Args {
    /// The flake to read, or its folder [default: flake.nix in this folder or
    /// the nearest parent]
    #[arg(short = 'f', long = "file", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub file: Option<PathBuf>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// The system of the machine that builds (default: this machine)
    #[arg(long, value_name = "SYSTEM", add = ArgValueCandidates::new(complete::systems))]
    pub host: Option<String>,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    file: String,
    configurations: &'a [ConfigReport],
    #[serde(skip_serializing_if = "Option::is_none")]
    incomplete: Option<&'a str>,
}

pub fn run(args: Args) -> CmdResult {
    let tree = crate::tree::locate(args.file.as_deref())?;
    let shown = tree.display(&tree.rel);
    let local_system = match &args.host {
        Some(h) => Some(
            nixcross::platform::resolve(h)
                .map_err(CliError::from)?
                .system,
        ),
        None => nixcross::platform::current_system(),
    };
    let report = show(&tree.files, &tree.rel, &ShowOptions { local_system })
        .map_err(|e| CliError::from_tree(&tree, &e))?;
    let reports = &report.configurations;
    if args.json {
        print_json(&Report {
            file: shown.display().to_string(),
            configurations: reports,
            incomplete: report.incomplete.as_deref(),
        });
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str(&format!(
            "{}: no nixosConfigurations found\n",
            shown.display()
        ));
    }
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                dash(&r.build),
                dash(&r.host),
                r.mode.map_or("?", |m| m.as_str()).to_string(),
                r.style.map_or("-", |s| s.as_str()).to_string(),
                match (&r.file, r.line) {
                    (Some(f), Some(l)) => format!("{f}:{l}"),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    if !rows.is_empty() {
        let header = ["NAME", "BUILD", "HOST", "MODE", "STYLE", "WHERE"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        out.push_str(&line(&header.map(String::from)));
        for (row, r) in rows.iter().zip(reports) {
            out.push_str(&line(row));
            match (&r.reason, r.editable) {
                (Some(reason), false) => out.push_str(&format!("  not editable: {reason}\n")),
                (Some(reason), true) => out.push_str(&format!("  note: {reason}\n")),
                (None, _) => {}
            }
        }
    }
    if let Some(why) = &report.incomplete {
        out.push_str(&format!("note: {why}\n"));
    }
    print(&out);
    Ok(ExitCode::SUCCESS)
}
