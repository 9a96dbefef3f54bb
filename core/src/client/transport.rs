//! From reqwest's errors to the core's [`TransportError`], and bounded body reading.
//!
//! reqwest wraps hyper-util, which wraps hyper, the TLS backend and `std::io`. The kind is read
//! off the error and its `source()` chain, strongest evidence first:
//!
//! | evidence | kind |
//! |---|---|
//! | `is_dns()` (reqwest's resolver error), or hyper-util's `dns error` | `dns` |
//! | `is_connect()` and an `io::Error` of kind `ConnectionRefused` | `connect_refused` |
//! | `is_connect()` and `is_timeout()` (or an `io` `TimedOut`) | `connect_timeout` |
//! | `is_connect()`, an `https` URL, and no TCP-level error in the chain (hyper-util's `tcp …` errors) | `tls` |
//! | `is_connect()`, anything else (unreachable network, …): the request never left | `connect_refused` |
//! | `is_timeout()` otherwise: the attempt timeout ran out after the connection was made (or while connecting, on a client without a connect timeout: the conservative reading) | `timeout_after_send` |
//! | an `io` `ConnectionReset` / `ConnectionAborted` / `BrokenPipe` | `reset_before_response` |
//! | hyper's "connection closed before message completed", an `io` `UnexpectedEof`, anything else | `closed_before_response` |
//! | an error while reading a 2xx/3xx body (a timeout included) | `body_truncated` |
//!
//! The last fallback is the conservative one: the request may have reached the server.

use crate::classify::TransportError;
use std::error::Error as StdError;
use std::io;

/// Why a request could not be sent, as the loop needs it.
#[derive(Debug)]
pub(crate) enum SendFailure {
    /// A transport failure, with a description safe to log (no URL).
    Transport(TransportError, String),
    /// The request itself is unusable (reqwest's builder errors); nothing was sent.
    Invalid(String),
    /// An error from another middleware, passed through untouched.
    #[cfg(feature = "middleware")]
    Foreign(reqwest_middleware::Error),
    /// The answer came, but its body could not be written to the spill file.
    BodyWrite(String),
}

/// Classify a reqwest error from sending (not from reading a body).
pub(crate) fn send_failure(err: reqwest::Error, https: bool) -> SendFailure {
    let err = err.without_url();
    if err.is_builder() {
        return SendFailure::Invalid(error_chain(&err));
    }
    if err.is_redirect() {
        return SendFailure::Invalid(format!("redirect failed: {}", error_chain(&err)));
    }
    let kind = transport_kind(&err, https);
    SendFailure::Transport(kind, error_chain(&err))
}

/// The transport error kind of a reqwest error (see the module docs for the evidence used).
pub(crate) fn transport_kind(err: &reqwest::Error, https: bool) -> TransportError {
    let io_kind = io_kind_in_chain(err);
    if err.is_dns() || chain_any(err, |s| s == "dns error") {
        return TransportError::Dns;
    }
    if err.is_connect() {
        return match io_kind {
            Some(io::ErrorKind::ConnectionRefused) => TransportError::ConnectRefused,
            Some(io::ErrorKind::TimedOut) => TransportError::ConnectTimeout,
            _ if err.is_timeout() => TransportError::ConnectTimeout,
            _ if https && !chain_any(err, |s| s.starts_with("tcp ")) => TransportError::Tls,
            _ => TransportError::ConnectRefused,
        };
    }
    if err.is_timeout() {
        return TransportError::TimeoutAfterSend;
    }
    if err.is_body() || err.is_decode() {
        return TransportError::BodyTruncated;
    }
    match io_kind {
        Some(
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe,
        ) => TransportError::ResetBeforeResponse,
        Some(io::ErrorKind::TimedOut) => TransportError::TimeoutAfterSend,
        _ => TransportError::ClosedBeforeResponse,
    }
}

