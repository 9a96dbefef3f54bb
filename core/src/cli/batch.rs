//! `http-triage batch` (placeholder, being written).

use std::process::ExitCode;

/// Arguments of `batch`.
#[derive(Debug, clap::Args)]
pub struct BatchArgs {}

/// Run `batch`.
pub fn run(_args: BatchArgs) -> ExitCode {
    eprintln!("http-triage batch: not built yet");
    ExitCode::from(3)
}
