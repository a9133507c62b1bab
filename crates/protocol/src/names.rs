//! One comparison rule for names that stand for identities (principal ids,
//! claimed actor names, claimed helper parents): two names are the same when
//! their folded forms are equal.
//!
//! The fold approximates Unicode's `NFKC_Casefold`: NFKC (so fullwidth
//! `ｍａｉｌｂｏｔ` and ligatures become plain letters), full case folding
//! (`Mailbot`, `MAILBOT`, `ß`/`ss`), NFKC again (folding can denormalise),
//! default-ignorable code points removed (zero-width spaces, joiners, soft
//! hyphens, variation selectors, bidi controls) and surrounding whitespace
//! trimmed.

use unicode_normalization::UnicodeNormalization;

/// The folded form of a name; compare names by comparing these.
pub fn fold_name(name: &str) -> String {
    let nfkc: String = name.nfkc().filter(|c| !is_default_ignorable(*c)).collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    let again: String = folded.nfkc().filter(|c| !is_default_ignorable(*c)).collect();
    again.trim().to_owned()
}

/// Whether two names denote the same identity.
pub fn same_name(a: &str, b: &str) -> bool {
    fold_name(a) == fold_name(b)
}

/// Unicode's `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt):
/// invisible in rendering, so they must not make two names differ.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_of_one_name_fold_together() {
        for v in [
            "mailbot",
            "Mailbot",
            "MAILBOT",
            "mailbot ",
            "  mailbot\t",
            "ｍａｉｌｂｏｔ",
            "Ｍａｉｌｂｏｔ",
            "mail\u{200B}bot",
            "mail\u{00AD}bot",
            "\u{FEFF}mailbot",
        ] {
            assert_eq!(fold_name(v), "mailbot", "{v:?}");
        }
        assert_eq!(fold_name("Straße"), fold_name("STRASSE"));
        assert_eq!(fold_name("ﬁle-bot"), "file-bot");
        assert!(same_name("Trusted-Bot", "trusted-bot"));
    }

    #[test]
    fn different_names_stay_different() {
        assert_ne!(fold_name("mailbot"), fold_name("mail-bot"));
        assert_ne!(fold_name("mailbot"), fold_name("mail bot"));
        assert_ne!(fold_name("mailbot"), fold_name("mailbot2"));
        // Cyrillic "а" is a different letter, not a variant of Latin "a".
        assert_ne!(fold_name("mаilbot"), fold_name("mailbot"));
    }
}
