#![no_main]
//! The CLI's JSON-lines contract on arbitrary lines: never panics, always one JSON object out.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let out = http_triage::wire::classify_line(&line, 1, 1_763_800_000_000);
    assert!(out.starts_with('{') && !out.contains('\n'));
});
