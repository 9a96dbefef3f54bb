//! Suites `breaker`, `budget`, `gate` and `pacer`: a machine built from `input.config` (none for the gate)
//! driven by `input.steps`, each step checked against its own `expect`.
//!
//! A case's `expect` is `{}` when the config is valid, or `{"error": "invalid_option", "option":
//! NAME}` (`option` optional) when building the machine must fail. Every step is
//! `{"op": OP, ...args, "expect": {...}, "note": "..."}`; `expect` and `note` are optional, and
//! every key of `expect` must be one the op reports (see `observe_*` and the op tables below).

use super::{compare, only_keys};
use http_triage::breaker::BreakerSnapshot;
use http_triage::budget::BudgetSnapshot;
use http_triage::gate::GateSnapshot;
use http_triage::pacer::PacerSnapshot;
use http_triage::{
    classify_transport, BreakerConfig, BudgetConfig, Category, CircuitBreaker, Classification,
    Pacer, PacerConfig, RateGate, Reason, Request, RetryBudget, TransportError,
};
use serde_json::{Map, Value};
use std::time::Duration;

/// Most repetitions one step may ask for.
const MAX_TIMES: u64 = 1_000_000;

// ---- case and step plumbing ----

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} must be an object"))
}

fn error_name(e: &http_triage::Error) -> (&'static str, Value) {
    match e {
        http_triage::Error::InvalidOption { name, .. } => ("invalid_option", Value::from(*name)),
        http_triage::Error::InvalidSnapshot(_) => ("invalid_snapshot", Value::Null),
        http_triage::Error::UnknownName { .. } => ("unknown_name", Value::Null),
        _ => ("other", Value::Null),
    }
}

/// Build the machine, or check that building it fails as expected. `Ok(None)`: the expected
/// error happened, the case is done.
fn build<T>(built: Result<T, http_triage::Error>, expect: &Value) -> Result<Option<T>, String> {
    let exp = object(expect, "expect")?;
    for k in exp.keys() {
        if !["error", "option"].contains(&k.as_str()) {
            return Err(format!("unknown case expect field `{k}`"));
        }
    }
    match built {
        Ok(m) if exp.contains_key("error") => {
            let _ = m;
            Err(format!(
                "expected error {}, but the machine was built",
                exp["error"]
            ))
        }
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            let (kind, option) = error_name(&e);
            let mut actual = Map::new();
            actual.insert("error".into(), Value::from(kind));
            actual.insert("option".into(), option);
            if exp.is_empty() {
                return Err(format!("unexpected error: {e}"));
            }
            compare(expect, &actual).map_err(|m| format!("{m} ({e})"))?;
            Ok(None)
        }
    }
}

/// `input` → (config value, steps), with `allowed` top-level keys.
fn split_input<'a>(input: &'a Value, allowed: &[&str]) -> Result<(Value, &'a [Value]), String> {
    let input = object(input, "input")?;
    only_keys(input, allowed)?;
    let config = input
        .get("config")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let steps = match input.get("steps") {
        None => &[][..],
        Some(v) => v.as_array().ok_or("steps must be an array")?.as_slice(),
    };
    Ok((config, steps))
}

struct Step<'a> {
    index: usize,
    op: &'a str,
    args: &'a Map<String, Value>,
}

impl<'a> Step<'a> {
    fn parse(index: usize, v: &'a Value) -> Result<Self, String> {
        let args = object(v, "a step")?;
        let op = args
            .get("op")
            .and_then(Value::as_str)
            .ok_or("a step needs an `op` string")?;
        Ok(Step { index, op, args })
    }

