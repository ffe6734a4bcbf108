//! Base64 (RFC 4648) for OONI's binary-data objects, with the `base64` crate. Decoding is
//! lenient, because OONI's data and hostile bodies are not always clean: padding is optional,
//! the URL-safe characters `-` and `_` are read as `+` and `/`, anything outside the alphabet
//! (line breaks, spaces) is skipped, and a last lone character (no whole byte) is dropped.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Padding optional, stray trailing bits ignored.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encodes bytes as padded base64.
pub fn encode(input: &[u8]) -> String {
    STANDARD.encode(input)
}

/// Decodes base64, ignoring padding and any byte outside the alphabet; never fails.
pub fn decode(input: &str) -> Vec<u8> {
    let clean: Vec<u8> = input
        .bytes()
        .filter_map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => Some(c),
            b'-' => Some(b'+'),
            b'_' => Some(b'/'),
            _ => None,
        })
        .collect();
    // Six bits carry no byte: a group of one character is dropped, as it decodes to nothing.
    let whole = clean.len() - usize::from(clean.len() % 4 == 1);
    // Only alphabet characters in groups of 2 to 4 remain, which always decode.
    LENIENT.decode(&clean[..whole]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"foob"), "Zm9vYg==");
        assert_eq!(decode("Zm9vYmFy"), b"foobar");
    }

    #[test]
    fn lenient_decoding() {
        assert_eq!(decode("Zm9vYg"), b"foob");
        assert_eq!(decode("Zm9v\r\nYg=="), b"foob");
        assert_eq!(decode("-_8="), decode("+/8="));
        assert_eq!(decode("Zm9vY"), b"foo");
        assert_eq!(decode("===="), b"");
    }

    proptest::proptest! {
        #[test]
        fn round_trip(v in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            proptest::prop_assert_eq!(decode(&encode(&v)), v);
        }
    }
}
