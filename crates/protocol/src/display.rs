//! How text that came from an agent is shown to a person. Every string an
//! agent sends (its name, the target, params, evidence, helper tasks) is
//! hostile: it may carry bidi controls that reorder what is shown, invisible
//! characters that make two names look equal, newlines that forge extra
//! lines, or look-alike letters from another script. The rules live here
//! once; the CLI and the desktop notifications call them, and the console UI
//! has a twin (`ui/src/lib/display.ts`) held to the same shared corpus
//! (`crates/protocol/tests/display_corpus.json`).
//!
//! - [`escape`]: every control (Cc), format (Cf: bidi controls, zero-width
//!   characters, tags), private-use (Co) and other default-ignorable
//!   character (variation selectors, fillers), and line/paragraph separators
//!   (Zl/Zp), becomes a visible `⟦U+202E⟧`. The brackets themselves are
//!   escaped too, so an agent cannot forge an escape.
//! - [`shorten_middle`]: long text keeps its start and its end (the domain of
//!   a target), never cutting inside an escape.
//! - [`identifier_warnings`] / [`target_warnings`] / [`action_warnings`]:
//!   hidden characters, mixed scripts (UTS #39 resolved script set) and
//!   whole-identifier ASCII look-alikes (UTS #39 confusable skeletons).
//! - [`actor_label`]: the proven principal versus the agent's claim.
//! - [`evidence_submitter`]: who submitted an evidence event.

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};
use unicode_security::MixedScript;

/// Opens an escape: `⟦U+202E⟧`.
pub const ESCAPE_OPEN: char = '\u{27E6}';
/// Closes an escape.
pub const ESCAPE_CLOSE: char = '\u{27E7}';
/// The ellipsis [`shorten_middle`] puts where it cut.
pub const ELLIPSIS: char = '\u{2026}';
/// Width an actor name or principal id gets in [`actor_label`].
pub const NAME_MAX: usize = 64;
/// Width a target gets in a queue row, a table or a notification.
pub const TARGET_MAX: usize = 80;

/// Variation selectors (PropList.txt `Variation_Selector`).
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{180B}'..='\u{180D}' | '\u{180F}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// PropList.txt `Other_Default_Ignorable_Code_Point`: invisible characters
/// that are not Cf (fillers, the combining grapheme joiner, reserved tags).
fn is_other_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{2065}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{E0000}'
            | '\u{E0002}'..='\u{E001F}'
            | '\u{E0080}'..='\u{E00FF}'
            | '\u{E01F0}'..='\u{E0FFF}'
    )
}

/// Whether `c` is shown as an escape rather than as itself.
pub fn needs_escape(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
    ) || is_variation_selector(c)
        || is_other_default_ignorable(c)
        || c == ESCAPE_OPEN
        || c == ESCAPE_CLOSE
}

fn push_escape(out: &mut String, c: char) {
    out.push(ESCAPE_OPEN);
    out.push_str(&format!("U+{:04X}", c as u32));
    out.push(ESCAPE_CLOSE);
}

/// `s` with every character that [`needs_escape`] shown as `⟦U+XXXX⟧`.
/// For single-line fields: newlines are escaped too.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if needs_escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`] for multi-line text we laid out ourselves (pretty-printed
/// JSON): line feeds stay line feeds, everything else is escaped.
pub fn escape_multiline(s: &str) -> String {
    s.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// Display units of escaped text: an escape `⟦U+…⟧` is one unit (never cut
/// inside), any other character is one unit. Each with its width in chars.
fn units(s: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let len = if c == ESCAPE_OPEN { rest.find(ESCAPE_CLOSE).map(|i| i + ESCAPE_CLOSE.len_utf8()).unwrap_or(c.len_utf8()) } else { c.len_utf8() };
        let (u, tail) = rest.split_at(len);
        out.push((u, u.chars().count()));
        rest = tail;
    }
    out
}

fn is_mark(u: &str) -> bool {
    u.chars().next().is_some_and(|c| c.general_category_group() == GeneralCategoryGroup::Mark)
}

