//! Reading CSV (RFC 4180: quoted fields holding commas, doubled quotes and line breaks) with
//! the `csv` crate, for the test lists and the vendored fingerprint files, as Python's `csv`
//! module reads them (both come from Python pipelines and must read the same here): a quote inside an unquoted field
//! is kept literally, empty lines are skipped, rows may differ in length.

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

fn read(text: &str) -> Result<Vec<Record>, CsvError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    // The reader's position is where the previous record ended (before its line break and any
    // empty lines): the record starts after them.
    let (mut at, mut line) = (0usize, 1usize);
    let mut line_of = |p: Option<&::csv::Position>| {
        let mut byte = p.map_or(at, |p| p.byte() as usize).clamp(at, text.len());
        while matches!(text.as_bytes().get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        line += text.as_bytes()[at..byte]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        at = byte;
        line
    };
    for r in reader.records() {
        match r {
            Ok(rec) => out.push((
                line_of(rec.position()),
                rec.iter().map(str::to_string).collect(),
            )),
            Err(e) => {
                return Err(CsvError {
                    line: line_of(e.position()),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// Splits `text` into records of fields. A quoted field that is never closed is an error (the
/// `csv` crate would read the rest of the file into it).
pub fn records(text: &str) -> Result<Vec<Record>, CsvError> {
    let out = read(text)?;
    // An unclosed quote is the reader's state at the end of the text. Appending a line break
    // and a quote tells it: outside quotes they end the record and open one more (an empty
    // quoted field); inside, they join the open field and close it, adding no record.
    let probe = read(&format!("{text}\n\""))?;
    if probe.len() == out.len() {
        return Err(CsvError {
            line: out.last().map_or(1, |(l, _)| *l),
            message: "a quoted field is never closed".to_string(),
        });
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
