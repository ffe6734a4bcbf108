//! Each kind's codes in the other registers (keep-anchors.md §4, incidents.md §§5–7): Mapping
//! Media Freedom's incident type, ACLED's sub-event type, STOP's shutdown type. `None` where the
//! register has no code for it (ACLED has none for lawsuits or blocks; STOP covers only
//! shutdowns, throttling and service-based blocking). A record's `codes` override these.

use interfero_model::incident::{Incident, Kind};

/// Mapping Media Freedom's incident type for a kind.
pub fn mapmf(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::PhysicalAttack => "Physical assault",
        Kind::Detention => "Arrest/detention",
        Kind::ThreatHarassment => "Intimidation",
        Kind::Obstruction => "Blocked access",
        Kind::LegalAction => "Legal measures",
        Kind::RemovalDemand | Kind::ContentRemoved => "Censorship",
        Kind::WebsiteBlock | Kind::ServiceBlock | Kind::Throttling | Kind::Shutdown => {
            "Blocked access"
        }
        Kind::Other => return None,
    })
}

/// ACLED's sub-event type for a kind.
pub fn acled(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::PhysicalAttack => Some("Attack"),
        Kind::Detention => Some("Arrests"),
        _ => None,
    }
}

/// STOP's `shutdown_type` for a kind (with `shutdown_extent` in [`stop_extent`]).
pub fn stop(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Shutdown | Kind::ServiceBlock => Some("Shutdown"),
        Kind::Throttling => Some("Throttle"),
        _ => None,
    }
}

/// STOP's `shutdown_extent` for a kind.
pub fn stop_extent(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Shutdown => Some("Full network"),
        Kind::ServiceBlock | Kind::Throttling => Some("Service-based"),
        _ => None,
    }
}

/// The record's codes: its own where it sets them, the kind's otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codes {
    /// Mapping Media Freedom.
    pub mapmf: Option<String>,
    /// ACLED.
    pub acled: Option<String>,
    /// STOP.
    pub stop: Option<String>,
}

/// The codes that apply to a record.
pub fn of(i: &Incident) -> Codes {
    let pick = |own: &Option<String>, default: Option<&str>| {
        own.clone().or_else(|| default.map(str::to_string))
    };
    Codes {
        mapmf: pick(&i.codes.mapmf, mapmf(i.kind)),
        acled: pick(&i.codes.acled, acled(i.kind)),
        stop: pick(&i.codes.stop, stop(i.kind)),
    }
}

/// The English name of a country code, for exports that want names (STOP); the code itself
/// for the ones not listed.
pub fn country_name(cc: &str) -> &str {
    match cc {
        "KZ" => "Kazakhstan",
        "KG" => "Kyrgyzstan",
        "UZ" => "Uzbekistan",
        "TJ" => "Tajikistan",
        "TM" => "Turkmenistan",
        "RU" => "Russia",
        "BY" => "Belarus",
        "CN" => "China",
        "IR" => "Iran",
        "TR" => "Turkey",
        "UA" => "Ukraine",
        "AZ" => "Azerbaijan",
        "AM" => "Armenia",
        "GE" => "Georgia",
        "MN" => "Mongolia",
        "IN" => "India",
        "PK" => "Pakistan",
        "ET" => "Ethiopia",
        "MM" => "Myanmar",
        other => other,
    }
}