/// At most `max` characters of already escaped text: its start, `…`, and its
/// end, so the end of a target (its domain) stays visible. Never cuts inside
/// an escape and never starts the kept end with a combining mark.
pub fn shorten_middle(escaped: &str, max: usize) -> String {
    let units = units(escaped);
    let total: usize = units.iter().map(|u| u.1).sum();
    if total <= max {
        return escaped.to_owned();
    }
    let budget = max.saturating_sub(1);
    let head_budget = budget / 2;
    let (mut head, mut used) = (0, 0);
    while head < units.len() && used + units[head].1 <= head_budget {
        used += units[head].1;
        head += 1;
    }
    let tail_budget = budget - used;
    let (mut tail, mut tail_used) = (units.len(), 0);
    while tail > head && tail_used + units[tail - 1].1 <= tail_budget {
        tail_used += units[tail - 1].1;
        tail -= 1;
    }
    while tail < units.len() && is_mark(units[tail].0) {
        tail += 1;
    }
    let mut out: String = units[..head].iter().map(|u| u.0).collect();
    out.push(ELLIPSIS);
    out.extend(units[tail..].iter().map(|u| u.0));
    out
}

/// [`escape`] then [`shorten_middle`].
pub fn short(s: &str, max: usize) -> String {
    shorten_middle(&escape(s), max)
}

/// The ASCII text a non-ASCII character passes for (its UTS #39 skeleton),
/// if it passes for ASCII: Cyrillic `о` -> `o`, `ℓ` -> `l`, `ｐ` -> `p`.
pub fn ascii_lookalike(c: char) -> Option<String> {
    if c.is_ascii() || needs_escape(c) {
        return None;
    }
    let skeleton: String = unicode_security::skeleton(c.encode_utf8(&mut [0; 4])).collect();
    (!skeleton.is_empty() && skeleton.is_ascii()).then_some(skeleton)
}

