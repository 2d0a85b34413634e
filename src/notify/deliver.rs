//! One webhook: POSTs its queue in order, each with a per-request timeout and two retries.

use std::time::Duration;

use serde_json::Value as Json;

/// Three attempts in all, the waits between them short: a chat tool that is down for longer
/// is recorded as down rather than holding the queue.
pub const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(300)];
/// One request, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// POSTs `body` to `url`; after the last attempt, the reason of its failure.
pub async fn post(client: &reqwest::Client, url: &str, body: &Json) -> Result<(), String> {
    let mut attempt = 0;
    loop {
        let error = match client
            .post(url)
            .timeout(REQUEST_TIMEOUT)
            .json(body)
            .send()
            .await
        {
            Ok(answer) if answer.status().is_success() => return Ok(()),
            Ok(answer) => format!("HTTP {}", crate::exec::http::status_text(answer.status())),
            Err(e) if e.is_timeout() => crate::exec::http::timed_out_after(REQUEST_TIMEOUT),
            Err(e) => crate::exec::http::transport_message(&e),
        };
        match BACKOFF.get(attempt) {
            Some(wait) => tokio::time::sleep(*wait).await,
            None => return Err(format!("{error} (after {} attempts)", attempt + 1)),
        }
        attempt += 1;
    }
}
