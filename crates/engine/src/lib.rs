//! Vessel's daemon: durable state in an embedded store and the Docker Engine API on a unix
//! socket, driven by the real docker CLI and docker-compose.
//!
//! The `vessel daemon` command starts it with
//! `vessel_engine::run_blocking(DaemonConfig::load_default()?)` after applying its flags to
//! the config; embedders inside a tokio runtime use [`run`] or [`Daemon`].

#![recursion_limit = "256"]

pub mod api;
mod auth;
mod build;
pub mod config;
pub mod containers;
pub mod daemon;
mod disk_usage;
pub mod errors;
pub mod events;
pub mod filters;
pub mod hostinfo;
pub mod image_service;
mod image_transfer;
pub mod image_views;
pub mod images;
pub mod import;
pub mod logging;
pub mod negotiation;
pub mod networks;
pub mod pull;
pub mod query;
pub mod store;
mod streaming;
pub mod system;
pub mod timefmt;
pub mod volumes;

pub use config::{ConfigError, DaemonConfig};
pub use daemon::{run, run_blocking, shutdown_signal, Daemon};
pub use errors::{ApiError, EngineError};
pub use image_service::ImageService;
pub use store::{Store, StoreError, Table};
