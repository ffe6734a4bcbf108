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

/// The `src` of each `<img>` and the `content` of each `og:image` `<meta>`, in order, as
/// written (relative or absolute, entities `&amp;` decoded), outside scripts and styles; at
/// most `max` of them.
pub fn image_sources(html: &str, max: usize) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < max {
        let Some(n) = lower.get(i..).and_then(|r| r.find('<')) else {
            break;
        };
        let at = i + n;
        let end = lower
            .get(at..)
            .and_then(|r| r.find('>'))
            .map_or(lower.len(), |e| at + e + 1);
        let tag = lower.get(at..end).unwrap_or("");
        let name: String = tag
            .trim_start_matches('<')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let raw = html.get(at..end).unwrap_or("");
        match name.as_str() {
            "script" | "style" | "noscript" | "template" => {
                let close = format!("</{name}");
                i = lower
                    .get(end..)
                    .and_then(|r| r.find(&close))
                    .map_or(lower.len(), |c| end + c);
                continue;
            }
            "img" => out.extend(attribute(raw, "src")),
            "meta" if tag.contains("og:image") => out.extend(attribute(raw, "content")),
            _ => {}
        }
        i = end.max(at + 1);
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The value of attribute `name` in one tag's text (quoted or not), `&amp;` decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(n) = lower.get(from..)?.find(name) {
        let at = from + n;
        from = at + name.len();
        let before = lower.get(..at)?.chars().last().unwrap_or(' ');
        let rest = lower.get(from..)?.trim_start();
        if !before.is_ascii_whitespace() || !rest.starts_with('=') {
            continue;
        }
        let v = tag.get(tag.len() - rest.len() + 1..)?.trim_start();
        let value = match v.chars().next() {
            Some(q @ ('"' | '\'')) => v.get(1..)?.split(q).next().unwrap_or(""),
            _ => v
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(value.trim().replace("&amp;", "&"));
    }
    None
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

    #[test]
    fn finds_images_outside_scripts() {
        let html = "<p><IMG alt=x SRC=\"/a.jpg?x=1&amp;y=2\"><script>'<img src=/no.png>'</script>\
                    <meta property=\"og:image\" content='https://cdn.example/b.png'><img src=c.gif>";
        assert_eq!(
            image_sources(html, 10),
            ["/a.jpg?x=1&y=2", "https://cdn.example/b.png", "c.gif"]
        );
        assert_eq!(image_sources(html, 1), ["/a.jpg?x=1&y=2"]);
        assert!(image_sources("<img srcset=x>", 5).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn title_never_panics(s in ".{0,200}") {
            let _ = image_sources(&s, 5);
            let _ = title(&s);
            let _ = title(&format!("<title>{s}"));
        }
    }
}
