//! Suite `headers`: `read_headers` over a header list and a `now`.
//!
//! Input: `headers` (`{"Name": "value"}` or `[["Name", "value"], ...]`), `now` (Unix seconds,
//! fractions allowed; absent means the default). Expect (each optional, `null` = absent):
//! `retry_after_ms`, `rate_limit_reset_ms`, `rate_limit_remaining`, `rate_limit_limit`,
//! `rate_limit_window_ms`, `should_retry`, `request_id`, `content_type`.

use super::{compare, ms_json, now_ms, only_keys, read_header_list};
use http_triage::read_headers;
use serde_json::{Map, Value};

pub fn run_case(input: &Value, expect: &Value) -> Result<(), String> {
    let obj = input.as_object().ok_or("input must be an object")?;
    only_keys(obj, &["headers", "now"])?;
    let owned = read_header_list(obj.get("headers"))?;
    let now = now_ms(obj.get("now"))?;
    let pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let h = read_headers(&pairs, now);

    let opt_str = |s: Option<&str>| s.map_or(Value::Null, Value::from);
    let mut actual = Map::new();
    actual.insert("retry_after_ms".into(), ms_json(h.retry_after));
    actual.insert("rate_limit_reset_ms".into(), ms_json(h.rate_limit_reset));
    actual.insert(
        "rate_limit_remaining".into(),
        h.rate_limit_remaining.map_or(Value::Null, Value::from),
    );
    actual.insert(
        "rate_limit_limit".into(),
        h.rate_limit_limit.map_or(Value::Null, Value::from),
    );
    actual.insert("rate_limit_window_ms".into(), ms_json(h.rate_limit_window));
    actual.insert(
        "should_retry".into(),
        h.should_retry.map_or(Value::Null, Value::from),
    );
    actual.insert("request_id".into(), opt_str(h.request_id));
    actual.insert("content_type".into(), opt_str(h.content_type));
    compare(expect, &actual)
}
