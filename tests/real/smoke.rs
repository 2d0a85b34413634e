//! The starters themselves: a real nginx answers on its port and is gone after the test.

use crate::support::{free_port, http_status, process_gone};

use super::stack;

#[test]
fn nginx_starts_answers_and_stops_with_its_test() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let mut nginx = stack::nginx(
        dir.path(),
        &format!("server {{ listen 127.0.0.1:{port}; location / {{ return 200 'up'; }} }}"),
        &url,
    );
    assert_eq!(http_status(&url), Some(200));
    nginx.signal("HUP");
    nginx.wait_tcp(&format!("127.0.0.1:{port}"));
    assert_eq!(http_status(&url), Some(200), "nginx answers after a reload");
    let pid = nginx.pid().to_string();
    drop(nginx);
    assert!(process_gone(&pid), "nginx outlived its Daemon");
    assert_eq!(http_status(&url), None, "something still answers on {url}");
}

#[test]
fn the_tests_virtualenv_has_the_aws_cli_moto_and_xmlschema() {
    let aws = crate::support::venv_program("aws");
    let version = std::process::Command::new(&aws)
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success(), "{aws:?} --version: {version:?}");
    assert!(crate::support::venv_program("moto_server").exists());
    let python = crate::support::venv_program("python");
    let import = std::process::Command::new(python)
        .args(["-c", "import xmlschema, moto"])
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");
}
