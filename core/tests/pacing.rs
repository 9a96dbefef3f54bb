#![cfg(feature = "cli")]
//! The pacer end to end: the batch runner against `serve` on loopback with realistic limiters
//! (a token bucket answering whole-second `Retry-After`s, no rate-limit headers; a limit that
//! falls and rises). Bounds are generous: these are behaviour tests, not benchmarks (the
//! timings live in `benches/batch.rs`, part c).

use http_triage::batch::{Batch, BatchConfig, Item, Progress};
use http_triage::client::{Client, ClientConfig};
use http_triage::serve::{RateChange, ServeConfig, Server};
use http_triage::RetryPolicy;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn std::error::Error>>;

static SCRATCH: AtomicU64 = AtomicU64::new(0);

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "http-triage-pacing-{name}-{}-{}",
            std::process::id(),
            SCRATCH.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn items(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let body = format!("pacing file {i}\n").repeat(1 + i % 7).into_bytes();
            Item::bytes(format!("f{i:04}.png"), Arc::<[u8]>::from(body), None)
        })
        .collect()
}

/// One point of the progress: seconds since the start, items finished, 429s met, paced rate.
#[derive(Debug, Clone, Copy)]
struct Point {
    secs: f64,
    finished: usize,
    throttled: u64,
    paced: Option<f64>,
}

async fn run(
    serve: ServeConfig,
    n: usize,
    name: &str,
) -> Result<(Vec<Point>, Progress, u64, u64), Box<dyn std::error::Error>> {
    let server = Server::start(serve.clone()).await?;
    let dir = Scratch::new(name);
    let mut config = BatchConfig::new(server.convert_url("jpg").parse()?, dir.0.join("state"));
    config.headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", serve.api_key))?,
    );
    config.concurrency = 10;
    let client = Client::new(
        ClientConfig::default().with_policy(RetryPolicy::default().with_max_attempts(8)),
    )?;
    let batch = Batch::new(client, config)?;
    let points = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&points);
    let t0 = Instant::now();
    let summary = batch
        .run(items(n), move |p| {
            if let Ok(mut v) = sink.lock() {
                v.push(Point {
                    secs: t0.elapsed().as_secs_f64(),
                    finished: p.finished,
                    throttled: p.throttled,
                    paced: p.paced_rate,
                });
            }
        })
        .await?;
    let stats = server.stats();
    server.shutdown().await;
    let points = points.lock().map(|v| v.clone()).unwrap_or_default();
    Ok((
        points,
        summary.progress,
        stats.rate_limited,
        stats.duplicate_conversions,
    ))
}

fn bucket(rate: u32) -> ServeConfig {
    ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(rate),
        burst: Some(20),
        latency_ms: 2,
        ..ServeConfig::default()
    }
}

/// A token bucket of 100/s (burst 20) with whole-second `Retry-After` and no headers: after
/// learning the rate in the first half, the second half meets only a handful of 429s. (The
/// rate gate met about one 429 every 9 requests here: every waiter left together when it
/// reopened.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_half_meets_few_429s() -> TestResult {
    let n = 600;
    let (points, p, server_429s, twice) = run(bucket(100), n, "bucket").await?;
    assert_eq!(p.done, n, "every file converted: {p:?}");
    assert_eq!(twice, 0, "nothing converted twice");
    assert_eq!(
        p.throttled, server_429s,
        "the batch counts every 429 the server sent"
    );
    let half = points
        .iter()
        .find(|pt| pt.finished >= n / 2)
        .map_or(0, |pt| pt.throttled);
    let second_half = p.throttled - half;
    eprintln!(
        "429s: {} in all, {second_half} in the second half; {} requests",
        p.throttled, p.requests
    );
    assert!(
        second_half <= 12,
        "the second half met {second_half} 429s (first half {half})"
    );
    assert!(
        points.iter().any(|pt| pt.paced.is_some()),
        "the progress shows a paced rate once the host pushed back"
    );
    Ok(())
}

/// The limit falls from 100/s to 30/s at 2 s and comes back at 5 s: the paced rate follows it
/// down (sends held near 30/s) and back up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_rate_follows_the_limit_both_ways() -> TestResult {
    let n = 650;
    let serve = ServeConfig {
        rate_changes: vec![
            RateChange {
                at: Duration::from_secs(2),
                rate: 30,
            },
            RateChange {
                at: Duration::from_secs(5),
                rate: 100,
            },
        ],
        ..bucket(100)
    };
    let (points, p, _, twice) = run(serve, n, "drop").await?;
    assert_eq!(p.done, n, "every file converted: {p:?}");
    assert_eq!(twice, 0);
    let paced_in = |from: f64, to: f64| {
        points
            .iter()
            .filter(|pt| pt.secs >= from && pt.secs < to)
            .filter_map(|pt| pt.paced)
            .collect::<Vec<f64>>()
    };
    let done_at = |secs: f64| {
        points
            .iter()
            .take_while(|pt| pt.secs <= secs)
            .last()
            .map_or(0, |pt| pt.finished)
    };
    // Down: while the limit is 30/s, the pace is well under the old 100/s.
    let low = paced_in(2.5, 5.0);
    let low_min = low.iter().copied().fold(f64::MAX, f64::min);
    assert!(low_min <= 40.0, "paced at {low:?} while the limit was 30/s");
    let slow = (done_at(5.0) - done_at(3.0)) as f64 / 2.0;
    assert!(slow <= 45.0, "{slow} files/s went through a 30/s limit");
    // Up: once the limit is back, the pace climbs well past it.
    let end = points.last().map_or(0.0, |pt| pt.secs);
    let high = paced_in(6.5, end + 1.0);
    let high_max = high.iter().copied().fold(0.0, f64::max);
    assert!(
        high_max >= 60.0,
        "paced at most {high_max} req/s after the limit came back"
    );
    let fast = (n - done_at(6.5)) as f64 / (end - 6.5).max(0.001);
    assert!(
        fast >= 50.0,
        "only {fast} files/s after the limit came back"
    );
    eprintln!("paced: down to {low_min:.0} req/s while limited, up to {high_max:.0} after; {slow:.0} then {fast:.0} files/s; {} 429s, {} requests", p.throttled, p.requests);
    Ok(())
}
