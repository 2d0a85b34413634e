//! One integration-test binary: every test runs the real `runbook` binary against real servers
//! on 127.0.0.1.
mod support;

mod cli;
mod command_output;
mod confinement;
mod control;
mod crash;
mod drill;
mod durability;
mod executors;
mod fail_closed;
mod faults;
mod fuzz_regressions;
mod generate;
mod guided;
mod injection;
mod invalid;
mod junit_schema;
mod lifecycle;
mod network_errors;
mod progress;
mod properties;
mod readme_claims;
mod real;
mod redaction;
mod redirects;
mod report;
mod report_runs;
mod resume;
mod sim;
mod sim_limits;
mod statuspage_groups;
mod terminal_escapes;
mod timeline;
mod timeline_properties;
