//! A small RFC 4180 reader: enough for the vendored fingerprint files (quoted fields holding
//! commas, doubled quotes and line breaks) without another dependency in the analysis layer.

/// A CSV syntax error, with the 1-based line where the bad record starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// The line where the record starts.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One record and the 1-based line where it starts.
pub type Record = (usize, Vec<String>);

/// Splits `text` into records of fields. Empty lines are skipped. A quote inside an unquoted
/// field, or after a closing quote, is kept literally (as Python's `csv` module does), because
/// the files come from a Python pipeline and must read the same here.
pub fn records(text: &str) -> Result<Vec<Record>, CsvError> {
    let mut out = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    let mut record_line = 1usize;
    // Whether we are inside a quoted section, and whether the current field was ever quoted
    // (so that `""` as a whole field is an empty field, not a skipped line).
    let mut in_quotes = false;
    let mut touched = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !touched => {
                in_quotes = true;
                touched = true;
            }
            ',' => {
                // `fields` is now non-empty, so the record counts even if every field is empty.
                fields.push(std::mem::take(&mut field));
                touched = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if touched || !field.is_empty() || !fields.is_empty() {
                    fields.push(std::mem::take(&mut field));
                    out.push((record_line, std::mem::take(&mut fields)));
                }
                touched = false;
                line += 1;
                record_line = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(CsvError {
            line: record_line,
            message: "a quoted field is never closed".to_string(),
        });
    }
    if touched || !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((record_line, fields));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        records(text).unwrap().into_iter().map(|(_, f)| f).collect()
    }

    #[test]
    fn quoted_commas_quotes_and_newlines() {
        let t = "a,b,c\r\n\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\nlast,,\n";
        assert_eq!(
            fields(t),
            vec![
                vec!["a", "b", "c"],
                vec!["x,y", "say \"hi\"", "two\nlines"],
                vec!["last", "", ""],
            ]
        );
        let lines: Vec<usize> = records(t).unwrap().into_iter().map(|(l, _)| l).collect();
        assert_eq!(lines, vec![1, 2, 5]);
    }

    #[test]
    fn empty_quoted_field_and_no_trailing_newline() {
        assert_eq!(fields("\"\",a"), vec![vec!["", "a"]]);
        assert_eq!(fields("\"\""), vec![vec![""]]);
        assert_eq!(fields("a\"b,c"), vec![vec!["a\"b", "c"]]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let e = records("a,b\n\"open,c\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
