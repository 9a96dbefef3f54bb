//! Suites `decide` and `backoff`.
//!
//! `decide`: `{"response": <classify input>, "policy": {...}, "attempt": {...}, "random": r}` →
//! `{"decision", "delay_ms", "source", "give_up_reason", "stop_reason", "resume_at_ms",
//! "category", "reason"}`.
//! `backoff`: `{"policy": {...}, "attempt": n, "previous_delay_ms": ms|null, "random": r}` →
//! `{"delay_ms"}`.

use http_triage::{Attempt, Decision, RetryPolicy};
use serde_json::{Map, Value};
use std::time::Duration;

fn policy(v: Option<&Value>) -> Result<RetryPolicy, String> {
    let p: RetryPolicy = match v {
        None | Some(Value::Null) => RetryPolicy::default(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("policy: {e}"))?,
    };
    p.validate().map_err(|e| e.to_string())?;
    Ok(p)
}

fn random(v: Option<&Value>) -> Result<f64, String> {
    match v {
        None => Err("`random` is required: decisions take their randomness as an argument".into()),
        Some(v) => v.as_f64().ok_or_else(|| "random must be a number".into()),
    }
}

pub fn run_case(input: &Value, expect: &Value) -> Result<(), String> {
    let obj = input.as_object().ok_or("input must be an object")?;
    super::only_keys(obj, &["response", "policy", "attempt", "random"])?;
    let c = super::classify::classify_input(obj.get("response").ok_or("response is required")?)?;
    let p = policy(obj.get("policy"))?;
    let attempt: Attempt = match obj.get("attempt") {
        None => Attempt::first(0),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("attempt: {e}"))?,
    };
    let d = p.decide(&c, attempt, random(obj.get("random"))?);
    let mut actual = Map::new();
    let null = Value::Null;
    actual.insert("decision".into(), d.kind().into());
    actual.insert("category".into(), c.category.as_str().into());
    actual.insert("reason".into(), c.reason.as_str().into());
    for k in [
        "delay_ms",
        "source",
        "give_up_reason",
        "stop_reason",
        "resume_at_ms",
    ] {
        actual.insert(k.into(), null.clone());
    }
    match d {
        Decision::Retry { delay, source } | Decision::Poll { delay, source } => {
            actual.insert("delay_ms".into(), super::ms_json(Some(delay)));
            actual.insert("source".into(), source.as_str().into());
        }
        Decision::Defer {
            delay,
            resume_at_ms,
        } => {
            actual.insert("delay_ms".into(), super::ms_json(Some(delay)));
            actual.insert("resume_at_ms".into(), resume_at_ms.into());
        }
        Decision::GiveUp { reason } => {
            actual.insert("give_up_reason".into(), reason.as_str().into());
        }
        Decision::Stop { reason } => {
            actual.insert("stop_reason".into(), reason.as_str().into());
        }
        Decision::Done => {}
        _ => return Err("a decision this runner does not know".into()),
    }
    super::compare(expect, &actual)
}

pub fn run_backoff_case(input: &Value, expect: &Value) -> Result<(), String> {
    let obj = input.as_object().ok_or("input must be an object")?;
    super::only_keys(obj, &["policy", "attempt", "previous_delay_ms", "random"])?;
    let p = policy(obj.get("policy"))?;
    let n = obj
        .get("attempt")
        .and_then(Value::as_u64)
        .ok_or("attempt must be an integer")?;
    let prev = obj
        .get("previous_delay_ms")
        .and_then(Value::as_u64)
        .map(Duration::from_millis);
    let d = p.backoff(
        u32::try_from(n).map_err(|e| e.to_string())?,
        prev,
        random(obj.get("random"))?,
    );
    let mut actual = Map::new();
    actual.insert("delay_ms".into(), super::ms_json(Some(d)));
    super::compare(expect, &actual)
}
