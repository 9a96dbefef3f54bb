//! The driver as a [`reqwest_middleware::Middleware`], for users of `reqwest-retry`.

use super::driver::{self, Done, Outcome, Received, Sender, Shared};
use super::{CallOptions, ClientConfig, ClientError, HostStatus};
use http::{Extensions, HeaderMap, StatusCode, Version};
use reqwest::ResponseBuilderExt;
use std::sync::Arc;

/// The [`Client`](super::Client)'s loop as a `reqwest_middleware::Middleware`: switching from
/// `reqwest-retry` is one line.
///
/// ```no_run
/// use http_triage::client::{ClientConfig, TriageMiddleware};
/// use reqwest_middleware::ClientBuilder;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(TriageMiddleware::new(ClientConfig::default())?)
///     .build();
/// let response = client.get("http://127.0.0.1:8080/v1/items").send().await?;
/// println!("{}", response.status());
/// # Ok(())
/// # }
/// ```
///
/// - Options per request: put a [`CallOptions`] in the request's extensions
///   (`.with_extension(CallOptions::new().with_idempotency_key("item-42"))`).
/// - The result is the final `reqwest::Response`, rebuilt from parts because the body was read
///   to classify it: whole for a success, at most [`Limits::max_body_bytes`](crate::Limits) for
///   an error (then without `Content-Length`).
/// - On a terminal failure (gave up, stopped, deferred, budget exhausted, or an open breaker
///   after an earlier attempt answered) the last response is returned as it came, as
///   `reqwest-retry` does, so `error_for_status` and friends keep working.
/// - When the last attempt got no response (a transport failure), or the breaker rejected the
///   first attempt, the result is `Error::Middleware` wrapping the [`CallError`](super::CallError),
///   which carries the classification and the history (`downcast_ref::<CallError>()`).
/// - Errors from other middlewares further down that are not reqwest errors are passed through
///   untouched and not retried.
#[derive(Debug, Clone)]
pub struct TriageMiddleware {
    shared: Arc<Shared>,
}

impl TriageMiddleware {
    /// A middleware with these options. Fails on invalid options.
    pub fn new(config: ClientConfig) -> Result<TriageMiddleware, ClientError> {
        Ok(TriageMiddleware {
            shared: Arc::new(Shared::new(config)?),
        })
    }

    /// The options this middleware was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The gate, breaker and budget of a host (`"host:port"`), or `None` before any call to it.
    pub fn host_status(&self, host: &str) -> Option<HostStatus> {
        self.shared.host_status(host)
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for TriageMiddleware {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let options = extensions.get::<CallOptions>().cloned().unwrap_or_default();
        let mut sender = Sender::Next { next, extensions };
        match driver::run(&self.shared, &mut sender, req, &options, None).await {
            Outcome::Done(done) => Ok(done_response(done)),
            Outcome::Failed {
                last: Some(last), ..
            } => Ok(received_response(last)),
            Outcome::Failed { error, last: None } => {
                Err(reqwest_middleware::Error::middleware(error))
            }
            Outcome::Foreign(e) => Err(e),
        }
    }
}

fn done_response(done: Done) -> reqwest::Response {
    let status = StatusCode::from_u16(done.success.status).unwrap_or(StatusCode::OK);
    rebuild(
        status,
        done.version,
        done.success.headers,
        done.success.body,
        done.url,
    )
}

fn received_response(r: Received) -> reqwest::Response {
    let mut headers = r.headers;
    if r.capped {
        headers.remove(http::header::CONTENT_LENGTH);
    }
    rebuild(r.status, r.version, headers, r.body, r.url)
}

fn rebuild(
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Vec<u8>,
    url: reqwest::Url,
) -> reqwest::Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    // `ResponseBuilderExt::url` is the public way to give the response its URL back.
    if let Ok(carrier) = http::Response::builder().url(url).body(()) {
        *response.extensions_mut() = carrier.into_parts().0.extensions;
    }
    reqwest::Response::from(response)
}
