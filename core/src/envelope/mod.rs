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
//! 6. A `text/event-stream` (or a body starting with `event:`/`data:`): the first `error`
//!    event, or `data:` object with an `error` member, read as JSON as above (LLM APIs answer
//!    200 and report failures mid-stream); without one, [`Dialect::EventStream`].
//!
//! Whatever the shape, when no structured wait was found the message is read for a wait
//! written in prose, strictly: "Try again in 12s.", "Please retry after 22 seconds", "retry
//! after 8" (a phrase that asks to come back, then at once a number and a unit; "retry after"
//! alone may omit the unit). "Try again later" or "in a few minutes" give no wait.
//!
//! Kept strings are bounded: codes to 128 characters, messages to 1024 (200 for text and
//! HTML), ids and fields to 256, and at most 100 violations. `application/problem+json` as the
//! content type makes an object with any RFC 9457 member a problem document; otherwise
//! problems are recognized by shape. Where a member name appears twice, the last one wins.
//! `details` holds structured context as the server gave it, kept as its JSON text and parsed
//! only when asked ([`Details`]), so its size is bounded only by [`Limits::max_body_bytes`].

mod dialects;
mod float;
pub(crate) use dialects::GRPC_CODES;
mod json;
mod markup;
mod prose;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
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
///
/// JSON objects are tried in this order (the first match wins): Kubernetes, Anthropic,
/// ok-false flags, Dropbox, Apigee, problem, OData, OpenAI-compatible `object: "error"`, AWS JSON, an
/// `error` object (Facebook Graph, Google, Stripe, OpenAI, Azure, nested), Spring Boot,
/// PayPal, Atlassian, an `errors` member (GraphQL, JSON:API, plain lists), an `error` string
/// or `error_code` (OAuth, flat, minimal), `detail` (FastAPI, detail), a bare
/// `google.rpc.Status`, a DRF field dict, and last plain JSON. A top-level array is read
/// through its first element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Dialect {
    /// No body, or only whitespace (a UTF-8 byte order mark included).
    #[default]
    Empty,
    /// `{"error": {"code": "...", "message": "...", "details": {...}}}` (seed API 001): an
    /// `error` object with a code or message that no vendor dialect claims. The code may be a
    /// number (`404` → `"404"`), else `error.type`; `details.retry_after` (seconds) is the
    /// retry hint; `details` is kept as given.
    Nested,
    /// `{"error": "...", "detail": "...", "error_code": "...", "retryable": b, "request_id": "..."}`
    /// (seed 002): `error_code` or an `error` string together with `detail`, `retryable`,
    /// `request_id` or `reference_id`. The message is `detail` (more precise than `error`);
    /// a pydantic `detail` array becomes violations and the message falls back to `error`.
    Flat,
    /// `{"error": "...", "error_code": "..."}` (seed 003), and any other `error` string (NestJS
    /// and Boom add `statusCode` and a `message`, which is preferred). Without `error_code`, an
    /// `error` that reads as a code (`"rate_limited"`) is also the code.
    Minimal,
    /// `{"detail": "..."}` or `{"detail": {...}}` with at most `code`/`status`/`messages`
    /// beside it (FastAPI `HTTPException`, Django REST framework).
    Detail,
    /// RFC 9457 / RFC 7807 problem details: by the content type `application/problem+json`
    /// (any of `type`/`title`/`status`/`detail`/`instance`), or by shape (a URI `type` with a
    /// `title`, `status` or `detail`; or a `title` with an error `status`). The code is a `code`
    /// or `error_code` extension, else the last path segment of `type` (none for `about:blank`
    /// or links to the RFCs); the message is `detail`, else `title`; `instance` is the
    /// reference id; `errors` and `invalid-params` become violations; extension members are
    /// the details.
    Problem,
    /// `google.rpc.Status` (AIP-193): `{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
    /// "details": [...]}}` (a numeric code with a `status`, `@type`d details, or the legacy
    /// `errors[]`), or bare `{"code": 8, "message", "details": []}`. The code is `status`, else
    /// the `ErrorInfo` reason, else the legacy `errors[0].reason`, else the canonical name of a
    /// gRPC code number. `RetryInfo.retryDelay` → retry hint, `BadRequest.fieldViolations` →
    /// violations, `RequestInfo.requestId` → request id; `details` is the details array.
    GoogleRpc,
    /// JSON:API `{"errors": [{"status", "code", "title", "detail", "source"}]}` (an element with
    /// `title`, `detail`, `source` or a string `status`). The code is the first `code`, else
    /// `title`; `source.pointer` (as a dotted path) or `source.parameter` → violations.
    JsonApi,
    /// GraphQL `{"errors": [{"message", "extensions": {"code"}}], "data": ...}` (an element with
    /// `extensions`, `locations` or `path`, or `data` beside the list, or message-only
    /// elements). The code is the first `extensions.code`, else `type` (GitHub), else
    /// `extensions.classification` (graphql-java); signals an error when the list is not empty.
    Graphql,
    /// Stripe `{"error": {"type", "code", "message", "param", "doc_url"}}`: an `error` object
    /// with a Stripe-only member (`doc_url`, `decline_code`, `request_log_url`, …). The code is
    /// `code`, else `type`; the other members are the details.
    Stripe,
    /// OpenAI `{"error": {"message", "type", "param", "code"}}` (a `param` member, or a string
    /// `type` with a `code` member), and unwrapped `{"object": "error", ...}`. The code is
    /// `code` when it is a string (`insufficient_quota`), else `type`; the other members are the
    /// details.
    Openai,
    /// Anthropic `{"type": "error", "error": {"type", "message"}, "request_id"}`; the code is
    /// `error.type` (`overloaded_error`).
    Anthropic,
    /// Azure / OData `{"error": {"code", "message", "target", "details", "innererror"}}` (a
    /// string code with `target`, a `details` array or `innererror`) and
    /// `{"odata.error": {"code", "message": {"lang", "value"}}}`. Details with a `target` become
    /// violations; `details` is the details array, else `innererror`.
    Azure,
    /// AWS JSON protocols: `{"__type": "com.amazon.coral.service#ThrottlingException",
    /// "message": "..."}`; the code is the part after `#` (and before any `:`).
    AwsJson,
    /// AWS XML: `<Error><Code>..</Code><Message>..</Message></Error>` (S3, Azure Storage, the
    /// Query protocol's `<ErrorResponse>`, EC2's `<Response><Errors>`); `RequestId`/`RequestID`
    /// → request id, S3's `HostId` → reference id.
    AwsXml,
    /// FastAPI / pydantic `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`: each item
    /// is a violation (`loc` joined by `.`); the message is the first `msg`.
    Fastapi,
    /// Django REST framework field dict `{"field": ["msg", ...], "non_field_errors": [...]}`:
    /// every member a list of sentences ending in `.` (or nested dicts of them, one level);
    /// `non_field_errors` has the field `""`.
    Drf,
    /// Spring Boot `{"timestamp", "status", "error", "message", "path"}` with an error status;
    /// the message is `message` unless empty or "No message available", else `error`; binding
    /// `errors` become violations.
    SpringBoot,
    /// Kubernetes `{"kind": "Status", "status": "Failure", "reason", "message", "code"}`; the
    /// code is `reason`, `details.retryAfterSeconds` the retry hint, `details.causes`
    /// violations. Signals an error only for `"status": "Failure"`.
    Kubernetes,
    /// OAuth 2.0 (RFC 6749 §5.2, RFC 6750): `{"error": "invalid_grant", "error_description": "..."}`;
    /// the code is `error`.
    Oauth,
    /// A 2xx-style body that says it failed: `{"ok": false, ...}`, `{"success": false, ...}`,
    /// `{"error": true, ...}`, JSend `{"status": "error" | "fail", ...}`. Code and message are
    /// read best-effort (also from an `error` string or object and `errors[0]`).
    OkFalse,
    /// Any other JSON, code and message read best-effort (`code`/`error_code`,
    /// `message`/`msg`/`error_description`/`detail`); never signals an error. Also JSON nested
    /// deeper than [`Limits::max_depth`] (members salvaged).
    Json,
    /// An HTML page (a gateway's 502 page): the message is its `<title>`, else its first `<h1>`.
    Html,
    /// Plain text: the message is its first non-empty line. Also JSON that does not parse
    /// (members salvaged).
    Text,
    /// JSON cut short (by the server, or by [`Limits::max_body_bytes`]); fields are salvaged.
    Truncated,
    /// Bytes that are not UTF-8 text.
    Binary,
    /// Facebook Graph `{"error": {"message", "type", "code": 4, "error_subcode", "fbtrace_id"}}`
    /// (an `error` object with `fbtrace_id`, or a numeric `code` with `error_subcode`): the code
    /// is the number (`"4"`, `"190"`), `fbtrace_id` the request id.
    Facebook,
    /// PayPal `{"name", "message", "debug_id", "details": [{"field", "issue", "description"}]}`:
    /// the code is the first `issue`, else `name`; `debug_id` is the request id.
    Paypal,
    /// Dropbox `{"error_summary": "path/not_found/..", "error": {".tag": ...}}`: the code is
    /// the summary's tag path (`path/not_found`).
    Dropbox,
    /// Jira / Confluence `{"errorMessages": [...], "errors": {"field": "msg"}}`.
    Atlassian,
    /// Apigee gateway faults `{"fault": {"faultstring", "detail": {"errorcode"}}}`: the code
    /// is `detail.errorcode` (`policies.ratelimit.SpikeArrestViolation`).
    Apigee,
    /// A `text/event-stream` with no `error` event in the bytes looked at, or whose `error`
    /// event carries plain text (the message). A stream that reports an error in JSON is read
    /// as that JSON, whatever its dialect.
    EventStream,
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
            Dialect::Facebook => "facebook",
            Dialect::Paypal => "paypal",
            Dialect::Dropbox => "dropbox",
            Dialect::Atlassian => "atlassian",
            Dialect::EventStream => "event_stream",
            Dialect::Apigee => "apigee",
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
    /// Structured extra context as the server gave it, kept as JSON text ([`Details::to_value`]
    /// parses it).
    pub details: Option<Details>,
    /// The server's id for this request, when the body carries one.
    pub request_id: Option<String>,
    /// A second support reference (`reference_id`, `instance`, …).
    pub reference_id: Option<String>,
    /// The body's own word on retrying (`"retryable": true`).
    pub retryable: Option<bool>,
    /// A delay the body asks for (`details.retry_after`, Google `RetryInfo.retryDelay`), at most
    /// [`crate::headers::MAX_DELAY`] (100 years) as a header's.
    pub retry_after: Option<Duration>,
    /// Field-level problems.
    pub violations: Vec<Violation>,
    /// True when the body itself says the call failed (`ok: false`, a non-empty GraphQL
    /// `errors` list even beside partial `data`, a recognized error object with a code or
    /// message, a Kubernetes `Failure`): lets a 2xx that carries an error be told from a real
    /// success. Always false for empty, text, HTML, binary, truncated and plain JSON bodies.
    pub signals_error: bool,
    /// True when the body describes work that is still running (a long-running operation
    /// polled too early: `"done": false`, `"status": "running"`): a 2xx carrying it is
    /// `pending`, not a success. Only plain JSON bodies set it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_progress: bool,
    /// google.rpc details name a per-day or per-month quota (an ErrorInfo `quota_limit`, a
    /// QuotaFailure `quotaId`): read while the details are walked, so that classifying a
    /// `RESOURCE_EXHAUSTED` does not parse them again.
    #[serde(skip)]
    pub(crate) long_quota: bool,
    /// An HTTP error status (400-599) the body states beside its error (`status_code`,
    /// `statusCode`, a numeric `status`): what a 2xx that carries an error is classified by
    /// when its code says nothing (monday.com answers a throttled query with a 200 and
    /// `"status_code": 429`).
    #[serde(skip)]
    pub(crate) in_band_status: Option<u16>,
}

