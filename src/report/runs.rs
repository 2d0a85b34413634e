//! Several timelines as the runs they hold. A run is its `run_id`: a resumed run's files are
//! one run, while a drill and the real incident, or two runbooks paged at once, are several —
//! each keeps its own name, steps, outcome and times, and every report shows them apart.

use std::path::Path;

use jiff::Timestamp;

use super::model::Report;
use crate::timeline::{Record, reader};

/// The runs of one or more timelines, in the order they started, and every event.
#[derive(Clone, Debug)]
pub struct Runs {
    /// At least one (an empty report when no timeline had events).
    pub runs: Vec<Report>,
    /// Every event of every run, in time order.
    pub events: Vec<Record>,
}

fn ts_of(record: &Record) -> Option<Timestamp> {
    record.ts.parse().ok()
}

impl Runs {
    /// Reads timelines and splits their events into runs.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Runs, String> {
        let mut events = Vec::new();
        for path in paths {
            events.extend(reader::read(path.as_ref())?.records);
        }
        Ok(Runs::from_records(events))
    }

    pub fn from_records(mut events: Vec<Record>) -> Runs {
        // Time order; a run's own sequence breaks ties (events within a millisecond).
        events.sort_by(|a, b| (ts_of(a), &a.run_id, a.seq).cmp(&(ts_of(b), &b.run_id, b.seq)));
        let mut ids: Vec<&str> = Vec::new();
        for record in &events {
            if !ids.contains(&record.run_id.as_str()) {
                ids.push(&record.run_id);
            }
        }
        let mut runs: Vec<Report> = ids
            .iter()
            .map(|id| {
                Report::from_records(events.iter().filter(|r| r.run_id == *id).cloned().collect())
            })
            .collect();
        // By start; a run whose start was not read goes last, and the id keeps it stable.
        runs.sort_by(|a, b| {
            (a.started.is_none(), a.started, &a.run_ids).cmp(&(
                b.started.is_none(),
                b.started,
                &b.run_ids,
            ))
        });
        if runs.is_empty() {
            runs.push(Report::from_records(Vec::new()));
        }
        Runs { runs, events }
    }

    /// The run when there is exactly one: reports then look as they always did.
    pub fn single(&self) -> Option<&Report> {
        match self.runs.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Every run's id, in the order the runs started.
    pub fn run_ids(&self) -> Vec<&str> {
        self.runs
            .iter()
            .flat_map(|r| r.run_ids.iter().map(String::as_str))
            .collect()
    }
}
