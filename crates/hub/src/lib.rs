//! The Gatehouse hub: agents submit actions (TRACE wire format), policy holds
//! some, operators' signed decisions release them, and consoles follow a
//! resumable live feed. Usable as a library so the console can embed it.

pub mod admission;
pub mod app;
pub mod auth;
pub mod db;
pub mod error;
pub mod json;
pub mod policy;
pub mod routes;
pub mod seed;
pub mod serve;
pub mod store;
pub mod validate;
pub mod wait;

pub use app::{start, HubConfig, RunningHub};
