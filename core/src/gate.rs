//! Rate gate: one 429 with a `Retry-After` closes the gate for every caller of that host until
//! the time passes, instead of each concurrent caller finding out alone (and each earning its own
//! 429, which some APIs punish with a longer ban).
//!
//! One gate per host; the driver keeps the map. The gate has no options, only a reopening time on
//! the caller's clock (milliseconds, the same clock as every other `now_ms` in the core).
//!
//! Behaviour, and why:
//!
//! | rule | why |
//! |---|---|
//! | starts open | nothing is known about the host yet |
//! | [`close_for`](RateGate::close_for) extends, never shortens | two callers told "wait 5 s" and "wait 30 s" must both be honoured; the later reopening wins |
//! | times are rounded *up* to the millisecond | the gate never reopens before the server's time, not even by a microsecond |
//! | arithmetic saturates | a `Retry-After` of 484,289 hours closes the gate "forever", it does not wrap around and open it; whether to wait that long is the [`RetryPolicy`](crate::RetryPolicy)'s `long_wait` decision |
//! | [`record`](RateGate::record) closes on `rate_limited` / `overloaded` (or status 429; not a 503 alone, which is the breaker's), and on `rate_limit_remaining == 0`, only with a server-given delay | without a delay there is no shared time to wait for: each caller backs off on its own |
//! | a clock reading from the past is fine | `wait` is then just longer; nothing panics |

use crate::classify::{Classification, Reason};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The snapshot format version written by this build.
const SNAPSHOT_VERSION: u32 = 1;

/// A per-host gate that a server's "slow down, come back at *t*" closes for every caller.
///
/// ```
/// use http_triage::RateGate;
/// use std::time::Duration;
///
/// let mut gate = RateGate::new();
/// gate.close_for(1_000, Duration::from_secs(5)); // a 429 with Retry-After: 5 at t = 1 s
/// gate.close_for(2_000, Duration::from_secs(1)); // a shorter ask never shortens the wait
/// assert_eq!(gate.wait(3_000), Duration::from_secs(3));
/// assert!(gate.is_open(6_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RateGate {
    reopens_at_ms: Option<u64>,
}

/// The state of a [`RateGate`] as plain data, to persist it or share it between processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSnapshot {
    /// The snapshot format version (1).
    pub version: u32,
    /// When the gate reopens (or reopened), on the caller's clock; `null` if it was never closed.
    pub reopens_at_ms: Option<u64>,
}

impl RateGate {
    /// An open gate.
    pub const fn new() -> Self {
        RateGate {
            reopens_at_ms: None,
        }
    }

    /// Close the gate until `now_ms + delay` (rounded up to the millisecond, saturating). A gate
    /// that already reopens later stays as it is: closing only ever extends. A zero delay does
    /// nothing.
    pub fn close_for(&mut self, now_ms: u64, delay: Duration) {
        if delay.is_zero() {
            return;
        }
        let at = now_ms.saturating_add(ceil_ms(delay));
        self.reopens_at_ms = Some(self.reopens_at_ms.map_or(at, |t| t.max(at)));
    }

    /// How long a caller must wait before sending to this host: zero when the gate is open.
    pub fn wait(&self, now_ms: u64) -> Duration {
        Duration::from_millis(self.reopens_at_ms.map_or(0, |t| t.saturating_sub(now_ms)))
    }

    /// True when a request may be sent now.
    pub fn is_open(&self, now_ms: u64) -> bool {
        self.reopens_at_ms.map_or(true, |t| now_ms >= t)
    }

    /// When the gate reopens, on the caller's clock. This is the latest time it was ever closed
    /// until, so it may be in the past (the gate is open again); `None` if it was never closed.
    pub fn reopens_at_ms(&self) -> Option<u64> {
        self.reopens_at_ms
    }

