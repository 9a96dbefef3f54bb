//! The driver's errors. Their `Display` says what happened (category, reason, status, code,
//! request id) and never a header value, a body, a query string or URL userinfo.

use super::AttemptRecord;
use crate::classify::Classification;
use crate::policy::{GiveUpReason, StopReason};
use std::fmt;
use std::time::Duration;

/// A [`Client`](super::Client) or [`TriageMiddleware`](super::TriageMiddleware) could not be set
/// up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// An option is out of range.
    #[error(transparent)]
    InvalidConfig(#[from] crate::Error),
    /// The `reqwest::Client` could not be built (the TLS backend failed to start).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// A call that did not end in a [`Success`](super::Success).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// Quarantine this item and go on: the failure is permanent, or retries ran out.
    #[error("gave up after {attempts} attempt(s) ({}): {}", reason.as_str(), Summary(classification))]
    GaveUp {
        /// The last attempt's classification.
        classification: Box<Classification>,
        /// Why.
        reason: GiveUpReason,
        /// Requests sent, polls included.
        attempts: u32,
        /// One record per request sent.
        history: Vec<AttemptRecord>,
    },
    /// Stop everything: the credentials were rejected or the quota is spent.
    #[error("stopped ({}) after {attempts} attempt(s): {}", reason.as_str(), Summary(classification))]
    Stopped {
        /// The last attempt's classification.
        classification: Box<Classification>,
        /// Why.
        reason: StopReason,
        /// Requests sent, polls included.
        attempts: u32,
        /// One record per request sent.
        history: Vec<AttemptRecord>,
    },
    /// The server (or the host's rate gate) asked for a wait longer than the policy follows
    /// in-line: put the item aside and resume it after `resume_after`.
    #[error("deferred after {attempts} attempt(s): resume after {} ms{}", resume_after.as_millis(), OptSummary(classification.as_deref()))]
    Deferred {
        /// The last attempt's classification; `None` when the host's rate gate (closed by another
        /// call's answer) deferred this call before it sent anything.
        classification: Option<Box<Classification>>,
        /// How long to wait before trying again.
        resume_after: Duration,
        /// Requests sent, polls included.
        attempts: u32,
        /// One record per request sent.
        history: Vec<AttemptRecord>,
    },
    /// The host's circuit breaker is open: nothing was sent for this attempt.
    #[error("circuit open for {host} after {attempts} attempt(s): a probe is allowed in {} ms{}", retry_after.as_millis(), OptSummary(classification.as_deref()))]
    CircuitOpen {
        /// Time until the breaker lets a probe through.
        retry_after: Duration,
        /// The host, as `host:port`.
        host: String,
        /// The last attempt's classification, when this call sent requests before.
        classification: Option<Box<Classification>>,
        /// Requests sent, polls included.
        attempts: u32,
        /// One record per request sent.
        history: Vec<AttemptRecord>,
    },
    /// A retry was due but the host's retry budget is spent (too many failures lately).
    #[error(
        "retry budget exhausted after {attempts} attempt(s): {}",
        Summary(classification)
    )]
    BudgetExhausted {
        /// The last attempt's classification.
        classification: Box<Classification>,
        /// Requests sent, polls included.
        attempts: u32,
        /// One record per request sent.
        history: Vec<AttemptRecord>,
    },
    /// The request cannot be sent as given (no host, a bad header value, …). Nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The 2xx/3xx body is longer than
    /// [`ClientConfig::max_success_body`](super::ClientConfig::max_success_body). Not retried:
    /// the same request would get the same answer.
    #[error("the {status} answer's body is longer than the limit of {limit} bytes (after {attempts} attempt(s))")]
    BodyTooLarge {
        /// The limit.
        limit: u64,
        /// The answer's status.
        status: u16,
        /// Requests sent, polls included.
        attempts: u32,
        /// One record per request sent.
        history: Vec<AttemptRecord>,
    },
    /// The 2xx/3xx body could not be written to the
    /// [`Spill`](super::Spill) file (disk full, permissions, …).
    #[error("could not write the body to its file after {attempts} attempt(s): {message}")]
    BodyWrite {
        /// What went wrong (the OS error, the file's path).
        message: String,
        /// Requests sent, polls included.
        attempts: u32,
        /// One record per request sent.
        history: Vec<AttemptRecord>,
    },
}

