//! `http-triage report` and `demo` as subprocesses: the failure rate against `--alert-rate`
//! (exit 0 or 4), `--json`, correlated failures, exit 3 for bad usage, and the demo end to end.

#![allow(clippy::unwrap_used)]

use http_triage::ledger::{Outcome, Record, LEDGER_FILE};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A state folder whose ledger holds 100 items: 94 done, 6 quarantined (4 corrupted .heic files
/// in one minute, and 2 scattered .pdf ones), with a torn last line from a crash.
fn state_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("http-triage-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for i in 0..94u64 {
        text.push_str(&Record::started(format!("ok/{i}.png"), i * 1000).to_line());
        text.push_str(
            &Record::done(format!("ok/{i}.png"), i * 1000 + 50)
                .with_attempts(1)
                .to_line(),
        );
    }
    let bad = [
        ("photos/a.heic", "corrupted", 600_000),
        ("photos/b.heic", "corrupted", 600_100),
        ("photos/c.heic", "corrupted", 600_200),
        ("photos/d.heic", "corrupted", 600_300),
        ("scans/x.pdf", "encrypted", 10_000),
        ("scans/y.pdf", "payload_too_large", 3_000_000),
    ];
    for (item, reason, at) in bad {
        let mut r = Record::new(item, Outcome::Quarantined, at)
            .with_reason(reason)
            .with_attempts(1);
        r.category = Some(http_triage::Category::Permanent);
        r.code = Some(reason.to_owned());
        r.status = Some(422);
        text.push_str(&r.to_line());
    }
    text.push_str("{\"v\":1,\"item\":\"torn");
    std::fs::write(dir.join(LEDGER_FILE), text).unwrap();
    dir
}

fn report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_http-triage"))
        .arg("report")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn below_the_alert_rate_exits_0_and_names_every_quarantined_file() {
    let dir = state_dir("ok");
    let out = report(&[dir.to_str().unwrap(), "--alert-rate", "0.1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for item in [
        "photos/a.heic",
        "photos/d.heic",
        "scans/x.pdf",
        "scans/y.pdf",
    ] {
        assert!(text.contains(item), "{item} missing from:\n{text}");
    }
    assert!(
        text.contains("qpdf"),
        "the encrypted remedy is missing:\n{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn above_the_alert_rate_exits_4_and_json_tells_correlated_from_scattered() {
    let dir = state_dir("alert");
    let out = report(&[dir.to_str().unwrap(), "--json", "--alert-rate", "0.05"]);
    assert_eq!(out.status.code(), Some(4), "6% failed, above 5%");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"], 100);
    assert_eq!(v["quarantined"], 6);
    assert!((v["failure_rate"].as_f64().unwrap() - 0.06).abs() < 1e-9);
    assert_eq!(v["above_threshold"], true);
    assert_eq!(v["torn_tail"], true);
    assert_eq!(v["by_reason"]["corrupted"], 4);
    // The four corrupted .heic files share a reason, an extension and a minute: correlated.
    let clusters: Vec<String> = v["correlated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["kind"].as_str().unwrap(),
                c["key"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        clusters.iter().any(|c| c == "extension:heic"),
        "{clusters:?}"
    );
    assert_eq!(v["correlated_failures"], 4);
    assert_eq!(v["scattered"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_usage_exits_3_and_names_the_path() {
    let out = report(&["/nonexistent/http-triage-state"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/http-triage-state"));
    let dir = state_dir("usage");
    for rate in ["1.5", "-0.1", "NaN"] {
        let out = report(&[dir.to_str().unwrap(), "--alert-rate", rate]);
        assert_eq!(out.status.code(), Some(3), "--alert-rate {rate}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's first command, smaller: `demo` starts the fake API, runs a batch and reports.
#[test]
fn the_demo_runs_end_to_end() {
    let out = Command::new(env!("CARGO_BIN_EXE_http-triage"))
        .args(["demo", "--files", "150", "--seed", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("150 items"), "{stdout}");
    assert!(stdout.contains("0 duplicate conversions"), "{stdout}");
    assert!(stdout.contains("0 deferred"), "{stdout}");
}
