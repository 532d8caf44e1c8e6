//! `nixcross man`: man pages from the clap definition (clap_mangen), so they
//! never drift from `--help`.

use std::path::PathBuf;

use crate::common;
use crate::error::{CliError, CmdResult};
use crate::exit::Exit;
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

/// A command's page: clap_mangen's sections, with the command's
/// `after_help` split into what it is: its prose goes on in DESCRIPTION,
/// its `Examples:` become EXAMPLES, and EXIT STATUS says what the exit
/// codes mean (instead of clap_mangen's one EXTRA section of all of it).
fn render(cmd: clap::Command) -> (String, String) {
    let after = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let (prose, examples) = split_after_help(&after);
    let name = cmd.get_name().to_string();
    let page = cmd.after_help(None::<&str>).after_long_help(None::<&str>);
    let man = clap_mangen::Man::new(page).source(format!("nixcross {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render(&mut buf)
        .expect("rendering into memory cannot fail");
    let mut text = String::from_utf8(buf).expect("roff is UTF-8");
    if !prose.is_empty() {
        let mut r = roff::Roff::new();
        r.control("PP", []);
        paragraphs(&mut r, &prose);
        let end = section_end(&text, ".SH DESCRIPTION").unwrap_or(text.len());
        text.insert_str(end, &r.to_roff());
    }
    let mut r = roff::Roff::new();
    exit_status(&mut r, &name);
    if !examples.is_empty() {
        r.control("SH", ["EXAMPLES"]);
        for (command, what) in &examples {
            if what.is_empty() {
                r.control("PP", []).text([roff::bold(command.as_str())]);
            } else {
                r.control("TP", [])
                    .text([roff::bold(command.as_str())])
                    .text([roff::roman(what.as_str())]);
            }
        }
    }
    let at = text.find("\n.SH VERSION").map_or(text.len(), |i| i + 1);
    text.insert_str(at, &r.to_roff());
    (man.get_filename(), text)
}

/// `after_help` as prose (without the "Exit codes: ..." paragraph, which
/// EXIT STATUS says) and examples: the indented lines under `Examples:`,
/// each split into the command and what it does (after two spaces).
fn split_after_help(text: &str) -> (String, Vec<(String, String)>) {
    let mut prose: Vec<&str> = Vec::new();
    let mut examples = Vec::new();
    let mut in_examples = false;
    for line in text.lines() {
        if line.trim_end() == "Examples:" {
            in_examples = true;
            continue;
        }
        if in_examples && line.starts_with("  ") {
            let line = line.trim();
            let (command, what) = match line.find("  ") {
                Some(i) => (line[..i].trim(), line[i..].trim()),
                None => (line, ""),
            };
            let what = what.trim_start_matches('(').trim_end_matches(')');
            examples.push((command.to_string(), what.to_string()));
            continue;
        }
        in_examples = false;
        prose.push(line);
    }
    let prose = prose.join("\n");
    let kept: Vec<&str> = prose
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.trim().is_empty() && !p.starts_with("Exit codes:"))
        .collect();
    (kept.join("\n\n"), examples)
}

/// Paragraphs of `text` (separated by blank lines): filled text, except a
/// paragraph whose lines are indented, which keeps its lines.
fn paragraphs(r: &mut roff::Roff, text: &str) {
    for (i, p) in text.split("\n\n").enumerate() {
        if i > 0 {
            r.control("PP", []);
        }
        let indented = p.lines().all(|l| l.starts_with("  "));
        if indented {
            r.control("RS", ["4"]).control("nf", []);
        }
        for line in p.lines() {
            r.text([roff::roman(line.trim())]);
        }
        if indented {
            r.control("fi", []).control("RE", []);
        }
    }
}

/// Where the section that starts with `heading` ends: the next `.SH`.
fn section_end(text: &str, heading: &str) -> Option<usize> {
    let start = text.find(heading)?;
    let rest = &text[start + heading.len()..];
    Some(
        rest.find("\n.SH ")
            .map_or(text.len(), |i| start + heading.len() + i + 1),
    )
}

/// EXIT STATUS: what the codes mean for command `name`.
fn exit_status(r: &mut roff::Roff, name: &str) {
    let codes: &[(Exit, &str)] = match name {
        "doctor" => &[
            (Exit::Success, "every --target can be built here: natively, under emulation or by a remote builder"),
            (Exit::CheckFailed, "a --target cannot be built here yet (the report says what is missing)"),
            (Exit::Error, "bad input, or a file that cannot be read"),
        ],
        _ => &[
            (Exit::Success, "done, or already up to date (also --dry-run)"),
            (Exit::CheckFailed, "something would change, under --check; or --verify: nix disagrees with the edit, and nothing was written"),
            (Exit::Error, "bad input, a file that does not parse, or an edit nixcross refuses; nothing was written"),
        ],
    };
    r.control("SH", ["EXIT STATUS"]);
    for (exit, meaning) in codes {
        r.control("TP", [])
            .text([roff::bold(exit.code().to_string())])
            .text([roff::roman(*meaning)]);
    }
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
        return Ok(Exit::Success);
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
    Ok(Exit::Success)
}
