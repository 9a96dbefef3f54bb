//! The hot path: `classify` through buffers in wasm memory, and the rest of the reading
//! (envelopes, headers, a classification handed back by JavaScript).
//!
//! A call of `classify` crosses once each way and allocates no JavaScript object on the wasm
//! side. JavaScript writes the method, the headers and the body into one input buffer
//! ([`io_input`]), calls [`classify_io`], and reads the result from a table of doubles in wasm
//! memory (layout at [`Out`]) whose strings point into a byte area. Measured on this path
//! before, a call spent more time in wasm-bindgen's string glue (one `TextDecoder` per result,
//! one allocation per argument) than in the core.

use crate::convert::{millis, ms, ms_duration, to_js, BindError, DeError, JsDe, Res};
use http_triage::{
    classify_transport, parse_envelope, read_headers, Classification, Dialect, Envelope, Limits,
    Request, Response, Rules, TransportError, Violation,
};
use js_sys::{Array, Object};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use wasm_bindgen::prelude::*;

/// The buffers `classify` works in, kept between calls (wasm is single-threaded).
#[derive(Default)]
struct Io {
    /// Method, headers (`u32` little-endian length then UTF-8, name then value, per header),
    /// body: written by JavaScript.
    input: Vec<u8>,
    /// The result: see [`Out`].
    nums: Vec<f64>,
    /// The result's strings, pointed into by `nums`.
    text: Vec<u8>,
    /// Why the last call failed (taken by [`last_error`]).
    error: Option<BindError>,
    /// The caller's rules for the next call ([`set_rules`]).
    rules: Option<Rules>,
}

thread_local! {
    /// Taken for the length of a call and put back after it, not borrowed: were a call ever to
    /// trap (say, out of memory for an absurd body), the next call starts from empty buffers
    /// instead of finding a `RefCell` borrowed forever (the JS side then asks for its input
    /// buffer again).
    /// Boxed, so that taking and putting back moves a pointer, not the buffers' headers.
    static IO: Cell<Option<Box<Io>>> = const { Cell::new(None) };
}

/// Runs `f` on the buffers (see [`IO`]).
fn with_io<R>(f: impl FnOnce(&mut Io) -> R) -> R {
    IO.with(|cell| {
        let mut io = cell.take().unwrap_or_default();
        let r = f(&mut io);
        cell.set(Some(io));
        r
    })
}

/// The input buffer, at least `len` bytes long (it never shrinks: JavaScript keeps its size,
/// and a wasm memory never gives pages back anyway): JavaScript writes a call's input into
/// it. What is in it is kept when it grows. The address is only good until the next call into
/// the module.
#[wasm_bindgen(js_name = ioInput)]
pub fn io_input(len: usize) -> *mut u8 {
    with_io(|io| {
        if io.input.len() < len {
            io.input.resize(len, 0);
        }
        io.input.as_mut_ptr()
    })
}

/// The module's memory (JavaScript reads results out of it).
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// The error of the last call that returned 0, as a JS `Error` with its `code`.
#[wasm_bindgen(js_name = lastError)]
pub fn last_error() -> JsValue {
    with_io(|io| io.error.take())
        .unwrap_or_else(|| BindError::internal("no error"))
        .into_js()
}

/// Rules for the next [`classify_io`] call that asks for them (most calls have none, and a
/// `JsValue` argument on every call would cost a round trip to drop it).
#[wasm_bindgen(js_name = setRules)]
pub fn set_rules(rules: JsValue) -> Result<(), JsValue> {
    let rules = rules_from_js(&rules)?;
    with_io(|io| io.rules = Some(rules));
    Ok(())
}

