//! A discrete-time simulation of the pacer against a server-side token bucket: the profiles of
//! the batch benchmark's part (c), without sockets or timers, in milliseconds of virtual time.
//! It is how the pacer's rules were tuned (each run takes a fraction of a second, the real
//! benchmark minutes); the real benchmark has the last word.
//!
//! `cargo run -p http-triage --example pacer_sim -- [bucket|drop] [SCALE] [BETA]`: 1,000 files,
//! 10 workers, 2 ms round trips, a bucket of 100/s with a burst of 20 (`drop`: 30/s from 2 s to
//! 8 s), whole-second `Retry-After`. Each worker takes a send time from the pacer, gives it up
//! and asks again if the rate was cut meanwhile (as the driver does), and sleeps its own
//! `Retry-After` after a 429. Prints wall time, its ratio to the floor, requests and 429s.

use http_triage::{classify, Pacer, PacerConfig, Request, Response, Rules};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What happens next to a worker.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Take the next file (if none) and ask the pacer for a send time.
    Ask,
    /// The send time came: send, unless the rate was cut since (`cuts` then) .
    Send { cuts: u64 },
    /// The answer arrived: a success, or a 429 waiting `retry_after_s`.
    Answer {
        sent: u64,
        ok: bool,
        retry_after_s: u64,
    },
}

fn main() -> Result<(), http_triage::Error> {
    let args: Vec<String> = std::env::args().collect();
    let drop = args.get(1).is_some_and(|a| a == "drop");
    let mut config = PacerConfig::default();
    if let Some(s) = args.get(2).and_then(|s| s.parse().ok()) {
        config.scale = s;
    }
    if let Some(b) = args.get(3).and_then(|s| s.parse().ok()) {
        config.beta = b;
    }
    let limit = |t: u64| {
        if drop && (2000..8000).contains(&t) {
            30.0
        } else {
            100.0
        }
    };
    let mut pacer = Pacer::new(config)?;
    let (files, workers) = (1000usize, 10usize);
    let (mut tokens, mut refilled) = (20.0f64, 0u64);
    let (mut next_file, mut done, mut throttled, mut requests, mut end) = (0, 0, 0, 0, 0);
    let mut holding = vec![false; workers];
    let mut queue: BinaryHeap<Reverse<(u64, usize, Event)>> =
        (0..workers).map(|w| Reverse((0, w, Event::Ask))).collect();
    let rules = Rules::default();
    while let Some(Reverse((t, w, event))) = queue.pop() {
        match event {
            Event::Ask => {
                if !holding[w] {
                    if next_file >= files {
                        continue;
                    }
                    holding[w] = true;
                    next_file += 1;
                }
                let at = pacer.acquire(t);
                queue.push(Reverse((at, w, Event::Send { cuts: pacer.cuts() })));
            }
            Event::Send { cuts } if cuts != pacer.cuts() => {
                let at = pacer.acquire(t);
                queue.push(Reverse((at, w, Event::Send { cuts: pacer.cuts() })));
            }
            Event::Send { .. } => {
                // The server decides 1 ms later; the answer is back 1 ms after that.
                let arrive = t + 1;
                tokens = (tokens + (arrive - refilled) as f64 * limit(arrive) / 1000.0).min(20.0);
                refilled = arrive;
                requests += 1;
                let ok = tokens >= 1.0;
                let mut retry_after_s = 0;
                if ok {
                    tokens -= 1.0;
                } else {
                    let wait_ms = ((1.0 - tokens) / limit(arrive) * 1000.0).ceil() as u64;
                    retry_after_s = wait_ms.div_ceil(1000).max(1);
                }
                let answer = Event::Answer {
                    sent: t,
                    ok,
                    retry_after_s,
                };
                queue.push(Reverse((t + 2, w, answer)));
            }
            Event::Answer {
                sent,
                ok,
                retry_after_s,
            } => {
                let value = retry_after_s.to_string();
                let headers = [("retry-after", value.as_str())];
                let response = if ok {
                    Response::new(200, &[], b"ok")
                } else {
                    Response::new(429, &headers, b"")
                };
                let c = classify(&response, &Request::new("POST"), 0, &rules);
                pacer.record_sent(&c, sent, t);
                if ok {
                    done += 1;
                    holding[w] = false;
                    end = t;
                    queue.push(Reverse((t, w, Event::Ask)));
                } else {
                    throttled += 1;
                    queue.push(Reverse((t + retry_after_s * 1000, w, Event::Ask)));
                }
            }
        }
    }
    let floor = if drop { 14.0 } else { 9.8 };
    let wall = end as f64 / 1000.0;
    println!(
        "{} scale={} beta={}: wall {wall:.2} s = {:.2} x floor, {requests} requests, {throttled} 429s ({:.1}%), {done} done",
        if drop { "drop" } else { "bucket" },
        config.scale,
        config.beta,
        wall / floor,
        throttled as f64 * 100.0 / requests as f64
    );
    Ok(())
}
