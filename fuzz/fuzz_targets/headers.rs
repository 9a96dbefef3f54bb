#![no_main]
//! The header readers on arbitrary header lists: the input is split into lines, each line into
//! `name: value`; the first 8 bytes are `now`.
use http_triage::headers::{parse_http_date, parse_retry_after};
use http_triage::{classify, read_headers, Request, Response, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (now, rest) = data.split_at(8);
    let now = i64::from_le_bytes(now.try_into().unwrap_or([0; 8]));
    let text = String::from_utf8_lossy(rest);
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .map(|l| l.split_once(':').unwrap_or((l, "")))
        .collect();
    let _ = read_headers(&pairs, now);
    for (_, v) in &pairs {
        let _ = parse_retry_after(v, now);
        let _ = parse_http_date(v);
    }
    let _ = classify(&Response::new(429, &pairs, b""), &Request::new("POST"), now, &Rules::default());
});