/// The result of `classify`: doubles at the address [`classify_io`] returns. The strings are
/// one UTF-8 byte area that JavaScript decodes once (one `TextDecoder` call: a decode costs
/// about as much for 12 bytes as for 300); a string is three slots: its offset and its length
/// in that decoded text, in UTF-16 units (JavaScript's), the length -1 when absent, and its
/// length in bytes. A name (category, reason, dialect, transport error) is four slots: a key
/// that is the same for the same name in every call (-1: none), the byte offset and the byte
/// length of its text, which comes after all other strings, so that JavaScript decodes a name
/// only the first time it meets its key. `NaN` is an absent number.
///
/// | slot | |
/// |---|---|
/// | 0 | address of the byte area |
/// | 1 | the length in bytes of the strings other than names (decoded on every call) |
/// | 2 | the same in UTF-16 units |
/// | 3–6 | category |
/// | 7–10 | reason |
/// | 11–14 | dialect |
/// | 15–18 | transport error (key -1 when none) |
/// | 19 | status |
/// | 20 | retryable hint: -1 none, 0, 1 |
/// | 21–25 | retryAfterMs, rateLimitRemaining, rateLimitResetMs, rateLimitLimit, rateLimitWindowMs |
/// | 26 | requestNotProcessed (0/1) |
/// | 27–41 | code, message, requestId, referenceId, details (JSON text) |
/// | 42 | violation count, then field and message per violation |
struct Out<'a> {
    nums: &'a mut Vec<f64>,
    text: &'a mut Vec<u8>,
    /// The byte area's length so far in UTF-16 units.
    units: usize,
}

/// The slots before the violations (see [`Out`]).
const HEAD: usize = 43;

impl Out<'_> {
    /// A string's three slots (see [`Out`]); its bytes go to the byte area.
    fn text(&mut self, s: Option<&str>) -> [f64; 3] {
        match s {
            None => [0.0, -1.0, 0.0],
            Some(s) => {
                // ASCII (the usual case) is as long in UTF-16 as in UTF-8, and cheap to check.
                let units = if s.is_ascii() {
                    s.len()
                } else {
                    s.encode_utf16().count()
                };
                let at = self.units;
                self.units += units;
                self.text.extend_from_slice(s.as_bytes());
                [at as f64, units as f64, s.len() as f64]
            }
        }
    }

    /// A name's four slots: its key (a name is a `&'static str`, so its address identifies it;
    /// -1: none), then the byte offset and length of its text, which [`Out::write`] puts after
    /// every other string: JavaScript decodes a name only the first time it meets its key.
    fn name(&mut self, s: Option<&'static str>) -> [f64; 4] {
        match s {
            None => [-1.0, 0.0, 0.0, 0.0],
            Some(s) => {
                let at = self.text.len();
                self.text.extend_from_slice(s.as_bytes());
                [s.as_ptr() as usize as f64, at as f64, s.len() as f64, 0.0]
            }
        }
    }

    fn write(&mut self, c: &Classification) {
        let num = |v: Option<u64>| v.map_or(f64::NAN, |v| v as f64);
        self.text.clear();
        self.nums.clear();
        self.nums.resize(HEAD + 6 * c.violations.len(), 0.0);
        let strings = [
            (27, c.code.as_deref()),
            (30, c.message.as_deref()),
            (33, c.request_id.as_deref()),
            (36, c.reference_id.as_deref()),
            (39, c.details.as_ref().map(http_triage::Details::as_json)),
        ];
        for (slot, s) in strings {
            let t = self.text(s);
            self.set(slot, &t);
        }
        for (i, v) in c.violations.iter().enumerate() {
            let field = self.text(Some(&v.field));
            let message = self.text(Some(&v.message));
            self.set(HEAD + 6 * i, &field);
            self.set(HEAD + 6 * i + 3, &message);
        }
        let (head, units) = (self.text.len(), self.units);
        let names = [
            (3, Some(c.category.as_str())),
            (7, Some(c.reason.as_str())),
            (11, Some(c.dialect.as_str())),
            (15, c.transport_error.map(TransportError::as_str)),
        ];
        for (slot, n) in names {
            let t = self.name(n);
            self.set(slot, &t);
        }
        self.set(
            0,
            &[
                self.text.as_ptr() as usize as f64,
                head as f64,
                units as f64,
            ],
        );
        self.set(
            19,
            &[
                c.status.map_or(f64::NAN, f64::from),
                c.retryable_hint.map_or(-1.0, |b| f64::from(u8::from(b))),
                num(c.retry_after.map(millis)),
                num(c.rate_limit_remaining),
                num(c.rate_limit_reset.map(millis)),
                num(c.rate_limit_limit),
                num(c.rate_limit_window.map(millis)),
                f64::from(u8::from(c.request_not_processed)),
            ],
        );
        self.set(42, &[c.violations.len() as f64]);
    }

    /// Slots from `slot` on (all within the table `write` sized).
    fn set(&mut self, slot: usize, v: &[f64]) {
        if let Some(at) = self.nums.get_mut(slot..slot + v.len()) {
            at.copy_from_slice(v);
        }
    }
}

