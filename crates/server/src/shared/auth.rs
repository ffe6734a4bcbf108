//! Access for your own probes: optional bearer tokens. Without tokens a server is open, as
//! OONI's are, and says so when it starts.

use std::path::Path;
use subtle::ConstantTimeEq;

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no token.
    #[error("the token file {path} holds no token (one token a line; # starts a comment)")]
    Empty {
        /// The file.
        path: String,
    },
    /// A token is too short to resist guessing.
    #[error("the token on line {line} of {path} is shorter than {MIN_LEN} characters")]
    TooShort {
        /// The file.
        path: String,
        /// Its line.
        line: usize,
    },
}

/// The shortest token accepted (about 128 bits of a random base64 or hex string).
pub const MIN_LEN: usize = 22;

/// The tokens a server accepts.
#[derive(Clone, Default)]
pub struct Tokens(Vec<Vec<u8>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets themselves.
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

impl Tokens {
    /// Reads one token a line from `path` (blank lines and `#` comments skipped).
    pub fn load(path: &Path) -> Result<Tokens, TokenError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: name.clone(),
            source,
        })?;
        Tokens::parse(&text, &name)
    }

    /// Parses a token file's text (`name` for messages).
    pub fn parse(text: &str, name: &str) -> Result<Tokens, TokenError> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if t.len() < MIN_LEN {
                return Err(TokenError::TooShort {
                    path: name.into(),
                    line: i + 1,
                });
            }
            tokens.push(t.as_bytes().to_vec());
        }
        if tokens.is_empty() {
            return Err(TokenError::Empty { path: name.into() });
        }
        Ok(Tokens(tokens))
    }

    /// True when no token is required.
    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `authorization` (the header's value) carries one of the tokens. Every token
    /// is compared, each in constant time, so the answer's timing says nothing about which
    /// bytes matched.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        if self.is_open() {
            return true;
        }
        let Some(given) = authorization.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let mut ok = subtle::Choice::from(0u8);
        for t in &self.0 {
            ok |= t.as_slice().ct_eq(given);
        }
        ok.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "k3Jv9-Qx2mZa8LwPq0Rt7YhB";

    #[test]
    fn tokens_are_read_checked_and_compared() {
        let t = Tokens::parse(&format!("# ours\n\n{T}\n"), "f").unwrap();
        assert!(t.admits(Some(format!("Bearer {T}").as_bytes())));
        assert!(!t.admits(Some(format!("Bearer {T}x").as_bytes())));
        assert!(!t.admits(Some(T.as_bytes())), "the scheme is required");
        assert!(!t.admits(None));
        assert!(Tokens::default().admits(None), "no tokens: open");
        assert!(matches!(
            Tokens::parse("short\n", "f"),
            Err(TokenError::TooShort { line: 1, .. })
        ));
        assert!(matches!(
            Tokens::parse("# none\n", "f"),
            Err(TokenError::Empty { .. })
        ));
        assert!(!format!("{t:?}").contains(T), "secrets are not printed");
    }
}
