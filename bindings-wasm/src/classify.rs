//! The hot path: `classify` through buffers in wasm memory, and the rest of the reading
//! (envelopes, headers, a classification handed back by JavaScript).
//!
//! A call of `classify` crosses once each way and allocates no JavaScript object on the wasm
//! side. JavaScript writes the method, the headers and the body into one input buffer
//! ([`io_input`]), calls [`classify_io`], and reads the result from a table of doubles in wasm
//! memory (layout at `Out`) whose strings point into a byte area. Measured on this path
//! before, a call spent more time in wasm-bindgen's string glue (one `TextDecoder` per result,
//! one allocation per argument) than in the core.

use crate::convert::{
    array, members, millis, ms, ms_duration, read_list, read_members, BindError, Obj, Read, Res,
    Slot, Unknown,
};
use http_triage::{
    classify_transport, content_type_index, parse_envelope, read_headers, Classification, Details,
    Dialect, Envelope, Limits, Request, Response, Rules, TransportError, Violation,
};
use js_sys::{Array, Object};
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
/// that is the same for the same name in every call (-1: none; below 1024, see [`name_key`]),
/// the byte offset and the byte length of its text, which comes after all other strings, so
/// that JavaScript decodes a name only the first time it meets its key. `NaN` is an absent number.
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
/// | 27–41 | code, message, requestId, referenceId, details (JSON text; empty when deferred) |
/// | 42 | violation count |
/// | 43 | when details are deferred: the index of the header pair that gave the content type (-1: none) |
/// | 44… | field and message per violation |
struct Out<'a> {
    nums: &'a mut Vec<f64>,
    text: &'a mut Vec<u8>,
    /// The byte area's length so far in UTF-16 units.
    units: usize,
}

/// A name's key in the result (see [`Out::name`]): the kind (0 category, 1 reason, 2 dialect,
/// 3 transport error) times 256 plus the variant's index: below 1024, the size of the array of
/// names in `js/api.js`. A test checks that every kind has fewer than 256 variants.
const fn name_key(kind: usize, variant: usize) -> usize {
    kind * 256 + variant
}

