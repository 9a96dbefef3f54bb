//! Error envelopes: one parser for the many shapes APIs use to describe a failure.
//!
//! [`parse_envelope`] takes a body (bytes) and its content type and returns one normalized
//! [`Envelope`], whichever dialect the API speaks. It is bounded ([`Limits`]) and never panics.
//!
//! ## How a body is read
//!
//! 1. Only the first [`Limits::max_body_bytes`] bytes are looked at. A UTF-8 byte order mark is
//!    skipped. Bytes that are not UTF-8 give [`Dialect::Binary`] (a multi-byte character cut
//!    by the size cap, or at the end of a JSON body cut short, is tolerated).
//! 2. Nothing but whitespace: [`Dialect::Empty`] (or [`Dialect::Truncated`] when the size cap
//!    cut off whatever followed).
//! 3. A body starting with `{` or `[` is JSON:
//!    - when the outermost value does not close within the bytes looked at (the server cut it
//!      short, or it is longer than the cap) → [`Dialect::Truncated`];
//!    - else when it nests deeper than [`Limits::max_depth`] → [`Dialect::Json`]; no structure
//!      is built (the parser stops at the first bracket past the cap; bodies over 4 KiB, and
//!      every body cut by the size cap, are pre-scanned by a bracket counter that respects
//!      strings and allocates nothing);
//!    - else when it is not valid JSON (a syntax error, or anything but whitespace after the
//!      value) → [`Dialect::Text`];
//!    - else the dialect is detected from the shape (see [`Dialect`]).
//!
//!    In the first three cases a cheap scan salvages the first complete string values of
//!    `"error_code"`/`"code"` (→ code), `"message"`, else `"error"`, else `"detail"`
//!    (→ message) and `"request_id"`; a text body with no salvaged message takes its first
//!    line. None of the three sets [`Envelope::signals_error`].
//! 4. A body starting with `<`: an XML `<Error>` document ([`Dialect::AwsXml`]), an HTML page
//!    ([`Dialect::Html`], the `<title>`, else the first `<h1>`), or other markup read as text.
//! 5. A bare JSON scalar (`"Not Found"`, `404`, `null`) is [`Dialect::Json`]; anything else is
//!    [`Dialect::Text`]: the message is the first non-empty line.
//!
//! Kept strings are bounded: codes to 128 characters, messages to 1024 (200 for text and
//! HTML), ids and fields to 256, and at most 100 violations. `application/problem+json` as the
//! content type makes an object with any RFC 9457 member a problem document; otherwise
//! problems are recognized by shape. Where a member name appears twice, the last one wins.
//! `details` holds structured context as the server gave it, so its size is bounded only by
//! [`Limits::max_body_bytes`].

mod dialects;
mod json;
mod markup;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Codes are cut to this many characters.
pub(crate) const MAX_CODE: usize = 128;
/// JSON and XML messages are cut to this many characters.
pub(crate) const MAX_MESSAGE: usize = 1024;
/// Text lines and HTML titles are cut to this many characters.
pub(crate) const MAX_TEXT_LINE: usize = 200;
/// Request and reference ids are cut to this many characters.
pub(crate) const MAX_ID: usize = 256;
/// Violation fields are cut to this many characters.
pub(crate) const MAX_FIELD: usize = 256;
/// At most this many violations are kept.
pub(crate) const MAX_VIOLATIONS: usize = 100;
/// [`Limits::max_depth`] is capped here, whatever the caller asks for.
pub(crate) const HARD_MAX_DEPTH: usize = 128;
/// JSON bodies larger than this are pre-scanned for depth and completeness before parsing.
const PRESCAN_BYTES: usize = 4096;

/// Bounds on how much of a body the parser looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Only the first `max_body_bytes` of a body are examined. Default 64 KiB: error envelopes
    /// are small, and a 5 MB body must not cost more than this much parsing.
    pub max_body_bytes: usize,
    /// JSON nested deeper than this is not parsed as a structure. Default 32; values above
    /// 128 act as 128.
    pub max_depth: usize,
}

