//! The binary on a pseudo-terminal of a given width, with what it wrote rendered as a terminal
//! would show it (the `vt100` emulator): lines a view printed, wrapped or not, and whether a
//! live line was erased, are read off the rendered screen, not guessed from the byte stream.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::Expect as _;
use expectrl::process::Termios as _;
use expectrl::process::unix::{Signal, WaitStatus};
use expectrl::session::OsSession;

/// How long the screen may take to show what a test waits for.
const TIMEOUT: Duration = Duration::from_secs(15);
/// Rows of the rendered screen: every line of a run stays on it, none scrolls away.
const HISTORY_ROWS: u16 = 3000;

/// `runbook ARGS` on a terminal `cols` wide.
pub struct Terminal {
    session: OsSession,
    pub dir: PathBuf,
    /// Every byte the program wrote.
    pub raw: Vec<u8>,
    /// Offset in `raw` (as lossy text) up to which `expect` has matched.
    cursor: usize,
    /// Offset in `screen()` up to which `expect_on_screen` has matched.
    screen_cursor: usize,
    screen: vt100::Parser,
    pub cols: u16,
    exit: Option<i32>,
    eof: bool,
}

impl Terminal {
    /// Starts `runbook ARGS` in `dir` on a terminal of `cols` columns and 40 rows, with echo on
    /// as a real terminal has, no colour and a known user.
    pub fn spawn(dir: &Path, cols: u16, args: &[&str]) -> Terminal {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                r#"stty cols {cols} rows 40 echo && exec "$0" "$@""#
            ))
            .arg(env!("CARGO_BIN_EXE_runbook"))
            .args(args)
            .current_dir(dir);
        command.env_remove("CI").env_remove("COLUMNS");
        for (key, _) in std::env::vars() {
            if key.starts_with("RUNBOOK_") {
                command.env_remove(key);
            }
        }
        command
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env("USER", "dana");
        let session = OsSession::spawn(command).expect("the binary starts on a pty");
        Terminal {
            session,
            dir: dir.to_path_buf(),
            raw: Vec::new(),
            cursor: 0,
            screen_cursor: 0,
            screen: vt100::Parser::new(
                HISTORY_ROWS.try_into().unwrap(),
                cols.try_into().expect("a terminal has columns"),
                0,
            ),
            cols,
            exit: None,
            eof: false,
        }
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.eof {
            match self.session.try_read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.raw.extend_from_slice(&buf[..n]);
                    self.screen.process(&buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
    }

    /// Everything written, as text (escape sequences included).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// The rendered screen's rows, trailing blanks removed, up to the last non-empty one.
    pub fn rows(&self) -> Vec<String> {
        let screen = self.screen.screen();
        let mut rows: Vec<String> = screen
            .rows(0, self.cols)
            .map(|r| r.trim_end().to_string())
            .collect();
        while rows.last().is_some_and(|r| r.is_empty()) {
            rows.pop();
        }
        rows
    }

    /// Rows the terminal itself wrapped: text that ran past the right edge.
    pub fn overflowing_rows(&self) -> Vec<String> {
        let screen = self.screen.screen();
        let rows = self.rows();
        (0..rows.len())
            .filter(|&i| screen.row_wrapped(i as u16))
            .map(|i| format!("{}: {:?}", i, rows[i]))
            .collect()
    }

    /// The rendered screen and what the program wrote last, for failure messages.
    pub fn context(&self) -> String {
        let text = self.text();
        let chars: Vec<char> = text.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(3000)..].iter().collect();
        format!(
            "--- screen ---\n{}\n--- last bytes ---\n{tail:?}",
            self.rows().join("\n")
        )
    }

    /// Polls `done` until it holds, or fails after the timeout.
    pub fn wait_until(&mut self, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.pump();
            if done(self) {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}\n{}", self.context());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until `text` appears in what was written after the last match, and moves past.
    pub fn expect(&mut self, text: &str) {
        self.wait_until(&format!("{text:?}"), |t| {
            let all = t.text();
            match all.get(t.cursor..).and_then(|rest| rest.find(text)) {
                Some(at) => {
                    t.cursor += at + text.len();
                    true
                }
                None => false,
            }
        });
    }

    /// What the terminal showed as plain text, escape sequences and carriage returns removed
    /// (the order things were written in; `rows` is the rendered screen).
    pub fn screen(&self) -> String {
        plain(&self.raw)
    }

    /// Waits until `text` appears on the plain-text screen after what was matched before, and
    /// moves past it.
    pub fn expect_on_screen(&mut self, text: &str) {
        self.wait_until(&format!("{text:?} on the screen"), |t| {
            let screen = t.screen();
            match screen
                .get(t.screen_cursor..)
                .and_then(|rest| rest.find(text))
            {
                Some(at) => {
                    t.screen_cursor += at + text.len();
                    true
                }
                None => false,
            }
        });
    }

    /// Presses a key once the program reads the terminal (echo off), so nothing typed early is
    /// lost or echoed.
    pub fn key(&mut self, key: &str) {
        self.wait_until("the program to read the terminal", |t| {
            !t.session.is_echo().unwrap_or(true)
        });
        self.session.send(key).expect("write to the pty");
    }

    /// Ctrl-C as the terminal sends it.
    pub fn ctrl_c(&mut self) {
        self.session.send([0x03u8]).expect("write to the pty");
    }

    fn poll_exit(&mut self) -> Option<i32> {
        if self.exit.is_none() {
            match self.session.get_process().status() {
                Ok(WaitStatus::Exited(_, code)) => self.exit = Some(code),
                Ok(WaitStatus::Signaled(_, signal, _)) => self.exit = Some(128 + signal as i32),
                _ => {}
            }
        }
        self.exit
    }

    /// Waits for the program to end and for the last of its output; returns its exit code.
    pub fn finish(&mut self) -> i32 {
        self.wait_until("the program to exit", |t| t.poll_exit().is_some());
        let deadline = Instant::now() + Duration::from_millis(500);
        while !self.eof && Instant::now() < deadline {
            self.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
        self.exit.expect("exited")
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.poll_exit().is_none() {
            let _ = self.session.get_process_mut().kill(Signal::SIGKILL);
            let _ = self.session.get_process().wait();
        }
    }
}

/// Terminal output as text: CSI and other escape sequences and carriage returns removed. An
/// escape sequence cut off at the end is left out, so the text of a prefix never changes.
pub fn plain(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                // CSI: parameters and intermediates, then one final byte in @..~. Other
                // escapes are two characters.
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
