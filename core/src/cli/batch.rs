//! `http-triage batch SRC_DIR --url URL --out OUT_DIR`: POST every file under a folder, write
//! each 2xx body under OUT_DIR, quarantine what fails for good, stop on auth or quota, resume.
//!
//! Exit status: 0 all done, 1 some quarantined or deferred, 2 stopped on auth or quota, 3 bad
//! usage.

use crate::batch::{Batch, BatchConfig, Item, Progress, Summary};
use crate::client::{Client, ClientConfig};
use crate::ledger::{report, Replay, ReportOptions};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `batch`.
#[derive(Debug, Clone, clap::Args)]
pub struct BatchArgs {
    /// The folder of files to send (walked recursively, in sorted order).
    pub src_dir: PathBuf,
    /// Where each file is POSTed, used as given (e.g. `http://127.0.0.1:8080/v1/convert?target=jpg`).
    #[arg(long)]
    pub url: String,
    /// Where each 2xx body is written, under the file's relative path.
    #[arg(long)]
    pub out: PathBuf,
    /// The output extension (without the dot). Default: the URL's `target` query parameter if
    /// it has one, else the source's own extension.
    #[arg(long)]
    pub ext: Option<String>,
    /// A request header, `'Name: value'`, repeatable. `${VAR}` in the value is read from the
    /// environment, so a key need not be on the command line: `-H 'Authorization: Bearer ${API_KEY}'`.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// How many files are in flight at once.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// The ledger folder. Default: OUT_DIR/.http-triage.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Attempts per file (the first request included).
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Timeout of each attempt, in seconds (fractions allowed).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Send the files quarantined in an earlier run again.
    #[arg(long)]
    pub retry_quarantined: bool,
    /// Skip the fsyncs of outputs and ledger. Still safe when this process is killed (the
    /// rename-then-record order holds), not after a power loss or an OS crash. Faster when the
    /// server answers in under a millisecond or two.
    #[arg(long)]
    pub no_fsync: bool,
}

/// Run `batch`.
pub fn run(args: BatchArgs) -> ExitCode {
    init_tracing();
    let plan = match plan(&args, None) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("http-triage batch: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = match super::runtime("batch") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let code = runtime.block_on(execute(plan, Ui::detect()));
    ExitCode::from(code)
}

/// Log the client's `tracing` events to stderr when `RUST_LOG` is set.
pub(crate) fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Where `${VAR}` values come from (the process environment unless a test or the demo says).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A checked batch: everything `execute` needs.
pub(crate) struct Plan {
    pub(crate) src: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) items: Vec<Item>,
    pub(crate) config: BatchConfig,
    pub(crate) client: ClientConfig,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ui {
    /// An indicatif bar on stderr.
    Bar,
    /// Plain lines on stderr.
    Lines,
}

impl Ui {
    pub(crate) fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Ui::Bar
        } else {
            Ui::Lines
        }
    }
}

/// Check the arguments and list the files. Every error is a usage error (exit 3) and never
/// contains a header's value.
pub(crate) fn plan(args: &BatchArgs, env: Option<EnvLookup<'_>>) -> Result<Plan, String> {
    let url =
        reqwest::Url::parse(&args.url).map_err(|e| format!("--url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("--url must be an http:// or https:// URL with a host".into());
    }
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    if args.max_attempts == Some(0) {
        return Err("--max-attempts must be at least 1".into());
    }
    let timeout = match args.timeout {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            return Err("--timeout must be a positive number of seconds".into())
        }
        Some(t) => Some(Duration::from_secs_f64(t)),
        None => None,
    };
    let std_env = |name: &str| std::env::var(name).ok();
    let env: &dyn Fn(&str) -> Option<String> = match env {
        Some(e) => e,
        None => &std_env,
    };
    let mut headers = HeaderMap::new();
    for raw in &args.headers {
        let (name, value) = parse_header(raw, env)?;
        headers.append(name, value);
    }
    if !args.src_dir.is_dir() {
        return Err(format!("{} is not a folder", args.src_dir.display()));
    }
    let ext = match &args.ext {
        Some(e) => Some(e.trim_start_matches('.').to_owned()),
        None => url
            .query_pairs()
            .find(|(k, _)| k == "target")
            .map(|(_, v)| v.into_owned()),
    };
    if let Some(e) = &ext {
        if e.is_empty() || e.contains('/') || e.contains('\\') {
            return Err("--ext must be a plain extension such as jpg".into());
        }
    }
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| args.out.join(".http-triage"));
    let files = walk(&args.src_dir, &[args.out.clone(), state.clone()])
        .map_err(|e| format!("could not list {}: {e}", args.src_dir.display()))?;
    let items = files
        .into_iter()
        .map(|(rel, path)| {
            let mut out = args.out.join(&rel);
            if let Some(e) = &ext {
                out.set_extension(e);
            }
            let id = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            Item::file(id, path, Some(out))
        })
        .collect();

    let mut config = BatchConfig::new(url, state);
    config.headers = headers;
    config.concurrency = args.concurrency;
    config.retry_quarantined = args.retry_quarantined;
    if args.no_fsync {
        config.durability = crate::batch::Durability {
            sync_outputs: false,
            sync_ledger: false,
        };
    }
    let mut client = ClientConfig::default();
    if let Some(n) = args.max_attempts {
        client.policy = client.policy.with_max_attempts(n);
    }
    if let Some(t) = timeout {
        client.attempt_timeout = t;
    }
    Ok(Plan {
        src: args.src_dir.clone(),
        out: args.out.clone(),
        items,
        config,
        client,
    })
}

