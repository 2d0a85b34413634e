//! Starters for the proxies the shipped `nginx-502` and `haproxy-502` runbooks repair: each in
//! the foreground as the test's child, configured in the test's directory, on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Daemon, Output, Test, free_port, http_status, require};

use super::stack;

/// A file of this repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs the shipped `runbooks/NAME.yaml` with the real binary, with its example vars file
/// `runbooks/vars/NAME.ENVIRONMENT.yaml` and then `vars` given with `--var` (the test's ports
/// and paths win over the file's), and `extra` arguments.
pub fn run_shipped(
    name: &str,
    environment: &str,
    vars: &[(&str, String)],
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "run".to_string(),
        repo(&format!("runbooks/{name}.yaml")).display().to_string(),
        "--vars".into(),
        repo(&format!("runbooks/vars/{name}.{environment}.yaml"))
            .display()
            .to_string(),
    ];
    for (key, value) in vars {
        args.push("--var".into());
        args.push(format!("{key}={value}"));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Test::new().args(args).run()
}

/// The status of a GET of `url` from the test itself, asking again while nothing answers (a
/// loaded machine may take longer than one attempt's timeout) for up to 20 s. Any answer is
/// final: a 502 is not retried.
pub fn answered_status(url: &str) -> Option<u16> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = http_status(url);
        if status.is_some() || std::time::Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Whether `url` answers 200 within 10 s. Right after `nginx -s reload` an old worker may still
/// take a connection on the old configuration (why the runbook verifies with retries); a fixed
/// proxy is one that settles on 200, not one whose first answer after the run is 200.
pub fn settles_on_200(url: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if http_status(url) == Some(200) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A port on 127.0.0.1 where nothing listens: the address of a backend that is gone.
/// (Free a moment ago; nothing in the test binds it.)
pub fn dead_port() -> u16 {
    free_port()
}

/// An nginx reverse proxy on `port` whose `upstream app` lives in its own file,
/// `dir/upstream.conf`, included from `http {}` as a Debian `conf.d` file would be, with one
/// `server` per address of `servers`. `/` is proxied to the upstream; `/nginx-ready` answers
/// 200 from nginx itself, so readiness does not depend on the upstream.
pub struct Proxy {
    pub daemon: Daemon,
    pub url: String,
    pub dir: PathBuf,
}

impl Proxy {
    pub fn start(dir: &Path, servers: &[String]) -> Proxy {
        let port = free_port();
        std::fs::write(dir.join("upstream.conf"), upstream_block(servers)).unwrap();
        let conf = format!(
            "  include {dir}/upstream.conf;\n  server {{\n    listen 127.0.0.1:{port};\n    \
             location = /nginx-ready {{ return 200 'ready'; }}\n    \
             location / {{ proxy_pass http://app; }}\n  }}",
            dir = dir.display()
        );
        let daemon = stack::nginx(dir, &conf, &format!("http://127.0.0.1:{port}/nginx-ready"));
        Proxy {
            daemon,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
        }
    }

    pub fn upstream_conf(&self) -> PathBuf {
        self.dir.join("upstream.conf")
    }

    pub fn nginx_conf(&self) -> PathBuf {
        self.dir.join("nginx.conf")
    }

    pub fn error_log(&self) -> PathBuf {
        self.dir.join("error.log")
    }
}

fn upstream_block(servers: &[String]) -> String {
    let mut block = String::from("upstream app {\n");
    for server in servers {
        block.push_str(&format!("    server {server};\n"));
    }
    block.push_str("}\n");
    block
}

/// HAProxy in the foreground (`-db`) with `backend` (the lines of `backend app`, e.g.
/// `server web1 127.0.0.1:PORT check inter 200ms`) behind a frontend on a free port, and its
/// runtime API on `dir/admin.sock` at level admin.
pub struct HaProxy {
    pub daemon: Daemon,
    pub url: String,
    pub socket: PathBuf,
}

impl HaProxy {
    pub fn start(dir: &Path, backend: &str) -> HaProxy {
        let program = require("haproxy", "haproxy");
        let port = free_port();
        let socket = dir.join("admin.sock");
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "# written by the test\nglobal\n  stats socket {socket} mode 600 level admin\n\
                 defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  \
                 timeout server 5s\n\
                 frontend web\n  bind 127.0.0.1:{port}\n  \
                 http-request return status 200 content-type text/plain string ready if {{ path /haproxy-ready }}\n  \
                 default_backend app\n\
                 backend app\n{backend}\n",
                socket = socket.display()
            ),
        )
        .unwrap();
        let mut daemon = Daemon::start(
            "haproxy",
            Command::new(program).arg("-f").arg(&cfg).arg("-db"),
            dir,
        );
        daemon.wait_http(&format!("http://127.0.0.1:{port}/haproxy-ready"));
        let wait_socket = socket.clone();
        daemon.wait_until("the runtime API socket", || {
            runtime_api(&wait_socket, "show info")
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("Name: HAProxy"))
        });
        HaProxy {
            daemon,
            url: format!("http://127.0.0.1:{port}"),
            socket,
        }
    }

    /// `show servers state app`: `(name, address, port, op_state)` per server, read by the test
    /// itself over the runtime API.
    pub fn servers(&self) -> Vec<Server> {
        servers_state(&self.socket)
    }

    /// [`HaProxy::servers`] as a closure that does not borrow the `HaProxy`, for
    /// [`Daemon::wait_until`].
    pub fn reader(socket: &Path) -> impl Fn() -> Vec<Server> + use<> {
        let socket = socket.to_path_buf();
        move || servers_state(&socket)
    }
}

