//! Gatehouse's wire contract: the JSON types the hub, the operator core and
//! agents exchange, the canonical JSON every signature is computed over, and
//! the signature schemes (native decisions, deadline extensions, operator
//! request auth, Lodestar resolutions). Nothing here does I/O, so every rule is testable offline.

pub mod canonical;
pub mod decision;
pub mod display;
pub mod error;
pub mod extension;
pub mod feed;
pub mod grant;
pub mod keys;
pub mod lodestar;
pub mod names;
pub mod quorum;
pub mod request_auth;
pub mod rules;
pub mod signed;
pub mod states;
pub mod time;
pub mod trace;
pub mod wire;

pub use canonical::{canonical_bytes, canonical_string, parse_strict, CanonicalError};
pub use decision::{action_digest, DecisionBody, DecisionError, SignedDecision, Verdict, DECISION_TAG};
pub use error::ErrorBody;
pub use extension::{ExtensionBody, ExtensionView, SignedExtension, EXTENSION_TAG};
pub use keys::{KeyError, PublicKey, SigningKey};
