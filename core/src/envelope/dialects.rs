//! Dialect detection and extraction over a parsed JSON [`Tree`].
//!
//! Every object that matters is looked at once: [`Slots::of`] walks its members and records
//! where each well-known member name is (aliases share a slot, the last duplicate wins), so
//! detection is a series of cheap slot checks rather than repeated lookups.

use super::json::{key_is, Kind, Tree};
use super::{
    cut, find_str, Details, Dialect, Envelope, Violation, MAX_CODE, MAX_FIELD, MAX_ID, MAX_MESSAGE,
    MAX_VIOLATIONS,
};
use std::time::Duration;

/// Well-known member names. Aliases map to one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum K {
    Error,
    ErrorCode,
    Code,
    Message,
    MsgAlt,
    ErrorDescription,
    ErrorUri,
    Description,
    Detail,
    Details,
    Errors,
    Data,
    Type,
    Title,
    Status,
    StatusCode,
    Instance,
    KindKey,
    ApiVersion,
    Reason,
    Timestamp,
    Path,
    OkFlag,
    Success,
    AwsType,
    OdataError,
    InvalidParams,
    NonFieldErrors,
    Param,
    StripeOnly,
    Target,
    InnerError,
    Retryable,
    RetryAfter,
    RetryAfterMs,
    RequestId,
    ReferenceId,
    TraceId,
    Loc,
    Field,
    FieldViolations,
    RetryDelay,
    AtType,
    Causes,
    Source,
    Pointer,
    Parameter,
    Extensions,
    Locations,
    Value,
    Name,
    DefaultMessage,
    Messages,
    Classification,
    Object,
    Metadata,
    ErrorMessages,
    ErrorSummary,
    Tag,
    Issue,
    Fields,
    Parameters,
    ErrorSubcode,
    FbTraceId,
    DebugId,
    Done,
    State,
    FieldErrors,
    Id,
    Category,
    Fault,
    PropertyPath,
    Violations,
}

const N_SLOTS: usize = K::Violations as usize + 1;
const NONE: u32 = u32::MAX;

fn slot_of(key: &str) -> Option<K> {
    Some(match key {
        "error" => K::Error,
        "error_code" | "errorCode" | "ErrorCode" | "error_name" | "serviceErrorCode" => {
            K::ErrorCode
        }
        "code" | "Code" => K::Code,
        "message" | "Message" => K::Message,
        "msg" | "errmsg" | "error_message" | "errorMessage" | "ErrorMessage" | "errorSummary"
        | "developer_message" => K::MsgAlt,
        "error_description" => K::ErrorDescription,
        "error_uri" => K::ErrorUri,
        "description" => K::Description,
        "detail" => K::Detail,
        "details" => K::Details,
        "errors" => K::Errors,
        "data" => K::Data,
        "type" => K::Type,
        "title" => K::Title,
        "status" => K::Status,
        "statusCode" | "status_code" => K::StatusCode,
        "instance" => K::Instance,
        "kind" => K::KindKey,
        "apiVersion" => K::ApiVersion,
        "reason" => K::Reason,
        "timestamp" => K::Timestamp,
        "path" => K::Path,
        "ok" => K::OkFlag,
        "success" => K::Success,
        "__type" => K::AwsType,
        "odata.error" => K::OdataError,
        "invalid-params" | "invalid_params" | "invalidParams" => K::InvalidParams,
        "non_field_errors" => K::NonFieldErrors,
        "param" => K::Param,
        "doc_url"
        | "decline_code"
        | "request_log_url"
        | "charge"
        | "payment_intent"
        | "setup_intent"
        | "payment_method"
        | "advice_code"
        | "network_decline_code" => K::StripeOnly,
        "target" => K::Target,
        "innererror" | "innerError" => K::InnerError,
        "retryable" | "retriable" | "is_retryable" | "isRetryable" => K::Retryable,
        "retry_after"
        | "retryAfter"
        | "retry_after_seconds"
        | "retryAfterSeconds"
        | "retry_in_seconds"
        | "estimated_time" => K::RetryAfter,
        "retry_after_ms" | "retryAfterMs" => K::RetryAfterMs,
        "request_id" | "requestId" | "RequestId" | "request-id" | "requestID" | "correlationId"
        | "correlation_id" => K::RequestId,
        "reference_id" | "referenceId" => K::ReferenceId,
        "traceId" | "trace_id" => K::TraceId,
        "loc" => K::Loc,
        "field" => K::Field,
        "fieldViolations" | "field_violations" => K::FieldViolations,
        "retryDelay" | "retry_delay" => K::RetryDelay,
        "@type" => K::AtType,
        "causes" => K::Causes,
        "source" => K::Source,
        "pointer" => K::Pointer,
        "parameter" => K::Parameter,
        "extensions" => K::Extensions,
        "locations" => K::Locations,
        "value" => K::Value,
        "name" => K::Name,
        "defaultMessage" => K::DefaultMessage,
        "messages" => K::Messages,
        "classification" => K::Classification,
        "object" => K::Object,
        "metadata" => K::Metadata,
        "errorMessages" | "error_messages" => K::ErrorMessages,
        "error_summary" => K::ErrorSummary,
        ".tag" => K::Tag,
        "issue" => K::Issue,
        "fields" => K::Fields,
        "parameters" => K::Parameters,
        "error_subcode" => K::ErrorSubcode,
        "fbtrace_id" => K::FbTraceId,
        "debug_id" => K::DebugId,
        "done" => K::Done,
        "state" => K::State,
        "fieldErrors" | "field_errors" | "validation_errors" | "validationErrors" => K::FieldErrors,
        "id" => K::Id,
        "category" => K::Category,
        "fault" => K::Fault,
        "propertyPath" | "property_path" | "property" => K::PropertyPath,
        "violations" => K::Violations,
        _ => return None,
    })
}

/// Where each well-known member of one object is.
struct Slots {
    at: [u32; N_SLOTS],
    /// Members whose names are not well known.
    other: u32,
}

impl Slots {
    fn empty() -> Slots {
        Slots {
            at: [NONE; N_SLOTS],
            other: 0,
        }
    }

    #[inline]
    fn of(t: &Tree<'_>, obj: usize) -> Slots {
        let mut s = Slots::empty();
        s.fill(t, obj);
        s
    }

    fn fill(&mut self, t: &Tree<'_>, obj: usize) {
        let s = self;
        for c in t.children(obj) {
            let Some((key, esc)) = t.key(c) else { continue };
            let k = if esc {
                slot_of(&super::json::decode(key, true, 64))
            } else {
                slot_of(key)
            };
            match k {
                Some(k) => {
                    if let (Some(slot), Ok(c)) = (s.at.get_mut(k as usize), u32::try_from(c)) {
                        *slot = c;
                    }
                }
                None => s.other += 1,
            }
        }
    }

    fn get(&self, k: K) -> Option<usize> {
        match self.at.get(k as usize) {
            Some(&v) if v != NONE => Some(v as usize),
            _ => None,
        }
    }

    fn has(&self, k: K) -> bool {
        self.get(k).is_some()
    }

    /// No members besides `allowed`.
    fn only(&self, allowed: &[K]) -> bool {
        self.other == 0
            && self
                .at
                .iter()
                .enumerate()
                .all(|(i, &v)| v == NONE || allowed.iter().any(|k| *k as usize == i))
    }
}

/// A slot's node, when it has kind `kind`.
fn kind_at(t: &Tree<'_>, s: &Slots, k: K, kind: Kind) -> Option<usize> {
    s.get(k).filter(|&i| t.kind(i) == Some(kind))
}

fn obj_at(t: &Tree<'_>, s: &Slots, k: K) -> Option<usize> {
    kind_at(t, s, k, Kind::Obj)
}

fn arr_at(t: &Tree<'_>, s: &Slots, k: K) -> Option<usize> {
    kind_at(t, s, k, Kind::Arr)
}

fn is_str(t: &Tree<'_>, i: Option<usize>) -> bool {
    i.is_some_and(|i| matches!(t.kind(i), Some(Kind::Str | Kind::StrEsc)))
}

fn msg(t: &Tree<'_>, i: Option<usize>) -> Option<String> {
    t.text(i?, MAX_MESSAGE)
}

fn code_str(t: &Tree<'_>, i: Option<usize>) -> Option<String> {
    t.text(i?, MAX_CODE)
}

fn code_any(t: &Tree<'_>, i: Option<usize>) -> Option<String> {
    t.code(i?, MAX_CODE)
}

fn id(t: &Tree<'_>, i: Option<usize>) -> Option<String> {
    t.code(i?, MAX_ID)
}

/// Set `slot` from `v` when it is empty (and `v` gives something: an empty slot is not
/// written again, which for the strings of an envelope was three stores each time).
fn fill<T>(slot: &mut Option<T>, v: impl FnOnce() -> Option<T>) {
    if slot.is_none() {
        if let Some(x) = v() {
            *slot = Some(x);
        }
    }
}

/// A code made of letters, `_` and `.` only (`not_found`, `NotFound`, `VALIDATION_ERROR`), so
/// that an identifier (`"id": "ch_3MmlLrLkdIwHu7ix"`, `"id": "42"`, a uuid) is not taken for
/// a code.
fn word_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_alphabetic() || c == b'_' || c == b'.')
}

/// A single word that reads like a machine code (`invalid_auth`, `RATE_LIMITED`, `Unauthorized`).
fn code_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':'))
        && s.bytes().any(|c| c.is_ascii_alphabetic())
}

fn push_violation(env: &mut Envelope, field: &str, message: Option<String>) {
    if env.violations.len() >= MAX_VIOLATIONS {
        return;
    }
    let Some(message) = message else { return };
    env.violations.push(Violation {
        field: cut(field, MAX_FIELD).to_owned(),
        message,
    });
}

// ---------------------------------------------------------------------------------------------
// Durations