fn hidden_warning(s: &str) -> Option<String> {
    let mut seen: Vec<char> = Vec::new();
    // The escape brackets are escaped so they cannot be forged, but they are
    // not hidden.
    for c in s.chars().filter(|c| needs_escape(*c) && !matches!(*c, ESCAPE_OPEN | ESCAPE_CLOSE)) {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    if seen.is_empty() {
        return None;
    }
    let mut list: Vec<String> = seen.iter().take(4).map(|c| format!("U+{:04X}", *c as u32)).collect();
    if seen.len() > 4 {
        list.push(ELLIPSIS.to_string());
    }
    Some(format!("invisible or control characters: {}", list.join(" ")))
}

fn script_warnings(s: &str) -> Vec<String> {
    // Escaped characters are warned about as hidden; some of them have a
    // script (U+061C is Arabic) but none is seen as a letter.
    let s: String = s.chars().filter(|c| !needs_escape(*c)).collect();
    let s = s.as_str();
    let mut out = Vec::new();
    if !s.is_single_script() {
        let mut names: Vec<&str> = Vec::new();
        for c in s.chars() {
            let sc = c.script();
            if !matches!(sc, Script::Common | Script::Inherited) && !names.contains(&sc.full_name()) {
                names.push(sc.full_name());
            }
        }
        out.push(format!("mixed scripts: {}", names.join("+")));
    }
    // The whole identifier passes for an ASCII one: `pаypal` (Cyrillic а).
    if !s.is_ascii() {
        let mut replaced = false;
        let mut look = String::new();
        for c in s.chars() {
            if let Some(a) = ascii_lookalike(c) {
                replaced = true;
                look.push_str(&a);
            } else if !needs_escape(c) {
                look.push(c);
            }
        }
        if replaced && look.is_ascii() {
            out.push(format!("confusable with \"{}\"", short(&look, NAME_MAX)));
        }
    }
    out
}

/// Warnings about an identifier (an actor name, a principal id, a host):
/// hidden characters, mixed scripts, passing for an ASCII identifier.
pub fn identifier_warnings(s: &str) -> Vec<String> {
    hidden_warning(s).into_iter().chain(script_warnings(s)).collect()
}

/// The host of a target (`mailto:x@host?…`, `https://user@host:443/…`), or
/// the whole target when it has no scheme.
pub fn target_host(target: &str) -> &str {
    let rest = match target.find("://") {
        Some(i) => &target[i + 3..],
        None => match target.split_once(':') {
            Some((scheme, rest))
                if scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')) =>
            {
                rest
            }
            _ => return target,
        },
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Warnings about a target: hidden characters anywhere in it, mixed scripts
/// and look-alikes in its host.
pub fn target_warnings(target: &str) -> Vec<String> {
    hidden_warning(target).into_iter().chain(script_warnings(target_host(target))).collect()
}

fn proven(principal_id: Option<&str>) -> Option<&str> {
    principal_id.filter(|p| !p.is_empty())
}

/// Who an action is from: `mail-bot ✓` when the credentials proved the
/// principal the agent names, `mail-bot ✓ · claims: trusted-bot` when they
/// proved another one, `trusted-bot (unverified)` when nothing was proved.
pub fn actor_label(actor_name: &str, principal_id: Option<&str>) -> String {
    match proven(principal_id) {
        Some(p) if p == actor_name => format!("{} \u{2713}", short(p, NAME_MAX)),
        Some(p) => format!("{} \u{2713} \u{b7} claims: {}", short(p, NAME_MAX), short(actor_name, NAME_MAX)),
        None => format!("{} (unverified)", short(actor_name, NAME_MAX)),
    }
}

/// Every warning for an action, each naming what it is about:
/// `⚠ actor: mixed scripts: Latin+Cyrillic`, `⚠ target: …`.
pub fn action_warnings(actor_name: &str, principal_id: Option<&str>, target: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = identifier_warnings(actor_name).into_iter().map(|w| format!("\u{26a0} actor: {w}")).collect();
    if let Some(p) = proven(principal_id).filter(|p| *p != actor_name) {
        out.extend(identifier_warnings(p).into_iter().map(|w| format!("\u{26a0} principal: {w}")));
    }
    if let Some(t) = target {
        out.extend(target_warnings(t).into_iter().map(|w| format!("\u{26a0} target: {w}")));
    }
    out
}

/// Who submitted an evidence event, from the event's `principal` and `via`:
/// `submitted by mail-bot ✓ (API token)` or `submitted anonymously (dev-open)`.
pub fn evidence_submitter(principal: Option<&str>, via: Option<&str>) -> String {
    let how = |v: &str| match v {
        "token" => "API token".to_owned(),
        "signature" => "key signature".to_owned(),
        "status_token" => "status token".to_owned(),
        "dev_open" => "dev-open".to_owned(),
        other => short(other, NAME_MAX),
    };
    match proven(principal) {
        Some(p) => match via {
            Some(v) => format!("submitted by {} \u{2713} ({})", short(p, NAME_MAX), how(v)),
            None => format!("submitted by {} \u{2713}", short(p, NAME_MAX)),
        },
        None => format!("submitted anonymously ({})", how(via.unwrap_or("dev_open"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bidi_invisible_control_and_separators() {
        assert_eq!(escape("a\u{202E}b"), "a⟦U+202E⟧b");
        assert_eq!(escape("\u{2066}x\u{2069}"), "⟦U+2066⟧x⟦U+2069⟧");
        assert_eq!(escape("\u{200E}\u{200F}\u{061C}"), "⟦U+200E⟧⟦U+200F⟧⟦U+061C⟧");
        assert_eq!(escape("pay\u{200B}pal\u{200D}\u{2060}\u{FEFF}"), "pay⟦U+200B⟧pal⟦U+200D⟧⟦U+2060⟧⟦U+FEFF⟧");
        assert_eq!(escape("\u{E0041}\u{E007F}"), "⟦U+E0041⟧⟦U+E007F⟧");
        assert_eq!(escape("a\u{FE0F}\u{E0100}\u{3164}"), "a⟦U+FE0F⟧⟦U+E0100⟧⟦U+3164⟧");
        assert_eq!(escape("x\0y\nz\t\u{1b}[2J\u{85}"), "x⟦U+0000⟧y⟦U+000A⟧z⟦U+0009⟧⟦U+001B⟧[2J⟦U+0085⟧");
        assert_eq!(escape("\u{2028}\u{2029}\u{E000}"), "⟦U+2028⟧⟦U+2029⟧⟦U+E000⟧");
        assert_eq!(escape("mail-bot café 日本 ❤"), "mail-bot café 日本 ❤");
        assert_eq!(escape_multiline("{\n  \"a\": \"\u{202E}\"\n}"), "{\n  \"a\": \"⟦U+202E⟧\"\n}");
    }

    #[test]
    fn an_agent_cannot_forge_an_escape() {
        assert_eq!(escape("⟦U+202E⟧"), "⟦U+27E6⟧U+202E⟦U+27E7⟧");
        // Every ⟦ in escaped text opens a genuine escape.
        let e = escape("x⟦⟧\u{202E}");
        assert_eq!(units(&e).iter().filter(|u| u.0.starts_with(ESCAPE_OPEN)).count(), 3);
    }

    #[test]
    fn the_escape_set_covers_every_default_ignorable_code_point() {
        // The confusable skeleton drops exactly the Default_Ignorable_Code_Point
        // characters; each of them must be escaped, or an invisible character
        // would pass.
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else { continue };
            if unicode_security::skeleton(c.encode_utf8(&mut [0; 4])).next().is_none() {
                assert!(needs_escape(c), "U+{cp:04X} is default-ignorable but shown raw");
            }
        }
    }

    #[test]
    fn shortens_in_the_middle_keeping_the_end() {
        let t = format!("mailto:{}@evil.com", "a".repeat(10_000));
        let s = shorten_middle(&escape(&t), 40);
        assert_eq!(s.chars().count(), 40);
        assert!(s.starts_with("mailto:aaaa") && s.ends_with("aaaa@evil.com"), "{s}");
        assert!(s.contains(ELLIPSIS));
        assert_eq!(shorten_middle("short", 40), "short");
        assert_eq!(shorten_middle("abcdefghij", 10), "abcdefghij");
        assert_eq!(shorten_middle("abcdefghijk", 10), "abcd…ghijk");
    }

    #[test]
    fn never_cuts_inside_an_escape() {
        let e = escape(&format!("{}\u{202E}{}", "a".repeat(20), "b".repeat(20)));
        for max in 1..e.chars().count() {
            let s = shorten_middle(&e, max);
            assert!(s.chars().count() <= max.max(1), "{max}: {s}");
            let opens = s.matches(ESCAPE_OPEN).count();
            assert_eq!(opens, s.matches(ESCAPE_CLOSE).count(), "{max}: {s}");
            if opens == 1 {
                assert!(s.contains("⟦U+202E⟧"), "{max}: {s}");
            }
        }
        // The kept end never starts with a combining mark.
        assert_eq!(shorten_middle("abcdefghe\u{301}\u{301}xy", 6), "ab…xy");
    }

    #[test]
    fn warns_about_mixed_scripts_and_look_alikes() {
        assert_eq!(identifier_warnings("paypal-bot"), Vec::<String>::new());
        assert_eq!(identifier_warnings("paypal-b\u{43E}t"), vec!["mixed scripts: Latin+Cyrillic", "confusable with \"paypal-bot\""]);
        // All Cyrillic, yet reads as ASCII "paypal": single script, still a look-alike.
        assert_eq!(identifier_warnings("\u{440}\u{430}\u{443}\u{440}\u{430}\u{04CF}"), vec!["confusable with \"paypal\""]);
        assert_eq!(identifier_warnings("почта-бот"), Vec::<String>::new());
        assert_eq!(identifier_warnings("mail\u{200B}bot"), vec!["invisible or control characters: U+200B"]);
        assert_eq!(identifier_warnings("ひらがなカタカナ漢字"), Vec::<String>::new());
        assert_eq!(identifier_warnings("abc漢字"), vec!["mixed scripts: Latin+Han"]);
        assert_eq!(identifier_warnings("café-bot"), Vec::<String>::new());
    }

    #[test]
    fn finds_the_host_of_a_target() {
        assert_eq!(target_host("mailto:sarah@acme.com?subject=hi"), "acme.com");
        assert_eq!(target_host("https://user@p\u{430}ypal.com:443/x?y#z"), "p\u{430}ypal.com");
        assert_eq!(target_host("acme/web#12"), "acme/web#12");
        assert_eq!(target_host("tel:+15551234"), "+15551234");
        assert_eq!(target_warnings("https://p\u{430}ypal.com/login"), vec!["mixed scripts: Latin+Cyrillic", "confusable with \"paypal.com\""]);
        assert_eq!(target_warnings("mailto:\u{43F}\u{43E}\u{447}\u{442}\u{430}@mail.ru"), Vec::<String>::new());
    }

    #[test]
    fn labels_the_proven_principal_and_the_claim() {
        assert_eq!(actor_label("mail-bot", Some("mail-bot")), "mail-bot ✓");
        assert_eq!(actor_label("trusted-bot", Some("mail-bot")), "mail-bot ✓ · claims: trusted-bot");
        assert_eq!(actor_label("trusted-bot", None), "trusted-bot (unverified)");
        assert_eq!(actor_label("trusted-bot", Some("")), "trusted-bot (unverified)");
        assert_eq!(actor_label("a\u{202E}b", None), "a⟦U+202E⟧b (unverified)");
        assert_eq!(actor_label(&"x".repeat(500), None).chars().count(), NAME_MAX + " (unverified)".len());
        assert_eq!(evidence_submitter(Some("mail-bot"), Some("token")), "submitted by mail-bot ✓ (API token)");
        assert_eq!(evidence_submitter(None, Some("dev_open")), "submitted anonymously (dev-open)");
        assert_eq!(evidence_submitter(None, None), "submitted anonymously (dev-open)");
        assert_eq!(
            action_warnings("p\u{430}ypal", Some("mail-bot"), Some("x\u{202E}")),
            vec!["⚠ actor: mixed scripts: Latin+Cyrillic", "⚠ actor: confusable with \"paypal\"", "⚠ target: invisible or control characters: U+202E"]
        );
    }
}
