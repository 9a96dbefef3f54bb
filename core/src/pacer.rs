//! Pacer: a per-host client-side token bucket whose send rate is learned from the server.
//!
//! **API skeleton.** The public surface below (`Pacer`, `PacerConfig`, `PacerSnapshot`,
//! `acquire`, `record`, `rate`, `snapshot`, `restore`) is what the driver, the batch runner and
//! the bindings use. The learning inside is being filled in (issue 6); until then the pacer
//! paces at a rate cut by `beta` on each throttle and grown back linearly.
//!
//! The pacer hands out *send times* one caller at a time ([`Pacer::acquire`]): after a 429 the
//! waiters leave at the paced rate, one after the other, instead of all together.

use crate::classify::{Classification, Reason};
use serde::{Deserialize, Serialize};

/// The snapshot format version written by this build.
const SNAPSHOT_VERSION: u32 = 1;

/// Options of a [`Pacer`]. Rates are requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PacerConfig {
    /// The factor the rate is cut by on a throttle (AWS: 0.7). In (0, 1).
    pub beta: f64,
    /// How fast the rate grows back after a throttle (AWS's cubic scale constant: 0.4). > 0.
    pub scale: f64,
    /// The lowest rate the pacer ever paces at (AWS: 0.5 req/s). > 0.
    pub min_rate: f64,
    /// A ceiling the caller sets, or `None`.
    pub max_rate: Option<f64>,
}

impl Default for PacerConfig {
    fn default() -> Self {
        PacerConfig {
            beta: 0.7,
            scale: 0.4,
            min_rate: 0.5,
            max_rate: None,
        }
    }
}

impl PacerConfig {
    /// Check the options.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let finite_pos = |x: f64| x.is_finite() && x > 0.0;
        if !(finite_pos(self.beta) && self.beta < 1.0) {
            return Err(crate::Error::invalid_option("beta", "must be in (0, 1)"));
        }
        if !finite_pos(self.scale) {
            return Err(crate::Error::invalid_option("scale", "must be above 0"));
        }
        if !finite_pos(self.min_rate) {
            return Err(crate::Error::invalid_option("min_rate", "must be above 0"));
        }
        if let Some(m) = self.max_rate {
            if !finite_pos(m) || m < self.min_rate {
                return Err(crate::Error::invalid_option(
                    "max_rate",
                    "must be above 0 and at least min_rate",
                ));
            }
        }
        Ok(())
    }
}

/// A per-host pacer. One per host; the driver keeps the map. `now_ms` is the caller's monotonic
/// clock in milliseconds, as for every other state machine in the core.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    config: PacerConfig,
    /// The paced rate, or `None` while the host has not pushed back (no pacing).
    rate: Option<f64>,
    /// The next free send time (GCRA's theoretical arrival time), ms.
    next_ms: f64,
}

/// The state of a [`Pacer`] as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PacerSnapshot {
    /// The snapshot format version (1).
    pub version: u32,
    /// The options.
    pub config: PacerConfig,
    /// The paced rate in requests per second, `null` when not pacing.
    pub rate: Option<f64>,
    /// The next free send time on the caller's clock, ms.
    pub next_ms: f64,
}

impl Pacer {
    /// A pacer that does not pace until the host pushes back.
    pub fn new(config: PacerConfig) -> Result<Self, crate::Error> {
        config.validate()?;
        Ok(Pacer {
            config,
            rate: None,
            next_ms: 0.0,
        })
    }

    /// Reserve the next send: returns the time (ms, `>= now_ms`) at which this caller may send.
    /// Each call takes one slot, so concurrent callers get successive times.
    pub fn acquire(&mut self, now_ms: u64) -> u64 {
        let now = now_ms as f64;
        let Some(rate) = self.rate else {
            return now_ms;
        };
        let at = self.next_ms.max(now);
        self.next_ms = at + 1000.0 / rate;
        at.ceil() as u64
    }

    /// How long a caller asking now would wait, without reserving anything.
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        match self.rate {
            None => 0,
            Some(_) => (self.next_ms - now_ms as f64).max(0.0).ceil() as u64,
        }
    }

    /// Learn from a classified call: throttles cut the rate, successes grow it back.
    pub fn record(&mut self, c: &Classification, _now_ms: u64) {
        let throttled =
            matches!(c.reason, Reason::RateLimited | Reason::Overloaded) || c.status == Some(429);
        if throttled {
            let base = self.rate.unwrap_or(10.0);
            self.rate = Some((base * self.config.beta).max(self.config.min_rate));
        } else if let Some(r) = self.rate {
            self.rate = Some(r + 0.1);
        }
        if let (Some(r), Some(m)) = (self.rate, self.config.max_rate) {
            self.rate = Some(r.min(m));
        }
    }

    /// The paced rate in requests per second, or `None` while not pacing.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// The pacer as plain data.
    pub fn snapshot(&self) -> PacerSnapshot {
        PacerSnapshot {
            version: SNAPSHOT_VERSION,
            config: self.config,
            rate: self.rate,
            next_ms: self.next_ms,
        }
    }

    /// A pacer from a snapshot. Fails on a version this build does not know or bad fields.
    pub fn restore(s: &PacerSnapshot) -> Result<Self, crate::Error> {
        if s.version != SNAPSHOT_VERSION {
            return Err(crate::Error::InvalidSnapshot(format!(
                "pacer snapshot version {} (this build reads {SNAPSHOT_VERSION})",
                s.version
            )));
        }
        s.config
            .validate()
            .map_err(|e| crate::Error::InvalidSnapshot(e.to_string()))?;
        Ok(Pacer {
            config: s.config,
            rate: s.rate,
            next_ms: s.next_ms,
        })
    }
}
