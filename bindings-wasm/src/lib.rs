//! WebAssembly bindings of the http-triage core, for the npm package `http-triage`.
//!
//! Thin on purpose: every function here converts values, maps errors and calls the core; no
//! decision is made here. The idiomatic JavaScript API (`classify`, `fetchWithRetry`, error
//! classes, …) is the hand-written `js/` layer over these exports.
//!
//! The hot path (`classify`) takes its arguments as they are (the headers as one
//! `name\0value\0…` string, the body as text or bytes), calls the core's `classify` directly
//! and returns the result as one packed string ([`pack`]) that the JS layer splits: no JSON is
//! written or read on either side (writing the output with `serde_json` was two thirds of a
//! call). The state machines and the policy, called a few times per request, take and return
//! plain objects through `serde-wasm-bindgen` (maps as plain objects, never `Map`s).
//!
//! No export panics on any input (a panic is a trap under `panic = "abort"`): every value from
//! JavaScript is checked, and every failure becomes a JS `Error` with a stable `code` property
//! (`invalid_input`, `invalid_option`, `invalid_snapshot`, `unknown_name`,
//! `invalid_ledger_line`, `internal`).

use http_triage::ledger::{report, Record, Replay, ReportOptions};
use http_triage::wire::ClassifyInput;
use http_triage::{
    classify_transport, parse_envelope, read_headers, Admission, Attempt, BreakerConfig,
    BreakerSnapshot, BudgetConfig, BudgetSnapshot, CircuitBreaker, Classification, Envelope,
    GateSnapshot, Limits, Pacer, PacerConfig, PacerSnapshot, RateGate, Request, Response,
    RetryBudget, RetryPolicy, TransportError, Violation,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;
use wasm_bindgen::prelude::*;

// ---- errors ----

/// An error on its way to JavaScript: a stable code, a message that never quotes input values,
/// and for some codes one extra property (`option` for `invalid_option`, `kind` for
/// `invalid_ledger_line`).
#[derive(Debug, Clone, PartialEq)]
struct BindError {
    code: &'static str,
    message: String,
    extra: Option<(&'static str, String)>,
}

impl BindError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        BindError {
            code,
            message: message.into(),
            extra: None,
        }
    }

    fn input(message: impl Into<String>) -> Self {
        BindError::new("invalid_input", message)
    }

    fn internal(message: impl Into<String>) -> Self {
        BindError::new("internal", message)
    }

    /// A JS `Error` with `code` (and the extra property) set.
    fn into_js(self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        let _ = js_sys::Reflect::set(&e, &"code".into(), &self.code.into());
        if let Some((k, v)) = self.extra {
            let _ = js_sys::Reflect::set(&e, &k.into(), &v.into());
        }
        e.into()
    }
}

impl From<http_triage::Error> for BindError {
    fn from(e: http_triage::Error) -> Self {
        let message = e.to_string();
        match e {
            http_triage::Error::InvalidOption { name, .. } => BindError {
                code: "invalid_option",
                message,
                extra: Some(("option", name.to_owned())),
            },
            http_triage::Error::InvalidSnapshot(_) => BindError::new("invalid_snapshot", message),
            http_triage::Error::UnknownName { .. } => BindError::new("unknown_name", message),
            _ => BindError::internal(message),
        }
    }
}

impl From<BindError> for JsValue {
    fn from(e: BindError) -> JsValue {
        e.into_js()
    }
}

type Res<T> = Result<T, BindError>;

// ---- value conversion ----

