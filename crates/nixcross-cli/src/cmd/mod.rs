//! One module per subcommand: its clap arguments and its `run`.

pub mod add_builder;
pub mod add_config;
pub mod add_overlay;
pub mod apply;
pub mod binfmt;
pub mod doctor;
pub mod emulate;
pub mod export;
pub mod init;
pub mod man;
pub mod schema;
pub mod set_target;
pub mod show;
pub mod targets;
