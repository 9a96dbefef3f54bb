//! The batch runner against the fake API on loopback.
//!
//! (a) Fault-free server: the runner's throughput (files/s) against a plain reqwest loop with the
//!     same concurrency that POSTs each file and writes the body (target: within 5% when both do
//!     the same work), plus what durability costs (fsync of outputs and ledger).
//! (b) Faulty server (default fates, a rate limit): wall time, requests, 429s and duplicates of
//!     the runner against naive retry loops (retry at once / after a fixed 100 ms on any error).
//! (c) Real rate limits (issue 6): 1,000 files, 10 in flight, 2 ms latency, 3% permanent and 2%
//!     transient failures, against `serve` with (1) a token bucket of 100/s, burst 20, whole-second
//!     `Retry-After`, no headers; (2) fixed 1-s windows of 100 with `X-RateLimit-*` headers; (3) a
//!     sliding-window log of 500 in any rolling 5 s; (4) a bucket of 100/s that falls to 30/s
//!     from 2 s to 8 s. Wall time as a ratio of the floor
//!     (what the limit allows at best), 429s, requests, lost files and duplicates, for the runner
//!     and for a seed-style naive loop (each task sleeps its own `Retry-After`, the others go
//!     on). Targets: wall ≤ 1.25 × floor, 429s ≤ 2% of requests, 0 lost, 0 converted twice.
//!
//! Run: `cargo bench -p http-triage --features cli --bench batch` (about two minutes and a half).
//! `BATCH_BENCH_FILES=N` changes the number of files of (a) and (b); `BATCH_BENCH_PART=a` (or
//! `b`, `c`) runs one part; `BATCH_BENCH_REPS=N` repeats each run of (c) (default 1).

use http_triage::batch::{Batch, BatchConfig, Durability, Item};
use http_triage::client::{Client, ClientConfig};
use http_triage::serve::{RateChange, RateHeaders, RateLimiter, ServeConfig, Server, Stats};
use http_triage::RetryPolicy;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const CONCURRENCY: usize = 10;

fn files(n: usize, salt: u64) -> Vec<(String, Arc<[u8]>)> {
    (0..n)
        .map(|i| {
            let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt;
            let mut body = format!("bench {salt} file {i}\n").into_bytes();
            for _ in 0..(256 + i % 512) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                body.extend_from_slice(&x.to_le_bytes());
            }
            (format!("d{}/f{i:05}.png", i % 10), body.into())
        })
        .collect()
}

static SCRATCH: AtomicU64 = AtomicU64::new(0);

/// A scratch folder on the same disk as the target dir (not a tmpfs), so fsync costs are real.
fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let p = base.join(format!(
        "bench-batch-{name}-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&p);
    p
}

struct Run {
    secs: f64,
    done: usize,
    stats: Stats,
}

impl Run {
    fn line(&self, what: &str, n: usize) {
        println!(
            "  {what:<44} {:>7.2}s {:>8.0} files/s  done {:>5}/{n}  requests {:>6}  429s {:>6}  duplicates {}",
            self.secs,
            self.done as f64 / self.secs,
            self.done,
            self.stats.requests,
            self.stats.rate_limited,
            self.stats.duplicate_conversions
        );
    }
}

fn client_config() -> ClientConfig {
    ClientConfig::default()
        .with_policy(
            RetryPolicy::default()
                .with_max_attempts(6)
                .with_base_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_secs(1)),
        )
        .with_attempt_timeout(Duration::from_secs(2))
}

async fn runner(
    serve: &ServeConfig,
    files: &[(String, Arc<[u8]>)],
    durability: Durability,
) -> Res<Run> {
    let server = Server::start(serve.clone()).await?;
    let dir = scratch("runner");
    let out = dir.join("out");
    let mut config = BatchConfig::new(server.convert_url("jpg").parse()?, dir.join("state"));
    config.headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", serve.api_key))?,
    );
    config.concurrency = CONCURRENCY;
    config.durability = durability;
    let items: Vec<Item> = files
        .iter()
        .map(|(id, b)| {
            Item::bytes(
                id.clone(),
                Arc::clone(b),
                Some(out.join(id).with_extension("jpg")),
            )
        })
        .collect();
    let batch = Batch::new(Client::new(client_config())?, config)?;
    let t0 = Instant::now();
    let s = batch.run(items, |_| {}).await?;
    let secs = t0.elapsed().as_secs_f64();
    let stats = server.stats();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        secs,
        done: s.progress.done,
        stats,
    })
}

#[derive(Clone, Copy)]
enum Naive {
    /// Send once; no retry.
    Once,
    /// Send once, with an Idempotency-Key (what the server does with keys costs this much).
    OnceWithKey,
    /// Through `http_triage::client::Client::execute` (the driver without the runner).
    Driver,
    /// Retry at once on any error, up to 6 attempts.
    Immediately,
    /// Sleep 100 ms after any error, up to 6 attempts.
    FixedSleep,
}

