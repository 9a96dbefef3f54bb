//! The server's mutable state: idempotency keys and token buckets.

use super::RateLimiter;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// One remembered Idempotency-Key.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A request with this key is being processed; `token` identifies it.
    InFlight { token: u64, fingerprint: [u8; 32] },
    /// A request with this key converted; a retry with the same payload is replayed.
    Done {
        fingerprint: [u8; 32],
        request_id: String,
    },
}

/// What a lookup of a key found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The key is now ours (in flight, with this token).
    Claimed(u64),
    /// Another request with this key is in flight.
    InFlight,
    /// Done with the same payload: replay.
    Replay { request_id: String },
    /// Done (or in flight) with another payload.
    Mismatch,
}

/// Idempotency-Keys, bounded: beyond `capacity` keys the oldest are forgotten.
#[derive(Debug)]
pub(crate) struct IdemStore {
    map: HashMap<String, (u64, Entry)>,
    order: VecDeque<(String, u64)>,
    capacity: usize,
    next: u64,
}

impl IdemStore {
    pub fn new(capacity: usize) -> Self {
        IdemStore {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            next: 1,
        }
    }

    /// Look up `key` for a request with `fingerprint`; claim it if unknown.
    pub fn claim(&mut self, key: &str, fingerprint: [u8; 32]) -> Claim {
        if let Some((_, entry)) = self.map.get(key) {
            return match entry {
                Entry::InFlight { .. } => Claim::InFlight,
                Entry::Done {
                    fingerprint: f,
                    request_id,
                } => {
                    if *f == fingerprint {
                        Claim::Replay {
                            request_id: request_id.clone(),
                        }
                    } else {
                        Claim::Mismatch
                    }
                }
            };
        }
        let token = self.next;
        self.next += 1;
        self.map.insert(
            key.to_owned(),
            (token, Entry::InFlight { token, fingerprint }),
        );
        self.order.push_back((key.to_owned(), token));
        self.evict();
        Claim::Claimed(token)
    }

    /// The request holding `token` finished without a result to keep: forget the key.
    pub fn release(&mut self, key: &str, token: u64) {
        if let Some((_, Entry::InFlight { token: t, .. })) = self.map.get(key) {
            if *t == token {
                self.map.remove(key);
            }
        }
    }

    /// The request holding `token` converted: keep the result for replays.
    pub fn complete(&mut self, key: &str, token: u64, request_id: &str) {
        if let Some((_, entry)) = self.map.get_mut(key) {
            if let Entry::InFlight {
                token: t,
                fingerprint,
            } = entry
            {
                if *t == token {
                    *entry = Entry::Done {
                        fingerprint: *fingerprint,
                        request_id: request_id.to_owned(),
                    };
                }
            }
        }
    }

    fn evict(&mut self) {
        while self.map.len() > self.capacity {
            let Some((key, generation)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&key).is_some_and(|(g, _)| *g == generation) {
                self.map.remove(&key);
            }
        }
        // Released keys leave stale order entries behind: compact now and then.
        if self.order.len() > 2 * self.capacity + 1024 {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|(mg, _)| mg == g));
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// One key's rate-limit state: a token bucket or a fixed window.
#[derive(Debug, Clone)]
pub(crate) enum Limit {
    Bucket {
        tokens: f64,
        last: Duration,
    },
    Window {
        /// The window's index (windows since the server started).
        index: u64,
        count: u32,
    },
    Sliding {
        /// When each request in the window was let through, oldest first.
        log: std::collections::VecDeque<Duration>,
    },
}

/// What the limiter said about one request, and its state after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict {
    /// Refused: a request is allowed again in this many ms (at least 1).
    pub refused_ms: Option<u64>,
    /// The most requests the limiter lets through at once (bucket capacity, window size).
    pub limit: u32,
    /// Requests left now (after this one).
    pub remaining: u32,
    /// Time until `remaining` is back to `limit`, in ms.
    pub reset_ms: u64,
    /// The policy's window in whole seconds (1 for windows, the bucket's fill time rounded up).
    pub window_secs: u64,
}

impl Limit {
    /// A fresh state for `kind` at `now` (time since the server started).
    pub fn new(kind: RateLimiter, capacity: u32, now: Duration) -> Self {
        match kind {
            RateLimiter::Window => Limit::Window {
                index: u64::MAX,
                count: 0,
            },
            RateLimiter::Sliding => Limit::Sliding {
                log: std::collections::VecDeque::new(),
            },
            _ => Limit::Bucket {
                tokens: f64::from(capacity),
                last: now,
            },
        }
    }

