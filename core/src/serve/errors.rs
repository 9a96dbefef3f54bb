//! Error bodies in each dialect.

use super::ErrorDialect;
use serde_json::{json, Map, Value};

/// One error answer before it is rendered in a dialect.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub retryable: bool,
    /// Structured context (an object) or `Value::Null`.
    pub details: Value,
    /// Extra response headers.
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retryable: matches!(status, 409 | 429 | 500..=599) && code != "quota_exceeded",
            details: Value::Null,
            headers: Vec::new(),
        }
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A short title per code (the flat dialect's `error`, problem+json's `title`).
fn title(code: &str, status: u16) -> &'static str {
    match code {
        "corrupted" => "File is corrupted",
        "encrypted" => "File is password-protected",
        "unsupported_variant" => "Unsupported format variant",
        "file_too_large" => "File too large",
        "bad_request" if status == 409 => "Request in flight",
        "bad_request" => "Bad request",
        "idempotency_key_reuse" => "Idempotency-Key reused",
        "rate_limited" => "Rate limited",
        "quota_exceeded" => "Quota exceeded",
        "internal_error" => "Internal server error",
        "service_unavailable" => "Service unavailable",
        "gateway_timeout" => "Gateway timeout",
        "invalid_api_key" => "Authentication failed",
        "not_found" => "Not found",
        "method_not_allowed" => "Method not allowed",
        _ => "Error",
    }
}

/// Render `e` in `dialect`: (content type, body).
pub(crate) fn render(
    e: &ApiError,
    dialect: ErrorDialect,
    request_id: &str,
    reference: u64,
) -> (&'static str, Vec<u8>) {
    let value = match dialect {
        ErrorDialect::Nested => {
            let mut inner = Map::new();
            inner.insert("code".into(), json!(e.code));
            inner.insert("message".into(), json!(e.message));
            if !e.details.is_null() {
                inner.insert("details".into(), e.details.clone());
            }
            json!({ "error": Value::Object(inner) })
        }
        ErrorDialect::Flat => {
            let mut m = Map::new();
            m.insert("error".into(), json!(title(e.code, e.status)));
            m.insert("detail".into(), json!(e.message));
            m.insert("error_code".into(), json!(e.code));
            m.insert("retryable".into(), json!(e.retryable));
            if e.status == 500 {
                m.insert("reference_id".into(), json!(format!("err_{reference}")));
            }
            m.insert("request_id".into(), json!(request_id));
            Value::Object(m)
        }
        ErrorDialect::Minimal => json!({ "error": e.message, "error_code": e.code }),
        ErrorDialect::Problem => {
            let mut m = Map::new();
            m.insert(
                "type".into(),
                json!(format!("urn:http-triage:problem:{}", e.code)),
            );
            m.insert("title".into(), json!(title(e.code, e.status)));
            m.insert("status".into(), json!(e.status));
            m.insert("detail".into(), json!(e.message));
            m.insert("instance".into(), json!("/v1/convert"));
            m.insert("code".into(), json!(e.code));
            m.insert("request_id".into(), json!(request_id));
            if let Value::Object(d) = &e.details {
                for (k, v) in d {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            Value::Object(m)
        }
    };
    let ct = if dialect == ErrorDialect::Problem {
        "application/problem+json"
    } else {
        "application/json"
    };
    (ct, serde_json::to_vec(&value).unwrap_or_default())
}

/// The HTML page a gateway answers with when the upstream is broken.
pub(crate) const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
