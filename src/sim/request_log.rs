//! The simulator's request log: the last [`RequestLog::KEPT`] requests and how many there were
//! in all, so a flood (a probe of a million samples, or a hostile client) costs bounded memory.

use std::collections::VecDeque;

use super::world::LoggedRequest;

#[derive(Debug, Default)]
pub struct RequestLog {
    recent: VecDeque<LoggedRequest>,
    total: u64,
    /// Requests that could change the world (`/admin/…`, not GET), counted apart so that
    /// the drill's verdict sees every one even when the log has let them go.
    admin_writes: u64,
}

impl RequestLog {
    /// How many requests the log keeps.
    pub const KEPT: usize = 10_000;

    pub fn push(&mut self, request: LoggedRequest) {
        if request.path.starts_with("/admin/") && request.method != "GET" {
            self.admin_writes += 1;
        }
        if self.recent.len() == Self::KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(request);
        self.total += 1;
    }

    /// The requests kept, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &LoggedRequest> {
        self.recent.iter()
    }

    /// Every request received, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Every `/admin/` request other than a GET, kept or not.
    pub fn admin_writes(&self) -> u64 {
        self.admin_writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: u64, method: &str, path: &str) -> LoggedRequest {
        LoggedRequest {
            at_ms: n,
            method: method.into(),
            path: path.into(),
        }
    }

    #[test]
    fn keeps_the_last_requests_and_counts_them_all() {
        let mut log = RequestLog::default();
        log.push(request(0, "POST", "/admin/lb/api/refresh"));
        for n in 1..=25_000 {
            log.push(request(n, "GET", "/lb/api/"));
        }
        assert_eq!(log.total(), 25_001);
        assert_eq!(log.recent().count(), RequestLog::KEPT);
        assert_eq!(log.recent().next().unwrap().at_ms, 15_001);
        assert_eq!(log.recent().last().unwrap().at_ms, 25_000);
        // The admin request was let go, and still counts.
        assert_eq!(log.admin_writes(), 1);
    }
}