/// The slots before the violations (see [`Out`]).
const HEAD: usize = 44;

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

    /// A name's four slots: its key (-1: none), then the byte offset and length of its text,
    /// which [`Out::write`] puts after every other string: JavaScript decodes a name only the
    /// first time it meets its key, and keeps it in an array indexed by the key (see [`name_key`]).
    fn name(&mut self, n: Option<(usize, &'static str)>) -> [f64; 4] {
        match n {
            None => [-1.0, 0.0, 0.0, 0.0],
            Some((key, s)) => {
                let at = self.text.len();
                self.text.extend_from_slice(s.as_bytes());
                [key as f64, at as f64, s.len() as f64, 0.0]
            }
        }
    }

    fn write(&mut self, c: &Classification, content_type_at: Option<usize>) {
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
            (
                3,
                Some((name_key(0, c.category as usize), c.category.as_str())),
            ),
            (7, Some((name_key(1, c.reason as usize), c.reason.as_str()))),
            (
                11,
                Some((name_key(2, c.dialect as usize), c.dialect.as_str())),
            ),
            (
                15,
                c.transport_error
                    .map(|t| (name_key(3, t as usize), t.as_str())),
            ),
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
        self.set(
            42,
            &[
                c.violations.len() as f64,
                content_type_at.map_or(-1.0, |i| i as f64),
            ],
        );
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
/// lengths (name, value: see `header_pairs`), in that order; `with_rules` to use the rules
/// given to [`set_rules`] just before; `defer_details` to leave the details unbuilt
/// ([`http_triage::classify_deferring_details`]: their text is then empty, and JavaScript
/// classifies again, building them, when they are read). Returns the address of the result
/// (see `Out`), or 0 when the input is refused ([`last_error`] says why).
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
    defer_details: bool,
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
            defer_details,
        ) {
            Ok((c, content_type_at)) => {
                Out {
                    nums,
                    text,
                    units: 0,
                }
                .write(&c, content_type_at);
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
    defer_details: bool,
) -> Res<(Classification, Option<usize>)> {
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
        return Ok((classify_transport(t, &request), None));
    }
    let h_end = m_len + headers_len;
    let b_end = h_end + body_len;
    let headers = input.get(m_len..h_end).ok_or_else(bad)?;
    let body = input.get(h_end..b_end).ok_or_else(bad)?;
    let lens = input.get(b_end..b_end + 8 * header_count).ok_or_else(bad)?;
    let mut pairs = Vec::with_capacity(header_count);
    header_pairs(headers, lens, &mut pairs)?;
    let response = Response::new(status.unwrap_or(0), &pairs, body);
    let now = now_ms.round() as i64;
    if !defer_details {
        return Ok((
            http_triage::classify(&response, &request, now, &rules),
            None,
        ));
    }
    let c = http_triage::classify_deferring_details(&response, &request, now, &rules);
    // Deferred details: JavaScript keeps the status, the body and this one header to build
    // them when read.
    let deferred = c.details.as_ref().is_some_and(Details::is_deferred);
    let content_type_at = if deferred {
        content_type_index(&pairs)
    } else {
        None
    };
    Ok((c, content_type_at))
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

/// The members of a classification handed back by JavaScript (to a policy or a state machine),
/// camelCase; the first two are required. Other members are skipped: it is usually the very
/// object `classify` returned.
const CLASSIFICATION_FIELDS: &[&str] = &[
    "category",
    "reason",
    "status",
    "transportError",
    "code",
    "message",
    "requestId",
    "referenceId",
    "retryableHint",
    "retryAfterMs",
    "rateLimitRemaining",
    "rateLimitResetMs",
    "rateLimitLimit",
    "rateLimitWindowMs",
    "violations",
    "dialect",
    "requestNotProcessed",
];

/// Every dialect, to read one back by its name (a test checks the list against the core's).
const DIALECTS: &[Dialect] = &[
    Dialect::Empty,
    Dialect::Nested,
    Dialect::Flat,
    Dialect::Minimal,
    Dialect::Detail,
    Dialect::Problem,
    Dialect::GoogleRpc,
    Dialect::JsonApi,
    Dialect::Graphql,
    Dialect::Stripe,
    Dialect::Openai,
    Dialect::Anthropic,
    Dialect::Azure,
    Dialect::AwsJson,
    Dialect::AwsXml,
    Dialect::Fastapi,
    Dialect::Drf,
    Dialect::SpringBoot,
    Dialect::Kubernetes,
    Dialect::Oauth,
    Dialect::OkFalse,
    Dialect::Json,
    Dialect::Html,
    Dialect::Text,
    Dialect::Truncated,
    Dialect::Binary,
    Dialect::Facebook,
    Dialect::Paypal,
    Dialect::Dropbox,
    Dialect::Atlassian,
    Dialect::Apigee,
    Dialect::EventStream,
];

fn read_violation(v: &JsValue) -> Read<Violation> {
    let mut out = Violation {
        field: String::new(),
        message: String::new(),
    };
    // Inside a classification's list: skipped members are checked 3 deep already.
    read_members(
        members(v)?,
        &["field", "message"],
        Unknown::Skip(3),
        0b11,
        &mut |i, v| {
            if i == 0 {
                Slot::Str(&mut out.field).read(v)?;
            } else {
                Slot::Str(&mut out.message).read(v)?;
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// A classification from JavaScript (what `classify` returned, or one built by hand).
pub(crate) fn classification_from_js(v: JsValue) -> Res<Classification> {
    let not_one = |e: String| {
        BindError::input(format!(
            "not a classification (pass what `classify` returned){e}"
        ))
    };
    if v.is_undefined() || v.is_null() {
        return Err(not_one(String::new()));
    }
    // Built from a bare classification: the core's fields are public, its constructor is not.
    // Members the object does not have are absent (`None`, empty, false).
    let mut c = classify_transport(TransportError::Dns, &Request::unknown());
    c.status = None;
    c.code = None;
    c.message = None;
    c.request_id = None;
    c.reference_id = None;
    c.retryable_hint = None;
    c.rate_limit_remaining = None;
    c.rate_limit_limit = None;
    c.violations = Vec::new();
    c.request_not_processed = false;
    c.details = None;
    let (mut category, mut reason) = (String::new(), String::new());
    let (mut transport_error, mut dialect) = (None, None);
    let (mut retry_after, mut reset, mut window) = (None, None, None);
    members(&v)
        .and_then(|list| {
            read_members(
                list,
                CLASSIFICATION_FIELDS,
                Unknown::Skip(1),
                0b11,
                &mut |i, v| {
                    match i {
                        0 => Slot::Str(&mut category),
                        1 => Slot::Str(&mut reason),
                        2 => Slot::OptU16(&mut c.status),
                        3 => Slot::OptStr(&mut transport_error),
                        4 => Slot::OptStr(&mut c.code),
                        5 => Slot::OptStr(&mut c.message),
                        6 => Slot::OptStr(&mut c.request_id),
                        7 => Slot::OptStr(&mut c.reference_id),
                        8 => Slot::OptBool(&mut c.retryable_hint),
                        9 => Slot::OptF64(&mut retry_after),
                        10 => Slot::OptU64(&mut c.rate_limit_remaining),
                        11 => Slot::OptF64(&mut reset),
                        12 => Slot::OptU64(&mut c.rate_limit_limit),
                        13 => Slot::OptF64(&mut window),
                        14 => {
                            c.violations = read_list(v, read_violation)?;
                            return Ok(());
                        }
                        15 => Slot::OptStr(&mut dialect),
                        _ => Slot::Bool(&mut c.request_not_processed),
                    }
                    .read(v)
                },
            )
        })
        .map_err(|e| not_one([": ", &e].concat()))?;
    c.category = category.parse()?;
    c.reason = reason.parse()?;
    c.transport_error = transport_error
        .as_deref()
        .map(str::parse::<TransportError>)
        .transpose()?;
    c.retry_after = retry_after
        .map(|v| ms_duration(v, "retryAfterMs"))
        .transpose()?;
    c.rate_limit_reset = reset
        .map(|v| ms_duration(v, "rateLimitResetMs"))
        .transpose()?;
    c.rate_limit_window = window
        .map(|v| ms_duration(v, "rateLimitWindowMs"))
        .transpose()?;
    c.dialect = match dialect {
        None => Dialect::Empty,
        Some(d) => *DIALECTS
            .iter()
            .find(|x| x.as_str() == d)
            .ok_or_else(|| BindError::new("unknown_name", "unknown dialect"))?,
    };
    Ok(c)
}

// ---- envelope and headers ----

fn envelope_js(body: &[u8], content_type: Option<String>, limits: JsValue) -> Res<JsValue> {
    let mut lim = Limits::DEFAULT;
    if !(limits.is_undefined() || limits.is_null()) {
        let (mut max_body, mut max_depth) = (None, None);
        members(&limits)
            .and_then(|list| {
                read_members(
                    list,
                    &["maxBodyBytes", "maxDepth"],
                    Unknown::Refuse,
                    0,
                    &mut |i, v| {
                        if i == 0 {
                            Slot::OptF64(&mut max_body).read(v)?;
                        } else {
                            Slot::OptF64(&mut max_depth).read(v)?;
                        }
                        Ok(())
                    },
                )
            })
            .map_err(|e| BindError::new("invalid_option", ["limits: ", &e].concat()))?;
        if let Some(b) = max_body {
            lim.max_body_bytes = usize::try_from(ms(b, "maxBodyBytes")?).unwrap_or(usize::MAX);
        }
        if let Some(d) = max_depth {
            lim.max_depth = usize::try_from(ms(d, "maxDepth")?).unwrap_or(usize::MAX);
        }
    }
    let env: Envelope = parse_envelope(body, content_type.as_deref(), &lim);
    let o = Obj::new();
    o.str("dialect", Some(env.dialect.as_str()));
    o.str("code", env.code.as_deref());
    o.str("message", env.message.as_deref());
    // JSON text; JavaScript parses it.
    o.str(
        "details",
        env.details.as_ref().map(http_triage::Details::as_json),
    );
    o.str("requestId", env.request_id.as_deref());
    o.str("referenceId", env.reference_id.as_deref());
    o.bool("retryable", env.retryable);
    o.num("retryAfterMs", env.retry_after.map(millis));
    let violations = array(&env.violations, |v| {
        let o = Obj::new();
        o.str("field", Some(&v.field));
        o.str("message", Some(&v.message));
        o.done()
    });
    o.set("violations", &violations);
    o.bool("signalsError", Some(env.signals_error));
    o.bool("inProgress", Some(env.in_progress));
    Ok(o.done())
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
    let o = Obj::new();
    o.num("retryAfterMs", h.retry_after.map(millis));
    o.num("rateLimitResetMs", h.rate_limit_reset.map(millis));
    o.num("rateLimitRemaining", h.rate_limit_remaining);
    o.num("rateLimitLimit", h.rate_limit_limit);
    o.num("rateLimitWindowMs", h.rate_limit_window.map(millis));
    o.bool("shouldRetry", h.should_retry);
    o.str("requestId", h.request_id);
    o.str("contentType", h.content_type);
    Ok(o.done())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http_triage::{Category, Reason};

    /// JavaScript keeps names in an array of 1024 by their key: every key fits, and no two
    /// names share one.
    #[test]
    fn name_keys_fit_and_differ() {
        let mut seen = std::collections::HashMap::new();
        let mut add = |key: usize, name: &str| {
            assert!(key < 1024, "{name}: key {key}");
            assert_eq!(
                *seen.entry(key).or_insert(name.to_owned()),
                name,
                "key {key}"
            );
        };
        for c in Category::ALL {
            add(name_key(0, c as usize), c.as_str());
        }
        for r in Reason::ALL {
            assert!((*r as usize) < 256);
            add(name_key(1, *r as usize), r.as_str());
        }
        for d in DIALECTS {
            assert!((*d as usize) < 256);
            add(name_key(2, *d as usize), d.as_str());
        }
        for t in TransportError::ALL {
            add(name_key(3, t as usize), t.as_str());
        }
        assert_eq!(
            seen.len(),
            Category::ALL.len() + Reason::ALL.len() + DIALECTS.len() + TransportError::ALL.len()
        );
    }

    #[test]
    fn every_dialect_reads_back() {
        let names: Vec<&str> = DIALECTS.iter().map(|d| d.as_str()).collect();
        assert_eq!(crate::machines::tests::serde_variants::<Dialect>(), names);
    }
}
