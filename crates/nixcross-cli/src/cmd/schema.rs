//! `nixcross schema`: the JSON Schema of nixcross.yaml.

use crate::common::print_json;
use crate::error::CmdResult;
use crate::exit::Exit;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "For completion and checks in editors (yaml-language-server: VS Code's
YAML extension, Neovim, Helix, ...), save the schema and name it in the spec:

  nixcross schema > nixcross.schema.json
  # first line of nixcross.yaml:
  # yaml-language-server: $schema=./nixcross.schema.json"
)]
pub struct Args {}

pub fn run(_args: Args) -> CmdResult {
    print_json(&nixcross::spec::schema());
    Ok(Exit::Success)
}
