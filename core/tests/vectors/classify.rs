//! Suite `classify`: the input is a `http-triage classify` line (plus `body_hex` /
//! `body_repeat`); the expectation is a subset of its output line, plus `request_not_processed`
//! and `reference_id`.

use http_triage::wire::{ClassifyInput, ClassifyOutput};
use http_triage::{classify_deferring_details, Response};
use serde_json::{Map, Value};

pub fn run_case(input: &Value, expect: &Value) -> Result<(), String> {
    let c = classify_input(input)?;
    deferring_agrees(input, &c)?;
    super::compare(expect, &fields(&c)?)
}

/// The CLI's output line for `c`, plus `request_not_processed` and `reference_id` (the
/// generated vectors' expectations are these too).
pub fn fields(c: &http_triage::Classification) -> Result<Map<String, Value>, String> {
    let out = serde_json::to_value(ClassifyOutput::from(c)).map_err(|e| e.to_string())?;
    let mut actual: Map<String, Value> = out.as_object().cloned().ok_or("output not an object")?;
    actual.insert(
        "request_not_processed".into(),
        Value::Bool(c.request_not_processed),
    );
    actual.insert(
        "reference_id".into(),
        c.reference_id
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    Ok(actual)
}

/// Read a classify input (as the CLI does, plus the vector-only body forms) and classify it.
pub fn classify_input(input: &Value) -> Result<http_triage::Classification, String> {
    Ok(read_input(input)?.classify(super::DEFAULT_NOW_S * 1000))
}

/// A classify input as the CLI reads it, plus the vector-only body forms.
fn read_input(input: &Value) -> Result<ClassifyInput, String> {
    let mut map = input
        .as_object()
        .cloned()
        .ok_or("input must be an object")?;
    let body = super::take_body(&mut map)?;
    let mut parsed = ClassifyInput::from_map(&map).map_err(|e| e.to_string())?;
    if let Some(b) = body {
        parsed.body = b;
    }
    Ok(parsed)
}

/// `classify_deferring_details` (the wasm binding's) gives what `classify` gave (`c`), with
/// the details deferred exactly where `c` has some.
fn deferring_agrees(input: &Value, c: &http_triage::Classification) -> Result<(), String> {
    let parsed = read_input(input)?;
    if parsed.transport_error.is_some() {
        return Ok(());
    }
    let pairs: Vec<(&str, &str)> = parsed
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = Response::new(parsed.status.unwrap_or(0), &pairs, &parsed.body);
    let deferred = classify_deferring_details(
        &response,
        &parsed.request(),
        parsed.now_unix_ms.unwrap_or(super::DEFAULT_NOW_S * 1000),
        &parsed.rules,
    );
    super::same_but_deferred(c, deferred)
}
