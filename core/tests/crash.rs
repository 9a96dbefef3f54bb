#![cfg(feature = "cli")]
//! SIGKILL the `http-triage batch` process at random moments, resume each time, run to the end,
//! and check from the server's counters and the outputs that no file was lost, none was
//! converted twice and no output is torn.

use http_triage::ledger::{Replay, LEDGER_FILE};
use http_triage::serve::{converted, fate_of, ConvertedReader, Fate, ServeConfig, Server};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KILLS: usize = 12;
const FILES: usize = 1200;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn write_files(src: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let exts = ["png", "pdf", "heic"];
    let mut out = Vec::with_capacity(FILES);
    let mut x = XorShift(0x1234_5678_9abc_def1);
    for i in 0..FILES {
        let rel = PathBuf::from(format!("b{}/file{i:05}.{}", i % 7, exts[i % 3]));
        let mut body = format!("crash test file {i}\n").into_bytes();
        for _ in 0..(16 + i % 300) {
            body.extend_from_slice(&x.next().to_le_bytes());
        }
        let p = src.join(&rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, &body)?;
        out.push((rel, body));
    }
    Ok(out)
}

fn batch_command(src: &Path, out: &Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_http-triage"));
    c.arg("batch")
        .arg(src)
        .arg("--url")
        .arg(url)
        .arg("--out")
        .arg(out)
        .args(["-H", "Authorization: Bearer ${CRASH_TEST_KEY}"])
        .args([
            "--concurrency",
            "8",
            "--timeout",
            "2",
            "--max-attempts",
            "6",
        ])
        .env("CRASH_TEST_KEY", "crash-key")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_converts_nothing_twice() -> TestResult {
    let t0 = Instant::now();
    let root = std::env::temp_dir().join(format!("http-triage-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let src = root.join("src");
    let out = root.join("out");
    let files = write_files(&src)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let serve = ServeConfig {
        api_key: "crash-key".into(),
        latency_ms: 15,
        hang_ms: 200,
        rate_limit_per_sec: None,
        seed: 5,
        ..ServeConfig::default()
    };
    let server = rt.block_on(Server::start(serve.clone()))?;
    let url = server.convert_url("jpg");

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = XorShift(seed);
    let mut killed = 0;
    for run in 0..KILLS {
        let delay = Duration::from_millis(50 + rng.next() % 751);
        let mut child = batch_command(&src, &out, &url).spawn()?;
        std::thread::sleep(delay);
        match child.try_wait()? {
            Some(status) => {
                eprintln!("run {run}: finished by itself ({status}) before the kill at {delay:?}")
            }
            None => {
                child.kill()?; // SIGKILL on Unix
                killed += 1;
            }
        }
        child.wait()?;
        let done = Replay::from_text(
            &std::fs::read_to_string(out.join(".http-triage").join(LEDGER_FILE))
                .unwrap_or_default(),
        )
        .done
        .len();
        eprintln!(
            "run {run}: killed after {delay:?}; {done} done so far; server {:?} requests",
            server.stats().requests
        );
    }
    assert!(
        killed >= 10,
        "only {killed} runs were killed mid-flight: make the batch bigger"
    );

    // Run to the end (exit 1: the permanently bad files are quarantined).
    let status = batch_command(&src, &out, &url).status()?;
    assert_eq!(status.code(), Some(1), "the final run");

    let stats = server.stats();
    eprintln!(
        "after {killed} kills: {} requests, {} conversions, {} replays, {} in-flight conflicts, {} duplicates; {:.1}s",
        stats.requests,
        stats.conversions,
        stats.replays,
        stats.in_flight_conflicts,
        stats.duplicate_conversions,
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(stats.duplicate_conversions, 0, "a file was converted twice");

    let ledger = std::fs::read_to_string(out.join(".http-triage").join(LEDGER_FILE))?;
    let replay = Replay::from_text(&ledger);
    assert!(
        replay.bad_lines.is_empty(),
        "bad ledger lines {:?}",
        replay.bad_lines
    );
    assert!(replay.in_flight.is_empty());
    let mut good = 0u64;
    for (rel, bytes) in &files {
        let id = rel.to_string_lossy().replace('\\', "/");
        let output = out.join(rel).with_extension("jpg");
        match fate_of(bytes, &serve) {
            Fate::Permanent(_) => {
                assert!(
                    replay.quarantined.contains_key(&id),
                    "{id} is not quarantined"
                );
                assert!(!output.exists());
            }
            _ => {
                good += 1;
                assert!(
                    replay.is_done(&id),
                    "{id} is lost: {:?}",
                    replay.outcome_of(&id)
                );
                assert_eq!(
                    std::fs::read(&output)?,
                    converted(bytes, "jpg"),
                    "{id}: wrong or torn output"
                );
            }
        }
    }
    assert_eq!(
        stats.conversions, good,
        "every good file converted exactly once"
    );

    // No torn outputs anywhere: every non-temp file under out/ is a whole expected output.
    let mut stack = vec![out.clone()];
    let mut temps = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != ".http-triage") {
                    stack.push(p);
                }
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".part"))
            {
                temps += 1;
            } else {
                let rel = p.strip_prefix(&out)?;
                let source = files
                    .iter()
                    .find(|(r, _)| r.with_extension("jpg") == rel)
                    .ok_or(format!("unexpected output {}", rel.display()))?;
                assert_eq!(
                    std::fs::read(&p)?,
                    converted(&source.1, "jpg"),
                    "torn {}",
                    rel.display()
                );
            }
        }
    }
    // Each resume clears the temp files that a kill left beside the outputs it had in hand.
    assert_eq!(temps, 0, "temp files left by kills were not cleaned up");
    rt.block_on(server.shutdown());
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// The same with large answers (4 MiB each, well past the 256 KiB at which the runner streams a
/// body to the output's temp file): a kill in the middle of a download or of the fsync leaves
/// at worst a temp file, which the next run removes; every output ends whole and byte-exact.
#[test]
fn sigkill_while_large_answers_stream_to_disk_loses_nothing() -> TestResult {
    const BIG_FILES: usize = 40;
    const BIG: u64 = 4 * 1024 * 1024;
    let root = std::env::temp_dir().join(format!("http-triage-crash-big-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let src = root.join("src");
    let out = root.join("out");
    let mut files = Vec::new();
    for i in 0..BIG_FILES {
        let rel = PathBuf::from(format!("d{}/big{i:03}.png", i % 3));
        let body = format!("large crash test file {i}\n").into_bytes();
        let p = src.join(&rel);
        std::fs::create_dir_all(p.parent().ok_or("no parent")?)?;
        std::fs::write(&p, &body)?;
        files.push((rel, body));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let serve = ServeConfig {
        api_key: "crash-key".into(),
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: None,
        output_bytes: Some(BIG),
        ..ServeConfig::default()
    };
    let server = rt.block_on(Server::start(serve))?;
    let url = server.convert_url("jpg");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("large crash test seed {seed}");
    let mut rng = XorShift(seed);
    let mut killed = 0;
    for _ in 0..6 {
        let mut child = batch_command(&src, &out, &url).spawn()?;
        std::thread::sleep(Duration::from_millis(30 + rng.next() % 400));
        if child.try_wait()?.is_none() {
            child.kill()?;
            killed += 1;
        }
        child.wait()?;
    }
    assert!(killed >= 3, "only {killed} runs were killed mid-flight");
    let status = batch_command(&src, &out, &url).status()?;
    assert_eq!(status.code(), Some(0), "the final run");
    let stats = server.stats();
    assert_eq!(stats.duplicate_conversions, 0, "a file was converted twice");
    assert_eq!(stats.conversions, BIG_FILES as u64);
    let replay = Replay::from_text(&std::fs::read_to_string(
        out.join(".http-triage").join(LEDGER_FILE),
    )?);
    let mut want = vec![0u8; BIG as usize];
    for (rel, bytes) in &files {
        let id = rel.to_string_lossy().replace('\\', "/");
        assert!(replay.is_done(&id), "{id} is lost");
        ConvertedReader::new(bytes, "jpg", BIG).read_exact(&mut want)?;
        let got = std::fs::read(out.join(rel).with_extension("jpg"))?;
        assert!(got == want, "{id}: wrong or torn output");
    }
    let mut temps = Vec::new();
    for d in 0..3 {
        for e in std::fs::read_dir(out.join(format!("d{d}")))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".part") {
                temps.push(name);
            }
        }
    }
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    eprintln!(
        "large: {killed} kills, {} requests, {} replays",
        stats.requests, stats.replays
    );
    rt.block_on(server.shutdown());
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
