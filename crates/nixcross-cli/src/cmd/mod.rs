//! One module per subcommand: its clap arguments and its `run`.

pub mod add_config;
pub mod add_overlay;
pub mod binfmt;
pub mod doctor;
pub mod emulate;
pub mod init;
pub mod man;
pub mod set_target;
pub mod show;
pub mod targets;
