//! `http-triage serve`: run the fault-injecting fake conversion API on 127.0.0.1.

use crate::serve::{ErrorDialect, RateChange, RateHeaders, RateLimiter, ServeConfig, Server};
use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;

/// A secret read from a flag or the environment; its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            Err("the key must not be empty".to_owned())
        } else {
            Ok(Secret(s.to_owned()))
        }
    }
}

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 = any free port; the chosen one is printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The accepted bearer key (`Authorization: Bearer KEY`; default `demo-key`). Prefer the
    /// environment variable: a key on the command line is visible to other users of the machine.
    #[arg(
        long = "key",
        env = "HTTP_TRIAGE_SERVE_KEY",
        default_value = "demo-key",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub key: Secret,
    /// Error body shape: nested (seed 001), flat (seed 002), minimal, or problem (RFC 9457).
    #[arg(long, default_value = "nested")]
    pub dialect: ErrorDialect,
    /// Fraction of files that fail permanently (422/413/400), in [0, 1].
    #[arg(long, default_value_t = 0.03)]
    pub permanent_rate: f64,
    /// Fraction of files that fail transiently 1-2 times, then convert, in [0, 1].
    #[arg(long, default_value_t = 0.05)]
    pub transient_rate: f64,
    /// Requests per second per key before 429 rate_limited (0 = no limit).
    #[arg(long, default_value_t = 200)]
    pub rate_limit: u32,
    /// How the limit is enforced: `bucket` (a token bucket refilled at the rate, holding
    /// `--burst` tokens), `window` (fixed windows of `--window-secs`, each of rate x
    /// window-secs requests) or `sliding` (at most rate x window-secs requests in any rolling
    /// `--window-secs`: a sliding-window log).
    #[arg(long, default_value = "bucket")]
    pub limiter: RateLimiter,
    /// The window limiters' window, in seconds (1 to 86400).
    #[arg(long, default_value_t = 1)]
    pub window_secs: u32,
    /// The token bucket's capacity (default: one second's worth, the rate).
    #[arg(long)]
    pub burst: Option<u32>,
    /// The limit changes at given times: `T:RATE,...` (T seconds since the server started,
    /// RATE requests per second, 0 = no limit), e.g. `10:30,16:100`.
    #[arg(long, value_delimiter = ',', value_name = "T:RATE")]
    pub rate_change: Vec<RateChange>,
    /// Also send `retry-after-ms` (the exact wait) on a 429. Without it, like real APIs, only
    /// `Retry-After` in whole seconds (rounded up, at least 1).
    #[arg(long)]
    pub retry_after_ms: bool,
    /// Rate-limit headers on every answer: `x-ratelimit` (X-RateLimit-Limit/Remaining/Reset,
    /// reset in delta seconds; the default when the flag has no value), `ietf` (RateLimit,
    /// RateLimit-Policy) or `off`.
    #[arg(long, default_value = "off", num_args = 0..=1, default_missing_value = "x-ratelimit")]
    pub rate_headers: RateHeaders,
    /// Answer browsers from any origin (Access-Control-Allow-Origin: *, OPTIONS preflights).
    #[arg(long)]
    pub cors: bool,
    /// Make every converted body exactly N bytes (head line, input, deterministic filler),
    /// streamed: for testing large outputs.
    #[arg(long, value_name = "N")]
    pub output_bytes: Option<u64>,
    /// Successful conversions allowed before 429 quota_exceeded (default: no quota).
    #[arg(long)]
    pub quota: Option<u64>,
    /// Answer every conversion with 503 service_unavailable.
    #[arg(long)]
    pub outage: bool,
    /// How long a "hang" fault stalls before answering 504, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub hang_ms: u64,
    /// Latency added to every conversion, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Seed mixed into each file's fate (another seed, other failing files).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ServeArgs {
    /// The server configuration these flags describe (not yet validated).
    pub fn to_config(&self) -> ServeConfig {
        ServeConfig {
            port: self.port,
            api_key: self.key.expose().to_owned(),
            dialect: self.dialect,
            permanent_rate: self.permanent_rate,
            transient_rate: self.transient_rate,
            rate_limit_per_sec: (self.rate_limit > 0).then_some(self.rate_limit),
            limiter: self.limiter,
            burst: self.burst,
            window_secs: self.window_secs,
            rate_changes: self.rate_change.clone(),
            retry_after_ms: self.retry_after_ms,
            rate_headers: self.rate_headers,
            cors: self.cors,
            output_bytes: self.output_bytes,
            quota: self.quota,
            outage: self.outage,
            hang_ms: self.hang_ms,
            latency_ms: self.latency_ms,
            seed: self.seed,
            ..ServeConfig::default()
        }
    }
}

