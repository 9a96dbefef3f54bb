//! Suite `ledger`: ledger lines → replay (what is done, quarantined, left), `should_run`, and
//! the report; or one line → `Record::parse_line`.

use super::{compare, only_keys};
use http_triage::ledger::{report, Record, Replay, ReportOptions};
use serde_json::{Map, Value};

pub fn run_case(input: &Value, expect: &Value) -> Result<(), String> {
    let input = input.as_object().ok_or("input must be an object")?;
    only_keys(
        input,
        &[
            "line",
            "lines",
            "text",
            "items",
            "retry_quarantined",
            "options",
        ],
    )?;
    let mut expect = expect
        .as_object()
        .ok_or("expect must be an object")?
        .clone();

    if let Some(line) = input.get("line") {
        if input.len() != 1 {
            return Err("`line` cases take no other input".into());
        }
        return run_line(line.as_str().ok_or("line must be a string")?, &mut expect);
    }

    let text = match (input.get("lines"), input.get("text")) {
        (Some(lines), None) => {
            let lines = lines.as_array().ok_or("lines must be an array")?;
            let mut text = String::new();
            for l in lines {
                match l {
                    Value::String(s) => text.push_str(s),
                    Value::Object(_) => {
                        text.push_str(&serde_json::to_string(l).map_err(|e| e.to_string())?)
                    }
                    other => return Err(format!("a line is a string or an object, got {other}")),
                }
                text.push('\n');
            }
            text
        }
        (None, Some(t)) => t.as_str().ok_or("text must be a string")?.to_owned(),
        _ => return Err("give exactly one of `lines` and `text`".into()),
    };
    let retry_quarantined = match input.get("retry_quarantined") {
        None => false,
        Some(v) => v.as_bool().ok_or("retry_quarantined must be a boolean")?,
    };
    let options: ReportOptions = match input.get("options") {
        None => ReportOptions::default(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("options: {e}"))?,
    };
    let items: Option<Vec<String>> = match input.get("items") {
        None => None,
        Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| format!("items: {e}"))?),
    };

    let replay = Replay::from_text(&text);
    let rep = report(&replay, &options);

    let keys = |m: &std::collections::BTreeMap<String, Record>| -> Value {
        m.keys().cloned().collect::<Vec<_>>().into()
    };
    let mut actual = Map::new();
    actual.insert("done".into(), keys(&replay.done));
    actual.insert("quarantined".into(), keys(&replay.quarantined));
    actual.insert("deferred".into(), keys(&replay.deferred));
    actual.insert("stopped".into(), keys(&replay.stopped));
    actual.insert(
        "in_flight".into(),
        replay.in_flight.iter().cloned().collect::<Vec<_>>().into(),
    );
    actual.insert("torn_tail".into(), replay.torn_tail.into());
    actual.insert("bad_lines".into(), replay.bad_lines.clone().into());
    actual.insert(
        "recovered_lines".into(),
        replay.recovered_lines.clone().into(),
    );
    actual.insert("records".into(), replay.records.into());
    actual.insert("items".into(), replay.items().into());
    let resume: Map<String, Value> = replay
        .deferred
        .iter()
        .map(|(k, r)| (k.clone(), r.resume_at_ms.map_or(Value::Null, Value::from)))
        .collect();
    actual.insert("resume_at_ms".into(), resume.into());
    if let Some(items) = &items {
        let to_run: Vec<&String> = items
            .iter()
            .filter(|i| replay.should_run(i, retry_quarantined))
            .collect();
        actual.insert(
            "to_run".into(),
            serde_json::to_value(to_run).map_err(|e| e.to_string())?,
        );
        let attempts: Map<String, Value> = items
            .iter()
            .map(|i| (i.clone(), replay.attempts_so_far(i).into()))
            .collect();
        actual.insert("attempts".into(), attempts.into());
    } else if retry_quarantined {
        return Err("retry_quarantined needs `items`".into());
    }
    actual.insert(
        "clusters".into(),
        rep.correlated
            .iter()
            .map(|c| format!("{}:{}", c.kind, c.key))
            .collect::<Vec<_>>()
            .into(),
    );
    let remedies: Map<String, Value> = rep
        .remedies
        .iter()
        .map(|r| (r.reason.clone(), Value::from(r.kind.clone())))
        .collect();
    actual.insert("remedies".into(), remedies.into());

    // `report` is compared field by field (a subset of the report's fields).
    if let Some(want) = expect.remove("report") {
        let got = serde_json::to_value(&rep).map_err(|e| e.to_string())?;
        let got = got.as_object().ok_or("report is an object")?;
        compare(&want, got).map_err(|e| format!("report: {e}"))?;
        // The text rendering must at least mention every quarantined item.
        let text = rep.render_text();
        for q in &rep.quarantined_items {
            if !text.contains(&q.item) {
                return Err(format!("render_text does not list {}", q.item));
            }
        }
    }
    compare(&Value::Object(expect), &actual)
}

fn run_line(line: &str, expect: &mut Map<String, Value>) -> Result<(), String> {
    let mut actual = Map::new();
    let parsed = Record::parse_line(line);
    actual.insert("ok".into(), parsed.is_ok().into());
    actual.insert(
        "error".into(),
        parsed
            .as_ref()
            .err()
            .map_or(Value::Null, |e| e.code().into()),
    );
    if let Ok(r) = &parsed {
        let line = r.to_line();
        // The canonical line reads back to the same record.
        if Record::parse_line(&line).as_ref() != Ok(r) {
            return Err("to_line does not round-trip".into());
        }
        actual.insert("to_line".into(), line.into());
        if let Some(want) = expect.remove("record") {
            let got = serde_json::to_value(r).map_err(|e| e.to_string())?;
            let mut got = got.as_object().ok_or("record is an object")?.clone();
            // Absent optional fields read as null.
            for k in [
                "category",
                "reason",
                "code",
                "status",
                "request_id",
                "message",
                "started_at_ms",
                "host",
                "output",
                "resume_at_ms",
                "idempotency_key",
                "extension",
            ] {
                got.entry(k).or_insert(Value::Null);
            }
            compare(&want, &got).map_err(|e| format!("record: {e}"))?;
        }
    }
    compare(&Value::Object(expect.clone()), &actual)
}
