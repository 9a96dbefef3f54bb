//! The shared-vector runner: every `tests/vectors/*.json` file at the workspace root, each a
//! suite of cases. Fails on a suite, an input field or an expected field it does not know, and
//! prints how many cases it ran.
//!
//! File format (see `tests/vectors/README.md`):
//! `{"suite": "classify", "description": "...", "cases": [{"name", "input", "expect"}]}`.

#![allow(missing_docs, clippy::unwrap_used)]

mod classify;
mod decide;
mod envelope;
mod generated;
mod headers;
mod ledger;
mod machines;

use serde_json::{Map, Value};
use std::io::Write;
use std::path::PathBuf;

/// Run one case of a suite. Returns a description of the first mismatch.
type Runner = fn(&Value, &Value) -> Result<(), String>;

fn runner(suite: &str) -> Option<Runner> {
    Some(match suite {
        "envelope" => envelope::run_case,
        "headers" => headers::run_case,
        "classify" => classify::run_case,
        "decide" => decide::run_case,
        "backoff" => decide::run_backoff_case,
        "breaker" => machines::run_breaker_case,
        "budget" => machines::run_budget_case,
        "gate" => machines::run_gate_case,
        "pacer" => machines::run_pacer_case,
        "ledger" => ledger::run_case,
        _ => return None,
    })
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

#[test]
fn shared_vectors() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vector files found");

    let mut ran = 0usize;
    let mut failures = Vec::new();
    let mut per_suite = std::collections::BTreeMap::<String, usize>::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
        let obj = doc.as_object().expect("a vector file is an object");
        for k in obj.keys() {
            assert!(
                ["suite", "description", "cases"].contains(&k.as_str()),
                "{}: unknown top-level key `{k}`",
                file.display()
            );
        }
        let suite = obj["suite"].as_str().expect("suite is a string");
        let run =
            runner(suite).unwrap_or_else(|| panic!("{}: unknown suite `{suite}`", file.display()));
        let cases = obj["cases"].as_array().expect("cases is an array");
        let mut names = std::collections::HashSet::new();
        for case in cases {
            let c = case.as_object().expect("a case is an object");
            for k in c.keys() {
                assert!(
                    ["name", "input", "expect", "note"].contains(&k.as_str()),
                    "{}: unknown case key `{k}`",
                    file.display()
                );
            }
            let name = c["name"].as_str().expect("case name");
            assert!(
                names.insert(name.to_owned()),
                "{}: duplicate case name `{name}`",
                file.display()
            );
            let empty = Value::Object(Map::new());
            let input = c.get("input").unwrap_or(&empty);
            let expect = c.get("expect").unwrap_or(&empty);
            ran += 1;
            *per_suite.entry(suite.to_owned()).or_default() += 1;
            let outcome = std::panic::catch_unwind(|| run(input, expect));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{} / {name}: {e}", file.display())),
                Err(_) => failures.push(format!("{} / {name}: PANICKED", file.display())),
            }
        }
    }
    // Straight to stderr, not println!: libtest hides a passing test's captured output, and the
    // count is part of what this runner reports.
    let _ = writeln!(
        std::io::stderr(),
        "shared vectors: ran {ran} cases from {} files: {per_suite:?}",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} vector cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- helpers shared by the suite modules ----

/// `deferred` (from `classify_deferring_details`) is `full` (from `classify` of the same
/// response) but for details deferred exactly where `full` has some.
pub fn same_but_deferred(
    full: &http_triage::Classification,
    mut deferred: http_triage::Classification,
) -> Result<(), String> {
    match (&full.details, &deferred.details) {
        (None, None) => {}
        (Some(f), Some(d)) if !f.is_deferred() && d.is_deferred() => {}
        (f, d) => {
            return Err(format!(
                "classify_deferring_details: details {d:?} where classify has {f:?}"
            ))
        }
    }
    deferred.details.clone_from(&full.details);
    if deferred != *full {
        return Err(format!(
            "classify_deferring_details differs from classify: {deferred:?} != {full:?}"
        ));
    }
    Ok(())
}

