#![cfg(feature = "serve")]
//! Integration tests of the fault-injecting fake API against the real server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use http_triage::serve::{
    converted, fate_of, parse_rate_changes, ConvertedReader, ErrorDialect, Fate, PermanentKind,
    RateChange, RateHeaders, RateLimiter, ServeConfig, Server, Stats, TransientKind,
};
use serde_json::Value;
use std::io::Read;
use std::time::Duration;

const KEY: &str = "demo-key";

/// A quiet config for tests: no rate limit, short hangs.
fn cfg() -> ServeConfig {
    ServeConfig {
        rate_limit_per_sec: None,
        hang_ms: 150,
        ..ServeConfig::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The first generated input whose fate satisfies `want`.
fn find(config: &ServeConfig, tag: &str, want: impl Fn(Fate) -> bool) -> Vec<u8> {
    for i in 0..1_000_000u32 {
        let b = format!("{tag} file #{i}\n").into_bytes();
        if want(fate_of(&b, config)) {
            return b;
        }
    }
    panic!("no input found");
}

async fn post(
    c: &reqwest::Client,
    s: &Server,
    body: &[u8],
    idem: Option<&str>,
) -> reqwest::Result<reqwest::Response> {
    let mut r = c
        .post(format!("{}/v1/convert?target=pdf", s.url()))
        .header("Authorization", format!("Bearer {KEY}"))
        .body(body.to_vec());
    if let Some(k) = idem {
        r = r.header("Idempotency-Key", k);
    }
    r.send().await
}

async fn json_of(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let ct = header(&r, "content-type").unwrap_or_default();
    let bytes = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ct, v)
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The error code in a body of any dialect.
fn code_of(dialect: ErrorDialect, v: &Value) -> Option<String> {
    let c = match dialect {
        ErrorDialect::Nested => &v["error"]["code"],
        ErrorDialect::Flat | ErrorDialect::Minimal => &v["error_code"],
        _ => &v["code"],
    };
    c.as_str().map(str::to_owned)
}

fn total_responses(s: &Stats) -> u64 {
    s.by_status.values().sum()
}

#[test]
fn fates_are_deterministic_and_hit_their_rates() {
    let config = ServeConfig::default();
    let (mut perm, mut trans) = (0, 0);
    let mut kinds = std::collections::HashSet::new();
    let mut tkinds = std::collections::HashSet::new();
    for i in 0..2000 {
        let b = format!("input {i}").into_bytes();
        let f = fate_of(&b, &config);
        assert_eq!(f, fate_of(&b, &config));
        match f {
            Fate::Ok => {}
            Fate::Permanent(k) => {
                perm += 1;
                kinds.insert(k);
            }
            Fate::Transient { failures, kind } => {
                assert!((1..=2).contains(&failures));
                trans += 1;
                tkinds.insert(kind);
            }
            _ => unreachable!(),
        }
    }
    // 3% and 5% of 2,000: 60 and 100, with room for chance.
    assert!((35..=90).contains(&perm), "permanent {perm}");
    assert!((65..=140).contains(&trans), "transient {trans}");
    assert!(kinds.len() >= 4, "{kinds:?}");
    assert!(tkinds.len() >= 5, "{tkinds:?}");

    // Every kind shows up with high rates.
    let high = ServeConfig {
        permanent_rate: 0.5,
        transient_rate: 0.5,
        ..ServeConfig::default()
    };
    let mut all = std::collections::HashSet::new();
    for i in 0..2000 {
        all.insert(fate_of(format!("x{i}").as_bytes(), &high));
    }
    for k in PermanentKind::ALL {
        assert!(all.contains(&Fate::Permanent(k)), "{k:?}");
    }
    for k in TransientKind::ALL {
        for failures in 1..=2 {
            assert!(
                all.contains(&Fate::Transient { failures, kind: k }),
                "{k:?}"
            );
        }
    }
    assert!(!all.contains(&Fate::Ok));

    // Another seed moves fates; zero rates mean every file converts.
    let other = ServeConfig {
        seed: 7,
        ..high.clone()
    };
    let moved = (0..200)
        .filter(|i| {
            let b = format!("x{i}");
            fate_of(b.as_bytes(), &high) != fate_of(b.as_bytes(), &other)
        })
        .count();
    assert!(moved > 100, "{moved}");
    let none = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        ..ServeConfig::default()
    };
    assert!((0..500).all(|i| fate_of(format!("{i}").as_bytes(), &none) == Fate::Ok));

    // The converted output is deterministic and carries the input.
    let out = converted(b"hello", "pdf");
    assert_eq!(out, converted(b"hello", "pdf"));
    assert!(out.ends_with(b"hello"));
    assert_ne!(out, converted(b"hello", "png"));
}

#[test]
fn config_validation() {
    assert!(ServeConfig::default().validate().is_ok());
    for (p, t) in [(1.5, 0.0), (-0.1, 0.0), (0.0, f64::NAN), (0.6, 0.6)] {
        let c = ServeConfig {
            permanent_rate: p,
            transient_rate: t,
            ..ServeConfig::default()
        };
        assert!(c.validate().is_err(), "{p} {t}");
    }
    for d in ErrorDialect::ALL {
        assert_eq!(d.as_str().parse::<ErrorDialect>().unwrap(), d);
    }
    assert!("bogus".parse::<ErrorDialect>().is_err());
    assert!(!format!("{:?}", ServeConfig::default()).contains("demo-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_on_bad_config() {
    let bad = ServeConfig {
        permanent_rate: 2.0,
        ..cfg()
    };
    let e = Server::start(bad).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_kinds_in_every_dialect() {
    let c = client();
    for dialect in ErrorDialect::ALL {
        let config = ServeConfig {
            dialect,
            permanent_rate: 1.0,
            transient_rate: 0.0,
            ..cfg()
        };
        let s = Server::start(config.clone()).await.unwrap();
        for kind in PermanentKind::ALL {
            let input = find(&config, "perm", |f| f == Fate::Permanent(kind));
            // Twice: a permanent fate does not change.
            for _ in 0..2 {
                let r = post(&c, &s, &input, None).await.unwrap();
                let rid = header(&r, "x-request-id").unwrap();
                assert!(rid.starts_with("req_"));
                let (status, ct, v) = json_of(r).await;
                assert_eq!(status, kind.status(), "{dialect} {kind:?}");
                assert_eq!(code_of(dialect, &v).as_deref(), Some(kind.code()), "{v}");
                match dialect {
                    ErrorDialect::Nested => {
                        assert_eq!(ct, "application/json");
                        assert!(v["error"]["message"].is_string());
                    }
                    ErrorDialect::Flat => {
                        assert_eq!(v["retryable"], Value::Bool(false));
                        assert_eq!(v["request_id"].as_str(), Some(rid.as_str()));
                        assert!(v["error"].is_string() && v["detail"].is_string());
                    }
                    ErrorDialect::Minimal => {
                        assert!(v["error"].is_string());
                        assert_eq!(v.as_object().unwrap().len(), 2);
                    }
                    _ => {
                        assert_eq!(ct, "application/problem+json");
                        assert_eq!(v["status"].as_u64(), Some(u64::from(kind.status())));
                        assert!(v["type"].is_string() && v["title"].is_string());
                    }
                }
            }
        }
        let st = s.stats();
        assert_eq!(st.requests, 10);
        assert_eq!(st.conversions, 0);
        assert_eq!(st.by_status.get(&422), Some(&6));
        assert_eq!(st.by_status.get(&413), Some(&2));
        assert_eq!(st.by_status.get(&400), Some(&2));
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_files_fail_exactly_then_convert() {
    let config = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 1.0,
        dialect: ErrorDialect::Flat,
        ..cfg()
    };
    let s = Server::start(config.clone()).await.unwrap();
    let c = client();
    let mut expected_ok = 0;
    let mut expected_dropped = 0;
    let mut expected_hangs = 0;
    for kind in TransientKind::ALL {
        for failures in 1..=2u32 {
            let input = find(&config, "trans", |f| {
                f == Fate::Transient { failures, kind }
            });
            for attempt in 0..failures {
                let started = std::time::Instant::now();
                let r = post(&c, &s, &input, None).await;
                match kind {
                    TransientKind::Drop => {
                        assert!(r.is_err(), "{kind:?} attempt {attempt}");
                        expected_dropped += 1;
                        continue;
                    }
                    TransientKind::Hang => {
                        expected_hangs += 1;
                        assert!(started.elapsed() >= Duration::from_millis(140));
                    }
                    _ => {}
                }
                let r = r.unwrap();
                let status = r.status().as_u16();
                assert_eq!(Some(status), kind.status(), "{kind:?}");
                assert!(header(&r, "x-request-id").is_some());
                let retry_after = header(&r, "retry-after");
                let ct = header(&r, "content-type").unwrap();
                let body = r.bytes().await.unwrap();
                match kind {
                    TransientKind::Status502Html => {
                        assert!(ct.starts_with("text/html"));
                        assert!(String::from_utf8_lossy(&body)
                            .contains("<title>502 Bad Gateway</title>"));
                    }
                    _ => {
                        let v: Value = serde_json::from_slice(&body).unwrap();
                        assert_eq!(v["retryable"], Value::Bool(true));
                        let want = match kind {
                            TransientKind::Status500 => "internal_error",
                            TransientKind::Status503 => "service_unavailable",
                            _ => "gateway_timeout",
                        };
                        assert_eq!(v["error_code"].as_str(), Some(want));
                        if kind == TransientKind::Status500 {
                            assert!(v["reference_id"].is_string());
                        }
                        if kind == TransientKind::Status503 {
                            assert_eq!(retry_after.as_deref(), Some("1"));
                        }
                    }
                }
            }
            // Then it converts, every time.
            for _ in 0..2 {
                let r = post(&c, &s, &input, None).await.unwrap();
                assert_eq!(r.status().as_u16(), 200, "{kind:?} x{failures}");
                assert_eq!(
                    header(&r, "content-type").as_deref(),
                    Some("application/octet-stream")
                );
                assert_eq!(r.bytes().await.unwrap().to_vec(), converted(&input, "pdf"));
                expected_ok += 1;
            }
        }
    }
    let st = s.stats();
    assert_eq!(st.dropped, expected_dropped);
    assert_eq!(st.hangs, expected_hangs);
    assert_eq!(st.conversions, expected_ok);
    // Each of the 6 kinds converted twice (once per failure count) without keys: duplicates.
    assert_eq!(st.duplicate_conversions, expected_ok / 2);
    assert_eq!(st.requests, total_responses(&st) + st.dropped);
    assert_eq!(st.by_status.get(&504), Some(&6)); // 3 for 504, 3 for hangs
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_replay_in_flight_and_reuse() {
    let config = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        latency_ms: 400,
        ..cfg()
    };
    let s = Server::start(config).await.unwrap();
    let c = client();
    let a = b"file A".to_vec();
    let first = {
        let (c, url, a) = (c.clone(), s.url(), a.clone());
        tokio::spawn(async move {
            c.post(format!("{url}/v1/convert?target=pdf"))
                .header("Authorization", format!("Bearer {KEY}"))
                .header("Idempotency-Key", "k1")
                .body(a)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Same key while in flight: 409 + Retry-After: 1.
    let r = post(&c, &s, &a, Some("k1")).await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("1"));
    let (_, _, v) = json_of(r).await;
    assert_eq!(v["error"]["code"].as_str(), Some("bad_request"));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("in flight"));

    let r = first.await.unwrap().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(header(&r, "idempotent-replayed").is_none());
    let rid1 = header(&r, "x-request-id").unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), converted(&a, "pdf"));

    // Same key, same payload, after completion: replay.
    let r = post(&c, &s, &a, Some("k1")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(&r, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(header(&r, "original-request-id"), Some(rid1));
    assert_eq!(r.bytes().await.unwrap().to_vec(), converted(&a, "pdf"));

    // Same key, another payload: 422.
    let r = post(&c, &s, b"file B", Some("k1")).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let (_, _, v) = json_of(r).await;
    assert_eq!(v["error"]["code"].as_str(), Some("idempotency_key_reuse"));

    // Same key, same bytes, another target: another payload too.
    let r = c
        .post(format!("{}/v1/convert?target=png", s.url()))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Idempotency-Key", "k1")
        .body(a.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);

    let st = s.stats();
    assert_eq!(st.conversions, 1);
    assert_eq!(st.replays, 1);
    assert_eq!(st.in_flight_conflicts, 1);
    assert_eq!(st.idempotency_mismatches, 2);
    assert_eq!(st.duplicate_conversions, 0);

    // Another key for the same content converts again: a duplicate conversion.
    let r = post(&c, &s, &a, Some("k2")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let st = s.stats();
    assert_eq!(st.conversions, 2);
    assert_eq!(st.duplicate_conversions, 1);
    assert_eq!(st.requests, 6);
    assert_eq!(total_responses(&st), 6);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_release_the_key() {
    // A transient failure with a key does not store anything: the retry with the same key converts.
    let config = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 1.0,
        ..cfg()
    };
    let s = Server::start(config.clone()).await.unwrap();
    let c = client();
    for kind in [TransientKind::Drop, TransientKind::Status500] {
        let input = find(&config, "rel", |f| {
            f == Fate::Transient { failures: 1, kind }
        });
        let key = format!("key-{kind:?}");
        let first = post(&c, &s, &input, Some(&key)).await;
        if kind == TransientKind::Drop {
            assert!(first.is_err());
        } else {
            assert_eq!(first.unwrap().status().as_u16(), 500);
        }
        let r = post(&c, &s, &input, Some(&key)).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(header(&r, "idempotent-replayed").is_none());
        let r = post(&c, &s, &input, Some(&key)).await.unwrap();
        assert_eq!(header(&r, "idempotent-replayed").as_deref(), Some("true"));
    }
    let st = s.stats();
    assert_eq!(
        (st.conversions, st.replays, st.duplicate_conversions),
        (2, 2, 0)
    );
    assert_eq!(st.in_flight_conflicts, 0);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after() {
    // Opted in: the exact wait in `retry-after-ms` and the IETF headers.
    let config = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(5),
        retry_after_ms: true,
        rate_headers: RateHeaders::Ietf,
        dialect: ErrorDialect::Problem,
        ..cfg()
    };
    let s = Server::start(config).await.unwrap();
    let c = client();
    let mut limited = 0;
    for i in 0..20 {
        let r = post(&c, &s, format!("rl {i}").as_bytes(), None)
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => {}
            429 => {
                limited += 1;
                let ra: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
                assert!(ra >= 1);
                let ms: u64 = header(&r, "retry-after-ms").unwrap().parse().unwrap();
                assert!((1..=1000).contains(&ms), "{ms}");
                assert!(ra * 1000 >= ms);
                assert!(header(&r, "ratelimit").unwrap().contains("r=0"));
                assert!(header(&r, "ratelimit-policy").unwrap().contains("q=5"));
                let (_, ct, v) = json_of(r).await;
                assert_eq!(ct, "application/problem+json");
                assert_eq!(v["code"].as_str(), Some("rate_limited"));
                assert_eq!(v["status"].as_u64(), Some(429));
            }
            other => panic!("status {other}"),
        }
    }
    assert!(limited >= 10, "{limited}");
    let st = s.stats();
    assert_eq!(st.rate_limited, limited);
    assert_eq!(st.by_status.get(&429), Some(&limited));
    assert_eq!(st.conversions, 20 - limited);
    // Honouring retry-after-ms gets through.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = post(&c, &s, b"after the wait", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_then_429_quota_exceeded() {
    let config = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        quota: Some(3),
        dialect: ErrorDialect::Nested,
        ..cfg()
    };
    let s = Server::start(config).await.unwrap();
    let c = client();
    for i in 0..3 {
        let r = post(&c, &s, format!("q {i}").as_bytes(), Some(&format!("q{i}")))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    for i in 3..5 {
        let r = post(&c, &s, format!("q {i}").as_bytes(), None)
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429);
        assert!(header(&r, "retry-after").is_none());
        let (_, _, v) = json_of(r).await;
        assert_eq!(v["error"]["code"].as_str(), Some("quota_exceeded"));
        assert_eq!(v["error"]["details"]["limit"].as_u64(), Some(3));
        assert_eq!(v["error"]["details"]["used"].as_u64(), Some(3));
    }
    // A replay of a finished conversion is still served.
    let r = post(&c, &s, b"q 0", Some("q0")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let st = s.stats();
    assert_eq!(
        (st.conversions, st.quota_used, st.quota_rejections),
        (3, 3, 2)
    );
    assert_eq!(st.replays, 1);
    assert_eq!(st.rate_limited, 0);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_are_401() {
    let s = Server::start(ServeConfig {
        api_key: "s3cret".into(),
        dialect: ErrorDialect::Minimal,
        permanent_rate: 0.0,
        transient_rate: 0.0,
        ..cfg()
    })
    .await
    .unwrap();
    let c = client();
    let url = format!("{}/v1/convert?target=pdf", s.url());
    let attempts = [
        None,
        Some("Bearer wrong"),
        Some("Basic s3cret"),
        Some("Bearer s3cre"),
        Some("Bearer"),
    ];
    for auth in attempts {
        let mut r = c.post(&url).body("x");
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{auth:?}");
        let (_, _, v) = json_of(r).await;
        assert_eq!(v["error_code"].as_str(), Some("invalid_api_key"));
        assert!(!v.to_string().contains("s3cret"));
    }
    let ok = c
        .post(&url)
        .header("Authorization", "bearer s3cret")
        .body(b"ok file".to_vec())
        .send()
        .await
        .unwrap();
    assert_ne!(ok.status().as_u16(), 401);
    let st = s.stats();
    assert_eq!(st.auth_failures, 5);
    assert_eq!(
        st.conversions + st.by_status.get(&401).copied().unwrap_or(0),
        6
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_toggles_at_runtime() {
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        outage: true,
        ..cfg()
    })
    .await
    .unwrap();
    let c = client();
    for _ in 0..3 {
        let r = post(&c, &s, b"during outage", None).await.unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert!(header(&r, "retry-after").is_none());
        let (_, _, v) = json_of(r).await;
        assert_eq!(v["error"]["code"].as_str(), Some("service_unavailable"));
    }
    s.set_outage(false);
    let r = post(&c, &s, b"during outage", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    s.set_outage(true);
    let r = post(&c, &s, b"again", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let st = s.stats();
    assert_eq!(st.by_status.get(&503), Some(&4));
    assert_eq!(st.conversions, 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_never_panic_and_stats_endpoint_matches() {
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        max_body_bytes: 1000,
        ..cfg()
    })
    .await
    .unwrap();
    let c = client();
    let auth = format!("Bearer {KEY}");
    let bad_targets = [
        "/v1/convert",
        "/v1/convert?",
        "/v1/convert?target=",
        "/v1/convert?target=p%20df",
        "/v1/convert?target=../../etc",
        "/v1/convert?target=abcdefghijklmnopq",
        "/v1/convert?foo&&=&target",
    ];
    for path in bad_targets {
        let r = c
            .post(format!("{}{path}", s.url()))
            .header("Authorization", &auth)
            .body("data")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
        let (_, _, v) = json_of(r).await;
        assert_eq!(v["error"]["code"].as_str(), Some("bad_request"));
    }
    // Empty body, over-long key, over-large body.
    let r = post(&c, &s, b"", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = post(&c, &s, b"x", Some(&"k".repeat(300))).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = post(&c, &s, &[7u8; 5000], None).await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let (_, _, v) = json_of(r).await;
    assert_eq!(v["error"]["code"].as_str(), Some("file_too_large"));
    // Wrong method, unknown route (not counted).
    let r = c
        .get(format!("{}/v1/convert?target=pdf", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = c.get(format!("{}/nope", s.url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(header(&r, "x-request-id").is_some());

    // Garbage on a raw socket, and a connection cut mid-upload.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
        sock.write_all(b"\x00\x01GARBAGE \xff\xfe\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), sock.read_to_end(&mut buf)).await;
        let mut sock = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
        sock.write_all(
            format!("POST /v1/convert?target=pdf HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 500\r\n\r\nonly a bit").as_bytes(),
        )
        .await
        .unwrap();
        drop(sock);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let r = c.get(format!("{}/healthz", s.url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = post(&c, &s, b"still fine", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let st = s.stats();
    let served: Stats = {
        let r = c.get(format!("{}/stats", s.url())).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    };
    assert_eq!(served, st);
    assert_eq!(st.by_status.get(&400), Some(&9));
    assert_eq!(st.by_status.get(&413), Some(&1));
    assert_eq!(st.conversions, 1);
    // The cut upload was counted as a request but got no response.
    assert_eq!(st.requests, total_responses(&st) + 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients_exact_counters() {
    let config = ServeConfig {
        permanent_rate: 0.05,
        transient_rate: 0.2,
        hang_ms: 50,
        ..cfg()
    };
    let s = Server::start(config.clone()).await.unwrap();
    let c = client();
    let n = 400usize;
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(150));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (c, url, sem) = (c.clone(), s.url(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let input = format!("concurrent file {i}").into_bytes();
            for attempt in 0..5 {
                let r = c
                    .post(format!("{url}/v1/convert?target=docx"))
                    .header("Authorization", format!("Bearer {KEY}"))
                    .header("Idempotency-Key", format!("item-{i}"))
                    .body(input.clone())
                    .send()
                    .await;
                let Ok(r) = r else { continue };
                match r.status().as_u16() {
                    200 => {
                        let b = r.bytes().await.unwrap();
                        assert_eq!(b.to_vec(), converted(&input, "docx"));
                        return (input, Some(attempt));
                    }
                    400 | 413 | 422 => return (input, None),
                    _ => {}
                }
            }
            panic!("file {i} never converted");
        }));
    }
    let mut ok = 0u64;
    let mut bad = 0u64;
    for t in tasks {
        let (input, got) = t.await.unwrap();
        match fate_of(&input, &config) {
            Fate::Ok => assert_eq!(got, Some(0)),
            Fate::Permanent(_) => assert_eq!(got, None),
            Fate::Transient { failures, .. } => assert_eq!(got, Some(failures)),
            _ => unreachable!(),
        }
        if got.is_some() {
            ok += 1;
        } else {
            bad += 1;
        }
    }
    assert!(bad > 0 && ok > 300);
    let st = s.stats();
    assert_eq!(st.conversions, ok);
    assert_eq!(st.duplicate_conversions, 0);
    assert_eq!(st.replays, 0);
    assert_eq!(st.in_flight_conflicts, 0);
    assert_eq!(st.requests, total_responses(&st) + st.dropped);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_prompt_even_with_a_hang_in_flight() {
    let config = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 1.0,
        hang_ms: 20_000,
        ..cfg()
    };
    let s = Server::start(config.clone()).await.unwrap();
    let input = find(&config, "hang", |f| {
        matches!(
            f,
            Fate::Transient {
                kind: TransientKind::Hang,
                ..
            }
        )
    });
    let url = s.url();
    let hung = tokio::spawn(async move {
        client()
            .post(format!("{url}/v1/convert?target=pdf"))
            .header("Authorization", format!("Bearer {KEY}"))
            .body(input)
            .send()
            .await
    });
    // Wait for the hang to start (a loaded machine may take a while to send the request).
    let t0 = std::time::Instant::now();
    while s.stats().hangs == 0 && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.stats().hangs, 1);
    let started = std::time::Instant::now();
    s.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(hung.await.unwrap().is_err());
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    fn bin() -> Command {
        Command::new(env!("CARGO_BIN_EXE_http-triage"))
    }

    #[test]
    fn bad_flags_exit_3() {
        for args in [
            &["serve", "--permanent-rate", "1.5"][..],
            &[
                "serve",
                "--permanent-rate",
                "0.6",
                "--transient-rate",
                "0.5",
            ],
            &["serve", "--dialect", "bogus"],
            &["serve", "--port", "notaport"],
        ] {
            let out = bin().args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(3), "{args:?}");
            assert!(!out.stderr.is_empty());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_prints_its_url_and_serves() {
        let mut child = bin()
            .args([
                "serve",
                "--port",
                "0",
                "--dialect",
                "flat",
                "--rate-limit",
                "0",
                "--permanent-rate",
                "0",
                "--transient-rate",
                "0",
            ])
            .env("HTTP_TRIAGE_SERVE_KEY", "very-secret-key")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"));
        let c = client();
        let r = c.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let r = c
            .post(format!("{url}/v1/convert?target=pdf"))
            .header("Authorization", "Bearer wrong")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let (_, _, v) = json_of(r).await;
        assert_eq!(v["error_code"].as_str(), Some("invalid_api_key"));
        let r = c
            .post(format!("{url}/v1/convert?target=pdf"))
            .header("Authorization", "Bearer very-secret-key")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_ne!(r.status().as_u16(), 401);
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!rest.contains("very-secret-key") && !err.contains("very-secret-key"));
        assert!(!line.contains("very-secret-key"));
    }
}

/// Classify a live response with the core, as a driver would.
async fn classify_live(r: reqwest::Response) -> (String, Option<String>, Option<u64>) {
    let status = r.status().as_u16();
    let headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = r.bytes().await.unwrap();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let response = http_triage::Response::new(status, &pairs, &body);
    let request = http_triage::Request::new("POST").with_idempotency_key(true);
    let c = http_triage::classify(
        &response,
        &request,
        1_763_800_000_000,
        &http_triage::Rules::default(),
    );
    let code = c.code.clone();
    let retry_after_ms = c.retry_after.map(|d| d.as_millis() as u64);
    (c.category.as_str().to_owned(), code, retry_after_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_classifies_every_answer_as_intended() {
    let c = client();
    for dialect in ErrorDialect::ALL {
        // Permanent kinds and transient statuses.
        let config = ServeConfig {
            dialect,
            permanent_rate: 0.5,
            transient_rate: 0.5,
            ..cfg()
        };
        let s = Server::start(config.clone()).await.unwrap();
        for kind in PermanentKind::ALL {
            let input = find(&config, "cls", |f| f == Fate::Permanent(kind));
            let (cat, code, _) = classify_live(post(&c, &s, &input, None).await.unwrap()).await;
            assert_eq!(cat, "permanent", "{dialect} {kind:?}");
            assert_eq!(code.as_deref(), Some(kind.code()), "{dialect} {kind:?}");
        }
        for kind in TransientKind::ALL {
            if kind == TransientKind::Drop {
                continue;
            }
            let input = find(&config, "cls", |f| {
                f == Fate::Transient { failures: 1, kind }
            });
            let (cat, _, _) = classify_live(post(&c, &s, &input, None).await.unwrap()).await;
            assert_eq!(cat, "retryable", "{dialect} {kind:?}");
            let (cat, _, _) = classify_live(post(&c, &s, &input, None).await.unwrap()).await;
            assert_eq!(cat, "success", "{dialect} {kind:?}");
        }
        // Auth.
        let r = c
            .post(s.convert_url("pdf"))
            .header("Authorization", "Bearer nope")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(classify_live(r).await.0, "auth", "{dialect}");
        // Outage.
        s.set_outage(true);
        let (cat, code, _) = classify_live(post(&c, &s, b"x", None).await.unwrap()).await;
        assert_eq!(
            (cat.as_str(), code.as_deref()),
            ("retryable", Some("service_unavailable"))
        );
        s.shutdown().await;

        // Quota.
        let s = Server::start(ServeConfig {
            dialect,
            quota: Some(0),
            ..cfg()
        })
        .await
        .unwrap();
        let (cat, code, _) = classify_live(post(&c, &s, b"q", None).await.unwrap()).await;
        assert_eq!(
            (cat.as_str(), code.as_deref()),
            ("quota", Some("quota_exceeded")),
            "{dialect}"
        );
        s.shutdown().await;

        // Rate limit and in-flight conflicts.
        let s = Server::start(ServeConfig {
            dialect,
            permanent_rate: 0.0,
            transient_rate: 0.0,
            rate_limit_per_sec: Some(1),
            latency_ms: 300,
            ..cfg()
        })
        .await
        .unwrap();
        let first = {
            let (c, url) = (c.clone(), s.convert_url("pdf"));
            tokio::spawn(async move {
                c.post(url)
                    .header("Authorization", format!("Bearer {KEY}"))
                    .header("Idempotency-Key", "same")
                    .body("slow")
                    .send()
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (cat, code, wait) =
            classify_live(post(&c, &s, b"slow", Some("same")).await.unwrap()).await;
        assert_eq!(
            (cat.as_str(), code.as_deref()),
            ("retryable", Some("rate_limited")),
            "{dialect}"
        );
        assert!(wait.is_some_and(|ms| ms > 0 && ms <= 1000), "{wait:?}");
        assert_eq!(first.await.unwrap().unwrap().status().as_u16(), 200);
        s.shutdown().await;

        let s = Server::start(ServeConfig {
            dialect,
            permanent_rate: 0.0,
            transient_rate: 0.0,
            latency_ms: 300,
            ..cfg()
        })
        .await
        .unwrap();
        let first = {
            let (c, url) = (c.clone(), s.convert_url("pdf"));
            tokio::spawn(async move {
                c.post(url)
                    .header("Authorization", format!("Bearer {KEY}"))
                    .header("Idempotency-Key", "same")
                    .body("slow")
                    .send()
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (cat, _, wait) =
            classify_live(post(&c, &s, b"slow", Some("same")).await.unwrap()).await;
        assert_eq!(cat, "retryable", "409 in {dialect}");
        assert_eq!(wait, Some(1000));
        assert_eq!(first.await.unwrap().unwrap().status().as_u16(), 200);
        let (cat, _, _) = classify_live(post(&c, &s, b"other", Some("same")).await.unwrap()).await;
        assert_eq!(cat, "permanent", "422 reuse in {dialect}");
        s.shutdown().await;
    }
}

/// `n` conversions sent back to back (one at a time); the statuses and the responses' headers.
async fn burst(
    c: &reqwest::Client,
    s: &Server,
    tag: &str,
    n: usize,
) -> Vec<(u16, reqwest::header::HeaderMap)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let r = post(c, s, format!("{tag} {i}").as_bytes(), None)
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let _ = r.bytes().await;
        out.push((status, headers));
    }
    out
}

fn num(h: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_whole_seconds_by_default() {
    // A bucket of 2/s: the next token is at most 500 ms away, yet Retry-After says 1 (rounded
    // up), with no `retry-after-ms` and no rate-limit headers, as real APIs answer.
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(2),
        burst: Some(3),
        ..cfg()
    })
    .await
    .unwrap();
    let c = client();
    let answers = burst(&c, &s, "whole", 10).await;
    let limited: Vec<_> = answers.iter().filter(|(st, _)| *st == 429).collect();
    assert!(!limited.is_empty(), "a burst of 3 must refuse some of 10");
    assert_eq!(answers[..3].iter().filter(|(st, _)| *st == 200).count(), 3);
    for (_, h) in &limited {
        assert_eq!(h.get("retry-after").unwrap(), "1");
        assert!(h.get("retry-after-ms").is_none());
        assert!(h.get("ratelimit").is_none());
        assert!(h.get("x-ratelimit-remaining").is_none());
    }
    for (_, h) in answers.iter().filter(|(st, _)| *st == 200) {
        assert!(h.get("x-ratelimit-limit").is_none());
    }
    s.shutdown().await;

    // A change at 0 s wins over the configured rate; 1/s with no burst: the second request
    // waits just under a second: 1.
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(1000),
        burst: Some(1),
        rate_changes: vec![RateChange {
            at: Duration::ZERO,
            rate: 1,
        }],
        ..cfg()
    })
    .await
    .unwrap();
    let answers = burst(&c, &s, "slow", 2).await;
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[1].0, 429);
    assert_eq!(num(&answers[1].1, "retry-after"), Some(1));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_ms_is_opt_in_and_agrees_with_the_seconds() {
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(1),
        burst: Some(1),
        retry_after_ms: true,
        ..cfg()
    })
    .await
    .unwrap();
    let answers = burst(&client(), &s, "ms", 4).await;
    let (_, h) = answers.iter().find(|(st, _)| *st == 429).unwrap();
    let ms = num(h, "retry-after-ms").unwrap();
    let secs = num(h, "retry-after").unwrap();
    assert!((1..=1000).contains(&ms), "{ms}");
    assert_eq!(secs, ms.div_ceil(1000).max(1));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_and_bucket_limit_differently() {
    // A window of 10/s lets 10 through at once, then refuses until the window ends; a bucket of
    // 2/s with a burst of 2 lets 2 through, then one per 500 ms.
    let c = client();
    let window = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(10),
        limiter: RateLimiter::Window,
        rate_headers: RateHeaders::XRateLimit,
        ..cfg()
    })
    .await
    .unwrap();
    let answers = burst(&c, &window, "win", 15).await;
    let ok = answers.iter().filter(|(st, _)| *st == 200).count();
    // Back to back, 15 requests take far less than a second; they may straddle one window edge.
    assert!((10..=15).contains(&ok), "{ok}");
    let first_refusal = answers.iter().position(|(st, _)| *st == 429);
    if let Some(i) = first_refusal {
        assert!(i >= 10, "window refused request {i}");
        let h = &answers[i].1;
        assert_eq!(num(h, "retry-after"), Some(1));
        assert_eq!(num(h, "x-ratelimit-remaining"), Some(0));
        assert_eq!(num(h, "x-ratelimit-limit"), Some(10));
        assert_eq!(num(h, "x-ratelimit-reset"), Some(1));
    }
    window.shutdown().await;

    let bucket = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(2),
        burst: Some(2),
        limiter: RateLimiter::Bucket,
        rate_headers: RateHeaders::XRateLimit,
        ..cfg()
    })
    .await
    .unwrap();
    let t0 = std::time::Instant::now();
    let answers = burst(&c, &bucket, "bucket", 15).await;
    let secs = t0.elapsed().as_secs_f64();
    let ok = answers.iter().filter(|(st, _)| *st == 200).count();
    assert!(answers[..2].iter().all(|(st, _)| *st == 200));
    // 2 at once, then a token per 500 ms while the 15 requests run.
    assert!(ok <= 2 + (secs * 2.0).ceil() as usize, "{ok} in {secs}s");
    assert!(answers.iter().any(|(st, _)| *st == 429));
    assert_eq!(num(&answers[0].1, "x-ratelimit-limit"), Some(2));
    bucket.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_window_refuses_until_the_oldest_ages_out() {
    // 5/s over a rolling 3 s: 15 at once, then a 429 whose whole-second Retry-After is the
    // time until the first of them ages out (just under 3 s, so 3), with the headers' limit 15.
    let c = client();
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(5),
        limiter: RateLimiter::Sliding,
        window_secs: 3,
        rate_headers: RateHeaders::XRateLimit,
        ..cfg()
    })
    .await
    .unwrap();
    let answers = burst(&c, &s, "slide", 20).await;
    assert!(answers[..15].iter().all(|(st, _)| *st == 200));
    assert!(answers[15..].iter().all(|(st, _)| *st == 429));
    let h = &answers[15].1;
    assert_eq!(num(h, "retry-after"), Some(3));
    assert_eq!(num(h, "x-ratelimit-limit"), Some(15));
    assert_eq!(num(h, "x-ratelimit-remaining"), Some(0));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_headers_follow_the_limiter_state() {
    // A window of 5: Remaining counts down on every answer (200s included), Limit stays 5, Reset
    // is the window's end in whole seconds; the 429 says 0 left.
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(5),
        limiter: RateLimiter::Window,
        rate_headers: RateHeaders::XRateLimit,
        ..cfg()
    })
    .await
    .unwrap();
    let c = client();
    // Start right after a window edge so the 7 requests share one window.
    let stats = s.stats();
    assert_eq!(stats.requests, 0);
    let mut answers = burst(&c, &s, "hdr", 7).await;
    if answers.iter().filter(|(st, _)| *st == 200).count() > 5 {
        // The run straddled a window edge: once more, now early in a window.
        answers = burst(&c, &s, "hdr2", 7).await;
    }
    let mut previous = None;
    for (status, h) in &answers {
        let limit = num(h, "x-ratelimit-limit").unwrap();
        let left = num(h, "x-ratelimit-remaining").unwrap();
        let reset = num(h, "x-ratelimit-reset").unwrap();
        assert_eq!(limit, 5);
        assert!(reset <= 1);
        match status {
            200 => {
                if let Some(p) = previous {
                    assert!(left < p || left == 4, "remaining {left} after {p}");
                }
                previous = Some(left);
            }
            429 => {
                assert_eq!(left, 0);
                assert!(h.get("retry-after").is_some());
            }
            other => panic!("status {other}"),
        }
    }
    s.shutdown().await;

    // The bucket: Remaining is the whole tokens left, Reset the time to fill up again.
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(1),
        burst: Some(4),
        rate_headers: RateHeaders::XRateLimit,
        ..cfg()
    })
    .await
    .unwrap();
    let t0 = std::time::Instant::now();
    let answers = burst(&c, &s, "bkt", 5).await;
    // A token comes back every second: 5 requests within it see the bucket empty out.
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "too slow to tell"
    );
    let lefts: Vec<_> = answers
        .iter()
        .map(|(_, h)| num(h, "x-ratelimit-remaining").unwrap())
        .collect();
    assert_eq!(lefts, [3, 2, 1, 0, 0]);
    assert_eq!(answers[4].0, 429);
    // 4 tokens spent at 1/s: full again in 4 s; 1 spent: in 1 s.
    assert_eq!(num(&answers[3].1, "x-ratelimit-reset"), Some(4));
    assert_eq!(num(&answers[0].1, "x-ratelimit-reset"), Some(1));
    // Errors that passed the limiter carry them too (a 400 here).
    let r = c
        .post(format!("{}/v1/convert", s.url()))
        .header("Authorization", format!("Bearer {KEY}"))
        .body("no target")
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 400 | 429));
    assert!(header(&r, "x-ratelimit-limit").is_some());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_changes_at_the_given_times() {
    // 100/s in 1-s windows, down to 2/s at 1 s, back to 100/s at 2.5 s.
    let changes = parse_rate_changes("1:2, 2.5:100").unwrap();
    assert_eq!(
        changes,
        [
            RateChange {
                at: Duration::from_secs(1),
                rate: 2
            },
            RateChange {
                at: Duration::from_millis(2500),
                rate: 100
            }
        ]
    );
    let config = ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(100),
        limiter: RateLimiter::Window,
        rate_changes: changes,
        ..cfg()
    };
    assert_eq!(config.rate_at(Duration::ZERO), Some(100));
    assert_eq!(config.rate_at(Duration::from_millis(1500)), Some(2));
    assert_eq!(config.rate_at(Duration::from_secs(9)), Some(100));
    let c = client();
    let before = std::time::Instant::now();
    let s = Server::start(config).await.unwrap();
    let after = std::time::Instant::now();
    // Each answer with the bounds of the server's clock while it was handled: a request sent at
    // `sent` and answered at `done` was seen between `sent - after` and `done - before`.
    let mut seen = Vec::new();
    for (phase, start_at) in [("early", 0u64), ("low", 1_100), ("late", 2_600)] {
        tokio::time::sleep(Duration::from_millis(start_at).saturating_sub(after.elapsed())).await;
        for i in 0..20 {
            let sent = std::time::Instant::now();
            let r = post(&c, &s, format!("{phase} {i}").as_bytes(), None)
                .await
                .unwrap();
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            let done = std::time::Instant::now();
            seen.push((status, sent - after, done - before));
        }
    }
    let within = |from: u64, to: u64| {
        let (from, to) = (Duration::from_millis(from), Duration::from_millis(to));
        seen.iter()
            .filter(move |(_, lo, hi)| *lo >= from && *hi < to)
            .map(|(st, _, _)| *st)
            .collect::<Vec<_>>()
    };
    let early = within(0, 1_000);
    let low = within(1_000, 2_500);
    let late = within(2_500, u64::MAX);
    assert!(
        early.len() >= 5 && low.len() >= 5 && late.len() >= 5,
        "the machine is too slow to tell the phases apart: {seen:?}"
    );
    assert!(early.iter().all(|st| *st == 200), "{early:?}");
    // At 2/s in the windows 1-2 s and 2-2.5 s: at most 4 pass.
    let passed = low.iter().filter(|st| **st == 200).count();
    assert!(passed <= 4, "{passed} passed at 2/s: {low:?}");
    assert!(low.contains(&429));
    assert!(late.iter().all(|st| *st == 200), "{late:?}");
    assert!(parse_rate_changes("1:x").is_err());
    assert!(parse_rate_changes("x:1").is_err());
    assert!(parse_rate_changes("5").is_err());
    assert!(parse_rate_changes("-1:5").is_err());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_preflights_and_exposes_headers() {
    let c = client();
    let s = Server::start(ServeConfig {
        cors: true,
        permanent_rate: 0.0,
        transient_rate: 0.0,
        ..cfg()
    })
    .await
    .unwrap();
    let r = c
        .request(reqwest::Method::OPTIONS, s.convert_url("pdf"))
        .header("Origin", "http://127.0.0.1:9999")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,idempotency-key,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let allowed = header(&r, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in ["authorization", "idempotency-key", "content-type"] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(header(&r, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    let r = post(&c, &s, b"cors", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let exposed = header(&r, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "retry-after",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-request-id",
    ] {
        assert!(exposed.contains(h), "{exposed}");
    }
    // Errors too.
    let r = c.get(format!("{}/nowhere", s.url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(header(&r, "access-control-allow-origin").is_some());
    s.shutdown().await;

    // Off by default: no CORS headers, OPTIONS is not allowed.
    let s = Server::start(cfg()).await.unwrap();
    let r = c
        .request(reqwest::Method::OPTIONS, s.convert_url("pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(header(&r, "access-control-allow-origin").is_none());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_bytes_streams_a_body_of_that_size() {
    let size = 5 * 1024 * 1024 + 3;
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        output_bytes: Some(size),
        ..cfg()
    })
    .await
    .unwrap();
    let c = client();
    let r = post(&c, &s, b"big one", Some("big")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.content_length(), Some(size));
    let got = r.bytes().await.unwrap();
    let mut want = Vec::new();
    ConvertedReader::new(b"big one", "pdf", size)
        .read_to_end(&mut want)
        .unwrap();
    assert_eq!(got.len() as u64, size);
    assert!(got.as_ref() == want.as_slice());
    assert!(got.starts_with(&converted(b"big one", "pdf")));
    // A replay is the same bytes.
    let again = post(&c, &s, b"big one", Some("big"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(again == got);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_skips_the_latency() {
    // Latency is the cost of converting; the limiter answers before any of it, as a gateway
    // does. 2 s of latency against a 429 that must come back well before it.
    let s = Server::start(ServeConfig {
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: Some(1),
        burst: Some(1),
        latency_ms: 2_000,
        ..cfg()
    })
    .await
    .unwrap();
    let c = client();
    let timed = |body: &'static [u8]| {
        let (c, s) = (&c, &s);
        async move {
            let t = std::time::Instant::now();
            let status = post(c, s, body, None).await.unwrap().status().as_u16();
            (status, t.elapsed())
        }
    };
    // Both at once: one takes the only token and waits out the latency, the other is refused.
    let (a, b) = tokio::join!(timed(b"one"), timed(b"two"));
    let (ok, refused) = if a.0 == 200 { (a, b) } else { (b, a) };
    assert_eq!((ok.0, refused.0), (200, 429));
    assert!(ok.1 >= Duration::from_millis(2_000));
    assert!(refused.1 < Duration::from_millis(1_500), "{:?}", refused.1);
    s.shutdown().await;
}