/// Seconds as a decimal literal (`"30"`, `"1.5"`, `"1.5s"`, `"2e1"`) → a duration; `None` for
/// negative or malformed values. Decimal literals are read exactly (no float rounding). A value
/// too large for a `Duration` (`"99999999999999999999"`, `"1e30"`, `"1e999"`) is
/// `Duration::MAX`, which [`super::parse_envelope`] cuts to `headers::MAX_DELAY` as a
/// header's wait is cut, rather than no wait at all.
pub(super) fn parse_secs(s: &str, unit_nanos: u64) -> Option<Duration> {
    let s = super::json::trim(s);
    let s = match s.strip_suffix('s') {
        Some(t) => t.trim_end(),
        None => s,
    };
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.bytes().any(|c| matches!(c, b'e' | b'E')) {
        // `s.parse::<f64>()`, without std's tables (see `float`).
        let v = super::float::parse_f64(s)?;
        // NaN or negative; a literal too large for a double (`1e999`) is +inf: saturated below.
        if v.is_nan() || v < 0.0 {
            return None;
        }
        // The only error left is a value too large: saturate.
        return Some(
            Duration::try_from_secs_f64(v * (unit_nanos as f64) / 1e9).unwrap_or(Duration::MAX),
        );
    }
    let b = s.as_bytes();
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (
            b.get(..i).unwrap_or_default(),
            b.get(i + 1..).unwrap_or_default(),
        ),
        None => (b, &[][..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Digits only: what `str::parse::<u64>` gives; past `u64::MAX` the wait saturates.
    let mut whole: u64 = 0;
    for &c in int {
        let Some(w) = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u64::from(c - b'0')))
        else {
            return Some(Duration::MAX);
        };
        whole = w;
    }
    // The fraction, as units of 1e-9 of the unit.
    let mut f: u64 = 0;
    for (i, &c) in frac.iter().take(9).enumerate() {
        f += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
    }
    Some(super::duration_of(whole, f, unit_nanos).unwrap_or(Duration::MAX))
}

/// A duration from a number, a numeric string, or a protobuf `{"seconds", "nanos"}` object.
fn duration_at(t: &Tree<'_>, i: usize, unit_nanos: u64) -> Option<Duration> {
    match t.kind(i)? {
        Kind::Num => parse_secs(t.num_raw(i)?, unit_nanos),
        Kind::Str | Kind::StrEsc => parse_secs(&t.text_cow(i, 64)?, unit_nanos),
        Kind::Obj => {
            let secs = t.get(i, "seconds").and_then(|s| match t.kind(s)? {
                Kind::Num => t.num_raw(s).map(str::to_owned),
                _ => t.text(s, 32),
            });
            let nanos = t.get(i, "nanos").and_then(|n| t.int(n)).unwrap_or(0);
            let secs = secs?;
            // Whole seconds past `u64::MAX` saturate, as in `parse_secs`.
            let secs = super::parse_u64(&secs).or_else(|| {
                (!secs.is_empty() && secs.bytes().all(|c| c.is_ascii_digit())).then_some(u64::MAX)
            })?;
            let nanos = u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000)?;
            Some(Duration::new(secs, nanos))
        }
        _ => None,
    }
}

const SECS: u64 = 1_000_000_000;
const MILLIS: u64 = 1_000_000;

/// Fill the request id, reference id, retryable flag and retry-after hint from one object's
/// well-known members (only what is still missing).
fn hints(t: &Tree<'_>, s: &Slots, env: &mut Envelope) {
    // PayPal's `debug_id` and Facebook Graph's `fbtrace_id` are what their support asks for.
    fill(&mut env.request_id, || {
        id(t, s.get(K::RequestId))
            .or_else(|| id(t, s.get(K::DebugId)))
            .or_else(|| id(t, s.get(K::FbTraceId)))
            .or_else(|| id(t, s.get(K::TraceId)))
    });
    fill(&mut env.reference_id, || id(t, s.get(K::ReferenceId)));
    fill(&mut env.retryable, || {
        s.get(K::Retryable).and_then(|i| t.boolean(i))
    });
    // monday.com: {"error_code": "ComplexityException", "status_code": 429} in a 200.
    fill(&mut env.in_band_status, || {
        [K::StatusCode, K::Status].iter().find_map(|&k| {
            let v = t.int(s.get(k)?)?;
            u16::try_from(v).ok().filter(|v| (400..=599).contains(v))
        })
    });
    fill(&mut env.retry_after, || {
        s.get(K::RetryAfter)
            .and_then(|i| duration_at(t, i, SECS))
            .or_else(|| {
                s.get(K::RetryAfterMs)
                    .and_then(|i| duration_at(t, i, MILLIS))
            })
            .or_else(|| {
                // Telegram: {"ok": false, "parameters": {"retry_after": 35}}.
                let p = obj_at(t, s, K::Parameters)?;
                duration_at(t, t.get(p, "retry_after")?, SECS)
            })
    });
}

// ---------------------------------------------------------------------------------------------
// Entry

/// Detect the dialect of a parsed document and normalize it.
pub(super) fn detect(t: &Tree<'_>, problem_ct: bool) -> Envelope {
    match t.kind(0) {
        Some(Kind::Obj) => object(t, 0, problem_ct),
        Some(Kind::Arr) => match t.nth(0, 0) {
            // A list of envelopes (some gateways wrap the error in an array): read the first.
            Some(first) if t.kind(first) == Some(Kind::Obj) => object(t, first, problem_ct),
            _ => json_only(),
        },
        Some(Kind::Str | Kind::StrEsc) => Envelope {
            dialect: Dialect::Json,
            message: t.text(0, MAX_MESSAGE),
            ..Envelope::default()
        },
        _ => json_only(),
    }
}

fn json_only() -> Envelope {
    Envelope {
        dialect: Dialect::Json,
        ..Envelope::default()
    }
}

fn object(t: &Tree<'_>, o: usize, problem_ct: bool) -> Envelope {
    let top = Slots::of(t, o);
    let err_obj = obj_at(t, &top, K::Error);

    // Kubernetes `Status`.
    if top.get(K::KindKey).is_some_and(|i| t.str_is(i, "Status")) {
        return kubernetes(t, &top);
    }
    // Anthropic: {"type": "error", "error": {"type", "message"}}.
    if let Some(e) = err_obj {
        if top.get(K::Type).is_some_and(|i| t.str_is(i, "error")) {
            return anthropic(t, &top, e);
        }
    }
    // 2xx-style failure flags.
    if ok_false(t, &top) {
        let mut env = generic(t, &top, Dialect::OkFalse, true);
        env.signals_error = true;
        return env;
    }
    // Dropbox: {"error_summary": "path/not_found/..", "error": {".tag": "path", ...}}.
    if is_str(t, top.get(K::ErrorSummary)) {
        return dropbox(t, &top);
    }
    // Apigee gateways: {"fault": {"faultstring", "detail": {"errorcode"}}}.
    if let Some(f) = obj_at(t, &top, K::Fault) {
        return apigee(t, &top, f);
    }
    // RFC 9457 problem details.
    if is_problem(t, &top, problem_ct) {
        return problem(t, o, &top);
    }
    // OData v3 / Azure classic.
    if let Some(e) = obj_at(t, &top, K::OdataError) {
        return azure(t, &top, e);
    }
    // OpenAI-compatible servers (Mistral, vLLM) without the wrapper:
    // {"object": "error", "message", "type", "param", "code"}.
    if top.get(K::Object).is_some_and(|i| t.str_is(i, "error")) {
        return typed_error(t, &Slots::empty(), o, &top, Dialect::Openai);
    }
    // AWS JSON protocols.
    if is_str(t, top.get(K::AwsType)) {
        return aws_json(t, &top);
    }
    // {"error": {...}}: Google, Stripe, OpenAI, Azure, or the seeds' nested envelope.
    if let Some(e) = err_obj {
        if let Some(env) = error_object(t, &top, e) {
            return env;
        }
    }
    // Spring Boot's default error attributes (only ever sent with an error status).
    if top.has(K::Timestamp)
        && top
            .get(K::Status)
            .and_then(|i| t.int(i))
            .is_some_and(|s| (400..=599).contains(&s))
        && (top.has(K::Error) || top.has(K::Path) || top.has(K::Message))
    {
        return spring_boot(t, &top);
    }
    // PayPal: {"name": "INVALID_REQUEST", "message", "debug_id", "details": [{"issue"}]}.
    if let Some(env) = paypal(t, &top) {
        return env;
    }
    // Atlassian (Jira, Confluence): {"errorMessages": [...], "errors": {"field": "msg"}}.
    if let Some(m) = arr_at(t, &top, K::ErrorMessages) {
        return atlassian(t, &top, m);
    }
    // {"errors": [...]}: GraphQL, JSON:API, or a plain list of errors.
    if let Some(errs) = top.get(K::Errors) {
        if let Some(env) = errors_member(t, &top, errs) {
            return env;
        }
    }
    // {"error": "...", ...}: flat, minimal, OAuth.
    // (Empty strings say nothing: `{"data": {...}, "error": ""}` is a success.)
    let err_str = top.get(K::Error).and_then(|i| t.text(i, 1)).is_some();
    if err_str || code_any(t, top.get(K::ErrorCode)).is_some() {
        return flat_family(t, &top, err_str);
    }
    // {"detail": ...}: FastAPI/pydantic, DRF, framework errors.
    if let Some(d) = top.get(K::Detail) {
        if let Some(env) = detail(t, &top, d) {
            return env;
        }
    }
    // A bare google.rpc.Status.
    if let Some(env) = bare_status(t, &top) {
        return env;
    }
    // A DRF field dict.
    if let Some(env) = drf(t, o) {
        return env;
    }
    let mut env = generic(t, &top, Dialect::Json, false);
    env.in_progress = in_progress(t, &top);
    env
}

/// A long-running operation that has not finished: `"done": false` (google.longrunning), or a
/// `status`/`state` (also `status.state`) of running, pending, queued, in progress, processing,
/// starting, not started or scheduled (Azure, Replicate, Vertex `JOB_STATE_RUNNING`, …).
fn in_progress(t: &Tree<'_>, top: &Slots) -> bool {
    if top.get(K::Done).and_then(|i| t.boolean(i)) == Some(false) {
        return true;
    }
    let running = |i: usize| {
        let Some(s) = t.text_cow(i, 40) else {
            return false;
        };
        // Letters and digits, lowercased, on the stack: 40 characters give at most 40.
        let mut buf = [0u8; 40];
        let mut len = 0;
        for b in s.bytes().filter(u8::is_ascii_alphanumeric) {
            let Some(slot) = buf.get_mut(len) else { break };
            *slot = b.to_ascii_lowercase();
            len += 1;
        }
        // ASCII letters and digits only: always valid UTF-8.
        let norm = std::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or_default();
        let norm = norm.strip_prefix("jobstate").unwrap_or(norm);
        matches!(
            norm,
            "running"
                | "pending"
                | "queued"
                | "inprogress"
                | "processing"
                | "starting"
                | "notstarted"
                | "scheduled"
        )
    };
    let status = top.get(K::Status);
    if let Some(st) = status.filter(|&i| t.kind(i) == Some(Kind::Obj)) {
        return t.get(st, "state").is_some_and(running);
    }
    status.is_some_and(running) || top.get(K::State).is_some_and(running)
}

