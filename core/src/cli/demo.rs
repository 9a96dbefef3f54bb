//! `http-triage demo`: start the fake API in-process, write a batch of files to a temp folder,
//! run `batch` against it with the progress bar, print the report and the server's counters.
//! Needs nothing but the binary.

use super::batch::{execute, plan, BatchArgs, Ui};
use crate::serve::{ServeConfig, Server};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How many files to write and convert.
    #[arg(long, default_value_t = 1000)]
    pub files: usize,
    /// Seed of the files' content and of the server's fates.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Keep the temp folder (sources, outputs, ledger) and print where it is.
    #[arg(long)]
    pub keep: bool,
    /// How many files are in flight at once.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
}

/// The variable the demo's `-H 'Authorization: Bearer ${HTTP_TRIAGE_DEMO_KEY}'` reads: the key
/// is never on a command line.
const KEY_VAR: &str = "HTTP_TRIAGE_DEMO_KEY";

/// The fake API's rate limit in the demo (requests per second) and its token bucket's burst.
const RATE: u32 = 300;
const BURST: u32 = 20;

/// Run `demo`.
pub fn run(args: DemoArgs) -> ExitCode {
    super::batch::init_tracing();
    if args.files == 0 || args.concurrency == 0 {
        eprintln!("http-triage demo: --files and --concurrency must be at least 1");
        return ExitCode::from(3);
    }
    let runtime = match super::runtime("demo") {
        Ok(r) => r,
        Err(code) => return code,
    };
    ExitCode::from(runtime.block_on(demo(args)))
}

async fn demo(args: DemoArgs) -> u8 {
    let started = Instant::now();
    // The server behaves like a real API: a token bucket with a small burst, and a 429 says
    // only `Retry-After` in whole seconds (no `retry-after-ms`, no rate-limit headers).
    let serve = ServeConfig {
        seed: args.seed,
        // Hangs cost a moment, not 30 s; the attempt timeout below is longer, so a hang ends in
        // the server's 504 rather than a client timeout.
        hang_ms: 250,
        latency_ms: 2,
        rate_limit_per_sec: Some(RATE),
        burst: Some(BURST),
        api_key: format!(
            "demo-{:016x}",
            args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ),
        ..ServeConfig::default()
    };
    let key = serve.api_key.clone();
    let server = match Server::start(serve).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("http-triage demo: could not start the fake API: {e}");
            return 1;
        }
    };
    let root = std::env::temp_dir().join(format!(
        "http-triage-demo-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let src = root.join("in");
    let out = root.join("out");
    if let Err(e) = write_files(&src, args.files, args.seed) {
        eprintln!(
            "http-triage demo: could not write the files under {}: {e}",
            src.display()
        );
        let _ = std::fs::remove_dir_all(&root);
        return 1;
    }
    eprintln!(
        "http-triage demo: fake API at {} (3% of files bad for good, 5% failing at first, {RATE} req/s limit with bursts of {BURST}, Retry-After in whole seconds); {} files in {}",
        server.url(),
        args.files,
        src.display()
    );
    eprintln!(
        "same as: http-triage batch {} --url '{}' --out {} -H 'Authorization: Bearer ${{{KEY_VAR}}}'",
        src.display(),
        server.convert_url("jpg"),
        out.display()
    );
    let batch_args = BatchArgs {
        src_dir: src.clone(),
        url: server.convert_url("jpg"),
        out: out.clone(),
        ext: Some("jpg".into()),
        headers: vec![format!("Authorization: Bearer ${{{KEY_VAR}}}")],
        concurrency: args.concurrency,
        state: None,
        max_attempts: Some(5),
        timeout: Some(2.0),
        retry_quarantined: false,
        no_fsync: false,
    };
    let env = move |name: &str| (name == KEY_VAR).then(|| key.clone());
    let code = match plan(&batch_args, Some(&env)) {
        Ok(mut p) => {
            // Millisecond-scale backoff: the demo's transient failures clear on the next try.
            p.client.policy = p
                .client
                .policy
                .with_base_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_secs(2));
            execute(p, Ui::detect()).await
        }
        Err(e) => {
            eprintln!("http-triage demo: {e}");
            3
        }
    };
    let s = server.stats();
    println!(
        "server /stats: {} requests, {} conversions, {} replays, {} rate-limited (429), {} dropped, {} hangs, {} duplicate conversions",
        s.requests, s.conversions, s.replays, s.rate_limited, s.dropped, s.hangs, s.duplicate_conversions
    );
    server.shutdown().await;
    if args.keep {
        eprintln!(
            "kept {} (sources in in/, outputs and ledger in out/)",
            root.display()
        );
    } else if let Err(e) = std::fs::remove_dir_all(&root) {
        eprintln!("http-triage demo: could not remove {}: {e}", root.display());
    }
    eprintln!("demo finished in {:.1}s", started.elapsed().as_secs_f64());
    // Quarantined files are the point of the demo, not a failure of it.
    if code == 1 {
        0
    } else {
        code
    }
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The demo's files: varied folders, extensions and sizes, each with distinct content.
pub(crate) fn write_files(src: &Path, n: usize, seed: u64) -> std::io::Result<Vec<PathBuf>> {
    const KINDS: [(&str, &str, &[u8]); 5] = [
        ("photos", "heic", b"\x00\x00\x00\x18ftypheic"),
        ("photos", "png", b"\x89PNG\r\n\x1a\n"),
        ("scans", "pdf", b"%PDF-1.7\n"),
        ("scans", "tiff", b"II*\x00"),
        ("docs", "docx", b"PK\x03\x04"),
    ];
    let mut rng = Rng(seed ^ 0x6874_7470_2d74_7269);
    let mut paths = Vec::with_capacity(n);
    for i in 0..n {
        let (folder, ext, magic) = KINDS[(rng.next() % KINDS.len() as u64) as usize];
        let dir = src.join(folder);
        std::fs::create_dir_all(&dir)?;
        // Mostly small files, a few larger ones: 256 B .. 64 KiB.
        let size = match rng.next() % 10 {
            0 => 16_384 + (rng.next() % 49_152) as usize,
            1..=3 => 2_048 + (rng.next() % 14_336) as usize,
            _ => 256 + (rng.next() % 1_792) as usize,
        };
        let mut body = Vec::with_capacity(size + 32);
        body.extend_from_slice(magic);
        body.extend_from_slice(format!("demo file {i} seed {seed}\n").as_bytes());
        while body.len() < size {
            body.extend_from_slice(&rng.next().to_le_bytes());
        }
        body.truncate(size.max(magic.len() + 8));
        let path = dir.join(format!("file_{i:05}.{ext}"));
        std::fs::write(&path, &body)?;
        paths.push(path);
    }
    Ok(paths)
}
