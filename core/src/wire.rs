//! The JSON contract of `http-triage classify`, in one place: the CLI, the shared vectors and
//! the bindings all read and write these shapes, so they cannot drift apart.
//!
//! Input, one JSON object per line:
//! `{"status": 429, "headers": {"Retry-After": "5"}, "body": "...", "method": "POST", "now": 1763800000}`
//! or `"transport_error": KIND` instead of `status`. `headers` may also be a list of
//! `[name, value]` pairs (repeats allowed). `now` is Unix time in seconds (fractions allowed).
//! Two optional extensions: `"idempotency_key": true` says the request carried an
//! Idempotency-Key header, and `"rules"` overrides categories
//! (`{"status": {"409": "retryable"}, "codes": {"locked": "pending"}}`).
//!
//! Output, one JSON object per line, every key present (`null` when absent):
//! `{"category", "reason", "code", "message", "request_id", "retryable_hint",
//! "retry_after_seconds", "violations", "dialect"}`.
//!
//! A line that cannot be read gives an error object instead:
//! `{"error": {"code": "invalid_json" | "invalid_input", "message": "..."}, "line": N}`.
//! Error messages never quote string values from the input (they may hold secrets).

use crate::classify::{
    classify, classify_transport, Classification, Request, Response, Rules, TransportError,
};
use crate::envelope::Violation;
use serde::Serialize;
use serde_json::{Map, Value};

/// Why an input line could not be classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The line is not JSON.
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    /// The line is JSON but not a valid input.
    #[error("{0}")]
    InvalidInput(String),
}

impl WireError {
    /// The stable code: `invalid_json` or `invalid_input`.
    pub fn code(&self) -> &'static str {
        match self {
            WireError::InvalidJson(_) => "invalid_json",
            WireError::InvalidInput(_) => "invalid_input",
        }
    }
}

/// One parsed input line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClassifyInput {
    /// The status, when a response came back.
    pub status: Option<u16>,
    /// How the call broke, when none did.
    pub transport_error: Option<TransportError>,
    /// Header pairs, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The request method, when known.
    pub method: Option<String>,
    /// Whether the request carried an Idempotency-Key.
    pub idempotency_key: bool,
    /// Unix milliseconds, when given.
    pub now_unix_ms: Option<i64>,
    /// Category overrides.
    pub rules: Rules,
}

const KEYS: &[&str] = &[
    "status",
    "transport_error",
    "headers",
    "body",
    "method",
    "idempotency_key",
    "now",
    "rules",
];

impl ClassifyInput {
    /// Read an input object. `body` must be text here; callers with raw bytes set
    /// [`ClassifyInput::body`] afterwards.
    pub fn from_value(v: &Value) -> Result<ClassifyInput, WireError> {
        let obj = v
            .as_object()
            .ok_or_else(|| WireError::InvalidInput("an input line must be a JSON object".into()))?;
        Self::from_map(obj)
    }

