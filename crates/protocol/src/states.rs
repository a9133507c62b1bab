//! States and roles as enums, each named once: an operator's role, a
//! helper's lifecycle state and desired state, and how a request proved who
//! sent it. The hub stores their names, the operator core matches on them,
//! and the console gets them through the generated TypeScript bindings (with
//! the value lists the UI iterates), so no layer spells a state as a string.

use crate::wire::HelperView;
use serde::{Deserialize, Serialize};

/// An operator's role on a hub.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Role {
    /// Decides holds, grants capabilities, enrols principals.
    Admin,
    /// Decides holds.
    Approver,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Approver];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
    /// May grant and revoke capabilities and enrol principals.
    pub fn may_administer(self) -> bool {
        self == Role::Admin
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A swarm helper's lifecycle state. The first four are reported by the
/// helper itself in heartbeats; `stopped` and `retired` are set by the hub.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum HelperStatus {
    Running,
    Idle,
    Blocked,
    Sleeping,
    /// Created over the running cap: never powered.
    Stopped,
    Retired,
}

impl HelperStatus {
    pub const ALL: [HelperStatus; 6] =
        [HelperStatus::Running, HelperStatus::Idle, HelperStatus::Blocked, HelperStatus::Sleeping, HelperStatus::Stopped, HelperStatus::Retired];
    /// The states a helper may report in a heartbeat.
    pub const REPORTABLE: [HelperStatus; 4] = [HelperStatus::Running, HelperStatus::Idle, HelperStatus::Blocked, HelperStatus::Sleeping];
    pub fn as_str(self) -> &'static str {
        match self {
            HelperStatus::Running => "running",
            HelperStatus::Idle => "idle",
            HelperStatus::Blocked => "blocked",
            HelperStatus::Sleeping => "sleeping",
            HelperStatus::Stopped => "stopped",
            HelperStatus::Retired => "retired",
        }
    }
    pub fn parse(s: &str) -> Option<HelperStatus> {
        HelperStatus::ALL.into_iter().find(|h| h.as_str() == s)
    }
    /// Alive: counts against the running cap and is watched for heartbeats.
    pub fn is_live(self) -> bool {
        HelperStatus::REPORTABLE.contains(&self)
    }
}

impl HelperView {
    /// The state to show a human: a live helper gone quiet shows as `stale`.
    pub fn shown_state(&self) -> &'static str {
        if self.stale && self.status.is_live() {
            "stale"
        } else {
            self.status.as_str()
        }
    }
}

/// What the hub wants a helper to be.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DesiredState {
    Running,
    Stopped,
}

impl DesiredState {
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredState::Running => "running",
            DesiredState::Stopped => "stopped",
        }
    }
}

/// How a request proved who sent it (recorded with evidence as `via`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Via {
    /// A principal's API token (`Authorization: Bearer`).
    Token,
    /// A request signed with the principal's key (`x-gatehouse-principal`).
    Signature,
    /// The action's own status token, issued to its proposer.
    StatusToken,
    /// Nothing: an anonymous request on a `--dev-open` hub.
    DevOpen,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Token => "token",
            Via::Signature => "signature",
            Via::StatusToken => "status_token",
            Via::DevOpen => "dev_open",
        }
    }
}