// ---------------------------------------------------------------------------------------------
// Best effort

/// Code and message from whatever well-known members there are; used by `ok_false` and as
/// the fallback for other JSON. `deep` also looks into `error` and `errors[0]`.
fn generic(t: &Tree<'_>, top: &Slots, dialect: Dialect, deep: bool) -> Envelope {
    let mut env = Envelope {
        dialect,
        ..Envelope::default()
    };
    env.code = code_any(t, top.get(K::ErrorCode)).or_else(|| code_any(t, top.get(K::Code)));
    env.message = msg(t, top.get(K::Message))
        .or_else(|| msg(t, top.get(K::MsgAlt)))
        .or_else(|| msg(t, top.get(K::ErrorDescription)))
        .or_else(|| msg(t, top.get(K::Detail)))
        .or_else(|| msg(t, top.get(K::Description)))
        .or_else(|| msg(t, top.get(K::Reason)));
    // GitLab: {"message": {"name": ["has already been taken"]}}.
    if let Some(m) = obj_at(t, top, K::Message) {
        collect_field_errors(t, m, &mut env);
        fill(&mut env.message, || {
            env.violations
                .first()
                .map(|v| cut(&format!("{} {}", v.field, v.message), MAX_MESSAGE).to_owned())
        });
    }
    // Beside a message, a code-like `name` (Feathers, Node: {"name": "NotFound"}), `id`
    // (Heroku, DigitalOcean: {"id": "not_found"}), `category` (HubSpot) or an UPPER_SNAKE
    // `status` (Google Maps: "OVER_QUERY_LIMIT") is the code.
    if env.message.is_some() && env.code.is_none() {
        env.code = [K::Name, K::Id, K::Category]
            .iter()
            .find_map(|k| code_str(t, top.get(*k)).filter(|n| word_code(n)));
        if env.code.is_none() {
            env.code = code_str(t, top.get(K::Status)).filter(|s| {
                s.contains('_') && s.bytes().all(|c| c.is_ascii_uppercase() || c == b'_')
            });
            // Google Maps' web services (Geocoding, Places, Directions...) answer failures with
            // a 200: {"status": "OVER_QUERY_LIMIT", "error_message": "..."}. Such a status
            // beside a message named as an error's is one; `ZERO_RESULTS` comes without one.
            env.signals_error |= env.code.is_some()
                && top
                    .get(K::MsgAlt)
                    .and_then(|i| t.key(i))
                    .is_some_and(|(k, _)| {
                        matches!(
                            k,
                            "error_message" | "errorMessage" | "ErrorMessage" | "errmsg"
                        )
                    });
        }
    }
    for k in [K::FieldErrors, K::Violations] {
        if let Some(fe) = top.get(k) {
            collect_field_errors(t, fe, &mut env);
        }
    }
    if deep {
        match top.get(K::Error) {
            Some(e) if t.kind(e) == Some(Kind::Obj) => {
                let s = Slots::of(t, e);
                fill(&mut env.code, || {
                    code_any(t, s.get(K::Code))
                        .or_else(|| code_any(t, s.get(K::ErrorCode)))
                        .or_else(|| code_str(t, s.get(K::Type)))
                });
                fill(&mut env.message, || {
                    msg(t, s.get(K::Message)).or_else(|| msg(t, s.get(K::MsgAlt)))
                });
                hints(t, &s, &mut env);
            }
            Some(e) => {
                if let Some(text) = t.text(e, MAX_MESSAGE) {
                    if env.code.is_none() && code_like(&text) {
                        env.code = Some(cut(&text, MAX_CODE).to_owned());
                    }
                    fill(&mut env.message, || Some(text));
                }
            }
            None => {}
        }
        if let Some(first) = arr_at(t, top, K::Errors).and_then(|a| t.nth(a, 0)) {
            // A list of strings: {"success": false, "errors": ["Invalid email"]}.
            fill(&mut env.message, || msg(t, Some(first)));
            if t.kind(first) == Some(Kind::Obj) {
                let s = Slots::of(t, first);
                fill(&mut env.code, || {
                    code_any(t, s.get(K::Code))
                        .or_else(|| code_any(t, s.get(K::ErrorCode)))
                        .or_else(|| code_str(t, s.get(K::Id)).filter(|n| word_code(n)))
                        .or_else(|| code_str(t, s.get(K::Error)).filter(|n| code_like(n)))
                });
                fill(&mut env.message, || {
                    msg(t, s.get(K::Message))
                        .or_else(|| msg(t, s.get(K::MsgAlt)))
                        .or_else(|| msg(t, s.get(K::Detail)))
                });
            }
        }
    }
    hints(t, top, &mut env);
    env
}

fn ok_false(t: &Tree<'_>, top: &Slots) -> bool {
    top.get(K::OkFlag).and_then(|i| t.boolean(i)) == Some(false)
        || top.get(K::Success).and_then(|i| t.boolean(i)) == Some(false)
        || top.get(K::Error).and_then(|i| t.boolean(i)) == Some(true)
        || top
            .get(K::Status)
            .is_some_and(|i| t.str_is(i, "error") || t.str_is(i, "fail"))
}

/// Node `i` as details: its text, as given.
fn details_at(t: &Tree<'_>, i: usize) -> Option<Details> {
    if t.details_deferred() {
        return Some(Details::deferred());
    }
    Some(Details::from_parsed(t.json_text(i)))
}

