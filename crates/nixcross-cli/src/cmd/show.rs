use crate::common::{CliError, CmdResult};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> CmdResult {
    Err(CliError::usage("not implemented yet"))
}