/// `Name: value` with `${VAR}` expanded. The value is marked sensitive when it came from the
/// environment (or the header is a credential), so it is redacted everywhere.
pub(crate) fn parse_header(
    raw: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(HeaderName, HeaderValue), String> {
    let Some((name, value)) = raw.split_once(':') else {
        return Err("-H wants 'Name: value' (no ':' found)".into());
    };
    let name = name.trim();
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        let shown: String = name.chars().take(64).collect();
        format!("-H: `{shown}` is not a valid header name")
    })?;
    let (value, from_env) =
        expand_env(value.trim(), env).map_err(|e| format!("-H '{name}: …': {e}"))?;
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| format!("-H '{name}: …': the value has characters a header cannot carry"))?;
    let n = name.as_str();
    if from_env
        || matches!(n, "authorization" | "proxy-authorization" | "cookie")
        || n.contains("key")
        || n.contains("token")
        || n.contains("secret")
    {
        value.set_sensitive(true);
    }
    Ok((name, value))
}

/// Expand `${VAR}` from `env`. Returns the value and whether anything was expanded. An unset
/// variable is an error naming the variable (never a value).
pub(crate) fn expand_env(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut expanded = false;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("`${` without a closing `}`".into());
        };
        let var = &after[..end];
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let shown: String = var.chars().take(64).collect();
            return Err(format!("`${{{shown}}}` is not a valid variable name"));
        }
        match env(var) {
            Some(v) => out.push_str(&v),
            None => return Err(format!("the environment variable {var} is not set")),
        }
        expanded = true;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, expanded))
}

/// Files under `root`, recursively, sorted by relative path; folders in `skip` (the output and
/// state folders when they are nested in the source) are not entered. Symlinks to files are
/// followed; symlinked folders are not (no loops).
pub(crate) fn walk(root: &Path, skip: &[PathBuf]) -> std::io::Result<Vec<(PathBuf, PathBuf)>> {
    let skip: Vec<PathBuf> = skip.iter().filter_map(|p| p.canonicalize().ok()).collect();
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(c) = dir.canonicalize() {
            if skip.contains(&c) {
                continue;
            }
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Run a checked batch, draw its progress, print the report; returns the exit status.
pub(crate) async fn execute(plan: Plan, ui: Ui) -> u8 {
    let Plan {
        src,
        out,
        items,
        config,
        client,
    } = plan;
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("http-triage batch: could not create {}: {e}", out.display());
        return 3;
    }
    let client = match Client::new(client) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("http-triage batch: could not set up the HTTP client: {e}");
            return 3;
        }
    };
    let state = config.state_dir.clone();
    let batch = match Batch::new(client, config) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("http-triage batch: {e}");
            return 3;
        }
    };
    eprintln!(
        "http-triage batch: {} files under {} -> {} (ledger {})",
        items.len(),
        src.display(),
        out.display(),
        state.join(crate::ledger::LEDGER_FILE).display()
    );
    let draw = Draw::new(ui);
    let draw_cb = draw.clone();
    let result = batch.run(items, move |p| draw_cb.show(p)).await;
    draw.finish();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("http-triage batch: {}", batch.redact(&e.to_string()));
            return 1;
        }
    };
    print_report(&batch, &summary);
    summary.exit_status()
}

