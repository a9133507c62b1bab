//! Operator-side errors, each with a stable `code` (for IPC and `--json`) and
//! a stable process exit code (for scripts).

use gatehouse_protocol::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("no operator id: pass --operator or set GATEHOUSE_OPERATOR")]
    NoOperator,
    #[error("no key for operator {0:?} in the keyring; run `gatehouse key init`")]
    NoKey(String),
    #[error("a key for operator {0:?} already exists in the keyring; refusing to replace it")]
    KeyExists(String),
    #[error("keyring error: {0}")]
    Keyring(String),
    #[error("hub unreachable at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("hub refused ({status}): {}", body.message)]
    Hub { status: u16, body: ErrorBody },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A local conflict (not the hub's word): code, message.
    #[error("{1}")]
    Conflict(String, String),
    /// Refused here by one of the hub's own rules, before anything was
    /// signed or sent (not the hub's word): code, message.
    #[error("{1}")]
    Refused(String, String),
    #[error("local store error: {0}")]
    Store(String),
    #[error("unexpected answer from hub: {0}")]
    Protocol(String),
}

/// Exit codes of the `gatehouse` CLI. Documented in README.md; never reuse a number.
pub mod exit {
    pub const OK: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const CONFLICT: u8 = 4;
    pub const REFUSED: u8 = 5;
    pub const KEYRING: u8 = 6;
    /// A trace bundle did not verify.
    pub const INVALID_TRACE: u8 = 7;
    /// The hub could not be reached and nothing was queued.
    pub const UNREACHABLE: u8 = 69;
    /// The hub did not take the decision for now (unreachable, 408, 425, 429,
    /// 5xx, or an answer that is not the hub's); it waits in the outbox.
    pub const QUEUED: u8 = 75;
}

impl OpError {
    pub fn code(&self) -> String {
        match self {
            OpError::NoOperator => "no_operator".into(),
            OpError::NoKey(_) => "no_key".into(),
            OpError::KeyExists(_) => "key_exists".into(),
            OpError::Keyring(_) => "keyring".into(),
            OpError::Unreachable { .. } => "hub_unreachable".into(),
            OpError::Hub { body, .. } => body.code.clone(),
            OpError::NotFound(_) => "not_found".into(),
            OpError::Invalid(_) => "invalid".into(),
            OpError::Conflict(code, _) | OpError::Refused(code, _) => code.clone(),
            OpError::Store(_) => "local_store".into(),
            OpError::Protocol(_) => "protocol".into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            OpError::NoOperator | OpError::Invalid(_) => exit::USAGE,
            OpError::NoKey(_) | OpError::Keyring(_) => exit::KEYRING,
            OpError::KeyExists(_) | OpError::Conflict(..) => exit::CONFLICT,
            OpError::Refused(..) => exit::REFUSED,
            OpError::Unreachable { .. } => exit::UNREACHABLE,
            OpError::NotFound(_) => exit::NOT_FOUND,
            OpError::Hub { status, .. } => match status {
                404 => exit::NOT_FOUND,
                409 => exit::CONFLICT,
                400..=499 => exit::REFUSED,
                _ => exit::INTERNAL,
            },
            OpError::Store(_) | OpError::Protocol(_) => exit::INTERNAL,
        }
    }

    /// The hold can no longer be decided (someone decided it, it expired),
    /// as the hub or this machine found.
    pub fn hold_closed(&self) -> bool {
        matches!(self, OpError::Hub { status: 409, .. } | OpError::Conflict(..)) && gatehouse_protocol::rules::Closed::CODES.contains(&self.code().as_str())
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code(), self.to_string())
    }
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        OpError::Store(e.to_string())
    }
}
