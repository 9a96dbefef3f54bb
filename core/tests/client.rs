#![cfg(feature = "cli")]
//! The reqwest driver against real servers on 127.0.0.1: small scripted HTTP/1.1 servers written
//! here on a `TcpListener`, so each test controls every byte, every delay and every reset.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use http_triage::client::{CallError, CallOptions, Client, ClientConfig, Slot, Spill};
use http_triage::{
    BreakerConfig, BudgetConfig, Category, GiveUpReason, Reason, RetryPolicy, StopReason,
    TransportError,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// A scripted server.

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with the `n`th request (0-based).
enum Action {
    Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Read the request, then say nothing for this long.
    Hang(Duration),
    /// Read the request, then reset the connection (RST).
    Reset,
    /// Read the request, then close the connection (FIN) without a response.
    Close,
    /// Send the head with `Content-Length: declared`, fewer bytes, then close.
    Truncated { declared: usize, body: Vec<u8> },
}

fn reply(status: u16, body: &str) -> Action {
    Action::Reply {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn reply_with(status: u16, headers: &[(&'static str, &str)], body: &str) -> Action {
    Action::Reply {
        status,
        headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        body: body.as_bytes().to_vec(),
    }
}

type Script = dyn Fn(usize, &Seen) -> Action + Send + Sync;

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(script: impl Fn(usize, &Seen) -> Action + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let script = Arc::clone(&script);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let _ = serve_one(stream, script, log).await;
                });
            }
        });
        Server { addr, seen }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve_one(
    mut stream: TcpStream,
    script: Arc<Script>,
    log: Arc<Mutex<Vec<Seen>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let seen = Seen {
        method,
        target,
        headers,
        body,
        at: Instant::now(),
    };
    let action = {
        let mut log = log.lock().unwrap();
        let n = log.len();
        log.push(seen.clone());
        script(n, &seen)
    };
    match action {
        Action::Reply {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            stream.write_all(out.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.shutdown().await?;
        }
        Action::Hang(d) => {
            tokio::time::sleep(d).await;
        }
        Action::Reset => {
            #[allow(deprecated)] // a zero linger does not block: it is how to send an RST
            stream.set_linger(Some(Duration::ZERO))?;
            drop(stream);
        }
        Action::Close => {
            stream.shutdown().await?;
        }
        Action::Truncated { declared, body } => {
            let out = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(out.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.flush().await?;
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO))?;
            drop(stream);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A policy with millisecond delays, so the file runs fast.
fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::DEFAULT
        .with_max_attempts(max_attempts)
        .with_base_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(20))
        .with_poll_interval(Duration::from_millis(10))
}

/// No breaker trips and no budget limits, unless a test asks for them.
fn config(max_attempts: u32) -> ClientConfig {
    ClientConfig::default()
        .with_policy(fast_policy(max_attempts))
        .with_breaker(
            BreakerConfig::DEFAULT
                .with_failure_threshold(0)
                .with_failure_ratio(None),
        )
        .with_budget(BudgetConfig::DEFAULT.with_max_tokens(1000.0))
        .with_attempt_timeout(Duration::from_secs(5))
}

fn client(config: ClientConfig) -> Client {
    Client::new(config).unwrap()
}

fn get(client: &Client, url: &str) -> reqwest::Request {
    client.http().get(url).build().unwrap()
}

fn post(client: &Client, url: &str, body: &[u8]) -> reqwest::Request {
    client.http().post(url).body(body.to_vec()).build().unwrap()
}

fn decisions(history: &[http_triage::client::AttemptRecord]) -> Vec<&'static str> {
    history.iter().map(|r| r.decision).collect()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn waits_exactly_the_retry_after_of_a_429_then_succeeds() {
    let server = Server::start(|n, _| match n {
        0 => reply_with(
            429,
            &[("Retry-After", "1"), ("X-Request-Id", "req-429")],
            r#"{"error":{"code":"rate_limited","message":"slow down"}}"#,
        ),
        _ => reply_with(200, &[("X-Request-Id", "req-ok")], "converted"),
    })
    .await;
    let c = client(config(3));
    let done = c
        .execute(get(&c, &server.url("/v1/items")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(done.status, 200);
    assert_eq!(done.body, b"converted");
    assert_eq!(done.attempts, 2);
    assert_eq!(done.request_id.as_deref(), Some("req-ok"));
    assert_eq!(decisions(&done.history), ["retry", "done"]);
    assert_eq!(done.history[0].status, Some(429));
    assert_eq!(done.history[0].reason, Reason::RateLimited);
    assert_eq!(done.history[0].delay_ms, Some(1000));
    let seen = server.seen();
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(990),
        "retried after {gap:?}, the server asked for 1 s"
    );
    assert!(gap < Duration::from_secs(3), "waited too long: {gap:?}");
}

#[tokio::test]
async fn a_call_gives_its_slot_back_while_it_sleeps_a_retry_after() {
    let server = Server::start(|n, _| match n {
        0 => reply_with(429, &[("Retry-After", "1")], "slow down"),
        _ => reply_with(200, &[], "converted"),
    })
    .await;
    let c = client(config(3));
    let places = Arc::new(tokio::sync::Semaphore::new(1));
    let permit = Arc::clone(&places).acquire_owned().await.unwrap();
    let slot = Slot::new(Arc::clone(&places), permit);
    let req = get(&c, &server.url("/v1/items"));
    let call = tokio::spawn({
        let (c, slot) = (c.clone(), slot.clone());
        async move { c.execute(req, CallOptions::new().with_slot(slot)).await }
    });
    // The only place comes free while the call sleeps its Retry-After.
    let other = tokio::time::timeout(Duration::from_secs(30), Arc::clone(&places).acquire_owned())
        .await
        .expect("the place was not given back during the Retry-After")
        .unwrap();
    assert_eq!(server.seen().len(), 1);
    // While another holds it, the call does not send again, even after its Retry-After.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.seen().len(), 1, "sent again without a place");
    assert!(!slot.is_held());
    drop(other);
    let done = call.await.unwrap().unwrap();
    assert_eq!(done.status, 200);
    assert_eq!(decisions(&done.history), ["retry", "done"]);
    assert!(slot.is_held(), "the call ends holding its place again");
}

#[tokio::test]
async fn retries_503_three_times_then_succeeds() {
    let server = Server::start(|n, _| {
        if n < 3 {
            reply(503, "busy")
        } else {
            reply(200, "ok")
        }
    })
    .await;
    let c = client(config(5));
    let done = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(done.attempts, 4);
    assert_eq!(
        decisions(&done.history),
        ["retry", "retry", "retry", "done"]
    );
    assert!(done.history[..3]
        .iter()
        .all(|r| r.reason == Reason::ServiceUnavailable));
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn rate_limited_answers_do_not_use_up_max_attempts() {
    // 4 throttled answers, then 2 real failures, then success: with max_attempts 3 the call
    // succeeds, because a 429 says nothing about the request, only about the pace.
    let server = Server::start(|n, _| match n {
        0..=3 => reply_with(
            429,
            &[("retry-after-ms", "5")],
            r#"{"error":{"code":"rate_limited","message":"slow"}}"#,
        ),
        4 | 5 => reply(503, "busy"),
        _ => reply(200, "ok"),
    })
    .await;
    let c = client(config(3));
    let done = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(done.status, 200);
    assert_eq!(done.attempts, 7);
    assert_eq!(server.seen().len(), 7);

    // max_rate_limited still bounds a call that is throttled forever.
    let server = Server::start(|_, _| reply_with(429, &[("retry-after-ms", "1")], "")).await;
    let c = client(config(3).with_policy(fast_policy(3).with_max_rate_limited(6)));
    let err = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::GaveUp {
                reason: GiveUpReason::AttemptsExhausted,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 6);
}

#[tokio::test]
async fn gives_up_when_attempts_run_out() {
    let server = Server::start(|_, _| reply(500, "boom")).await;
    let c = client(config(3));
    let err = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    match &err {
        CallError::GaveUp {
            reason,
            attempts,
            classification,
            ..
        } => {
            assert_eq!(*reason, GiveUpReason::AttemptsExhausted);
            assert_eq!(*attempts, 3);
            assert_eq!(classification.reason, Reason::ServerError);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.history().len(), 3);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn refused_connection_is_connect_refused_and_retried_even_for_a_post_without_key() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let c = client(config(3));
    let url = format!("http://{addr}/v1/convert");
    let req = post(&c, &url, b"bytes");
    let err = c
        .execute(req, CallOptions::new().with_auto_idempotency_key(false))
        .await
        .unwrap_err();
    let cl = err.classification().unwrap();
    assert_eq!(cl.transport_error, Some(TransportError::ConnectRefused));
    assert_eq!(
        cl.category,
        Category::Retryable,
        "refused proves the POST never arrived"
    );
    assert_eq!(err.attempts(), 3);
    assert!(matches!(
        err,
        CallError::GaveUp {
            reason: GiveUpReason::AttemptsExhausted,
            ..
        }
    ));
}

#[tokio::test]
async fn a_connect_that_never_completes_is_connect_timeout() {
    // A listener that never accepts, with the smallest backlog: once its queue is full, the
    // kernel drops further SYNs and a connect hangs until the client's connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    let c = client(config(1).with_connect_timeout(Duration::from_millis(200)));
    let started = Instant::now();
    let err = c
        .execute(get(&c, &format!("http://{addr}/x")), CallOptions::new())
        .await
        .unwrap_err();
    let cl = err.classification().unwrap();
    assert_eq!(
        cl.transport_error,
        Some(TransportError::ConnectTimeout),
        "{err:?}"
    );
    assert!(cl.request_not_processed);
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(listener);
}

#[tokio::test]
async fn an_unknown_host_is_dns() {
    let c = client(config(1));
    let err = c
        .execute(get(&c, "http://no-such-host.invalid/x"), CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.classification().unwrap().transport_error,
        Some(TransportError::Dns),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_failed_handshake_is_tls() {
    // Answers a TLS ClientHello with plain text, as a misconfigured port would.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        }
    });
    let c = client(config(1));
    let err = c
        .execute(get(&c, &format!("https://{addr}/x")), CallOptions::new())
        .await
        .unwrap_err();
    let cl = err.classification().unwrap();
    assert_eq!(cl.transport_error, Some(TransportError::Tls), "{err:?}");
    assert!(cl.request_not_processed);
}

#[tokio::test]
async fn a_hang_past_the_attempt_timeout_is_timeout_after_send() {
    let server = Server::start(|_, _| Action::Hang(Duration::from_secs(5))).await;
    let c = client(config(2).with_attempt_timeout(Duration::from_millis(200)));
    let started = Instant::now();
    let err = c
        .execute(get(&c, &server.url("/slow")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        err.classification().unwrap().transport_error,
        Some(TransportError::TimeoutAfterSend)
    );
    assert_eq!(err.attempts(), 2);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn a_timeout_after_send_of_a_post_without_key_is_not_repeated() {
    let server = Server::start(|_, _| Action::Hang(Duration::from_secs(5))).await;
    let c = client(config(3).with_attempt_timeout(Duration::from_millis(150)));
    let err = c
        .execute(
            post(&c, &server.url("/v1/convert"), b"x"),
            CallOptions::new().with_auto_idempotency_key(false),
        )
        .await
        .unwrap_err();
    let cl = err.classification().unwrap();
    assert_eq!(cl.reason, Reason::NotSafeToRepeat);
    assert_eq!(
        err.attempts(),
        1,
        "the server may have acted on it: never sent twice"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_reset_after_the_request_is_reset_before_response() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Action::Reset
        } else {
            reply(200, "ok")
        }
    })
    .await;
    let c = client(config(3));
    let done = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(
        done.history[0].transport_error,
        Some(TransportError::ResetBeforeResponse)
    );
    assert_eq!(done.attempts, 2);
}

#[tokio::test]
async fn a_close_without_response_is_closed_before_response() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Action::Close
        } else {
            reply(200, "ok")
        }
    })
    .await;
    let c = client(config(3));
    let done = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(
        done.history[0].transport_error,
        Some(TransportError::ClosedBeforeResponse)
    );
    assert_eq!(done.attempts, 2);
}

#[tokio::test]
async fn a_2xx_body_cut_short_is_body_truncated() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Action::Truncated {
                declared: 1000,
                body: b"only a little".to_vec(),
            }
        } else {
            reply(200, "the whole thing")
        }
    })
    .await;
    let c = client(config(3));
    let done = c
        .execute(get(&c, &server.url("/file")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(
        done.history[0].transport_error,
        Some(TransportError::BodyTruncated)
    );
    assert_eq!(done.body, b"the whole thing");
}

/// `n` bytes of a pattern that shows a shifted or repeated piece.
fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ salt).collect()
}

