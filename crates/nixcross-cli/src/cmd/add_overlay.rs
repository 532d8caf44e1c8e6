//! `nixcross add-overlay`: replace packages with an overlay, globally or in a
//! scoped package set.

use nixcross::ops::add_overlay::{add_overlay, AddOverlayOptions};

use crate::complete;
use crate::editing::{edit_tree, EditFlags};
use crate::error::CmdResult;
use clap_complete::engine::ArgValueCandidates;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross add-overlay gcc=gcc12
  nixcross add-overlay gcc=gcc12 binutils=binutils_2_40 --config lp4a --dry-run
  nixcross add-overlay gcc=gcc12 --scoped --use hello
  nixcross add-overlay gcc=gcc12 --scoped --instance pkgs-old --check
  nixcross add-overlay gcc=gcc13              (replaces the gcc overlay nixcross wrote)
  nixcross add-overlay --remove gcc           (and --scoped for a scoped set; --instance NAME when it has several)

Without --scoped, the overlay goes into nixpkgs.overlays of the configuration's
inline module: it changes the system's whole package set and bypasses the
binary cache for everything that depends on it. With --scoped, it goes into
`pkgs-<package> = import nixpkgs { localSystem; crossSystem; overlays; }` in a
`let` around the outputs, with the configuration's own platforms, passed to
the modules through specialArgs; only modules that take it use it. When the
configuration's specialArgs is not a literal set of its own (a shared helper,
`args // extra`), the set is given through `_module.args` by a module that
takes the platforms from config.nixpkgs instead.

Note: gcc = final.gcc12 does not change stdenv.cc, the compiler packages are
built with; use another stdenv for that (gcc12Stdenv, overrideCC).")]
pub struct Args {
    /// What to replace: ATTR=PACKAGE, e.g. gcc=gcc12 (several make one
    /// overlay); with --remove, the attributes to take out (gcc)
    #[arg(value_name = "ATTR=PACKAGE", required = true)]
    pub pairs: Vec<String>,
    /// Take the overlay of these attributes out again (with --scoped: out of
    /// the package set, which goes when nothing is left in it)
    #[arg(long)]
    pub remove: bool,
    /// Put the overlay in a scoped package set instead of nixpkgs.overlays
    #[arg(long)]
    pub scoped: bool,
    /// The scoped package set's name (default: pkgs-<PACKAGE>; never `pkgs`)
    #[arg(long, value_name = "NAME", requires = "scoped")]
    pub instance: Option<String>,
    /// Add <instance>.<PACKAGE> to environment.systemPackages in a module that
    /// takes the scoped set
    #[arg(long = "use", value_name = "PACKAGE", num_args = 1.., requires = "scoped")]
    pub uses: Vec<String>,
    /// The configuration to edit (required when the flake has several)
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(complete::configs))]
    pub config: Option<String>,
    #[command(flatten)]
    pub edit: EditFlags,
}

pub fn run(args: Args) -> CmdResult {
    let json = args.edit.json;
    crate::common::reported("add-overlay", json, || edit(args))
}

fn edit(args: Args) -> CmdResult {
    let opts = AddOverlayOptions {
        pairs: args.pairs,
        config: args.config,
        scoped: args.scoped,
        instance: args.instance,
        uses: args.uses,
        remove: args.remove,
    };
    edit_tree(&args.edit, |files, flake| add_overlay(files, flake, &opts))
}
