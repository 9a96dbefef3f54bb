//! A loop over one body for instruction counts, steadier than timings on a shared machine:
//!
//! ```text
//! cargo build --release -p http-triage --example profile_classify
//! valgrind --tool=callgrind ./target/release/examples/profile_classify cls_google 2000
//! ```
//!
//! Modes: `cls_seed`/`cls_google` (classify), `env_seed`/`env_google` (parse_envelope),
//! `serde_seed`/`serde_google` (a bare `serde_json::Value` parse: the bar classify must stay
//! under). The bodies are the ones `benches/classify.rs` times. `cls_hdr`: a 429 with three
//! headers (`Content-Type`, `Retry-After: 7`, `X-Request-Id`) and an empty body, for the cost
//! of reading headers and of classify's fixed work. `cls_stripe`: the JS package's benchmark
//! case, a 429 to a `GET` without an idempotency key carrying a Stripe-like typed error with
//! the same three headers, lower-cased.

#![allow(missing_docs, clippy::unwrap_used)]
use http_triage::{classify, parse_envelope, Limits, Request, Response, Rules};
const SEED: &str = r#"{"error":{"code":"rate_limited","message":"Per-minute throttle exceeded. Honor Retry-After.","details":{"limit":60,"used":61,"retry_after":7,"route":"/v1/convert"}}}"#;
const G: &str = r#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'Generate requests' and limit 'Generate requests per minute per project' of service 'generativelanguage.googleapis.com' for consumer 'project_number:123456789'.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com","quota_metric":"generativelanguage.googleapis.com/generate_requests","quota_limit":"GenerateRequestsPerMinutePerProject","consumer":"projects/123456789"}},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Request a higher quota limit.","url":"https://cloud.google.com/docs/quota#requesting_higher_quota"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"23s"}]}}"#;
const STRIPE: &str = r#"{"error":{"type":"rate_limit_error","code":"rate_limited","message":"Too many requests: the limit for this key is 100 requests per minute.","doc_url":"https://docs.example.com/rate-limits","details":{"retry_after":7,"limit":100,"window":"60s","request_id":"req_8f14e45fceea167a5a36dedd4bea2543"}}}"#;
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10000);
    let headers = [
        ("Content-Type", "application/json"),
        ("Retry-After", "7"),
        ("X-Request-Id", "req_8f3a2b"),
        ("Date", "Sat, 22 Nov 2025 08:26:40 GMT"),
        ("Server", "nginx"),
    ];
    let hdr_only = [
        ("Content-Type", "application/json"),
        ("Retry-After", "7"),
        ("X-Request-Id", "req_8f14e45f"),
    ];
    let req = Request::new("POST").with_idempotency_key(true);
    // The JS benchmark's headers, lower-cased as `fetch` hands them over.
    let hdr_stripe = [
        ("content-type", "application/json"),
        ("retry-after", "7"),
        ("x-request-id", "req_8f14e45f"),
    ];
    let get = Request::new("GET");
    let rules = Rules::default();
    // A heap copy: its alignment does not move with the binary's layout (str::from_utf8 and
    // the string scans cost a little more or less by the body's address), so counts taken
    // from different builds compare.
    let body = if which.contains("google") {
        G
    } else if which.contains("stripe") {
        STRIPE
    } else {
        SEED
    };
    let body = body.to_owned();
    let body = body.as_str();
    let mut acc = 0usize;
    for _ in 0..n {
        match which.as_str() {
            "serde_seed" | "serde_google" => {
                let v: serde_json::Value =
                    serde_json::from_str(std::hint::black_box(body)).unwrap();
                acc += v.is_object() as usize;
            }
            "env_seed" | "env_google" => {
                let e = parse_envelope(
                    std::hint::black_box(body.as_bytes()),
                    Some("application/json"),
                    &Limits::DEFAULT,
                );
                acc += e.code.map_or(0, |c| c.len());
            }
            "cls_hdr" => {
                let c = classify(
                    &Response::new(429, &hdr_only, std::hint::black_box(&[][..])),
                    &req,
                    1_763_800_000_000,
                    &rules,
                );
                acc += c.retry_after.map_or(0, |d| d.as_millis() as usize);
            }
            "cls_stripe" => {
                let c = classify(
                    &Response::new(429, &hdr_stripe, std::hint::black_box(body.as_bytes())),
                    &get,
                    1_763_800_000_000,
                    &rules,
                );
                acc += c.code.map_or(0, |c| c.len());
            }
            _ => {
                let c = classify(
                    &Response::new(429, &headers, std::hint::black_box(body.as_bytes())),
                    &req,
                    1_763_800_000_000,
                    &rules,
                );
                acc += c.code.map_or(0, |c| c.len());
            }
        }
    }
    println!("{acc}");
}
