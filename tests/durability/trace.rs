//! Reading an `strace -f -xx -y` log: which system calls the binary made, in order.
//!
//! With `-xx` every string (written data, paths, argv) is hex-escaped, so a `"` or `>` in the
//! log is always syntax; with `-y` a file descriptor is printed with its path (`3<path>`). A
//! call that another thread's call interrupts in the log is printed in two halves
//! (`<unfinished ...>`, then `<... name resumed>`), and the halves are joined here.

use std::collections::HashMap;

/// The arguments strace needs for [`parse`] to read its log, written to `log`.
pub fn strace_args(log: &str) -> Vec<String> {
    [
        "strace",
        "-f",
        "-qq",
        "-xx",
        "-y",
        "-s",
        "10000000",
        "-e",
        "signal=none",
        // The calls the issue names, and nothing else: the log stays small and in order.
        "-e",
        "trace=fdatasync,fsync,write,connect,execve",
        "-o",
        log,
        "--",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// One system call, and where in the log it began and returned.
#[derive(Clone)]
pub struct Call {
    /// The thread (or process) that made the call.
    pub pid: u32,
    pub name: String,
    /// The file descriptor's path as `-y` shows it (for `write`, `fsync`, `fdatasync`).
    pub fd_path: Option<String>,
    /// Every quoted string of the arguments, decoded: the data of a `write`, the argv of an
    /// `execve`, the address of a `connect`.
    pub strings: Vec<Vec<u8>>,
    /// The raw arguments (strings still hex-escaped).
    pub args: String,
    /// What the call returned, as printed (`0`, `-1 EINPROGRESS (...)`); `None` if the log
    /// ends before it returned.
    pub ret: Option<String>,
    /// Log line where the call began; the call's effects may start here.
    pub entry: usize,
    /// Log line where it returned; its effects are complete here.
    pub done: usize,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let strings: Vec<String> = self
            .strings
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        write!(
            f,
            "{} {}({:?} {strings:?}) = {:?} at log lines {}..{}",
            self.pid, self.name, self.fd_path, self.ret, self.entry, self.done
        )
    }
}

impl Call {
    /// The number of a `connect`'s `sin_port=htons(N)`.
    pub fn port(&self) -> Option<u16> {
        let rest = self.args.split("htons(").nth(1)?;
        rest.split(')').next()?.parse().ok()
    }

    pub fn succeeded(&self) -> bool {
        self.ret.as_deref().is_some_and(|r| !r.starts_with('-'))
    }
}

/// Every call of the log, ordered by where it began.
pub fn parse(log: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    // pid -> the call of that thread that is waiting for its `resumed` half.
    let mut pending: HashMap<&str, usize> = HashMap::new();
    for (line_no, line) in log.lines().enumerate() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((_, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            if let Some(index) = pending.remove(pid) {
                let call = &mut calls[index];
                let (args, ret) = split_ret(tail);
                call.args.push_str(args);
                call.ret = ret;
                call.done = line_no;
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            // `+++ exited +++`, `--- SIGCHLD ---` and the like.
            continue;
        }
        let (args, ret, unfinished) = match args.strip_suffix(" <unfinished ...>") {
            Some(args) => (args, None, true),
            None => {
                let (args, ret) = split_ret(args);
                (args, ret, false)
            }
        };
        if unfinished {
            pending.insert(pid, calls.len());
        }
        calls.push(Call {
            pid: pid.parse().unwrap_or(0),
            name: name.to_string(),
            fd_path: None,
            strings: Vec::new(),
            args: args.to_string(),
            ret,
            entry: line_no,
            done: line_no,
        });
    }
    for call in &mut calls {
        call.strings = quoted(&call.args);
        call.fd_path = fd_path(&call.args);
    }
    calls
}

/// `args)   = ret` -> (`args`, `ret`); strace pads short calls to align the `=`.
fn split_ret(text: &str) -> (&str, Option<String>) {
    text.rsplit_once(" = ")
        .and_then(|(args, ret)| {
            let args = args.trim_end().strip_suffix(')')?;
            Some((args, Some(ret.trim().to_string())))
        })
        .unwrap_or((text, None))
}

/// The decoded path of a leading `N<path>` argument.
fn fd_path(args: &str) -> Option<String> {
    let digits = args.find(|c: char| !c.is_ascii_digit())?;
    let rest = args[digits..].strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(String::from_utf8_lossy(&unescape(&rest[..end])).into_owned())
}

/// Every `"..."` of the arguments, decoded.
fn quoted(args: &str) -> Vec<Vec<u8>> {
    args.split('"').skip(1).step_by(2).map(unescape).collect()
}

/// Decodes strace's escapes: `\xHH` (all of `-xx`'s output) and the few named ones.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'x' if i + 4 <= bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap_or("");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 4;
                    continue;
                }
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                other => out.push(other),
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn the_parser_joins_halves_and_decodes_strings() {
    let log = "\
10 execve(\"\\x2f\\x62\\x69\\x6e\\x2f\\x73\\x68\", [\"\\x73\\x68\"], 0x1 /* 3 vars */) = 0
11 write(3<\\x2f\\x74\\x2f\\x61>, \"\\x7b\\x7d\\x0a\", 3 <unfinished ...>
12 connect(5<\\x73\\x6f>, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"\\x31\")}, 16) = -1 EINPROGRESS (Operation now in progress)
11 <... write resumed>)          = 3
11 fdatasync(3<\\x2f\\x74\\x2f\\x61>)     = 0
+++ exited with 0 +++
";
    let calls = parse(log);
    let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["execve", "write", "connect", "fdatasync"]);
    assert_eq!(calls[0].strings, [b"/bin/sh".to_vec(), b"sh".to_vec()]);
    assert_eq!(calls[1].fd_path.as_deref(), Some("/t/a"));
    assert_eq!(calls[1].strings, [b"{}\n".to_vec()]);
    assert_eq!((calls[1].entry, calls[1].done), (1, 3));
    assert_eq!(calls[1].ret.as_deref(), Some("3"));
    assert_eq!(calls[2].port(), Some(8080));
    assert!(!calls[2].succeeded());
    assert_eq!((calls[3].entry, calls[3].done), (4, 4));
}
