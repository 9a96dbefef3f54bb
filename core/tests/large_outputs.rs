//! Bounded memory for large outputs: the real `http-triage batch` binary converts 10 files whose
//! answers are 200 MB each (the fake API's `output_bytes`, streamed) with a peak RSS under
//! 100 MB, and every output is byte-exact.
//!
//! The child's peak RSS comes from `/usr/bin/time -v` when it is installed, else from polling
//! the child's `VmHWM` (its own high-water mark) in `/proc/PID/status` until it exits.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use http_triage::serve::{ConvertedReader, ServeConfig, Server};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 10;
const ANSWER_BYTES: u64 = 200 * 1024 * 1024;
const RSS_LIMIT_KB: u64 = 100 * 1024;
const KEY_VAR: &str = "HTTP_TRIAGE_LARGE_KEY";

/// A scratch folder under /tmp, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Free space in KiB on the file system holding `dir`, from `df -Pk` (None when `df` is missing
/// or says something else).
fn free_kib(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

/// Run `cmd` and return its exit success, stderr and peak RSS in KiB.
fn run_measured(mut cmd: Command) -> (bool, String, u64) {
    let time = Path::new("/usr/bin/time");
    if time.exists() {
        let mut wrapped = Command::new(time);
        wrapped
            .arg("-v")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        let out = wrapped.stdout(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let kb = stderr
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes):")
                    .map(|v| v.trim().parse::<u64>().unwrap())
            })
            .expect("no RSS line from /usr/bin/time -v");
        return (out.status.success(), stderr, kb);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            }) {
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(peak > 0, "could not read the child's VmHWM");
    (status.success(), stderr, peak)
}

/// Compare a file with the expected converted body, a MiB at a time.
fn same_as_expected(path: &Path, input: &[u8]) -> bool {
    let mut file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut want = ConvertedReader::new(input, "bin", ANSWER_BYTES);
    if std::fs::metadata(path).unwrap().len() != ANSWER_BYTES {
        return false;
    }
    let mut a = vec![0u8; 1 << 20];
    let mut b = vec![0u8; 1 << 20];
    loop {
        let n = want.read(&mut a).unwrap();
        if n == 0 {
            return true;
        }
        file.read_exact(&mut b[..n]).unwrap();
        if a[..n] != b[..n] {
            return false;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_answers_of_200_mb_stay_under_100_mb_rss() {
    let root = std::env::temp_dir().join(format!("http-triage-large-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let scratch = Scratch(root.clone());
    let src = root.join("in");
    let out = root.join("out");
    std::fs::create_dir_all(&src).unwrap();
    // The outputs take 2 GB: say so up front rather than fail mid-batch on ENOSPC.
    let need_kib = FILES as u64 * (ANSWER_BYTES >> 10) + (256 << 10);
    if let Some(free) = free_kib(&root) {
        assert!(
            free >= need_kib,
            "this test writes {} MB under {}, but only {} MB are free there",
            need_kib >> 10,
            root.display(),
            free >> 10
        );
    }
    let mut inputs = Vec::new();
    for i in 0..FILES {
        let body = format!("large output test file {i}\n").into_bytes();
        std::fs::write(src.join(format!("f{i}.dat")), &body).unwrap();
        inputs.push((format!("f{i}.bin"), body));
    }
    let key = format!("large-{}", std::process::id());
    let server = Server::start(ServeConfig {
        api_key: key.clone(),
        permanent_rate: 0.0,
        transient_rate: 0.0,
        rate_limit_per_sec: None,
        output_bytes: Some(ANSWER_BYTES),
        ..ServeConfig::default()
    })
    .await
    .unwrap();

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_http-triage"));
    cmd.arg("batch")
        .arg(&src)
        .arg("--url")
        .arg(server.convert_url("bin"))
        .arg("--out")
        .arg(&out)
        .arg("-H")
        .arg(format!("Authorization: Bearer ${{{KEY_VAR}}}"))
        .arg("--concurrency")
        .arg(FILES.to_string())
        .arg("--timeout")
        .arg("300")
        .env(KEY_VAR, &key);
    let t0 = Instant::now();
    let (ok, stderr, peak_kb) = tokio::task::spawn_blocking(move || run_measured(cmd))
        .await
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let stats = server.stats();
    server.shutdown().await;
    eprintln!(
        "{FILES} answers of {} MB: peak RSS {:.1} MB, {secs:.1}s",
        ANSWER_BYTES >> 20,
        peak_kb as f64 / 1024.0
    );
    assert!(ok, "batch failed: {stderr}");
    assert_eq!(stats.conversions, FILES as u64);
    for (name, input) in &inputs {
        let path = out.join(name);
        assert!(same_as_expected(&path, input), "{} differs", path.display());
    }
    // Only the outputs and the state folder: no temp file left behind.
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), FILES + 1, "{names:?}");
    assert!(
        peak_kb < RSS_LIMIT_KB,
        "peak RSS {peak_kb} KiB >= {RSS_LIMIT_KB} KiB"
    );
    drop(scratch);
}