    /// Reject keys other than `op`, `expect`, `note` and the op's own `keys`.
    fn only(&self, keys: &[&str]) -> Result<(), String> {
        for k in self.args.keys() {
            if !["op", "expect", "note"].contains(&k.as_str()) && !keys.contains(&k.as_str()) {
                return Err(format!("unknown field `{k}` for op `{}`", self.op));
            }
        }
        Ok(())
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.args.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` must be a non-negative integer")),
        }
    }

    fn u64(&self, key: &str) -> Result<u64, String> {
        self.opt_u64(key)?
            .ok_or_else(|| format!("op `{}` needs `{key}`", self.op))
    }

    fn times(&self) -> Result<u64, String> {
        let n = self.opt_u64("times")?.unwrap_or(1);
        if n == 0 || n > MAX_TIMES {
            return Err(format!("`times` must be in 1..={MAX_TIMES}"));
        }
        Ok(n)
    }

    /// A classification from `category`, `reason`, and optional `status`, `retry_after_ms`,
    /// `rate_limit_remaining`.
    fn classification(&self) -> Result<Classification, String> {
        let s = |k: &str| {
            self.args
                .get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("op `record` needs `{k}` (a string)"))
        };
        let category: Category = s("category")?.parse().map_err(|e| format!("{e}"))?;
        let reason: Reason = s("reason")?.parse().map_err(|e| format!("{e}"))?;
        let mut c = classify_transport(TransportError::Dns, &Request::unknown());
        c.category = category;
        c.reason = reason;
        c.transport_error = None;
        c.request_not_processed = false;
        c.status = match self.opt_u64("status")? {
            Some(s) => Some(u16::try_from(s).map_err(|_| "`status` must fit in 16 bits")?),
            None => None,
        };
        c.retry_after = self.opt_u64("retry_after_ms")?.map(Duration::from_millis);
        c.rate_limit_remaining = self.opt_u64("rate_limit_remaining")?;
        c.rate_limit_limit = self.opt_u64("rate_limit_limit")?;
        c.rate_limit_reset = self
            .opt_u64("rate_limit_reset_ms")?
            .map(Duration::from_millis);
        c.rate_limit_window = self
            .opt_u64("rate_limit_window_ms")?
            .map(Duration::from_millis);
        Ok(c)
    }

    /// Compare the step's `expect` (if any) with what the op reported.
    fn check(&self, actual: &Map<String, Value>) -> Result<(), String> {
        match self.args.get("expect") {
            None => Ok(()),
            Some(e) => {
                compare(e, actual).map_err(|m| format!("step {} (`{}`): {m}", self.index, self.op))
            }
        }
    }
}

fn record_keys() -> [&'static str; 6] {
    [
        "at_ms",
        "category",
        "reason",
        "status",
        "retry_after_ms",
        "rate_limit_remaining",
    ]
}

/// The fields of a snapshot, to compare key by key.
fn snapshot_fields<T: serde::Serialize>(s: &T) -> Result<Map<String, Value>, String> {
    match serde_json::to_value(s).map_err(|e| e.to_string())? {
        Value::Object(m) => Ok(m),
        other => Err(format!("a snapshot serialized to {other}")),
    }
}

/// Serialize to JSON text and back, as a driver persisting it would.
fn through_json<T: serde::Serialize + serde::de::DeserializeOwned>(s: &T) -> Result<T, String> {
    let text = serde_json::to_string(s).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("snapshot does not read back: {e}"))
}

/// `restore`: the step's `snapshot` object → `Ok(Some(machine))`, or the error name reported as
/// `{"error": ...}`. A snapshot that does not even deserialize is an invalid snapshot too.
fn restore_step<S, T>(
    step: &Step<'_>,
    restore: impl Fn(&S) -> Result<T, http_triage::Error>,
) -> Result<(Map<String, Value>, Option<T>), String>
where
    S: serde::de::DeserializeOwned,
{
    step.only(&["snapshot"])?;
    let raw = step
        .args
        .get("snapshot")
        .ok_or("op `restore` needs `snapshot`")?;
    let mut actual = Map::new();
    let outcome = serde_json::from_value::<S>(raw.clone())
        .map_err(|_| "invalid_snapshot")
        .and_then(|s| restore(&s).map_err(|e| error_name(&e).0));
    match outcome {
        Ok(m) => {
            actual.insert("error".into(), Value::Null);
            Ok((actual, Some(m)))
        }
        Err(kind) => {
            actual.insert("error".into(), Value::from(kind));
            Ok((actual, None))
        }
    }
}

// ---- breaker ----

fn observe_breaker(b: &CircuitBreaker, at_ms: u64) -> Map<String, Value> {
    let s = b.state(at_ms);
    let mut m = Map::new();
    m.insert("state".into(), Value::from(s.as_str()));
    m.insert(
        "until_ms".into(),
        s.until_ms().map_or(Value::Null, Value::from),
    );
    m
}

/// Ops: `admit`, `success`, `failure`, `neutral`, `record`, `state`, `snapshot`,
/// `snapshot_restore`, `restore`.
pub fn run_breaker_case(input: &Value, expect: &Value) -> Result<(), String> {
    let (config, steps) = split_input(input, &["config", "steps"])?;
    let config: BreakerConfig =
        serde_json::from_value(config).map_err(|e| format!("config: {e}"))?;
    let Some(mut b) = build(CircuitBreaker::new(config), expect)? else {
        return Ok(());
    };
    for (i, v) in steps.iter().enumerate() {
        let step = Step::parse(i, v)?;
        let actual = match step.op {
            "admit" => {
                step.only(&["at_ms"])?;
                let at = step.u64("at_ms")?;
                let a = b.admit(at);
                let mut m = observe_breaker(&b, at);
                m.insert("admission".into(), Value::from(a.as_str()));
                m.insert(
                    "retry_at_ms".into(),
                    a.retry_at_ms().map_or(Value::Null, Value::from),
                );
                m
            }
            "success" | "failure" | "neutral" | "record" => {
                match step.op {
                    "failure" => step.only(&["at_ms", "times", "retry_after_ms"])?,
                    "record" => {
                        let mut keys = record_keys().to_vec();
                        keys.push("times");
                        step.only(&keys)?
                    }
                    _ => step.only(&["at_ms", "times"])?,
                }
                let at = step.u64("at_ms")?;
                let c = if step.op == "record" {
                    Some(step.classification()?)
                } else {
                    None
                };
                let retry_after = step.opt_u64("retry_after_ms")?.map(Duration::from_millis);
                for _ in 0..step.times()? {
                    match (step.op, &c) {
                        ("success", _) => b.on_success(at),
                        ("failure", _) => b.on_failure(at, retry_after),
                        (_, Some(c)) => b.record(c, at),
                        _ => b.on_neutral(at),
                    }
                }
                observe_breaker(&b, at)
            }
            "state" => {
                step.only(&["at_ms"])?;
                observe_breaker(&b, step.u64("at_ms")?)
            }
            "snapshot" => {
                step.only(&[])?;
                snapshot_fields(&b.snapshot())?
            }
            "snapshot_restore" => {
                step.only(&[])?;
                let s: BreakerSnapshot = through_json(&b.snapshot())?;
                b = CircuitBreaker::restore(config, &s)
                    .map_err(|e| format!("step {i}: restore failed: {e}"))?;
                Map::new()
            }
            "restore" => {
                let (actual, restored) = restore_step::<BreakerSnapshot, _>(&step, |s| {
                    CircuitBreaker::restore(config, s)
                })?;
                if let Some(r) = restored {
                    b = r;
                }
                actual
            }
            other => return Err(format!("step {i}: unknown breaker op `{other}`")),
        };
        step.check(&actual)?;
    }
    Ok(())
}

// ---- budget ----

fn observe_budget(b: &RetryBudget) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("can_retry".into(), Value::from(b.can_retry()));
    m.insert("tokens".into(), Value::from(b.tokens()));
    m
}

/// Ops: `success`, `failure`, `record`, `state`, `snapshot`, `snapshot_restore`, `restore`.
pub fn run_budget_case(input: &Value, expect: &Value) -> Result<(), String> {
    let (config, steps) = split_input(input, &["config", "steps"])?;
    let config: BudgetConfig =
        serde_json::from_value(config).map_err(|e| format!("config: {e}"))?;
    let Some(mut b) = build(RetryBudget::new(config), expect)? else {
        return Ok(());
    };
    for (i, v) in steps.iter().enumerate() {
        let step = Step::parse(i, v)?;
        let actual = match step.op {
            "success" | "failure" => {
                step.only(&["times"])?;
                for _ in 0..step.times()? {
                    if step.op == "success" {
                        b.on_success();
                    } else {
                        b.on_failure();
                    }
                }
                observe_budget(&b)
            }
            "record" => {
                step.only(&[
                    "times",
                    "category",
                    "reason",
                    "status",
                    "retry_after_ms",
                    "rate_limit_remaining",
                ])?;
                let c = step.classification()?;
                for _ in 0..step.times()? {
                    b.record(&c);
                }
                observe_budget(&b)
            }
            "state" => {
                step.only(&[])?;
                observe_budget(&b)
            }
            "snapshot" => {
                step.only(&[])?;
                snapshot_fields(&b.snapshot())?
            }
            "snapshot_restore" => {
                step.only(&[])?;
                let s: BudgetSnapshot = through_json(&b.snapshot())?;
                b = RetryBudget::restore(config, &s)
                    .map_err(|e| format!("step {i}: restore failed: {e}"))?;
                Map::new()
            }
            "restore" => {
                let (actual, restored) =
                    restore_step::<BudgetSnapshot, _>(&step, |s| RetryBudget::restore(config, s))?;
                if let Some(r) = restored {
                    b = r;
                }
                actual
            }
            other => return Err(format!("step {i}: unknown budget op `{other}`")),
        };
        step.check(&actual)?;
    }
    Ok(())
}

// ---- gate ----

fn observe_gate(g: &RateGate, at_ms: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("open".into(), Value::from(g.is_open(at_ms)));
    m.insert(
        "wait_ms".into(),
        Value::from(u64::try_from(g.wait(at_ms).as_millis()).unwrap_or(u64::MAX)),
    );
    m.insert(
        "reopens_at_ms".into(),
        g.reopens_at_ms().map_or(Value::Null, Value::from),
    );
    m
}

/// Ops: `close_for`, `record`, `wait`, `snapshot`, `snapshot_restore`, `restore`.
pub fn run_gate_case(input: &Value, expect: &Value) -> Result<(), String> {
    let (_, steps) = split_input(input, &["steps"])?;
    let Some(mut g) = build(Ok::<_, http_triage::Error>(RateGate::new()), expect)? else {
        return Ok(());
    };
    for (i, v) in steps.iter().enumerate() {
        let step = Step::parse(i, v)?;
        let actual = match step.op {
            "close_for" => {
                step.only(&["at_ms", "delay_ms"])?;
                let at = step.u64("at_ms")?;
                g.close_for(at, Duration::from_millis(step.u64("delay_ms")?));
                observe_gate(&g, at)
            }
            "record" => {
                step.only(&record_keys())?;
                let at = step.u64("at_ms")?;
                g.record(&step.classification()?, at);
                observe_gate(&g, at)
            }
            "wait" => {
                step.only(&["at_ms"])?;
                observe_gate(&g, step.u64("at_ms")?)
            }
            "snapshot" => {
                step.only(&[])?;
                snapshot_fields(&g.snapshot())?
            }
            "snapshot_restore" => {
                step.only(&[])?;
                let s: GateSnapshot = through_json(&g.snapshot())?;
                g = RateGate::restore(&s).map_err(|e| format!("step {i}: restore failed: {e}"))?;
                Map::new()
            }
            "restore" => {
                let (actual, restored) = restore_step::<GateSnapshot, _>(&step, RateGate::restore)?;
                if let Some(r) = restored {
                    g = r;
                }
                actual
            }
            other => return Err(format!("step {i}: unknown gate op `{other}`")),
        };
        step.check(&actual)?;
    }
    Ok(())
}

// ---- pacer ----

fn opt_f64(x: Option<f64>) -> Value {
    x.map_or(Value::Null, Value::from)
}

fn observe_pacer(p: &Pacer, at_ms: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("rate".into(), opt_f64(p.rate()));
    m.insert("pace".into(), opt_f64(p.pace(at_ms)));
    m.insert("wait_ms".into(), Value::from(p.wait_ms(at_ms)));
    m.insert("cuts".into(), Value::from(p.cuts()));
    m.insert("measured_rate".into(), Value::from(p.measured_rate(at_ms)));
    m
}

/// Ops: `acquire`, `record`, `state`, `snapshot`, `snapshot_restore`, `restore`.
pub fn run_pacer_case(input: &Value, expect: &Value) -> Result<(), String> {
    let (config, steps) = split_input(input, &["config", "steps"])?;
    let config: PacerConfig = serde_json::from_value(config).map_err(|e| format!("config: {e}"))?;
    let Some(mut p) = build(Pacer::new(config), expect)? else {
        return Ok(());
    };
    for (i, v) in steps.iter().enumerate() {
        let step = Step::parse(i, v)?;
        let actual = match step.op {
            "acquire" => {
                step.only(&["at_ms", "times"])?;
                let at = step.u64("at_ms")?;
                let times: Vec<Value> = (0..step.times()?)
                    .map(|_| Value::from(p.acquire(at)))
                    .collect();
                let mut m = observe_pacer(&p, at);
                m.insert("send_at_ms".into(), Value::Array(times));
                m
            }
            "record" => {
                let mut keys = record_keys().to_vec();
                keys.extend([
                    "sent_ms",
                    "times",
                    "rate_limit_limit",
                    "rate_limit_reset_ms",
                    "rate_limit_window_ms",
                ]);
                step.only(&keys)?;
                let at = step.u64("at_ms")?;
                let c = step.classification()?;
                let sent = step.opt_u64("sent_ms")?;
                for _ in 0..step.times()? {
                    match sent {
                        Some(s) => p.record_sent(&c, s, at),
                        None => p.record(&c, at),
                    }
                }
                observe_pacer(&p, at)
            }
            "state" => {
                step.only(&["at_ms"])?;
                observe_pacer(&p, step.u64("at_ms")?)
            }
            "snapshot" => {
                step.only(&[])?;
                snapshot_fields(&p.snapshot())?
            }
            "snapshot_restore" => {
                step.only(&[])?;
                let s: PacerSnapshot = through_json(&p.snapshot())?;
                p = Pacer::restore(&s).map_err(|e| format!("step {i}: restore failed: {e}"))?;
                Map::new()
            }
            "restore" => {
                let (actual, restored) = restore_step::<PacerSnapshot, _>(&step, Pacer::restore)?;
                if let Some(r) = restored {
                    p = r;
                }
                actual
            }
            other => return Err(format!("step {i}: unknown pacer op `{other}`")),
        };
        step.check(&actual)?;
    }
    Ok(())
}
