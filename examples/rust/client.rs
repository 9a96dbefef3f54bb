//! Run: cargo run -p http-triage-examples --bin client
//!
//! Starts the fault-injecting fake API in-process, sends it 20 files through the retrying
//! [`Client`](http_triage::client::Client), and prints what happened to each: how many attempts,
//! and every decision on the way. Set `RUST_LOG=http_triage=debug` to see the per-attempt events.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use http_triage::client::{CallError, CallOptions, Client, ClientConfig};
    use http_triage::serve::{ServeConfig, Server};
    use http_triage::RetryPolicy;
    use std::time::Duration;

    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();

    // A server where a third of the files fail transiently at first, with short hangs.
    let server = Server::start(ServeConfig {
        transient_rate: 0.3,
        permanent_rate: 0.1,
        hang_ms: 1_500,
        ..ServeConfig::default()
    })
    .await?;
    println!("fake API on {}", server.url());

    let config = ClientConfig::default()
        .with_policy(
            RetryPolicy::DEFAULT
                .with_base_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(2)),
        )
        .with_attempt_timeout(Duration::from_secs(1));
    let client = Client::new(config)?;

    for i in 0..20 {
        let file = format!("%PDF-1.7 example file number {i}\n").into_bytes();
        let request = client
            .http()
            .post(server.convert_url("docx"))
            .bearer_auth("demo-key")
            .body(file)
            .build()?;
        // The key comes from the item, so a resumed run would reuse it.
        let options = CallOptions::new().with_idempotency_key(format!("example-item-{i}"));
        match client.execute(request, options).await {
            Ok(done) => {
                let steps: Vec<&str> = done.history.iter().map(|r| r.decision).collect();
                println!(
                    "file {i:2}: converted, {} bytes, {} attempt(s) {steps:?}",
                    done.body.len(),
                    done.attempts
                );
            }
            Err(e @ CallError::Stopped { .. }) => {
                println!("file {i:2}: {e}; stopping");
                break;
            }
            Err(e) => println!("file {i:2}: {e}"),
        }
    }

    let stats = server.stats();
    println!(
        "server saw {} requests, converted {} files, {} twice",
        stats.requests, stats.conversions, stats.duplicate_conversions
    );
    server.shutdown().await;
    Ok(())
}
