//! One integration-test binary: every test runs the real `runbook` binary against real servers
//! on 127.0.0.1.
mod support;

mod cli;
mod control;
mod drill;
mod executors;
mod generate;
mod guided;
mod invalid;
mod report;
mod resume;
mod sim;
mod timeline;