/// The members of object `o` not named in `skip`, as details (`None` when there are none).
/// Their text is taken as given; duplicate names stay (the last wins when parsed).
///
/// The kept members are measured before anything is written, so the text goes into a buffer
/// of exactly its size and [`Details::from_parsed_string`] keeps it without the shrinking
/// reallocation (and copy) that a buffer sized by the whole object needed. Up to
/// [`KEPT_ON_STACK`] kept members are remembered on the stack while measuring (names compared
/// and texts found once); past that, a second pass finds them again.
fn members_except(t: &Tree<'_>, o: usize, skip: &[&str]) -> Option<Details> {
    if t.details_deferred() {
        // Only whether there are any is wanted now.
        return t
            .children(o)
            .any(|c| kept_member(t, c, skip).is_some())
            .then(Details::deferred);
    }
    let mut first: [(&str, &str); KEPT_ON_STACK] = [("", ""); KEPT_ON_STACK];
    let mut n = 0usize;
    // `{` or `,` before each member, `"key":` and the value; `}` is added below.
    let mut len = 0usize;
    for c in t.children(o) {
        if let Some((key, value)) = kept_member(t, c, skip) {
            len += key.len() + 4 + value.len();
            if let Some(slot) = first.get_mut(n) {
                *slot = (key, value);
            }
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    let mut text = String::with_capacity(len + 1);
    if n <= KEPT_ON_STACK {
        for &(key, value) in first.iter().take(n) {
            put_member(&mut text, key, value);
        }
    } else {
        for c in t.children(o) {
            if let Some((key, value)) = kept_member(t, c, skip) {
                put_member(&mut text, key, value);
            }
        }
    }
    text.push('}');
    Some(Details::from_parsed_string(text))
}

/// Member `c`'s raw name and value text, unless the name is in `skip`. Inlined: as a call it
/// returned its pair through memory for every member.
#[inline(always)]
fn kept_member<'a>(t: &Tree<'a>, c: usize, skip: &[&str]) -> Option<(&'a str, &'a str)> {
    let (key, esc) = t.key(c)?;
    (!skip.iter().any(|name| key_is(key, esc, name))).then(|| (key, t.json_text(c)))
}

/// Append `"key":value` to the text of an object being built, after `{` or `,`.
#[inline(always)]
fn put_member(text: &mut String, key: &str, value: &str) {
    text.push(if text.is_empty() { '{' } else { ',' });
    text.push('"');
    text.push_str(key);
    text.push_str("\":");
    text.push_str(value);
}

/// How many kept members [`members_except`] remembers while measuring (typed errors keep 2-5).
const KEPT_ON_STACK: usize = 8;

// ---------------------------------------------------------------------------------------------
// Kubernetes, Anthropic, AWS JSON

fn kubernetes(t: &Tree<'_>, top: &Slots) -> Envelope {
    let mut env = Envelope {
        dialect: Dialect::Kubernetes,
        code: code_str(t, top.get(K::Reason)),
        message: msg(t, top.get(K::Message)),
        signals_error: top.get(K::Status).is_some_and(|i| t.str_is(i, "Failure")),
        ..Envelope::default()
    };
    if let Some(d) = obj_at(t, top, K::Details) {
        env.details = details_at(t, d);
        let ds = Slots::of(t, d);
        if let Some(causes) = arr_at(t, &ds, K::Causes) {
            for c in t.children(causes) {
                if t.kind(c) != Some(Kind::Obj) {
                    continue;
                }
                let cs = Slots::of(t, c);
                let field = t.text(cs.get(K::Field).unwrap_or(usize::MAX), MAX_FIELD);
                let m = msg(t, cs.get(K::Message)).or_else(|| msg(t, cs.get(K::Reason)));
                push_violation(&mut env, field.as_deref().unwrap_or(""), m);
            }
        }
        hints(t, &ds, &mut env);
    }
    hints(t, top, &mut env);
    env
}

fn anthropic(t: &Tree<'_>, top: &Slots, e: usize) -> Envelope {
    let es = Slots::of(t, e);
    let mut env = Envelope {
        dialect: Dialect::Anthropic,
        code: code_str(t, es.get(K::Type)).or_else(|| code_any(t, es.get(K::Code))),
        message: msg(t, es.get(K::Message)).or_else(|| msg(t, es.get(K::Detail))),
        ..Envelope::default()
    };
    // Bitbucket Cloud uses the same wrapper: {"type": "error", "error": {"message", "detail",
    // "fields": {"name": ["..."]}}}.
    if let Some(f) = obj_at(t, &es, K::Fields) {
        collect_field_errors(t, f, &mut env);
    }
    env.signals_error = true;
    hints(t, &es, &mut env);
    hints(t, top, &mut env);
    env
}

/// `com.amazon.coral.service#ThrottlingException` → `ThrottlingException`;
/// `FooError:http://internal.amazon.com/...` → `FooError`.
fn aws_code(raw: &str) -> &str {
    let s = raw.split(':').next().unwrap_or(raw);
    match s.split_once('#') {
        Some((_, after)) => after,
        None => s,
    }
}

fn aws_json(t: &Tree<'_>, top: &Slots) -> Envelope {
    let ty = code_str(t, top.get(K::AwsType)).unwrap_or_default();
    let code = aws_code(&ty).trim();
    let mut env = Envelope {
        dialect: Dialect::AwsJson,
        code: (!code.is_empty()).then(|| code.to_owned()),
        message: msg(t, top.get(K::Message)).or_else(|| msg(t, top.get(K::MsgAlt))),
        ..Envelope::default()
    };
    env.signals_error = env.code.is_some() || env.message.is_some();
    hints(t, top, &mut env);
    env
}

// ---------------------------------------------------------------------------------------------
// RFC 9457

fn uri_like(s: &str) -> bool {
    s.contains(':') || s.starts_with('/')
}

fn is_problem(t: &Tree<'_>, top: &Slots, problem_ct: bool) -> bool {
    if problem_ct {
        return [K::Type, K::Title, K::Status, K::Detail, K::Instance]
            .iter()
            .any(|k| top.has(*k));
    }
    let typed = top
        .get(K::Type)
        .and_then(|i| t.text(i, 2048))
        .is_some_and(|s| uri_like(&s));
    let status = top.get(K::Status).and_then(|i| t.int(i));
    let titled = is_str(t, top.get(K::Title));
    (typed && (titled || status.is_some() || is_str(t, top.get(K::Detail))))
        || (titled && status.is_some_and(|s| (400..=599).contains(&s)))
}

/// The last path segment of a problem `type` URI: `https://example.com/probs/out-of-credit`
/// → `out-of-credit`. Nothing for `about:blank` or for links to the HTTP RFCs themselves
/// (ASP.NET's `https://tools.ietf.org/html/rfc9110#section-15.5.1` names no error).
fn problem_type_code(ty: &str) -> Option<&str> {
    let ty = ty.trim();
    if ty.is_empty() || ty.eq_ignore_ascii_case("about:blank") {
        return None;
    }
    if find_str(ty, "ietf.org/").is_some() || find_str(ty, "rfc-editor.org/").is_some() {
        return None;
    }
    // A fragment names the problem within a page (the IANA http-problem-types registry:
    // `https://iana.org/assignments/http-problem-types#date`).
    // An anchor into a document page (`…/insufficient_quota.html#top`) is navigation, not a
    // name: there the page names the problem.
    if let Some((page, frag)) = ty.split_once('#') {
        let last = page
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(page);
        if !frag.is_empty() && !frag.contains('/') && !last.contains('.') {
            return Some(frag);
        }
    }
    let ty = ty.split(['#', '?']).next().unwrap_or(ty);
    let ty = ty.trim_end_matches('/');
    let seg = if ty.contains('/') {
        ty.rsplit('/').next()
    } else {
        ty.rsplit(':').next()
    }?;
    let seg = seg.strip_suffix(".html").unwrap_or(seg);
    // A link to an error catalogue (Mailchimp's `…/docs/errors/`) names no problem.
    let generic = [
        "errors",
        "error",
        "problems",
        "problem",
        "docs",
        "documentation",
    ]
    .iter()
    .any(|g| seg.eq_ignore_ascii_case(g));
    (!seg.is_empty() && !generic).then_some(seg)
}

fn problem(t: &Tree<'_>, o: usize, top: &Slots) -> Envelope {
    let mut env = Envelope {
        dialect: Dialect::Problem,
        signals_error: true,
        ..Envelope::default()
    };
    env.code = code_any(t, top.get(K::Code))
        .or_else(|| code_any(t, top.get(K::ErrorCode)))
        .or_else(|| {
            let ty = t.text(top.get(K::Type)?, 2048)?;
            problem_type_code(&ty).map(|c| cut(c, MAX_CODE).to_owned())
        });
    env.message = msg(t, top.get(K::Detail)).or_else(|| msg(t, top.get(K::Title)));
    env.reference_id = id(t, top.get(K::Instance));
    env.request_id = id(t, top.get(K::RequestId)).or_else(|| id(t, top.get(K::TraceId)));
    if let Some(errs) = top.get(K::Errors) {
        collect_field_errors(t, errs, &mut env);
    }
    if let Some(ip) = arr_at(t, top, K::InvalidParams) {
        collect_field_errors(t, ip, &mut env);
    }
    // Symfony / API Platform: {"violations": [{"propertyPath", "title" | "message"}]}.
    if let Some(v) = arr_at(t, top, K::Violations) {
        collect_field_errors(t, v, &mut env);
    }
    // Extension members, as given.
    env.details = members_except(t, o, &["type", "title", "status", "detail", "instance"]);
    hints(t, top, &mut env);
    env
}

/// `"#/age"` or `"/data/attributes/email"` → `age`, `data.attributes.email`.
fn pointer_field(p: &str) -> String {
    let p = p.strip_prefix('#').unwrap_or(p);
    let p = p.strip_prefix('/').unwrap_or(p);
    let mut out = String::with_capacity(p.len());
    for (i, seg) in p.split('/').enumerate() {
        if i > 0 {
            out.push('.');
        }
        // `~1` is `/` and `~0` is `~` (RFC 6901), in one pass: what
        // `seg.replace("~1", "/").replace("~0", "~")` gives, without `str`'s substring search.
        let mut rest = seg;
        while let Some(i) = rest.find('~') {
            out.push_str(rest.get(..i).unwrap_or(""));
            let (ch, used) = match rest.as_bytes().get(i + 1) {
                Some(b'1') => ('/', 2),
                Some(b'0') => ('~', 2),
                _ => ('~', 1),
            };
            out.push(ch);
            rest = rest.get(i + used..).unwrap_or("");
        }
        out.push_str(rest);
    }
    out
}

/// Field errors in the shapes APIs use: `{"field": ["msg", ...]}` / `{"field": "msg"}`
/// (ASP.NET, Rails, Jira, GitLab), nested objects of those down to `_errors` lists (Discord),
/// and lists of objects ([`element_violations`]).
fn collect_field_errors(t: &Tree<'_>, node: usize, env: &mut Envelope) {
    match t.kind(node) {
        Some(Kind::Obj) => field_map(t, node, "", 0, env),
        Some(Kind::Arr) => {
            for c in t.children(node) {
                if env.violations.len() >= MAX_VIOLATIONS {
                    break;
                }
                match t.kind(c) {
                    Some(Kind::Obj) => element_violations(t, c, env),
                    _ => push_violation(env, "", msg(t, Some(c))),
                }
            }
        }
        _ => {}
    }
}

/// `{"field": "msg" | ["msg", ...] | {...}}`: nested objects extend the dotted path (Discord's
/// `{"embed": {"fields": {"0": {"name": {"_errors": [{"code", "message"}]}}}}}`), to a few
/// levels.
fn field_map(t: &Tree<'_>, node: usize, prefix: &str, depth: u8, env: &mut Envelope) {
    for c in t.children(node) {
        if env.violations.len() >= MAX_VIOLATIONS {
            return;
        }
        let Some((key, esc)) = t.key(c) else { continue };
        let key = super::json::decode(key, esc, MAX_FIELD);
        let leaf = key == "_errors";
        let field = if leaf || prefix.is_empty() {
            if leaf {
                prefix.to_owned()
            } else {
                key.into_owned()
            }
        } else {
            format!("{prefix}.{key}")
        };
        match t.kind(c) {
            Some(Kind::Arr) => {
                for m in t.children(c) {
                    match t.kind(m) {
                        Some(Kind::Obj) => {
                            let s = Slots::of(t, m);
                            push_violation(env, &field, element_message(t, &s));
                        }
                        _ => push_violation(env, &field, msg(t, Some(m))),
                    }
                }
            }
            Some(Kind::Obj) if depth < 6 => field_map(t, c, &field, depth + 1, env),
            _ => push_violation(env, &field, msg(t, Some(c))),
        }
    }
}

/// The message of one error object: `detail`, `message`, `msg`, `description`, `reason`,
/// Spring's `defaultMessage`, `title`, else its code (GitHub's `missing_field`, PayPal's `issue`).
fn element_message(t: &Tree<'_>, s: &Slots) -> Option<String> {
    msg(t, s.get(K::Detail))
        .or_else(|| msg(t, s.get(K::Message)))
        .or_else(|| msg(t, s.get(K::MsgAlt)))
        .or_else(|| msg(t, s.get(K::Description)))
        .or_else(|| msg(t, s.get(K::Reason)))
        .or_else(|| msg(t, s.get(K::DefaultMessage)))
        .or_else(|| msg(t, s.get(K::Title)))
        .or_else(|| msg(t, s.get(K::Issue)))
        .or_else(|| code_any(t, s.get(K::Code)))
}

/// One object of an error list as violations: the field from `loc` (pydantic), `pointer`,
/// `source` (JSON:API), `field`/`name`, `param`/`parameter`, `target` (OData), a `fields` list
/// (Salesforce: one violation each) or a `parameters` object (X/Twitter v2: one per key);
/// `""` when none.
fn element_violations(t: &Tree<'_>, c: usize, env: &mut Envelope) {
    let s = Slots::of(t, c);
    if let Some(loc) = arr_at(t, &s, K::Loc) {
        let m = msg(t, s.get(K::MsgAlt)).or_else(|| msg(t, s.get(K::Message)));
        push_violation(env, &loc_field(t, loc), m);
        return;
    }
    let m = element_message(t, &s);
    let field = if let Some(p) = s.get(K::Pointer) {
        t.text(p, MAX_FIELD).map(|p| pointer_field(&p))
    } else if let Some(src) = obj_at(t, &s, K::Source) {
        source_field(t, src)
    } else {
        // `path` only as a string (a GraphQL path is an array).
        [
            K::Field,
            K::PropertyPath,
            K::Name,
            K::Param,
            K::Parameter,
            K::Target,
            K::Path,
        ]
        .iter()
        .find_map(|k| s.get(*k).and_then(|i| t.text(i, MAX_FIELD)))
    };
    if let Some(f) = field {
        let f = if f.starts_with('/') || f.starts_with("#/") {
            pointer_field(&f)
        } else {
            f
        };
        push_violation(env, &f, m);
        return;
    }
    // Salesforce: one violation per name in `fields`.
    if let Some(fields) = arr_at(t, &s, K::Fields) {
        for f in t.children(fields) {
            if let Some(f) = t.text(f, MAX_FIELD) {
                push_violation(env, &f, m.clone());
            }
        }
        if t.len(fields) > 0 {
            return;
        }
    }
    // X/Twitter v2: one per key of `parameters`.
    if let Some(params) = obj_at(t, &s, K::Parameters) {
        for p in t.children(params) {
            if let Some((key, esc)) = t.key(p) {
                push_violation(env, &super::json::decode(key, esc, MAX_FIELD), m.clone());
            }
        }
        if t.len(params) > 0 {
            return;
        }
    }
    push_violation(env, "", m);
}

/// True when an error object names the field it is about (callers also accept a string
/// `path`, which GraphQL never sends).
fn has_field_key(s: &Slots) -> bool {
    [
        K::Field,
        K::Param,
        K::Parameter,
        K::Target,
        K::Pointer,
        K::Source,
        K::Loc,
        K::Fields,
        K::Parameters,
        K::PropertyPath,
    ]
    .iter()
    .any(|k| s.has(*k))
}

/// The elements of an error list that name a field, as violations.
fn field_list(t: &Tree<'_>, arr: usize, env: &mut Envelope) {
    for c in t.children(arr).take(MAX_VIOLATIONS) {
        if t.kind(c) != Some(Kind::Obj) {
            continue;
        }
        let s = Slots::of(t, c);
        if has_field_key(&s) || is_str(t, s.get(K::Path)) {
            element_violations(t, c, env);
        }
    }
}

/// pydantic `loc`: `["body", "items", 0, "sku"]` → `body.items.0.sku`.
fn loc_field(t: &Tree<'_>, loc: usize) -> String {
    let mut out = String::new();
    for (i, c) in t.children(loc).enumerate() {
        if i > 0 {
            out.push('.');
        }
        if let Some(s) = t.code(c, MAX_FIELD) {
            out.push_str(&s);
        }
        if out.len() > MAX_FIELD * 4 {
            break;
        }
    }
    out
}

/// JSON:API `source`: `pointer` (as a dotted path), else `parameter`, else `header`.
fn source_field(t: &Tree<'_>, src: usize) -> Option<String> {
    let s = Slots::of(t, src);
    if let Some(p) = s.get(K::Pointer).and_then(|p| t.text(p, MAX_FIELD)) {
        return Some(pointer_field(&p));
    }
    s.get(K::Parameter)
        .and_then(|p| t.text(p, MAX_FIELD))
        .or_else(|| t.get(src, "header").and_then(|h| t.text(h, MAX_FIELD)))
}

// ---------------------------------------------------------------------------------------------
// {"error": {...}}

fn error_object(t: &Tree<'_>, top: &Slots, e: usize) -> Option<Envelope> {
    let es = Slots::of(t, e);
    let details = es.get(K::Details);
    let details_typed = details.is_some_and(|d| {
        t.kind(d) == Some(Kind::Arr)
            && t.children(d)
                .any(|c| t.kind(c) == Some(Kind::Obj) && t.get(c, "@type").is_some())
    });
    let num_code = kind_at(t, &es, K::Code, Kind::Num).is_some();
    // Facebook Graph: {"error": {"message", "type": "OAuthException", "code": 190,
    // "error_subcode", "fbtrace_id"}}.
    if es.has(K::FbTraceId) || (num_code && es.has(K::ErrorSubcode)) {
        return Some(facebook(t, top, e, &es));
    }
    if (num_code && is_str(t, es.get(K::Status)))
        || details_typed
        || (num_code && arr_at(t, &es, K::Errors).is_some())
    {
        return Some(google(t, top, &es));
    }
    if es.has(K::StripeOnly) {
        return Some(typed_error(t, top, e, &es, Dialect::Stripe));
    }
    if es.has(K::Param) || (is_str(t, es.get(K::Type)) && es.has(K::Code)) {
        return Some(typed_error(t, top, e, &es, Dialect::Openai));
    }
    if is_str(t, es.get(K::Code))
        && (es.has(K::Target) || arr_at(t, &es, K::Details).is_some() || es.has(K::InnerError))
    {
        return Some(azure(t, top, e));
    }
    if [K::Code, K::ErrorCode, K::Message, K::MsgAlt, K::Type]
        .iter()
        .any(|k| es.has(*k))
    {
        return nested(t, top, &es);
    }
    None
}

/// Canonical gRPC status names by number.
pub(crate) const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// google.rpc.Status, wrapped (`es` is the `error` object) or bare.
fn google(t: &Tree<'_>, top: &Slots, es: &Slots) -> Envelope {
    let mut env = Envelope {
        dialect: Dialect::GoogleRpc,
        message: msg(t, es.get(K::Message)),
        ..Envelope::default()
    };
    let mut reason: Option<String> = None;
    if let Some(d) = arr_at(t, es, K::Details) {
        env.details = details_at(t, d);
        for c in t.children(d) {
            if t.kind(c) != Some(Kind::Obj) {
                continue;
            }
            let s = Slots::of(t, c);
            let Some(ty) = s.get(K::AtType).and_then(|i| t.text_cow(i, 256)) else {
                continue;
            };
            // The part after the last `/` (`type.googleapis.com/google.rpc.RetryInfo`).
            let name = match ty.bytes().rposition(|c| c == b'/') {
                Some(i) => ty.get(i + 1..).unwrap_or(&ty),
                None => &ty,
            };
            match name {
                "google.rpc.RetryInfo" => {
                    fill(&mut env.retry_after, || {
                        s.get(K::RetryDelay).and_then(|i| duration_at(t, i, SECS))
                    });
                }
                "google.rpc.BadRequest" => {
                    if let Some(fv) = arr_at(t, &s, K::FieldViolations) {
                        for v in t.children(fv) {
                            let vs = Slots::of(t, v);
                            let field = t.text(vs.get(K::Field).unwrap_or(usize::MAX), MAX_FIELD);
                            let m = msg(t, vs.get(K::Description))
                                .or_else(|| msg(t, vs.get(K::Reason)));
                            push_violation(&mut env, field.as_deref().unwrap_or(""), m);
                        }
                    }
                }
                "google.rpc.ErrorInfo" => {
                    fill(&mut reason, || code_str(t, s.get(K::Reason)));
                    if let Some(m) = obj_at(t, &s, K::Metadata) {
                        env.long_quota |= names_long_window(t, m);
                    }
                }
                "google.rpc.QuotaFailure" => {
                    if let Some(vs) = t.get(c, "violations") {
                        for v in t.children(vs) {
                            env.long_quota |= names_long_window(t, v);
                        }
                    }
                }
                "google.rpc.RequestInfo" => {
                    fill(&mut env.request_id, || id(t, s.get(K::RequestId)));
                }
                _ => {}
            }
        }
    }
    // The ErrorInfo reason is the precise code (AIP-193: `API_KEY_INVALID` under
    // `INVALID_ARGUMENT`), then a legacy `errors[0].reason` of the `usageLimits` domain
    // (BigQuery's `quotaExceeded` under `PERMISSION_DENIED`), else the canonical `status`, else
    // any legacy `errors[0].reason`, else the canonical name of a gRPC code number (bare Status).
    let legacy = arr_at(t, es, K::Errors).and_then(|a| t.nth(a, 0));
    let legacy_reason = || legacy.and_then(|first| code_str(t, t.get(first, "reason")));
    fill(&mut reason, || {
        let domain = t.get(legacy?, "domain")?;
        if t.str_is(domain, "usageLimits") {
            legacy_reason()
        } else {
            None
        }
    });
    env.code = reason.or_else(|| code_str(t, es.get(K::Status)));
    fill(&mut env.code, legacy_reason);
    env.signals_error = env.code.is_some() || env.message.is_some();
    hints(t, es, &mut env);
    hints(t, top, &mut env);
    env
}

/// An object with a quota id member (`quotaId`, `quota_limit`, `quotaLimit`) that names a
/// per-day or per-month window (`QueriesPerDay`, `daily`, `PerMonth`): a window that will not
/// pass in a retry loop.
fn names_long_window(t: &Tree<'_>, o: usize) -> bool {
    t.children(o).any(|c| {
        let Some((key, esc)) = t.key(c) else {
            return false;
        };
        // Lengths 7 to 11, all starting with `q`: most keys are turned away before comparing.
        let is_quota_key = |k: &str| {
            (7..=11).contains(&k.len())
                && k.as_bytes().first().is_some_and(|c| c | 0x20 == b'q')
                && ["quotaId", "quota_id", "quota_limit", "quotaLimit"]
                    .iter()
                    .any(|n| k.eq_ignore_ascii_case(n))
        };
        // A raw key longer than 64 characters is no quota key, cut or not.
        let quota_key = if esc {
            is_quota_key(&super::json::decode(key, true, 64))
        } else {
            is_quota_key(key)
        };
        quota_key && t.text_cow(c, 128).is_some_and(|v| names_long(v.as_bytes()))
    })
}

/// True when `v` holds `perday`, `permonth`, `daily` or `monthly` in any ASCII case (what
/// lowercasing it and searching would find, without the copy). The bytes that may start one
/// (`p`, `d`, `m`, any case) are found eight at a time, and only those are compared.
fn names_long(v: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let starts = |i: usize, w: &[u8]| {
        v.get(i..i + w.len())
            .is_some_and(|r| r.eq_ignore_ascii_case(w))
    };
    // `| 0x20` folds an ASCII letter to lowercase (and maps a few other bytes onto letters:
    // the comparison turns those away).
    let at = |i: usize| match v.get(i).map(|c| c | 0x20) {
        Some(b'p') => starts(i, b"perday") || starts(i, b"permonth"),
        Some(b'd') => starts(i, b"daily"),
        Some(b'm') => starts(i, b"monthly"),
        _ => false,
    };
    let mut chunks = v.chunks_exact(8);
    let mut base = 0usize;
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w) | (ONES * 0x20);
        // A flag on every byte equal to a lead letter (and maybe on some bytes above one:
        // `at` turns those away), none missed.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        let mut m = zero(w ^ (ONES * u64::from(b'p')))
            | zero(w ^ (ONES * u64::from(b'd')))
            | zero(w ^ (ONES * u64::from(b'm')));
        while m != 0 {
            if at(base + (m.trailing_zeros() / 8) as usize) {
                return true;
            }
            m &= m - 1;
        }
        base += 8;
    }
    (base..v.len()).any(at)
}

