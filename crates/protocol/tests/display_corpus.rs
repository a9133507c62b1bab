//! The display rules (`gatehouse_protocol::display`) against the corpus the
//! console UI's twin (`ui/src/lib/display.ts`, `display.test.ts`) must pass
//! too, so the two cannot drift; and the Unicode data the UI needs, generated
//! from the same crates the Rust side uses (`display.generated.ts`).

use gatehouse_protocol::display::{self, TARGET_MAX};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> Value {
    let text = std::fs::read_to_string(root().join("crates/protocol/tests/display_corpus.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cases<'a>(c: &'a Value, key: &str) -> &'a Vec<Value> {
    let v = c[key].as_array().unwrap_or_else(|| panic!("corpus has no {key}"));
    assert!(!v.is_empty(), "{key} is empty");
    v
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn opt(v: &Value) -> Option<&str> {
    v.as_str()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| s(x).to_owned()).collect()
}

#[test]
fn corpus_strings_escape_and_warn() {
    let c = corpus();
    for case in cases(&c, "strings") {
        let input = s(&case["input"]);
        assert_eq!(display::escape(input), s(&case["escaped"]), "escape: {}", case["name"]);
        assert_eq!(display::identifier_warnings(input), strings(&case["warnings"]), "warnings: {}", case["name"]);
        // Nothing that must be escaped survives escaping.
        assert!(!display::escape(input).chars().any(|ch| display::needs_escape(ch) && ch != display::ESCAPE_OPEN && ch != display::ESCAPE_CLOSE));
    }
    for case in cases(&c, "multiline") {
        assert_eq!(display::escape_multiline(s(&case["input"])), s(&case["escaped"]));
    }
}

#[test]
fn corpus_shortens_in_the_middle() {
    let c = corpus();
    for case in cases(&c, "shorten") {
        let max = case["max"].as_u64().unwrap() as usize;
        assert_eq!(display::shorten_middle(&display::escape(s(&case["input"])), max), s(&case["short"]), "{case}");
    }
}

#[test]
fn corpus_targets() {
    let c = corpus();
    for case in cases(&c, "targets") {
        let t = s(&case["input"]);
        assert_eq!(display::target_host(t), s(&case["host"]), "{t:?}");
        assert_eq!(display::target_warnings(t), strings(&case["warnings"]), "{t:?}");
        assert_eq!(display::short(t, TARGET_MAX), s(&case["short"]), "{t:?}");
    }
}

#[test]
fn corpus_actors_and_submitters() {
    let c = corpus();
    for case in cases(&c, "actors") {
        let (name, principal, target) = (s(&case["name"]), opt(&case["principal"]), opt(&case["target"]));
        assert_eq!(display::actor_label(name, principal), s(&case["label"]), "{case}");
        assert_eq!(display::action_warnings(name, principal, target), strings(&case["warnings"]), "{case}");
    }
    for case in cases(&c, "submitters") {
        assert_eq!(display::evidence_submitter(opt(&case["principal"]), opt(&case["via"])), s(&case["text"]), "{case}");
    }
}

/// The UI cannot compute UTS #39 skeletons or enumerate scripts by itself:
/// this is the data it needs, derived from the crates display.rs uses.
fn generated_ts() -> String {
    use unicode_script::UnicodeScript;
    let mut counts = std::collections::BTreeMap::<&'static str, usize>::new();
    let mut lookalikes = Vec::new();
    for cp in 0..=0x10FFFFu32 {
        let Some(ch) = char::from_u32(cp) else { continue };
        *counts.entry(ch.script().full_name()).or_default() += 1;
        for sc in ch.script_extension().iter() {
            counts.entry(sc.full_name()).or_default();
        }
        if let Some(a) = display::ascii_lookalike(ch) {
            assert!(!a.contains('\n') && !a.is_empty(), "U+{cp:04X} -> {a:?}");
            lookalikes.push(format!("{cp:x} {a}"));
        }
    }
    // Most frequent first: the UI stops at the first script that matches.
    let mut names: Vec<(&str, usize)> = counts.into_iter().collect();
    names.sort_by(|a, b| {
        let rank = |n: &str| ["Latin", "Common", "Inherited", "Cyrillic", "Greek"].iter().position(|x| *x == n).unwrap_or(99);
        rank(a.0).cmp(&rank(b.0)).then(b.1.cmp(&a.1)).then(a.0.cmp(b.0))
    });
    let names: Vec<&str> = names.into_iter().map(|n| n.0).collect();
    format!(
        "// Generated from the Rust crates crates/protocol/src/display.rs uses (unicode-script,\n\
         // unicode-security); do not edit. Regenerate with\n\
         // `GATEHOUSE_BLESS=1 cargo test -p gatehouse-protocol --test display_corpus`.\n\n\
         /** Script names (Unicode `Script` long names), most common first. */\n\
         export const SCRIPT_NAMES: readonly string[] = {};\n\n\
         /** `hex ascii` lines (split at the first space): non-ASCII characters whose UTS #39 skeleton is ASCII. */\n\
         export const ASCII_LOOKALIKES: string =\n  {};\n",
        serde_json::to_string(&names).unwrap(),
        serde_json::to_string(&lookalikes.join("\n")).unwrap()
    )
}

#[test]
fn ui_unicode_data_is_generated_from_the_rust_crates() {
    let path = root().join("ui/src/lib/display.generated.ts");
    let want = generated_ts();
    if std::env::var_os("GATEHOUSE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{} is stale: run GATEHOUSE_BLESS=1 cargo test -p gatehouse-protocol --test display_corpus", path.display());
}