    /// Take one request at `now` (time since the server started) under `rate` per second, a
    /// bucket `capacity` (ignored by windows) and windows of `window_secs` (ignored by the
    /// bucket). `take` false only looks.
    pub fn check(
        &mut self,
        rate: u32,
        capacity: u32,
        window_secs: u32,
        now: Duration,
        take: bool,
    ) -> Verdict {
        let rate = rate.max(1);
        let window_ms = u64::from(window_secs.max(1)) * 1000;
        let quota =
            u32::try_from(u64::from(rate) * u64::from(window_secs.max(1))).unwrap_or(u32::MAX);
        let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        match self {
            Limit::Bucket { tokens, last } => {
                let cap = f64::from(capacity.max(1));
                let r = f64::from(rate);
                let elapsed = now.saturating_sub(*last).as_secs_f64();
                *tokens = (*tokens + elapsed * r).min(cap);
                *last = now;
                let refused_ms = if *tokens >= 1.0 {
                    if take {
                        *tokens -= 1.0;
                    }
                    None
                } else {
                    Some(((1.0 - *tokens) / r * 1000.0).ceil().max(1.0) as u64)
                };
                Verdict {
                    refused_ms,
                    limit: capacity.max(1),
                    remaining: tokens.floor().max(0.0) as u32,
                    reset_ms: ((cap - *tokens) / r * 1000.0).ceil().max(0.0) as u64,
                    window_secs: (cap / r).ceil().max(1.0) as u64,
                }
            }
            Limit::Window { index, count } => {
                let now_index = now_ms / window_ms;
                if now_index != *index {
                    *index = now_index;
                    *count = 0;
                }
                let to_end_ms = window_ms - now_ms % window_ms;
                let refused_ms = if *count < quota {
                    if take {
                        *count += 1;
                    }
                    None
                } else {
                    Some(to_end_ms.max(1))
                };
                Verdict {
                    refused_ms,
                    limit: quota,
                    remaining: quota.saturating_sub(*count),
                    reset_ms: to_end_ms,
                    window_secs: u64::from(window_secs.max(1)),
                }
            }
            Limit::Sliding { log } => {
                let window = Duration::from_millis(window_ms);
                while log
                    .front()
                    .is_some_and(|&t| now.saturating_sub(t) >= window)
                {
                    log.pop_front();
                }
                let ms_until = |t: Duration| {
                    u64::try_from((t + window).saturating_sub(now).as_millis()).unwrap_or(u64::MAX)
                };
                let refused_ms = if log.len() < quota as usize {
                    if take {
                        log.push_back(now);
                    }
                    None
                } else {
                    Some(log.front().map_or(1, |&t| ms_until(t)).max(1))
                };
                Verdict {
                    refused_ms,
                    limit: quota,
                    remaining: quota.saturating_sub(u32::try_from(log.len()).unwrap_or(u32::MAX)),
                    // Every request in the window has aged out.
                    reset_ms: log.back().map_or(0, |&t| ms_until(t)),
                    window_secs: u64::from(window_secs.max(1)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_bounded() {
        let mut s = IdemStore::new(10);
        for i in 0..100u32 {
            let k = format!("k{i}");
            match s.claim(&k, [0; 32]) {
                Claim::Claimed(t) => {
                    if i % 2 == 0 {
                        s.complete(&k, t, "r")
                    } else {
                        s.release(&k, t)
                    }
                }
                _ => unreachable!(),
            }
        }
        assert!(s.len() <= 10);
        assert!(matches!(s.claim("k98", [0; 32]), Claim::Replay { .. }));
        assert!(matches!(s.claim("k98", [1; 32]), Claim::Mismatch));
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn bucket_allows_the_burst_then_one_per_interval() {
        let mut b = Limit::new(RateLimiter::Bucket, 3, MS(0));
        for left in [2, 1, 0] {
            let v = b.check(10, 3, 1, MS(0), true);
            assert_eq!((v.refused_ms, v.remaining, v.limit), (None, left, 3));
        }
        let v = b.check(10, 3, 1, MS(0), true);
        assert_eq!(v.refused_ms, Some(100));
        assert_eq!(v.reset_ms, 300);
        assert_eq!(b.check(10, 3, 1, MS(40), true).refused_ms, Some(60));
        assert_eq!(b.check(10, 3, 1, MS(100), true).refused_ms, None);
    }

    #[test]
    fn sliding_log_reopens_as_its_oldest_age_out() {
        // 2 per second, windows of 2 s: 4 in any rolling 2 s.
        let mut s = Limit::new(RateLimiter::Sliding, 0, MS(0));
        for (t, left) in [(0, 3), (100, 2), (200, 1), (300, 0)] {
            let v = s.check(2, 0, 2, MS(t), true);
            assert_eq!(
                (v.refused_ms, v.remaining, v.limit),
                (None, left, 4),
                "at {t}"
            );
        }
        let v = s.check(2, 0, 2, MS(1_500), true);
        assert_eq!(
            (v.refused_ms, v.reset_ms, v.window_secs),
            (Some(500), 800, 2)
        );
        // At 2 000 the first has aged out: one place, not four.
        assert_eq!(s.check(2, 0, 2, MS(2_000), true).refused_ms, None);
        assert_eq!(s.check(2, 0, 2, MS(2_000), true).refused_ms, Some(100));
        assert_eq!(s.check(2, 0, 2, MS(2_100), false).refused_ms, None);
    }

    #[test]
    fn window_of_several_seconds() {
        let mut w = Limit::new(RateLimiter::Window, 0, MS(0));
        for _ in 0..6 {
            assert_eq!(w.check(2, 0, 3, MS(1_000), true).refused_ms, None);
        }
        let v = w.check(2, 0, 3, MS(2_500), true);
        assert_eq!((v.refused_ms, v.limit, v.window_secs), (Some(500), 6, 3));
        assert_eq!(w.check(2, 0, 3, MS(3_000), true).refused_ms, None);
    }

    #[test]
    fn window_refuses_until_its_end() {
        let mut w = Limit::new(RateLimiter::Window, 0, MS(0));
        for left in [1, 0] {
            let v = w.check(2, 0, 1, MS(250), true);
            assert_eq!((v.refused_ms, v.remaining), (None, left));
        }
        let v = w.check(2, 0, 1, MS(250), true);
        assert_eq!((v.refused_ms, v.reset_ms), (Some(750), 750));
        let v = w.check(2, 0, 1, MS(1_001), true);
        assert_eq!((v.refused_ms, v.remaining), (None, 1));
        // Looking does not count.
        let v = w.check(2, 0, 1, MS(1_002), false);
        assert_eq!(v.remaining, 1);
    }
}
