//! The batch ledger: one JSON object per line, one line per thing that happened to an item.
//!
//! Sans-IO: this module never opens the file. A driver appends [`Record::to_line`] to
//! `STATE_DIR/`[`LEDGER_FILE`] as things happen (after the item's output exists, for
//! [`Outcome::Done`]), and on resume reads the file back into a [`Replay`] with
//! [`Replay::from_text`] (or line by line with [`Replay::push_line`]) to learn what is done,
//! what is quarantined and what is left. [`report()`] turns a replay into counts, a failure
//! rate, correlated-versus-scattered failures and remedies.
//!
//! ## The record
//! ```text
//! {"v":1,"item":"photos/a.heic","outcome":"quarantined","category":"permanent",
//!  "reason":"unsupported","code":"unsupported_variant","status":422,"attempts":1,
//!  "request_id":"req_42","at_ms":1763800000000,"extension":"heic"}
//! ```
//! `v`, `item`, `outcome` and `at_ms` are required; every other field may be absent (absent
//! `attempts` is 0). Unknown fields are ignored and an unknown category reads as none, so a newer
//! writer's lines stay readable; a `v` above [`LEDGER_VERSION`] is refused.
//! [`Record::to_line`] always writes `v` first, which is what lets a replay recover a record
//! that was appended right after a torn line (see below).
//!
//! ## Replay rules
//! - The **last record of an item wins**: a `done` after a `quarantined` (a run with
//!   `--retry-quarantined`) makes the item done; a `started` after anything makes it in flight.
//! - Blank lines (and a trailing `\r`) are ignored.
//! - An unparseable **last** non-blank line is a torn tail (a crash mid-write): it is ignored
//!   and [`Replay::torn_tail`] is set. Any other unparseable line is listed in
//!   [`Replay::bad_lines`] (1-based) and ignored.
//! - A line that does not parse but contains a whole record after a torn prefix
//!   (`{"v":1,"ite{"v":1,"item":"b",…}`: a resumed run appended to a file whose last line was cut
//!   and had no `\n`) yields that record, and its number goes to [`Replay::recovered_lines`].
//!   Writers should still start with a `\n` when the file does not end in one.
//! - `attempts` in a record counts the attempts made for the item in all runs so far;
//!   [`Replay::attempts_so_far`] is the largest value seen for the item, so a resumed run can
//!   go on counting from there.

use crate::classify::{Category, Classification};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

mod report;

pub use report::{report, Cluster, QuarantinedItem, Remedy, Report, ReportOptions};

/// The record format version this build writes and reads.
pub const LEDGER_VERSION: u32 = 1;

/// The ledger's file name inside a batch's state folder.
pub const LEDGER_FILE: &str = "ledger.jsonl";

/// What happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written before the first request of an item: without a later record, the item was in
    /// flight when the batch ended (a crash), and a resume runs it again.
    Started,
    /// The output was written (and renamed into place) before this record.
    Done,
    /// A permanent failure, or retries exhausted: left alone on resume unless asked.
    Quarantined,
    /// The server asked for a long wait (`resume_at_ms`), or the breaker or the retry budget
    /// refused: retried on resume.
    Deferred,
    /// The batch stopped (auth or quota) while this item was in hand: retried on resume.
    Stopped,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 5] = [
        Outcome::Started,
        Outcome::Done,
        Outcome::Quarantined,
        Outcome::Deferred,
        Outcome::Stopped,
    ];

    /// The snake_case name (`"quarantined"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Done => "done",
            Outcome::Quarantined => "quarantined",
            Outcome::Deferred => "deferred",
            Outcome::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the ledger. Records never hold request headers, so never a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The format version ([`LEDGER_VERSION`]).
    pub v: u32,
    /// The item id: its path relative to the batch's source folder, with `/` separators.
    pub item: String,
    /// What happened.
    pub outcome: Outcome,
    /// The category of the last classification, when there was one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_category"
    )]
    pub category: Option<Category>,
    /// The classification's reason (`"corrupted"`), or a give-up reason (`"attempts_exhausted"`,
    /// `"breaker_open"`): a string, so that new reasons stay readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The error code from the response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The HTTP status of the last response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Attempts made for this item in all runs so far.
    #[serde(default)]
    pub attempts: u32,
    /// The server's request id of the last response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The server's error message of the last response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Unix milliseconds when the record was written.
    pub at_ms: u64,
    /// Unix milliseconds when work on the item started in this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// The host the item was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Where the output was written (relative to the output folder), for `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Unix milliseconds before which a deferred item should not be sent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at_ms: Option<u64>,
    /// The Idempotency-Key sent with the item (derived from the item, so stable across runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The item's file extension, lowercase, without the dot (`"pdf"`), for correlation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
}

