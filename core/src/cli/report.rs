//! `http-triage report STATE_DIR`: summarize a batch's ledger.
//!
//! Reads `STATE_DIR/ledger.jsonl` (or the file itself when given a file), prints the text report
//! or, with `--json`, the [`Report`](crate::ledger::Report) as JSON. Exit status: 0, or 4 when
//! the failure rate is above `--alert-rate`, or 3 on bad usage (a missing or unreadable ledger,
//! an alert rate outside 0..=1).

use crate::ledger::{report, Replay, ReportOptions, LEDGER_FILE};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The batch's state folder (the one holding `ledger.jsonl`), or the ledger file itself.
    #[arg(value_name = "STATE_DIR")]
    pub state_dir: PathBuf,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Failure rate (quarantined / items, 0..=1) above which to alert with exit status 4.
    #[arg(long, value_name = "R", default_value_t = 0.05)]
    pub alert_rate: f64,
    /// Width in seconds of the time windows failures are grouped in (0: off).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub window: u64,
    /// The fewest failures that make a correlated cluster.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub min_cluster: usize,
}

/// Run `report`.
pub fn run(args: ReportArgs) -> ExitCode {
    if !(0.0..=1.0).contains(&args.alert_rate) {
        eprintln!(
            "http-triage report: --alert-rate must be between 0 and 1 (got {})",
            args.alert_rate
        );
        return ExitCode::from(3);
    }
    let path = if args.state_dir.is_dir() {
        args.state_dir.join(LEDGER_FILE)
    } else {
        args.state_dir.clone()
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "no such file (is this the batch's --state folder?)".to_owned()
            } else {
                e.to_string()
            };
            eprintln!(
                "http-triage report: cannot read the ledger {}: {why}",
                path.display()
            );
            return ExitCode::from(3);
        }
    };
    // Invalid UTF-8 only spoils its own line, which then reads as a bad line.
    let text = String::from_utf8_lossy(&bytes);
    let replay = Replay::from_text(&text);
    let options = ReportOptions {
        alert_rate: args.alert_rate,
        correlation_window_ms: args.window.saturating_mul(1000),
        min_cluster: args.min_cluster,
    };
    let rep = report(&replay, &options);
    let out = if args.json {
        match serde_json::to_string_pretty(&rep) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("http-triage report: cannot write JSON: {e}");
                return ExitCode::from(3);
            }
        }
    } else {
        format!("ledger: {}\n{}", path.display(), rep.render_text())
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("http-triage report: cannot write the report: {e}");
            return ExitCode::from(3);
        }
    }
    if rep.above_threshold {
        ExitCode::from(4)
    } else {
        ExitCode::SUCCESS
    }
}