/// The plain loop: `CONCURRENCY` tasks pulling from a shared index, POST, write the body
/// (`std::fs::write` into place, no temp file, no fsync, no ledger).
async fn plain(serve: &ServeConfig, files: &[(String, Arc<[u8]>)], mode: Naive) -> Res<Run> {
    let server = Server::start(serve.clone()).await?;
    let dir = scratch("plain");
    let out = Arc::new(dir.join("out"));
    let http = reqwest::Client::builder().build()?;
    let url: reqwest::Url = server.convert_url("jpg").parse()?;
    let auth = format!("Bearer {}", serve.api_key);
    let files: Arc<Vec<(String, Arc<[u8]>)>> = Arc::new(files.to_vec());
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let driver = Client::new(client_config())?;
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let driver = driver.clone();
        let (http, url, auth, files, next, done, out) = (
            http.clone(),
            url.clone(),
            auth.clone(),
            Arc::clone(&files),
            Arc::clone(&next),
            Arc::clone(&done),
            Arc::clone(&out),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((id, bytes)) = files.get(i) else {
                    break;
                };
                if matches!(mode, Naive::Driver) {
                    let Ok(req) = driver
                        .http()
                        .post(url.clone())
                        .header(AUTHORIZATION, &auth)
                        .body(bytes.to_vec())
                        .build()
                    else {
                        continue;
                    };
                    let key = format!("{:032x}", i);
                    let opts = http_triage::client::CallOptions::new().with_idempotency_key(key);
                    if let Ok(s) = driver.execute(req, opts).await {
                        let p = out.join(id).with_extension("jpg");
                        if let Some(d) = p.parent() {
                            let _ = std::fs::create_dir_all(d);
                        }
                        if std::fs::write(&p, &s.body).is_ok() {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    continue;
                }
                let attempts = if matches!(mode, Naive::Once | Naive::OnceWithKey) {
                    1
                } else {
                    6
                };
                for _ in 0..attempts {
                    let mut rb = http
                        .post(url.clone())
                        .header(AUTHORIZATION, &auth)
                        .body(bytes.to_vec())
                        .timeout(Duration::from_secs(2));
                    if matches!(mode, Naive::OnceWithKey) {
                        rb = rb.header("Idempotency-Key", format!("{:032x}", i));
                    }
                    let r = rb.send().await;
                    let ok = match r {
                        Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                            Ok(body) => {
                                let p = out.join(id).with_extension("jpg");
                                if let Some(d) = p.parent() {
                                    let _ = std::fs::create_dir_all(d);
                                }
                                std::fs::write(&p, &body).is_ok()
                            }
                            Err(_) => false,
                        },
                        Ok(resp) => {
                            let _ = resp.bytes().await;
                            false
                        }
                        Err(_) => false,
                    };
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    if matches!(mode, Naive::FixedSleep) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let secs = t0.elapsed().as_secs_f64();
    let stats = server.stats();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        secs,
        done: done.load(Ordering::Relaxed) as usize,
        stats,
    })
}

fn main() -> Res<()> {
    let n: usize = std::env::var("BATCH_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // `BATCH_BENCH_PART=a` or `b` runs one part only.
    let part = std::env::var("BATCH_BENCH_PART").unwrap_or_default();
    let (run_a, run_b, run_c) = (
        part.is_empty() || part == "a",
        part.is_empty() || part == "b",
        part.is_empty() || part == "c",
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let none = Durability {
            sync_outputs: false,
            sync_ledger: false,
        };
        let ledger_only = Durability {
            sync_outputs: false,
            sync_ledger: true,
        };
        let latencies: &[u64] = if run_a { &[0, 20] } else { &[] };
        for &latency in latencies {
            let clean = ServeConfig {
                permanent_rate: 0.0,
                transient_rate: 0.0,
                rate_limit_per_sec: None,
                latency_ms: latency,
                ..ServeConfig::default()
            };
            let f = files(n, latency);
            println!("(a) fault-free server, {n} files of 2-6 KiB, concurrency {CONCURRENCY}, server latency {latency} ms");
            // Warm up (connections, page cache), then alternate to spread the machine's noise
            // evenly, and keep the best of 3 of each.
            let _ = plain(&clean, &f[..n.min(200)], Naive::Once).await?;
            let mut best = [f64::MAX; 4];
            let names = [
                "plain reqwest loop (POST, write; no fsync)",
                "plain loop + Idempotency-Key header",
                "Client::execute loop (the driver alone)",
                "runner, fsync off (driver + ledger + rename)",
            ];
            for round in 0..3 {
                let runs = [
                    plain(&clean, &f, Naive::Once).await?,
                    plain(&clean, &f, Naive::OnceWithKey).await?,
                    plain(&clean, &f, Naive::Driver).await?,
                    runner(&clean, &f, none).await?,
                ];
                for (i, r) in runs.iter().enumerate() {
                    if round == 0 {
                        r.line(names[i], n);
                    }
                    best[i] = best[i].min(r.secs);
                }
            }
            let l = runner(&clean, &f, ledger_only).await?;
            l.line("runner, ledger fsync only (group commit)", n);
            let full = runner(&clean, &f, Durability::default()).await?;
            full.line("runner, full durability (default)", n);
            println!("  best of 3 (files/s):");
            for (i, name) in names.iter().enumerate() {
                println!(
                    "    {name:<46} {:>7.0}  ({:+.1}% vs plain)",
                    n as f64 / best[i],
                    (best[0] / best[i] - 1.0) * 100.0
                );
            }
            println!(
                "  runner vs the driver alone: {:+.1}%; durability: ledger fsync {:+.1}%, outputs + dir fsync on top {:+.1}% ({:.2} ms per file in all)",
                (best[2] / best[3] - 1.0) * 100.0,
                (best[3] / l.secs - 1.0) * 100.0,
                (l.secs / full.secs - 1.0) * 100.0,
                (full.secs - best[3]) * 1000.0 / n as f64
            );
        }

        if run_c {
            limits().await?;
        }
        if !run_b {
            return Ok(());
        }
        let faulty = ServeConfig {
            rate_limit_per_sec: Some(200),
            hang_ms: 500,
            latency_ms: 5,
            ..ServeConfig::default()
        };
        let nf = n / 2;
        let f = files(nf, 99);
        println!(
            "(b) faulty server: {nf} files, 3% permanent, 5% transient (500/502/503/504/drop/500 ms hang), 200 req/s limit, 5 ms latency, concurrency {CONCURRENCY}"
        );
        let good = f
            .iter()
            .filter(|(_, b)| !matches!(http_triage::serve::fate_of(b, &faulty), http_triage::serve::Fate::Permanent(_)))
            .count();
        println!("  convertible files: {good}");
        runner(&faulty, &f, Durability::default()).await?.line("runner (default durability)", nf);
        plain(&faulty, &f, Naive::Immediately).await?.line("naive: retry at once, 6 attempts", nf);
        plain(&faulty, &f, Naive::FixedSleep).await?.line("naive: sleep 100 ms, 6 attempts", nf);
        Ok(())
    })
}

/// One profile of part (c): the server and the best wall time its limit allows for `n`
/// requests (the fewest the files need: see `limits`).
struct Profile {
    name: &'static str,
    serve: ServeConfig,
    floor: fn(usize) -> f64,
}

fn profiles() -> Vec<Profile> {
    let base = ServeConfig {
        permanent_rate: 0.03,
        transient_rate: 0.02,
        rate_limit_per_sec: Some(100),
        burst: Some(20),
        latency_ms: 2,
        hang_ms: 200,
        ..ServeConfig::default()
    };
    vec![
        Profile {
            name: "token bucket 100/s, burst 20, whole-second Retry-After, no headers",
            serve: base.clone(),
            // The burst at once, then 100/s.
            floor: |n| n.saturating_sub(20) as f64 / 100.0,
        },
        Profile {
            name: "fixed 1-s windows of 100, X-RateLimit-* headers",
            serve: ServeConfig {
                limiter: RateLimiter::Window,
                rate_headers: RateHeaders::XRateLimit,
                ..base.clone()
            },
            // The first window at once, then 100 a window.
            floor: |n| n.saturating_sub(100) as f64 / 100.0,
        },
        Profile {
            name: "sliding-window log of 500 in any rolling 5 s, whole-second Retry-After",
            serve: ServeConfig {
                limiter: RateLimiter::Sliding,
                window_secs: 5,
                ..base.clone()
            },
            // 500 at once, then 500 more as each window ages out.
            floor: |n| (n.saturating_sub(1) / 500) as f64 * 5.0,
        },
        Profile {
            name: "token bucket 100/s (burst 20) falling to 30/s from 2 s to 8 s",
            serve: ServeConfig {
                rate_changes: vec![
                    RateChange {
                        at: Duration::from_secs(2),
                        rate: 30,
                    },
                    RateChange {
                        at: Duration::from_secs(8),
                        rate: 100,
                    },
                ],
                ..base
            },
            // 20 + 200 by 2 s, 180 more by 8 s, then 100/s.
            floor: |n| {
                let n = n as f64;
                if n <= 220.0 {
                    (n - 20.0).max(0.0) / 100.0
                } else if n <= 400.0 {
                    2.0 + (n - 220.0) / 30.0
                } else {
                    8.0 + (n - 400.0) / 100.0
                }
            },
        },
    ]
}

/// Part (c): the runner and a seed-style naive loop against real rate limits.
async fn limits() -> Res<()> {
    let n: usize = std::env::var("BATCH_BENCH_LIMIT_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let reps: usize = std::env::var("BATCH_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let f = files(n, 6);
    println!("(c) real rate limits: {n} files, concurrency {CONCURRENCY}, 2 ms latency, 3% permanent, 2% transient");
    for p in profiles() {
        // The fewest requests the server must answer: one per file, and one more for each
        // transient failure before a file converts.
        let needed: usize = f
            .iter()
            .map(|(_, b)| match http_triage::serve::fate_of(b, &p.serve) {
                http_triage::serve::Fate::Transient { failures, .. } => 1 + failures as usize,
                _ => 1,
            })
            .sum();
        let floor = (p.floor)(needed);
        let good = f
            .iter()
            .filter(|(_, b)| {
                !matches!(
                    http_triage::serve::fate_of(b, &p.serve),
                    http_triage::serve::Fate::Permanent(_)
                )
            })
            .count();
        println!(
            "  {} (floor {floor:.1} s for {needed} requests, {good} convertible)",
            p.name
        );
        for _ in 0..reps {
            let r = runner(&p.serve, &f, Durability::default()).await?;
            limit_line("runner", &r, floor, good);
            let r = seed_loop(&p.serve, &f).await?;
            limit_line("seed-style naive loop", &r, floor, good);
        }
    }
    Ok(())
}

fn limit_line(what: &str, r: &Run, floor: f64, good: usize) {
    let requests = r.stats.requests.max(1);
    println!(
        "    {what:<22} wall {:>6.2} s = {:.2} × floor  requests {:>5}  429s {:>4} ({:.1}%)  lost {}  converted twice {}",
        r.secs,
        r.secs / floor,
        r.stats.requests,
        r.stats.rate_limited,
        r.stats.rate_limited as f64 * 100.0 / requests as f64,
        good.saturating_sub(r.done),
        r.stats.duplicate_conversions
    );
}

/// The seed's naive pipeline: `CONCURRENCY` tasks; each sends its file with an Idempotency-Key,
/// sleeps its own `Retry-After` on a 429 (1 s without one), 0.5 s after a 5xx or a broken
/// connection, and gives a file up after 6 attempts or on a 4xx. Nothing is shared.
async fn seed_loop(serve: &ServeConfig, files: &[(String, Arc<[u8]>)]) -> Res<Run> {
    let server = Server::start(serve.clone()).await?;
    let dir = scratch("seed");
    let out = Arc::new(dir.join("out"));
    let http = reqwest::Client::builder().build()?;
    let url: reqwest::Url = server.convert_url("jpg").parse()?;
    let auth = format!("Bearer {}", serve.api_key);
    let files: Arc<Vec<(String, Arc<[u8]>)>> = Arc::new(files.to_vec());
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (http, url, auth, files, next, done, out) = (
            http.clone(),
            url.clone(),
            auth.clone(),
            Arc::clone(&files),
            Arc::clone(&next),
            Arc::clone(&done),
            Arc::clone(&out),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((id, bytes)) = files.get(i) else {
                    break;
                };
                let mut attempts = 0;
                while attempts < 6 {
                    let r = http
                        .post(url.clone())
                        .header(AUTHORIZATION, &auth)
                        .header("Idempotency-Key", format!("{i:032x}"))
                        .body(bytes.to_vec())
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await;
                    let wait = match r {
                        Ok(resp) if resp.status().is_success() => {
                            if let Ok(body) = resp.bytes().await {
                                let p = out.join(id).with_extension("jpg");
                                if let Some(d) = p.parent() {
                                    let _ = std::fs::create_dir_all(d);
                                }
                                if std::fs::write(&p, &body).is_ok() {
                                    done.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            break;
                        }
                        Ok(resp) if resp.status().as_u16() == 429 => {
                            // The seed waits what it is told and does not count it.
                            let secs = resp
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.trim().parse::<u64>().ok())
                                .unwrap_or(1);
                            let _ = resp.bytes().await;
                            Duration::from_secs(secs)
                        }
                        Ok(resp) if resp.status().is_client_error() => break,
                        Ok(resp) => {
                            let _ = resp.bytes().await;
                            attempts += 1;
                            Duration::from_millis(500)
                        }
                        Err(_) => {
                            attempts += 1;
                            Duration::from_millis(500)
                        }
                    };
                    tokio::time::sleep(wait).await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let secs = t0.elapsed().as_secs_f64();
    let stats = server.stats();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        secs,
        done: done.load(Ordering::Relaxed) as usize,
        stats,
    })
}