/// Reads a category, turning a name this build does not know into `None`.
fn lenient_category<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Category>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.and_then(|s| Category::from_str(&s).ok()))
}

/// Why a ledger line could not be read. Messages name positions and expectations, never
/// header values (records hold none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The line is empty or only whitespace.
    #[error("empty ledger line")]
    EmptyLine,
    /// The line is not a JSON record of the expected shape (a torn write, or not a ledger).
    #[error("not a ledger record: {0}")]
    Json(String),
    /// The record was written by a newer format version.
    #[error(
        "ledger record version {found} is not supported (this build reads versions 1..={max})"
    )]
    UnsupportedVersion {
        /// The version found in the record.
        found: u32,
        /// The newest version this build reads.
        max: u32,
    },
    /// The record has an empty `item`.
    #[error("ledger record has an empty item id")]
    EmptyItem,
}

impl LedgerError {
    /// A stable, machine-readable name: `empty_line`, `json`, `unsupported_version`,
    /// `empty_item`.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::EmptyLine => "empty_line",
            LedgerError::Json(_) => "json",
            LedgerError::UnsupportedVersion { .. } => "unsupported_version",
            LedgerError::EmptyItem => "empty_item",
        }
    }
}

/// The extension of an item id for correlation: the part after the last `.` of the last path
/// segment, lowercased; `None` when there is none (`README`, `.bashrc`, `a.`).
pub fn extension_of(item: &str) -> Option<String> {
    let name = item.rsplit(['/', '\\']).next().unwrap_or(item);
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_lowercase())
}

impl Record {
    /// A record with only the required fields set, and `extension` taken from the item id.
    pub fn new(item: impl Into<String>, outcome: Outcome, at_ms: u64) -> Record {
        let item = item.into();
        let extension = extension_of(&item);
        Record {
            v: LEDGER_VERSION,
            item,
            outcome,
            category: None,
            reason: None,
            code: None,
            status: None,
            attempts: 0,
            request_id: None,
            message: None,
            at_ms,
            started_at_ms: None,
            host: None,
            output: None,
            resume_at_ms: None,
            idempotency_key: None,
            extension,
        }
    }

    /// Work on `item` starts now (written before its first request).
    pub fn started(item: impl Into<String>, at_ms: u64) -> Record {
        let mut r = Record::new(item, Outcome::Started, at_ms);
        r.started_at_ms = Some(at_ms);
        r
    }

    /// `item`'s output is written.
    pub fn done(item: impl Into<String>, at_ms: u64) -> Record {
        Record::new(item, Outcome::Done, at_ms)
    }

    /// `item` is quarantined because of `c` (its category, reason, code, status, request id and
    /// message are copied).
    pub fn quarantined(item: impl Into<String>, at_ms: u64, c: &Classification) -> Record {
        Record::new(item, Outcome::Quarantined, at_ms).with_classification(c)
    }

    /// `item` is put off until `resume_at_ms` (when known).
    pub fn deferred(item: impl Into<String>, at_ms: u64, resume_at_ms: Option<u64>) -> Record {
        let mut r = Record::new(item, Outcome::Deferred, at_ms);
        r.resume_at_ms = resume_at_ms;
        r
    }

    /// The batch stopped while `item` was in hand.
    pub fn stopped(item: impl Into<String>, at_ms: u64) -> Record {
        Record::new(item, Outcome::Stopped, at_ms)
    }

    /// Copy category, reason, code, status, request id and message from a classification.
    #[must_use]
    pub fn with_classification(mut self, c: &Classification) -> Record {
        self.category = Some(c.category);
        self.reason = Some(c.reason.as_str().to_owned());
        self.code = c.code.clone();
        self.status = c.status;
        self.request_id = c.request_id.clone();
        self.message = c.message.clone();
        self
    }

    /// Set the reason (a give-up reason such as `"attempts_exhausted"` overrides the
    /// classification's).
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Record {
        self.reason = Some(reason.into());
        self
    }

    /// Set the attempt count (all runs so far).
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Record {
        self.attempts = attempts;
        self
    }

    /// Set the host.
    #[must_use]
    pub fn with_host(mut self, host: impl Into<String>) -> Record {
        self.host = Some(host.into());
        self
    }

