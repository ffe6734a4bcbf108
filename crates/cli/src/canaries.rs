//! `--canaries`: where the reachability check's endpoints come from.

use anyhow::{bail, Context};
use interfero_model::Canary;
use serde::{Deserialize, Serialize};

const PUBLIC: &str = include_str!("../../../data/canaries/public.toml");

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    canary: Vec<Canary>,
}

/// Parses a canary file's text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> anyhow::Result<Vec<Canary>> {
    let f: File = toml::from_str(text).with_context(|| {
        format!("{origin} is not a canary file (see data/canaries/public.toml for the format)")
    })?;
    if f.canary.is_empty() {
        bail!("{origin} lists no [[canary]]; give at least one, or --canaries none");
    }
    Ok(f.canary)
}

/// A canary file's text listing `canaries` (for `lab up`).
#[cfg(feature = "lab")]
pub fn to_toml(canaries: &[Canary]) -> anyhow::Result<String> {
    Ok(toml::to_string(&File {
        canary: canaries.to_vec(),
    })?)
}

/// `public` (the built-in list), `none`, or a file.
pub fn load(spec: &str) -> anyhow::Result<Vec<Canary>> {
    match spec {
        "none" => Ok(Vec::new()),
        "public" => parse(PUBLIC, "the built-in public canaries"),
        path => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read canary file {path}"))?;
            parse(&text, path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_parses_and_bad_files_say_why() {
        let public = load("public").unwrap();
        assert!(public.len() >= 3);
        assert!(load("none").unwrap().is_empty());
        let err = parse("[[canary]]\nkind = \"smoke\"\n", "x.toml").unwrap_err();
        assert!(format!("{err:#}").contains("x.toml is not a canary file"));
        let again = parse(&to_toml(&public).unwrap(), "written").unwrap();
        assert_eq!(again, public);
        // IPv6 canaries of several operators: a family check can tell whether this vantage
        // point has IPv6 at all.
        let v6: Vec<_> = public
            .iter()
            .filter(|c| c.endpoint.is_ipv6() && c.kind == interfero_model::CanaryKind::Tls)
            .collect();
        assert!(v6.len() >= 3, "{v6:?}");
        let err = parse("", "empty.toml").unwrap_err();
        assert!(err.to_string().contains("no [[canary]]"));
    }
}
