//! Property tests: no panic on any input, delays within bounds, attempts bounded, decisions
//! reproducible.

#![allow(clippy::unwrap_used)]

use http_triage::{
    classify, classify_transport, parse_envelope, read_headers, Attempt, Category, Decision,
    Jitter, Limits, Request, Response, RetryPolicy, Rules, TransportError,
};
use proptest::prelude::*;
use std::time::Duration;

const HEADER_NAMES: &[&str] = &[
    "Retry-After",
    "retry-after-ms",
    "x-ms-retry-after-ms",
    "RateLimit",
    "RateLimit-Reset",
    "RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Remaining",
    "x-should-retry",
    "Stripe-Should-Retry",
    "X-Request-Id",
    "CF-Ray",
    "Content-Type",
    "x-amzn-RequestId",
];

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25}",
        "-?[0-9]{1,6}(\\.[0-9]{0,4})?",
        "(Mon|Tue|Sun|Sunday), [0-9]{1,2}[ -](Jan|Nov|Feb)[ -][0-9]{2,4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        "(true|false|TRUE|yes)",
        "(limit|remaining|reset|r|t)=[0-9]{0,12}(, ?(limit|remaining|reset|r|t)=[0-9]{0,12}){0,3}",
        "(application/(problem\\+)?json|text/html|application/xml)(; charset=utf-8)?",
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(HEADER_NAMES).prop_map(str::to_owned),
                "[A-Za-z-]{1,20}"
            ],
            header_value(),
        ),
        0..8,
    )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        any::<String>().prop_map(String::into_bytes),
        // JSON-ish fragments, the shapes the parser branches on.
        prop::collection::vec(
            prop::sample::select(
                &[
                    "{",
                    "}",
                    "[",
                    "]",
                    ",",
                    ":",
                    "\"error\"",
                    "\"code\"",
                    "\"message\"",
                    "\"details\"",
                    "\"errors\"",
                    "\"detail\"",
                    "\"error_code\"",
                    "\"retryable\"",
                    "true",
                    "false",
                    "null",
                    "1.5",
                    "\"x\"",
                    "\"@type\"",
                    "\"type.googleapis.com/google.rpc.RetryInfo\"",
                    "\"retryDelay\"",
                    "\"3s\"",
                    "\"__type\"",
                    "\"kind\"",
                    "\"Status\"",
                    "\"ok\"",
                    "\"loc\"",
                    "\"msg\"",
                    "<Error>",
                    "<Code>",
                    "</Code>",
                    "<title>",
                    "</title>",
                    "\\u00e9",
                    "\\",
                ][..]
            ),
            0..64,
        )
        .prop_map(|parts| parts.concat().into_bytes()),
    ]
}

fn policy() -> impl Strategy<Value = RetryPolicy> {
    (
        1u32..12,
        0u64..5_000,
        1.0f64..4.0,
        0u64..60_000,
        prop::sample::select(
            &[
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
            ][..],
        ),
        prop::option::of(0u64..600_000),
    )
        .prop_map(|(n, base, mult, extra, jitter, deadline)| {
            RetryPolicy::default()
                .with_max_attempts(n)
                .with_base_delay(Duration::from_millis(base))
                .with_multiplier(mult)
                .with_max_delay(Duration::from_millis(base + extra))
                .with_jitter(jitter)
                .with_deadline(deadline.map(Duration::from_millis))
        })
}

