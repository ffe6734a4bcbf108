//! What a reader sees of an archived page, for comparing captures: its text as lines (scripts,
//! styles and markup dropped, block elements as line breaks) and its embedded images.
//! Hand-written rather than an HTML parser crate: only text and `<img src>` are needed, and a
//! tolerant scan cannot fail on hostile markup.

/// Most lines kept from one page (a bound on hostile pages; the diff works on these).
pub const MAX_LINES: usize = 4000;

/// A page reduced to what is compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageText {
    /// The `<title>`.
    pub title: String,
    /// Non-empty text lines, whitespace collapsed, in order.
    pub lines: Vec<String>,
    /// The `src` of each `<img>` (and `og:image`), in order.
    pub images: Vec<String>,
}

const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "th",
    "article",
    "section",
    "header",
    "footer",
    "title",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "nav",
    "main",
    "aside",
    "ul",
    "ol",
    "table",
    "hr",
    "span",
];

/// Reads the text and images of an HTML (or plain text) body.
pub fn extract(body: &[u8]) -> PageText {
    let html = String::from_utf8_lossy(body);
    let lower = html.to_ascii_lowercase();
    let mut out = PageText {
        title: interfero_model::html::title(&html).unwrap_or_default(),
        ..PageText::default()
    };
    let mut line = String::new();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() && out.lines.len() < MAX_LINES {
        if bytes[i] != b'<' {
            let next = html[i..].find('<').map_or(html.len(), |n| i + n);
            line.push_str(&html[i..next]);
            i = next;
            continue;
        }
        if lower[i..].starts_with("<!--") {
            i = lower[i..].find("-->").map_or(html.len(), |n| i + n + 3);
            continue;
        }
        let end = lower[i..].find('>').map_or(html.len(), |n| i + n + 1);
        let tag = &lower[i..end];
        let name: String = tag
            .trim_start_matches(['<', '/'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(name.as_str(), "script" | "style" | "noscript" | "template")
            && !tag.starts_with("</")
        {
            let close = format!("</{name}");
            i = lower[end..].find(&close).map_or(html.len(), |n| end + n);
            continue;
        }
        if name == "img" {
            if let Some(src) = attribute(&html[i..end], "src") {
                out.images.push(src);
            }
        }
        if name == "meta" && tag.contains("og:image") {
            if let Some(src) = attribute(&html[i..end], "content") {
                out.images.push(src);
            }
        }
        if name == "title" && !tag.starts_with("</") {
            // The title is kept apart; its text is not a body line.
            i = lower[end..].find("</title").map_or(html.len(), |n| end + n);
            continue;
        }
        if BLOCK.contains(&name.as_str()) {
            push_line(&mut out.lines, &mut line);
        }
        i = end;
    }
    push_line(&mut out.lines, &mut line);
    out.lines.truncate(MAX_LINES);
    out
}

fn push_line(lines: &mut Vec<String>, line: &mut String) {
    let text = decode_entities(&line.split_whitespace().collect::<Vec<_>>().join(" "));
    if !text.is_empty() {
        lines.push(text);
    }
    line.clear();
}

/// The value of attribute `name` in one tag's text (quoted or not).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(n) = lower[from..].find(name) {
        let at = from + n;
        from = at + name.len();
        let before = lower[..at].chars().last().unwrap_or(' ');
        let rest = lower[from..].trim_start();
        if !before.is_ascii_whitespace() || !rest.starts_with('=') {
            continue;
        }
        let vstart = tag.len() - rest.len() + 1;
        let v = tag[vstart..].trim_start();
        let value = match v.chars().next() {
            Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or(""),
            _ => v
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(decode_entities(value));
    }
    None
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_and_images_without_scripts() {
        let p = extract(
            b"<html><head><title>Mural</title><script>var x='<p>no</p>';</script></head>\
              <body><h1>A mural</h1><p>Painted in 2019 &amp; kept.</p><!-- <p>hidden</p> -->\
              <img alt=x src=\"/img/mural.jpg\"><style>p{}</style></body></html>",
        );
        assert_eq!(p.title, "Mural");
        assert_eq!(p.lines, vec!["A mural", "Painted in 2019 & kept."]);
        assert_eq!(p.images, vec!["/img/mural.jpg"]);
    }

    #[test]
    fn hostile_markup_does_not_panic() {
        for s in [
            "<",
            "<img src=",
            "<script>",
            "<!--",
            "<p>\u{fffd}<img src='a",
            "<a<b<c",
        ] {
            let _ = extract(s.as_bytes());
        }
    }
}
