//! The batch report: counts, failure rate against a threshold, correlated versus scattered
//! failures, and a remedy per reason. Pure: a [`Replay`] and [`ReportOptions`] in, a [`Report`]
//! out.
//!
//! ## What counts
//! - `total` is the number of distinct items in the ledger (items a stopped batch never reached
//!   are not in it).
//! - **Failures are the quarantined items.** `failure_rate = quarantined / total` (0 when the
//!   ledger is empty). Deferred, stopped and in-flight items are not failures: a resumed batch
//!   runs them again. They are counted on their own lines.
//! - `above_threshold` is `failure_rate > alert_rate` (strictly above, like the field guide's
//!   "alert if >5% fail"): a rate exactly at the threshold does not alert.
//! - `by_category`, `by_reason`, `by_code` and `remedies` count the items that are neither done
//!   nor in flight (quarantined, deferred, stopped), by their last record: what a person has to
//!   look at. A record without a category or reason counts under `"unknown"`; a record without
//!   a code is left out of `by_code`.
//!
//! ## Correlated versus scattered
//! Failures (quarantined items) are grouped along four dimensions, each item under one key per
//! dimension:
//! - `reason`: the pair (reason, extension), key `"<reason>:<extension>"` (`"unsupported:heic"`;
//!   `"corrupted:"` without an extension); the items of the group are those with that extension;
//! - `extension`: the extension (record's `extension`, else taken from the item id), key
//!   `"heic"`, or `""` for none; the items of the group are those with that extension;
//! - `minute`: the window `at_ms / correlation_window_ms` of the last record, key = the window's
//!   start in Unix ms as a decimal string; the items of the group are all items whose last
//!   record falls in that window (skipped when `correlation_window_ms` is 0);
//! - `host`: the record's `host` (records without one are not grouped); the items of the group
//!   are those sent to that host.
//!
//! With `F` failures among `N` items, a key holding `c` failures among its `n` items is a
//! **cluster** when `c >= min_cluster` and either
//! - `2c >= n` — at least half of the key's items failed (every `.heic` failing is systemic
//!   however many other failures there are), or
//! - `2c >= F` and `c·N >= 2·F·n` — the key holds at least half of all failures *and* fails at
//!   least twice as often as the batch as a whole (so 4 corrupted PDFs in an all-PDF batch are
//!   not a cluster, but an outage minute is).
//!
//! The comparisons are done in integers, exactly as written. A failure is **correlated** when
//! it belongs to at least one cluster in any dimension; the other failures are **scattered**
//! (random failures at 1–2% are normal). Clusters are listed by count (descending), then
//! dimension (reason, extension, minute, host), then key; `share = c / F`, `rate = c / n`, and
//! `items` holds the first five items in id order.

use super::{Record, Replay};
use crate::classify::Category;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// How many items a cluster lists.
const CLUSTER_ITEMS: usize = 5;

/// Knobs of [`report()`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportOptions {
    /// Failure rate above which the report alerts (default 0.05).
    pub alert_rate: f64,
    /// Width of the time windows failures are grouped in, in ms (default 60 000: the same
    /// minute). 0 turns the time dimension off.
    pub correlation_window_ms: u64,
    /// The fewest failures that can make a cluster (default 3; 0 reads as 1).
    pub min_cluster: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            alert_rate: 0.05,
            correlation_window_ms: 60_000,
            min_cluster: 3,
        }
    }
}

/// A group of failures with a common cause (see the module docs for the rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// The dimension: `"reason"`, `"extension"`, `"minute"` or `"host"`.
    pub kind: String,
    /// The key within the dimension (`"unsupported:heic"`, `"heic"`, `"1763800020000"`, a host).
    pub key: String,
    /// Failures with this key.
    pub count: usize,
    /// `count` / all failures.
    pub share: f64,
    /// `count` / items with this key.
    pub rate: f64,
    /// Items (failed or not) with this key.
    pub of_items: usize,
    /// The first few failed items, in id order.
    pub items: Vec<String>,
}