    /// Set the output path.
    #[must_use]
    pub fn with_output(mut self, output: impl Into<String>) -> Record {
        self.output = Some(output.into());
        self
    }

    /// Set when work on the item started in this run.
    #[must_use]
    pub fn with_started_at_ms(mut self, started_at_ms: u64) -> Record {
        self.started_at_ms = Some(started_at_ms);
        self
    }

    /// Set the idempotency key.
    #[must_use]
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Record {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The record as one line of JSON (no newline inside: JSON escapes them) with `\n` appended.
    pub fn to_line(&self) -> String {
        // Serializing strings, integers and enums into a String cannot fail.
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }

    /// Read one line (surrounding whitespace and the `\n` are ignored).
    pub fn parse_line(line: &str) -> Result<Record, LedgerError> {
        let line = line.trim();
        if line.is_empty() {
            return Err(LedgerError::EmptyLine);
        }
        let record: Record = serde_json::from_str(line).map_err(|e| {
            let mut msg = e.to_string();
            if msg.len() > 200 {
                let mut cut = 200;
                while !msg.is_char_boundary(cut) {
                    cut -= 1;
                }
                msg.truncate(cut);
                msg.push('…');
            }
            LedgerError::Json(msg)
        })?;
        if record.v == 0 || record.v > LEDGER_VERSION {
            return Err(LedgerError::UnsupportedVersion {
                found: record.v,
                max: LEDGER_VERSION,
            });
        }
        if record.item.is_empty() {
            return Err(LedgerError::EmptyItem);
        }
        Ok(record)
    }

    /// The extension used for correlation: the record's, else the item id's.
    pub fn effective_extension(&self) -> Option<String> {
        match &self.extension {
            Some(e) if !e.is_empty() => Some(e.to_lowercase()),
            _ => extension_of(&self.item),
        }
    }
}

/// A ledger read back: where every item stands (by its last record).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// Items whose last record is `done`.
    pub done: BTreeMap<String, Record>,
    /// Items whose last record is `quarantined`.
    pub quarantined: BTreeMap<String, Record>,
    /// Items whose last record is `deferred`.
    pub deferred: BTreeMap<String, Record>,
    /// Items whose last record is `started` (in flight at a crash).
    pub in_flight: BTreeSet<String>,
    /// Items whose last record is `stopped`.
    pub stopped: BTreeMap<String, Record>,
    /// The last non-blank line did not parse (a crash mid-write): tolerated and ignored.
    pub torn_tail: bool,
    /// 1-based numbers of unparseable lines that were not the last non-blank line.
    pub bad_lines: Vec<usize>,
    /// 1-based numbers of lines that began with a torn fragment but held a whole record after it,
    /// which was read.
    pub recovered_lines: Vec<usize>,
    /// How many records were read.
    pub records: usize,
    /// The largest `attempts` seen per item.
    pub attempts: BTreeMap<String, u32>,
}

impl Replay {
    /// An empty replay (no ledger yet).
    pub fn new() -> Replay {
        Replay::default()
    }

    /// Read a whole ledger file's text.
    pub fn from_text(text: &str) -> Replay {
        let mut replay = Replay::new();
        let lines: Vec<&str> = text.split('\n').collect();
        let last = lines.iter().rposition(|l| !l.trim().is_empty());
        for (i, line) in lines.iter().enumerate() {
            replay.push_line(i + 1, line, Some(i) == last);
        }
        replay
    }

