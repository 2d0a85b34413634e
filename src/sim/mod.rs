//! The outage simulator: a simulated production environment on loopback, with the faults of
//! real outages and the remediations that fix them. It only talks HTTP, so a runbook runs
//! against it exactly as against a real environment.
pub mod fault;
mod names;
pub mod promql;
pub mod request_log;
pub mod scenario;
pub mod server;
pub mod verdict;
pub mod world;

pub use scenario::Scenario;
pub use server::Sim;
