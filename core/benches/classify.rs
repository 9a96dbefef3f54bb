//! Classify + parse on the bodies a driver meets most: a seed-style 200-byte JSON envelope, a
//! 700-byte google.rpc.Status with details, a 2 KB HTML 502 page, and a 5 MB body.
//!
//! Run: `cargo bench -p http-triage --bench classify`

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use http_triage::{classify, parse_envelope, read_headers, Limits, Request, Response, Rules};

const SEED: &str = r#"{"error":{"code":"rate_limited","message":"Per-minute throttle exceeded. Honor Retry-After.","details":{"limit":60,"used":61,"retry_after":7,"route":"/v1/convert"}}}"#;

fn google() -> String {
    let s = r#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'Generate requests' and limit 'Generate requests per minute per project' of service 'generativelanguage.googleapis.com' for consumer 'project_number:123456789'.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com","quota_metric":"generativelanguage.googleapis.com/generate_requests","quota_limit":"GenerateRequestsPerMinutePerProject","consumer":"projects/123456789"}},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Request a higher quota limit.","url":"https://cloud.google.com/docs/quota#requesting_higher_quota"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"23s"}]}}"#;
    s.to_owned()
}

fn html() -> String {
    let mut s = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>502 Bad Gateway | example.com | Cloudflare</title><style>");
    while s.len() < 1800 {
        s.push_str(
            "body{font-family:system-ui,sans-serif;margin:0;padding:0}.cf-error{color:#333} ",
        );
    }
    s.push_str("</style></head><body><h1>Bad gateway</h1><p>The web server reported a bad gateway error.</p><p>Ray ID: 8a1b2c3d4e5f</p></body></html>");
    s
}

fn bench(c: &mut Criterion) {
    let headers_json = [
        ("Content-Type", "application/json"),
        ("Retry-After", "7"),
        ("X-Request-Id", "req_8f3a2b"),
        ("Date", "Sat, 22 Nov 2025 08:26:40 GMT"),
        ("Server", "nginx"),
    ];
    let headers_html = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("CF-Ray", "8a1b2c3d4e5f-AMS"),
        ("Server", "cloudflare"),
    ];
    let rules = Rules::default();
    let req = Request::new("POST").with_idempotency_key(true);
    let now = 1_763_800_000_000;
    let g = google();
    let h = html();
    let big: Vec<u8> = {
        let mut b = br#"{"error":{"code":"internal_error","message":""#.to_vec();
        b.resize(5 * 1024 * 1024, b'a');
        b
    };
    println!(
        "sizes: seed {} B, google {} B, html {} B, big {} B",
        SEED.len(),
        g.len(),
        h.len(),
        big.len()
    );

    let mut group = c.benchmark_group("classify");
    group.bench_function("seed_200B_json", |b| {
        b.iter(|| {
            classify(
                &Response::new(429, black_box(&headers_json), black_box(SEED.as_bytes())),
                &req,
                now,
                &rules,
            )
        })
    });
    group.bench_function("google_700B_status", |b| {
        b.iter(|| {
            classify(
                &Response::new(429, black_box(&headers_json), black_box(g.as_bytes())),
                &req,
                now,
                &rules,
            )
        })
    });
    group.bench_function("html_2KB_502", |b| {
        b.iter(|| {
            classify(
                &Response::new(502, black_box(&headers_html), black_box(h.as_bytes())),
                &req,
                now,
                &rules,
            )
        })
    });
    group.bench_function("body_5MB", |b| {
        b.iter(|| {
            classify(
                &Response::new(500, black_box(&headers_json), black_box(&big)),
                &req,
                now,
                &rules,
            )
        })
    });
    // The size cap's worth of parsing, for comparison with the 5 MB case.
    let capped = &big[..Limits::DEFAULT.max_body_bytes];
    group.bench_function("body_64KiB_cap", |b| {
        b.iter(|| {
            classify(
                &Response::new(500, black_box(&headers_json), black_box(capped)),
                &req,
                now,
                &rules,
            )
        })
    });
    group.finish();

    let mut parts = c.benchmark_group("parts");
    // The bar `classify` must stay under: a bare serde_json parse of the same bodies.
    parts.bench_function("serde_json_value_seed", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(SEED)))
    });
    parts.bench_function("serde_json_value_google", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&g)))
    });
    parts.bench_function("read_headers_5", |b| {
        b.iter(|| read_headers(black_box(&headers_json), now))
    });
    parts.bench_function("parse_envelope_seed", |b| {
        b.iter(|| {
            parse_envelope(
                black_box(SEED.as_bytes()),
                Some("application/json"),
                &Limits::DEFAULT,
            )
        })
    });
    parts.bench_function("parse_envelope_google", |b| {
        b.iter(|| {
            parse_envelope(
                black_box(g.as_bytes()),
                Some("application/json"),
                &Limits::DEFAULT,
            )
        })
    });
    parts.bench_function("decide_after_classify", |b| {
        let cl = classify(
            &Response::new(503, &headers_json, SEED.as_bytes()),
            &req,
            now,
            &rules,
        );
        let p = http_triage::RetryPolicy::default();
        b.iter_batched(
            || cl.clone(),
            |cl| p.decide(&cl, http_triage::Attempt::first(10), 0.5),
            BatchSize::SmallInput,
        )
    });
    parts.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
