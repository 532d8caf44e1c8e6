//! Shell completion, dynamic: the shell asks the binary itself
//! (clap_complete's `COMPLETE=<shell> nixcross ...` protocol), so values come
//! from nixcross's own knowledge: `--target` offers the catalogue's systems
//! and pkgsCross names, `--config` the configurations of `./flake.nix`.
//!
//! `nixcross completions <SHELL>` prints the script that registers this with
//! the shell (the same as `COMPLETE=<SHELL> nixcross`).

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::Shells;

/// Every `--target`: system doubles (with their triple) and pkgsCross names
/// (with the system they build for).
pub fn targets() -> Vec<CompletionCandidate> {
    let listing = nixcross::platform::listing();
    let systems = listing
        .systems
        .iter()
        .map(|s| CompletionCandidate::new(&s.system).help(Some(s.config.clone().into())));
    let examples = listing.pkgs_cross.iter().map(|e| {
        CompletionCandidate::new(&e.name).help(Some(format!("pkgsCross, {}", e.system).into()))
    });
    systems.chain(examples).collect()
}

/// System doubles, for `--host`.
pub fn systems() -> Vec<CompletionCandidate> {
    nixcross::platform::listing()
        .systems
        .iter()
        .map(|s| CompletionCandidate::new(&s.system).help(Some(s.config.clone().into())))
        .collect()
}

/// The systems NixOS can emulate, for `emulate` and `binfmt line`.
pub fn emulated_systems() -> Vec<CompletionCandidate> {
    nixcross::platform::listing()
        .systems
        .iter()
        .filter(|s| s.emulation)
        .map(|s| CompletionCandidate::new(&s.system).help(Some(s.config.clone().into())))
        .collect()
}

/// The configurations of the flake in this folder or the nearest parent,
/// with the platform each runs on; nothing when there is no readable flake.
pub fn configs() -> Vec<CompletionCandidate> {
    let Ok(tree) = crate::tree::locate(None) else {
        return Vec::new();
    };
    let opts = nixcross::ops::show::ShowOptions { local_system: None };
    let Ok(report) = nixcross::ops::show::show(&tree.files, &tree.rel, &opts) else {
        return Vec::new();
    };
    report
        .configurations
        .into_iter()
        .map(|r| {
            let help = r.host.map(|h| format!("runs on {h}").into());
            CompletionCandidate::new(r.name).help(help)
        })
        .collect()
}

/// How the shell should call nixcross back: as it was run, `nixcross` from
/// PATH, or a path made absolute (`./target/debug/nixcross` would break in
/// another folder), as `COMPLETE=<shell> nixcross` does.
pub fn completer() -> String {
    let argv0 = std::path::PathBuf::from(
        std::env::args_os()
            .next()
            .unwrap_or_else(|| "nixcross".into()),
    );
    let path = match std::env::current_dir() {
        Ok(cwd) if argv0.components().count() > 1 => cwd.join(argv0),
        _ => argv0,
    };
    path.to_string_lossy().into_owned()
}

/// The script that registers dynamic completion with `shell`, calling
/// `completer` (the path nixcross was run as, like `COMPLETE=<shell> nixcross`).
pub fn registration(shell: clap_complete::Shell, completer: &str) -> Result<String, String> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let env = shells
        .completer(&name)
        .ok_or_else(|| format!("no dynamic completion for {name}"))?;
    let mut buf = Vec::new();
    env.write_registration("COMPLETE", "nixcross", "nixcross", completer, &mut buf)
        .map_err(|e| e.to_string())?;
    let mut script = String::from_utf8_lossy(&buf).into_owned();
    if shell == clap_complete::Shell::Zsh {
        // Autoloaded from $fpath as `_nixcross`, the file only defines the
        // completer on the first Tab; call it then too, as clap's static zsh
        // scripts do. Sourced from .zshrc, this does nothing.
        if !script.ends_with('\n') {
            script.push('\n');
        }
        script.push_str(
            "if [ \"$funcstack[1]\" = \"_nixcross\" ]; then\n    _clap_dynamic_completer_nixcross \"$@\"\nfi\n",
        );
    }
    Ok(script)
}