/// The header pairs JavaScript wrote: `text` is every name and value back to back (one UTF-8
/// check and one NUL scan for all of them, instead of one per string), `lens` their lengths in
/// bytes, a `u32` (little-endian) each, name then value per header.
fn header_pairs<'a>(text: &'a [u8], lens: &[u8], pairs: &mut Vec<(&'a str, &'a str)>) -> Res<()> {
    let bad = || BindError::internal("classify: the input buffer is not as written");
    if text.contains(&0) {
        // Not a valid field (RFC 9110 §5.5), and `fetch`'s `Headers` refuses it too.
        return Err(BindError::input("a header name or value holds a NUL"));
    }
    let text = std::str::from_utf8(text).map_err(|_| bad())?;
    let mut at = 0usize;
    let mut piece = |l: &[u8]| -> Res<&'a str> {
        let len = <[u8; 4]>::try_from(l).map_err(|_| bad())?;
        let end = at + u32::from_le_bytes(len) as usize;
        // `get` also checks that both ends fall on character boundaries.
        let s = text.get(at..end).ok_or_else(bad)?;
        at = end;
        Ok(s)
    };
    for pair in lens.chunks_exact(8) {
        let (name, value) = pair.split_at(4);
        let name = piece(name)?;
        pairs.push((name, piece(value)?));
    }
    if at != text.len() || lens.len() % 8 != 0 {
        return Err(bad());
    }
    Ok(())
}