/// Structured context as the server gave it, kept as its JSON text and parsed only when asked
/// ([`Details::to_value`]): most callers never look at it, so classifying a call does not pay
/// for building it.
///
/// The text is the server's own (a slice of the body: whitespace, member order and duplicate
/// names as given; members picked from an object are joined into one). Serialized, and
/// compared, it is the parsed value, so the output of `serde_json::to_string` is the same as if
/// the value had been parsed up front (compact, numbers normalized, the last of duplicate names
/// kept) and works with any serde format; two details are equal when their values are, so
/// `{"a": 1, "b": 2}` equals `{"b":2,"a":1}`.
#[derive(Debug, Clone)]
pub struct Details(Box<str>);

impl Details {
    /// Details that are there but were not built ([`crate::classify_deferring_details`]): an
    /// empty text, which no built details have (they are always a JSON value).
    pub(crate) fn deferred() -> Details {
        Details(Box::default())
    }

    /// Whether these details are deferred ones ([`crate::classify_deferring_details`]):
    /// present in the body, but not built (an empty text).
    pub fn is_deferred(&self) -> bool {
        self.0.is_empty()
    }

    /// The JSON text, as the server gave it.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The parsed value. Numbers read as in the rest of the envelope: integers exactly when
    /// they fit in 64 bits, else a float; a float out of range (`1e999`) is `null`; a lone
    /// surrogate escape is U+FFFD. Where a member name appears twice, the last one wins.
    pub fn to_value(&self) -> Value {
        match json::parse(&self.0, HARD_MAX_DEPTH) {
            Ok((tree, _)) => tree.to_value(0),
            // Never: the text was accepted by the same parser when the details were made.
            Err(_) => Value::Null,
        }
    }

