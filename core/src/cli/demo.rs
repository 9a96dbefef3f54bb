//! `http-triage demo` (placeholder, being written).

use std::process::ExitCode;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Run `demo`.
pub fn run(_args: DemoArgs) -> ExitCode {
    eprintln!("http-triage demo: not built yet");
    ExitCode::from(3)
}