/// `baseDelayMs` → `base_delay_ms`.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for ch in key.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// JavaScript has one number type: a whole float becomes an integer so that it deserializes
/// into the core's integer fields (`2 ** 64` saturates to `u64::MAX`, as the vectors expect of
/// a runner that compares big values as doubles).
fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| f.is_finite() && f.fract() == 0.0) {
                if !(n.is_u64() || n.is_i64()) {
                    *v = if f >= 0.0 {
                        // `as` saturates: 2^64 and above read as u64::MAX.
                        Value::from(f as u64)
                    } else {
                        Value::from(f as i64)
                    };
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral_numbers),
        Value::Object(m) => m.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Integers JavaScript cannot hold exactly become doubles (serde-wasm-bindgen refuses them).
fn js_safe_numbers(v: &mut Value) {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    match v {
        Value::Number(n) => {
            let big = n.as_u64().is_some_and(|u| u > MAX_SAFE)
                || n.as_i64().is_some_and(|i| i < -(MAX_SAFE as i64));
            if big {
                if let Some(f) = n.as_f64() {
                    *v = Value::from(f);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(js_safe_numbers),
        Value::Object(m) => m.values_mut().for_each(js_safe_numbers),
        _ => {}
    }
}

/// A plain JS value → JSON value, numbers made integral where whole.
fn from_js(v: JsValue, what: &str) -> Res<Value> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Object(Map::new()));
    }
    let mut value: Value = serde_wasm_bindgen::from_value(v)
        .map_err(|_| BindError::input(format!("{what} must be plain data (JSON values)")))?;
    integral_numbers(&mut value);
    Ok(value)
}

/// A camelCase options object → a core config. `ms_fields` are the core's duration fields
/// that the JavaScript API names with an `Ms` suffix (`baseDelayMs` → `base_delay`).
fn options<T: DeserializeOwned>(v: JsValue, what: &str, ms_fields: &[&str]) -> Res<T> {
    options_value(from_js(v, what)?, what, ms_fields)
}

/// [`options`] on a value already read from JavaScript.
fn options_value<T: DeserializeOwned>(value: Value, what: &str, ms_fields: &[&str]) -> Res<T> {
    let Value::Object(m) = value else {
        return Err(BindError::new(
            "invalid_option",
            format!("{what} must be an object"),
        ));
    };
    let mut out = Map::with_capacity(m.len());
    for (k, v) in m {
        let mut key = snake_case(&k);
        if let Some(stem) = key.strip_suffix("_ms") {
            if ms_fields.contains(&stem) {
                key = stem.to_owned();
            }
        }
        out.insert(key, v);
    }
    serde_json::from_value(Value::Object(out)).map_err(|e| {
        // serde names the field and the expected type; the value itself is not repeated.
        let msg = e.to_string();
        let msg = msg.split(", expected").next().unwrap_or(&msg).to_owned();
        BindError::new("invalid_option", format!("{what}: {}", redact(&msg)))
    })
}

/// A snapshot object (the core's own snake_case format) → the core's snapshot type.
fn snapshot_from<T: DeserializeOwned>(v: JsValue, what: &str) -> Res<T> {
    let value = from_js(v, what)?;
    serde_json::from_value(value).map_err(|e| {
        BindError::new(
            "invalid_snapshot",
            format!("{what} does not read: {}", redact(&e.to_string())),
        )
    })
}

/// Any serializable value → a plain JS value (objects, never `Map`s).
fn to_js<T: Serialize>(v: &T) -> Res<JsValue> {
    let mut value = serde_json::to_value(v).map_err(|e| BindError::internal(e.to_string()))?;
    js_safe_numbers(&mut value);
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| BindError::internal(e.to_string()))
}