    /// Read one line. `line_no` is 1-based (for [`Replay::bad_lines`]); `is_last` says whether
    /// it is the last non-blank line of the file (an unparseable last line is a torn tail).
    pub fn push_line(&mut self, line_no: usize, line: &str, is_last: bool) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        match Record::parse_line(line) {
            Ok(record) => self.push_record(record),
            Err(_) => {
                if let Some(record) = recover(line) {
                    self.recovered_lines.push(line_no);
                    self.push_record(record);
                } else if is_last {
                    self.torn_tail = true;
                } else {
                    self.bad_lines.push(line_no);
                }
            }
        }
    }

    /// Apply one record: it replaces whatever was known about its item.
    pub fn push_record(&mut self, record: Record) {
        self.records += 1;
        let item = record.item.clone();
        self.done.remove(&item);
        self.quarantined.remove(&item);
        self.deferred.remove(&item);
        self.stopped.remove(&item);
        self.in_flight.remove(&item);
        let seen = self.attempts.entry(item.clone()).or_insert(0);
        *seen = (*seen).max(record.attempts);
        match record.outcome {
            Outcome::Started => {
                self.in_flight.insert(item);
            }
            Outcome::Done => {
                self.done.insert(item, record);
            }
            Outcome::Quarantined => {
                self.quarantined.insert(item, record);
            }
            Outcome::Deferred => {
                self.deferred.insert(item, record);
            }
            Outcome::Stopped => {
                self.stopped.insert(item, record);
            }
        }
    }

    /// Where `item` stands (its last record's outcome); `None` if the ledger never saw it.
    pub fn outcome_of(&self, item: &str) -> Option<Outcome> {
        if self.done.contains_key(item) {
            Some(Outcome::Done)
        } else if self.quarantined.contains_key(item) {
            Some(Outcome::Quarantined)
        } else if self.deferred.contains_key(item) {
            Some(Outcome::Deferred)
        } else if self.stopped.contains_key(item) {
            Some(Outcome::Stopped)
        } else if self.in_flight.contains(item) {
            Some(Outcome::Started)
        } else {
            None
        }
    }

    /// The last record of `item` (`None` for an item in flight: only its name is kept).
    pub fn last_record(&self, item: &str) -> Option<&Record> {
        self.done
            .get(item)
            .or_else(|| self.quarantined.get(item))
            .or_else(|| self.deferred.get(item))
            .or_else(|| self.stopped.get(item))
    }

    /// True when `item`'s last record is `done`.
    pub fn is_done(&self, item: &str) -> bool {
        self.done.contains_key(item)
    }

    /// Whether a resumed batch should run `item`: yes unless it is done, or quarantined and
    /// `retry_quarantined` is false. In-flight, deferred, stopped and unknown items run.
    pub fn should_run(&self, item: &str, retry_quarantined: bool) -> bool {
        !(self.is_done(item) || (!retry_quarantined && self.quarantined.contains_key(item)))
    }

    /// The attempts already made for `item` in earlier runs (the largest count recorded).
    pub fn attempts_so_far(&self, item: &str) -> u32 {
        self.attempts.get(item).copied().unwrap_or(0)
    }

    /// For a deferred item, when the server said it may be sent again.
    pub fn resume_at_ms(&self, item: &str) -> Option<u64> {
        self.deferred.get(item).and_then(|r| r.resume_at_ms)
    }

    /// How many distinct items the ledger knows.
    pub fn items(&self) -> usize {
        self.done.len()
            + self.quarantined.len()
            + self.deferred.len()
            + self.stopped.len()
            + self.in_flight.len()
    }
}

