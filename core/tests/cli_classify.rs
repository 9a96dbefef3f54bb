//! `http-triage classify` as a subprocess: the contract's example, every key present, a bad line
//! giving an error line while the run goes on, and the exit status when stdin cannot be read.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

const KEYS: [&str; 9] = [
    "category",
    "reason",
    "code",
    "message",
    "request_id",
    "retryable_hint",
    "retry_after_seconds",
    "violations",
    "dialect",
];

fn classify(input: &str) -> (Vec<Value>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_http-triage"))
        .arg("classify")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, out.status.code().unwrap_or(-1))
}

#[test]
fn the_contract_example() {
    let (lines, code) = classify(
        r#"{"status":429,"headers":{"Retry-After":"7"},"body":"{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}"}"#,
    );
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l["category"], "retryable");
    assert_eq!(l["retry_after_seconds"], 7);
    assert_eq!(l["code"], "rate_limited");
    for k in KEYS {
        assert!(l.get(k).is_some(), "key {k} missing: {l}");
    }
    assert_eq!(
        l.as_object().unwrap().len(),
        KEYS.len(),
        "no extra keys: {l}"
    );
}

#[test]
fn a_bad_line_gives_an_error_line_and_the_run_goes_on() {
    let input = concat!(
        "{\"status\": 503}\n",
        "this is not json\n",
        "{\"status\": \"Bearer sk_live_SECRET\"}\n",
        "{\"transport_error\": \"timeout_after_send\", \"method\": \"POST\"}\n",
        "{\"transport_error\": \"gremlins\"}\n",
        "\n",
        "{\"status\": 401, \"headers\": [[\"X-Request-Id\", \"r1\"], [\"x-request-id\", \"r2\"]], \"now\": 1763800000.5}\n",
    );
    let (lines, code) = classify(input);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 6, "one line per non-blank input line");
    assert_eq!(lines[0]["category"], "retryable");
    assert_eq!(lines[1]["error"]["code"], "invalid_json");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[2]["error"]["code"], "invalid_input");
    assert!(!lines[2].to_string().contains("SECRET"));
    assert_eq!(lines[3]["category"], "permanent");
    assert_eq!(lines[3]["reason"], "not_safe_to_repeat");
    assert_eq!(lines[4]["error"]["code"], "invalid_input");
    assert_eq!(lines[5]["category"], "auth");
    assert_eq!(lines[5]["request_id"], "r1");
}

#[test]
fn unreadable_stdin_is_the_only_failure() {
    // A directory as stdin: opening works, reading fails (EISDIR).
    let dir = std::env::temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_http-triage"))
        .arg("classify")
        .stdin(std::fs::File::open(&dir).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read stdin"));
}

#[test]
fn bad_usage_exits_3() {
    let out = Command::new(env!("CARGO_BIN_EXE_http-triage"))
        .args(["classify", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}
