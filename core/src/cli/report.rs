//! `http-triage report` (placeholder, being written).

use std::process::ExitCode;

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

/// Run `report`.
pub fn run(_args: ReportArgs) -> ExitCode {
    eprintln!("http-triage report: not built yet");
    ExitCode::from(3)
}
