//! Programs from PyPI that tests drive (moto's server, the `aws` CLI, xmlschema): installed on
//! first use into a virtualenv under `target/` from `tests/support/requirements.txt`, the way
//! [`super::require`] installs a Debian package. Never skipped: without python3 the test fails
//! with the command that installs what it needs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The virtualenv the tests use: `target/venv` of this checkout.
pub fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv")
}

/// The path of `program` in the tests' virtualenv (`aws`, `moto_server`, `python`), creating
/// the virtualenv and installing the pinned requirements first if it is missing.
pub fn venv_program(program: &str) -> PathBuf {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let venv = venv();
    let path = venv.join("bin").join(program);
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/requirements.txt");
    // The marker records which requirements were installed, so that a changed pin reinstalls.
    let marker = venv.join("runbook-requirements.txt");
    let wanted =
        std::fs::read_to_string(&requirements).expect("read tests/support/requirements.txt");
    let installed = || std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) && path.exists();
    if installed() {
        return path;
    }
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if installed() {
        return path;
    }
    let install = format!(
        "python3 -m venv {venv} && {venv}/bin/pip install -r {req}",
        venv = venv.display(),
        req = requirements.display()
    );
    eprintln!("installing the tests' PyPI programs: {install}");
    if !venv.join("bin/pip").exists() {
        run_install(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            &install,
        );
    }
    run_install(
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
        &install,
    );
    std::fs::write(&marker, &wanted).expect("write the virtualenv's marker");
    assert!(
        path.exists(),
        "{program} is not in {} after `{install}`",
        venv.display()
    );
    path
}

fn run_install(command: &mut Command, install: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?} ({e}); install with `{install}`"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}); install with `{install}`\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
