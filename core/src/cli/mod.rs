//! The `http-triage` command line: `classify`, `batch`, `report`, `serve`, `demo`.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod batch;
pub mod classify;
pub mod demo;
pub mod report;
pub mod serve;

/// http-triage: turn failed HTTP API calls into decisions.
#[derive(Debug, Parser)]
#[command(name = "http-triage", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify JSON lines of responses (stdin) into JSON lines of verdicts (stdout).
    Classify(classify::ClassifyArgs),
    /// POST every file under a folder to an API, retrying, quarantining and resuming.
    Batch(batch::BatchArgs),
    /// Summarize a batch's ledger: counts, failure rate, correlated failures, remedies.
    Report(report::ReportArgs),
    /// Run the fault-injecting fake conversion API on 127.0.0.1.
    Serve(serve::ServeArgs),
    /// Start `serve`, run a 1,000-file batch against it, and print the report.
    Demo(demo::DemoArgs),
}

/// Parse the arguments and run. Exit status 3 on bad usage.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 3 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Classify(a) => classify::run(a),
        Command::Batch(a) => batch::run(a),
        Command::Report(a) => report::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
    }
}

/// The multi-threaded tokio runtime the IO subcommands run on; on failure, the message is
/// printed (prefixed with `http-triage {command}`) and the exit status is 1.
pub(crate) fn runtime(command: &str) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("http-triage {command}: could not start the async runtime: {e}");
            ExitCode::from(1)
        })
}