impl Limits {
    /// The defaults: 64 KiB, depth 32.
    pub const DEFAULT: Limits = Limits {
        max_body_bytes: 64 * 1024,
        max_depth: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Which shape the body had. Serialized in snake_case (`"google_rpc"`, `"problem"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Dialect {
    /// No body, or only whitespace.
    #[default]
    Empty,
    /// `{"error": {"code": "...", "message": "...", "details": {...}}}` (seed API 001).
    Nested,
    /// `{"error": "...", "detail": "...", "error_code": "...", "retryable": b, "request_id": "..."}` (seed 002).
    Flat,
    /// `{"error": "...", "error_code": "..."}` (seed 003).
    Minimal,
    /// `{"detail": "..."}` (Django REST framework / FastAPI string detail).
    Detail,
    /// RFC 9457 / RFC 7807 `application/problem+json`.
    Problem,
    /// `google.rpc.Status`: `{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [...]}}`.
    GoogleRpc,
    /// JSON:API `{"errors": [{"status", "code", "title", "detail", "source"}]}`.
    JsonApi,
    /// GraphQL `{"errors": [{"message", "extensions": {"code"}}], "data": ...}`.
    Graphql,
    /// Stripe `{"error": {"type", "code", "message", "param", "doc_url"}}`.
    Stripe,
    /// OpenAI `{"error": {"message", "type", "param", "code"}}`.
    Openai,
    /// Anthropic `{"type": "error", "error": {"type", "message"}}`.
    Anthropic,
    /// Azure / OData `{"error": {"code", "message", "target", "details", "innererror"}}` and `odata.error`.
    Azure,
    /// AWS JSON protocols: `{"__type": "...", "message": "..."}`.
    AwsJson,
    /// AWS XML: `<Error><Code>..</Code><Message>..</Message></Error>` (S3, EC2's `<Response><Errors>`).
    AwsXml,
    /// FastAPI / pydantic `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
    Fastapi,
    /// Django REST framework field dict `{"field": ["msg", ...], "non_field_errors": [...]}`.
    Drf,
    /// Spring Boot `{"timestamp", "status", "error", "message", "path"}`.
    SpringBoot,
    /// Kubernetes `{"kind": "Status", "status": "Failure", "reason", "message", "code"}`.
    Kubernetes,
    /// OAuth 2.0 (RFC 6749 §5.2, RFC 6750): `{"error": "invalid_grant", "error_description": "..."}`;
    /// the code is `error`.
    Oauth,
    /// A 2xx-style body that says it failed: `{"ok": false, "error": ...}`, `{"success": false, ...}`.
    OkFalse,
    /// Any other JSON.
    Json,
    /// An HTML page (a gateway's 502 page): the message is its `<title>`.
    Html,
    /// Plain text: the message is its first line.
    Text,
    /// JSON cut short (by the server, or by [`Limits::max_body_bytes`]); fields are salvaged.
    Truncated,
    /// Bytes that are not UTF-8 text.
    Binary,
}

impl Dialect {
    /// The snake_case name used in JSON, the CLI and the vectors.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Empty => "empty",
            Dialect::Nested => "nested",
            Dialect::Flat => "flat",
            Dialect::Minimal => "minimal",
            Dialect::Detail => "detail",
            Dialect::Problem => "problem",
            Dialect::GoogleRpc => "google_rpc",
            Dialect::JsonApi => "json_api",
            Dialect::Graphql => "graphql",
            Dialect::Stripe => "stripe",
            Dialect::Openai => "openai",
            Dialect::Anthropic => "anthropic",
            Dialect::Azure => "azure",
            Dialect::AwsJson => "aws_json",
            Dialect::AwsXml => "aws_xml",
            Dialect::Fastapi => "fastapi",
            Dialect::Drf => "drf",
            Dialect::SpringBoot => "spring_boot",
            Dialect::Kubernetes => "kubernetes",
            Dialect::Oauth => "oauth",
            Dialect::OkFalse => "ok_false",
            Dialect::Json => "json",
            Dialect::Html => "html",
            Dialect::Text => "text",
            Dialect::Truncated => "truncated",
            Dialect::Binary => "binary",
        }
    }
}

/// One field-level problem reported by the server (validation errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Dotted path of the offending field (`body.name`, `items.0.sku`), or `""` when not given.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The normalized error record: what an error body says, whatever its dialect.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Envelope {
    /// Which shape the body had.
    pub dialect: Dialect,
    /// Machine-readable error code (`"rate_limited"`, `"RESOURCE_EXHAUSTED"`, `"ThrottlingException"`).
    pub code: Option<String>,
    /// Human-readable message (may change wording: never match on it).
    pub message: Option<String>,
    /// Structured extra context as the server gave it.
    pub details: Option<Value>,
    /// The server's id for this request, when the body carries one.
    pub request_id: Option<String>,
    /// A second support reference (`reference_id`, `instance`, …).
    pub reference_id: Option<String>,
    /// The body's own word on retrying (`"retryable": true`).
    pub retryable: Option<bool>,
    /// A delay the body asks for (`details.retry_after`, Google `RetryInfo.retryDelay`).
    pub retry_after: Option<Duration>,
    /// Field-level problems.
    pub violations: Vec<Violation>,
    /// True when the body itself says the call failed (`ok: false`, GraphQL `errors` without
    /// data, an error object): lets a 2xx that carries an error be told from a real success.
    pub signals_error: bool,
}

/// The longest prefix of `s` with at most `max_chars` characters.
pub(crate) fn cut(s: &str, max_chars: usize) -> &str {
    json::cut_chars(s, max_chars)
}

