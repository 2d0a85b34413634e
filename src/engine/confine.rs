//! A confinement: the one address a run may reach. `runbook drill` hands one to the engine so
//! that a drill touches only its simulator: an `http`, `prometheus`, `statuspage` or `tcp` step
//! aimed anywhere else, and every `command` step (unless `--allow-commands`), is not executed
//! but recorded as `blocked`, with the reason.
//!
//! The check is made on the step as rendered, just before it would run (every loop item and
//! attempt on its own), on exactly the URL or address the executor would use: host and port
//! must be the simulator's bound address, written as that IP address. A host name is outside
//! even when it resolves there: resolving is what could differ between the check and the
//! connection. A target that cannot be parsed is left to the executor, which refuses it
//! without sending anything.

use std::net::{IpAddr, SocketAddr};

use reqwest::Url;

use super::resolve::Resolved;
use crate::exec;

/// Where a confined run may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confinement {
    /// The simulator's bound address.
    pub sim: SocketAddr,
    /// `runbook drill --allow-commands`: command steps run.
    pub allow_commands: bool,
}

/// The start of every reason: the timeline, console and reports show it as the step's summary.
pub const OUTSIDE: &str = "outside the drill";

impl Confinement {
    /// Why `resolved` must not run here, or `None` when it may.
    pub fn refuse(&self, resolved: &Resolved) -> Option<String> {
        let (shown, target) = match resolved {
            Resolved::Http(req) => (req.url.clone(), exec::http::parse_url(&req.url).ok()),
            Resolved::Prometheus(req) => {
                (req.url.clone(), exec::prometheus::query_url(&req.url).ok())
            }
            Resolved::Statuspage { url, .. } => {
                (url.clone(), exec::statuspage::summary_url(url).ok())
            }
            Resolved::Tcp { address, .. } => {
                let address = address.trim();
                // The executor refuses an address without a port; a host name is outside.
                address.rsplit_once(':')?;
                let at = address.parse::<SocketAddr>().ok();
                return (at != Some(self.sim)).then(|| self.not_the_simulator(address));
            }
            Resolved::Command(_) if self.allow_commands => return None,
            Resolved::Command(_) => {
                return Some(format!(
                    "{OUTSIDE}: command steps do not run in a drill (use --allow-commands)"
                ));
            }
            Resolved::Manual { .. } | Resolved::Wait(_) => return None,
        };
        let url = target?;
        // A URL's credentials are never shown (see `http::shown_url`).
        (url_address(&url) != Some(self.sim))
            .then(|| self.not_the_simulator(&exec::http::shown_url(shown.trim())))
    }

    fn not_the_simulator(&self, target: &str) -> String {
        format!("{OUTSIDE}: {target} is not the simulator ({})", self.sim)
    }
}

/// The IP address and port a URL names, when its host is an IP address.
fn url_address(url: &Url) -> Option<SocketAddr> {
    // A parsed URL writes an IPv6 host in brackets and an IPv4 one in its canonical form.
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, url.port_or_known_default()?))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::exec::{CommandRequest, HttpRequest, Program};

    fn confinement() -> Confinement {
        Confinement {
            sim: "127.0.0.1:4000".parse().unwrap(),
            allow_commands: false,
        }
    }

    fn http(url: &str) -> Resolved {
        Resolved::Http(HttpRequest {
            url: url.into(),
            method: "GET".into(),
            headers: vec![],
            body: None,
            samples: 1,
            concurrency: 1,
            timeout: Duration::from_secs(1),
            insecure: false,
            follow_redirects: true,
            action: false,
        })
    }

    fn tcp(address: &str) -> Resolved {
        Resolved::Tcp {
            address: address.into(),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn only_the_simulators_address_is_inside() {
        let c = confinement();
        assert_eq!(c.refuse(&http("http://127.0.0.1:4000/lb/x")), None);
        assert_eq!(c.refuse(&http(" http://127.0.0.1:4000")), None);
        assert_eq!(
            c.refuse(&http("http://10.1.2.3/x")).as_deref(),
            Some("outside the drill: http://10.1.2.3/x is not the simulator (127.0.0.1:4000)")
        );
        for outside in [
            "http://127.0.0.1:4001/",
            "http://localhost:4000/",
            "http://127.0.0.1:4000@10.1.2.3/",
            "http://127.0.0.2:4000/",
        ] {
            assert!(c.refuse(&http(outside)).is_some(), "{outside}");
        }
        // Nothing is sent to what cannot be parsed: the executor says why.
        assert_eq!(c.refuse(&http("not a url")), None);
        assert_eq!(c.refuse(&tcp("127.0.0.1:4000")), None);
        assert_eq!(
            c.refuse(&tcp("10.1.2.3:22")).as_deref(),
            Some("outside the drill: 10.1.2.3:22 is not the simulator (127.0.0.1:4000)")
        );
        assert!(c.refuse(&tcp("localhost:4000")).is_some());
        let prometheus = |url: &str| {
            Resolved::Prometheus(exec::prometheus::PrometheusRequest::instant(
                url,
                "up",
                Duration::from_secs(1),
            ))
        };
        assert!(c.refuse(&prometheus("http://10.0.0.1:9090")).is_some());
        assert_eq!(
            c.refuse(&prometheus("http://127.0.0.1:4000/prometheus")),
            None
        );
        assert_eq!(
            c.refuse(&prometheus("http://127.0.0.1:4000/prometheus/api/v1/query")),
            None
        );
        let page = Resolved::Statuspage {
            url: "http://127.0.0.1:4000/status/aws".into(),
            headers: vec![],
            timeout: Duration::from_secs(1),
        };
        assert_eq!(c.refuse(&page), None);
        assert_eq!(
            confinement()
                .refuse(&http("http://admin:hunter22@10.1.2.3/x"))
                .as_deref(),
            Some("outside the drill: http://10.1.2.3/x is not the simulator (127.0.0.1:4000)"),
            "the URL's credentials are not shown"
        );
    }

    #[test]
    fn commands_run_only_when_allowed() {
        let command = Resolved::Command(CommandRequest {
            program: Program::Shell("true".into()),
            env: vec![],
            cwd: None,
            timeout: Duration::from_secs(1),
        });
        assert_eq!(
            confinement().refuse(&command).as_deref(),
            Some("outside the drill: command steps do not run in a drill (use --allow-commands)")
        );
        let allowed = Confinement {
            allow_commands: true,
            ..confinement()
        };
        assert_eq!(allowed.refuse(&command), None);
        assert_eq!(allowed.refuse(&Resolved::Wait(Duration::ZERO)), None);
    }
}