    /// Read an input object from its map.
    pub fn from_map(obj: &Map<String, Value>) -> Result<ClassifyInput, WireError> {
        let bad = |m: String| Err(WireError::InvalidInput(m));
        for k in obj.keys() {
            if !KEYS.contains(&k.as_str()) {
                return bad(format!(
                    "unknown field `{}` (known: {})",
                    clip(k),
                    KEYS.join(", ")
                ));
            }
        }
        let status = match obj.get("status") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64().and_then(|s| u16::try_from(s).ok()) {
                Some(s) if (100..=999).contains(&s) => Some(s),
                _ => return bad("`status` must be an integer from 100 to 999".into()),
            },
            Some(_) => return bad("`status` must be an integer".into()),
        };
        let transport_error = match obj.get("transport_error") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match s.parse::<TransportError>() {
                Ok(t) => Some(t),
                Err(_) => {
                    let kinds: Vec<&str> = TransportError::ALL.iter().map(|t| t.as_str()).collect();
                    return bad(format!(
                        "unknown `transport_error`; one of: {}",
                        kinds.join(", ")
                    ));
                }
            },
            Some(_) => return bad("`transport_error` must be a string".into()),
        };
        match (status, transport_error) {
            (None, None) => return bad("give either `status` or `transport_error`".into()),
            (Some(_), Some(_)) => return bad("give `status` or `transport_error`, not both".into()),
            _ => {}
        }
        let headers = read_headers_value(obj.get("headers"))?;
        let body = match obj.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.as_bytes().to_vec(),
            Some(_) => return bad("`body` must be a string".into()),
        };
        let method = match obj.get("method") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 32 => {
                Some(s.trim().to_owned())
            }
            Some(_) => return bad("`method` must be a short string like \"POST\"".into()),
        };
        let idempotency_key = match obj.get("idempotency_key") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return bad("`idempotency_key` must be true or false".into()),
        };
        let now_unix_ms = match obj.get("now") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(s) if s.is_finite() && (0.0..=1.0e13).contains(&s) => {
                    Some((s * 1000.0).round() as i64)
                }
                _ => return bad("`now` must be Unix seconds (a non-negative number)".into()),
            },
            Some(_) => return bad("`now` must be a number (Unix seconds)".into()),
        };
        let rules = read_rules(obj.get("rules"))?;
        Ok(ClassifyInput {
            status,
            transport_error,
            headers,
            body,
            method,
            idempotency_key,
            now_unix_ms,
            rules,
        })
    }

    /// The request as classification sees it.
    pub fn request(&self) -> Request {
        match &self.method {
            Some(m) => Request::new(m).with_idempotency_key(self.idempotency_key),
            None => Request::unknown().with_idempotency_key(self.idempotency_key),
        }
    }

    /// Classify. `default_now_unix_ms` is used when the input gave no `now`.
    pub fn classify(&self, default_now_unix_ms: i64) -> Classification {
        let request = self.request();
        match (self.status, self.transport_error) {
            (_, Some(t)) => classify_transport(t, &request),
            (status, None) => {
                let pairs: Vec<(&str, &str)> = self
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let response = Response::new(status.unwrap_or(0), &pairs, &self.body);
                classify(
                    &response,
                    &request,
                    self.now_unix_ms.unwrap_or(default_now_unix_ms),
                    &self.rules,
                )
            }
        }
    }
}

/// `{"status": {"409": "retryable"}, "codes": {"locked": "pending"}}`, read by hand so that an
/// error names the place, never the value (which may be anything a caller pasted).
fn read_rules(v: Option<&Value>) -> Result<Rules, WireError> {
    let bad = |m: String| Err(WireError::InvalidInput(m));
    let mut rules = Rules::default();
    let obj = match v {
        None | Some(Value::Null) => return Ok(rules),
        Some(Value::Object(o)) => o,
        Some(_) => return bad("`rules` must be an object with `status` and/or `codes`".into()),
    };
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("status" | "codes", Value::Object(m)) => {
                for (key, cat) in m {
                    rules
                        .add_named(k, key, cat.as_str())
                        .map_err(WireError::InvalidInput)?;
                }
            }
            ("status" | "codes", _) => return bad(format!("`rules.{k}` must be an object")),
            _ => {
                return bad(format!(
                    "unknown field `rules.{}` (known: status, codes)",
                    clip(k)
                ))
            }
        }
    }
    Ok(rules)
}

fn read_headers_value(v: Option<&Value>) -> Result<Vec<(String, String)>, WireError> {
    let bad = |m: &str| Err(WireError::InvalidInput(m.to_owned()));
    let value = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                match value(v) {
                    Some(s) => out.push((k.clone(), s)),
                    None => return bad("a header value must be a string"),
                }
            }
            Ok(out)
        }
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for p in a {
                match p.as_array().map(Vec::as_slice) {
                    Some([Value::String(k), v]) => match value(v) {
                        Some(s) => out.push((k.clone(), s)),
                        None => return bad("a header value must be a string"),
                    },
                    _ => return bad("`headers` as a list holds [name, value] pairs of strings"),
                }
            }
            Ok(out)
        }
        Some(_) => bad("`headers` must be an object or a list of [name, value] pairs"),
    }
}

