//! Suite `classify`: the input is a `http-triage classify` line (plus `body_hex` /
//! `body_repeat`); the expectation is a subset of its output line, plus `request_not_processed`
//! and `reference_id`.

use http_triage::wire::{ClassifyInput, ClassifyOutput};
use serde_json::{Map, Value};

pub fn run_case(input: &Value, expect: &Value) -> Result<(), String> {
    let c = classify_input(input)?;
    let out = serde_json::to_value(ClassifyOutput::from(&c)).map_err(|e| e.to_string())?;
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
    super::compare(expect, &actual)
}

/// Read a classify input (as the CLI does, plus the vector-only body forms) and classify it.
pub fn classify_input(input: &Value) -> Result<http_triage::Classification, String> {
    let mut map = input
        .as_object()
        .cloned()
        .ok_or("input must be an object")?;
    let body = super::take_body(&mut map)?;
    let mut parsed = ClassifyInput::from_map(&map).map_err(|e| e.to_string())?;
    if let Some(b) = body {
        parsed.body = b;
    }
    Ok(parsed.classify(super::DEFAULT_NOW_S * 1000))
}