/// Parse an error body into an [`Envelope`]. Never panics; never reads past
/// `limits.max_body_bytes`; allocates in proportion to at most that many bytes. See the
/// [module docs](self) for the order in which a body is read.
pub fn parse_envelope(body: &[u8], content_type: Option<&str>, limits: &Limits) -> Envelope {
    let cut_off = body.len() > limits.max_body_bytes;
    let seen = body.get(..limits.max_body_bytes).unwrap_or(body);
    let seen = seen
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(seen);
    let text = match std::str::from_utf8(seen) {
        Ok(s) => s,
        Err(e) => {
            // A character cut in two at the end is tolerated when the size cap did the cutting
            // or the body is JSON cut short; anything else is not text.
            let valid = seen.get(..e.valid_up_to()).unwrap_or_default();
            let json_like = matches!(valid.trim_ascii_start().first(), Some(b'{' | b'['));
            match std::str::from_utf8(valid) {
                Ok(s) if e.error_len().is_none() && (cut_off || json_like) => s,
                _ => return with_dialect(Dialect::Binary),
            }
        }
    };
    let body = text.trim_start_matches([' ', '\t', '\r', '\n', '\u{c}']);
    let ct = ContentType::of(content_type);
    match body.as_bytes().first() {
        None if cut_off => with_dialect(Dialect::Truncated),
        None => with_dialect(Dialect::Empty),
        Some(b'{' | b'[') => json_body(body, cut_off, ct, limits),
        Some(b'<') => markup::markup(body, ct == ContentType::Html),
        Some(b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => scalar_body(body),
        Some(_) => markup::text(body),
    }
}

fn with_dialect(dialect: Dialect) -> Envelope {
    Envelope {
        dialect,
        ..Envelope::default()
    }
}

/// What the content type says, as far as the parser cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentType {
    Problem,
    Html,
    Other,
}

impl ContentType {
    fn of(ct: Option<&str>) -> ContentType {
        let Some(ct) = ct else {
            return ContentType::Other;
        };
        let essence = ct.split(';').next().unwrap_or(ct).trim();
        if essence.eq_ignore_ascii_case("application/problem+json") {
            ContentType::Problem
        } else if essence.eq_ignore_ascii_case("text/html")
            || essence.eq_ignore_ascii_case("application/xhtml+xml")
        {
            ContentType::Html
        } else {
            ContentType::Other
        }
    }
}

fn json_body(body: &str, cut_off: bool, ct: ContentType, limits: &Limits) -> Envelope {
    let max_depth = limits.max_depth.min(HARD_MAX_DEPTH);
    if cut_off || body.len() > PRESCAN_BYTES {
        let s = json::structure(body, max_depth);
        if !s.closes {
            return salvaged(body, Dialect::Truncated);
        }
        if s.too_deep {
            return salvaged(body, Dialect::Json);
        }
    }
    match json::parse(body, max_depth) {
        Ok((tree, end)) => {
            if body.get(end..).is_some_and(|rest| rest.trim().is_empty()) {
                dialects::detect(&tree, ct == ContentType::Problem)
            } else {
                salvaged(body, Dialect::Text)
            }
        }
        Err(json::Fail::Eof) => salvaged(body, Dialect::Truncated),
        Err(_) => {
            let s = json::structure(body, max_depth);
            if !s.closes {
                salvaged(body, Dialect::Truncated)
            } else if s.too_deep {
                salvaged(body, Dialect::Json)
            } else {
                salvaged(body, Dialect::Text)
            }
        }
    }
}

/// A body that is a JSON scalar, or text that merely starts like one ("404 page not found").
fn scalar_body(body: &str) -> Envelope {
    match json::parse(body, 0) {
        Ok((tree, end)) if body.get(end..).is_some_and(|r| r.trim().is_empty()) => {
            dialects::detect(&tree, false)
        }
        Err(json::Fail::Eof) if body.starts_with('"') => with_dialect(Dialect::Truncated),
        _ => markup::text(body),
    }
}

/// Code, message and request id pulled out of JSON that could not be parsed.
fn salvaged(body: &str, dialect: Dialect) -> Envelope {
    let g = json::salvage(body);
    let text = |v: Option<(&str, bool)>, max: usize| -> Option<String> {
        let (raw, esc) = v?;
        let s = json::decode(raw.trim_start(), esc, max);
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    let mut env = with_dialect(dialect);
    env.code = text(g.error_code, MAX_CODE).or_else(|| text(g.code, MAX_CODE));
    env.message = text(g.message, MAX_MESSAGE)
        .or_else(|| text(g.error, MAX_MESSAGE))
        .or_else(|| text(g.detail, MAX_MESSAGE));
    env.request_id = text(g.request_id, MAX_ID);
    if dialect == Dialect::Text && env.message.is_none() {
        env.message = markup::first_line(body);
    }
    env
}
