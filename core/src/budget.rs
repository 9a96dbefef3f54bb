//! Retry budget: the token bucket of gRPC retry throttling (gRPC proposal A6, `retryThrottling`).
//!
//! The bucket starts full at `max_tokens`. Each retryable failure takes one token, each success
//! puts back `token_ratio`, never above `max_tokens`. Retries are allowed only while the bucket
//! holds **more than half** of `max_tokens`. In an outage every call fails, the bucket drains
//! below half after a few failures, and from then on only first attempts go out: total traffic
//! stays ≈ one request per item instead of `max_attempts` per item. When the service recovers,
//! successes refill the bucket and retries come back by themselves.
//!
//! There is no clock in it: the budget refills with successes, not with time, exactly as in gRPC.
//!
//! Defaults, and why:
//!
//! | option | default | why |
//! |---|---|---|
//! | `max_tokens` | 10 | the example in gRPC A6: five failures in a row (10 → 5) stop retries |
//! | `token_ratio` | 0.1 | also A6's example: ten successes earn one retry back, so retries add at most ~10% load in steady state |
//!
//! Limits (also gRPC's): `max_tokens` in (0, 1000], `token_ratio` in (0, 1]. Token counts are
//! kept in thousandths of a token, as gRPC's C++ implementation does, so that "ten successes of
//! 0.1" is exactly one token and the half-full test never flips on a rounding error; options are
//! rounded to the nearest thousandth and must not round to zero.

use crate::classify::{Category, Classification, Reason};
use serde::{Deserialize, Serialize};

/// The snapshot format version written by this build.
const SNAPSHOT_VERSION: u32 = 1;
/// Token counts are kept in thousandths.
const MILLI: f64 = 1000.0;

/// Retry budget options. See the module docs for the defaults and the reasons for them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Size of the bucket, and where it starts. In (0, 1000].
    pub max_tokens: f64,
    /// Tokens put back per success. In (0, 1].
    pub token_ratio: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig::DEFAULT
    }
}

impl BudgetConfig {
    /// The defaults (see the module docs).
    pub const DEFAULT: BudgetConfig = BudgetConfig {
        max_tokens: 10.0,
        token_ratio: 0.1,
    };

    /// With `max_tokens`.
    pub const fn with_max_tokens(mut self, n: f64) -> Self {
        self.max_tokens = n;
        self
    }

    /// With `token_ratio`.
    pub const fn with_token_ratio(mut self, r: f64) -> Self {
        self.token_ratio = r;
        self
    }

    /// Check the options: `max_tokens` finite, > 0 and ≤ 1000; `token_ratio` finite, > 0 and ≤ 1;
    /// neither may round to zero thousandths.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |name, why: &str| Err(crate::Error::invalid_option(name, why));
        if !self.max_tokens.is_finite() || self.max_tokens <= 0.0 || self.max_tokens > 1000.0 {
            return bad("max_tokens", "must be a finite number in (0, 1000]");
        }
        if to_milli(self.max_tokens) == 0 {
            return bad(
                "max_tokens",
                "must be at least 0.001 (tokens are counted in thousandths)",
            );
        }
        if !self.token_ratio.is_finite() || self.token_ratio <= 0.0 || self.token_ratio > 1.0 {
            return bad("token_ratio", "must be a finite number in (0, 1]");
        }
        if to_milli(self.token_ratio) == 0 {
            return bad(
                "token_ratio",
                "must be at least 0.001 (tokens are counted in thousandths)",
            );
        }
        Ok(())
    }
}

/// A retry budget shared by the callers of one service (or host). See the module docs.
///
/// ```
/// use http_triage::{BudgetConfig, RetryBudget};
///
/// let mut budget = RetryBudget::new(BudgetConfig::default())?;
/// for _ in 0..5 {
///     budget.on_failure(); // an outage: 10 → 5 tokens
/// }
/// assert!(!budget.can_retry()); // retries stop at half
/// budget.on_success(); // 5.1 tokens
/// assert!(budget.can_retry());
/// # Ok::<(), http_triage::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryBudget {
    max_milli: u32,
    ratio_milli: u32,
    milli: u32,
}

/// The state of a [`RetryBudget`] as plain data, to persist it or share it between processes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSnapshot {
    /// The snapshot format version (1).
    pub version: u32,
    /// Tokens in the bucket (in thousandths: 4.9, never 4.8999).
    pub tokens: f64,
}

impl Default for RetryBudget {
    fn default() -> Self {
        let max = to_milli(BudgetConfig::DEFAULT.max_tokens);
        RetryBudget {
            max_milli: max,
            ratio_milli: to_milli(BudgetConfig::DEFAULT.token_ratio),
            milli: max,
        }
    }
}

impl RetryBudget {
    /// A full budget. Fails on invalid options.
    pub fn new(config: BudgetConfig) -> Result<Self, crate::Error> {
        config.validate()?;
        let max_milli = to_milli(config.max_tokens);
        Ok(RetryBudget {
            max_milli,
            ratio_milli: to_milli(config.token_ratio),
            milli: max_milli,
        })
    }

