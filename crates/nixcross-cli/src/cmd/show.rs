//! `nixcross show`: the configurations of a flake, as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use nixcross::ops::show::{show, ConfigReport, ShowOptions};

use crate::common::{print, print_json, read_source, CliError, CmdResult};
use crate::term::escape;

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
    if args.json {
        print_json(&Report {
            file: args.file.display().to_string(),
            configurations: &reports,
        });
        return Ok(ExitCode::SUCCESS);
    }
    if reports.is_empty() {
        print(&format!(
            "{}: no nixosConfigurations found\n",
            escape(&args.file.display().to_string())
        ));
        return Ok(ExitCode::SUCCESS);
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
                r.mode.unwrap_or("?").to_string(),
                r.style.unwrap_or("-").to_string(),
                format!("{}", r.line),
            ]
        })
        .collect();
    let header = ["NAME", "BUILD", "HOST", "MODE", "STYLE", "LINE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
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
    for (row, r) in rows.iter().zip(&reports) {
        out.push_str(&line(row));
        if let Some(reason) = &r.reason {
            out.push_str(&format!("  not editable: {}\n", escape(reason)));
        }
    }
    print(&out);
    Ok(ExitCode::SUCCESS)
}
