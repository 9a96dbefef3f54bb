//! The ledger tools (`http-triage/ledger` in JavaScript): read a line, replay a ledger and
//! report on it. Built only with the `ledger` feature, into its own wasm module, so that the
//! module every page loads for `classify` and `fetchWithRetry` carries no JSON writer.

use crate::convert::BindError;
use crate::jsde::{options, to_js, JsDe};
use http_triage::ledger::{report, Record, Replay, ReportOptions};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

fn ledger_error(e: &http_triage::ledger::LedgerError) -> BindError {
    BindError {
        code: "invalid_ledger_line",
        message: e.to_string(),
        extra: Some(("kind", e.code().to_owned())),
    }
}

/// Read one ledger line: `{record, line}` with the record in the ledger's own snake_case
/// format and `line` its canonical text (with the newline).
#[wasm_bindgen(js_name = parseLedgerLine)]
pub fn parse_ledger_line(line: &str) -> Result<JsValue, JsValue> {
    let r = Record::parse_line(line).map_err(|e| ledger_error(&e))?;
    Ok(to_js(
        &serde_json::json!({"record": r, "line": r.to_line()}),
    )?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplayOptionsIn {
    #[serde(default)]
    items: Option<Vec<String>>,
    #[serde(default)]
    retry_quarantined: bool,
    /// Read on its own, as report options.
    #[serde(default)]
    #[allow(dead_code)]
    report: Option<IgnoredAny>,
}

/// Replay a ledger's text: what is done, quarantined, deferred, stopped, in flight, and the
/// report. `options` is `{items, retryQuarantined, report: {alertRate, correlationWindowMs,
/// minCluster}}`.
#[wasm_bindgen(js_name = replayLedger)]
pub fn replay_ledger(text: &str, opts: JsValue) -> Result<JsValue, JsValue> {
    let o = if opts.is_undefined() || opts.is_null() {
        ReplayOptionsIn {
            items: None,
            retry_quarantined: false,
            report: None,
        }
    } else {
        ReplayOptionsIn::deserialize(JsDe::new(opts.clone()))
            .map_err(|e| BindError::new("invalid_option", format!("replay options: {e}")))?
    };
    let report_value = if opts.is_object() {
        js_sys::Reflect::get(&opts, &"report".into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    };
    let report_options: ReportOptions = options(report_value, "report options", &[])?;
    if o.retry_quarantined && o.items.is_none() {
        return Err(BindError::new("invalid_option", "retryQuarantined needs items").into());
    }
    let replay = Replay::from_text(text);
    let rep = report(&replay, &report_options);
    let keys = |m: &std::collections::BTreeMap<String, Record>| -> Vec<String> {
        m.keys().cloned().collect()
    };
    let resume: Map<String, Value> = replay
        .deferred
        .iter()
        .map(|(k, r)| (k.clone(), r.resume_at_ms.map_or(Value::Null, Value::from)))
        .collect();
    let mut out = serde_json::json!({
        "done": keys(&replay.done),
        "quarantined": keys(&replay.quarantined),
        "deferred": keys(&replay.deferred),
        "stopped": keys(&replay.stopped),
        "inFlight": replay.in_flight.iter().cloned().collect::<Vec<_>>(),
        "tornTail": replay.torn_tail,
        "badLines": replay.bad_lines,
        "recoveredLines": replay.recovered_lines,
        "records": replay.records,
        "items": replay.items(),
        "resumeAtMs": resume,
        "report": rep,
        "reportText": rep.render_text(),
    });
    if let (Some(items), Some(obj)) = (&o.items, out.as_object_mut()) {
        let to_run: Vec<&String> = items
            .iter()
            .filter(|i| replay.should_run(i, o.retry_quarantined))
            .collect();
        let attempts: Map<String, Value> = items
            .iter()
            .map(|i| (i.clone(), replay.attempts_so_far(i).into()))
            .collect();
        obj.insert("toRun".into(), serde_json::json!(to_run));
        obj.insert("attempts".into(), Value::Object(attempts));
    }
    Ok(to_js(&out)?)
}
