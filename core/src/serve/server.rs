//! The HTTP server: hyper 1, HTTP/1.1 with keep-alive, one task per connection.

use super::errors::{render, ApiError, BAD_GATEWAY_HTML};
use super::store::{Claim, IdemStore, Limit, Verdict};
use super::stream::{AnswerBody, ConvertedReader};
use super::{
    converted_with_digest, fate_of_digest, sha256, Fate, PermanentKind, RateHeaders, ServeConfig,
    Stats, TransientKind,
};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How many distinct conversions are remembered to count duplicates.
const CONVERTED_CAP: usize = 1_000_000;

type Body = AnswerBody;

/// A running fake API. Dropping it stops accepting connections; [`Server::shutdown`] also
/// waits (at most about 2 s) for open connections to finish.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    config: ServeConfig,
    outage: AtomicBool,
    next_request: AtomicU64,
    nonce: u32,
    /// Rate limits and their changes count from here.
    started: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    stats: Stats,
    /// Failures served so far per content sha256, for transient fates.
    served_failures: HashMap<[u8; 32], u32>,
    idem: IdemStore,
    /// Fingerprints (content + target) converted so far.
    converted: HashSet<[u8; 32]>,
    /// Rate-limit state per key.
    limits: HashMap<String, Limit>,
}

/// The error a service returns to make hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