    /// Details from the text of one JSON value that [`json::parse`] accepted (one allocation,
    /// no parsing).
    pub(crate) fn from_parsed(text: &str) -> Details {
        Details(text.into())
    }

    /// Details from text built out of pieces that [`json::parse`] accepted.
    pub(crate) fn from_parsed_string(text: String) -> Details {
        Details(text.into_boxed_str())
    }

    /// True when some member of an object in the details, at most `max_depth` levels down
    /// (the details themselves are level 0), satisfies `hit` (given its decoded name and, for a
    /// string, its decoded value) or holds, at the next level, such a member. Only the first
    /// `max_items` items of an array are looked at. As in [`Details::to_value`], where a name
    /// appears twice in an object only the last member counts.
    ///
    /// Walks the parsed text, not a [`Value`]: the browser's wasm module then carries no
    /// `serde_json::Value` (about 12 KB).
    pub(crate) fn any_member(
        &self,
        max_depth: usize,
        max_items: usize,
        hit: &dyn Fn(&str, Option<&str>) -> bool,
    ) -> bool {
        fn walk(
            t: &json::Tree<'_>,
            i: usize,
            depth: usize,
            max: (usize, usize),
            hit: &dyn Fn(&str, Option<&str>) -> bool,
        ) -> bool {
            if depth > max.0 {
                return false;
            }
            match t.kind(i) {
                Some(json::Kind::Arr) => t
                    .children(i)
                    .take(max.1)
                    .any(|c| walk(t, c, depth + 1, max, hit)),
                Some(json::Kind::Obj) => {
                    // Built at the first hit: most objects have none.
                    let mut last = None;
                    t.children(i).any(|c| {
                        let name = t.name(c);
                        (hit(&name, t.string(c).as_deref()) || walk(t, c, depth + 1, max, hit))
                            && last
                                .get_or_insert_with(|| LastNames::of(t, i))
                                .is_last(&name, c)
                    })
                }
                _ => false,
            }
        }
        match json::parse(&self.0, HARD_MAX_DEPTH) {
            Ok((tree, _)) => walk(&tree, 0, 0, (max_depth, max_items), hit),
            // Never: the text was accepted by the same parser when the details were made.
            Err(_) => false,
        }
    }
}

/// Details from JSON text the envelope parser accepts (`None` otherwise), for tests.
#[cfg(test)]
pub(crate) fn details_for_test(text: &str) -> Option<Details> {
    json::parse(text, HARD_MAX_DEPTH)
        .ok()
        .map(|_| Details::from_parsed(text))
}