fn bare_status(t: &Tree<'_>, top: &Slots) -> Option<Envelope> {
    let code = top.get(K::Code).and_then(|i| t.int(i))?;
    // A canonical status name (`RESOURCE_EXHAUSTED`), not `"ok"` or `"success"`.
    let status_named = top
        .get(K::Status)
        .is_some_and(|i| GRPC_CODES.iter().skip(1).any(|name| t.str_is(i, name)));
    let typed = arr_at(t, top, K::Details).is_some();
    if !(status_named || typed)
        || !top.has(K::Message)
        || !top.only(&[K::Code, K::Message, K::Details, K::Status])
    {
        return None;
    }
    let mut env = google(t, &Slots::empty(), top);
    if !status_named {
        // A gRPC code number (0..=16) rather than an HTTP status.
        let name = usize::try_from(code).ok().and_then(|c| GRPC_CODES.get(c))?;
        if code == 0 {
            return None;
        }
        env.code = Some((*name).to_owned());
        env.signals_error = true;
    }
    Some(env)
}

/// Stripe and OpenAI: `{"error": {"type", "code", "message", "param", ...}}`. The code is
/// `code` when it is a string, else `type`; `details` holds the other members.
fn typed_error(t: &Tree<'_>, top: &Slots, e: usize, es: &Slots, dialect: Dialect) -> Envelope {
    let mut env = Envelope {
        dialect,
        code: code_str(t, es.get(K::Code)).or_else(|| code_str(t, es.get(K::Type))),
        message: msg(t, es.get(K::Message)),
        ..Envelope::default()
    };
    env.details = members_except(t, e, &["code", "message"]);
    // Stripe's and OpenAI's `param` names the offending parameter.
    if let Some(param) = es.get(K::Param).and_then(|i| t.text(i, MAX_FIELD)) {
        let m = env.message.clone();
        push_violation(&mut env, &param, m);
    }
    env.signals_error = env.code.is_some() || env.message.is_some();
    hints(t, es, &mut env);
    hints(t, top, &mut env);
    env
}