/// What to do about the items that failed for one reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remedy {
    /// The reason (`"corrupted"`, `"attempts_exhausted"`, or `"unknown"`).
    pub reason: String,
    /// Items not done for this reason.
    pub count: usize,
    /// A stable name for the remedy: `redownload`, `decrypt`, `split`, `check_format`,
    /// `fix_request`, `check_endpoint`, `rerun_later`, `check_api_key`, `wait_for_quota`,
    /// `investigate`.
    pub kind: String,
    /// One line for a person.
    pub hint: String,
}

/// One quarantined item, for the list at the end of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedItem {
    /// The item id.
    pub item: String,
    /// Its category.
    pub category: Option<Category>,
    /// Its reason.
    pub reason: Option<String>,
    /// The error code.
    pub code: Option<String>,
    /// The HTTP status.
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
    /// The server's request id (quote it to the provider).
    pub request_id: Option<String>,
    /// The server's message.
    pub message: Option<String>,
    /// When it was quarantined (Unix ms).
    pub at_ms: u64,
}

/// The summary of a ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Distinct items in the ledger.
    pub total: usize,
    /// Items done.
    pub done: usize,
    /// Items quarantined (the failures).
    pub quarantined: usize,
    /// Items deferred (retried on resume).
    pub deferred: usize,
    /// Items in flight when the ledger ends (retried on resume).
    pub in_flight: usize,
    /// Items in hand when the batch stopped (retried on resume).
    pub stopped: usize,
    /// Quarantined, deferred and stopped items by category.
    pub by_category: BTreeMap<String, usize>,
    /// Quarantined, deferred and stopped items by reason.
    pub by_reason: BTreeMap<String, usize>,
    /// Quarantined, deferred and stopped items by error code.
    pub by_code: BTreeMap<String, usize>,
    /// `quarantined / total` (0 for an empty ledger).
    pub failure_rate: f64,
    /// The threshold it is compared with.
    pub alert_rate: f64,
    /// `failure_rate > alert_rate`.
    pub above_threshold: bool,
    /// Clusters of failures with a common cause.
    pub correlated: Vec<Cluster>,
    /// Failures in at least one cluster.
    pub correlated_failures: usize,
    /// Failures in no cluster.
    pub scattered: usize,
    /// One remedy per reason, most frequent first.
    pub remedies: Vec<Remedy>,
    /// The quarantined items, in id order.
    pub quarantined_items: Vec<QuarantinedItem>,
    /// The ledger's last line was cut (a crash mid-write) and ignored.
    pub torn_tail: bool,
    /// Unreadable ledger lines (1-based), ignored.
    pub bad_lines: Vec<usize>,
}

/// The remedy for a reason (falling back on the category): `(kind, hint)`.
pub fn remedy_for(reason: &str, category: Option<Category>) -> (&'static str, &'static str) {
    match reason {
        "corrupted" => (
            "redownload",
            "re-download the file from its source; if the source is corrupted too, the file is \
             unrecoverable: log it and skip it",
        ),
        "encrypted" => (
            "decrypt",
            "decrypt it with its password (PDF: `qpdf --decrypt --password=PW in.pdf out.pdf`), then \
             rerun with --retry-quarantined",
        ),
        "payload_too_large" => (
            "split",
            "split the file (PDF: `pdftk in.pdf burst`; video: `ffmpeg -f segment`) and convert the \
             chunks",
        ),
        "unsupported" | "unsupported_media_type" => (
            "check_format",
            "check the file's real format with `file` (a JPEG renamed .png fails), rename or \
             convert it, then rerun with --retry-quarantined",
        ),
        "validation" | "bad_request" | "unprocessable" | "client_error" | "conflict"
        | "precondition_failed" => (
            "fix_request",
            "fix the request (parameters, target format, body); sending the same request again \
             will not help",
        ),
        "not_found" | "gone" | "method_not_allowed" | "not_implemented" => (
            "check_endpoint",
            "check the URL and method: the server does not offer this endpoint",
        ),
        "unauthenticated" | "forbidden" => (
            "check_api_key",
            "check the API key (set, current, allowed to call this endpoint), then resume the batch",
        ),
        "quota_exceeded" | "payment_required" => (
            "wait_for_quota",
            "wait for the quota window to reset or upgrade the plan, then resume the batch",
        ),
        "not_safe_to_repeat" | "attempts_exhausted" | "polls_exhausted" | "deadline_exceeded"
        | "retry_after_too_long" | "breaker_open" | "budget_exhausted" | "rate_limited"
        | "overloaded" | "server_error" | "bad_gateway" | "service_unavailable"
        | "gateway_timeout" | "request_timeout" | "too_early" | "idempotency_in_flight"
        | "server_says_retry" | "not_ready" | "accepted" | "dns" | "connect_refused"
        | "connect_timeout" | "tls" | "reset_before_response" | "timeout_after_send"
        | "closed_before_response" | "body_truncated" => (
            "rerun_later",
            "transient: rerun the batch later (deferred and stopped items are retried on resume, \
             quarantined ones with --retry-quarantined)",
        ),
        _ => match category {
            Some(Category::Auth) => remedy_for("unauthenticated", None),
            Some(Category::Quota) => remedy_for("quota_exceeded", None),
            Some(Category::Retryable) | Some(Category::Pending) => remedy_for("attempts_exhausted", None),
            _ => (
                "investigate",
                "read the messages below; if the cause is unclear, contact the API provider with \
                 the request id",
            ),
        },
    }
}