/// Which member of an object keeps each name when names repeat: the last one, as in a parsed
/// value. A small open-addressing table of the decoded names, so that asking for every member
/// of a large object costs linear time, not quadratic.
struct LastNames<'a> {
    /// Each distinct name and the last member (node) with it.
    names: Vec<(Cow<'a, str>, usize)>,
    /// Indexes into `names`, plus one (0: empty); a power of two, at least twice the members.
    slots: Vec<usize>,
}

impl<'a> LastNames<'a> {
    fn of(t: &json::Tree<'a>, o: usize) -> LastNames<'a> {
        let size = t.len(o).saturating_mul(2).max(2).next_power_of_two();
        let mut table = LastNames {
            names: Vec::new(),
            slots: vec![0; size],
        };
        for c in t.children(o) {
            let name = t.name(c);
            let s = table.slot(&name);
            match table.slots.get(s).copied() {
                Some(0) => {
                    table.names.push((name, c));
                    if let Some(slot) = table.slots.get_mut(s) {
                        *slot = table.names.len();
                    }
                }
                Some(k) => {
                    if let Some(e) = table.names.get_mut(k - 1) {
                        e.1 = c;
                    }
                }
                None => {}
            }
        }
        table
    }

    /// The slot that holds `name`, or the empty one where it would go.
    fn slot(&self, name: &str) -> usize {
        // FNV-1a.
        let mut h: u32 = 0x811c_9dc5;
        for b in name.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let mask = self.slots.len() - 1;
        let mut s = h as usize & mask;
        // Never more names than half the slots: an empty one is always found.
        while let Some(&k) = self.slots.get(s) {
            if k == 0 || self.names.get(k - 1).is_some_and(|e| e.0 == name) {
                break;
            }
            s = (s + 1) & mask;
        }
        s
    }

    /// Whether member `c`, named `name`, is the last with its name.
    fn is_last(&self, name: &str, c: usize) -> bool {
        let k = self.slots.get(self.slot(name)).copied().unwrap_or(0);
        self.names.get(k.wrapping_sub(1)).is_some_and(|e| e.1 == c)
    }
}

impl PartialEq for Details {
    /// Equal when the parsed values are (the same text is equal without parsing).
    fn eq(&self, other: &Details) -> bool {
        self.0 == other.0 || self.to_value() == other.to_value()
    }
}

impl Serialize for Details {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(deserializer)?;
        let text = serde_json::to_string(&value).map_err(D::Error::custom)?;
        // Keep the invariant that the text reads back ([`Details::to_value`]).
        match json::parse(&text, HARD_MAX_DEPTH) {
            Ok(_) => Ok(Details(text.into_boxed_str())),
            Err(_) => Err(D::Error::custom("details nested deeper than 128 levels")),
        }
    }
}

/// `s.parse::<u64>()`: ASCII digits after at most one `+`; `None` when there are none, for any
/// other byte, and on overflow. One reader for the integer types the core parses (each
/// `FromStr` is its own code in the wasm module); narrower types convert with `try_from`.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// `s.parse::<i64>()`: [`parse_u64`] with an optional `-` instead of the `+`.
pub(crate) fn parse_i64(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(d) if !d.starts_with('+') => {
            let m = parse_u64(d)?;
            // Down to i64::MIN (2^63), whose negation wraps to itself.
            (m <= 1 << 63).then(|| (m as i64).wrapping_neg())
        }
        Some(_) => None,
        None => i64::try_from(parse_u64(s)?).ok(),
    }
}

/// `whole + frac_e9 / 10^9` units of `unit_nanos` nanoseconds, rounded down to the
/// nanosecond; `None` when the seconds do not fit in a `u64`. `frac_e9` must be below 10^9.
///
/// Exact, in `u64` arithmetic: the same as `(whole * unit + frac_e9 * unit / 10^9)` in
/// `u128`, whose division is a library call (`__udivti3`, about 1 KB of the browser's wasm
/// module). With `unit = us·10^9 + un` and `whole = wh·10^9 + wl`, the total is
/// `10^9·(whole·us + wh·un) + wl·un + frac·us + frac·un / 10^9`, and each product fits.
pub(crate) fn duration_of(whole: u64, frac_e9: u64, unit_nanos: u64) -> Option<Duration> {
    const E9: u64 = 1_000_000_000;
    let (us, un) = (unit_nanos / E9, unit_nanos % E9);
    let (wh, wl) = (whole / E9, whole % E9);
    // Below 10^18; below 10^9 · (2^64 / 10^9); below 10^9.
    let a = wl * un;
    let b = frac_e9 * us;
    let c = frac_e9 * un / E9;
    // Below 3·10^9.
    let sub = a % E9 + b % E9 + c;
    let secs = whole
        .checked_mul(us)?
        .checked_add(wh * un)?
        .checked_add(a / E9 + b / E9 + sub / E9)?;
    Some(Duration::new(secs, (sub % E9) as u32))
}

/// Where `needle` first occurs in `hay` (`hay.find(needle)`): a scan for the needle's first
/// byte, then a comparison. For the core's short needles; `str`'s own substring search (the
/// Two-Way searcher) is about 2 KB of the browser's wasm module.
pub(crate) fn find_str(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return Some(0);
    };
    h.windows(n.len())
        .position(|w| w.first() == Some(&first) && w == n)
}

/// The longest prefix of `s` with at most `max_chars` characters.
pub(crate) fn cut(s: &str, max_chars: usize) -> &str {
    json::cut_chars(s, max_chars)
}

