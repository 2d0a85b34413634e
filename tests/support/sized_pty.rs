//! The binary guided on a pseudo-terminal of a set width (`stty cols`, as a tmux pane of 80 or
//! 120 columns has), driven by expectrl: the test reads the screen, and presses a key only once
//! the program reads the terminal (echo off), so nothing typed early is lost or echoed.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::Expect as _;
use expectrl::process::Termios as _;
use expectrl::process::unix::{Signal, WaitStatus};
use expectrl::session::OsSession;

/// How long the screen may take to show what a test waits for, or the program to end.
const TIMEOUT: Duration = Duration::from_secs(15);

/// `runbook ARGS` running on a terminal `cols` wide; killed when dropped.
pub struct SizedPty {
    session: OsSession,
    raw: Vec<u8>,
    /// Offset in `screen()` up to which `expect` has matched.
    cursor: usize,
    exit: Option<i32>,
    eof: bool,
}

impl SizedPty {
    /// Starts `runbook ARGS` in `dir` on a terminal `cols` columns by 40 rows, with echo on as a
    /// real terminal has, no colour, no CI and no `RUNBOOK_*` flags, as user `dana`.
    pub fn spawn(dir: &Path, cols: u16, args: &[&str]) -> SizedPty {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                r#"stty cols {cols} rows 40 echo && exec "$0" "$@""#
            ))
            .arg(env!("CARGO_BIN_EXE_runbook"))
            .args(args)
            .current_dir(dir)
            .env_remove("CI")
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env("USER", "dana");
        for (key, _) in std::env::vars() {
            if key.starts_with("RUNBOOK_") {
                command.env_remove(key);
            }
        }
        let session = OsSession::spawn(command).expect("the binary starts on a pty");
        SizedPty {
            session,
            raw: Vec::new(),
            cursor: 0,
            exit: None,
            eof: false,
        }
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.eof {
            match self.session.try_read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
    }

    /// What the terminal showed, escape sequences and carriage returns removed.
    pub fn screen(&self) -> String {
        plain(&self.raw)
    }

    fn wait_until(&mut self, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.pump();
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- screen ---\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until `text` appears after what was matched before, and moves past it.
    pub fn expect(&mut self, text: &str) {
        self.wait_until(&format!("{text:?} on the screen"), |p| {
            let screen = p.screen();
            match screen[p.cursor.min(screen.len())..].find(text) {
                Some(at) => {
                    p.cursor += at + text.len();
                    true
                }
                None => false,
            }
        });
    }

    /// Presses a key once the program reads the terminal (echo off).
    pub fn key(&mut self, key: &str) {
        self.wait_until("the program to read the terminal", |p| {
            !p.session.is_echo().unwrap_or(true)
        });
        self.session.send(key).expect("write to the pty");
    }

    /// Waits for the program to end; returns its exit code, with everything it wrote read.
    pub fn finish(&mut self) -> i32 {
        self.wait_until("the program to exit", |p| {
            if p.exit.is_none() {
                match p.session.get_process().status() {
                    Ok(WaitStatus::Exited(_, code)) => p.exit = Some(code),
                    Ok(WaitStatus::Signaled(_, signal, _)) => p.exit = Some(128 + signal as i32),
                    _ => {}
                }
            }
            p.exit.is_some()
        });
        let deadline = Instant::now() + Duration::from_millis(500);
        while !self.eof && Instant::now() < deadline {
            self.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
        self.exit.expect("exited")
    }
}

impl Drop for SizedPty {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.session.get_process_mut().kill(Signal::SIGKILL);
            let _ = self.session.get_process().wait();
        }
    }
}

/// Terminal output as text: CSI and other escape sequences and carriage returns removed.
fn plain(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