fn pairs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn parsing_and_classifying_never_panics(
        status in 0u16..1000,
        h in headers(),
        b in body(),
        now in any::<i64>(),
        method in prop::sample::select(&["GET", "POST", "", "patch", "\u{0}"][..]),
        max_body in 0usize..1024,
        max_depth in 0usize..40,
    ) {
        let p = pairs(&h);
        let _ = read_headers(&p, now);
        let mut limits = Limits::DEFAULT;
        limits.max_body_bytes = max_body;
        limits.max_depth = max_depth;
        let _ = parse_envelope(&b, None, &limits);
        let _ = parse_envelope(&b, Some("application/json"), &Limits::DEFAULT);
        let response = Response::new(status, &p, &b).with_limits(limits);
        let c = classify(&response, &Request::new(method), now, &Rules::default());
        // Every classification names a known category and reason.
        prop_assert!(Category::ALL.contains(&c.category));
        prop_assert!(!c.reason.as_str().is_empty());
    }

    #[test]
    fn backoff_delays_stay_within_zero_and_the_cap(
        p in policy(),
        attempt in 0u32..10_000,
        prev in prop::option::of(0u64..10_000_000),
        r in -2.0f64..3.0,
    ) {
        let d = p.backoff(attempt, prev.map(Duration::from_millis), r);
        prop_assert!(d <= p.max_delay, "{d:?} > cap {:?}", p.max_delay);
    }

    #[test]
    fn decisions_wait_at_most_the_cap_unless_the_server_asked_for_more(
        p in policy(),
        status in 400u16..600,
        h in headers(),
        b in body(),
        number in 0u32..15,
        elapsed in 0u64..1_000_000,
        r in 0.0f64..1.0,
    ) {
        let hp = pairs(&h);
        let c = classify(&Response::new(status, &hp, &b), &Request::unknown(), 1_763_800_000_000, &Rules::default());
        let d = p.decide(&c, Attempt::nth(number, elapsed), r);
        if let Some(delay) = d.delay() {
            let server = c.retry_after.unwrap_or_default();
            let limit = p.max_delay.max(server).max(p.poll_interval);
            prop_assert!(delay <= limit, "{delay:?} > {limit:?}");
            if c.retry_after.is_some() {
                // Never jittered below what the server asked (unless clamped by policy).
                prop_assert!(delay >= server.min(p.max_server_delay));
            }
        }
        // Same inputs, same decision.
        prop_assert_eq!(d, p.decide(&c, Attempt::nth(number, elapsed), r));
    }

    #[test]
    fn a_retry_loop_never_exceeds_max_attempts(
        p in policy(),
        max_rl in 0u32..30,
        track in any::<bool>(),
        statuses in prop::collection::vec(prop::sample::select(&[429u16, 500, 502, 503, 504, 408][..]), 1..40),
        draws in prop::collection::vec(0.0f64..1.0, 80),
    ) {
        let p = p.with_max_rate_limited(max_rl);
        let (mut sent, mut throttled) = (0u32, 0u32);
        let mut elapsed = 0u64;
        let mut prev = None;
        for (i, status) in statuses.iter().cycle().take(80).enumerate() {
            sent += 1;
            let c = classify(&Response::new(*status, &[], b""), &Request::unknown(), 0, &Rules::default());
            if c.reason == http_triage::Reason::RateLimited {
                throttled += 1;
            }
            let mut a = Attempt::nth(sent, elapsed).with_rate_limited(if track { throttled } else { 0 });
            a.previous_delay_ms = prev;
            match p.decide(&c, a, draws[i % draws.len()]) {
                Decision::Retry { delay, .. } => {
                    elapsed += delay.as_millis() as u64;
                    prev = Some(delay.as_millis() as u64);
                }
                _ => break,
            }
        }
        if track {
            // Throttled answers do not use up max_attempts, and are bounded on their own.
            prop_assert!(sent - throttled <= p.max_attempts, "sent {sent}, throttled {throttled}, max {}", p.max_attempts);
            prop_assert!(throttled <= p.max_rate_limited.max(1), "throttled {throttled} > {}", p.max_rate_limited);
        } else {
            prop_assert!(sent <= p.max_attempts, "sent {sent} > max {}", p.max_attempts);
        }
    }

    #[test]
    fn transport_errors_are_retryable_or_unsafe(kind in prop::sample::select(&TransportError::ALL[..]), post in any::<bool>(), key in any::<bool>()) {
        let req = if post { Request::new("POST") } else { Request::new("GET") }.with_idempotency_key(key);
        let c = classify_transport(kind, &req);
        let unsafe_repeat = post && !key && kind.may_have_reached_server();
        prop_assert_eq!(c.category, if unsafe_repeat { Category::Permanent } else { Category::Retryable });
    }
}

/// Words a rate-limit message is made of, phrase words and numbers included, so that random
/// sentences come close to the strict patterns without being told which ones they are.
fn prose() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "try",
        "Try",
        "again",
        "in",
        "after",
        "retry",
        "Retry",
        "retry-after:",
        "please",
        "later",
        "wait",
        "for",
        "a",
        "few",
        "minutes",
        "seconds",
        "second",
        "s",
        "ms",
        "m",
        "h",
        "hours",
        "12",
        "8",
        "1.5",
        "0",
        "2023-01-01",
        "12:00",
        "rate",
        "limit",
        "exceeded.",
        "and",
        ".",
        ",",
        "limit:",
        "60",
        "per",
        "minute",
        "5s",
        "20ms",
        "1m12s",
        "days",
    ]);
    prop::collection::vec(word, 0..14).prop_map(|w| w.join(" "))
}

/// An independent oracle: the text holds one of the strict phrases immediately followed by a
/// digit. Without one, no wait may be read.
fn has_phrase_then_number(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "try again in ",
        "try again after ",
        "retry in ",
        "retry after ",
        "retry-after: ",
        "retry-after ",
        "wait for ",
    ]
    .iter()
    .any(|p| {
        lower.match_indices(p).any(|(i, _)| {
            lower
                .as_bytes()
                .get(i + p.len())
                .is_some_and(u8::is_ascii_digit)
        })
    })
}

fn message_wait(text: &str) -> Option<Duration> {
    let body = serde_json::json!({"error": {"code": "rate_limited", "message": text}}).to_string();
    parse_envelope(
        body.as_bytes(),
        Some("application/json"),
        &Limits::default(),
    )
    .retry_after
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn prose_never_invents_a_wait(text in prose()) {
        if !has_phrase_then_number(&text) {
            prop_assert_eq!(message_wait(&text), None, "{}", text);
        }
        // The plain-text reading obeys the same rule.
        let e = parse_envelope(text.as_bytes(), Some("text/plain"), &Limits::default());
        if !has_phrase_then_number(e.message.as_deref().unwrap_or("")) {
            prop_assert_eq!(e.retry_after, None, "{}", text);
        }
    }

    #[test]
    fn prose_waits_are_at_most_a_day(text in prose()) {
        if let Some(d) = message_wait(&text) {
            prop_assert!(d <= Duration::from_secs(86_400), "{:?} from {}", d, text);
        }
    }

    #[test]
    fn an_explicit_wait_is_read_exactly(n in 0u64..=86_400, unit in 0usize..3, lead in prose()) {
        let (suffix, secs) = [("s", n), (" seconds", n), ("m", n.min(1440) * 60)][unit];
        let shown = if unit == 2 { n.min(1440) } else { n };
        let text = format!("{lead}. Try again in {shown}{suffix}.");
        let want = Duration::from_secs(secs);
        // The first phrase wins, so only check when the lead has none of its own.
        if !has_phrase_then_number(&lead) {
            prop_assert_eq!(message_wait(&text), Some(want), "{}", text);
        }
    }

    #[test]
    fn text_without_digits_never_waits(text in "[a-zA-Z .,:'-]{0,120}") {
        prop_assert_eq!(message_wait(&text), None);
    }
}
