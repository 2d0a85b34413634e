//! Notifications: the run's key events POSTed to webhooks (`runbook run --notify URL`).
//!
//! The engine never touches the network for them: an [`Observer`] puts each wanted event on a
//! bounded queue per webhook and returns at once; a background task per webhook delivers its
//! queue in order (a per-request timeout, three attempts) and records a delivery that failed
//! as a note in the timeline. At the end of the run, [`Notifier::finish`] gives what is still
//! queued a bounded grace period, then drops it with a note. A slow or dead chat tool therefore
//! never stops a run and delays its end by at most the grace period.
//!
//! Built from the redacted records the timeline writer returns, so a secret masked in the
//! timeline is masked in every notification; a server front end reuses the same pieces.

mod deliver;
pub mod message;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::Observer;
use crate::redact::Redactor;
use crate::report::model::Report;
use crate::timeline::{Event, Record};
pub use message::{Format, RunInfo};

/// How long the end of a run waits for notifications still queued.
pub const GRACE: Duration = Duration::from_secs(5);
/// Events queued per webhook before further ones are dropped: a run sends a handful, so only a
/// webhook that hangs while a loop fails step after step gets here, and memory stays bounded.
const QUEUE: usize = 64;

/// Deliveries that failed after every attempt, in this process (`runbook serve`'s metrics).
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// How many deliveries failed after every attempt since the process started.
pub fn failures() -> u64 {
    FAILURES.load(Ordering::Relaxed)
}

/// Where to send, and how.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: reqwest::Url,
    pub format: Format,
}

impl Target {
    /// The URL as notes show it: without userinfo (a credential), query or fragment, and with
    /// only the first segment of its path: chat webhooks carry their secret in the path
    /// (`https://hooks.slack.com/services/T000/B000/XXXX` is shown `.../services/…`).
    pub fn shown(&self) -> String {
        let mut url = self.url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        if segments.len() > 1 {
            url.set_path(&format!("/{}/…", segments[0]));
        }
        // `…` is percent-encoded by the URL; notes are for people.
        url.to_string().replace("%E2%80%A6", "…")
    }
}

/// Parses a `--notify` URL: http or https, nothing else.
pub fn parse_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err("the URL has no host".into()),
        other => Err(format!("`{other}:` URLs are not supported (http or https)")),
    }
}

/// The counts of one webhook, shared by the observer, its task and the end of the run.
#[derive(Default)]
struct Counts {
    queued: AtomicU64,
    done: AtomicU64,
    dropped_full: AtomicU64,
}

struct Webhook {
    shown: String,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

/// The delivery side, kept by whoever runs the engine to call [`Notifier::finish`].
pub struct Notifier {
    webhooks: Vec<Webhook>,
    timeline: PathBuf,
    redactor: Arc<Redactor>,
}

/// Where notes about deliveries go.
#[derive(Clone)]
struct NoteSink {
    timeline: PathBuf,
    redactor: Arc<Redactor>,
}

impl NoteSink {
    /// Appends a note under the timeline's lock, off the runtime's workers (it syncs to disk).
    async fn note(&self, text: String) {
        let sink = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let event = Event::Note {
                text,
                actor: "runbook".into(),
                step: None,
            };
            crate::timeline::append_event(&sink.timeline, event, &sink.redactor)
        })
        .await;
    }
}