/// Parse an error body into an [`Envelope`]. Never panics; never reads past
/// `limits.max_body_bytes`; allocates in proportion to at most that many bytes. See the
/// [module docs](self) for the order in which a body is read.
pub fn parse_envelope(body: &[u8], content_type: Option<&str>, limits: &Limits) -> Envelope {
    parse_envelope_with(body, content_type, limits, true, false)
}

/// [`parse_envelope`], reading the message for a wait written in prose only when `prose_wait`
/// is set. `classify` clears it when a `Retry-After` header already gives the wait: the
/// envelope's `retry_after` is then never looked at, and scanning the message was the largest
/// single cost of a 429 whose body has no structured wait.
pub(crate) fn parse_envelope_with(
    body: &[u8],
    content_type: Option<&str>,
    limits: &Limits,
    prose_wait: bool,
    defer_details: bool,
) -> Envelope {
    if body.is_empty() {
        // The common headers-only error: what `parse_body` would conclude (an empty event
        // stream has no events; nothing else to read), without its UTF-8 check, content-type
        // parse and the copy of its result. A content type shorter than
        // `text/event-stream` cannot name it, so `application/json` costs one compare.
        let stream = content_type.is_some_and(|ct| {
            ct.len() >= 17 && ContentType::of(Some(ct)) == ContentType::EventStream
        });
        return with_dialect(if stream {
            Dialect::EventStream
        } else {
            Dialect::Empty
        });
    }
    let mut env = parse_body(body, content_type, limits, defer_details);
    if prose_wait && env.retry_after.is_none() {
        // "Rate limit exceeded. Try again in 12s.": only the strict phrases of [`prose`].
        env.retry_after = env.message.as_deref().and_then(prose::wait);
    }
    // A body's wait saturates at the longest a header's may be (100 years): Google's
    // `"retryDelay": "9007199254740993s"` must not reach a caller as 285 million years, nor
    // JavaScript as more milliseconds than a double holds exactly.
    if let Some(d) = env.retry_after.as_mut() {
        *d = (*d).min(crate::headers::MAX_DELAY);
    }
    env
}