/// One output line: the contract's keys, all present.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ClassifyOutput {
    /// `success`, `retryable`, `pending`, `permanent`, `auth` or `quota`.
    pub category: &'static str,
    /// The machine-readable reason.
    pub reason: &'static str,
    /// The body's error code.
    pub code: Option<String>,
    /// The body's message.
    pub message: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// The server's word on retrying.
    pub retryable_hint: Option<bool>,
    /// The server-given delay in seconds (millisecond precision; a whole number when whole).
    pub retry_after_seconds: Option<Value>,
    /// Field-level problems.
    pub violations: Vec<Violation>,
    /// The body dialect.
    pub dialect: &'static str,
}

impl From<&Classification> for ClassifyOutput {
    fn from(c: &Classification) -> Self {
        ClassifyOutput {
            category: c.category.as_str(),
            reason: c.reason.as_str(),
            code: c.code.clone(),
            message: c.message.clone(),
            request_id: c.request_id.clone(),
            retryable_hint: c.retryable_hint,
            retry_after_seconds: c.retry_after.map(seconds_value),
            violations: c.violations.clone(),
            dialect: c.dialect.as_str(),
        }
    }
}

/// A duration as JSON seconds: an integer when whole, else a float with millisecond precision.
pub fn seconds_value(d: std::time::Duration) -> Value {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        Value::from(ms as f64 / 1000.0)
    }
}

/// Classify one input line into one output line (without the trailing newline). Never fails:
/// a bad line gives an error object naming line `line_no`.
pub fn classify_line(line: &str, line_no: usize, default_now_unix_ms: i64) -> String {
    let result = serde_json::from_str::<Value>(line)
        .map_err(|e| WireError::InvalidJson(redact(&e.to_string())))
        .and_then(|v| ClassifyInput::from_value(&v))
        .map(|input| ClassifyOutput::from(&input.classify(default_now_unix_ms)));
    match result {
        Ok(out) => serde_json::to_string(&out)
            .unwrap_or_else(|e| error_line(&WireError::InvalidInput(e.to_string()), line_no)),
        Err(e) => error_line(&e, line_no),
    }
}

/// The error object for a line that could not be read.
pub fn error_line(e: &WireError, line_no: usize) -> String {
    let v = serde_json::json!({
        "error": { "code": e.code(), "message": e.to_string() },
        "line": line_no,
    });
    v.to_string()
}

/// Hide quoted strings in a parser message: input values may be secrets.
fn redact(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut in_quote = false;
    for ch in msg.chars() {
        match (ch, in_quote) {
            ('"', false) => {
                in_quote = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                in_quote = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    if in_quote {
        out.push('"');
    }
    out
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example() {
        let line = r#"{"status":429,"headers":{"Retry-After":"7"},"body":"{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}"}"#;
        let out: Value = serde_json::from_str(&classify_line(line, 1, 0)).unwrap_or_default();
        assert_eq!(out["category"], "retryable");
        assert_eq!(out["retry_after_seconds"], 7);
        assert_eq!(out["code"], "rate_limited");
        for k in [
            "category",
            "reason",
            "code",
            "message",
            "request_id",
            "retryable_hint",
            "retry_after_seconds",
            "violations",
            "dialect",
        ] {
            assert!(out.get(k).is_some(), "missing {k}");
        }
    }

    #[test]
    fn bad_lines_become_error_objects_without_secrets() {
        let out = classify_line(r#"{"status":"Bearer sk_live_SECRET"}"#, 4, 0);
        assert!(!out.contains("SECRET"), "{out}");
        let v: Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(v["error"]["code"], "invalid_input");
        assert_eq!(v["line"], 4);
        let out = classify_line(
            r#"{"status": 200, "headers": {"Authorization": ["Bearer sk_SECRET"]}}"#,
            1,
            0,
        );
        assert!(!out.contains("SECRET"), "{out}");
        let out = classify_line(
            r#"{"status": 200, "rules": {"codes": {"x": "Bearer sk_SECRET"}}}"#,
            1,
            0,
        );
        assert!(!out.contains("SECRET"), "{out}");
        let out = classify_line("{\"status\": 2", 9, 0);
        assert!(out.contains("invalid_json"), "{out}");
    }

    #[test]
    fn redact_hides_quoted_text() {
        assert_eq!(
            redact(r#"invalid type: string "abc", expected u16"#),
            "invalid type: string \"…\", expected u16"
        );
        assert_eq!(redact(r#"unterminated "abc"#), "unterminated \"…\"");
    }
}