/// Hide quoted strings in a parser message: input values may be secrets. serde quotes values
/// with `"` and an unknown enum variant with backticks (field names, also in backticks, stay).
fn redact(msg: &str) -> String {
    let msg = match msg.find("unknown variant `") {
        Some(at) => {
            let start = at + "unknown variant `".len();
            let rest = msg.get(start..).unwrap_or_default();
            let end = rest.find('`').map_or(msg.len(), |e| start + e);
            format!(
                "{}…{}",
                msg.get(..start).unwrap_or_default(),
                msg.get(end..).unwrap_or_default()
            )
        }
        None => msg.to_owned(),
    };
    let mut out = String::with_capacity(msg.len());
    let mut quoted = false;
    for ch in msg.chars() {
        match (ch, quoted) {
            ('"', false) => {
                quoted = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                quoted = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

/// A time or a delay from JavaScript (milliseconds) → whole milliseconds.
fn ms(v: f64, name: &str) -> Res<u64> {
    if v.is_finite() && v >= 0.0 {
        // `as` saturates; fractions of a millisecond are dropped.
        Ok(v as u64)
    } else {
        Err(BindError::input(format!(
            "`{name}` must be a non-negative number of milliseconds"
        )))
    }
}

/// A time on the caller's clock (or a delay) from JavaScript: a number of milliseconds, or a
/// `bigint` for clocks beyond 2^53 (exact, where a number would round).
fn time(v: &JsValue, name: &str) -> Res<u64> {
    if let Some(f) = v.as_f64() {
        return ms(f, name);
    }
    if v.is_bigint() {
        let b: js_sys::BigInt = v.clone().unchecked_into();
        return u64::try_from(b).map_err(|_| {
            BindError::input(format!("`{name}` must fit in 64 bits and be non-negative"))
        });
    }
    Err(BindError::input(format!(
        "`{name}` must be a number (or a bigint) of milliseconds"
    )))
}

fn ms_duration(v: f64, name: &str) -> Res<Duration> {
    ms(v, name).map(Duration::from_millis)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn random(v: f64) -> Res<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(BindError::input("`random` must be a number in [0, 1)"))
    }
}

// ---- classification ----

/// A classification handed back by JavaScript (to a policy or a state machine). Unknown keys
/// are ignored: it is usually the very object `classify` returned.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClassificationIn {
    category: String,
    reason: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    transport_error: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    reference_id: Option<String>,
    #[serde(default)]
    retryable_hint: Option<bool>,
    #[serde(default)]
    retry_after_ms: Option<f64>,
    #[serde(default)]
    rate_limit_remaining: Option<u64>,
    #[serde(default)]
    rate_limit_reset_ms: Option<f64>,
    #[serde(default)]
    rate_limit_limit: Option<u64>,
    #[serde(default)]
    rate_limit_window_ms: Option<f64>,
    #[serde(default)]
    violations: Vec<Violation>,
    #[serde(default)]
    dialect: Option<String>,
    #[serde(default)]
    request_not_processed: bool,
}

fn classification_from_js(v: JsValue) -> Res<Classification> {
    let value = from_js(v, "classification")?;
    let ci: ClassificationIn = serde_json::from_value(value).map_err(|e| {
        BindError::input(format!(
            "not a classification (pass what `classify` returned): {}",
            redact(&e.to_string())
        ))
    })?;
    // Built from a bare classification: the core's fields are public, its constructor is not.
    let mut c = classify_transport(TransportError::Dns, &Request::unknown());
    c.category = ci.category.parse()?;
    c.reason = ci.reason.parse()?;
    c.status = ci.status;
    c.transport_error = ci
        .transport_error
        .as_deref()
        .map(str::parse::<TransportError>)
        .transpose()?;
    c.code = ci.code;
    c.message = ci.message;
    c.request_id = ci.request_id;
    c.reference_id = ci.reference_id;
    c.retryable_hint = ci.retryable_hint;
    c.retry_after = ci
        .retry_after_ms
        .map(|v| ms_duration(v, "retryAfterMs"))
        .transpose()?;
    c.rate_limit_remaining = ci.rate_limit_remaining;
    c.rate_limit_reset = ci
        .rate_limit_reset_ms
        .map(|v| ms_duration(v, "rateLimitResetMs"))
        .transpose()?;
    c.rate_limit_limit = ci.rate_limit_limit;
    c.rate_limit_window = ci
        .rate_limit_window_ms
        .map(|v| ms_duration(v, "rateLimitWindowMs"))
        .transpose()?;
    c.violations = ci.violations;
    c.dialect = match ci.dialect {
        None => http_triage::Dialect::Empty,
        Some(d) => serde_json::from_value(Value::String(d))
            .map_err(|_| BindError::new("unknown_name", "unknown dialect"))?,
    };
    c.request_not_processed = ci.request_not_processed;
    c.details = None;
    Ok(c)
}

/// The arguments of `classify` other than the body, checked as the wire format checks them.
/// `headers` is `name\0value\0name\0value…` (the JS layer refuses a NUL inside a name or a
/// value, so the split is exact); `rules` the caller's rules as JSON text, when given.
struct Call<'a> {
    status: Option<u16>,
    transport_error: Option<TransportError>,
    pairs: Vec<(&'a str, &'a str)>,
    request: Request,
    now_unix_ms: i64,
    rules: http_triage::Rules,
}

impl<'a> Call<'a> {
    fn read(
        status: Option<f64>,
        transport_error: Option<String>,
        headers: &'a str,
        method: Option<String>,
        idempotency_key: bool,
        now_ms: f64,
        rules: Option<String>,
    ) -> Res<Call<'a>> {
        let status = match status {
            None => None,
            Some(s) if s.fract() == 0.0 && (100.0..=999.0).contains(&s) => Some(s as u16),
            Some(_) => {
                return Err(BindError::input(
                    "`status` must be an integer from 100 to 999",
                ))
            }
        };
        let transport_error = match transport_error {
            None => None,
            Some(t) => Some(t.parse::<TransportError>().map_err(|_| {
                let kinds: Vec<&str> = TransportError::ALL.iter().map(|t| t.as_str()).collect();
                BindError::input(format!(
                    "unknown `transportError`; one of: {}",
                    kinds.join(", ")
                ))
            })?),
        };
        match (status, transport_error) {
            (None, None) => {
                return Err(BindError::input("give either `status` or `transportError`"))
            }
            (Some(_), Some(_)) => {
                return Err(BindError::input(
                    "give `status` or `transportError`, not both",
                ))
            }
            _ => {}
        }
        let mut pairs = Vec::new();
        if !headers.is_empty() {
            let mut parts = headers.split('\0');
            while let Some(name) = parts.next() {
                let value = parts
                    .next()
                    .ok_or_else(|| BindError::internal("headers: a name without a value"))?;
                pairs.push((name, value));
            }
        }
        let request = match method.as_deref().map(str::trim) {
            None => Request::unknown(),
            Some(m) if !m.is_empty() && m.len() <= 32 => Request::new(m),
            Some(_) => {
                return Err(BindError::input(
                    "`method` must be a short string like \"POST\"",
                ))
            }
        }
        .with_idempotency_key(idempotency_key);
        if !(now_ms.is_finite() && (0.0..=1.0e16).contains(&now_ms)) {
            return Err(BindError::input(
                "`now` must be Unix time in milliseconds (a non-negative number)",
            ));
        }
        let rules = match rules {
            None => http_triage::Rules::default(),
            // The core's wire reader checks rules and names the place, never the value.
            Some(text) => {
                let v: Value = serde_json::from_str(&text)
                    .map_err(|_| BindError::input("`rules` must be plain data"))?;
                let mut m = Map::new();
                m.insert("status".into(), Value::from(200));
                m.insert("rules".into(), v);
                ClassifyInput::from_map(&m)
                    .map_err(|e| BindError::input(e.to_string()))?
                    .rules
            }
        };
        Ok(Call {
            status,
            transport_error,
            pairs,
            request,
            now_unix_ms: now_ms.round() as i64,
            rules,
        })
    }

    fn classify(&self, body: &[u8]) -> Classification {
        match (self.transport_error, self.status) {
            (Some(t), _) => classify_transport(t, &self.request),
            (None, status) => http_triage::classify(
                &Response::new(status.unwrap_or(0), &self.pairs, body),
                &self.request,
                self.now_unix_ms,
                &self.rules,
            ),
        }
    }
}