/// Run `serve`: print `listening on http://127.0.0.1:PORT` on stdout, serve until Ctrl-C or
/// SIGTERM. Exit 3 on bad options, 1 when the server cannot start.
pub fn run(args: ServeArgs) -> ExitCode {
    let config = args.to_config();
    if let Err(e) = config.validate() {
        let e = e
            .replace("permanent_rate", "--permanent-rate")
            .replace("transient_rate", "--transient-rate")
            .replace("api_key", "--key")
            .replace("burst", "--burst")
            .replace("window_secs", "--window-secs");
        eprintln!("http-triage serve: {e}");
        return ExitCode::from(3);
    }
    let runtime = match super::runtime("serve") {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let summary = format!(
            "dialect={} permanent_rate={} transient_rate={} rate_limit={} limiter={} window_secs={} burst={} rate_change={} retry_after_ms={} rate_headers={} cors={} quota={} outage={} hang_ms={} latency_ms={} seed={}",
            config.dialect,
            config.permanent_rate,
            config.transient_rate,
            config.rate_limit_per_sec.map_or("off".to_owned(), |r| format!("{r}/s")),
            config.limiter,
            config.window_secs,
            config.burst.map_or("rate".to_owned(), |b| b.to_string()),
            if config.rate_changes.is_empty() {
                "none".to_owned()
            } else {
                config
                    .rate_changes
                    .iter()
                    .map(|c| format!("{}s:{}/s", c.at.as_secs_f64(), c.rate))
                    .collect::<Vec<_>>()
                    .join(",")
            },
            config.retry_after_ms,
            config.rate_headers,
            config.cors,
            config.quota.map_or("none".to_owned(), |q| q.to_string()),
            config.outage,
            config.hang_ms,
            config.latency_ms,
            config.seed,
        );
        let server = match Server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("http-triage serve: cannot listen: {e}");
                return ExitCode::from(1);
            }
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {}", server.url());
            let _ = out.flush();
        }
        eprintln!("http-triage serve: {summary}");
        eprintln!(
            "http-triage serve: POST {}/v1/convert?target=EXT with `Authorization: Bearer <key>`; GET /stats; Ctrl-C to stop",
            server.url()
        );
        wait_for_signal().await;
        let stats = server.stats();
        server.shutdown().await;
        eprintln!(
            "http-triage serve: stopped after {} requests, {} conversions, {} replays",
            stats.requests, stats.conversions, stats.replays
        );
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn config(argv: &[&str]) -> Result<ServeConfig, clap::Error> {
        let mut all = vec!["serve"];
        all.extend_from_slice(argv);
        Wrap::try_parse_from(all).map(|w| w.args.to_config())
    }

    #[test]
    fn defaults_are_realistic() -> Result<(), clap::Error> {
        let c = config(&[])?;
        assert_eq!(c.limiter, RateLimiter::Bucket);
        assert_eq!((c.burst, c.retry_after_ms, c.cors), (None, false, false));
        assert_eq!(c.rate_headers, RateHeaders::Off);
        assert!(c.rate_changes.is_empty());
        assert_eq!(c.output_bytes, None);
        Ok(())
    }

    #[test]
    fn every_new_flag_parses() -> Result<(), clap::Error> {
        let c = config(&[
            "--limiter",
            "window",
            "--burst",
            "20",
            "--rate-change",
            "6:30,12.5:100",
            "--retry-after-ms",
            "--rate-headers",
            "--cors",
            "--output-bytes",
            "1000",
        ])?;
        assert_eq!(c.limiter, RateLimiter::Window);
        assert_eq!(c.burst, Some(20));
        assert_eq!(
            c.rate_changes,
            [
                RateChange {
                    at: Duration::from_secs(6),
                    rate: 30
                },
                RateChange {
                    at: Duration::from_millis(12_500),
                    rate: 100
                }
            ]
        );
        assert!(c.retry_after_ms && c.cors);
        // A bare --rate-headers means X-RateLimit-*.
        assert_eq!(c.rate_headers, RateHeaders::XRateLimit);
        assert_eq!(c.output_bytes, Some(1000));
        assert_eq!(
            config(&["--rate-headers", "ietf"])?.rate_headers,
            RateHeaders::Ietf
        );
        assert!(config(&["--rate-change", "1:x"]).is_err());
        assert!(config(&["--limiter", "leaky"]).is_err());
        let c = config(&["--limiter", "sliding", "--window-secs", "10"])?;
        assert_eq!((c.limiter, c.window_secs), (RateLimiter::Sliding, 10));
        assert!(c.validate().is_ok());
        assert!(config(&["--window-secs", "0"])?.validate().is_err());
        let huge = config(&[
            "--limiter",
            "sliding",
            "--window-secs",
            "86400",
            "--rate-limit",
            "100",
        ])?;
        assert!(huge.validate().is_err_and(|e| e.contains("window_secs")));
        Ok(())
    }
}