fn parse_body(
    body: &[u8],
    content_type: Option<&str>,
    limits: &Limits,
    defer_details: bool,
) -> Envelope {
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
    // Leading whitespace (all ASCII), skipped byte by byte.
    let lead = text
        .bytes()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c'))
        .count();
    let body = text.get(lead..).unwrap_or_default();
    let ct = ContentType::of(content_type);
    if ct == ContentType::EventStream || body.starts_with("event:") || body.starts_with("data:") {
        return event_stream(body, limits, defer_details);
    }
    match body.as_bytes().first() {
        None if cut_off => with_dialect(Dialect::Truncated),
        None => with_dialect(Dialect::Empty),
        Some(b'{' | b'[') => json_body(
            body,
            cut_off || body.len() > PRESCAN_BYTES,
            ct,
            limits,
            defer_details,
        ),
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
    EventStream,
    Other,
}

impl ContentType {
    fn of(ct: Option<&str>) -> ContentType {
        let Some(ct) = ct else {
            return ContentType::Other;
        };
        let essence = match ct.bytes().position(|c| c == b';') {
            Some(i) => ct.get(..i).unwrap_or(ct),
            None => ct,
        };
        let essence = json::trim(essence);
        if essence.eq_ignore_ascii_case("application/problem+json") {
            ContentType::Problem
        } else if essence.eq_ignore_ascii_case("text/event-stream") {
            ContentType::EventStream
        } else if essence.eq_ignore_ascii_case("text/html")
            || essence.eq_ignore_ascii_case("application/xhtml+xml")
        {
            ContentType::Html
        } else {
            ContentType::Other
        }
    }
}

/// A body that starts with `{` or `[`. `prescan`: check completeness and depth with the
/// allocation-free bracket counter before building anything (large or cut bodies); the
/// outcome is the same either way, only the cost differs.
fn json_body(
    body: &str,
    prescan: bool,
    ct: ContentType,
    limits: &Limits,
    defer_details: bool,
) -> Envelope {
    let max_depth = limits.max_depth.min(HARD_MAX_DEPTH);
    if prescan {
        let s = json::structure(body, max_depth);
        if !s.closes {
            return salvaged(body, Dialect::Truncated);
        }
        if s.too_deep {
            return salvaged(body, Dialect::Json);
        }
    }
    match json::parse(body, max_depth) {
        Ok((mut tree, end)) => {
            if defer_details {
                tree.defer_details();
            }
            if body
                .get(end..)
                .is_some_and(|rest| json::trim(rest).is_empty())
            {
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

/// A server-sent event stream (LLM streaming APIs answer 200 and report a failure mid-stream):
/// the first event named `error` (Anthropic: `event: error` + `data: {"type": "error", ...}`),
/// or the first `data:` JSON object with a top-level `error` member (OpenAI), read as JSON.
/// An `error` event whose data is not JSON is [`Dialect::EventStream`] with that text as the
/// message; without any error, [`Dialect::EventStream`] with nothing set.
fn event_stream(body: &str, limits: &Limits, defer_details: bool) -> Envelope {
    let mut event = "";
    let mut data_at: Option<(usize, usize)> = None;
    let mut pos = 0;
    let dispatch = |event: &str, data: &str| -> Option<Envelope> {
        let data = data.trim();
        let named = event == "error";
        if named && !data.starts_with('{') {
            // `event: error` with a plain-text payload.
            let message = markup::first_line(data);
            return Some(Envelope {
                dialect: Dialect::EventStream,
                signals_error: true,
                message,
                ..Envelope::default()
            });
        }
        if !data.starts_with('{') || !(named || find_str(data, "\"error\"").is_some()) {
            return None;
        }
        let mut env = json_body(data, false, ContentType::Other, limits, defer_details);
        if named && (env.code.is_some() || env.message.is_some()) {
            env.signals_error = true;
        }
        env.signals_error.then_some(env)
    };
    for line in body.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if let Some((a, b)) = data_at.take() {
                if let Some(env) = dispatch(event, body.get(a..b).unwrap_or("")) {
                    return env;
                }
            }
            event = "";
            continue;
        }
        if let Some(v) = l.strip_prefix("event:") {
            event = v.trim();
        } else if let Some(v) = l.strip_prefix("data:") {
            // One JSON value on one line per event in practice: keep the first data line.
            let v_start = start + (l.len() - v.len());
            data_at = Some(data_at.unwrap_or((v_start, start + l.len())));
        }
    }
    if let Some((a, b)) = data_at {
        if let Some(env) = dispatch(event, body.get(a..b).unwrap_or("")) {
            return env;
        }
    }
    with_dialect(Dialect::EventStream)
}

/// A body that is a JSON scalar, or text that merely starts like one ("404 page not found").
fn scalar_body(body: &str) -> Envelope {
    match json::parse(body, 0) {
        Ok((tree, end)) if body.get(end..).is_some_and(|r| json::trim(r).is_empty()) => {
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
        let s = json::decode(json::trim_start(raw), esc, max);
        let s = json::trim(&s);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_body_fast_path_matches_the_full_read() {
        for ct in [
            None,
            Some(""),
            Some("application/json"),
            Some("text/event-stream"),
            Some(" Text/Event-Stream ; charset=utf-8"),
            Some("text/event-streams"),
            Some("application/problem+json"),
            Some("text/html"),
        ] {
            for max in [0, 1, 64 * 1024] {
                let limits = Limits {
                    max_body_bytes: max,
                    ..Limits::DEFAULT
                };
                let mut slow = parse_body(b"", ct, &limits, false);
                if slow.retry_after.is_none() {
                    slow.retry_after = slow.message.as_deref().and_then(prose::wait);
                }
                assert_eq!(parse_envelope(b"", ct, &limits), slow, "{ct:?} {max}");
            }
        }
    }

    fn parse(body: &str) -> Envelope {
        parse_envelope(
            body.as_bytes(),
            Some("application/json"),
            &Limits::default(),
        )
    }

    /// `duration_of` in `u128`, as `parse_secs` and the prose reader computed it before (the
    /// oracle here and in `dialects`' tests).
    pub(super) fn duration_of_u128(whole: u64, frac_e9: u64, unit_nanos: u64) -> Option<Duration> {
        let total = u128::from(whole) * u128::from(unit_nanos)
            + u128::from(frac_e9) * u128::from(unit_nanos) / 1_000_000_000;
        let secs = u64::try_from(total / 1_000_000_000).ok()?;
        let nanos = u32::try_from(total % 1_000_000_000).ok()?;
        Some(Duration::new(secs, nanos))
    }

    #[test]
    fn duration_of_is_the_u128_arithmetic_at_the_edges() {
        let wholes = [
            0,
            1,
            999_999_999,
            1_000_000_000,
            1_000_000_000_000,
            u64::MAX / 3_600_000_000_000,
            u64::MAX / 3_600_000_000_000 + 1,
            u64::MAX / 1_000_000_000,
            u64::MAX - 1,
            u64::MAX,
        ];
        let fracs = [0, 1, 500_000_000, 999_999_999];
        let units = [
            0,
            1,
            7,
            1_000,
            1_000_000,
            999_999_999,
            1_000_000_000,
            1_000_000_001,
            60_000_000_000,
            3_600_000_000_000,
            u64::MAX / 2,
            u64::MAX,
        ];
        for w in wholes {
            for f in fracs {
                for u in units {
                    assert_eq!(
                        duration_of(w, f, u),
                        duration_of_u128(w, f, u),
                        "{w} {f} {u}"
                    );
                }
            }
        }
    }

    fn check_int_parse(s: &str) {
        assert_eq!(parse_u64(s), s.parse::<u64>().ok(), "{s:?}");
        assert_eq!(parse_i64(s), s.parse::<i64>().ok(), "{s:?}");
    }

    #[test]
    fn integer_parses_are_std_at_the_edges() {
        for s in [
            "",
            "+",
            "-",
            "+-1",
            "-+1",
            "++1",
            "--1",
            "0",
            "+0",
            "-0",
            "007",
            " 1",
            "1 ",
            "1.0",
            "18446744073709551615",
            "18446744073709551616",
            "+18446744073709551615",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "-18446744073709551616",
            "١",
            "1e3",
        ] {
            check_int_parse(s);
        }
    }

    proptest! {
        #[test]
        fn integer_parses_are_std(s in "[-+0-9a ]{0,22}") {
            check_int_parse(&s);
        }

        #[test]
        fn duration_of_is_the_u128_arithmetic(
            whole in prop_oneof![any::<u64>(), 0u64..2_000_000_000_000],
            frac in 0u64..1_000_000_000,
            unit in prop_oneof![any::<u64>(), 0u64..4_000_000_000_000],
        ) {
            prop_assert_eq!(duration_of(whole, frac, unit), duration_of_u128(whole, frac, unit));
        }

        #[test]
        fn find_str_is_str_find(hay in "[<>/a\"ré]{0,16}", needle in "[<>/a\"ré]{0,3}") {
            prop_assert_eq!(find_str(&hay, &needle), hay.find(needle.as_str()));
        }
    }

    #[test]
    fn seed_envelope() {
        let e = parse(
            r#"{"error":{"code":"rate_limited","message":"slow down","details":{"retry_after":7}}}"#,
        );
        assert_eq!(e.dialect, Dialect::Nested);
        assert_eq!(e.code.as_deref(), Some("rate_limited"));
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert!(e.signals_error);
    }

    #[test]
    fn dialect_names_round_trip_through_serde() {
        for d in [
            Dialect::GoogleRpc,
            Dialect::Oauth,
            Dialect::OkFalse,
            Dialect::AwsXml,
            Dialect::SpringBoot,
        ] {
            let json = serde_json::to_value(d).unwrap();
            assert_eq!(json, Value::String(d.as_str().to_owned()));
        }
    }

    #[test]
    fn content_type_essence() {
        assert_eq!(
            ContentType::of(Some("Application/Problem+JSON; charset=utf-8")),
            ContentType::Problem
        );
        assert_eq!(
            ContentType::of(Some("text/html;charset=UTF-8")),
            ContentType::Html
        );
        assert_eq!(
            ContentType::of(Some("application/json")),
            ContentType::Other
        );
        assert_eq!(ContentType::of(None), ContentType::Other);
    }

    #[test]
    fn retry_after_parsing() {
        let secs = |s: &str| dialects::parse_secs(s, 1_000_000_000).map(|d| d.as_millis());
        assert_eq!(secs("1.5s"), Some(1500));
        assert_eq!(secs("30"), Some(30_000));
        assert_eq!(secs(" 0.001 "), Some(1));
        assert_eq!(secs("2e1"), Some(20_000));
        assert_eq!(secs(".5"), Some(500));
        assert_eq!(secs("-1"), None);
        assert_eq!(secs("abc"), None);
        assert_eq!(secs(""), None);
        assert_eq!(secs("."), None);
        assert_eq!(secs("-1e400"), None);
        // Too large for a Duration: saturated (parse_envelope then cuts to headers::MAX_DELAY).
        let max = Some(Duration::MAX.as_millis());
        assert_eq!(secs("1e400"), max);
        assert_eq!(secs("1e30"), max);
        assert_eq!(secs("99999999999999999999999"), max);
        assert_eq!(
            dialects::parse_secs("250", 1_000_000).map(|d| d.as_millis()),
            Some(250)
        );
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        let limits = Limits {
            max_body_bytes: usize::MAX,
            max_depth: usize::MAX,
        };
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        let e = parse_envelope(deep.as_bytes(), None, &limits);
        assert_eq!(e.dialect, Dialect::Json);
        let e = parse_envelope(br#"{"error":"x","error_code":"Y"}"#, None, &limits);
        assert_eq!(e.dialect, Dialect::Minimal);
    }

    #[test]
    fn details_are_kept_as_text_and_parsed_on_demand() {
        // A slice of the body, whitespace and order as given.
        let e = parse(
            "{\"error\": {\"code\": \"rate_limited\", \"details\": {\"z\": [1, 2.5],\n \"a\": \"\\u00e9\", \"a\": null}}}",
        );
        let d = e.details.as_ref().unwrap();
        assert_eq!(
            d.as_json(),
            "{\"z\": [1, 2.5],\n \"a\": \"\\u00e9\", \"a\": null}"
        );
        assert_eq!(d.to_value(), serde_json::json!({"z": [1, 2.5], "a": null}));
        // Serialized as the parsed value: compact, the last duplicate kept.
        assert_eq!(
            serde_json::to_string(d).unwrap(),
            r#"{"a":null,"z":[1,2.5]}"#
        );
        // Equal by value; a round trip through serde keeps it equal.
        let other: Details = serde_json::from_str(r#"{"a": null, "z": [1, 2.5]}"#).unwrap();
        assert_eq!(&other, d);
        let back: Envelope = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        let back: Envelope = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        let differs: Details = serde_json::from_str(r#"{"z": [1, 2.5]}"#).unwrap();
        assert_ne!(&differs, d);

        // Scalars keep their quotes; numbers their literal.
        let e = parse(r#"{"error":{"code":"x","details":"a \"b\""}}"#);
        assert_eq!(
            e.details.as_ref().map(Details::as_json),
            Some(r#""a \"b\"""#)
        );
        let e = parse(r#"{"error":{"code":"x","details":-1.5e3}}"#);
        assert_eq!(
            e.details.as_ref().map(Details::to_value),
            Some(serde_json::json!(-1500.0))
        );

        // Members picked from an object (Stripe, OpenAI, problem extensions) are joined.
        let e = parse(
            r#"{"error":{"type":"card_error","code":"card_declined","message":"m","doc_url":"u","c\u006fde":1, "param" : [ ]}}"#,
        );
        assert_eq!(e.dialect, Dialect::Stripe);
        let d = e.details.as_ref().unwrap();
        assert_eq!(
            d.as_json(),
            r#"{"type":"card_error","doc_url":"u","param":[ ]}"#
        );
        let e = parse_envelope(
            br#"{"title":"Bad","status":400,"balance":{"n":1},"t\u0069tle":"x"}"#,
            Some("application/problem+json"),
            &Limits::default(),
        );
        assert_eq!(e.dialect, Dialect::Problem);
        assert_eq!(
            e.details.as_ref().map(Details::to_value),
            Some(serde_json::json!({"balance": {"n": 1}}))
        );

        // Deserialized details must read back.
        let mut deep = Value::Null;
        for _ in 0..200 {
            deep = Value::Array(vec![deep]);
        }
        assert!(serde_json::from_value::<Details>(deep).is_err());
    }

    #[test]
    fn success_bodies_do_not_signal() {
        for b in [
            r#"{"id":1,"status":"done"}"#,
            r#"{"data":{"id":1},"error":null}"#,
            r#"{"items":[{"title":"a","type":"b"}],"next":null}"#,
            r#"{"message":"Created"}"#,
            r#"{"ok":true}"#,
            r#"[{"id":1},{"id":2}]"#,
            r#"{"tags":["one two","three four"]}"#,
            r#"{"kind":"Status","status":"Success"}"#,
        ] {
            assert!(!parse(b).signals_error, "{b}");
        }
    }

    /// JSON-ish fragments, so random strings hit the interesting paths.
    fn jsonish() -> impl Strategy<Value = String> {
        let tokens = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            "\"",
            "\\",
            ":",
            ",",
            " ",
            "\n",
            "\"error\"",
            "\"code\"",
            "\"message\"",
            "\"details\"",
            "\"type\"",
            "\"errors\"",
            "\"detail\"",
            "\"status\"",
            "\"@type\"",
            "\"kind\"",
            "\"retry_after\"",
            "\"retryDelay\"",
            "\"loc\"",
            "\"msg\"",
            "\"source\"",
            "\"pointer\"",
            "\"__type\"",
            "\"ok\"",
            "false",
            "true",
            "null",
            "1",
            "-",
            "0.5",
            "e9",
            "\\u",
            "d83d",
            "\\n",
            "é",
            "😀",
            "<",
            ">",
            "<Error>",
            "<Code>",
            "</Code>",
            "<title>",
            "</title>",
            "&amp;",
            "&#",
            "\"Status\"",
            "\"Failure\"",
            "\"about:blank\"",
            "\"1.5s\"",
            "\"google.rpc.RetryInfo\"",
            "\u{feff}",
        ]);
        prop::collection::vec(tokens, 0..60).prop_map(|v| v.concat())
    }

    fn check_bounds(e: &Envelope) {
        assert!(e
            .code
            .as_ref()
            .map_or(true, |c| c.chars().count() <= MAX_CODE));
        assert!(e
            .message
            .as_ref()
            .map_or(true, |m| m.chars().count() <= MAX_MESSAGE));
        assert!(e
            .request_id
            .as_ref()
            .map_or(true, |m| m.chars().count() <= MAX_ID));
        assert!(e.violations.len() <= MAX_VIOLATIONS);
        assert!(e
            .violations
            .iter()
            .all(|v| v.field.chars().count() <= MAX_FIELD));
        if matches!(
            e.dialect,
            Dialect::Empty | Dialect::Text | Dialect::Html | Dialect::Binary | Dialect::Truncated
        ) {
            assert!(!e.signals_error);
        }
    }

    /// Random JSON values, nested a little.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..400),
                                 max in 0usize..500, depth in 0usize..40) {
            let limits = Limits { max_body_bytes: max, max_depth: depth };
            check_bounds(&parse_envelope(&body, None, &limits));
            check_bounds(&parse_envelope(&body, Some("application/problem+json"), &limits));
        }

        #[test]
        fn never_panics_on_jsonish(body in jsonish(), max in 0usize..600, depth in 0usize..12) {
            let limits = Limits { max_body_bytes: max, max_depth: depth };
            for ct in [None, Some("application/problem+json"), Some("text/html")] {
                check_bounds(&parse_envelope(body.as_bytes(), ct, &limits));
            }
        }

        #[test]
        fn prescan_path_agrees(obj in any::<bool>(), rest in jsonish(), depth in 0usize..12) {
            let body = format!("{}{rest}", if obj { '{' } else { '[' });
            let body = body.as_str();
            let limits = Limits { max_body_bytes: usize::MAX, max_depth: depth };
            let direct = json_body(body, false, ContentType::Other, &limits, false);
            let prescanned = json_body(body, true, ContentType::Other, &limits, false);
            prop_assert_eq!(direct, prescanned);
        }

        #[test]
        fn parser_round_trips_serde_json(v in json_value()) {
            let text = serde_json::to_string(&v).unwrap();
            let (tree, end) = json::parse(&text, HARD_MAX_DEPTH).unwrap();
            prop_assert_eq!(end, text.len());
            prop_assert_eq!(tree.to_value(0), v.clone());
            // Every node's text reads back as the node, pretty-printed too.
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            let (ptree, _) = json::parse(&pretty, HARD_MAX_DEPTH).unwrap();
            for tr in [&tree, &ptree] {
                let mut i = 0;
                while tr.kind(i).is_some() {
                    let sub = tr.json_text(i);
                    let (st, end) = json::parse(sub, HARD_MAX_DEPTH).unwrap();
                    prop_assert_eq!(end, sub.len());
                    prop_assert_eq!(st.to_value(0), tr.to_value(i));
                    i += 1;
                }
            }
            // The whole parser never panics on it either, pretty-printed or not.
            check_bounds(&parse(&text));
            check_bounds(&parse(&serde_json::to_string_pretty(&v).unwrap()));
        }
    }
}