/// Azure / OData: `{"error": {"code", "message", "target", "details": [...], "innererror"}}`
/// and `{"odata.error": {"code", "message": {"lang", "value"}}}`.
fn azure(t: &Tree<'_>, top: &Slots, e: usize) -> Envelope {
    let es = Slots::of(t, e);
    let message = match es.get(K::Message) {
        Some(m) if t.kind(m) == Some(Kind::Obj) => msg(t, t.get(m, "value")),
        m => msg(t, m),
    };
    let mut env = Envelope {
        dialect: Dialect::Azure,
        code: code_any(t, es.get(K::Code)),
        message,
        ..Envelope::default()
    };
    if let Some(d) = arr_at(t, &es, K::Details) {
        env.details = details_at(t, d);
        for c in t.children(d) {
            if t.kind(c) != Some(Kind::Obj) {
                continue;
            }
            let s = Slots::of(t, c);
            if let Some(target) = s.get(K::Target).and_then(|i| t.text(i, MAX_FIELD)) {
                push_violation(&mut env, &target, msg(t, s.get(K::Message)));
            }
        }
    } else if let Some(inner) = es.get(K::InnerError) {
        env.details = details_at(t, inner);
    }
    env.signals_error = env.code.is_some() || env.message.is_some();
    hints(t, &es, &mut env);
    if let Some(inner) = obj_at(t, &es, K::InnerError) {
        // Microsoft Graph: {"innerError": {"request-id", "client-request-id", "date"}}.
        hints(t, &Slots::of(t, inner), &mut env);
    }
    hints(t, top, &mut env);
    env
}

/// The seeds' nested envelope: `{"error": {"code", "message", "details": {...}}}`.
fn nested(t: &Tree<'_>, top: &Slots, es: &Slots) -> Option<Envelope> {
    let mut env = Envelope {
        dialect: Dialect::Nested,
        code: code_any(t, es.get(K::Code))
            .or_else(|| code_any(t, es.get(K::ErrorCode)))
            .or_else(|| code_str(t, es.get(K::Type))),
        message: msg(t, es.get(K::Message))
            .or_else(|| msg(t, es.get(K::MsgAlt)))
            .or_else(|| msg(t, es.get(K::Reason)))
            .or_else(|| msg(t, es.get(K::Description))),
        ..Envelope::default()
    };
    if env.code.is_none() && env.message.is_none() {
        return None;
    }
    if let Some(d) = es.get(K::Details) {
        match t.kind(d) {
            Some(Kind::Null) | None => {}
            Some(Kind::Obj) => {
                env.details = details_at(t, d);
                hints(t, &Slots::of(t, d), &mut env);
            }
            Some(Kind::Arr) => {
                env.details = details_at(t, d);
                collect_field_errors(t, d, &mut env);
            }
            Some(_) => env.details = details_at(t, d),
        }
    }
    env.signals_error = true;
    hints(t, es, &mut env);
    hints(t, top, &mut env);
    Some(env)
}

// ---------------------------------------------------------------------------------------------
// {"errors": [...]}

fn errors_member(t: &Tree<'_>, top: &Slots, errs: usize) -> Option<Envelope> {
    match t.kind(errs) {
        Some(Kind::Arr) => {}
        Some(Kind::Str | Kind::StrEsc) => {
            // Shopify: {"errors": "[API] Invalid API key or access token ..."}.
            let mut env = generic(t, top, Dialect::Json, false);
            fill(&mut env.message, || msg(t, Some(errs)));
            env.signals_error = env.message.is_some();
            return Some(env);
        }
        Some(Kind::Obj) if t.len(errs) > 0 => {
            // Rails-style {"errors": {"email": ["is invalid"]}}.
            let mut env = generic(t, top, Dialect::Json, false);
            collect_field_errors(t, errs, &mut env);
            if env.violations.is_empty() {
                return None;
            }
            fill(&mut env.message, || {
                env.violations.first().map(|v| v.message.clone())
            });
            env.signals_error = true;
            return Some(env);
        }
        _ => return None,
    }
    let has_data = top.has(K::Data);
    if t.len(errs) == 0 {
        return has_data.then(|| Envelope {
            dialect: Dialect::Graphql,
            ..Envelope::default()
        });
    }
    let (mut gql, mut japi, mut msg_only) = (false, false, true);
    for c in t.children(errs).take(20) {
        if t.kind(c) != Some(Kind::Obj) {
            msg_only = false;
            continue;
        }
        let s = Slots::of(t, c);
        gql |= s.has(K::Extensions) || s.has(K::Locations) || arr_at(t, &s, K::Path).is_some();
        let field_path = is_str(t, s.get(K::Path));
        japi |=
            s.has(K::Title) || s.has(K::Detail) || s.has(K::Source) || is_str(t, s.get(K::Status));
        msg_only &= s.has(K::Message) && !s.has(K::Code) && !has_field_key(&s) && !field_path;
    }
    if gql || (!japi && (has_data || msg_only)) {
        return Some(graphql(t, top, errs));
    }
    if japi {
        return Some(json_api(t, top, errs));
    }
    // A plain list of {"code", "message"} objects (Twitter v1.1 and many others), or of
    // {"resource", "field", "code"} (GitHub) and {"field", "message"} objects.
    let mut env = generic(t, top, Dialect::Json, true);
    field_list(t, errs, &mut env);
    env.signals_error = env.code.is_some() || env.message.is_some() || !env.violations.is_empty();
    Some(env)
}

fn graphql(t: &Tree<'_>, top: &Slots, errs: usize) -> Envelope {
    let mut env = Envelope {
        dialect: Dialect::Graphql,
        signals_error: true,
        ..Envelope::default()
    };
    for c in t.children(errs).take(MAX_VIOLATIONS) {
        if t.kind(c) != Some(Kind::Obj) {
            continue;
        }
        let s = Slots::of(t, c);
        fill(&mut env.message, || msg(t, s.get(K::Message)));
        let ext = obj_at(t, &s, K::Extensions);
        if env.code.is_none() {
            let xs = ext.map(|x| Slots::of(t, x));
            env.code = xs
                .as_ref()
                .and_then(|xs| code_any(t, xs.get(K::Code)))
                .or_else(|| code_str(t, s.get(K::Type)))
                .or_else(|| {
                    xs.as_ref()
                        .and_then(|xs| code_str(t, xs.get(K::Classification)))
                })
                .or_else(|| code_any(t, s.get(K::Code)))
                .or_else(|| code_str(t, s.get(K::Id)).filter(|n| word_code(n)));
            if env.code.is_some() {
                if let Some(x) = ext {
                    env.details = details_at(t, x);
                }
            }
        }
        if let Some(x) = ext {
            hints(t, &Slots::of(t, x), &mut env);
        }
        if env.code.is_some() && env.message.is_some() {
            break;
        }
    }
    if let Some(x) = obj_at(t, top, K::Extensions) {
        hints(t, &Slots::of(t, x), &mut env);
    }
    hints(t, top, &mut env);
    env
}

fn json_api(t: &Tree<'_>, top: &Slots, errs: usize) -> Envelope {
    let mut env = Envelope {
        dialect: Dialect::JsonApi,
        signals_error: true,
        ..Envelope::default()
    };
    for c in t.children(errs) {
        if t.kind(c) != Some(Kind::Obj) {
            continue;
        }
        let s = Slots::of(t, c);
        let title = msg(t, s.get(K::Title));
        fill(&mut env.code, || {
            code_any(t, s.get(K::Code))
                .or_else(|| title.as_deref().map(|x| cut(x, MAX_CODE).to_owned()))
        });
        let detail = msg(t, s.get(K::Detail));
        fill(&mut env.message, || {
            detail
                .clone()
                .or_else(|| msg(t, s.get(K::Message)))
                .or_else(|| title.clone())
        });
        if has_field_key(&s) {
            // `source` (JSON:API), or Square's `field`.
            element_violations(t, c, &mut env);
        }
        if env.violations.len() >= MAX_VIOLATIONS {
            break;
        }
    }
    hints(t, top, &mut env);
    env
}

// ---------------------------------------------------------------------------------------------
// Spring Boot, flat / minimal / OAuth, detail, DRF

fn spring_boot(t: &Tree<'_>, top: &Slots) -> Envelope {
    let message = msg(t, top.get(K::Message)).filter(|m| m != "No message available");
    let mut env = Envelope {
        dialect: Dialect::SpringBoot,
        message: message.or_else(|| msg(t, top.get(K::Error))),
        ..Envelope::default()
    };
    if let Some(errs) = arr_at(t, top, K::Errors) {
        collect_field_errors(t, errs, &mut env);
    }
    env.signals_error = true;
    hints(t, top, &mut env);
    env
}

