//! `nixcross show`: the configurations of a flake, as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use nixcross::ops::show::{show, ConfigReport, ShowOptions};
use nixcross::outputs::{read_outputs, OutputReport};
use nixcross::vocab::Kind;

use crate::common::{print, print_json, read_source, CliError, CmdResult};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross show
  nixcross show -f hosts/flake.nix --json

`mode` is relative to the machine that builds (--host, default this machine):
a configuration whose host platform is that machine's system is `native`,
another one built without a cross toolchain is `emulate`.")]
pub struct Args {
    /// The flake to read
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        default_value = "flake.nix"
    )]
    pub file: PathBuf,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// The system of the machine that builds (default: this machine)
    #[arg(long, value_name = "SYSTEM")]
    pub host: Option<String>,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    file: String,
    configurations: &'a [ConfigReport],
    packages: Vec<&'a OutputReport>,
    #[serde(rename = "devShells")]
    dev_shells: Vec<&'a OutputReport>,
}

pub fn run(args: Args) -> CmdResult {
    let src = read_source(&args.file)?;
    let local_system = match &args.host {
        Some(h) => Some(
            nixcross::platform::resolve(h)
                .map_err(CliError::from)?
                .system,
        ),
        None => nixcross::platform::current_system(),
    };
    let reports = show(&src, &ShowOptions { local_system })
        .map_err(|e| CliError::from_lib(Some(&args.file), &src, &e))?;
    let outputs = read_outputs(&src).map_err(|e| CliError::from_lib(Some(&args.file), &src, &e))?;
    let of = |kind: Kind| {
        outputs
            .iter()
            .filter(|o| o.kind == kind)
            .collect::<Vec<_>>()
    };
    if args.json {
        print_json(&Report {
            file: args.file.display().to_string(),
            configurations: &reports,
            packages: of(Kind::Package),
            dev_shells: of(Kind::Shell),
        });
        return Ok(ExitCode::SUCCESS);
    }
    let outputs_table = outputs_table(&outputs);
    if reports.is_empty() {
        if outputs.is_empty() {
            print(&format!(
                "{}: no nixosConfigurations, packages or devShells found\n",
                args.file.display()
            ));
        } else {
            print(&outputs_table);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                dash(&r.build),
                dash(&r.host),
                r.mode.unwrap_or("?").to_string(),
                r.style.unwrap_or("-").to_string(),
                format!("{}", r.line),
            ]
        })
        .collect();
    let header = ["NAME", "BUILD", "HOST", "MODE", "STYLE", "LINE"];
    let reasons: Vec<Option<&String>> = reports.iter().map(|r| r.reason.as_ref()).collect();
    let mut out = table(&header, &rows, &reasons);
    if !outputs.is_empty() {
        out.push('\n');
        out.push_str(&outputs_table);
    }
    print(&out);
    Ok(ExitCode::SUCCESS)
}

/// Aligned columns, each row followed by its `not editable` reason.
fn table<const N: usize>(
    header: &[&str; N],
    rows: &[[String; N]],
    reasons: &[Option<&String>],
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
    for (row, reason) in rows.iter().zip(reasons) {
        out.push_str(&line(row));
        if let Some(reason) = reason {
            out.push_str(&format!("  not editable: {reason}\n"));
        }
    }
    out
}

/// The packages and dev shells, one table.
fn outputs_table(outputs: &[OutputReport]) -> String {
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
    let rows: Vec<[String; 6]> = outputs
        .iter()
        .map(|o| {
            [
                match o.kind {
                    Kind::Shell => "devShells".to_string(),
                    _ => "packages".to_string(),
                },
                o.system.clone().unwrap_or_else(|| "(each)".into()),
                dash(&o.name),
                dash(&o.build),
                dash(&o.host),
                format!("{}", o.line),
            ]
        })
        .collect();
    let reasons: Vec<Option<&String>> = outputs.iter().map(|o| o.reason.as_ref()).collect();
    table(
        &["OUTPUT", "SYSTEM", "NAME", "BUILD", "HOST", "LINE"],
        &rows,
        &reasons,
    )
}