    /// Feed a classified call: closes the gate for `c.retry_after` when the server throttled
    /// (reason `rate_limited` or `overloaded`, or status 429) or said no requests are left
    /// (`rate_limit_remaining == 0`, even on a success), and gave a delay.
    ///
    /// A 503 with Retry-After does not close the gate by itself: it is as often one item's
    /// transient failure as a host-wide one, and pausing every caller for one item's fault turns
    /// a 1% fault rate into a stalled batch. Host-wide failure is the circuit breaker's job.
    pub fn record(&mut self, c: &Classification, now_ms: u64) {
        let Some(delay) = c.retry_after else {
            return;
        };
        let throttled = matches!(c.reason, Reason::RateLimited | Reason::Overloaded)
            || c.status == Some(429)
            || c.rate_limit_remaining == Some(0);
        if throttled {
            self.close_for(now_ms, delay);
        }
    }

    /// The gate as plain data.
    pub fn snapshot(&self) -> GateSnapshot {
        GateSnapshot {
            version: SNAPSHOT_VERSION,
            reopens_at_ms: self.reopens_at_ms,
        }
    }

    /// A gate from a snapshot. Fails on a version this build does not know.
    pub fn restore(snapshot: &GateSnapshot) -> Result<Self, crate::Error> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(crate::Error::InvalidSnapshot(format!(
                "gate snapshot version {} (this build reads {SNAPSHOT_VERSION})",
                snapshot.version
            )));
        }
        Ok(RateGate {
            reopens_at_ms: snapshot.reopens_at_ms,
        })
    }
}