/// One item as the correlation sees it.
struct View<'a> {
    item: &'a str,
    record: Option<&'a Record>,
    failed: bool,
}

/// Summarize a replay.
pub fn report(replay: &Replay, options: &ReportOptions) -> Report {
    let total = replay.items();
    let failures = replay.quarantined.len();
    let failure_rate = if total == 0 {
        0.0
    } else {
        failures as f64 / total as f64
    };

    let mut by_category = BTreeMap::new();
    let mut by_reason = BTreeMap::new();
    let mut by_code = BTreeMap::new();
    let mut remedy_counts: BTreeMap<String, (usize, Option<Category>)> = BTreeMap::new();
    let open = replay
        .quarantined
        .values()
        .chain(replay.deferred.values())
        .chain(replay.stopped.values());
    for r in open {
        let cat = r.category.map_or("unknown", Category::as_str);
        *by_category.entry(cat.to_owned()).or_insert(0) += 1;
        let reason = r.reason.clone().unwrap_or_else(|| "unknown".to_owned());
        *by_reason.entry(reason.clone()).or_insert(0) += 1;
        if let Some(code) = &r.code {
            *by_code.entry(code.clone()).or_insert(0) += 1;
        }
        let e = remedy_counts.entry(reason).or_insert((0, r.category));
        e.0 += 1;
    }
    let mut remedies: Vec<Remedy> = remedy_counts
        .into_iter()
        .map(|(reason, (count, category))| {
            let (kind, hint) = remedy_for(&reason, category);
            Remedy {
                reason,
                count,
                kind: kind.to_owned(),
                hint: hint.to_owned(),
            }
        })
        .collect();
    remedies.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));

    // Every item, with its last record (none for items in flight).
    let mut views: Vec<View<'_>> = Vec::with_capacity(total);
    for (map, failed) in [
        (&replay.done, false),
        (&replay.quarantined, true),
        (&replay.deferred, false),
        (&replay.stopped, false),
    ] {
        views.extend(map.iter().map(|(k, r)| View {
            item: k,
            record: Some(r),
            failed,
        }));
    }
    views.extend(replay.in_flight.iter().map(|k| View {
        item: k,
        record: None,
        failed: false,
    }));

    let ext = |v: &View<'_>| -> String {
        match v.record {
            Some(r) => r.effective_extension(),
            None => super::extension_of(v.item),
        }
        .unwrap_or_default()
    };
    let window = options.correlation_window_ms;
    type KeyFn<'f> = Box<dyn Fn(&View<'_>) -> Option<String> + 'f>;
    let dims: [(&str, KeyFn<'_>, KeyFn<'_>); 4] = [
        (
            "reason",
            Box::new(|v: &View<'_>| {
                let reason = v
                    .record
                    .and_then(|r| r.reason.clone())
                    .unwrap_or_else(|| "unknown".into());
                Some(format!("{reason}:{}", ext(v)))
            }),
            Box::new(|v: &View<'_>| Some(ext(v))),
        ),
        (
            "extension",
            Box::new(|v: &View<'_>| Some(ext(v))),
            Box::new(|v: &View<'_>| Some(ext(v))),
        ),
        (
            "minute",
            Box::new(move |v: &View<'_>| minute_key(v.record, window)),
            Box::new(move |v: &View<'_>| minute_key(v.record, window)),
        ),
        (
            "host",
            Box::new(|v: &View<'_>| v.record.and_then(|r| r.host.clone())),
            Box::new(|v: &View<'_>| v.record.and_then(|r| r.host.clone())),
        ),
    ];

    let min_cluster = options.min_cluster.max(1);
    let (n_all, f_all) = (total as u128, failures as u128);
    let mut correlated = Vec::new();
    let mut clustered: BTreeSet<&str> = BTreeSet::new();
    for (kind, fail_key, base_key) in &dims {
        // failures per key, and the failures' "base" key (the group whose items count as `n`).
        let mut groups: BTreeMap<String, (String, Vec<&str>)> = BTreeMap::new();
        for v in views.iter().filter(|v| v.failed) {
            if let Some(k) = fail_key(v) {
                let base = base_key(v).unwrap_or_default();
                groups
                    .entry(k)
                    .or_insert_with(|| (base, Vec::new()))
                    .1
                    .push(v.item);
            }
        }
        if groups.is_empty() {
            continue;
        }
        let mut base_counts: BTreeMap<String, usize> = BTreeMap::new();
        for v in &views {
            if let Some(b) = base_key(v) {
                *base_counts.entry(b).or_insert(0) += 1;
            }
        }
        for (key, (base, mut items)) in groups {
            let c = items.len();
            let n = base_counts.get(&base).copied().unwrap_or(c).max(c);
            let (cu, nu) = (c as u128, n as u128);
            let most_of_key = 2 * cu >= nu;
            let outsized = 2 * cu >= f_all && cu * n_all >= 2 * f_all * nu;
            if c >= min_cluster && (most_of_key || outsized) {
                items.sort_unstable();
                clustered.extend(items.iter().copied());
                correlated.push(Cluster {
                    kind: (*kind).to_owned(),
                    key,
                    count: c,
                    share: c as f64 / failures as f64,
                    rate: c as f64 / n as f64,
                    of_items: n,
                    items: items
                        .iter()
                        .take(CLUSTER_ITEMS)
                        .map(|s| (*s).to_owned())
                        .collect(),
                });
            }
        }
    }
    let kind_rank = |k: &str| {
        ["reason", "extension", "minute", "host"]
            .iter()
            .position(|x| *x == k)
    };
    correlated.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| kind_rank(&a.kind).cmp(&kind_rank(&b.kind)))
            .then_with(|| a.key.cmp(&b.key))
    });
    let correlated_failures = clustered.len();

    let quarantined_items = replay
        .quarantined
        .values()
        .map(|r| QuarantinedItem {
            item: r.item.clone(),
            category: r.category,
            reason: r.reason.clone(),
            code: r.code.clone(),
            status: r.status,
            attempts: r.attempts,
            request_id: r.request_id.clone(),
            message: r.message.clone(),
            at_ms: r.at_ms,
        })
        .collect();

    Report {
        total,
        done: replay.done.len(),
        quarantined: failures,
        deferred: replay.deferred.len(),
        in_flight: replay.in_flight.len(),
        stopped: replay.stopped.len(),
        by_category,
        by_reason,
        by_code,
        failure_rate,
        alert_rate: options.alert_rate,
        above_threshold: failure_rate > options.alert_rate,
        correlated,
        correlated_failures,
        scattered: failures - correlated_failures,
        remedies,
        quarantined_items,
        torn_tail: replay.torn_tail,
        bad_lines: replay.bad_lines.clone(),
    }
}

fn minute_key(record: Option<&Record>, window: u64) -> Option<String> {
    if window == 0 {
        return None;
    }
    let r = record?;
    Some(((r.at_ms / window) * window).to_string())
}

/// Unix ms → `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian, no clock read).
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = crate::headers::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Cut `s` to at most `max` characters, marking the cut.
fn clip(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut out: String = one_line.chars().take(max).collect();
        out.push('…');
        out
    }
}

impl Report {
    /// The report for a person: counts, failure rate against the threshold, correlated and
    /// scattered failures, remedies, and the quarantined items.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "{} items: {} done, {} quarantined, {} deferred, {} stopped, {} in flight",
            self.total, self.done, self.quarantined, self.deferred, self.stopped, self.in_flight
        );
        let rate = format!(
            "{} ({}/{})",
            pct(self.failure_rate),
            self.quarantined,
            self.total
        );
        if self.above_threshold {
            let _ = writeln!(
                o,
                "ALERT: failure rate {rate} is above the {} threshold",
                pct(self.alert_rate)
            );
        } else {
            let _ = writeln!(
                o,
                "failure rate {rate}, within the {} threshold",
                pct(self.alert_rate)
            );
        }
        if self.deferred + self.stopped + self.in_flight > 0 {
            let _ = writeln!(
                o,
                "{} deferred, stopped or in-flight items are retried when the batch is run again",
                self.deferred + self.stopped + self.in_flight
            );
        }
        if self.torn_tail {
            let _ = writeln!(
                o,
                "note: the ledger's last line was cut (a crash mid-write) and ignored"
            );
        }
        if !self.bad_lines.is_empty() {
            let list: Vec<String> = self
                .bad_lines
                .iter()
                .take(10)
                .map(ToString::to_string)
                .collect();
            let more = if self.bad_lines.len() > 10 {
                ", …"
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "warning: {} unreadable ledger line{} ignored (line {}{more})",
                self.bad_lines.len(),
                if self.bad_lines.len() == 1 { "" } else { "s" },
                list.join(", ")
            );
        }
        for (title, map) in [
            ("Not done, by category", &self.by_category),
            ("By reason", &self.by_reason),
            ("By code", &self.by_code),
        ] {
            if map.is_empty() {
                continue;
            }
            let _ = writeln!(o, "\n{title}:");
            let mut rows: Vec<(&String, &usize)> = map.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            for (k, n) in rows {
                let _ = writeln!(o, "  {k:<28} {n:>6}");
            }
        }
        if self.quarantined > 0 {
            let _ = writeln!(
                o,
                "\nFailures: {} correlated (a common cause: look here first), {} scattered (random \
                 failures at 1-2% are normal)",
                self.correlated_failures, self.scattered
            );
            for c in &self.correlated {
                let what = match c.kind.as_str() {
                    "reason" => {
                        let (reason, ext) = c.key.split_once(':').unwrap_or((&c.key, ""));
                        if ext.is_empty() {
                            format!("reason {reason} on files without extension")
                        } else {
                            format!("reason {reason} on .{ext} files")
                        }
                    }
                    "extension" if c.key.is_empty() => "files without extension".to_owned(),
                    "extension" => format!(".{} files", c.key),
                    "minute" => match c.key.parse::<u64>() {
                        Ok(ms) => format!("time window from {}", utc(ms)),
                        Err(_) => format!("time window {}", c.key),
                    },
                    "host" => format!("host {}", c.key),
                    other => format!("{other} {}", c.key),
                };
                let more = if c.count > c.items.len() { ", …" } else { "" };
                let _ = writeln!(
                    o,
                    "  {what}: {} failures, {} of its {} items, {} of all failures (e.g. {}{more})",
                    c.count,
                    pct(c.rate),
                    c.of_items,
                    pct(c.share),
                    c.items.join(", ")
                );
            }
        }
        if !self.remedies.is_empty() {
            let _ = writeln!(o, "\nRemedies:");
            for r in &self.remedies {
                let _ = writeln!(o, "  {} ({}): {}", r.reason, r.count, r.hint);
            }
        }
        if !self.quarantined_items.is_empty() {
            let _ = writeln!(o, "\nQuarantined items:");
            for q in &self.quarantined_items {
                let mut line = format!("  {}", q.item);
                let _ = write!(
                    line,
                    "  reason={}",
                    q.reason.as_deref().unwrap_or("unknown")
                );
                if let Some(code) = &q.code {
                    let _ = write!(line, " code={}", clip(code, 64));
                }
                if let Some(status) = q.status {
                    let _ = write!(line, " status={status}");
                }
                let _ = write!(line, " attempts={}", q.attempts);
                if let Some(id) = &q.request_id {
                    let _ = write!(line, " request_id={}", clip(id, 128));
                }
                if let Some(m) = &q.message {
                    let _ = write!(line, " — {}", clip(m, 120));
                }
                let _ = writeln!(o, "{line}");
            }
            let _ = writeln!(
                o,
                "\nAfter fixing them, run the batch again with --retry-quarantined to retry the \
                 quarantined items."
            );
        }
        o
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ledger::Outcome;

    fn rec(item: &str, outcome: Outcome, reason: Option<&str>, at: u64) -> Record {
        let mut r = Record::new(item, outcome, at);
        r.reason = reason.map(str::to_owned);
        if outcome == Outcome::Quarantined {
            r.category = Some(Category::Permanent);
        }
        r
    }

    fn replay(records: Vec<Record>) -> Replay {
        let mut r = Replay::new();
        for x in records {
            r.push_record(x);
        }
        r
    }

    #[test]
    fn empty_ledger() {
        let r = report(&Replay::new(), &ReportOptions::default());
        assert_eq!(r.total, 0);
        assert_eq!(r.failure_rate, 0.0);
        assert!(!r.above_threshold);
        assert!(r.render_text().contains("0 items"));
    }

    #[test]
    fn heic_cluster_versus_scattered() {
        let mut v = Vec::new();
        for i in 0..90 {
            v.push(rec(
                &format!("d/{i:03}.pdf"),
                Outcome::Done,
                None,
                i * 60_000,
            ));
        }
        for i in 0..4 {
            v.push(rec(
                &format!("h/{i}.heic"),
                Outcome::Quarantined,
                Some("unsupported"),
                i * 60_000,
            ));
        }
        v.push(rec(
            "x/1.pdf",
            Outcome::Quarantined,
            Some("corrupted"),
            7 * 60_000,
        ));
        v.push(rec(
            "x/2.jpg",
            Outcome::Quarantined,
            Some("encrypted"),
            9 * 60_000,
        ));
        let rep = report(&replay(v), &ReportOptions::default());
        assert_eq!(rep.total, 96);
        assert_eq!(rep.quarantined, 6);
        assert!(rep.above_threshold);
        let keys: Vec<String> = rep
            .correlated
            .iter()
            .map(|c| format!("{}:{}", c.kind, c.key))
            .collect();
        assert_eq!(keys, ["reason:unsupported:heic", "extension:heic"]);
        assert_eq!(rep.correlated_failures, 4);
        assert_eq!(rep.scattered, 2);
        let text = rep.render_text();
        assert!(text.contains("ALERT"), "{text}");
        assert!(text.contains(".heic files"), "{text}");
    }

    #[test]
    fn remedies_cover_the_guide() {
        for (reason, kind) in [
            ("corrupted", "redownload"),
            ("encrypted", "decrypt"),
            ("payload_too_large", "split"),
            ("unsupported", "check_format"),
            ("validation", "fix_request"),
            ("bad_request", "fix_request"),
            ("not_safe_to_repeat", "rerun_later"),
            ("attempts_exhausted", "rerun_later"),
            ("rate_limited", "rerun_later"),
            ("server_error", "rerun_later"),
            ("unauthenticated", "check_api_key"),
            ("quota_exceeded", "wait_for_quota"),
            ("whatever", "investigate"),
        ] {
            assert_eq!(remedy_for(reason, None).0, kind, "{reason}");
        }
        assert_eq!(remedy_for("odd", Some(Category::Auth)).0, "check_api_key");
        assert_eq!(remedy_for("odd", Some(Category::Quota)).0, "wait_for_quota");
        assert_eq!(
            remedy_for("odd", Some(Category::Retryable)).0,
            "rerun_later"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_763_800_000_000), "2025-11-22 08:26:40 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