fn flat_family(t: &Tree<'_>, top: &Slots, err_str: bool) -> Envelope {
    let error = if err_str {
        msg(t, top.get(K::Error))
    } else {
        None
    };
    let error_code = code_any(t, top.get(K::ErrorCode));
    // OAuth 2.0 (RFC 6749 §5.2, RFC 6750 §3): the `error` member is the code.
    if err_str && error_code.is_none() && (top.has(K::ErrorDescription) || top.has(K::ErrorUri)) {
        let mut env = Envelope {
            dialect: Dialect::Oauth,
            code: error.as_deref().map(|e| cut(e, MAX_CODE).to_owned()),
            message: msg(t, top.get(K::ErrorDescription)).or(error),
            signals_error: true,
            ..Envelope::default()
        };
        hints(t, top, &mut env);
        return env;
    }
    let flat = (error_code.is_some()
        && [
            K::Detail,
            K::Retryable,
            K::RequestId,
            K::ReferenceId,
            K::Message,
        ]
        .iter()
        .any(|k| top.has(*k)))
        || (err_str
            && [K::Detail, K::Retryable, K::RequestId, K::ReferenceId]
                .iter()
                .any(|k| top.has(*k)));
    let mut env = Envelope {
        dialect: if flat {
            Dialect::Flat
        } else {
            Dialect::Minimal
        },
        code: error_code,
        signals_error: true,
        ..Envelope::default()
    };
    if flat {
        let d = top.get(K::Detail);
        env.message = msg(t, d)
            .or_else(|| msg(t, top.get(K::Message)))
            .or_else(|| error.clone());
        if let Some(d) = d {
            if matches!(t.kind(d), Some(Kind::Arr | Kind::Obj)) {
                collect_field_errors(t, d, &mut env);
            }
        }
    } else {
        // {"error": "..."} alone, or with `error_code` (seed 003), or NestJS/Boom's
        // {"statusCode", "error": "Bad Request", "message": "..." | [...]}.
        match top.get(K::Message) {
            Some(m) if t.kind(m) == Some(Kind::Arr) => {
                collect_field_errors(t, m, &mut env);
                env.message = env.violations.first().map(|v| v.message.clone());
            }
            m => {
                env.message = msg(t, m)
                    .or_else(|| msg(t, top.get(K::MsgAlt)))
                    .or_else(|| msg(t, top.get(K::Description)))
                    .or_else(|| msg(t, top.get(K::ErrorDescription)))
            }
        }
        fill(&mut env.message, || error.clone());
        if env.code.is_none() {
            env.code = error
                .as_deref()
                .filter(|e| code_like(e))
                .map(|e| cut(e, MAX_CODE).to_owned());
        }
    }
    if let Some(fields) = arr_at(t, top, K::Fields) {
        // Salesforce: [{"message", "errorCode", "fields": ["Name"]}].
        for f in t.children(fields) {
            if let Some(f) = t.text(f, MAX_FIELD) {
                let m = env.message.clone();
                push_violation(&mut env, &f, m);
            }
        }
    }
    if let Some(e) = obj_at(t, top, K::Details) {
        hints(t, &Slots::of(t, e), &mut env);
    }
    hints(t, top, &mut env);
    env
}

fn detail(t: &Tree<'_>, top: &Slots, d: usize) -> Option<Envelope> {
    match t.kind(d)? {
        Kind::Arr => {
            // FastAPI / pydantic: [{"loc": [...], "msg": "...", "type": "..."}].
            let first = t.nth(d, 0)?;
            if t.kind(first) != Some(Kind::Obj) {
                return None;
            }
            let fs = Slots::of(t, first);
            if !(fs.has(K::Loc) || fs.has(K::MsgAlt)) {
                return None;
            }
            let mut env = Envelope {
                dialect: Dialect::Fastapi,
                signals_error: true,
                ..Envelope::default()
            };
            collect_field_errors(t, d, &mut env);
            env.message = env.violations.first().map(|v| v.message.clone());
            // pydantic's error type (`missing`, `value_error.missing`) is the code.
            env.code = code_str(t, fs.get(K::Type));
            hints(t, top, &mut env);
            Some(env)
        }
        Kind::Str | Kind::StrEsc | Kind::Obj => {
            // FastAPI's HTTPException and DRF: {"detail": "..."}, maybe with a `code`.
            let allowed = [
                K::Detail,
                K::Code,
                K::ErrorCode,
                K::Status,
                K::StatusCode,
                K::Messages,
                K::RequestId,
            ];
            if !top.only(&allowed) {
                return None;
            }
            let mut env = Envelope {
                dialect: Dialect::Detail,
                code: code_any(t, top.get(K::Code)).or_else(|| code_any(t, top.get(K::ErrorCode))),
                message: msg(t, Some(d)),
                ..Envelope::default()
            };
            if t.kind(d) == Some(Kind::Obj) {
                let s = Slots::of(t, d);
                // ElevenLabs: {"detail": {"status": "quota_exceeded", "message": "..."}}.
                fill(&mut env.code, || {
                    code_any(t, s.get(K::Code))
                        .or_else(|| code_any(t, s.get(K::ErrorCode)))
                        .or_else(|| {
                            code_str(t, s.get(K::Status))
                                .filter(|c| c.contains('_') && word_code(c))
                        })
                });
                fill(&mut env.message, || {
                    msg(t, s.get(K::Message))
                        .or_else(|| msg(t, s.get(K::MsgAlt)))
                        .or_else(|| msg(t, s.get(K::Detail)))
                        .or_else(|| msg(t, s.get(K::Error)))
                });
                hints(t, &s, &mut env);
            }
            env.signals_error = env.code.is_some() || env.message.is_some();
            hints(t, top, &mut env);
            Some(env)
        }
        _ => None,
    }
}

/// A sentence-like validation message (DRF's and Django's all end in `.`): keeps
/// `{"tags": ["a", "b"]}` or `{"notes": ["call back"]}` from being read as field errors.
fn sentence(s: &str) -> bool {
    let s = s.trim();
    s.len() > 1 && s.ends_with('.')
}

/// Field → messages, one level of nesting (nested serializers, `many=True` lists).
fn drf_collect(
    t: &Tree<'_>,
    node: usize,
    prefix: &str,
    depth: u8,
    out: &mut Vec<(String, usize)>,
) -> bool {
    if depth > 2 {
        return false;
    }
    let mut any = false;
    for c in t.children(node) {
        let Some((key, esc)) = t.key(c) else {
            return false;
        };
        let key = super::json::decode(key, esc, MAX_FIELD);
        let field = if depth == 0 && key == "non_field_errors" {
            String::new()
        } else if prefix.is_empty() {
            key.into_owned()
        } else {
            format!("{prefix}.{key}")
        };
        match t.kind(c) {
            Some(Kind::Arr) if t.len(c) > 0 => {
                for (i, m) in t.children(c).enumerate() {
                    match t.kind(m) {
                        Some(Kind::Str | Kind::StrEsc) => {
                            let Some(raw) = t.text(m, 200) else {
                                return false;
                            };
                            if !sentence(&raw) {
                                return false;
                            }
                            if out.len() < MAX_VIOLATIONS {
                                out.push((field.clone(), m));
                            }
                        }
                        Some(Kind::Obj) => {
                            if t.len(m) > 0
                                && !drf_collect(t, m, &format!("{field}.{i}"), depth + 1, out)
                            {
                                return false;
                            }
                        }
                        _ => return false,
                    }
                }
                any = true;
            }
            Some(Kind::Obj) if t.len(c) > 0 => {
                if !drf_collect(t, c, &field, depth + 1, out) {
                    return false;
                }
                any = true;
            }
            _ => return false,
        }
    }
    any
}

fn drf(t: &Tree<'_>, o: usize) -> Option<Envelope> {
    let mut found = Vec::new();
    if !drf_collect(t, o, "", 0, &mut found) || found.is_empty() {
        return None;
    }
    let mut env = Envelope {
        dialect: Dialect::Drf,
        signals_error: true,
        ..Envelope::default()
    };
    for (field, m) in found {
        push_violation(&mut env, &field, msg(t, Some(m)));
    }
    env.message = env.violations.first().map(|v| v.message.clone());
    Some(env)
}

// ---------------------------------------------------------------------------------------------
// Facebook Graph, Dropbox, PayPal, Atlassian

/// Facebook Graph: the numeric `code` is the code (its meaning does not depend on `type`:
/// `OAuthException` covers both an expired token, 190, and a throttled app, 4);
/// `error_subcode` and `type` stay in the details, `fbtrace_id` is the request id.
fn facebook(t: &Tree<'_>, top: &Slots, e: usize, es: &Slots) -> Envelope {
    let mut env = Envelope {
        dialect: Dialect::Facebook,
        code: code_any(t, es.get(K::Code)).or_else(|| code_str(t, es.get(K::Type))),
        message: msg(t, es.get(K::Message)),
        ..Envelope::default()
    };
    env.details = members_except(t, e, &["code", "message", "fbtrace_id"]);
    env.signals_error = true;
    hints(t, es, &mut env);
    hints(t, top, &mut env);
    env
}

/// Dropbox: `error_summary` is a `/`-joined path of union tags ending in `/...`
/// (`path/not_found/..`); the code is that path without its trailing dots. `user_message` (when
/// given) is the message, else the summary; `error.retry_after` (rate limits) the wait.
fn dropbox(t: &Tree<'_>, top: &Slots) -> Envelope {
    let summary = code_str(t, top.get(K::ErrorSummary)).unwrap_or_default();
    let code = summary.trim_end_matches(['.', '/']).to_owned();
    let mut env = Envelope {
        dialect: Dialect::Dropbox,
        code: (!code.is_empty()).then(|| cut(&code, MAX_CODE).to_owned()),
        message: msg(t, t.get(0, "user_message"))
            .or_else(|| (!summary.is_empty()).then(|| cut(&summary, MAX_MESSAGE).to_owned())),
        signals_error: true,
        ..Envelope::default()
    };
    if let Some(e) = obj_at(t, top, K::Error) {
        env.details = details_at(t, e);
        let es = Slots::of(t, e);
        hints(t, &es, &mut env);
        if let Some(r) = obj_at(t, &es, K::Reason) {
            hints(t, &Slots::of(t, r), &mut env);
        }
    }
    hints(t, top, &mut env);
    env
}

