//! Text from the network (a measurement's `input`, a page title, OONI's `blocking`, a file
//! name) escaped for where it is shown: a terminal must not receive control sequences, a
//! Markdown document must not receive headings, tables cells, links or HTML.

use std::borrow::Cow;

/// Control characters (C0, DEL, C1) and the bidirectional overrides made visible as `\u{..}`:
/// an `ESC [ 2 J` in a hostile `input` can clear or rewrite the user's terminal, a
/// right-to-left override can make one URL read as another.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_on_terminal(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn unsafe_on_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Safe inside a Markdown table cell or list item (GitHub's renderer, which passes some HTML
/// through): HTML's specials become entities, Markdown's specials are backslash-escaped, line
/// breaks and tabs become spaces (a line break would end the cell and start a heading), other
/// control characters are named (`U+001B`).
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if unsafe_on_terminal(c) => out.push_str(&format!("U+{:04X}", c as u32)),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_are_made_visible() {
        let hostile = "https://a.kz/\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}gpj.exe";
        let safe = terminal(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe}");
        assert!(safe.contains("\\u{1b}[2J"), "{safe}");
        assert!(safe.contains("\\u{202e}"), "{safe}");
        assert_eq!(terminal("https://a.kz/ok"), "https://a.kz/ok");
    }

    #[test]
    fn markdown_cannot_open_html_headings_or_cells() {
        let hostile = "x\n# Injected <script>alert(1)</script> | cell ![i](http://e/) <img src=x onerror=alert(1)>";
        let safe = markdown(hostile);
        for bad in ["<script", "<img", "\n", "](", "\u{1b}"] {
            assert!(!safe.contains(bad), "{bad:?} in {safe}");
        }
        // Every cell separator is escaped.
        assert!(
            safe.match_indices('|')
                .all(|(i, _)| &safe[i - 1..i] == "\\"),
            "{safe}"
        );
        assert_eq!(markdown("a\u{1b}[2J"), "a U+001B\\[2J".replace(' ', ""));
    }
}
