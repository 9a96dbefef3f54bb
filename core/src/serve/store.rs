//! The server's mutable state: idempotency keys and token buckets.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

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

/// A token bucket holding one second's worth of requests.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The outcome of taking a token.
pub(crate) enum Take {
    /// Allowed; this many whole tokens are left.
    Allowed,
    /// Refused; a token is available in this many ms (at least 1).
    Refused { wait_ms: u64 },
}

impl Bucket {
    pub fn new(rate: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(rate),
            last: now,
        }
    }

    pub fn take(&mut self, rate: u32, now: Instant) -> Take {
        let rate = f64::from(rate.max(1));
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Take::Allowed
        } else {
            let wait_ms = ((1.0 - self.tokens) / rate * 1000.0).ceil().max(1.0) as u64;
            Take::Refused { wait_ms }
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
