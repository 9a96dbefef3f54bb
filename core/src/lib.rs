//! # http-triage
//!
//! Turn a failed HTTP API call into a decision: **retry after *d***, **poll again**, **give up on
//! this item (quarantine it) and go on**, or **stop everything**.
//!
//! The core is *sans-IO*: it never reads a clock, draws a random number, opens a socket or
//! touches a file. Time and randomness are arguments, which is what makes every decision
//! reproducible and lets the same code run in wasm, Python and JavaScript.
//!
//! ## The drive loop
//!
//! ```
//! use http_triage::{classify, Attempt, Decision, Request, Response, RetryPolicy, Rules};
//!
//! let policy = RetryPolicy::default();
//! let rules = Rules::default();
//! let request = Request::new("POST").with_idempotency_key(true);
//!
//! // What came back from the server (a driver fills these from its HTTP client).
//! let headers = [("Retry-After", "7"), ("Content-Type", "application/json")];
//! let body = br#"{"error":{"code":"rate_limited","message":"slow down"}}"#;
//! let response = Response::new(429, &headers, body);
//!
//! let now_unix_ms = 1_763_800_000_000; // the caller's wall clock
//! let c = classify(&response, &request, now_unix_ms, &rules);
//! assert_eq!(c.category.as_str(), "retryable");
//!
//! // attempt 1 failed after 120 ms; `random` is a draw in [0, 1) for jitter.
//! let decision = policy.decide(&c, Attempt::first(120), 0.5);
//! match decision {
//!     Decision::Retry { delay, .. } => assert_eq!(delay.as_secs(), 7), // the server's delay wins
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```
//!
//! ## Modules
//! - [`envelope`]: one parser for many error-body dialects into one [`Envelope`].
//! - [`headers`]: Retry-After and its cousins, rate-limit headers, request ids.
//! - [`classify`](mod@classify): status + headers + envelope (or a transport error) → [`Classification`].
//! - [`policy`]: [`RetryPolicy`] → [`Decision`].
//! - [`breaker`], [`budget`], [`gate`], [`pacer`]: small state machines shared by concurrent callers
//!   (the driver paces each host with a [`Pacer`]; [`RateGate`] is the simpler all-stop gate), each
//!   with `now` passed in and a serializable snapshot.
//! - [`ledger`]: the batch ledger record format, replay and report.
//! - [`wire`]: the JSON-lines contract of `http-triage classify`, shared by the CLI, the
//!   vectors and the bindings.
//!
//! Behind features: `reqwest` adds the async driver ([`client`]) and the crash-safe batch
//! runner ([`batch`]); `serve` the fault-injecting fake API ([`serve`]); `cli` the binary.

pub mod breaker;
pub mod budget;
pub mod classify;
pub mod envelope;
pub mod gate;
pub mod headers;
pub mod ledger;
pub mod pacer;
pub mod policy;
pub mod wire;

#[cfg(feature = "reqwest")]
pub mod batch;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "reqwest")]
pub mod client;
#[cfg(feature = "serve")]
pub mod serve;

pub use breaker::{
    Admission, BreakerConfig, BreakerSnapshot, BreakerState, CircuitBreaker, WindowBucket,
};
pub use budget::{BudgetConfig, BudgetSnapshot, RetryBudget};
pub use classify::{
    classify, classify_deferring_details, classify_transport, Category, Classification, Reason,
    Request, Response, Rules, TransportError,
};
pub use envelope::{parse_envelope, Details, Dialect, Envelope, Limits, Violation};
pub use gate::{GateSnapshot, RateGate};
pub use headers::{content_type_index, read_headers, HeaderHints};
pub use pacer::{Pacer, PacerConfig, PacerSnapshot};
pub use policy::{
    Attempt, Decision, DecisionFields, DelaySource, GiveUpReason, Jitter, LongWait, RetryPolicy,
    StopReason,
};

/// Errors for bad input to the core's constructors and restore functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is out of range (`multiplier` below 1, a ratio above 1, …).
    #[error("invalid option `{name}`: {why}")]
    InvalidOption {
        /// The option's name as in the docs (`max_attempts`).
        name: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A snapshot could not be restored (wrong version or inconsistent fields).
    #[error("invalid snapshot: {0}")]
    InvalidSnapshot(String),
    /// A name that is not one of the known values (a category, a transport error kind, …).
    #[error("unknown {kind} `{value}`")]
    UnknownName {
        /// What kind of name it should have been (`category`).
        kind: &'static str,
        /// The value given.
        value: String,
    },
}

impl Error {
    /// An [`Error::InvalidOption`].
    pub(crate) fn invalid_option(name: &'static str, why: &str) -> Error {
        Error::InvalidOption {
            name,
            why: why.to_owned(),
        }
    }
}