/// The error and its sources, outermost first (at most 16). An `io::Error` that wraps a custom
/// error hides it from `source()`, so it is looked into with `get_ref()`.
fn chain<'e>(err: &'e (dyn StdError + 'static)) -> Vec<&'e (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next: Option<&'e (dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        out.push(e);
        if out.len() >= 16 {
            break;
        }
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// The first `io::Error` kind in the source chain that says something (`Other` does not).
fn io_kind_in_chain(err: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    chain(err)
        .into_iter()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .map(io::Error::kind)
        .find(|k| *k != io::ErrorKind::Other)
}

/// True when the `Display` of the error or one of its sources satisfies `pred`.
fn chain_any(err: &(dyn StdError + 'static), pred: impl Fn(&str) -> bool) -> bool {
    chain(err).into_iter().any(|e| pred(&e.to_string()))
}

/// The error and its sources, joined by `: `, each line cut short. Callers strip URLs first
/// (`reqwest::Error::without_url`).
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    for e in chain(err).into_iter().take(8) {
        let text: String = e.to_string().chars().take(200).collect();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// A body as read: the bytes, whether the read stopped at the limit, and the error that cut it.
pub(crate) struct Body {
    pub(crate) bytes: Vec<u8>,
    pub(crate) capped: bool,
    pub(crate) error: Option<String>,
}

/// Read a body, at most `limit` bytes when given. Stops at the first error.
pub(crate) async fn read_body(response: &mut reqwest::Response, limit: Option<usize>) -> Body {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if let Some(limit) = limit {
                    let room = limit.saturating_sub(bytes.len());
                    if chunk.len() > room {
                        bytes.extend_from_slice(&chunk[..room]);
                        return Body {
                            bytes,
                            capped: true,
                            error: None,
                        };
                    }
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => {
                return Body {
                    bytes,
                    capped: false,
                    error: None,
                }
            }
            Err(e) => {
                return Body {
                    bytes,
                    capped: false,
                    error: Some(error_chain(&e.without_url())),
                }
            }
        }
    }
}

/// `host:port` (the port always written), the key of the per-host state.
pub(crate) fn host_key(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    if host.contains(':') && !host.starts_with('[') {
        Some(format!("[{host}]:{port}"))
    } else {
        Some(format!("{host}:{port}"))
    }
}

/// A 2xx/3xx body as read: in memory, or spilled to a file with only its head kept.
pub(crate) struct SuccessBody {
    /// The whole body, or (spilled, too large) its first bytes, enough to classify it.
    pub(crate) bytes: Vec<u8>,
    /// The body's length as far as it was read.
    pub(crate) len: u64,
    /// The body is in the spill file, not in `bytes`.
    pub(crate) spilled: bool,
    /// The body is longer than the caller's limit: reading stopped.
    pub(crate) too_large: bool,
    /// The connection broke while the body came.
    pub(crate) error: Option<String>,
    /// The spill file could not be written.
    pub(crate) write_error: Option<String>,
}

/// How much of a spilled body is written to the file at a time (reqwest hands out chunks of a
/// few KiB; each file write is a hop to the blocking pool).
const SPILL_BUFFER: usize = 1024 * 1024;

/// Read a 2xx/3xx body: stop when it grows past `max` (`too_large`), and once it grows past
/// `spill.above` bytes, stream it to `spill.path` (created or truncated) and keep only its first
/// `keep` bytes in memory. Memory stays under `spill.above` + `keep` + 1 MiB whatever the size.
pub(crate) async fn read_success_body(
    response: &mut reqwest::Response,
    max: Option<u64>,
    spill: Option<&super::Spill>,
    keep: usize,
) -> SuccessBody {
    use tokio::io::AsyncWriteExt;

    let mut out = SuccessBody {
        bytes: Vec::new(),
        len: 0,
        spilled: false,
        too_large: false,
        error: None,
        write_error: None,
    };
    if let (Some(max), Some(declared)) = (max, response.content_length()) {
        if declared > max {
            out.too_large = true;
            return out;
        }
    }
    let mut file: Option<tokio::io::BufWriter<tokio::fs::File>> = None;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                out.error = Some(error_chain(&e.without_url()));
                break;
            }
        };
        out.len = out.len.saturating_add(chunk.len() as u64);
        if max.is_some_and(|m| out.len > m) {
            out.too_large = true;
            break;
        }
        if let Some(f) = file.as_mut() {
            if let Err(e) = f.write_all(&chunk).await {
                out.write_error = Some(e.to_string());
                break;
            }
            continue;
        }
        out.bytes.extend_from_slice(&chunk);
        if let Some(spill) = spill.filter(|s| out.bytes.len() > s.above) {
            let opened = tokio::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&spill.path)
                .await;
            let mut f = match opened {
                Ok(f) => tokio::io::BufWriter::with_capacity(SPILL_BUFFER, f),
                Err(e) => {
                    out.write_error = Some(format!("cannot create {}: {e}", spill.path.display()));
                    break;
                }
            };
            if let Err(e) = f.write_all(&out.bytes).await {
                out.write_error = Some(e.to_string());
                break;
            }
            out.bytes.truncate(keep);
            out.bytes.shrink_to_fit();
            out.spilled = true;
            file = Some(f);
        }
    }
    if let Some(mut f) = file {
        // Flushed (tokio's file waits for its last write): the bytes are in the file. The caller
        // fsyncs if it must.
        if let Err(e) = f.flush().await {
            out.write_error.get_or_insert(e.to_string());
        }
    }
    out
}
