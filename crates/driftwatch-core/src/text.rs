//! Text from the logs shown to a person: account names, hosts and summaries come from
//! records anyone able to write to a log source can forge.

use std::borrow::Cow;

/// `text` safe to print on a terminal: control characters (ANSI escapes, CR, LF, NUL, ...)
/// and the invisible format characters that reorder or hide text (bidirectional overrides,
/// zero-width characters) are written as `\u{…}` escapes, so a forged account name cannot
/// move the cursor, recolour the screen or forge a line of its own. Everything else,
/// accented and non-Latin letters included, is kept as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters that act on the terminal or the layout instead of showing.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_format_characters_are_escaped_and_letters_kept() {
        assert!(matches!(printable("CORP\\eklein"), Cow::Borrowed(_)));
        assert_eq!(printable("Łukasz Müller 佐藤"), "Łukasz Müller 佐藤");
        assert_eq!(
            printable("x\u{1b}[2J\r\n  alerts 0"),
            "x\\u{1b}[2J\\u{d}\\u{a}  alerts 0"
        );
        assert_eq!(printable("admin\u{202e}gpj.exe"), "admin\\u{202e}gpj.exe");
        assert_eq!(printable("a\u{0}b\u{7f}"), "a\\u{0}b\\u{7f}");
    }

    proptest::proptest! {
        /// Issue 17, item 8: nothing that acts on a terminal survives, whatever the text,
        /// and text with nothing to hide is shown as it is.
        #[test]
        fn nothing_hidden_survives(text in "\\PC{0,40}|[\\x00-\\x1f\\x7f\\u{200b}-\\u{200f}\\u{202a}-\\u{202e}a-z\\\\]{0,40}") {
            let shown = printable(&text);
            proptest::prop_assert!(!shown.chars().any(hidden), "{shown:?}");
            if !text.chars().any(hidden) {
                proptest::prop_assert_eq!(shown.as_ref(), text.as_str());
            }
        }
    }
}
