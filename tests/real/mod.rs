//! Shipped runbooks and executors against real third-party software (nginx, HAProxy,
//! Prometheus with node_exporter, Alertmanager, moto's AWS API), each started by the test on
//! 127.0.0.1 with its own configuration in the test's temporary directory (see
//! `support::Daemon`).

mod alertmanager;
mod aws;
mod haproxy;
mod moto;
mod nginx;
mod prometheus;
mod prometheus_stack;
mod proxies;
mod smoke;
mod stack;