/// Classify the response (or the transport error) whose method, headers and body JavaScript
/// wrote into the input buffer: `method_len` bytes of method (-1: none), `headers_len` bytes of
/// header names and values, `body_len` bytes of body, then `header_count` pairs of `u32`
/// lengths (name, value: see [`header_pairs`]), in that order; `with_rules` to use the rules given to
/// [`set_rules`] just before. Returns the address of the result (see
/// [`Out`]), or 0 when the input is refused ([`last_error`] says why).
#[wasm_bindgen(js_name = classifyIo)]
#[allow(clippy::too_many_arguments)]
pub fn classify_io(
    status: Option<f64>,
    transport_error: Option<String>,
    method_len: i32,
    idempotency_key: bool,
    now_ms: f64,
    headers_len: usize,
    body_len: usize,
    header_count: usize,
    with_rules: bool,
) -> usize {
    with_io(|io| {
        let Io {
            input,
            nums,
            text,
            error,
            rules,
        } = io;
        let rules = if with_rules {
            rules.take().unwrap_or_default()
        } else {
            Rules::default()
        };
        match classify_input(
            input,
            status,
            transport_error,
            method_len,
            idempotency_key,
            now_ms,
            headers_len,
            body_len,
            header_count,
            rules,
        ) {
            Ok(c) => {
                Out {
                    nums,
                    text,
                    units: 0,
                }
                .write(&c);
                nums.as_ptr() as usize
            }
            Err(e) => {
                *error = Some(e);
                0
            }
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn classify_input(
    input: &[u8],
    status: Option<f64>,
    transport_error: Option<String>,
    method_len: i32,
    idempotency_key: bool,
    now_ms: f64,
    headers_len: usize,
    body_len: usize,
    header_count: usize,
    rules: Rules,
) -> Res<Classification> {
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
        (None, None) => return Err(BindError::input("give either `status` or `transportError`")),
        (Some(_), Some(_)) => {
            return Err(BindError::input(
                "give `status` or `transportError`, not both",
            ))
        }
        _ => {}
    }
    let bad = || BindError::internal("classify: the input buffer is not as written");
    let m_len = usize::try_from(method_len).unwrap_or(0);
    let method = input.get(..m_len).ok_or_else(bad)?;
    let method = std::str::from_utf8(method).map_err(|_| bad())?.trim();
    let request = if method_len < 0 {
        Request::unknown()
    } else if !method.is_empty() && method.len() <= 32 {
        Request::new(method)
    } else {
        return Err(BindError::input(
            "`method` must be a short string like \"POST\"",
        ));
    }
    .with_idempotency_key(idempotency_key);
    if !(now_ms.is_finite() && (0.0..=1.0e16).contains(&now_ms)) {
        return Err(BindError::input(
            "`now` must be Unix time in milliseconds (a non-negative number)",
        ));
    }
    if let Some(t) = transport_error {
        return Ok(classify_transport(t, &request));
    }
    let h_end = m_len + headers_len;
    let b_end = h_end + body_len;
    let headers = input.get(m_len..h_end).ok_or_else(bad)?;
    let body = input.get(h_end..b_end).ok_or_else(bad)?;
    let lens = input.get(b_end..b_end + 8 * header_count).ok_or_else(bad)?;
    let mut pairs = Vec::with_capacity(header_count);
    header_pairs(headers, lens, &mut pairs)?;
    Ok(http_triage::classify(
        &Response::new(status.unwrap_or(0), &pairs, body),
        &request,
        now_ms.round() as i64,
        &rules,
    ))
}

/// `{status: {"409": "retryable"}, codes: {"locked": "pending"}}`: the caller's overrides,
/// checked as the core's wire format checks them (the error names the place, never the value).
fn rules_from_js(v: &JsValue) -> Res<Rules> {
    let bad = |m: String| Err(BindError::input(m));
    let entries = |v: &JsValue| -> Option<Vec<(String, JsValue)>> {
        if !v.is_object() || Array::is_array(v) || v.is_function() {
            return None;
        }
        Some(
            Object::entries(v.unchecked_ref())
                .iter()
                .map(|e| {
                    let pair: Array = e.unchecked_into();
                    (pair.get(0).as_string().unwrap_or_default(), pair.get(1))
                })
                .collect(),
        )
    };
    let mut rules = Rules::default();
    let Some(top) = entries(v) else {
        return bad("`rules` must be an object with `status` and/or `codes`".into());
    };
    for (k, v) in top {
        match k.as_str() {
            "status" | "codes" if v.is_undefined() => {}
            "status" | "codes" => {
                let Some(m) = entries(&v) else {
                    return bad(format!("`rules.{k}` must be an object"));
                };
                for (key, cat) in m {
                    rules
                        .add_named(&k, &key, cat.as_string().as_deref())
                        .map_err(BindError::input)?;
                }
            }
            _ => {
                let shown: String = k.chars().take(40).collect();
                return bad(format!(
                    "unknown field `rules.{shown}` (known: status, codes)"
                ));
            }
        }
    }
    Ok(rules)
}

// ---- a classification handed back ----

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

/// A classification from JavaScript (what `classify` returned, or one built by hand).
pub(crate) fn classification_from_js(v: JsValue) -> Res<Classification> {
    if v.is_undefined() || v.is_null() {
        return Err(BindError::input(
            "not a classification (pass what `classify` returned)",
        ));
    }
    let ci = ClassificationIn::deserialize(JsDe::new(v)).map_err(|e| {
        BindError::input(format!(
            "not a classification (pass what `classify` returned): {e}"
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
        None => Dialect::Empty,
        Some(d) => Dialect::deserialize(serde::de::value::StringDeserializer::<DeError>::new(d))
            .map_err(|_| BindError::new("unknown_name", "unknown dialect"))?,
    };
    c.request_not_processed = ci.request_not_processed;
    c.details = None;
    Ok(c)
}

// ---- envelope and headers ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeOut<'a> {
    dialect: &'static str,
    code: Option<&'a str>,
    message: Option<&'a str>,
    /// JSON text; JavaScript parses it.
    details: Option<&'a str>,
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

fn envelope_js(body: &[u8], content_type: Option<String>, limits: JsValue) -> Res<JsValue> {
    let mut lim = Limits::DEFAULT;
    if !(limits.is_undefined() || limits.is_null()) {
        let l = LimitsIn::deserialize(JsDe::new(limits))
            .map_err(|e| BindError::new("invalid_option", format!("limits: {e}")))?;
        if let Some(b) = l.max_body_bytes {
            lim.max_body_bytes = usize::try_from(ms(b, "maxBodyBytes")?).unwrap_or(usize::MAX);
        }
        if let Some(d) = l.max_depth {
            lim.max_depth = usize::try_from(ms(d, "maxDepth")?).unwrap_or(usize::MAX);
        }
    }
    let env: Envelope = parse_envelope(body, content_type.as_deref(), &lim);
    to_js(&EnvelopeOut {
        dialect: env.dialect.as_str(),
        code: env.code.as_deref(),
        message: env.message.as_deref(),
        details: env.details.as_ref().map(http_triage::Details::as_json),
        request_id: env.request_id.as_deref(),
        reference_id: env.reference_id.as_deref(),
        retryable: env.retryable,
        retry_after_ms: env.retry_after.map(millis),
        violations: &env.violations,
        signals_error: env.signals_error,
        in_progress: env.in_progress,
    })
}

/// Parse an error body (bytes) into the normalized envelope (`details` as JSON text).
#[wasm_bindgen(js_name = parseEnvelopeBytes)]
pub fn parse_envelope_bytes(
    body: &[u8],
    content_type: Option<String>,
    limits: JsValue,
) -> Result<JsValue, JsValue> {
    Ok(envelope_js(body, content_type, limits)?)
}

/// Parse an error body (text) into the normalized envelope (`details` as JSON text).
#[wasm_bindgen(js_name = parseEnvelopeText)]
pub fn parse_envelope_text(
    body: &str,
    content_type: Option<String>,
    limits: JsValue,
) -> Result<JsValue, JsValue> {
    Ok(envelope_js(body.as_bytes(), content_type, limits)?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeadersOut<'a> {
    retry_after_ms: Option<u64>,
    rate_limit_reset_ms: Option<u64>,
    rate_limit_remaining: Option<u64>,
    rate_limit_limit: Option<u64>,
    rate_limit_window_ms: Option<u64>,
    should_retry: Option<bool>,
    request_id: Option<&'a str>,
    content_type: Option<&'a str>,
}

/// What the headers say about timing and identity. `headers` is `name\0value\0…` (the JS layer
/// refuses a NUL inside a name or a value); `now_ms` the wall clock in Unix milliseconds.
#[wasm_bindgen(js_name = readHeaders)]
pub fn read_headers_js(headers: &str, now_ms: f64) -> Result<JsValue, JsValue> {
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
    let now = i64::try_from(ms(now_ms, "now")?).unwrap_or(i64::MAX);
    let h = read_headers(&pairs, now);
    Ok(to_js(&HeadersOut {
        retry_after_ms: h.retry_after.map(millis),
        rate_limit_reset_ms: h.rate_limit_reset.map(millis),
        rate_limit_remaining: h.rate_limit_remaining,
        rate_limit_limit: h.rate_limit_limit,
        rate_limit_window_ms: h.rate_limit_window.map(millis),
        should_retry: h.should_retry,
        request_id: h.request_id,
        content_type: h.content_type,
    })?)
}