/// Milliseconds of a duration rounded up (1.2 ms → 2 ms), saturating at `u64::MAX`: a wait the
/// server asked for is never cut short by rounding.
pub(crate) fn ceil_ms(d: Duration) -> u64 {
    let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{classify_transport, Category, Request, TransportError};
    use proptest::prelude::*;

    fn classification(
        reason: Reason,
        status: Option<u16>,
        retry_after_ms: Option<u64>,
        remaining: Option<u64>,
    ) -> Classification {
        let mut c = classify_transport(TransportError::Dns, &Request::unknown());
        c.category = Category::Retryable;
        c.reason = reason;
        c.transport_error = None;
        c.status = status;
        c.retry_after = retry_after_ms.map(Duration::from_millis);
        c.rate_limit_remaining = remaining;
        c
    }

    #[test]
    fn starts_open() {
        let g = RateGate::new();
        assert!(g.is_open(0));
        assert_eq!(g.wait(123), Duration::ZERO);
        assert_eq!(g.reopens_at_ms(), None);
        assert_eq!(g, RateGate::default());
    }

    #[test]
    fn extends_never_shortens() {
        let mut g = RateGate::new();
        g.close_for(1_000, Duration::from_secs(10));
        g.close_for(2_000, Duration::from_secs(1));
        assert_eq!(g.reopens_at_ms(), Some(11_000));
        g.close_for(5_000, Duration::from_secs(10));
        assert_eq!(g.reopens_at_ms(), Some(15_000));
        assert!(!g.is_open(14_999));
        assert!(g.is_open(15_000));
        assert_eq!(g.wait(14_000), Duration::from_secs(1));
    }

    #[test]
    fn rounds_up_and_saturates() {
        let mut g = RateGate::new();
        g.close_for(0, Duration::from_micros(1_001));
        assert_eq!(g.reopens_at_ms(), Some(2));
        g.close_for(u64::MAX - 1, Duration::from_secs(10));
        assert_eq!(g.reopens_at_ms(), Some(u64::MAX));
        g.close_for(u64::MAX, Duration::MAX);
        assert_eq!(g.reopens_at_ms(), Some(u64::MAX));
        assert!(!g.is_open(u64::MAX - 1));
        assert!(g.is_open(u64::MAX));
        assert_eq!(ceil_ms(Duration::MAX), u64::MAX);
    }

    #[test]
    fn zero_delay_is_a_no_op() {
        let mut g = RateGate::new();
        g.close_for(10, Duration::ZERO);
        assert_eq!(g.reopens_at_ms(), None);
    }

    #[test]
    fn backwards_clock_only_waits_longer() {
        let mut g = RateGate::new();
        g.close_for(10_000, Duration::from_secs(1));
        assert_eq!(g.wait(0), Duration::from_millis(11_000));
    }

    #[test]
    fn record_rules() {
        let mut g = RateGate::new();
        g.record(
            &classification(Reason::ServerError, Some(500), Some(5_000), None),
            0,
        );
        assert!(
            g.is_open(0),
            "a 500 with Retry-After is the breaker's business"
        );
        g.record(
            &classification(Reason::RateLimited, Some(429), None, None),
            0,
        );
        assert!(g.is_open(0), "no delay, nothing shared to wait for");
        g.record(
            &classification(Reason::RateLimited, Some(429), Some(2_000), None),
            0,
        );
        assert_eq!(g.reopens_at_ms(), Some(2_000));
        g.record(
            &classification(Reason::Overloaded, Some(529), Some(3_000), None),
            0,
        );
        assert_eq!(g.reopens_at_ms(), Some(3_000));
        g.record(
            &classification(Reason::ServiceUnavailable, Some(503), Some(4_000), None),
            0,
        );
        assert_eq!(
            g.reopens_at_ms(),
            Some(3_000),
            "a 503 alone leaves the gate as it was"
        );
        g.record(
            &classification(Reason::StatusRule, Some(429), Some(5_000), None),
            0,
        );
        assert_eq!(g.reopens_at_ms(), Some(5_000));
        let mut ok = classification(Reason::Ok, Some(200), Some(6_000), Some(0));
        ok.category = Category::Success;
        g.record(&ok, 0);
        assert_eq!(g.reopens_at_ms(), Some(6_000));
        let mut ok = classification(Reason::Ok, Some(200), Some(9_000), Some(3));
        ok.category = Category::Success;
        g.record(&ok, 0);
        assert_eq!(g.reopens_at_ms(), Some(6_000));
    }

    #[test]
    fn snapshot_round_trip_and_bad_version() {
        let mut g = RateGate::new();
        g.close_for(100, Duration::from_millis(900));
        let json = serde_json::to_string(&g.snapshot()).unwrap_or_default();
        assert_eq!(json, r#"{"version":1,"reopens_at_ms":1000}"#);
        let s: GateSnapshot = serde_json::from_str(&json).unwrap_or(GateSnapshot {
            version: 0,
            reopens_at_ms: None,
        });
        assert_eq!(RateGate::restore(&s), Ok(g));
        let bad = GateSnapshot {
            version: 2,
            reopens_at_ms: None,
        };
        assert!(matches!(
            RateGate::restore(&bad),
            Err(crate::Error::InvalidSnapshot(_))
        ));
        assert!(serde_json::from_str::<GateSnapshot>(
            r#"{"version":1,"reopens_at_ms":null,"x":1}"#
        )
        .is_err());
    }

    proptest! {
        #[test]
        fn never_reopens_before_any_close(
            ops in proptest::collection::vec((0u64..u64::MAX, 0u64..u64::MAX, any::<u32>()), 1..40)
        ) {
            let mut g = RateGate::new();
            let mut latest: Option<u64> = None;
            for (now, delay_ms, nanos) in ops {
                let delay = Duration::from_millis(delay_ms).saturating_add(Duration::from_nanos(u64::from(nanos % 1_000_000)));
                g.close_for(now, delay);
                if !delay.is_zero() {
                    let asked = now.saturating_add(ceil_ms(delay));
                    latest = Some(latest.map_or(asked, |l| l.max(asked)));
                    // Closed (or saturated) at every instant before what was asked.
                    prop_assert!(asked == 0 || !g.is_open(asked - 1) || asked <= now);
                }
                prop_assert_eq!(g.reopens_at_ms(), latest);
                if let Some(t) = latest {
                    prop_assert_eq!(g.wait(now), Duration::from_millis(t.saturating_sub(now)));
                    prop_assert!(g.is_open(t));
                }
                let back = RateGate::restore(&g.snapshot());
                prop_assert_eq!(back, Ok(g));
            }
        }
    }
}
