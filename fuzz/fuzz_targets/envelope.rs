#![no_main]
//! The envelope parser on arbitrary bytes, with and without a JSON (or event-stream) content
//! type and with small limits (so truncation and depth paths are reached).
use http_triage::{parse_envelope, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_envelope(data, None, &Limits::DEFAULT);
    let _ = parse_envelope(data, Some("application/problem+json"), &Limits::DEFAULT);
    // Server-sent events: the error-event reader, which re-enters the JSON reader per event.
    let _ = parse_envelope(data, Some("text/event-stream"), &Limits::DEFAULT);
    let mut small = Limits::DEFAULT;
    if let Some((&a, _)) = data.split_first() {
        small.max_body_bytes = usize::from(a) * 4;
        small.max_depth = usize::from(a % 8);
    }
    let _ = parse_envelope(data, Some("text/html"), &small);
});
