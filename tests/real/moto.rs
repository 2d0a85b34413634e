//! moto, the AWS API as a local server (`moto_server` from the tests' virtualenv), and the
//! environment that points the `aws` CLI at it and nowhere else.
//!
//! ```ignore
//! let moto = Moto::start(dir.path());
//! let vpc = moto.aws(&["ec2", "create-vpc", "--cidr-block", "10.0.0.0/16"]);
//! let built = moto.python(&script, &json!({...}));   // boto3, one process for many calls
//! // a command for moto: remove Moto::foreign_env(), then set moto.env()
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value as Json;

use crate::support::{Daemon, free_port, venv_program};

/// The region every test resource lives in.
pub const REGION: &str = "us-east-1";
/// Fake credentials: moto accepts any, and these could never sign a request AWS accepts.
pub const ACCESS_KEY_ID: &str = "AKIAMOTOTESTING00001";
pub const SECRET_ACCESS_KEY: &str = "moto-fake-secret-never-sent-to-aws";

/// A moto server on 127.0.0.1, stopped when dropped.
pub struct Moto {
    _daemon: Daemon,
    /// `http://127.0.0.1:PORT`, what AWS_ENDPOINT_URL is set to.
    url: String,
    dir: PathBuf,
}

impl Moto {
    /// Starts moto in server mode on a free port, with its log and the CLI's configuration
    /// files in `dir`; returns once it answers.
    pub fn start(dir: &Path) -> Moto {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut daemon = Daemon::start(
            "moto",
            Command::new(venv_program("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default()),
            dir,
        );
        daemon.wait_http(&format!("{url}/moto-api/"));
        // The CLI's own files, so that nothing from the developer's ~/.aws is read.
        std::fs::write(
            dir.join("aws-config"),
            format!("[default]\nregion = {REGION}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("aws-credentials"),
            format!(
                "[default]\naws_access_key_id = {ACCESS_KEY_ID}\n\
                 aws_secret_access_key = {SECRET_ACCESS_KEY}\n"
            ),
        )
        .unwrap();
        Moto {
            _daemon: daemon,
            url,
            dir: dir.to_path_buf(),
        }
    }

    /// The environment for a process that runs the `aws` CLI against this moto: every
    /// request goes to 127.0.0.1. `AWS_ENDPOINT_URL` sends every service to moto; should a
    /// request still go to an https endpoint (a service the variable did not cover), it goes
    /// to a proxy on 127.0.0.1 that refuses it; the instance metadata service is off. The
    /// venv's `aws` comes first on `PATH`, as the shipped runbooks call it by name.
    pub fn env(&self) -> Vec<(String, String)> {
        let bin = venv_program("aws").parent().unwrap().to_path_buf();
        let path = std::env::var("PATH").unwrap_or_default();
        [
            ("PATH", format!("{}:{path}", bin.display())),
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            (
                "AWS_CONFIG_FILE",
                self.dir.join("aws-config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.join("aws-credentials").display().to_string(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("HTTPS_PROXY", "http://127.0.0.1:9".into()),
            ("https_proxy", "http://127.0.0.1:9".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The `AWS_*` variables of this process that would send the CLI elsewhere or to another
    /// account (a profile, a session token, a per-service endpoint): a command for moto
    /// removes them all before it gets [`Moto::env`].
    pub fn foreign_env() -> Vec<String> {
        std::env::vars()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("AWS_"))
            .collect()
    }

    /// Runs the venv's `aws` with `args` against moto and returns its JSON output (null for
    /// a command that prints nothing); fails the test with the CLI's error otherwise.
    pub fn aws(&self, args: &[&str]) -> Json {
        let mut command = Command::new(venv_program("aws"));
        command.args(args).args(["--output", "json"]);
        self.json_from(command, &format!("aws {}", args.join(" ")), None)
    }

    /// Runs a Python script with the venv's python (boto3 available) against moto, `input`
    /// on its stdin, and returns what it printed as JSON.
    pub fn python(&self, script: &Path, input: &Json) -> Json {
        let mut command = Command::new(venv_program("python"));
        command.arg(script);
        self.json_from(command, &script.display().to_string(), Some(input))
    }

    fn json_from(&self, mut command: Command, what: &str, input: Option<&Json>) -> Json {
        for key in Moto::foreign_env() {
            command.env_remove(key);
        }
        command.envs(self.env());
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.to_string().as_bytes()).unwrap();
        }
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{what} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        if stdout.trim().is_empty() {
            return Json::Null;
        }
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{stdout}"))
    }
}
