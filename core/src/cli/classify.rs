//! `http-triage classify`: JSON lines of responses on stdin → JSON lines of verdicts on stdout.
//! The contract is [`crate::wire`]'s.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// Arguments of `classify`.
#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// Unix time in seconds to use for lines without `now` (default: the current time).
    #[arg(long)]
    pub now: Option<f64>,
}

/// Run `classify`. Exit status 0, or 1 when stdin could not be read at all (a bad line only
/// gives an error line for that line).
pub fn run(args: ClassifyArgs) -> ExitCode {
    let default_now_ms = match args.now {
        Some(s) if s.is_finite() && s >= 0.0 => (s * 1000.0).round() as i64,
        Some(_) => {
            eprintln!("http-triage classify: --now must be non-negative Unix seconds");
            return ExitCode::from(3);
        }
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0),
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = out.flush();
                eprintln!("http-triage classify: cannot read stdin: {e}");
                return ExitCode::from(1);
            }
        }
        line_no += 1;
        // Invalid UTF-8 in a line is that line's problem, not the run's.
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim();
        if line.is_empty() {
            continue;
        }
        let result = crate::wire::classify_line(line, line_no, default_now_ms);
        if writeln!(out, "{result}").is_err() {
            // stdout closed (e.g. `| head`): nothing more to do.
            return ExitCode::SUCCESS;
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}