/// A server in `show servers state`: `(name, address, port, op_state)` (op_state `0` is DOWN,
/// `2` is UP).
pub type Server = (String, String, String, String);

fn servers_state(socket: &Path) -> Vec<Server> {
    let Ok(out) = runtime_api(socket, "show servers state app") else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && l.split_whitespace().count() > 18)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[3].into(), f[4].into(), f[18].into(), f[5].into())
        })
        .collect()
}

/// One command over HAProxy's runtime API, as an operator types it with socat.
fn runtime_api(socket: &Path, command: &str) -> std::io::Result<std::process::Output> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(require("socat", "socat"))
        .arg("stdio")
        .arg(format!("UNIX-CONNECT:{}", socket.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(format!("{command}\n").as_bytes())?;
    child.wait_with_output()
}

// --- The shipped files themselves -------------------------------------------------------

#[test]
fn the_shipped_proxy_runbooks_validate() {
    Test::new()
        .args([
            "validate".to_string(),
            repo("runbooks/nginx-502.yaml").display().to_string(),
            repo("runbooks/haproxy-502.yaml").display().to_string(),
        ])
        .run()
        .status(0)
        .stdout_has("nginx-502.yaml: ok (nginx-502, 12 steps)")
        .stdout_has("haproxy-502.yaml: ok (haproxy-502, 11 steps)")
        .stderr_lacks("warning");
}

/// Each example vars file sets only vars its runbook declares (a typo would otherwise be
/// ignored and the default used), and gives every var the runbook declares without a default,
/// so `--vars FILE` alone is a complete environment.
#[test]
fn the_proxy_runbooks_example_vars_files_are_complete_environments() {
    for name in ["nginx-502", "haproxy-502"] {
        let book = runbook::runbook::load(&repo(&format!("runbooks/{name}.yaml")))
            .unwrap_or_else(|e| panic!("{}", e.render()));
        for environment in ["staging", "production"] {
            let file = repo(&format!("runbooks/vars/{name}.{environment}.yaml"));
            let text = std::fs::read_to_string(&file).unwrap();
            let vars = runbook::yaml::parse(&text)
                .unwrap_or_else(|e| panic!("{}: {e:?}", file.display()))
                .to_json();
            let vars = vars.as_object().expect("a vars file is a map");
            for key in vars.keys() {
                assert!(
                    book.vars.contains_key(key),
                    "{} sets `{key}`, which {name}.yaml does not declare",
                    file.display()
                );
            }
            for (required, _) in &book.required_vars {
                assert!(
                    vars.get(required).is_some_and(|v| !v.is_null()),
                    "{} lacks `{required}`, which {name}.yaml declares with ~",
                    file.display()
                );
            }
        }
    }
}
