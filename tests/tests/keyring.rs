//! The operator key lives only in gnome-keyring's Secret Service: created
//! once, never replaced, never printed or written to disk.

use gatehouse_tests::*;
use std::process::Command;

fn secret_from_keyring(operator: &str) -> String {
    let out = Command::new("secret-tool").args(["lookup", "service", "gatehouse", "username", operator]).output().expect("secret-tool");
    assert!(out.status.success(), "the key is not in the Secret Service");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn key_is_created_in_the_keyring_never_replaced_never_leaked() {
    require_keyring();
    let hub = Hub::start();
    let cli = Cli::new(&hub.url, &unique("kim"));
    let init = cli.run(&["key", "init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let pk = init.stdout.trim().to_owned();
    assert_eq!(pk.len(), 64);

    let secret = secret_from_keyring(&cli.operator);
    assert_eq!(secret.len(), 64, "the keyring holds the 32-byte seed as hex");
    let derived = gatehouse_protocol::SigningKey::from_secret_hex(&secret).unwrap().public().to_hex();
    assert_eq!(derived, pk, "the public key printed is the keyring key's");

    let again = cli.run(&["key", "init"]);
    assert_eq!(again.code, 4);
    assert!(again.stderr.contains("key_exists"), "{}", again.stderr);
    assert_eq!(secret_from_keyring(&cli.operator), secret, "the key was not replaced");

    assert_eq!(cli.run(&["key", "show"]).stdout.trim(), pk);
    let pem = cli.run(&["key", "show", "--format", "spki-pem"]).stdout;
    assert_eq!(pem.trim(), gatehouse_protocol::PublicKey::from_hex(&pk).unwrap().to_spki_pem().trim());

    // Use the key for real, with verbose logging, and look for the secret
    // in every output and every file written.
    hub.enrol(&cli.operator, &pk, "approver");
    held_action(&hub.url, "k-1");
    let mut outputs = vec![init, again];
    for args in [&["approvals"][..], &["approve", "k-1"], &["--json", "show", "k-1"], &["--json", "outbox"]] {
        let r: Run = cli.command().env("GATEHOUSE_LOG", "trace").args(args).output().unwrap().into();
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        outputs.push(r);
    }
    for r in &outputs {
        assert!(!r.stdout.contains(&secret) && !r.stderr.contains(&secret), "secret leaked to output");
    }
    let mut files = Vec::new();
    files_under(cli.data.path(), &mut files);
    files_under(hub.dir.path(), &mut files);
    assert!(!files.is_empty());
    let secret_bytes = hex_decode(&secret);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&secret), "secret (hex) found in {}", f.display());
        assert!(!bytes.windows(32).any(|w| w == secret_bytes.as_slice()), "secret (raw) found in {}", f.display());
    }
}

#[test]
fn missing_key_and_missing_operator_are_clear_errors() {
    require_keyring();
    let cli = Cli::new("http://127.0.0.1:9", &unique("nokey"));
    let r = cli.run(&["approvals"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("gatehouse key init"));
    let r: Run = cli.command().env_remove("GATEHOUSE_OPERATOR").args(["approvals"]).output().unwrap().into();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no_operator"), "{}", r.stderr);
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// One rule for ids (protocol::rules): 200 characters, not bytes. An id of
/// 200 non-ASCII characters (400 bytes) is enrolled by the hub and used by
/// the CLI; one character more is refused by both, with the same reason.
#[test]
fn the_hub_and_the_cli_accept_the_same_operator_ids() {
    require_keyring();
    let hub = Hub::start();
    let base = unique("é");
    let at_limit = format!("{base}{}", "é".repeat(200 - base.chars().count()));
    assert_eq!(at_limit.chars().count(), 200);
    assert!(at_limit.len() > 200, "counted in bytes it would be over the limit");
    let cli = Cli::new(&hub.url, &at_limit);
    let pk = cli.key_init();
    hub.enrol(&at_limit, &pk, "approver");
    let list = cli.run(&["approvals", "--json"]);
    assert_eq!(list.code, 0, "the hub authenticates the enrolled id: {}", list.stderr);
    assert!(list.json()["items"].is_array());

    let over = format!("{at_limit}é");
    let refused = Cli::new(&hub.url, &over).run(&["key", "init"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("is longer than 200 characters"), "{}", refused.stderr);
    let out = std::process::Command::new(bin("gatehouse-hub"))
        .args(["operators", "add", "--db"])
        .arg(hub.db())
        .args(["--id", &over, "--public-key", &pk, "--role", "approver"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is longer than 200 characters"), "{}", String::from_utf8_lossy(&out.stderr));
}
