//! Output into a closed pipe (`gatehouse approvals | head -1`,
//! `gatehouse-hub operators list | true`) ends a command quietly and
//! successfully: exit status 0, no panic on stderr.

use gatehouse_protocol::SigningKey;
use gatehouse_tests::*;
use std::io::{BufRead, BufReader};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The write end of a pipe whose only reader has already exited: every
/// write to it fails with EPIPE, deterministically.
fn closed_pipe() -> ChildStdin {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().expect("spawn true");
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    write_end
}

/// Run `cmd` with stdout into a closed pipe; assert it exits 0 without a panic.
fn assert_quiet_success(what: &str, mut cmd: Command) {
    let out = cmd.stdin(Stdio::null()).stdout(Stdio::from(closed_pipe())).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what} panicked on a closed stdout:\n{stderr}");
    assert_eq!(out.status.code(), Some(0), "{what} into a closed pipe: {:?}\n{stderr}", out.status);
}

#[test]
fn hub_admin_commands_exit_zero_into_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let hub = |args: &[&str]| {
        let mut c = Command::new(bin("gatehouse-hub"));
        c.args(args).arg("--db").arg(&db);
        c
    };
    for (i, role) in ["admin", "approver"].iter().enumerate() {
        let key = SigningKey::generate().public().to_hex();
        let id = format!("op-{i}");
        assert_quiet_success("gatehouse-hub operators add", hub(&["operators", "add", "--id", &id, "--public-key", &key, "--role", role]));
    }
    // Both were enrolled, though nobody read the confirmations.
    let listed = hub(&["operators", "list"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2, "{listed:?}");
    assert_quiet_success("gatehouse-hub operators list", hub(&["operators", "list"]));
    assert_quiet_success("gatehouse-hub seed", hub(&["seed", "--count", "3"]));
}

#[test]
fn cli_commands_exit_zero_into_a_closed_pipe() {
    require_keyring();
    let hub = Hub::start();
    let (cli, _) = hub.operator("pia", "approver");
    let id = unique("pipe");
    held_action(&hub.url, &id);

    let run = |args: &[&str]| {
        let mut c = cli.command();
        c.args(args);
        c
    };
    assert_quiet_success("gatehouse approvals", run(&["approvals"]));
    assert_quiet_success("gatehouse --json approvals", run(&["--json", "approvals"]));
    assert_quiet_success("gatehouse show", run(&["show", &id]));
    assert_quiet_success("gatehouse outbox", run(&["outbox"]));
    assert_quiet_success("gatehouse key show", run(&["key", "show"]));
    // Following commands stop at their first line: the queue, or an event.
    assert_quiet_success("gatehouse watch", run(&["watch"]));
    assert_quiet_success("gatehouse watch --after 0", run(&["watch", "--after", "0"]));
    assert_quiet_success("gatehouse helpers --watch", run(&["helpers", "--watch"]));
}

#[test]
fn watch_read_for_one_line_then_closed_exits_zero() {
    // `gatehouse watch --after 0 | head -1`: the reader takes a line and
    // goes; the next event ends the watch, successfully.
    require_keyring();
    let hub = Hub::start();
    let (cli, _) = hub.operator("pia", "approver");
    held_action(&hub.url, &unique("first"));

    let mut child = cli.command().args(["watch", "--after", "0"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with('#'), "the first line is an event: {line:?}");
    // The reader is gone; more events arrive.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch kept running after its reader left");
        }
        held_action(&hub.url, &unique("more"));
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("panicked"), "watch panicked:\n{stderr}");
    assert_eq!(status.code(), Some(0), "{status:?}\n{stderr}");
}
