//! Display integrity in the CLI: every string an agent sends is hostile.
//! Bidi controls, invisible and control characters come out as visible
//! `⟦U+202E⟧` escapes, look-alike names are flagged, long targets are
//! shortened in the middle (the domain stays), and the proven principal is
//! shown apart from the name the agent claims.

use gatehouse_tests::*;
use serde_json::{json, Value};

const RAW: [char; 5] = ['\u{202E}', '\u{200B}', '\0', '\u{2066}', '\u{1b}'];

fn operator(hub: &Hub, role: &str) -> Cli {
    let (cli, _) = hub.operator("dora", role);
    cli
}

fn assert_no_raw(what: &str, text: &str) {
    for c in RAW {
        assert!(!text.contains(c), "{what} prints a raw U+{:04X}:\n{text}", c as u32);
    }
}

fn ok(r: &Run, what: &str) -> String {
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    r.stdout.clone()
}

/// The hostile corpus, proposed anonymously to a `--dev-open` hub. Returns
/// (bidi id, look-alike id, long-target id).
fn propose_hostile(hub: &str) -> (String, String, String) {
    let bidi = unique("disp-bidi");
    let r = propose(
        hub,
        json!({"id": bidi, "type": "send_email", "actor": {"kind": "agent", "name": "mail\u{202E}tob-\u{200B}liam\u{2066}"},
               "target": "mailto:ceo@acme.com\u{202E}moc.live\0\nFAKE LINE", "params": {"subject": "hi\u{202E}\u{1b}[2J"}}),
    );
    assert_eq!(r["status"], "requires_approval", "{r}");
    let look = unique("disp-look");
    let r = propose(
        hub,
        json!({"id": look, "type": "send_email", "actor": {"kind": "agent", "name": "paypal-b\u{43E}t"}, "target": "https://p\u{430}ypal.com/login"}),
    );
    assert_eq!(r["status"], "requires_approval", "{r}");
    let long = unique("disp-long");
    let target = format!("mailto:{}@evil.com", "a".repeat(10_000));
    let r = propose(hub, json!({"id": long, "type": "send_email", "actor": {"kind": "agent", "name": "mail-bot"}, "target": target}));
    assert_eq!(r["status"], "requires_approval", "{r}");
    (bidi, look, long)
}

