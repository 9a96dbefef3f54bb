//! The `http-triage` binary: see `http_triage::cli`.

fn main() -> std::process::ExitCode {
    http_triage::cli::main()
}
