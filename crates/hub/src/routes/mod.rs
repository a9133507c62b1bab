//! HTTP handlers, one module per audience: agents (TRACE intake), lodestar
//! (gates), operator (consoles), feed, helpers, principals.

pub mod agents;
pub mod feed;
pub mod helpers;
pub mod lodestar;
pub mod operator;
pub mod principals;