#[test]
fn hostile_agent_text_is_escaped_flagged_and_shortened_in_the_cli() {
    require_keyring();
    let hub = Hub::start_with(None, &["--dev-open"]);
    let cli = operator(&hub, "approver");
    let (bidi, look, long) = propose_hostile(&hub.url);

    // The queue.
    let table = ok(&cli.run(&["approvals"]), "approvals");
    assert_no_raw("approvals", &table);
    for needle in ["⟦U+202E⟧", "⟦U+200B⟧", "⟦U+2066⟧", "⟦U+0000⟧", "⟦U+000A⟧FAKE LINE", "(unverified)"] {
        assert!(table.contains(needle), "approvals lacks {needle:?}:\n{table}");
    }
    assert!(!table.lines().any(|l| l.starts_with("FAKE LINE")), "a newline in the target forged a line:\n{table}");
    assert!(table.contains("⚠ actor: mixed scripts: Latin+Cyrillic"), "{table}");
    assert!(table.contains("⚠ actor: confusable with \"paypal-bot\""), "{table}");
    assert!(table.contains("⚠ target: mixed scripts: Latin+Cyrillic") && table.contains("⚠ target: confusable with \"paypal.com\""), "{table}");
    assert!(table.contains("⚠ actor: invisible or control characters: U+202E U+200B U+2066"), "{table}");
    let row = table.lines().find(|l| l.starts_with(&long)).unwrap_or_else(|| panic!("no row for {long}:\n{table}"));
    assert!(row.chars().count() < 400, "the 10 kB target is shortened: {} chars", row.chars().count());
    assert!(row.contains("mailto:aaaa") && row.contains("aaaa@evil.com") && row.contains('…'), "shortened in the middle, the domain kept: {row}");

    // One action in full: the whole target stays reachable, escaped.
    let shown = ok(&cli.run(&["show", &long]), "show");
    assert_no_raw("show", &shown);
    assert!(shown.contains("  target: mailto:aaaa") && shown.contains("@evil.com"), "{shown}");
    assert!(shown.contains(&format!("  full target: mailto:{}@evil.com", "a".repeat(10_000))), "the full target is reachable");
    assert!(shown.contains("principal: none proven (unverified)"), "{shown}");
    let shown = ok(&cli.run(&["show", &bidi]), "show");
    assert_no_raw("show", &shown);
    assert!(shown.contains("mail⟦U+202E⟧tob-⟦U+200B⟧liam⟦U+2066⟧ (unverified)"), "{shown}");
    assert!(shown.contains("target: mailto:ceo@acme.com⟦U+202E⟧moc.live⟦U+0000⟧⟦U+000A⟧FAKE LINE"), "{shown}");
    assert!(shown.contains("⚠ target: invisible or control characters: U+202E U+0000 U+000A"), "{shown}");
    // Params are JSON: controls are JSON escapes already, the rest is escaped.
    assert!(shown.contains(r#"{"subject":"hi⟦U+202E⟧\u001b[2J"}"#), "params are escaped too: {shown}");
    let shown = ok(&cli.run(&["show", &look]), "show");
    assert!(shown.contains("⚠ actor: confusable with \"paypal-bot\""), "{shown}");

    // The live feed, from the start.
    let watched = ok(&cli.run(&["watch", "--after", "0", "--count", "6"]), "watch");
    assert_no_raw("watch", &watched);
    assert!(watched.contains("mail⟦U+202E⟧tob-⟦U+200B⟧liam⟦U+2066⟧ (unverified)") && watched.contains("aaaa@evil.com"), "{watched}");
    assert!(watched.contains("⚠ actor: mixed scripts: Latin+Cyrillic"), "{watched}");

    // Anonymous evidence on a dev-open hub says so in the trace.
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/evidence", hub.url))
        .json(&json!({"actionId": bidi, "checks": [{"name": "sent\u{202E}", "pass": true}]}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "evidence: {}", r.status());
    let trace = cli.run(&["trace", &bidi]);
    assert_no_raw("trace", &trace.stdout);
    assert!(trace.stdout.contains("evidence.attached") && trace.stdout.contains("submitted anonymously (dev-open)"), "{}{}", trace.stdout, trace.stderr);
}

#[test]
fn a_token_proven_principal_is_shown_apart_from_the_claimed_actor() {
    require_keyring();
    let hub = Hub::start_with(None, &[]); // credentials required
    let admin = operator(&hub, "admin");
    let add = admin.run(&["principals", "add", "mail-bot", "--org", "acme"]);
    let token = ok(&add, "principals add").trim().lines().last().unwrap().to_owned();
    ok(&admin.run(&["grant", "mail-bot", "send_email", "--reason", "display test"]), "grant");

    // The token proves mail-bot; the agent claims to be someone else.
    let claimed = unique("disp-claim");
    let (code, v) = bearer_post(
        &format!("{}/actions", hub.url),
        &token,
        json!({"id": claimed, "type": "send_email", "actor": {"kind": "agent", "name": "trusted-bot"}, "target": "mailto:cfo@acme.com"}),
    );
    assert!((200..300).contains(&code), "{code} {v}");
    // The token proves mail-bot and the agent says so.
    let honest = unique("disp-honest");
    let (code, v) = bearer_post(
        &format!("{}/actions", hub.url),
        &token,
        json!({"id": honest, "type": "send_email", "actor": {"kind": "agent", "name": "mail-bot"}, "target": "mailto:cfo@acme.com"}),
    );
    assert!((200..300).contains(&code), "{code} {v}");

    let table = ok(&admin.run(&["approvals"]), "approvals");
    let row = |id: &str| table.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("no row for {id}:\n{table}")).to_owned();
    assert!(row(&claimed).contains("mail-bot ✓ · claims: trusted-bot"), "{table}");
    assert!(row(&honest).contains("mail-bot ✓") && !row(&honest).contains("claims:") && !row(&honest).contains("unverified"), "{table}");
    let shown = ok(&admin.run(&["show", &claimed]), "show");
    assert!(shown.contains("by agent:mail-bot ✓ · claims: trusted-bot"), "{shown}");
    assert!(shown.contains("principal: mail-bot ✓ (proven by its credentials)") && shown.contains("claims to be: trusted-bot"), "{shown}");
    let listed: Value = admin.run(&["--json", "show", &claimed]).json();
    assert_eq!(listed["item"]["action"]["principalId"], "mail-bot");

    // Evidence sent with the principal's token names it in the trace.
    let (code, v) = bearer_post(&format!("{}/evidence", hub.url), &token, json!({"actionId": claimed, "checks": [{"name": "sent", "pass": true}]}));
    assert_eq!(code, 200, "{v}");
    let trace = admin.run(&["trace", &claimed]);
    assert!(trace.stdout.contains("submitted by mail-bot ✓ (API token)"), "{}{}", trace.stdout, trace.stderr);
}
