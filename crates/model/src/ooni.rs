//! Reading OONI's own Web Connectivity measurements (0.0.x to 0.5) into our types.
//!
//! OONI's format grew over the years: nulls where numbers are expected, headers as maps before
//! `headers_list` existed, base64 objects for binary header values, an empty `control` object
//! when the test helper failed. This module smooths those differences before typed parsing.

use crate::measurement::Measurement;
use serde_json::{Map, Value};

impl Measurement {
    /// Parses one OONI (or Interfero) measurement from JSON text.
    pub fn from_ooni_json(text: &str) -> Result<Measurement, serde_json::Error> {
        let mut v: Value = serde_json::from_str(text)?;
        normalize(&mut v);
        serde_json::from_value(v)
    }
}

/// Rewrites an OONI measurement in place into the shape our types read.
pub fn normalize(v: &mut Value) {
    strip_nulls(v);
    let Some(tk) = v.get_mut("test_keys").and_then(Value::as_object_mut) else {
        return;
    };
    let control_failed = tk.get("control_failure").is_some_and(|f| !f.is_null());
    let control_empty = tk
        .get("control")
        .is_some_and(|c| c.as_object().is_some_and(Map::is_empty));
    if control_failed || control_empty {
        // OONI keeps an empty or partial control object when its helper failed: that is no
        // control at all, and must not read as "the control saw the site fail".
        tk.remove("control");
    }
    if let Some(reqs) = tk.get_mut("requests").and_then(Value::as_array_mut) {
        for r in reqs {
            for side in ["request", "response"] {
                if let Some(o) = r.get_mut(side).and_then(Value::as_object_mut) {
                    headers_to_list(o);
                }
            }
        }
    }
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("data")
            .and_then(Value::as_str)
            .map(|d| String::from_utf8_lossy(&crate::base64::decode(d)).into_owned())
            .unwrap_or_default(),
        Value::Array(a) => a.first().map(text_of).unwrap_or_default(),
        other => other.to_string(),
    }
}

fn headers_to_list(o: &mut Map<String, Value>) {
    let from_list: Option<Vec<Value>> = o.get("headers_list").and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([k, v]) => Some(Value::Array(vec![
                    Value::String(text_of(k)),
                    Value::String(text_of(v)),
                ])),
                _ => None,
            })
            .collect()
    });
    let list = match from_list {
        Some(l) => l,
        None => o
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        Value::Array(vec![Value::String(k.clone()), Value::String(text_of(v))])
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    o.insert("headers_list".into(), Value::Array(list));
    o.remove("headers");
}