impl Server {
    /// Bind `127.0.0.1:config.port` and start serving on the current tokio runtime.
    /// Fails with `InvalidInput` when [`ServeConfig::validate`] does, or with the bind error.
    pub async fn start(config: ServeConfig) -> std::io::Result<Server> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0)
            ^ u32::from(addr.port());
        let shared = Arc::new(Shared {
            outage: AtomicBool::new(config.outage),
            next_request: AtomicU64::new(1),
            nonce,
            started: Instant::now(),
            inner: Mutex::new(Inner {
                stats: Stats::default(),
                served_failures: HashMap::new(),
                idem: IdemStore::new(config.idempotency_capacity),
                converted: HashSet::new(),
                limits: HashMap::new(),
            }),
            config,
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stop_rx));
        tracing::debug!(%addr, "serve: listening");
        Ok(Server {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The bound address (127.0.0.1 and the actual port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full conversion URL for a target: `http://127.0.0.1:PORT/v1/convert?target=EXT`.
    pub fn convert_url(&self, target: &str) -> String {
        format!("http://{}/v1/convert?target={target}", self.addr)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// Turn the outage on (every `/v1/convert` answers 503) or off, at runtime.
    pub fn set_outage(&self, on: bool) {
        self.shared.outage.store(on, Ordering::SeqCst);
    }

    /// The configuration the server was started with (the outage flag as at start).
    pub fn config(&self) -> &ServeConfig {
        &self.shared.config
    }

    /// Stop accepting, let open connections finish their current request (hangs are cut after
    /// about a second), and wait for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a request from the key's limiter, when a limit is in force now.
    fn take_rate(&self) -> Option<Verdict> {
        let config = &self.config;
        let elapsed = self.started.elapsed();
        let rate = config.rate_at(elapsed)?;
        let capacity = config.burst.unwrap_or(rate);
        let mut inner = self.lock();
        let limit = inner
            .limits
            .entry(config.api_key.clone())
            .or_insert_with(|| Limit::new(config.limiter, capacity, elapsed));
        Some(limit.check(rate, capacity, config.window_secs, elapsed, true))
    }

    /// A converted answer: the head line and the input, or a streamed body of
    /// `output_bytes`.
    fn converted_answer(
        &self,
        bytes: &Bytes,
        digest: &[u8; 32],
        target: &str,
        request_id: &str,
        headers: &[(&'static str, String)],
    ) -> Response<Body> {
        match self.config.output_bytes {
            None => response(
                200,
                "application/octet-stream",
                converted_with_digest(bytes, digest, target),
                request_id,
                headers,
            ),
            Some(size) => {
                let mut resp = response(
                    200,
                    "application/octet-stream",
                    Vec::new(),
                    request_id,
                    headers,
                );
                *resp.body_mut() = AnswerBody::Stream(ConvertedReader::with_digest(
                    bytes.clone(),
                    digest,
                    target,
                    size,
                ));
                resp
            }
        }
    }

    fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("req_{:08x}{:012x}", self.nonce, n)
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, shared.clone(), stop.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off a little.
                    tracing::warn!(error = %e, "serve: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    if *stop.borrow() {
        return;
    }
    let io = TokioIo::new(stream);
    let svc = service_fn(move |req| handle(shared.clone(), req));
    let mut builder = http1::Builder::new();
    // No header read timeout: an idle keep-alive connection stays open until the client closes
    // it, so a client never races the server's idle close (which would look like a fault).
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(None);
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await;
        }
    }
}

/// Build a response; header names and values that are not valid are skipped (never a panic).
fn response(
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    request_id: &str,
    headers: &[(&'static str, String)],
) -> Response<Body> {
    let mut resp = Response::new(AnswerBody::full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    resp
}

/// Render an error; when `counted`, count it in the stats.
fn error_response(
    shared: &Shared,
    e: &ApiError,
    request_id: &str,
    counted: bool,
) -> Response<Body> {
    let reference = if counted {
        let mut inner = shared.lock();
        let s = &mut inner.stats;
        *s.by_status.entry(e.status).or_insert(0) += 1;
        match (e.status, e.code) {
            (429, "quota_exceeded") => s.quota_rejections += 1,
            (429, _) => s.rate_limited += 1,
            (401, _) => s.auth_failures += 1,
            (409, _) => s.in_flight_conflicts += 1,
            (_, "idempotency_key_reuse") => s.idempotency_mismatches += 1,
            _ => {}
        }
        s.requests
    } else {
        0
    };
    let (ct, body) = render(e, shared.config.dialect, request_id, reference);
    response(e.status, ct, body, request_id, &e.headers)
}

/// The headers a browser may read from another origin.
const CORS_EXPOSE: &str = "Retry-After, retry-after-ms, X-RateLimit-Limit, X-RateLimit-Remaining, \
X-RateLimit-Reset, RateLimit, RateLimit-Policy, X-Request-Id, Idempotent-Replayed, Original-Request-Id";

/// Answer one request; with `cors`, answer preflights and mark every answer readable from any
/// origin.
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    if !shared.config.cors {
        return route(shared, req).await;
    }
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        let mut r = Response::new(AnswerBody::full(Vec::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, HEAD, POST, OPTIONS"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("Authorization, Idempotency-Key, Content-Type"),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
        r
    } else {
        route(shared, req).await?
    };
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(CORS_EXPOSE),
    );
    Ok(resp)
}

async fn route(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let request_id = shared.request_id();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (path.as_str(), method) {
        ("/v1/convert", Method::POST) => {
            let mut rate = None;
            let mut resp = convert(&shared, req, &request_id, &mut rate).await?;
            if let Some(v) = rate {
                add_rate_headers(resp.headers_mut(), shared.config.rate_headers, &v);
            }
            Ok(resp)
        }
        ("/healthz", Method::GET | Method::HEAD) => Ok(response(
            200,
            "text/plain; charset=utf-8",
            b"ok\n".to_vec(),
            &request_id,
            &[],
        )),
        ("/stats", Method::GET) => {
            let stats = shared.lock().stats.clone();
            let body = serde_json::to_vec(&stats).unwrap_or_default();
            Ok(response(200, "application/json", body, &request_id, &[]))
        }
        ("/v1/convert" | "/healthz" | "/stats", m) => {
            let e = ApiError::new(
                405,
                "method_not_allowed",
                format!("method {m} is not allowed on {path}"),
            )
            .header("Allow", if path == "/v1/convert" { "POST" } else { "GET" });
            Ok(error_response(&shared, &e, &request_id, false))
        }
        _ => {
            let e = ApiError::new(404, "not_found", format!("no route for {path}"));
            Ok(error_response(&shared, &e, &request_id, false))
        }
    }
}

/// The `target` query parameter, if present and 1–16 ASCII letters or digits.
fn target_of(query: Option<&str>) -> Option<String> {
    let query = query?;
    let mut found = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "target" {
            found = Some(v);
        }
    }
    let v = found?;
    if (1..=16).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Some(v.to_owned())
    } else {
        None
    }
}

fn bearer(req_headers: &http::HeaderMap) -> Option<&str> {
    let v = req_headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.trim())
    } else {
        None
    }
}

/// Compare without stopping at the first difference.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Releases an in-flight Idempotency-Key when the request ends without a result to keep
/// (an error, a drop, or the client going away mid-request).
struct KeyGuard<'a> {
    shared: &'a Shared,
    key: String,
    token: u64,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().idem.release(&self.key, self.token);
    }
}

fn permanent_error(kind: PermanentKind, target: &str, max_body: u64) -> ApiError {
    let message = match kind {
        PermanentKind::Corrupted => "The file appears corrupted or truncated.".to_owned(),
        PermanentKind::Encrypted => "The file is password-protected.".to_owned(),
        PermanentKind::UnsupportedVariant => {
            format!("This variant of the source format cannot be converted to {target}.")
        }
        PermanentKind::TooLarge => "The file exceeds the active plan's max size.".to_owned(),
        PermanentKind::BadRequest => {
            format!(
                "The request could not be processed: the file is not a valid source for {target}."
            )
        }
    };
    let e = ApiError::new(kind.status(), kind.code(), message);
    match kind {
        PermanentKind::TooLarge => e.details(json!({ "max_bytes": max_body })),
        _ => e,
    }
}

