//! Like `profile_classify`, for bodies whose code only the later built-in code rules know (a
//! 404 `document_not_found`), so that the code rules and the prose scan of the message show:
//!
//! ```text
//! cargo build --release -p http-triage --example profile_codes
//! valgrind --tool=callgrind ./target/release/examples/profile_codes cls_404 2000
//! ```

#![allow(missing_docs, clippy::unwrap_used)]
use http_triage::{classify, Request, Response, Rules};
const NOT_FOUND: &str =
    r#"{"error":{"code":"document_not_found","message":"No document with id 'doc_123'."}}"#;
fn main() {
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
    let body = NOT_FOUND.as_bytes().to_vec();
    let mut acc = 0usize;
    for _ in 0..n {
        let c = classify(
            &Response::new(404, &headers, std::hint::black_box(&body[..])),
            &req,
            1_763_800_000_000,
            &rules,
        );
        acc += c.code.map_or(0, |c| c.len());
    }
    println!("{acc}");
}
