//! Like `profile_classify`, for paths the seed and Google bodies do not reach: `cls_404` (a
//! `document_not_found` code, which runs the built-in code rules to the end, and the prose scan
//! of the message), `cls_403` (a throttling 403 told by its message), `cls_200` (a success
//! whose JSON body is sniffed for an error), `cls_esc` (a message with escapes to decode):
//!
//! ```text
//! cargo build --release -p http-triage --example profile_codes
//! valgrind --tool=callgrind ./target/release/examples/profile_codes cls_404 2000
//! ```

#![allow(missing_docs, clippy::unwrap_used)]
use http_triage::{classify, Request, Response, Rules};
const NOT_FOUND: &str =
    r#"{"error":{"code":"document_not_found","message":"No document with id 'doc_123'."}}"#;
const FORBIDDEN: &str = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest"}"#;
const ESCAPED: &str = r#"{"error":{"code":"invalid_request","message":"Field \"name\" must not be empty.\nSee https:\/\/example.com\/docs\/errors#name \u2014 the value was \"\"."}}"#;
const OK: &str = r#"{"data":{"id":"doc_123","status":"ready","pages":12}}"#;
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10000);
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Request-Id", "req_8f3a2b"),
        ("Date", "Sat, 22 Nov 2025 08:26:40 GMT"),
        ("Server", "nginx"),
    ];
    let req = Request::new("GET");
    let rules = Rules::default();
    // A heap copy, as in `profile_classify`: counts from different builds compare.
    let (status, body) = match which.as_str() {
        "cls_403" => (403, FORBIDDEN),
        "cls_200" => (200, OK),
        "cls_esc" => (400, ESCAPED),
        _ => (404, NOT_FOUND),
    };
    let body = body.as_bytes().to_vec();
    let mut acc = 0usize;
    for _ in 0..n {
        let c = classify(
            &Response::new(status, &headers, std::hint::black_box(&body[..])),
            &req,
            1_763_800_000_000,
            &rules,
        );
        acc += c.code.map_or(0, |c| c.len());
    }
    println!("{acc}");
}
