//! One module per subcommand: its clap arguments and its `run`.

pub mod build;
pub mod check;
pub mod completion;
pub mod controller;
pub mod create;
pub mod diff;
pub mod events;
pub mod get;
pub mod helm;
pub mod image;
pub mod install;
pub mod limits;
pub mod logs;
pub mod notification;
pub mod quickstart;
pub mod reconcile;
pub mod sandbox;
pub mod secret;
pub mod suspend;
pub mod tree;
pub mod uninstall;
pub mod version;
