//! What a sampled probe is doing right now, for the live line and for an interrupted step's
//! record: how many requests are in flight and in which phase, and a report of the tally sent
//! on a clock rather than per finished request.
//!
//! Reports come from a ticker because a hung endpoint finishes nothing: reporting only when a
//! request finished left the screen with a bare spinner for the whole timeout, while the
//! person at it needs to see `0/60 done, 10 in flight · waiting for headers`.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::Tally;
use crate::exec::{Partial, Progress, RequestPhase};

/// How often a running probe reports: often enough for a live line, rarely enough that the
/// running p95 (a sort of every latency so far) costs nothing measurable.
const TICK: Duration = Duration::from_millis(100);

/// Requests in flight, by phase. Counters rather than a lock: every sample moves through it
/// two or three times, and the sampler's workers must not wait on each other for that.
#[derive(Default)]
pub(in crate::exec) struct Live {
    connecting: AtomicU32,
    headers: AtomicU32,
    body: AtomicU32,
}

impl Live {
    fn counter(&self, phase: RequestPhase) -> &AtomicU32 {
        match phase {
            RequestPhase::Connecting => &self.connecting,
            RequestPhase::Headers => &self.headers,
            RequestPhase::Body => &self.body,
        }
    }

    /// Requests in flight, and the phase most of them are in (the later one on a tie: a
    /// request waiting for headers has connected).
    pub(in crate::exec) fn snapshot(&self) -> (u32, Option<RequestPhase>) {
        let counts = [
            (
                RequestPhase::Connecting,
                self.connecting.load(Ordering::Relaxed),
            ),
            (RequestPhase::Headers, self.headers.load(Ordering::Relaxed)),
            (RequestPhase::Body, self.body.load(Ordering::Relaxed)),
        ];
        let total = counts.iter().map(|(_, n)| n).sum();
        let phase = counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .max_by_key(|(_, n)| *n)
            .map(|(phase, _)| *phase);
        (total, phase)
    }
}

/// One request in flight: counted in its phase until dropped (finished, failed, or cancelled
/// with the step).
pub(in crate::exec) struct InFlight<'a> {
    live: &'a Live,
    phase: AtomicU8,
}

impl<'a> InFlight<'a> {
    pub(in crate::exec) fn start(live: &'a Live, phase: RequestPhase) -> Self {
        live.counter(phase).fetch_add(1, Ordering::Relaxed);
        InFlight {
            live,
            phase: AtomicU8::new(encode(phase)),
        }
    }

    /// Moves the request to `phase`.
    pub(in crate::exec) fn enter(&self, phase: RequestPhase) {
        let old = decode(self.phase.swap(encode(phase), Ordering::Relaxed));
        if old != phase {
            self.live.counter(phase).fetch_add(1, Ordering::Relaxed);
            self.live.counter(old).fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let phase = decode(self.phase.load(Ordering::Relaxed));
        self.live.counter(phase).fetch_sub(1, Ordering::Relaxed);
    }
}

fn encode(phase: RequestPhase) -> u8 {
    match phase {
        RequestPhase::Connecting => 0,
        RequestPhase::Headers => 1,
        RequestPhase::Body => 2,
    }
}

fn decode(n: u8) -> RequestPhase {
    match n {
        0 => RequestPhase::Connecting,
        1 => RequestPhase::Headers,
        _ => RequestPhase::Body,
    }
}

/// A probe's tally and its requests in flight, shared by the workers, the ticker and the
/// step's partial record.
#[derive(Clone)]
pub(in crate::exec) struct Watched {
    pub(in crate::exec) tally: Arc<Mutex<Tally>>,
    pub(in crate::exec) live: Arc<Live>,
    total: u32,
    /// Requests in flight at the last report. The record of an interrupted probe takes this
    /// rather than the live count: its workers are being cancelled as the record is made.
    reported_in_flight: Arc<AtomicU32>,
}

impl Watched {
    pub(in crate::exec) fn new(tally: Tally, total: u32) -> Self {
        Watched {
            tally: Arc::new(Mutex::new(tally)),
            live: Arc::default(),
            total,
            reported_in_flight: Arc::default(),
        }
    }

    /// Until the probe ends, what it finished is the step's partial record: an interrupted
    /// probe keeps its counts and percentiles, not only its URL.
    pub(in crate::exec) fn keep_in(&self, partial: &Partial) {
        let watched = self.clone();
        partial.observe(move || watched.partial_fields());
    }

    fn partial_fields(&self) -> Map<String, Json> {
        let mut fields = self.lock().partial_fields();
        fields.insert("samples".into(), self.total.into());
        let in_flight = self.reported_in_flight.load(Ordering::Relaxed);
        fields.insert("in_flight".into(), in_flight.into());
        fields
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn report(&self, progress: &Progress) {
        let (in_flight, phase) = self.live.snapshot();
        self.reported_in_flight.store(in_flight, Ordering::Relaxed);
        let update = self.lock().progress(self.total, in_flight, phase);
        progress(update);
    }

    /// Runs `work`, reporting the tally every tick and once more at its end.
    pub(in crate::exec) async fn reporting<F: Future>(
        &self,
        progress: &Progress,
        work: F,
    ) -> F::Output {
        if self.total <= 1 {
            return work.await;
        }
        let mut work = pin!(work);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                out = &mut work => {
                    self.report(progress);
                    return out;
                }
                _ = tick.tick() => self.report(progress),
            }
        }
    }

    /// The tally, once the probe is over.
    pub(in crate::exec) fn into_tally(self) -> Tally {
        std::mem::take(&mut *self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_move_between_phases_and_leave_when_dropped() {
        let live = Live::default();
        let a = InFlight::start(&live, RequestPhase::Connecting);
        let b = InFlight::start(&live, RequestPhase::Connecting);
        assert_eq!(live.snapshot(), (2, Some(RequestPhase::Connecting)));
        a.enter(RequestPhase::Headers);
        // One each: the later phase shows.
        assert_eq!(live.snapshot(), (2, Some(RequestPhase::Headers)));
        a.enter(RequestPhase::Body);
        b.enter(RequestPhase::Headers);
        b.enter(RequestPhase::Headers);
        assert_eq!(live.snapshot(), (2, Some(RequestPhase::Body)));
        drop(a);
        assert_eq!(live.snapshot(), (1, Some(RequestPhase::Headers)));
        drop(b);
        assert_eq!(live.snapshot(), (0, None));
    }
}