fn print_report(batch: &Batch, summary: &Summary) {
    let p = &summary.progress;
    match std::fs::read_to_string(&summary.ledger) {
        Ok(text) => {
            let replay = Replay::from_text(&text);
            let r = report(&replay, &ReportOptions::default());
            println!("{}", batch.redact(&r.render_text()));
        }
        Err(e) => eprintln!("http-triage batch: could not read the ledger back: {e}"),
    }
    eprintln!(
        "this run: {} done, {} quarantined, {} deferred, {} stopped, {} not started; {} skipped (done earlier), {} left quarantined; {} requests ({} answered 429) in {:.1}s",
        p.done,
        p.quarantined,
        p.deferred,
        p.stopped,
        p.not_started,
        p.skipped_done,
        p.skipped_quarantined,
        p.requests,
        p.throttled,
        summary.elapsed.as_secs_f64()
    );
    if let Some(stop) = &summary.stop {
        eprintln!("stopped: {}", batch.redact(&stop.message("given with -H")));
        eprintln!("nothing is lost: run the same command again to resume");
    } else if let Some(e) = &summary.output_error {
        eprintln!("stopped: {}", batch.redact(e));
    } else if p.deferred > 0 {
        eprintln!("{} files were deferred (rate limit, open circuit or retry budget): run the same command again to resume them", p.deferred);
    }
}

/// What the progress line says while the host pushes back: the paced rate ("paced at 96
/// req/s").
fn pacing(p: &Progress) -> String {
    match p.paced_rate {
        Some(rate) if rate >= 10.0 => format!(" (host pushing back: paced at {rate:.0} req/s)"),
        Some(rate) => format!(" (host pushing back: paced at {rate:.1} req/s)"),
        None => String::new(),
    }
}

/// Progress drawing, shared with the callback.
#[derive(Clone)]
struct Draw {
    bar: Option<indicatif::ProgressBar>,
    next_line: Arc<AtomicUsize>,
}

impl Draw {
    fn new(ui: Ui) -> Self {
        let bar = match ui {
            Ui::Bar => {
                let bar = indicatif::ProgressBar::with_draw_target(
                    Some(0),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:40.cyan/blue} {pos}/{len} eta {eta} {msg}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.enable_steady_tick(Duration::from_millis(120));
                Some(bar)
            }
            Ui::Lines => None,
        };
        Draw {
            bar,
            next_line: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn show(&self, p: &Progress) {
        let counts = format!(
            "{} done, {} quarantined, {} deferred{}{}",
            p.done,
            p.quarantined,
            p.deferred,
            pacing(p),
            if p.stopped + p.not_started > 0 {
                ", stopping"
            } else {
                ""
            }
        );
        match &self.bar {
            Some(bar) => {
                bar.set_length(p.to_run as u64);
                bar.set_position(p.finished as u64);
                bar.set_message(counts);
            }
            None => {
                let step = (p.to_run / 10).clamp(1, 100);
                let next = self.next_line.load(Ordering::Relaxed);
                if p.finished == 0 && next == 0 {
                    eprintln!(
                        "{} to send ({} done earlier, {} quarantined earlier)",
                        p.to_run, p.skipped_done, p.skipped_quarantined
                    );
                    self.next_line.store(step, Ordering::Relaxed);
                } else if (p.finished >= next || p.finished == p.to_run)
                    && self
                        .next_line
                        .compare_exchange(
                            next,
                            p.finished - p.finished % step + step,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    eprintln!("[{}/{}] {counts}", p.finished, p.to_run);
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "API_KEY").then(|| "sk-test-123".to_owned())
    }

    #[test]
    fn headers_expand_env_and_are_sensitive() {
        let (n, v) = match parse_header("Authorization: Bearer ${API_KEY}", &env) {
            Ok(x) => x,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(n.as_str(), "authorization");
        assert_eq!(v.to_str().ok(), Some("Bearer sk-test-123"));
        assert!(v.is_sensitive());
        let (_, v) = match parse_header("Accept: image/jpeg", &env) {
            Ok(x) => x,
            Err(e) => panic!("{e}"),
        };
        assert!(!v.is_sensitive());
    }

    #[test]
    fn bad_headers_name_the_variable_not_a_value() {
        let e = parse_header("X-Key: ${NOPE}", &env)
            .err()
            .unwrap_or_default();
        assert!(e.contains("NOPE"), "{e}");
        let e = parse_header("no colon here", &env)
            .err()
            .unwrap_or_default();
        assert!(e.contains("Name: value"), "{e}");
        let e = parse_header("Bad Name: x", &env).err().unwrap_or_default();
        assert!(e.contains("not a valid header name"), "{e}");
    }
}