/// PayPal: `{"name": "UNPROCESSABLE_ENTITY", "message", "debug_id", "details": [{"field",
/// "issue", "description"}], "links"}`. The first `details[].issue` is the precise code (the
/// `name` is the generic class); each detail with a `field` is a violation.
fn paypal(t: &Tree<'_>, top: &Slots) -> Option<Envelope> {
    let name = top.get(K::Name).filter(|&i| is_str(t, Some(i)))?;
    let details = arr_at(t, top, K::Details);
    let issued = details.is_some_and(|d| {
        t.children(d)
            .any(|c| t.kind(c) == Some(Kind::Obj) && t.get(c, "issue").is_some())
    });
    if !(issued || (top.has(K::DebugId) && top.has(K::Message))) {
        return None;
    }
    let mut env = Envelope {
        dialect: Dialect::Paypal,
        message: msg(t, top.get(K::Message)),
        signals_error: true,
        ..Envelope::default()
    };
    if let Some(d) = details {
        env.details = details_at(t, d);
        for c in t.children(d) {
            if t.kind(c) != Some(Kind::Obj) {
                continue;
            }
            let s = Slots::of(t, c);
            fill(&mut env.code, || code_str(t, s.get(K::Issue)));
            fill(&mut env.message, || msg(t, s.get(K::Description)));
            if s.has(K::Field) {
                let m = msg(t, s.get(K::Description)).or_else(|| msg(t, s.get(K::Issue)));
                let f = t.text(s.get(K::Field).unwrap_or(usize::MAX), MAX_FIELD);
                let f = f.map(|f| {
                    if f.starts_with('/') {
                        pointer_field(&f)
                    } else {
                        f
                    }
                });
                push_violation(&mut env, f.as_deref().unwrap_or(""), m);
            }
        }
    }
    fill(&mut env.code, || code_str(t, Some(name)));
    hints(t, top, &mut env);
    Some(env)
}

/// Jira and Confluence: `{"errorMessages": ["..."], "errors": {"summary": "..."}}`; the message
/// is the first of `errorMessages`, else the first field error.
fn atlassian(t: &Tree<'_>, top: &Slots, m: usize) -> Envelope {
    let mut env = Envelope {
        dialect: Dialect::Atlassian,
        message: t.nth(m, 0).and_then(|first| msg(t, Some(first))),
        ..Envelope::default()
    };
    if let Some(errs) = obj_at(t, top, K::Errors) {
        collect_field_errors(t, errs, &mut env);
    }
    fill(&mut env.message, || {
        env.violations.first().map(|v| v.message.clone())
    });
    env.code = code_any(t, top.get(K::ErrorCode)).or_else(|| code_any(t, top.get(K::Code)));
    env.signals_error = env.message.is_some();
    hints(t, top, &mut env);
    env
}

/// Apigee (Google's API gateway, in front of many APIs): `{"fault": {"faultstring": "Invalid
/// ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}}`.
fn apigee(t: &Tree<'_>, top: &Slots, f: usize) -> Envelope {
    let detail = t.get(f, "detail");
    let mut env = Envelope {
        dialect: Dialect::Apigee,
        code: detail.and_then(|d| code_str(t, t.get(d, "errorcode"))),
        message: msg(t, t.get(f, "faultstring")),
        ..Envelope::default()
    };
    env.signals_error = env.code.is_some() || env.message.is_some();
    hints(t, top, &mut env);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `members_except` as it was before it measured its text first: the oracle.
    fn members_except_old(t: &Tree<'_>, o: usize, skip: &[&str]) -> Option<Details> {
        let mut text = String::new();
        for c in t.children(o) {
            let Some((key, esc)) = t.key(c) else { continue };
            if skip.iter().any(|name| key_is(key, esc, name)) {
                continue;
            }
            if text.is_empty() {
                text.reserve(t.json_text(o).len());
                text.push('{');
            } else {
                text.push(',');
            }
            text.push('"');
            text.push_str(key);
            text.push_str("\":");
            text.push_str(t.json_text(c));
        }
        if text.is_empty() {
            return None;
        }
        text.push('}');
        Some(Details::from_parsed_string(text))
    }

    #[test]
    fn members_except_matches_old() {
        let skips: [&[&str]; 3] = [
            &["code", "message"],
            &["type", "title", "status", "detail", "instance"],
            &[],
        ];
        for body in [
            r#"{}"#,
            r#"{"code":"x","message":"m"}"#,
            r#"{"type":"rate_limit_error","code":"rate_limited","message":"Too many","doc_url":"https://d","details":{"retry_after":7,"a":[1,2,{"b":null}]}}"#,
            r#"{ "co\u0064e" : 1 , "message":true,"x" : "y\"z", "x": false ,"\u00e9t\u00e9":[ ]}"#,
            r#"{"type":"about:blank","title":"T","status":429,"detail":"d","instance":"/i","ext":{"k":"\u00e9"},"n":-1.5e3}"#,
            r#"{"message":"only"}"#,
            r#"{"a":1,"b":2,"c":3,"code":4,"d":5,"e":6,"f":7,"g":8,"h":9,"message":0,"i":[],"j":{}}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}"#,
        ] {
            let (t, _) = super::super::json::parse(body, 32).unwrap();
            for skip in skips {
                let new = members_except(&t, 0, skip).map(|d| d.as_json().to_owned());
                let old = members_except_old(&t, 0, skip).map(|d| d.as_json().to_owned());
                assert_eq!(new, old, "{body} {skip:?}");
            }
        }
    }

    #[test]
    fn names_long_is_lowercase_and_search() {
        for v in [
            "",
            "p",
            "GenerateRequestsPerDayPerProject",
            "GenerateRequestsPerMinutePerProject",
            "PERMONTH",
            "queries-daily",
            "MonthlyCap",
            "dail",
            "per day",
            "\u{130}perday",
            "\u{e9}Daily\u{e9}",
            "perdaz permont monthl",
        ] {
            let lower = v.to_ascii_lowercase();
            let want = ["perday", "permonth", "daily", "monthly"]
                .iter()
                .any(|w| lower.contains(w));
            assert_eq!(names_long(v.as_bytes()), want, "{v:?}");
        }
        // Every placement of each word (and of near misses) after padding of every length up
        // to 20 bytes: plain, lead letters in either case, `$` (0x24, which `| 0x20` leaves
        // alone, unlike `D`), non-ASCII and digits.
        for word in [
            "perday", "PerMonth", "DAILY", "monthly", "perda", "montly", "dail",
        ] {
            for pad in ["x", "P", "d$", "\u{f0}", "0m"] {
                for before in 0..20 {
                    for after in [0, 1, 7, 9] {
                        let v = format!("{}{word}{}", pad.repeat(before), pad.repeat(after));
                        let lower = v.to_ascii_lowercase();
                        let want = ["perday", "permonth", "daily", "monthly"]
                            .iter()
                            .any(|w| lower.contains(w));
                        assert_eq!(names_long(v.as_bytes()), want, "{v:?}");
                    }
                }
            }
        }
    }

    /// `parse_secs` as it computed the duration before `duration_of` (in `u128`): the oracle.
    #[allow(clippy::all)]
    fn parse_secs_old(s: &str, unit_nanos: u64) -> Option<Duration> {
        let s = super::super::json::trim(s);
        let s = match s.strip_suffix('s') {
            Some(t) => t.trim_end(),
            None => s,
        };
        if s.is_empty() || s.starts_with('-') {
            return None;
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        if s.bytes().any(|c| matches!(c, b'e' | b'E')) {
            // `s.parse::<f64>()`, without std's tables (see `float`).
            let v = super::super::float::parse_f64(s)?;
            if v.is_nan() || v < 0.0 {
                return None;
            }
            return Some(
                Duration::try_from_secs_f64(v * (unit_nanos as f64) / 1e9).unwrap_or(Duration::MAX),
            );
        }
        let b = s.as_bytes();
        let (int, frac) = match b.iter().position(|&c| c == b'.') {
            Some(i) => (
                b.get(..i).unwrap_or_default(),
                b.get(i + 1..).unwrap_or_default(),
            ),
            None => (b, &[][..]),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Digits only; past `u64::MAX` (or a duration past `Duration::MAX`) it saturates.
        let mut whole: u64 = 0;
        for &c in int {
            match whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u64::from(c - b'0')))
            {
                Some(w) => whole = w,
                None => return Some(Duration::MAX),
            }
        }
        // The fraction, as units of 1e-9 of the unit.
        let mut f: u64 = 0;
        for (i, &c) in frac.iter().take(9).enumerate() {
            f += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
        }
        Some(super::super::tests::duration_of_u128(whole, f, unit_nanos).unwrap_or(Duration::MAX))
    }

    #[test]
    fn parse_secs_matches_old() {
        let mut inputs: Vec<String> = [
            "0",
            "7",
            "60",
            "1000",
            "999",
            "1001",
            "18446744073709551615",
            "18446744073709551616",
            "7s",
            " 7 ",
            "+7",
            "-7",
            "7.",
            ".5",
            "7.25",
            "1e3",
            "007",
            "",
            "s",
            "12345678901234",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in [
            1u64,
            9,
            10,
            99,
            999,
            1_000,
            1_001,
            59_999,
            86_400_000,
            u64::MAX / 1_000,
        ] {
            inputs.push(n.to_string());
        }
        for s in &inputs {
            for unit in [SECS, MILLIS, 1, 1_000, 60 * SECS, 3_600 * SECS, 7, 0] {
                assert_eq!(parse_secs(s, unit), parse_secs_old(s, unit), "{s:?} {unit}");
            }
        }
    }

    #[test]
    fn parse_secs_forms() {
        let d = |s: &str| parse_secs(s, SECS);
        assert_eq!(d(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(d("+2 s"), Some(Duration::from_secs(2)));
        assert_eq!(d(".5"), Some(Duration::from_millis(500)));
        assert_eq!(d("3."), Some(Duration::from_secs(3)));
        assert_eq!(d("2e1"), Some(Duration::from_secs(20)));
        assert_eq!(
            d("18446744073709551615"),
            Some(Duration::from_secs(u64::MAX))
        );
        // Too large for u64 seconds: saturated, as a header's wait (cut to MAX_DELAY later).
        assert_eq!(d("18446744073709551616"), Some(Duration::MAX));
        assert_eq!(d(&"9".repeat(400)), Some(Duration::MAX));
        assert_eq!(d("99999999999999999999s"), Some(Duration::MAX));
        assert_eq!(d("1e999"), Some(Duration::MAX));
        for bad in ["", ".", "-1", "1.2.3", "1 2", "-1e999", "x", "s", "\u{a0}"] {
            assert_eq!(d(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_secs("1500", MILLIS),
            Some(Duration::from_millis(1500))
        );
    }

    proptest::proptest! {
        /// The one-pass unescape is the two `replace` calls it replaced.
        #[test]
        fn pointer_field_unescapes_as_replace_did(p in "[~01/a#]{0,12}") {
            let old = {
                let q = p.strip_prefix('#').unwrap_or(&p);
                let q = q.strip_prefix('/').unwrap_or(q);
                q.split('/')
                    .map(|seg| seg.replace("~1", "/").replace("~0", "~"))
                    .collect::<Vec<_>>()
                    .join(".")
            };
            proptest::prop_assert_eq!(pointer_field(&p), old);
        }
    }
}
