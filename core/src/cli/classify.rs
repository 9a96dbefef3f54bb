//! `http-triage classify` (placeholder, being written).

use std::process::ExitCode;

/// Arguments of `classify`.
#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {}

/// Run `classify`.
pub fn run(_args: ClassifyArgs) -> ExitCode {
    eprintln!("http-triage classify: not built yet");
    ExitCode::from(3)
}