/// Answer a conversion. `rate` receives the limiter's state once the request met it (for the
/// rate-limit headers).
async fn convert(
    shared: &Shared,
    req: Request<Incoming>,
    request_id: &str,
    rate: &mut Option<Verdict>,
) -> Result<Response<Body>, DropConnection> {
    let config = &shared.config;
    shared.lock().stats.requests += 1;
    let (parts, body) = req.into_parts();

    // The body first (bounded), so that an early answer never breaks the client's upload.
    let too_large = || {
        ApiError::new(
            413,
            "file_too_large",
            format!("The body exceeds {} bytes.", config.max_body_bytes),
        )
        .details(json!({ "max_bytes": config.max_body_bytes }))
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes) {
        return Ok(error_response(shared, &too_large(), request_id, true));
    }
    let limit = usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX);
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Ok(error_response(shared, &too_large(), request_id, true));
        }
        // The client went away mid-upload: nobody to answer.
        Err(_) => return Err(DropConnection),
    };

    if shared.outage.load(Ordering::SeqCst) {
        let e = ApiError::new(
            503,
            "service_unavailable",
            "Conversion engine temporarily unavailable.",
        );
        return Ok(error_response(shared, &e, request_id, true));
    }

    match bearer(&parts.headers) {
        Some(k) if same_key(k, &config.api_key) => {}
        _ => {
            let e = ApiError::new(401, "invalid_api_key", "Header missing or revoked key.");
            return Ok(error_response(shared, &e, request_id, true));
        }
    }

    // The limit is checked as a gateway would: before any work, so a 429 costs nothing (no
    // latency, no conversion).
    if let Some(v) = shared.take_rate() {
        *rate = Some(v);
        if let Some(wait_ms) = v.refused_ms {
            let secs = wait_ms.div_ceil(1000).max(1);
            let mut e = ApiError::new(
                429,
                "rate_limited",
                format!("Rate limit exceeded. Try again in {secs}s."),
            )
            .details(
                json!({ "retry_after": secs, "limit": v.limit, "window_seconds": v.window_secs }),
            )
            .header("Retry-After", secs.to_string());
            if config.retry_after_ms {
                e = e.header("retry-after-ms", wait_ms.to_string());
            }
            return Ok(error_response(shared, &e, request_id, true));
        }
    }

    let Some(target) = target_of(parts.uri.query()) else {
        let e = ApiError::new(
            400,
            "bad_request",
            "Missing or invalid `target` query parameter (1-16 ASCII letters or digits).",
        )
        .details(json!({ "field": "target" }));
        return Ok(error_response(shared, &e, request_id, true));
    };
    if bytes.is_empty() {
        let e = ApiError::new(400, "bad_request", "Empty body: send the file's bytes.");
        return Ok(error_response(shared, &e, request_id, true));
    }

    let digest = sha256(&bytes);
    let fingerprint = {
        let mut fp = Vec::with_capacity(64);
        fp.extend_from_slice(b"fingerprint\0");
        fp.extend_from_slice(target.as_bytes());
        fp.push(0);
        fp.extend_from_slice(&digest);
        sha256(&fp)
    };

    // Idempotency-Key: replay, conflict, mismatch, or claim.
    let idem_key = match parts.headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if (1..=255).contains(&k.len()) => Some(k.to_owned()),
            _ => {
                let e = ApiError::new(
                    400,
                    "bad_request",
                    "Idempotency-Key must be 1-255 visible ASCII characters.",
                );
                return Ok(error_response(shared, &e, request_id, true));
            }
        },
    };
    let mut guard = None;
    if let Some(key) = idem_key {
        let claim = shared.lock().idem.claim(&key, fingerprint);
        match claim {
            Claim::Claimed(token) => guard = Some(KeyGuard { shared, key, token }),
            Claim::InFlight => {
                let e = ApiError::new(
                    409,
                    "bad_request",
                    "A request with this Idempotency-Key is still in flight; retry after Retry-After.",
                )
                .details(json!({ "reason": "idempotency_key_in_flight", "retry_after": 1 }))
                .header("Retry-After", "1");
                return Ok(error_response(shared, &e, request_id, true));
            }
            Claim::Mismatch => {
                let e = ApiError::new(
                    422,
                    "idempotency_key_reuse",
                    "This Idempotency-Key was used with a different payload; issue a new key.",
                );
                return Ok(error_response(shared, &e, request_id, true));
            }
            Claim::Replay {
                request_id: original,
            } => {
                {
                    let mut inner = shared.lock();
                    inner.stats.replays += 1;
                    *inner.stats.by_status.entry(200).or_insert(0) += 1;
                }
                return Ok(shared.converted_answer(
                    &bytes,
                    &digest,
                    &target,
                    request_id,
                    &[
                        ("Idempotent-Replayed", "true".to_owned()),
                        ("Original-Request-Id", original),
                    ],
                ));
            }
        }
    }

    let quota_error = |used: u64, limit: u64| {
        ApiError::new(429, "quota_exceeded", "Monthly conversion quota exceeded.")
            .details(json!({ "limit": limit, "used": used }))
    };
    if let Some(q) = config.quota {
        let used = shared.lock().stats.quota_used;
        if used >= q {
            return Ok(error_response(
                shared,
                &quota_error(used, q),
                request_id,
                true,
            ));
        }
    }

    if config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
    }

    match fate_of_digest(&digest, config) {
        Fate::Ok => {}
        Fate::Permanent(kind) => {
            let e = permanent_error(kind, &target, config.max_body_bytes);
            return Ok(error_response(shared, &e, request_id, true));
        }
        Fate::Transient { failures, kind } => {
            let fail_now = {
                let mut inner = shared.lock();
                let n = inner.served_failures.entry(digest).or_insert(0);
                if *n < failures {
                    *n += 1;
                    match kind {
                        TransientKind::Drop => inner.stats.dropped += 1,
                        TransientKind::Hang => inner.stats.hangs += 1,
                        _ => {}
                    }
                    true
                } else {
                    false
                }
            };
            if fail_now {
                return transient_failure(shared, kind, request_id).await;
            }
        }
    }

    // Convert: count, remember, and answer, atomically with respect to other requests.
    let refused = {
        let mut inner = shared.lock();
        let used = inner.stats.quota_used;
        match config.quota {
            Some(q) if used >= q => Some((used, q)),
            _ => {
                inner.stats.conversions += 1;
                inner.stats.quota_used += 1;
                if inner.converted.contains(&fingerprint) {
                    inner.stats.duplicate_conversions += 1;
                } else if inner.converted.len() < CONVERTED_CAP {
                    inner.converted.insert(fingerprint);
                }
                if let Some(g) = &guard {
                    inner.idem.complete(&g.key, g.token, request_id);
                }
                *inner.stats.by_status.entry(200).or_insert(0) += 1;
                None
            }
        }
    };
    if let Some((used, q)) = refused {
        return Ok(error_response(
            shared,
            &quota_error(used, q),
            request_id,
            true,
        ));
    }
    drop(guard);
    Ok(shared.converted_answer(&bytes, &digest, &target, request_id, &[]))
}

