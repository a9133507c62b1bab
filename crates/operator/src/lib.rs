//! The operator core shared by the `gatehouse` CLI and the desktop console:
//! the keyring vault that holds the operator's Ed25519 key, a hub client that
//! signs requests, the local store (outbox, cache, feed cursor), the outbox
//! that delivers signed decisions exactly once, the feed subscriber and the
//! follower every face (console, `gatehouse watch`) reports through.

pub mod autostart;
pub mod capabilities;
pub mod config;
pub mod console;
pub mod decide;
pub mod error;
pub mod extend;
pub mod feed;
pub mod follow;
pub mod hub_client;
pub mod mesa;
pub mod outbox;
pub mod queue;
pub mod settings;
pub mod store;
pub mod trust;
pub mod vault;

pub use error::OpError;