/// Compare every key of `expect` with the same key of `actual`. A key that `actual` does not
/// have is an unknown field: an error. Numbers compare by value (7 == 7.0).
pub fn compare(expect: &Value, actual: &Map<String, Value>) -> Result<(), String> {
    let exp = expect.as_object().ok_or("expect must be an object")?;
    for (k, want) in exp {
        let got = actual.get(k).ok_or_else(|| {
            format!(
                "unknown expect field `{k}` (known: {:?})",
                actual.keys().collect::<Vec<_>>()
            )
        })?;
        if !json_eq(want, got) {
            return Err(format!("`{k}`: expected {want}, got {got}"));
        }
    }
    Ok(())
}

pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Take the body out of an input object: `body` (text), `body_hex` (bytes), or `body_repeat`
/// (`{"prefix", "unit", "count", "suffix"}`: huge or deeply nested bodies without storing them).
/// Removes those keys so the rest can be read with `deny_unknown_fields`.
pub fn take_body(input: &mut Map<String, Value>) -> Result<Option<Vec<u8>>, String> {
    let mut out: Option<Vec<u8>> = None;
    if let Some(v) = input.remove("body") {
        match v {
            Value::String(s) => out = Some(s.into_bytes()),
            Value::Null => {}
            other => return Err(format!("body must be a string, got {other}")),
        }
    }
    if let Some(v) = input.remove("body_hex") {
        let s = v.as_str().ok_or("body_hex must be a string")?;
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if s.len() % 2 != 0 {
            return Err("body_hex has odd length".into());
        }
        let bytes = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect::<Result<Vec<u8>, String>>()?;
        out = Some(bytes);
    }
    if let Some(v) = input.remove("body_repeat") {
        let o = v.as_object().ok_or("body_repeat must be an object")?;
        for k in o.keys() {
            if !["prefix", "unit", "count", "suffix", "suffix_unit"].contains(&k.as_str()) {
                return Err(format!("unknown body_repeat key `{k}`"));
            }
        }
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let count = o
            .get("count")
            .and_then(Value::as_u64)
            .ok_or("body_repeat.count")? as usize;
        let mut b = s("prefix");
        b.push_str(&s("unit").repeat(count));
        // `suffix_unit` is repeated `count` times too (closing brackets of a deep nest).
        b.push_str(&s("suffix_unit").repeat(count));
        b.push_str(&s("suffix"));
        out = Some(b.into_bytes());
    }
    Ok(out)
}

/// Headers as `{"Name": "value"}` or `[["Name", "value"], ...]`.
pub fn read_header_list(v: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    v.as_str()
                        .ok_or("header value must be a string")?
                        .to_owned(),
                ))
            })
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| {
                let p = p
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .ok_or("a header pair is [name, value]")?;
                Ok((
                    p[0].as_str()
                        .ok_or("header name must be a string")?
                        .to_owned(),
                    p[1].as_str()
                        .ok_or("header value must be a string")?
                        .to_owned(),
                ))
            })
            .collect(),
        Some(other) => Err(format!(
            "headers must be an object or a list of pairs, got {other}"
        )),
    }
}

/// The `now` of a case that gives none: vectors never read the clock. 2025-11-22T08:26:40Z.
pub const DEFAULT_NOW_S: i64 = 1_763_800_000;

/// Seconds (fractions allowed) → Unix milliseconds; absent means [`DEFAULT_NOW_S`].
pub fn now_ms(v: Option<&Value>) -> Result<i64, String> {
    match v {
        None | Some(Value::Null) => Ok(DEFAULT_NOW_S * 1000),
        Some(v) => Ok((v.as_f64().ok_or("now must be a number")? * 1000.0).round() as i64),
    }
}

/// Reject keys of `obj` not in `allowed`.
pub fn only_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unknown input field `{k}`"));
        }
    }
    Ok(())
}

/// A millisecond count as JSON (null when absent).
pub fn ms_json(d: Option<std::time::Duration>) -> Value {
    d.map(|d| Value::from(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
        .unwrap_or(Value::Null)
}