impl CallError {
    /// The last attempt's classification, when there is one.
    pub fn classification(&self) -> Option<&Classification> {
        match self {
            CallError::GaveUp { classification, .. }
            | CallError::Stopped { classification, .. }
            | CallError::BudgetExhausted { classification, .. } => Some(classification),
            CallError::Deferred { classification, .. }
            | CallError::CircuitOpen { classification, .. } => classification.as_deref(),
            CallError::InvalidRequest(_)
            | CallError::BodyTooLarge { .. }
            | CallError::BodyWrite { .. } => None,
        }
    }

    /// The last response's request id, when there is one.
    pub fn request_id(&self) -> Option<&str> {
        self.classification()?.request_id.as_deref()
    }

    /// Requests sent, polls included (0 for an invalid request).
    pub fn attempts(&self) -> u32 {
        match self {
            CallError::GaveUp { attempts, .. }
            | CallError::Stopped { attempts, .. }
            | CallError::Deferred { attempts, .. }
            | CallError::CircuitOpen { attempts, .. }
            | CallError::BudgetExhausted { attempts, .. }
            | CallError::BodyTooLarge { attempts, .. }
            | CallError::BodyWrite { attempts, .. } => *attempts,
            CallError::InvalidRequest(_) => 0,
        }
    }

    /// One record per request sent.
    pub fn history(&self) -> &[AttemptRecord] {
        match self {
            CallError::GaveUp { history, .. }
            | CallError::Stopped { history, .. }
            | CallError::Deferred { history, .. }
            | CallError::CircuitOpen { history, .. }
            | CallError::BudgetExhausted { history, .. }
            | CallError::BodyTooLarge { history, .. }
            | CallError::BodyWrite { history, .. } => history,
            CallError::InvalidRequest(_) => &[],
        }
    }

    /// A stable snake_case name for the variant: `"gave_up"`, `"stopped"`, `"deferred"`,
    /// `"circuit_open"`, `"budget_exhausted"`, `"invalid_request"`, `"body_too_large"` or
    /// `"body_write"`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::GaveUp { .. } => "gave_up",
            CallError::Stopped { .. } => "stopped",
            CallError::Deferred { .. } => "deferred",
            CallError::CircuitOpen { .. } => "circuit_open",
            CallError::BudgetExhausted { .. } => "budget_exhausted",
            CallError::InvalidRequest(_) => "invalid_request",
            CallError::BodyTooLarge { .. } => "body_too_large",
            CallError::BodyWrite { .. } => "body_write",
        }
    }

    /// True when the whole batch should stop (auth, quota).
    pub fn stops_batch(&self) -> bool {
        matches!(self, CallError::Stopped { .. })
    }
}

/// `category/reason, status 503, code `x`, request id `y`` — only server-given identifiers.
struct Summary<'a>(&'a Classification);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        write!(f, "{}/{}", c.category, c.reason)?;
        if let Some(status) = c.status {
            write!(f, ", status {status}")?;
        }
        if let Some(kind) = c.transport_error {
            write!(f, ", transport error {kind}")?;
        }
        if let Some(code) = &c.code {
            write!(f, ", code `{}`", Short(code))?;
        }
        if let Some(id) = &c.request_id {
            write!(f, ", request id `{}`", Short(id))?;
        }
        Ok(())
    }
}

struct OptSummary<'a>(Option<&'a Classification>);

impl fmt::Display for OptSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, " (last: {})", Summary(c)),
            None => Ok(()),
        }
    }
}

/// A server-given string, cut to 128 characters and without control characters.
struct Short<'a>(&'a str);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ch in self.0.chars().filter(|c| !c.is_control()).take(128) {
            fmt::Write::write_char(f, ch)?;
        }
        Ok(())
    }
}
