//! `http-triage serve` (placeholder, being written).

use std::process::ExitCode;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Run `serve`.
pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("http-triage serve: not built yet");
    ExitCode::from(3)
}
