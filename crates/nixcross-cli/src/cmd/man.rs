//! `nixcross man`: man pages from the clap definition (clap_mangen), so they
//! never drift from `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::common::{self, CliError, CmdResult};
use crate::write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The command whose page to print (`set-target`, `binfmt-line`);
    /// without it, nixcross(1)
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write nixcross.1 and a nixcross-<command>.1 for every command into DIR
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<PathBuf>,
}

/// `root` and its visible subcommands, depth first, each named as its page
/// (`nixcross-binfmt-line`).
fn pages(root: clap::Command) -> Vec<clap::Command> {
    fn walk(cmd: &clap::Command, out: &mut Vec<clap::Command>) {
        out.push(cmd.clone());
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out);
        }
    }
    let mut root = root.disable_help_subcommand(true);
    root.build();
    let mut out = Vec::new();
    walk(&root, &mut out);
    out
}

fn render(cmd: clap::Command) -> (String, String) {
    let man = clap_mangen::Man::new(cmd).source(format!("nixcross {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render(&mut buf)
        .expect("rendering into memory cannot fail");
    (
        man.get_filename(),
        String::from_utf8(buf).expect("roff is UTF-8"),
    )
}

pub fn run(root: clap::Command, args: Args) -> CmdResult {
    let pages = pages(root);
    if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            return Err(CliError::usage(format!(
                "{}: no such directory",
                dir.display()
            )));
        }
        for page in pages {
            let (file, text) = render(page);
            let path = dir.join(&file);
            let change = write::Change {
                before: write::current(&path)?,
                path: path.clone(),
                after: text,
            };
            write::commit(&[change])?;
            common::status(&format!("wrote {}", path.display()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let wanted = match &args.command {
        None => "nixcross".to_string(),
        Some(c) => format!("nixcross-{}", c.replace(' ', "-")),
    };
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.get_display_name().unwrap_or(p.get_name()).to_string())
        .collect();
    let Some(i) = names.iter().position(|n| *n == wanted) else {
        let known: Vec<&str> = names
            .iter()
            .filter_map(|n| n.strip_prefix("nixcross-"))
            .collect();
        return Err(CliError::usage(format!(
            "no man page for `{}`; there are: {}",
            args.command.unwrap_or_default(),
            known.join(", ")
        )));
    };
    let (_, text) = render(pages[i].clone());
    common::print(&text);
    Ok(ExitCode::SUCCESS)
}
