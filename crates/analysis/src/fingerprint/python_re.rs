//! Python `re` syntax that Rust's `regex` reads differently.

/// The files' regexps were written for Python's `re`, which reads a `{` that does not open a
/// counted repetition (`{2}`, `{2,}`, `{2,5}`) as a literal brace; Rust's `regex` rejects it.
/// Escaping such braces keeps Python's meaning (e.g. `{"msg":.*"id":`).
pub fn braces(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut escaped = false;
    for (i, c) in pattern.char_indices() {
        if escaped {
            escaped = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '{' if !opens_repetition(pattern.get(i + 1..).unwrap_or("")) => out.push_str("\\{"),
            '}' if !closes_repetition(&out) => out.push_str("\\}"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether `rest` (the text after a `{`) is `digits[,[digits]]}`.
fn opens_repetition(rest: &str) -> bool {
    let Some(end) = rest.find('}') else {
        return false;
    };
    let inner = rest.get(..end).unwrap_or("");
    let mut parts = inner.splitn(2, ',');
    let min = parts.next().unwrap_or("");
    let max = parts.next().unwrap_or("");
    !min.is_empty()
        && min.bytes().all(|b| b.is_ascii_digit())
        && max.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the translated text so far ends inside an unescaped, valid `{n,m` repetition.
fn closes_repetition(so_far: &str) -> bool {
    match so_far.rfind('{') {
        Some(i) if !so_far.get(..i).unwrap_or("").ends_with('\\') => {
            let inner = so_far.get(i + 1..).unwrap_or("");
            !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit() || b == b',')
        }
        _ => false,
    }
}
