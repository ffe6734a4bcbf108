//! Facts read from a page's HTML: pure text functions shared by the probe (when it records a
//! page) and the analysis (when it judges a stored or imported one).

/// Longest title kept, in characters.
pub const MAX_TITLE: usize = 512;

/// The first `<title>` of an HTML text, whitespace collapsed, at most `MAX_TITLE` characters.
pub fn title(html: &str) -> Option<String> {
    // ASCII lower-casing keeps byte offsets, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower.get(open..)?.find('>')? + 1;
    let len = lower
        .get(start..)?
        .find("</title")
        .unwrap_or(lower.len() - start);
    let raw = html.get(start..start + len)?;
    let text: String = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_TITLE)
        .collect();
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_titles() {
        assert_eq!(
            title("<html><TITLE lang=x>\n Hello\n  world </title>").as_deref(),
            Some("Hello world")
        );
        assert_eq!(title("no title"), None);
        assert_eq!(
            title("<title>unterminated").as_deref(),
            Some("unterminated")
        );
        assert_eq!(title("<title"), None);
        assert_eq!(title("<title>Ünïcödé</title>").as_deref(), Some("Ünïcödé"));
    }

    proptest::proptest! {
        #[test]
        fn title_never_panics(s in ".{0,200}") {
            let _ = title(&s);
            let _ = title(&format!("<title>{s}"));
        }
    }
}