/// A line that failed to parse may be a torn fragment followed by a whole record (a resumed
/// run appended to a file whose last line was cut): read the last `{"v":` onwards.
fn recover(line: &str) -> Option<Record> {
    const START: &str = "{\"v\":";
    let mut end = line.len();
    while let Some(pos) = line[..end].rfind(START) {
        if pos == 0 {
            return None;
        }
        if let Ok(r) = Record::parse_line(&line[pos..]) {
            return Some(r);
        }
        end = pos;
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn q(item: &str, reason: &str, at: u64) -> Record {
        let mut r = Record::new(item, Outcome::Quarantined, at).with_reason(reason);
        r.category = Some(Category::Permanent);
        r
    }

    #[test]
    fn round_trip_and_v_first() {
        let r = q("a/b.PDF", "corrupted", 5).with_attempts(2).with_host("h");
        let line = r.to_line();
        assert!(line.starts_with("{\"v\":1,"));
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(r.extension.as_deref(), Some("pdf"));
        assert_eq!(Record::parse_line(&line).unwrap(), r);
    }

    #[test]
    fn newline_in_message_stays_on_one_line() {
        let mut r = Record::done("x", 1);
        r.message = Some("a\nb".into());
        let line = r.to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(
            Record::parse_line(&line).unwrap().message.as_deref(),
            Some("a\nb")
        );
    }

    #[test]
    fn parse_errors_are_typed() {
        assert_eq!(
            Record::parse_line("  ").unwrap_err(),
            LedgerError::EmptyLine
        );
        assert_eq!(Record::parse_line("{\"v\":1,").unwrap_err().code(), "json");
        let e = Record::parse_line(r#"{"v":2,"item":"a","outcome":"done","at_ms":1}"#).unwrap_err();
        assert_eq!(e, LedgerError::UnsupportedVersion { found: 2, max: 1 });
        let e = Record::parse_line(r#"{"v":1,"item":"","outcome":"done","at_ms":1}"#).unwrap_err();
        assert_eq!(e, LedgerError::EmptyItem);
    }

    #[test]
    fn unknown_fields_and_categories_are_tolerated() {
        let r = Record::parse_line(
            r#"{"v":1,"item":"a","outcome":"quarantined","category":"brand_new","x":[1],"at_ms":1}"#,
        )
        .unwrap();
        assert_eq!(r.category, None);
        assert_eq!(r.attempts, 0);
    }

    #[test]
    fn last_record_wins_and_should_run() {
        let text = [
            Record::started("a", 1).to_line(),
            q("a", "corrupted", 2).with_attempts(1).to_line(),
            Record::started("b", 3).to_line(),
            Record::done("b", 4).with_attempts(1).to_line(),
            Record::started("a", 5).to_line(),
            Record::done("a", 6).with_attempts(2).to_line(),
            Record::started("c", 7).to_line(),
            q("d", "encrypted", 8).to_line(),
            Record::deferred("e", 9, Some(99)).to_line(),
            Record::stopped("f", 10).to_line(),
        ]
        .concat();
        let r = Replay::from_text(&text);
        assert_eq!(r.records, 10);
        assert!(r.is_done("a") && r.is_done("b"));
        assert_eq!(r.in_flight.iter().collect::<Vec<_>>(), ["c"]);
        assert!(!r.should_run("a", true));
        assert!(r.should_run("c", false));
        assert!(!r.should_run("d", false));
        assert!(r.should_run("d", true));
        assert!(r.should_run("e", false) && r.should_run("f", false) && r.should_run("zz", false));
        assert_eq!(r.attempts_so_far("a"), 2);
        assert_eq!(r.attempts_so_far("zz"), 0);
        assert_eq!(r.resume_at_ms("e"), Some(99));
        assert_eq!(r.outcome_of("f"), Some(Outcome::Stopped));
        assert_eq!(r.items(), 6);
        assert!(!r.torn_tail && r.bad_lines.is_empty());
    }

    #[test]
    fn torn_tail_bad_lines_blank_lines_crlf() {
        let good = Record::done("a", 1).to_line();
        let text = format!(
            "{}\r\n\ngarbage\n{}{{\"v\":1,\"ite",
            good.trim_end(),
            Record::done("b", 2).to_line()
        );
        let r = Replay::from_text(&text);
        assert!(r.torn_tail);
        assert_eq!(r.bad_lines, vec![3]);
        assert_eq!(r.done.len(), 2);
        // A garbage last line followed by blank lines is still the torn tail.
        let r = Replay::from_text(&format!("{good}{{\"v\":\n\n\n"));
        assert!(r.torn_tail && r.bad_lines.is_empty());
        // No trailing newline but a whole record: read normally.
        let r = Replay::from_text(good.trim_end());
        assert!(!r.torn_tail && r.is_done("a"));
    }

    #[test]
    fn record_after_torn_fragment_is_recovered() {
        let line = format!(
            "{{\"v\":1,\"item\":\"x\",\"outc{}",
            Record::done("b", 2).to_line()
        );
        let text = format!(
            "{}{line}{}",
            Record::started("x", 1).to_line(),
            Record::done("c", 3).to_line()
        );
        let r = Replay::from_text(&text);
        assert!(r.is_done("b") && r.is_done("c"));
        assert_eq!(r.recovered_lines, vec![2]);
        assert!(r.bad_lines.is_empty());
        assert!(r.in_flight.contains("x"));
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_of("a/b/c.HEIC").as_deref(), Some("heic"));
        assert_eq!(extension_of("a.b/c"), None);
        assert_eq!(extension_of(".bashrc"), None);
        assert_eq!(extension_of("x."), None);
        assert_eq!(extension_of("x.tar.gz").as_deref(), Some("gz"));
    }

    #[test]
    fn from_classification() {
        let c = crate::classify::classify(
            &crate::classify::Response::new(
                422,
                &[("x-request-id", "req_1")],
                br#"{"error":{"code":"corrupted","message":"bad file"}}"#,
            ),
            &crate::classify::Request::new("POST"),
            0,
            &crate::classify::Rules::default(),
        );
        let r = Record::quarantined("f.pdf", 10, &c).with_attempts(1);
        assert_eq!(r.category, Some(Category::Permanent));
        assert_eq!(r.reason.as_deref(), Some(c.reason.as_str()));
        assert_eq!(r.status, Some(422));
        assert_eq!(r.code, c.code);
        assert_eq!(r.request_id.as_deref(), Some("req_1"));
    }
}