/// Appends to the packed classification (see [`pack`]).
struct Packer(String);

impl Packer {
    fn num(&mut self, v: Option<u64>) {
        if let Some(mut v) = v {
            let mut digits = [0u8; 20];
            let mut i = digits.len();
            loop {
                i -= 1;
                // Always a single ASCII digit.
                digits[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            for &d in &digits[i..] {
                self.0.push(char::from(d));
            }
        }
        self.0.push('\u{1}');
    }

    fn name(&mut self, v: Option<&str>) {
        self.0.push_str(v.unwrap_or_default());
        self.0.push('\u{1}');
    }

    /// A string of any content: its length in UTF-16 units (JavaScript's), then the text.
    fn text(&mut self, v: Option<&str>) {
        match v {
            None => self.0.push('\u{1}'),
            Some(s) => {
                // ASCII (the usual case) is as long in UTF-16 as in UTF-8, and cheap to check.
                let units = if s.is_ascii() {
                    s.len()
                } else {
                    s.encode_utf16().count()
                };
                self.num(Some(units as u64));
                self.0.push_str(s);
            }
        }
    }
}

/// The classification as one string, so that it crosses to JavaScript once (`js/api.js`
/// `unpack` reads it): names and numbers end with U+0001 (empty = absent), texts are their
/// UTF-16 length, U+0001, then the text; then the violations, (field, message) texts. Order:
/// category, reason, status, transportError, retryableHint (0/1), retryAfterMs,
/// rateLimitRemaining, rateLimitResetMs, rateLimitLimit, rateLimitWindowMs, dialect,
/// requestNotProcessed (0/1), hasDetails (0/1), code, message, requestId, referenceId, violation count, violations.
fn pack(c: &Classification) -> String {
    let mut p = Packer(String::with_capacity(128));
    p.name(Some(c.category.as_str()));
    p.name(Some(c.reason.as_str()));
    p.num(c.status.map(u64::from));
    p.name(c.transport_error.map(TransportError::as_str));
    p.num(c.retryable_hint.map(u64::from));
    p.num(c.retry_after.map(millis));
    p.num(c.rate_limit_remaining);
    p.num(c.rate_limit_reset.map(millis));
    p.num(c.rate_limit_limit);
    p.num(c.rate_limit_window.map(millis));
    p.name(Some(c.dialect.as_str()));
    p.num(Some(u64::from(c.request_not_processed)));
    p.num(Some(u64::from(c.details.is_some())));
    p.text(c.code.as_deref());
    p.text(c.message.as_deref());
    p.text(c.request_id.as_deref());
    p.text(c.reference_id.as_deref());
    p.num(Some(c.violations.len() as u64));
    for v in &c.violations {
        p.text(Some(&v.field));
        p.text(Some(&v.message));
    }
    p.0
}

/// Classify a response (or a transport error) with the body as text (crossing as UTF-8).
/// `status` or `transport_error`; `headers` as `name\0value\0…`; `now_ms` Unix milliseconds;
/// `rules` JSON text. Returns the packed classification (see `js/api.js` `unpack`).
#[wasm_bindgen(js_name = classifyText)]
#[allow(clippy::too_many_arguments)]
pub fn classify_text(
    status: Option<f64>,
    transport_error: Option<String>,
    headers: &str,
    method: Option<String>,
    idempotency_key: bool,
    now_ms: f64,
    rules: Option<String>,
    body: &str,
) -> Result<String, JsValue> {
    let call = Call::read(
        status,
        transport_error,
        headers,
        method,
        idempotency_key,
        now_ms,
        rules,
    )?;
    Ok(pack(&call.classify(body.as_bytes())))
}

/// [`classify_text`] with the body as bytes.
#[wasm_bindgen(js_name = classifyBytes)]
#[allow(clippy::too_many_arguments)]
pub fn classify_bytes(
    status: Option<f64>,
    transport_error: Option<String>,
    headers: &str,
    method: Option<String>,
    idempotency_key: bool,
    now_ms: f64,
    rules: Option<String>,
    body: &[u8],
) -> Result<String, JsValue> {
    let call = Call::read(
        status,
        transport_error,
        headers,
        method,
        idempotency_key,
        now_ms,
        rules,
    )?;
    Ok(pack(&call.classify(body)))
}

/// The `details` of the classification that [`classify_bytes`] gives for the same arguments,
/// as JSON text (`null` when none). Asked for lazily by the JS layer: most callers never look
/// at the details, so classifying does not pay for them.
#[wasm_bindgen(js_name = classifyDetails)]
#[allow(clippy::too_many_arguments)]
pub fn classify_details(
    status: Option<f64>,
    transport_error: Option<String>,
    headers: &str,
    method: Option<String>,
    idempotency_key: bool,
    now_ms: f64,
    rules: Option<String>,
    body: &[u8],
) -> Result<String, JsValue> {
    let call = Call::read(
        status,
        transport_error,
        headers,
        method,
        idempotency_key,
        now_ms,
        rules,
    )?;
    let c = call.classify(body);
    let v = c
        .details
        .as_ref()
        .map_or(Value::Null, http_triage::Details::to_value);
    Ok(serde_json::to_string(&v).map_err(|e| BindError::internal(e.to_string()))?)
}

// ---- envelope and headers ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeOut<'a> {
    dialect: &'static str,
    code: Option<&'a str>,
    message: Option<&'a str>,
    details: Option<Value>,
    request_id: Option<&'a str>,
    reference_id: Option<&'a str>,
    retryable: Option<bool>,
    retry_after_ms: Option<u64>,
    violations: &'a [Violation],
    signals_error: bool,
    in_progress: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitsIn {
    max_body_bytes: Option<f64>,
    max_depth: Option<f64>,
}

fn envelope_json(body: &[u8], content_type: Option<String>, limits: JsValue) -> Res<String> {
    let mut lim = Limits::DEFAULT;
    if !(limits.is_undefined() || limits.is_null()) {
        let l: LimitsIn = serde_wasm_bindgen::from_value(limits).map_err(|e| {
            BindError::new(
                "invalid_option",
                format!("limits: {}", redact(&e.to_string())),
            )
        })?;
        if let Some(b) = l.max_body_bytes {
            lim.max_body_bytes = usize::try_from(ms(b, "maxBodyBytes")?).unwrap_or(usize::MAX);
        }
        if let Some(d) = l.max_depth {
            lim.max_depth = usize::try_from(ms(d, "maxDepth")?).unwrap_or(usize::MAX);
        }
    }
    let env: Envelope = parse_envelope(body, content_type.as_deref(), &lim);
    let out = EnvelopeOut {
        dialect: env.dialect.as_str(),
        code: env.code.as_deref(),
        message: env.message.as_deref(),
        details: env.details.as_ref().map(http_triage::Details::to_value),
        request_id: env.request_id.as_deref(),
        reference_id: env.reference_id.as_deref(),
        retryable: env.retryable,
        retry_after_ms: env.retry_after.map(millis),
        violations: &env.violations,
        signals_error: env.signals_error,
        in_progress: env.in_progress,
    };
    serde_json::to_string(&out).map_err(|e| BindError::internal(e.to_string()))
}

/// Parse an error body (bytes) into the normalized envelope, as JSON text.
#[wasm_bindgen(js_name = parseEnvelopeBytes)]
pub fn parse_envelope_bytes(
    body: &[u8],
    content_type: Option<String>,
    limits: JsValue,
) -> Result<String, JsValue> {
    Ok(envelope_json(body, content_type, limits)?)
}

/// Parse an error body (text) into the normalized envelope, as JSON text.
#[wasm_bindgen(js_name = parseEnvelopeText)]
pub fn parse_envelope_text(
    body: &str,
    content_type: Option<String>,
    limits: JsValue,
) -> Result<String, JsValue> {
    Ok(envelope_json(body.as_bytes(), content_type, limits)?)
}

/// What the headers say about timing and identity. `headers` is JSON text of `[name, value]`
/// pairs; `now_ms` the wall clock in Unix milliseconds. Returns JSON text.
#[wasm_bindgen(js_name = readHeaders)]
pub fn read_headers_json(headers: &str, now_ms: f64) -> Result<String, JsValue> {
    let pairs: Vec<(String, String)> = serde_json::from_str(headers)
        .map_err(|_| BindError::input("headers must be [name, value] pairs of strings"))?;
    let now = i64::try_from(ms(now_ms, "now")?).unwrap_or(i64::MAX);
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let h = read_headers(&refs, now);
    let out = serde_json::json!({
        "retryAfterMs": h.retry_after.map(millis),
        "rateLimitResetMs": h.rate_limit_reset.map(millis),
        "rateLimitRemaining": h.rate_limit_remaining,
        "rateLimitLimit": h.rate_limit_limit,
        "rateLimitWindowMs": h.rate_limit_window.map(millis),
        "shouldRetry": h.should_retry,
        "requestId": h.request_id,
        "contentType": h.content_type,
    });
    Ok(out.to_string())
}

// ---- policy ----

/// The core's duration fields of `RetryPolicy`, named `…Ms` in JavaScript.
const POLICY_MS_FIELDS: &[&str] = &[
    "base_delay",
    "max_delay",
    "deadline",
    "poll_interval",
    "max_server_delay",
];

/// A retry policy: classification + where the call stands → what to do next.
#[wasm_bindgen(js_name = RetryPolicy)]
pub struct JsRetryPolicy {
    inner: RetryPolicy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecisionOut {
    decision: &'static str,
    delay_ms: Option<u64>,
    source: Option<&'static str>,
    give_up_reason: Option<&'static str>,
    stop_reason: Option<&'static str>,
    resume_at_ms: Option<u64>,
}

#[wasm_bindgen(js_class = RetryPolicy)]
impl JsRetryPolicy {
    /// A policy from camelCase options (`maxAttempts`, `baseDelayMs`, …); missing ones take the
    /// core's defaults, unknown ones are an `invalid_option` error.
    #[wasm_bindgen(constructor)]
    pub fn new(options_value: JsValue) -> Result<JsRetryPolicy, JsValue> {
        let inner: RetryPolicy = options(options_value, "policy", POLICY_MS_FIELDS)?;
        inner.validate().map_err(BindError::from)?;
        Ok(JsRetryPolicy { inner })
    }

    /// Decide. `attempt` is `{number, polls, elapsedMs, nowMs, previousDelayMs, rateLimited}`;
    /// `random` a draw in [0, 1) for jitter.
    pub fn decide(
        &self,
        classification: JsValue,
        attempt: JsValue,
        random_draw: f64,
    ) -> Result<JsValue, JsValue> {
        let c = classification_from_js(classification)?;
        let attempt: Attempt =
            options(attempt, "attempt", &[]).map_err(|e| BindError::input(e.message))?;
        let d = self.inner.decide(&c, attempt, random(random_draw)?);
        let f = d.fields();
        let out = DecisionOut {
            decision: f.kind,
            delay_ms: f.delay_ms,
            source: f.source,
            give_up_reason: f.give_up_reason,
            stop_reason: f.stop_reason,
            resume_at_ms: f.resume_at_ms,
        };
        Ok(to_js(&out)?)
    }

    /// The backoff delay (ms) before attempt `attempt + 1`, without server hints.
    pub fn backoff(
        &self,
        attempt: u32,
        previous_delay_ms: Option<f64>,
        random_draw: f64,
    ) -> Result<f64, JsValue> {
        let prev = previous_delay_ms
            .map(|v| ms_duration(v, "previousDelayMs"))
            .transpose()?;
        let d = self.inner.backoff(attempt, prev, random(random_draw)?);
        Ok(millis(d) as f64)
    }
}

// ---- state machines ----

fn admission_js(a: Admission) -> Res<JsValue> {
    to_js(&serde_json::json!({
        "admission": a.as_str(),
        "retryAtMs": a.retry_at_ms(),
    }))
}

/// A circuit breaker (see the core's `breaker` module). Times are the caller's monotonic clock
/// in milliseconds.
#[wasm_bindgen(js_name = CircuitBreaker)]
pub struct JsCircuitBreaker {
    inner: CircuitBreaker,
}

#[wasm_bindgen(js_class = CircuitBreaker)]
impl JsCircuitBreaker {
    /// A closed breaker from camelCase options (`failureThreshold`, `windowMs`, …).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<JsCircuitBreaker, JsValue> {
        let config: BreakerConfig = options(config, "breaker options", &[])?;
        let inner = CircuitBreaker::new(config).map_err(BindError::from)?;
        Ok(JsCircuitBreaker { inner })
    }

    /// May a request be sent now? `{admission, retryAtMs}`.
    pub fn admit(&mut self, now_ms: JsValue) -> Result<JsValue, JsValue> {
        let a = self.inner.admit(time(&now_ms, "nowMs")?);
        Ok(admission_js(a)?)
    }

    /// Report a success.
    #[wasm_bindgen(js_name = onSuccess)]
    pub fn on_success(&mut self, now_ms: JsValue) -> Result<(), JsValue> {
        self.inner.on_success(time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Report a failure, with the server's Retry-After when it gave one.
    #[wasm_bindgen(js_name = onFailure)]
    pub fn on_failure(
        &mut self,
        now_ms: JsValue,
        retry_after_ms: Option<f64>,
    ) -> Result<(), JsValue> {
        let ra = retry_after_ms
            .map(|v| ms_duration(v, "retryAfterMs"))
            .transpose()?;
        self.inner.on_failure(time(&now_ms, "nowMs")?, ra);
        Ok(())
    }

    /// Report an outcome that says nothing about the service's health.
    #[wasm_bindgen(js_name = onNeutral)]
    pub fn on_neutral(&mut self, now_ms: JsValue) -> Result<(), JsValue> {
        self.inner.on_neutral(time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Report a classified call (the core decides whether it counts as a failure).
    pub fn record(&mut self, classification: JsValue, now_ms: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// `{state, untilMs}`.
    pub fn state(&self, now_ms: JsValue) -> Result<JsValue, JsValue> {
        let s = self.inner.state(time(&now_ms, "nowMs")?);
        Ok(to_js(
            &serde_json::json!({"state": s.as_str(), "untilMs": s.until_ms()}),
        )?)
    }

    /// The core's snapshot (snake_case, the same format in every language).
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A breaker from a snapshot and the options it runs with.
    pub fn restore(snapshot: JsValue, config: JsValue) -> Result<JsCircuitBreaker, JsValue> {
        let config: BreakerConfig = options(config, "breaker options", &[])?;
        let s: BreakerSnapshot = snapshot_from(snapshot, "breaker snapshot")?;
        let inner = CircuitBreaker::restore(config, &s).map_err(BindError::from)?;
        Ok(JsCircuitBreaker { inner })
    }
}

/// A retry budget (token bucket of retries).
#[wasm_bindgen(js_name = RetryBudget)]
pub struct JsRetryBudget {
    inner: RetryBudget,
}

#[wasm_bindgen(js_class = RetryBudget)]
impl JsRetryBudget {
    /// A full budget from camelCase options (`maxTokens`, `tokenRatio`).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<JsRetryBudget, JsValue> {
        let config: BudgetConfig = options(config, "budget options", &[])?;
        let inner = RetryBudget::new(config).map_err(BindError::from)?;
        Ok(JsRetryBudget { inner })
    }

    /// True while retries are allowed.
    #[wasm_bindgen(js_name = canRetry)]
    pub fn can_retry(&self) -> bool {
        self.inner.can_retry()
    }

    /// Report a success (puts a fraction of a token back).
    #[wasm_bindgen(js_name = onSuccess)]
    pub fn on_success(&mut self) {
        self.inner.on_success();
    }

    /// Report a failure (takes a token).
    #[wasm_bindgen(js_name = onFailure)]
    pub fn on_failure(&mut self) {
        self.inner.on_failure();
    }

    /// Report a classified call.
    pub fn record(&mut self, classification: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c);
        Ok(())
    }

    /// Tokens left.
    pub fn tokens(&self) -> f64 {
        self.inner.tokens()
    }

    /// The core's snapshot.
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A budget from a snapshot and its options.
    pub fn restore(snapshot: JsValue, config: JsValue) -> Result<JsRetryBudget, JsValue> {
        let config: BudgetConfig = options(config, "budget options", &[])?;
        let s: BudgetSnapshot = snapshot_from(snapshot, "budget snapshot")?;
        let inner = RetryBudget::restore(config, &s).map_err(BindError::from)?;
        Ok(JsRetryBudget { inner })
    }
}

/// A rate gate: closed while the server asked every caller to wait.
#[wasm_bindgen(js_name = RateGate)]
pub struct JsRateGate {
    inner: RateGate,
}

impl Default for JsRateGate {
    fn default() -> Self {
        JsRateGate::new()
    }
}

#[wasm_bindgen(js_class = RateGate)]
impl JsRateGate {
    /// An open gate.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsRateGate {
        JsRateGate {
            inner: RateGate::new(),
        }
    }

    /// Close until `nowMs + delayMs` (only ever extends).
    #[wasm_bindgen(js_name = closeFor)]
    pub fn close_for(&mut self, now_ms: JsValue, delay_ms: JsValue) -> Result<(), JsValue> {
        self.inner.close_for(
            time(&now_ms, "nowMs")?,
            Duration::from_millis(time(&delay_ms, "delayMs")?),
        );
        Ok(())
    }

    /// Report a classified call (closes on throttling with a delay).
    pub fn record(&mut self, classification: JsValue, now_ms: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Milliseconds to wait before sending (0 when open).
    pub fn wait(&self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(millis(self.inner.wait(time(&now_ms, "nowMs")?)) as f64)
    }

    /// True when a request may be sent now.
    #[wasm_bindgen(js_name = isOpen)]
    pub fn is_open(&self, now_ms: JsValue) -> Result<bool, JsValue> {
        Ok(self.inner.is_open(time(&now_ms, "nowMs")?))
    }

    /// When the gate reopens (or reopened); `undefined` if never closed.
    #[wasm_bindgen(js_name = reopensAtMs)]
    pub fn reopens_at_ms(&self) -> Option<f64> {
        self.inner.reopens_at_ms().map(|t| t as f64)
    }

    /// The core's snapshot.
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A gate from a snapshot.
    pub fn restore(snapshot: JsValue) -> Result<JsRateGate, JsValue> {
        let s: GateSnapshot = snapshot_from(snapshot, "gate snapshot")?;
        let inner = RateGate::restore(&s).map_err(BindError::from)?;
        Ok(JsRateGate { inner })
    }
}

/// A per-host pacer handing out send times at the rate the server sustains.
#[wasm_bindgen(js_name = Pacer)]
pub struct JsPacer {
    inner: Pacer,
}

#[wasm_bindgen(js_class = Pacer)]
impl JsPacer {
    /// A pacer from camelCase options (`beta`, `scale`, `minRate`, `maxRate`, …: whatever the
    /// core's `PacerConfig` reads).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<JsPacer, JsValue> {
        let config: PacerConfig = options(config, "pacer options", &[])?;
        let inner = Pacer::new(config).map_err(BindError::from)?;
        Ok(JsPacer { inner })
    }

    /// Reserve the next send: the time (ms, at least `nowMs`) at which this caller may send.
    pub fn acquire(&mut self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(self.inner.acquire(time(&now_ms, "nowMs")?) as f64)
    }

    /// How long a caller asking now would wait, without reserving.
    #[wasm_bindgen(js_name = waitMs)]
    pub fn wait_ms(&self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(self.inner.wait_ms(time(&now_ms, "nowMs")?) as f64)
    }

    /// Learn from a classified call.
    pub fn record(&mut self, classification: JsValue, now_ms: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Learn from a classified call sent at `sent_ms` and answered at `now_ms`.
    #[wasm_bindgen(js_name = recordSent)]
    pub fn record_sent(
        &mut self,
        classification: JsValue,
        sent_ms: JsValue,
        now_ms: JsValue,
    ) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner
            .record_sent(&c, time(&sent_ms, "sentMs")?, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// The paced rate (requests per second), `undefined` while not pacing.
    pub fn rate(&self) -> Option<f64> {
        self.inner.rate()
    }

    /// The pace in force now (requests per second), `undefined` when none.
    pub fn pace(&self, now_ms: JsValue) -> Result<Option<f64>, JsValue> {
        Ok(self.inner.pace(time(&now_ms, "nowMs")?))
    }

    /// How many times the rate was cut.
    pub fn cuts(&self) -> f64 {
        self.inner.cuts() as f64
    }

    /// The send rate measured over the recent window (requests per second).
    #[wasm_bindgen(js_name = measuredRate)]
    pub fn measured_rate(&self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(self.inner.measured_rate(time(&now_ms, "nowMs")?))
    }

    /// The core's snapshot.
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A pacer from a snapshot.
    pub fn restore(snapshot: JsValue) -> Result<JsPacer, JsValue> {
        let s: PacerSnapshot = snapshot_from(snapshot, "pacer snapshot")?;
        let inner = Pacer::restore(&s).map_err(BindError::from)?;
        Ok(JsPacer { inner })
    }
}

// ---- ledger ----

fn ledger_error(e: &http_triage::ledger::LedgerError) -> BindError {
    BindError {
        code: "invalid_ledger_line",
        message: e.to_string(),
        extra: Some(("kind", e.code().to_owned())),
    }
}

/// Read one ledger line: `{record, line}` with the record in the ledger's own snake_case
/// format and `line` its canonical text (with the newline).
#[wasm_bindgen(js_name = parseLedgerLine)]
pub fn parse_ledger_line(line: &str) -> Result<JsValue, JsValue> {
    let r = Record::parse_line(line).map_err(|e| ledger_error(&e))?;
    Ok(to_js(
        &serde_json::json!({"record": r, "line": r.to_line()}),
    )?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplayOptionsIn {
    #[serde(default)]
    items: Option<Vec<String>>,
    #[serde(default)]
    retry_quarantined: bool,
    #[serde(default)]
    report: Option<Value>,
}

/// Replay a ledger's text: what is done, quarantined, deferred, stopped, in flight, and the
/// report. `options` is `{items, retryQuarantined, report: {alertRate, correlationWindowMs,
/// minCluster}}`.
#[wasm_bindgen(js_name = replayLedger)]
pub fn replay_ledger(text: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let o: ReplayOptionsIn =
        serde_json::from_value(from_js(opts, "replay options")?).map_err(|e| {
            BindError::new(
                "invalid_option",
                format!("replay options: {}", redact(&e.to_string())),
            )
        })?;
    let report_options: ReportOptions = match o.report {
        None | Some(Value::Null) => ReportOptions::default(),
        Some(v) => options_value(v, "report options", &[])?,
    };
    if o.retry_quarantined && o.items.is_none() {
        return Err(BindError::new("invalid_option", "retryQuarantined needs items").into());
    }
    let replay = Replay::from_text(text);
    let rep = report(&replay, &report_options);
    let keys = |m: &std::collections::BTreeMap<String, Record>| -> Vec<String> {
        m.keys().cloned().collect()
    };
    let resume: Map<String, Value> = replay
        .deferred
        .iter()
        .map(|(k, r)| (k.clone(), r.resume_at_ms.map_or(Value::Null, Value::from)))
        .collect();
    let mut out = serde_json::json!({
        "done": keys(&replay.done),
        "quarantined": keys(&replay.quarantined),
        "deferred": keys(&replay.deferred),
        "stopped": keys(&replay.stopped),
        "inFlight": replay.in_flight.iter().cloned().collect::<Vec<_>>(),
        "tornTail": replay.torn_tail,
        "badLines": replay.bad_lines,
        "recoveredLines": replay.recovered_lines,
        "records": replay.records,
        "items": replay.items(),
        "resumeAtMs": resume,
        "report": rep,
        "reportText": rep.render_text(),
    });
    if let (Some(items), Some(obj)) = (&o.items, out.as_object_mut()) {
        let to_run: Vec<&String> = items
            .iter()
            .filter(|i| replay.should_run(i, o.retry_quarantined))
            .collect();
        let attempts: Map<String, Value> = items
            .iter()
            .map(|i| (i.clone(), replay.attempts_so_far(i).into()))
            .collect();
        obj.insert("toRun".into(), serde_json::json!(to_run));
        obj.insert("attempts".into(), Value::Object(attempts));
    }
    Ok(to_js(&out)?)
}

/// The core's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_to_snake() {
        assert_eq!(snake_case("baseDelayMs"), "base_delay_ms");
        assert_eq!(snake_case("beta"), "beta");
    }

    #[test]
    fn whole_floats_become_integers_and_big_ones_saturate() {
        let mut v = serde_json::json!({"a": 2.0, "b": 1.5, "c": 1.8446744073709552e19, "d": -3.0});
        integral_numbers(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a": 2, "b": 1.5, "c": u64::MAX, "d": -3})
        );
    }

    #[test]
    fn big_integers_become_doubles_for_js() {
        let mut v = serde_json::json!([u64::MAX, 7]);
        js_safe_numbers(&mut v);
        assert!(v[0].is_f64());
        assert_eq!(v[1], 7);
    }

    #[test]
    fn redaction_hides_quoted_values() {
        assert_eq!(
            redact("invalid type: string \"sk-123\""),
            "invalid type: string \"…\""
        );
        assert_eq!(
            redact("unknown variant `sk-123`, expected one of `full`"),
            "unknown variant `…`, expected one of `full`"
        );
    }
}
