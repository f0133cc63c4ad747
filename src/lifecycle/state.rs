//! Key states and the transitions of the spec's lifecycle diagram.
//!
//! ```text
//! GENERATED ──distribute──> DISTRIBUTED ──activate──> ACTIVE ──begin_rotation──> ROTATING ──retire──> RETIRED ──destroy──> DESTROYED
//!     │                         │                       │                          │                    │
//!     └──distribution_failure───┴──> DESTROYED          └──────────compromise──────┴────────────────────┴──> REVOKED
//! ```
//! (compromise applies to every live state, GENERATED and DISTRIBUTED included;
//! generation failure creates no record at all.)

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Lifecycle state of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyState {
    /// Material created, not yet sent.
    Generated,
    /// Sent to participants, awaiting receipts.
    Distributed,
    /// In operational use.
    Active,
    /// Being replaced; still usable for decryption.
    Rotating,
    /// Out of use, archived until the retention period ends.
    Retired,
    /// Invalidated after (suspected) compromise. Terminal.
    Revoked,
    /// Material erased. Terminal.
    Destroyed,
}

impl KeyState {
    /// All states.
    pub const ALL: [KeyState; 7] = [
        KeyState::Generated,
        KeyState::Distributed,
        KeyState::Active,
        KeyState::Rotating,
        KeyState::Retired,
        KeyState::Revoked,
        KeyState::Destroyed,
    ];

    /// Upper-case name as in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Generated => "GENERATED",
            KeyState::Distributed => "DISTRIBUTED",
            KeyState::Active => "ACTIVE",
            KeyState::Rotating => "ROTATING",
            KeyState::Retired => "RETIRED",
            KeyState::Revoked => "REVOKED",
            KeyState::Destroyed => "DESTROYED",
        }
    }

    /// Live = not yet REVOKED or DESTROYED; compromise may revoke it.
    pub fn is_live(self) -> bool {
        !matches!(self, KeyState::Revoked | KeyState::Destroyed)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KeyState::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown key state {s:?}"))
    }
}

/// A state change the engine can attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// GENERATED → DISTRIBUTED.
    Distribute,
    /// GENERATED or DISTRIBUTED → DESTROYED (a retry with new material follows).
    DistributionFailure,
    /// DISTRIBUTED → ACTIVE, with every receipt.
    Activate,
    /// ACTIVE → ROTATING.
    BeginRotation,
    /// ROTATING → RETIRED.
    Retire,
    /// any live state → REVOKED.
    Revoke,
    /// RETIRED → DESTROYED after the retention period.
    Destroy,
}

impl Transition {
    /// All transitions.
    pub const ALL: [Transition; 7] = [
        Transition::Distribute,
        Transition::DistributionFailure,
        Transition::Activate,
        Transition::BeginRotation,
        Transition::Retire,
        Transition::Revoke,
        Transition::Destroy,
    ];

    /// Name used in errors and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Distribute => "distribute",
            Transition::DistributionFailure => "distribution_failure",
            Transition::Activate => "activate",
            Transition::BeginRotation => "begin_rotation",
            Transition::Retire => "retire",
            Transition::Revoke => "revoke",
            Transition::Destroy => "destroy",
        }
    }

    /// The state this transition leads to.
    pub fn target(self) -> KeyState {
        match self {
            Transition::Distribute => KeyState::Distributed,
            Transition::DistributionFailure | Transition::Destroy => KeyState::Destroyed,
            Transition::Activate => KeyState::Active,
            Transition::BeginRotation => KeyState::Rotating,
            Transition::Retire => KeyState::Retired,
            Transition::Revoke => KeyState::Revoked,
        }
    }

    /// Whether the diagram allows this transition from `from`.
    pub fn allowed_from(self, from: KeyState) -> bool {
        use KeyState::*;
        match self {
            Transition::Distribute => from == Generated,
            Transition::DistributionFailure => matches!(from, Generated | Distributed),
            Transition::Activate => from == Distributed,
            Transition::BeginRotation => from == Active,
            Transition::Retire => from == Rotating,
            Transition::Revoke => from.is_live(),
            Transition::Destroy => from == Retired,
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Transition::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| format!("unknown transition {s:?}"))
    }
}

/// How a key may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// Encrypt, sign, wrap, encapsulate: ACTIVE only.
    Protect,
    /// Decrypt, verify, unwrap, decapsulate: ACTIVE, or ROTATING during overlap.
    Unprotect,
}

impl Usage {
    /// Whether a key in `state` may be used this way.
    pub fn allowed_in(self, state: KeyState) -> bool {
        match self {
            Usage::Protect => state == KeyState::Active,
            Usage::Unprotect => matches!(state, KeyState::Active | KeyState::Rotating),
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Usage::Protect => "protect (encrypt/sign)",
            Usage::Unprotect => "unprotect (decrypt/verify)",
        })
    }
}

/// Why a triggered rotation was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Anomaly reported by the decision engine (e.g. QBER excursion).
    Anomaly,
    /// Policy change.
    PolicyChange,
    /// Explicit operator command.
    OperatorCommand,
}

impl Trigger {
    /// Name used in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Anomaly => "anomaly",
            Trigger::PolicyChange => "policy_change",
            Trigger::OperatorCommand => "operator_command",
        }
    }
}
