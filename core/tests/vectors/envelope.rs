//! Suite `envelope`: `parse_envelope(body, content_type, limits)` → the normalized record.
//!
//! Input: `body` | `body_hex` | `body_repeat`, `content_type` (string or null), optional
//! `limits` (`{"max_body_bytes", "max_depth"}`). Expect (each optional, compared exactly when
//! present, null = absent): `dialect`, `code`, `message`, `details`, `request_id`,
//! `reference_id`, `retryable`, `retry_after_ms`, `violations`, `signals_error`, `in_progress`.

use http_triage::{
    classify, classify_deferring_details, parse_envelope, Envelope, Limits, Request, Response,
    Rules,
};
use serde_json::{json, Map, Value};

pub fn run_case(input: &Value, expect: &Value) -> Result<(), String> {
    let mut input = input.as_object().ok_or("input must be an object")?.clone();
    let body = super::take_body(&mut input)?.unwrap_or_default();
    super::only_keys(&input, &["content_type", "limits"])?;

    let content_type = match input.get("content_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "content_type must be a string or null, got {other}"
            ))
        }
    };

    let mut limits = Limits::default();
    match input.get("limits") {
        None | Some(Value::Null) => {}
        Some(Value::Object(l)) => {
            super::only_keys(l, &["max_body_bytes", "max_depth"])
                .map_err(|e| format!("limits: {e}"))?;
            if let Some(v) = l.get("max_body_bytes") {
                limits.max_body_bytes = v
                    .as_u64()
                    .ok_or("limits.max_body_bytes must be an integer")?
                    as usize;
            }
            if let Some(v) = l.get("max_depth") {
                limits.max_depth =
                    v.as_u64().ok_or("limits.max_depth must be an integer")? as usize;
            }
        }
        Some(other) => return Err(format!("limits must be an object, got {other}")),
    }

    let env = parse_envelope(&body, content_type.as_deref(), &limits);
    deferring_agrees(&body, content_type.as_deref(), limits)?;
    super::compare(expect, &fields(&env))
}

/// Every field of the normalized record, as the suite names them (the generated vectors'
/// expectations are these too).
pub fn fields(env: &Envelope) -> Map<String, Value> {
    let mut actual = Map::new();
    actual.insert("dialect".into(), json!(env.dialect.as_str()));
    actual.insert("code".into(), json!(env.code));
    actual.insert("message".into(), json!(env.message));
    actual.insert(
        "details".into(),
        env.details
            .as_ref()
            .map_or(Value::Null, http_triage::Details::to_value),
    );
    actual.insert("request_id".into(), json!(env.request_id));
    actual.insert("reference_id".into(), json!(env.reference_id));
    actual.insert("retryable".into(), json!(env.retryable));
    actual.insert("retry_after_ms".into(), super::ms_json(env.retry_after));
    actual.insert(
        "violations".into(),
        Value::Array(
            env.violations
                .iter()
                .map(|v| json!({"field": v.field, "message": v.message}))
                .collect(),
        ),
    );
    actual.insert("signals_error".into(), json!(env.signals_error));
    actual.insert("in_progress".into(), json!(env.in_progress));
    actual
}

/// Classifying this body (as a 400, a 429 and a 200) with `classify_deferring_details` gives
/// what `classify` gives, except that `details` are deferred exactly where they are present.
fn deferring_agrees(body: &[u8], content_type: Option<&str>, limits: Limits) -> Result<(), String> {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("content-type", ct))
        .into_iter()
        .collect();
    for status in [400, 429, 200] {
        let response = Response::new(status, &headers, body).with_limits(limits);
        let (request, rules) = (Request::unknown(), Rules::default());
        let full = classify(&response, &request, 1_700_000_000_000, &rules);
        let deferred = classify_deferring_details(&response, &request, 1_700_000_000_000, &rules);
        super::same_but_deferred(&full, deferred).map_err(|e| format!("status {status}: {e}"))?;
    }
    Ok(())
}
