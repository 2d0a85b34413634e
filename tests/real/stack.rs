//! Starters for the real servers the tests drive: each writes its configuration into a
//! directory of the test's, starts the server in the foreground as a child, and waits until it
//! answers.

use std::path::Path;
use std::process::Command;

use crate::support::{Daemon, require};

/// nginx in the foreground with `conf` (the body of nginx.conf, without the `events` and
/// global lines this adds) as its configuration, prefix and logs in `dir`.
/// Its error log is `dir/error.log`, its access log `dir/access.log` unless `conf` says
/// otherwise; `listen` is what [`Daemon::wait_http`] polls (`http://127.0.0.1:PORT/...`).
pub fn nginx(dir: &Path, conf: &str, ready_url: &str) -> Daemon {
    let program = require("nginx", "nginx");
    let conf_path = dir.join("nginx.conf");
    std::fs::create_dir_all(dir.join("temp")).expect("nginx temp dir");
    let full = format!(
        "# written by the test; nginx runs as root so that it can read the test's files\n\
         user root;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log {dir}/access.log;\n  client_body_temp_path {dir}/temp/body;\n\
         proxy_temp_path {dir}/temp/proxy;\n  fastcgi_temp_path {dir}/temp/fastcgi;\n\
         uwsgi_temp_path {dir}/temp/uwsgi;\n  scgi_temp_path {dir}/temp/scgi;\n{conf}\n}}\n",
        dir = dir.display()
    );
    std::fs::write(&conf_path, full).expect("write nginx.conf");
    let mut daemon = Daemon::start(
        "nginx",
        Command::new(program)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .args(["-g", "daemon off;"]),
        dir,
    );
    daemon.wait_http(ready_url);
    daemon
}