async fn transient_failure(
    shared: &Shared,
    kind: TransientKind,
    request_id: &str,
) -> Result<Response<Body>, DropConnection> {
    let e = match kind {
        TransientKind::Drop => return Err(DropConnection),
        TransientKind::Status502Html => {
            *shared.lock().stats.by_status.entry(502).or_insert(0) += 1;
            return Ok(response(
                502,
                "text/html",
                BAD_GATEWAY_HTML.as_bytes().to_vec(),
                request_id,
                &[],
            ));
        }
        TransientKind::Status500 => ApiError::new(
            500,
            "internal_error",
            "An unexpected error occurred while processing your request. Please try again.",
        ),
        TransientKind::Status503 => ApiError::new(
            503,
            "service_unavailable",
            "Conversion engine temporarily unavailable.",
        )
        .header("Retry-After", "1"),
        TransientKind::Status504 => ApiError::new(
            504,
            "gateway_timeout",
            "The backend did not respond in time. Please try again.",
        ),
        TransientKind::Hang => {
            tokio::time::sleep(Duration::from_millis(shared.config.hang_ms)).await;
            ApiError::new(
                504,
                "gateway_timeout",
                "The backend did not respond in time. Please try again.",
            )
        }
    };
    Ok(error_response(shared, &e, request_id, true))
}

/// The rate-limit headers of `style` for the limiter's state `v` (resets in delta seconds,
/// rounded up).
fn add_rate_headers(h: &mut http::HeaderMap, style: RateHeaders, v: &Verdict) {
    let reset = v.reset_ms.div_ceil(1000);
    let pairs: Vec<(&'static str, String)> = match style {
        RateHeaders::XRateLimit => vec![
            ("x-ratelimit-limit", v.limit.to_string()),
            ("x-ratelimit-remaining", v.remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ],
        RateHeaders::Ietf => vec![
            (
                "ratelimit",
                format!("\"default\";r={};t={reset}", v.remaining),
            ),
            (
                "ratelimit-policy",
                format!("\"default\";q={};w={}", v.limit, v.window_secs),
            ),
        ],
        _ => Vec::new(),
    };
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), value);
        }
    }
}