/// Starts one delivery task per target (inside a tokio runtime). Returns the notifier and the
/// observer to give the engine; `prior` are the records of the run before this process (a
/// resumed run), for the durations of `run_finished`.
pub fn start(
    targets: &[Target],
    info: RunInfo,
    timeline: PathBuf,
    redactor: Arc<Redactor>,
    prior: Vec<Record>,
) -> Result<(Notifier, NotifyObserver), String> {
    let client =
        crate::exec::http::client(false, crate::exec::http::Redirects::Never).map_err(|e| e.0)?;
    let sink = NoteSink {
        timeline: timeline.clone(),
        redactor: Arc::clone(&redactor),
    };
    let mut webhooks = Vec::new();
    let mut queues = Vec::new();
    for target in targets {
        let (tx, mut rx) = mpsc::channel::<(String, Json)>(QUEUE);
        let counts = Arc::new(Counts::default());
        let shown = target.shown();
        let task = {
            let (client, url, counts, sink, shown) = (
                client.clone(),
                target.url.to_string(),
                Arc::clone(&counts),
                sink.clone(),
                shown.clone(),
            );
            tokio::spawn(async move {
                while let Some((kind, body)) = rx.recv().await {
                    if let Err(e) = deliver::post(&client, &url, &body).await {
                        FAILURES.fetch_add(1, Ordering::Relaxed);
                        sink.note(format!("notification to {shown} failed: {kind}: {e}"))
                            .await;
                    }
                    counts.done.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        queues.push(Queue {
            format: target.format,
            sender: tx,
            counts: Arc::clone(&counts),
        });
        webhooks.push(Webhook {
            shown,
            counts,
            task,
        });
    }
    Ok((
        Notifier {
            webhooks,
            timeline,
            redactor: Arc::clone(&redactor),
        },
        NotifyObserver {
            info,
            queues,
            records: prior,
        },
    ))
}

struct Queue {
    format: Format,
    sender: mpsc::Sender<(String, Json)>,
    counts: Arc<Counts>,
}

/// The engine's side: picks the events to send and queues their bodies, never waiting.
pub struct NotifyObserver {
    info: RunInfo,
    queues: Vec<Queue>,
    /// The run's records so far, for the durations `run_finished` reports.
    records: Vec<Record>,
}

impl Observer for NotifyObserver {
    fn on_record(&mut self, record: &Record) {
        // What the durations need; step attempts and starts would only cost memory.
        if !matches!(
            record.event,
            Event::StepAttempt { .. } | Event::StepStarted { .. }
        ) {
            self.records.push(record.clone());
        }
        let value = message::as_json(record);
        if !message::wanted(&value) {
            return;
        }
        let summary = matches!(record.event, Event::RunFinished { .. })
            .then(|| Report::from_records(self.records.clone()).summary);
        let kind = record.event.name().to_string();
        for queue in &self.queues {
            let body = message::body(queue.format, &self.info, &value, summary.as_ref());
            match queue.sender.try_send((kind.clone(), body)) {
                Ok(()) => {
                    queue.counts.queued.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) => {
                    queue.counts.dropped_full.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

impl Notifier {
    /// Waits up to `grace` for every webhook's queue to be delivered (the observer must be
    /// gone, so the queues are closed), then drops the rest; what was dropped is noted.
    pub async fn finish(self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        let sink = NoteSink {
            timeline: self.timeline,
            redactor: self.redactor,
        };
        for webhook in self.webhooks {
            let mut task = webhook.task;
            let in_time = tokio::time::timeout_at(deadline, &mut task).await.is_ok();
            if !in_time {
                task.abort();
            }
            let counts = &webhook.counts;
            let full = counts.dropped_full.load(Ordering::SeqCst);
            if full > 0 {
                sink.note(format!(
                    "{full} notification{} to {} dropped: the queue was full",
                    plural(full),
                    webhook.shown
                ))
                .await;
            }
            let pending = counts
                .queued
                .load(Ordering::SeqCst)
                .saturating_sub(counts.done.load(Ordering::SeqCst));
            if !in_time && pending > 0 {
                sink.note(format!(
                    "{pending} notification{} to {} dropped: still pending {} after the run ended",
                    plural(pending),
                    webhook.shown,
                    crate::exec::http::short_duration(grace)
                ))
                .await;
            }
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        Target {
            url: parse_url(url).unwrap(),
            format: Format::Slack,
        }
        .shown()
    }

    #[test]
    fn a_webhooks_secret_path_is_not_shown() {
        assert_eq!(
            shown("https://hooks.slack.com/services/T000/B000/XXXXXXXX"),
            "https://hooks.slack.com/services/…"
        );
        assert_eq!(
            shown("http://u:p@127.0.0.1:9/down?token=x"),
            "http://127.0.0.1:9/down"
        );
        assert_eq!(shown("http://127.0.0.1:9/"), "http://127.0.0.1:9/");
    }
}