#[tokio::test]
async fn a_large_2xx_body_spills_to_the_file_and_a_retry_starts_it_again() {
    let whole = pattern(400_000, 7);
    let body = whole.clone();
    let server = Server::start(move |n, _| {
        if n == 0 {
            // 300 KB of another body, then the connection breaks: the file must not keep it.
            Action::Truncated {
                declared: 500_000,
                body: pattern(300_000, 1),
            }
        } else {
            Action::Reply {
                status: 200,
                headers: Vec::new(),
                body: body.clone(),
            }
        }
    })
    .await;
    let dir = std::env::temp_dir().join(format!("http-triage-spill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spill = Spill::new(dir.join("body.part"), 64 * 1024);
    let c = client(config(3));
    let done = c
        .execute_spilling(get(&c, &server.url("/big")), CallOptions::new(), &spill)
        .await
        .unwrap();
    assert_eq!(
        done.history[0].transport_error,
        Some(TransportError::BodyTruncated)
    );
    assert!(done.spilled);
    assert!(done.body.is_empty());
    assert_eq!(done.body_len, 400_000);
    assert!(std::fs::read(&spill.path).unwrap() == whole);

    // A small body stays in memory and no file is made.
    let small = Server::start(|_, _| reply(200, "small")).await;
    let spill = Spill::new(dir.join("small.part"), 64 * 1024);
    let done = c
        .execute_spilling(get(&c, &small.url("/s")), CallOptions::new(), &spill)
        .await
        .unwrap();
    assert!(!done.spilled);
    assert_eq!(done.body, b"small");
    assert_eq!(done.body_len, 5);
    assert!(!spill.path.exists());

    // An unwritable file is a typed error, not a panic.
    let spill = Spill::new(dir.join("no/such/dir/x.part"), 16);
    let err = c
        .execute_spilling(get(&c, &server.url("/big")), CallOptions::new(), &spill)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::BodyWrite { .. }), "{err}");
    assert_eq!(err.kind(), "body_write");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_2xx_body_over_max_success_body_is_body_too_large_and_not_retried() {
    let server = Server::start(|_, _| Action::Reply {
        status: 200,
        headers: Vec::new(),
        body: pattern(100_000, 3),
    })
    .await;
    let c = client(config(3).with_max_success_body(50_000));
    let err = c
        .execute(get(&c, &server.url("/big")), CallOptions::new())
        .await
        .unwrap_err();
    match &err {
        CallError::BodyTooLarge {
            limit,
            status,
            attempts,
            ..
        } => assert_eq!((*limit, *status, *attempts), (50_000, 200, 1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), "body_too_large");
    assert_eq!(server.seen().len(), 1);
    // At the limit it passes.
    let c = client(config(3).with_max_success_body(100_000));
    let done = c
        .execute(get(&c, &server.url("/big")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(done.body.len(), 100_000);
}

#[tokio::test]
async fn a_401_stops_and_the_error_never_shows_secrets() {
    let server = Server::start(|_, _| {
        reply_with(
            401,
            &[("X-Request-Id", "req-401")],
            r#"{"error":{"code":"invalid_api_key","message":"bad key"}}"#,
        )
    })
    .await;
    let c = client(config(5));
    let url = format!(
        "http://user:hunter2@{}/v1/convert?target=pdf&api_key=QUERYSECRET",
        server.addr
    );
    let req = c
        .http()
        .post(&url)
        .bearer_auth("sk-live-BEARERSECRET")
        .header("X-Api-Key", "HEADERSECRET")
        .body(b"bytes".to_vec())
        .build()
        .unwrap();
    let err = c.execute(req, CallOptions::new()).await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Stopped {
                reason: StopReason::Auth,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.stops_batch());
    assert_eq!(err.request_id(), Some("req-401"));
    assert_eq!(server.seen().len(), 1);
    let shown = err.to_string();
    assert!(
        shown.contains("auth") && shown.contains("401") && shown.contains("req-401"),
        "{shown}"
    );
    assert!(shown.contains("invalid_api_key"), "{shown}");
    for secret in [
        "BEARERSECRET",
        "QUERYSECRET",
        "HEADERSECRET",
        "hunter2",
        "api_key=",
        "Bearer",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked into {shown}");
    }
}

#[tokio::test]
async fn transport_and_breaker_errors_never_show_secrets() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = client(
        config(1).with_breaker(
            BreakerConfig::DEFAULT
                .with_failure_threshold(1)
                .with_failure_ratio(None),
        ),
    );
    let url = format!("http://user:hunter2@{addr}/p?token=QUERYSECRET");
    let mk = || {
        c.http()
            .get(&url)
            .bearer_auth("BEARERSECRET")
            .build()
            .unwrap()
    };
    let first = c.execute(mk(), CallOptions::new()).await.unwrap_err();
    let second = c.execute(mk(), CallOptions::new()).await.unwrap_err();
    assert!(
        matches!(second, CallError::CircuitOpen { .. }),
        "{second:?}"
    );
    for err in [first, second] {
        let shown = format!("{err} {err:?}");
        for secret in ["BEARERSECRET", "QUERYSECRET", "hunter2", "token="] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
    }
}

#[tokio::test]
async fn a_post_gets_one_generated_idempotency_key_for_all_its_attempts() {
    let server = Server::start(|n, _| {
        if n < 2 {
            reply(503, "")
        } else {
            reply(200, "done")
        }
    })
    .await;
    let c = client(config(5));
    let done = c
        .execute(
            post(&c, &server.url("/v1/convert?target=pdf"), b"file bytes"),
            CallOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.attempts, 3);
    let seen = server.seen();
    let keys: Vec<&str> = seen
        .iter()
        .map(|s| s.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_eq!(keys[0].len(), 32);
    assert!(seen
        .iter()
        .all(|s| s.body == b"file bytes" && s.method == "POST"));
    assert_eq!(seen[0].target, "/v1/convert?target=pdf");

    // Another call gets another key; a given key is used as is; a GET gets none.
    c.execute(
        post(&c, &server.url("/v1/convert"), b"other"),
        CallOptions::new(),
    )
    .await
    .unwrap();
    c.execute(
        post(&c, &server.url("/v1/convert"), b"mine"),
        CallOptions::new().with_idempotency_key("item-42"),
    )
    .await
    .unwrap();
    c.execute(get(&c, &server.url("/v1/items")), CallOptions::new())
        .await
        .unwrap();
    let seen = server.seen();
    assert_ne!(seen[3].header("idempotency-key"), Some(keys[0]));
    assert!(seen[3].header("idempotency-key").is_some());
    assert_eq!(seen[4].header("idempotency-key"), Some("item-42"));
    assert_eq!(seen[5].header("idempotency-key"), None);
}

#[tokio::test]
async fn a_post_without_a_key_is_not_repeated_after_a_500() {
    let server = Server::start(|_, _| reply(500, "")).await;
    let c = client(config(5));
    let err = c
        .execute(
            post(&c, &server.url("/v1/convert"), b"x"),
            CallOptions::new().with_auto_idempotency_key(false),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CallError::GaveUp {
            reason: GiveUpReason::Permanent,
            attempts: 1,
            ..
        }
    ));
    assert_eq!(
        err.classification().unwrap().reason,
        Reason::NotSafeToRepeat
    );
    assert_eq!(server.seen()[0].header("idempotency-key"), None);
}

#[tokio::test]
async fn after_a_429_the_other_calls_leave_one_by_one_at_the_paced_rate() {
    // 20 calls go through, the 21st meets a 429 with a whole-second Retry-After.
    let server = Server::start(|n, _| {
        if n == 20 {
            reply_with(
                429,
                &[("Retry-After", "1")],
                r#"{"error":{"code":"rate_limited"}}"#,
            )
        } else {
            reply(200, "ok")
        }
    })
    .await;
    let c = client(config(3));
    let warm: Vec<_> = (0..20)
        .map(|i| {
            let c = c.clone();
            let url = server.url(&format!("/warm/{i}"));
            tokio::spawn(async move { c.execute(get(&c, &url), CallOptions::new()).await })
        })
        .collect();
    for call in warm {
        call.await.unwrap().unwrap();
    }
    let first = {
        let c = c.clone();
        let url = server.url("/first");
        tokio::spawn(async move { c.execute(get(&c, &url), CallOptions::new()).await })
    };
    // Wait for the 429 to be answered and recorded.
    let t0 = Instant::now();
    while c
        .host_status(&server.host())
        .map_or(true, |s| s.paced_rate.is_none())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the 429 never set a pace"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let status = c.host_status(&server.host()).unwrap();
    assert_eq!(status.throttled, 1);
    let rate = status.paced_rate.unwrap();
    let throttled_at = server.seen()[20].at;
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let c = c.clone();
            let url = server.url(&format!("/item/{i}"));
            tokio::spawn(async move { c.execute(get(&c, &url), CallOptions::new()).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().attempts, 1);
    }
    assert_eq!(first.await.unwrap().unwrap().attempts, 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 32, "one 429, one retry, 30 calls");
    let mut items: Vec<Instant> = seen
        .iter()
        .filter(|s| s.target.starts_with("/item/"))
        .map(|s| s.at)
        .collect();
    items.sort();
    // One by one at the paced rate (a little slack for timers), not all together...
    // (The rate grows back as answers come in: by 1 / beta at most within the first second.)
    let gap = Duration::from_secs_f64(0.5 / rate);
    for w in items.windows(2) {
        assert!(w[1] - w[0] >= gap, "calls left together at {rate} req/s");
    }
    // ... and without waiting for the whole second the 429 asked of its own call, which is
    // never retried early.
    assert!(items[0].duration_since(throttled_at) < Duration::from_millis(900));
    let retried = seen
        .iter()
        .filter(|s| s.target == "/first")
        .nth(1)
        .map(|s| s.at);
    assert!(retried.unwrap().duration_since(throttled_at) >= Duration::from_millis(1000));
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures_and_fails_fast() {
    let server = Server::start(|_, _| reply(500, "down")).await;
    let c = client(
        config(1).with_breaker(
            BreakerConfig::DEFAULT
                .with_failure_threshold(3)
                .with_failure_ratio(None)
                .with_open_for(Duration::from_secs(30)),
        ),
    );
    for _ in 0..3 {
        let err = c
            .execute(get(&c, &server.url("/x")), CallOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::GaveUp { .. }), "{err:?}");
    }
    let started = Instant::now();
    let err = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "not fast: {:?}",
        started.elapsed()
    );
    match &err {
        CallError::CircuitOpen {
            retry_after,
            host,
            attempts,
            ..
        } => {
            assert!(
                *retry_after > Duration::from_secs(25) && *retry_after <= Duration::from_secs(30)
            );
            assert_eq!(host, &server.host());
            assert_eq!(*attempts, 0);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.seen().len(), 3, "the open breaker sent nothing");
    let status = c.host_status(&server.host()).unwrap();
    assert_eq!(status.breaker.as_str(), "open");
}

#[tokio::test]
async fn after_the_open_time_a_probe_goes_through_and_closes_the_breaker() {
    let server = Server::start(|n, _| {
        if n < 2 {
            reply(502, "")
        } else {
            reply(200, "back")
        }
    })
    .await;
    let c = client(
        config(1).with_breaker(
            BreakerConfig::DEFAULT
                .with_failure_threshold(2)
                .with_failure_ratio(None)
                .with_open_for(Duration::from_millis(300)),
        ),
    );
    for _ in 0..2 {
        let _ = c
            .execute(get(&c, &server.url("/x")), CallOptions::new())
            .await
            .unwrap_err();
    }
    let err = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    let CallError::CircuitOpen { retry_after, .. } = err else {
        panic!("unexpected {err:?}")
    };
    assert!(retry_after <= Duration::from_millis(300));
    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    let done = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(done.body, b"back");
    let status = c.host_status(&server.host()).unwrap();
    assert_eq!(status.breaker.as_str(), "closed");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn hosts_do_not_share_gates() {
    let throttled = Server::start(|_, _| reply_with(429, &[("Retry-After", "3600")], "")).await;
    let other = Server::start(|_, _| reply(200, "fine")).await;
    let c = client(config(3));
    let err = c
        .execute(get(&c, &throttled.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Deferred { .. }), "{err:?}");
    assert!(c.host_status(&throttled.host()).unwrap().gate_wait > Duration::from_secs(3000));
    let started = Instant::now();
    c.execute(get(&c, &other.url("/y")), CallOptions::new())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_spent_budget_stops_retries() {
    let server = Server::start(|_, _| reply(503, "")).await;
    // 4 tokens: a failure leaves 3 (retry allowed), the next leaves 2 (not more than half: no).
    let c = client(config(10).with_budget(BudgetConfig::DEFAULT.with_max_tokens(4.0)));
    let err = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::BudgetExhausted { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(decisions(err.history()), ["retry", "budget_exhausted"]);
    assert_eq!(server.seen().len(), 2);
    // The next call to the host still gets its first attempt, but no retry.
    let err = c
        .execute(get(&c, &server.url("/y")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::BudgetExhausted { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn a_permanent_error_gives_up_at_once_with_the_request_id() {
    let server = Server::start(|_, _| {
        reply_with(
            422,
            &[
                ("X-Request-Id", "req-422"),
                ("Content-Type", "application/json"),
            ],
            r#"{"error":{"code":"corrupted","message":"the file is damaged"}}"#,
        )
    })
    .await;
    let c = client(config(5));
    let err = c
        .execute(
            post(&c, &server.url("/v1/convert"), b"x"),
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CallError::GaveUp {
            reason: GiveUpReason::Permanent,
            attempts: 1,
            ..
        }
    ));
    assert_eq!(err.classification().unwrap().reason, Reason::Corrupted);
    assert_eq!(err.request_id(), Some("req-422"));
    assert!(
        !err.to_string().contains("damaged"),
        "bodies stay out of Display"
    );
}

#[tokio::test]
async fn pending_answers_are_polled() {
    let server = Server::start(|n, _| {
        if n < 2 {
            reply_with(
                412,
                &[("Content-Type", "application/json")],
                r#"{"error":"not ready yet","error_code":"not_ready","retryable":true}"#,
            )
        } else {
            reply(200, "result")
        }
    })
    .await;
    let c = client(config(1));
    let done = c
        .execute(get(&c, &server.url("/result/7")), CallOptions::new())
        .await
        .unwrap();
    assert_eq!(decisions(&done.history), ["poll", "poll", "done"]);
    assert_eq!(
        done.attempts, 3,
        "polls are not limited by max_attempts = 1"
    );
}

#[tokio::test]
async fn the_deadline_ends_a_call() {
    let server = Server::start(|_, _| reply_with(503, &[("Retry-After", "1")], "")).await;
    let c = client(config(10));
    let started = Instant::now();
    let err = c
        .execute(
            get(&c, &server.url("/x")),
            CallOptions::new().with_deadline(Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::GaveUp {
                reason: GiveUpReason::DeadlineExceeded,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(950),
        "gave up without sleeping past the deadline"
    );
}

#[tokio::test]
async fn a_long_retry_after_defers() {
    let server = Server::start(|_, _| reply_with(429, &[("Retry-After", "3600")], "")).await;
    let c = client(config(5));
    let err = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    match &err {
        CallError::Deferred {
            resume_after,
            classification,
            ..
        } => {
            assert_eq!(*resume_after, Duration::from_secs(3600));
            assert!(classification.is_some());
        }
        other => panic!("unexpected {other:?}"),
    }
    // The gate is now closed for an hour: another call to the host defers without sending.
    let err = c
        .execute(get(&c, &server.url("/y")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Deferred {
                classification: None,
                attempts: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_quota_429_stops() {
    let server = Server::start(|_, _| {
        reply_with(
            429,
            &[("Content-Type", "application/json")],
            r#"{"error":{"code":"quota_exceeded","message":"monthly quota"}}"#,
        )
    })
    .await;
    let c = client(config(5));
    let err = c
        .execute(get(&c, &server.url("/x")), CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Stopped {
                reason: StopReason::Quota,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_streaming_body_is_sent_once() {
    let server = Server::start(|_, _| reply(503, "")).await;
    let c = client(config(5));
    // `Body::wrap` makes a streaming body: it cannot be cloned, so it cannot be sent again.
    let req = c
        .http()
        .put(server.url("/x"))
        .body(reqwest::Body::wrap(String::from("streamed")))
        .build()
        .unwrap();
    let err = c.execute(req, CallOptions::new()).await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::GaveUp {
                reason: GiveUpReason::AttemptsExhausted,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
    assert_eq!(server.seen()[0].body, b"streamed");
}

#[cfg(feature = "middleware")]
mod middleware {
    use super::*;
    use http_triage::client::TriageMiddleware;
    use reqwest_middleware::ClientBuilder;

    #[tokio::test]
    async fn the_middleware_retries_and_returns_the_final_response() {
        let server = Server::start(|n, _| match n {
            0 => reply(503, "busy"),
            1 => reply_with(429, &[("Retry-After", "0")], ""),
            _ => reply_with(200, &[("X-Custom", "kept")], "final body"),
        })
        .await;
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(TriageMiddleware::new(config(5)).unwrap())
            .build();
        let response = client
            .post(server.url("/v1/convert"))
            .body("data")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-custom"], "kept");
        assert_eq!(response.url().as_str(), server.url("/v1/convert"));
        assert_eq!(response.text().await.unwrap(), "final body");
        let seen = server.seen();
        assert_eq!(seen.len(), 3);
        let key = seen[0].header("idempotency-key").unwrap();
        assert!(seen
            .iter()
            .all(|s| s.header("idempotency-key") == Some(key)));
    }

    #[tokio::test]
    async fn the_middleware_returns_the_last_response_when_it_gives_up() {
        let server =
            Server::start(|_, _| reply_with(404, &[("X-Request-Id", "r-404")], "no such thing"))
                .await;
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(TriageMiddleware::new(config(5)).unwrap())
            .build();
        let response = client.get(server.url("/missing")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(response.text().await.unwrap(), "no such thing");
        assert_eq!(server.seen().len(), 1);
    }

    /// A middleware further down that fails with its own error.
    struct Broken;

    #[async_trait::async_trait]
    impl reqwest_middleware::Middleware for Broken {
        async fn handle(
            &self,
            _req: reqwest::Request,
            _extensions: &mut http::Extensions,
            _next: reqwest_middleware::Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            Err(reqwest_middleware::Error::Middleware(anyhow::anyhow!(
                "signing failed"
            )))
        }
    }

    #[tokio::test]
    async fn errors_of_other_middlewares_pass_through_untouched() {
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(TriageMiddleware::new(config(5)).unwrap())
            .with(Broken)
            .build();
        let err = client.get("http://127.0.0.1:9/x").send().await.unwrap_err();
        assert_eq!(err.to_string(), "signing failed");
    }

    #[tokio::test]
    async fn the_middleware_reports_transport_failures_as_a_call_error() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(TriageMiddleware::new(config(2)).unwrap())
            .build();
        let err = client
            .get(format!("http://{addr}/x"))
            .with_extension(CallOptions::new().with_deadline(Duration::from_secs(5)))
            .send()
            .await
            .unwrap_err();
        let reqwest_middleware::Error::Middleware(e) = err else {
            panic!("expected a middleware error, got {err:?}")
        };
        let call = e.downcast_ref::<CallError>().expect("a CallError inside");
        assert_eq!(call.attempts(), 2);
        assert_eq!(
            call.classification().unwrap().transport_error,
            Some(TransportError::ConnectRefused)
        );
    }
}
