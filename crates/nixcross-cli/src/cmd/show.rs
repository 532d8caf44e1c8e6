//! `nixcross show`: the configurations of a flake, as a table or JSON.

use std::path::PathBuf;

use nixcross::ops::show::{show, ConfigReport, ShowOptions};
use nixcross::outputs::{read_outputs, OutputReport};
use nixcross::vocab::Kind;

use crate::common::{print, print_json};
use crate::complete;
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;
use crate::term::escape;
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
    packages: Vec<&'a OutputReport>,
    #[serde(rename = "devShells")]
    dev_shells: Vec<&'a OutputReport>,
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
    let report =
        show(&tree.files, &tree.rel, &ShowOptions { local_system }).map_err(|e| tree.error(&e))?;
    let reports = &report.configurations;
    // Packages and dev shells, from the flake file itself.
    let outputs = match nixcross::files::Files::read(&tree.files, &tree.rel) {
        Ok(src) => read_outputs(&src).map_err(|e| tree.error(&e))?,
        Err(_) => Vec::new(),
    };
    let of = |kind: Kind| {
        outputs
            .iter()
            .filter(|o| o.kind == kind)
            .collect::<Vec<_>>()
    };
    if args.json {
        print_json(&Report {
            file: shown.display().to_string(),
            configurations: reports,
            packages: of(Kind::Package),
            dev_shells: of(Kind::Shell),
            incomplete: report.incomplete.as_deref(),
        });
        return Ok(Exit::Success);
    }
    let mut out = String::new();
    if reports.is_empty() && outputs.is_empty() {
        out.push_str(&format!(
            "{}: no nixosConfigurations, packages or devShells found\n",
            escape(&shown.display().to_string())
        ));
    }
    // Names and platforms come from the file: escaped for the terminal.
    let dash = |o: &Option<String>| escape(o.as_deref().unwrap_or("?")).into_owned();
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            [
                escape(&r.name).into_owned(),
                dash(&r.build),
                dash(&r.host),
                r.mode.map_or("?", |m| m.as_str()).to_string(),
                r.style.map_or("-", |s| s.as_str()).to_string(),
                match (&r.file, r.line) {
                    (Some(f), Some(l)) => format!("{}:{l}", escape(f)),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    if !rows.is_empty() {
        let notes: Vec<Option<String>> = reports
            .iter()
            .map(|r| match (&r.reason, r.editable) {
                (Some(reason), false) => Some(format!("not editable: {}", escape(reason))),
                (Some(reason), true) => Some(format!("note: {}", escape(reason))),
                (None, _) => None,
            })
            .collect();
        out.push_str(&table(
            ["NAME", "BUILD", "HOST", "MODE", "STYLE", "WHERE"],
            &rows,
            &notes,
        ));
    }
    if let Some(why) = &report.incomplete {
        out.push_str(&format!("note: {}\n", escape(why)));
    }
    if !outputs.is_empty() {
        if !rows.is_empty() {
            out.push('\n');
        }
        out.push_str(&outputs_table(&outputs, &shown.display().to_string()));
    }
    print(&out);
    Ok(Exit::Success)
}

/// The packages and dev shells, one table.
fn outputs_table(outputs: &[OutputReport], file: &str) -> String {
    let dash = |o: &Option<String>| escape(o.as_deref().unwrap_or("?")).into_owned();
    let rows: Vec<[String; 6]> = outputs
        .iter()
        .map(|o| {
            [
                match o.kind {
                    Kind::Shell => "devShells".to_string(),
                    _ => "packages".to_string(),
                },
                escape(o.system.as_deref().unwrap_or("(each)")).into_owned(),
                dash(&o.name),
                dash(&o.build),
                dash(&o.host),
                format!("{}:{}", escape(file), o.line),
            ]
        })
        .collect();
    let notes: Vec<Option<String>> = outputs
        .iter()
        .map(|o| {
            o.reason
                .as_ref()
                .map(|r| format!("not editable: {}", escape(r)))
        })
        .collect();
    table(
        ["OUTPUT", "SYSTEM", "NAME", "BUILD", "HOST", "WHERE"],
        &rows,
        &notes,
    )
}

/// Aligned columns under `header`, each row followed by its note, indented.
fn table<const N: usize>(
    header: [&str; N],
    rows: &[[String; N]],
    notes: &[Option<String>],
) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
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
    let mut out = line(&header.map(String::from));
    for (row, note) in rows.iter().zip(notes) {
        out.push_str(&line(row));
        if let Some(note) = note {
            out.push_str(&format!("  {note}\n"));
        }
    }
    out
}
