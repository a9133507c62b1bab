//! HTTP handlers, one module per audience.

pub mod feed;
pub mod helpers;
pub mod lodestar;
pub mod operator;
pub mod principals;
pub mod trace;