    /// True while the bucket holds more than half of `max_tokens`: a retry may be sent. First
    /// attempts are never throttled by the budget.
    pub fn can_retry(&self) -> bool {
        u64::from(self.milli) * 2 > u64::from(self.max_milli)
    }

    /// A call succeeded: put back `token_ratio` tokens, up to `max_tokens`.
    pub fn on_success(&mut self) {
        self.milli = self
            .milli
            .saturating_add(self.ratio_milli)
            .min(self.max_milli);
    }

    /// A call failed in a way that would be retried: take one token, down to zero.
    pub fn on_failure(&mut self) {
        self.milli = self.milli.saturating_sub(1000);
    }

    /// Feed a classified call: success, pending and permanent answers count as successes (the
    /// service answered sanely); other retryable ones as failures. Rate limits are not counted:
    /// a throttling server is healthy and already paces its callers through Retry-After and the
    /// rate gate, so letting 429s drain the budget would turn a throttle into give-ups. Auth and
    /// quota answers are not counted either (they stop the batch and say nothing about load).
    pub fn record(&mut self, c: &Classification) {
        match c.category {
            Category::Success | Category::Pending | Category::Permanent => self.on_success(),
            Category::Retryable if c.reason == Reason::RateLimited => {}
            Category::Retryable => self.on_failure(),
            Category::Auth | Category::Quota => {}
        }
    }

    /// Tokens in the bucket, in [0, `max_tokens`].
    pub fn tokens(&self) -> f64 {
        f64::from(self.milli) / MILLI
    }

    /// `max_tokens` as kept (rounded to the thousandth).
    pub fn max_tokens(&self) -> f64 {
        f64::from(self.max_milli) / MILLI
    }

    /// The budget as plain data.
    pub fn snapshot(&self) -> BudgetSnapshot {
        BudgetSnapshot {
            version: SNAPSHOT_VERSION,
            tokens: self.tokens(),
        }
    }

    /// A budget from a snapshot. Fails on invalid options, an unknown version, or a token count
    /// that is negative or not a number. A count above `max_tokens` (the option was lowered since
    /// the snapshot) is cut down to `max_tokens`.
    pub fn restore(config: BudgetConfig, snapshot: &BudgetSnapshot) -> Result<Self, crate::Error> {
        let mut b = RetryBudget::new(config)?;
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(crate::Error::InvalidSnapshot(format!(
                "budget snapshot version {} (this build reads {SNAPSHOT_VERSION})",
                snapshot.version
            )));
        }
        if !snapshot.tokens.is_finite() || snapshot.tokens < 0.0 {
            return Err(crate::Error::InvalidSnapshot(
                "budget tokens must be a finite number ≥ 0".to_owned(),
            ));
        }
        b.milli = to_milli(snapshot.tokens.min(b.max_tokens())).min(b.max_milli);
        Ok(b)
    }
}

