//! Measurement uids in OONI's shape, derived from the observations alone.

use interfero_model::Measurement;
use sha2::{Digest, Sha256};

/// Feeds what is written into a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The uid of a measurement: `<start time as YYYYmmddHHMMSS.ffffff>_<CC>_<test name without
/// '_'>_<16 hex digits>`, OONI's `measurement_uid` shape, so that tools which parse OONI's uids
/// read ours. OONI hashes the body as received, with its receive time; ours hashes the
/// measurement *without its verdict* and uses its own start time, so the same observations get
/// the same uid wherever and whenever they are submitted (a re-submission is recognised) and
/// re-judging never changes a uid.
pub fn uid_of(m: &Measurement) -> String {
    let mut value = serde_json::to_value(m).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("verdict");
    }
    // Hashed as it is written out (no text of it is kept): the same bytes as `to_string`.
    let mut hasher = HashWriter(Sha256::new());
    let _ = serde_json::to_writer(&mut hasher, &value);
    let digest = hasher.0.finalize();
    let time: String = m
        .measurement_start_time
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect();
    let cc: String = m
        .probe_cc
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(2)
        .collect::<String>()
        .to_ascii_uppercase();
    let test: String = m
        .test_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(30)
        .collect();
    format!(
        "{time:0<14}.000000_{}_{}_{}",
        if cc.len() == 2 { cc.as_str() } else { "ZZ" },
        if test.is_empty() { "unknown" } else { &test },
        hex::encode(&digest[..8])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;
    use interfero_model::{Status, Verdict};

    #[test]
    fn shape_is_oonis_and_verdict_does_not_count() {
        let mut m = synthetic::measurement(7);
        let uid = uid_of(&m);
        let parts: Vec<&str> = uid.split('_').collect();
        assert_eq!(parts.len(), 4, "{uid}");
        assert_eq!(parts[0], "20261130100007.000000");
        assert_eq!(parts[1], "KZ");
        assert_eq!(parts[2], "webconnectivity");
        assert_eq!(parts[3].len(), 16);
        m.verdict = Some(Verdict::new(Status::Down, 0.1, "other"));
        assert_eq!(uid_of(&m), uid, "re-judging must not change the uid");
        m.test_keys.client_resolver = Some("198.18.0.53".into());
        assert_ne!(
            uid_of(&m),
            uid,
            "other observations are another measurement"
        );
    }

    #[test]
    fn hashing_as_written_is_hashing_the_text() {
        // The uid hashed `to_value(m) - verdict` as `to_string()` before it was streamed into
        // the hash: stored uids must not change.
        let m = synthetic::varied(42);
        let mut v = serde_json::to_value(&m).unwrap();
        v.as_object_mut().unwrap().remove("verdict");
        let old = hex::encode(&Sha256::digest(v.to_string().as_bytes())[..8]);
        assert!(uid_of(&m).ends_with(&old), "{} vs {old}", uid_of(&m));
    }

    #[test]
    fn hostile_fields_cannot_break_the_shape() {
        let mut m = synthetic::measurement(1);
        m.probe_cc = "k_z/..".into();
        m.test_name = "web_connectivity_../../x".into();
        m.measurement_start_time = "garbage".into();
        let uid = uid_of(&m);
        assert_eq!(uid.split('_').count(), 4, "{uid}");
        assert!(uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._".contains(&b)));
    }
}