/// A non-negative token count (at most 1000 after validation) in thousandths, rounded.
fn to_milli(x: f64) -> u32 {
    let m = (x * MILLI).round();
    if m.is_nan() || m <= 0.0 {
        0
    } else if m >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        m as u32
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::classify::{classify_transport, Request, TransportError};
    use proptest::prelude::*;

    fn classification(category: Category, reason: Reason) -> Classification {
        let mut c = classify_transport(TransportError::Dns, &Request::unknown());
        c.category = category;
        c.reason = reason;
        c
    }

    #[test]
    fn defaults_are_valid_and_full() {
        let b = RetryBudget::new(BudgetConfig::default()).unwrap();
        assert_eq!(b.tokens(), 10.0);
        assert!(b.can_retry());
        assert_eq!(b, RetryBudget::default());
    }

    #[test]
    fn outage_drains_then_recovery_refills() {
        let mut b = RetryBudget::default();
        for i in 1..=4 {
            b.on_failure();
            assert!(b.can_retry(), "after {i} failures");
        }
        b.on_failure();
        assert_eq!(b.tokens(), 5.0);
        assert!(!b.can_retry(), "exactly half is not more than half");
        for _ in 0..20 {
            b.on_failure();
        }
        assert_eq!(b.tokens(), 0.0);
        for _ in 0..50 {
            b.on_success();
        }
        assert_eq!(b.tokens(), 5.0);
        assert!(!b.can_retry());
        b.on_success();
        assert_eq!(b.tokens(), 5.1);
        assert!(b.can_retry());
        for _ in 0..100 {
            b.on_success();
        }
        assert_eq!(b.tokens(), 10.0);
    }

    #[test]
    fn record_rules() {
        let mut b = RetryBudget::default();
        b.record(&classification(Category::Retryable, Reason::RateLimited));
        assert_eq!(b.tokens(), 10.0);
        b.record(&classification(Category::Retryable, Reason::ServerError));
        b.record(&classification(Category::Retryable, Reason::ServerError));
        assert_eq!(b.tokens(), 8.0);
        b.record(&classification(Category::Auth, Reason::Unauthenticated));
        b.record(&classification(Category::Quota, Reason::QuotaExceeded));
        assert_eq!(b.tokens(), 8.0);
        b.record(&classification(Category::Success, Reason::Ok));
        b.record(&classification(Category::Pending, Reason::NotReady));
        b.record(&classification(Category::Permanent, Reason::NotFound));
        assert_eq!(b.tokens(), 8.3);
    }

    #[test]
    fn invalid_options() {
        for (max, ratio, name) in [
            (0.0, 0.1, "max_tokens"),
            (-1.0, 0.1, "max_tokens"),
            (1000.5, 0.1, "max_tokens"),
            (f64::NAN, 0.1, "max_tokens"),
            (f64::INFINITY, 0.1, "max_tokens"),
            (0.0001, 0.1, "max_tokens"),
            (10.0, 0.0, "token_ratio"),
            (10.0, 1.5, "token_ratio"),
            (10.0, f64::NAN, "token_ratio"),
            (10.0, 0.0004, "token_ratio"),
        ] {
            let c = BudgetConfig::DEFAULT
                .with_max_tokens(max)
                .with_token_ratio(ratio);
            match RetryBudget::new(c) {
                Err(crate::Error::InvalidOption { name: n, .. }) => {
                    assert_eq!(n, name, "{max} {ratio}")
                }
                other => panic!("{max} {ratio}: {other:?}"),
            }
        }
        assert!(RetryBudget::new(
            BudgetConfig::DEFAULT
                .with_max_tokens(1000.0)
                .with_token_ratio(1.0)
        )
        .is_ok());
    }

    #[test]
    fn serde_config() {
        let c: BudgetConfig = serde_json::from_str(r#"{"max_tokens": 4}"#).unwrap();
        assert_eq!(c, BudgetConfig::DEFAULT.with_max_tokens(4.0));
        assert!(serde_json::from_str::<BudgetConfig>(r#"{"max_token": 4}"#).is_err());
        assert_eq!(
            serde_json::to_string(&BudgetConfig::DEFAULT).unwrap(),
            r#"{"max_tokens":10.0,"token_ratio":0.1}"#
        );
    }

    #[test]
    fn snapshot_rules() {
        let mut b = RetryBudget::default();
        b.on_failure();
        b.on_success();
        let s = b.snapshot();
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"version":1,"tokens":9.1}"#
        );
        assert_eq!(RetryBudget::restore(BudgetConfig::DEFAULT, &s).unwrap(), b);
        let lower = BudgetConfig::DEFAULT.with_max_tokens(4.0);
        assert_eq!(RetryBudget::restore(lower, &s).unwrap().tokens(), 4.0);
        for tokens in [-0.5, f64::NAN, f64::INFINITY] {
            let s = BudgetSnapshot { version: 1, tokens };
            assert!(matches!(
                RetryBudget::restore(BudgetConfig::DEFAULT, &s),
                Err(crate::Error::InvalidSnapshot(_))
            ));
        }
        let s = BudgetSnapshot {
            version: 9,
            tokens: 1.0,
        };
        assert!(matches!(
            RetryBudget::restore(BudgetConfig::DEFAULT, &s),
            Err(crate::Error::InvalidSnapshot(_))
        ));
    }

    proptest! {
        #[test]
        fn tokens_stay_in_bounds_and_round_trip(
            max in 0.001f64..=1000.0,
            ratio in 0.001f64..=1.0,
            ops in proptest::collection::vec(0u8..3, 0..300),
        ) {
            let config = BudgetConfig { max_tokens: max, token_ratio: ratio };
            let mut b = RetryBudget::new(config).unwrap();
            for op in ops {
                match op {
                    0 => b.on_success(),
                    1 => b.on_failure(),
                    _ => {
                        let json = serde_json::to_string(&b.snapshot()).unwrap();
                        let s: BudgetSnapshot = serde_json::from_str(&json).unwrap();
                        let back = RetryBudget::restore(config, &s).unwrap();
                        prop_assert_eq!(&back, &b);
                        b = back;
                    }
                }
                prop_assert!(b.tokens() >= 0.0 && b.tokens() <= b.max_tokens());
                prop_assert_eq!(b.can_retry(), b.tokens() > b.max_tokens() / 2.0);
            }
        }

        #[test]
        fn any_config_and_snapshot_is_an_answer_not_a_panic(
            max in any::<f64>(), ratio in any::<f64>(), tokens in any::<f64>(), version in 0u32..3,
        ) {
            let config = BudgetConfig { max_tokens: max, token_ratio: ratio };
            let _ = RetryBudget::new(config);
            if let Ok(b) = RetryBudget::restore(config, &BudgetSnapshot { version, tokens }) {
                prop_assert!(b.tokens() >= 0.0 && b.tokens() <= b.max_tokens());
            }
        }
    }
}
