//! A record's codes in words, for the pages (the templates escape what these return).

use interfero_model::incident::{
    Actor, ActorKind, Incident, Kind, OutcomeKind, Part, PartialDate, Precision, RecordStatus,
    Relation, Stance, Target,
};

/// A kind in words.
pub fn kind(k: Kind) -> &'static str {
    match k {
        Kind::PhysicalAttack => "physical attack",
        Kind::Detention => "arrest or detention",
        Kind::ThreatHarassment => "threat or harassment",
        Kind::Obstruction => "obstruction of reporting",
        Kind::LegalAction => "legal action",
        Kind::RemovalDemand => "demand to remove content",
        Kind::ContentRemoved => "content removed",
        Kind::WebsiteBlock => "website blocked",
        Kind::ServiceBlock => "service blocked",
        Kind::Throttling => "throttling",
        Kind::Shutdown => "shutdown",
        Kind::Other => "other restriction",
    }
}

/// A record status in words.
pub fn status(s: RecordStatus) -> &'static str {
    match s {
        RecordStatus::Draft => "draft",
        RecordStatus::Review => "awaiting review",
        RecordStatus::Published => "published",
        RecordStatus::Retracted => "retracted",
    }
}

/// An outcome in words.
pub fn outcome(o: OutcomeKind) -> &'static str {
    match o {
        OutcomeKind::Complied => "the target complied",
        OutcomeKind::Partial => "the target partly complied",
        OutcomeKind::Refused => "the target refused",
        OutcomeKind::Restored => "access or the situation was restored",
        OutcomeKind::Dropped => "the case was dropped",
        OutcomeKind::RuledAgainst => "ruled against the target",
        OutcomeKind::Reversed => "the penalty was reversed",
        OutcomeKind::Ongoing => "not over",
        OutcomeKind::Unknown => "not known",
    }
}

/// An official stance in words.
pub fn stance(s: Stance) -> &'static str {
    match s {
        Stance::Acknowledged => "acknowledged",
        Stance::Denied => "denied",
        Stance::NoComment => "no comment",
        Stance::Unknown => "not known",
    }
}

/// How this record relates to another, as a phrase before the other's title.
pub fn relation(r: Relation) -> &'static str {
    match r {
        Relation::CausedBy => "caused by",
        Relation::ResponseTo => "in response to",
        Relation::PartOf => "part of",
        Relation::Follows => "follows",
    }
}

/// The reverse phrase: how the other record relates to this one.
pub fn relation_back(r: Relation) -> &'static str {
    match r {
        Relation::CausedBy => "led to",
        Relation::ResponseTo => "answered by",
        Relation::PartOf => "includes",
        Relation::Follows => "followed by",
    }
}

/// A date in words: `2 March 2021`, `March 2021`, `2021`.
pub fn date(d: &PartialDate) -> String {
    d.in_words()
}

fn precision(p: Precision) -> &'static str {
    match p {
        Precision::Day => "known to the day",
        Precision::Month => "known to the month",
        Precision::Year => "known to the year",
    }
}

/// When, with each date's precision: `From 5 October 2021 (known to the day) to 15 October
/// 2021 (known to the day)`, `In 2021 (known to the year)`, `From July 2021 (...), ongoing`.
pub fn when(i: &Incident) -> String {
    let one = |d: &PartialDate| format!("{} ({})", date(d), precision(d.precision()));
    match i.end {
        Some(e) if e != i.start => format!("From {} to {}", one(&i.start), one(&e)),
        _ if i.ongoing => format!("From {}, still going on", one(&i.start)),
        _ => match i.start.precision() {
            Precision::Day => format!("On {}", one(&i.start)),
            _ => format!("In {}", one(&i.start)),
        },
    }
}

/// When, short: `2 March 2021`, `5–15 October 2021` as `5 October 2021 – 15 October 2021`.
pub fn when_short(i: &Incident) -> String {
    match i.end {
        Some(e) if e != i.start => format!("{} – {}", date(&i.start), date(&e)),
        _ if i.ongoing => format!("since {}", date(&i.start)),
        _ => date(&i.start),
    }
}

/// Where: `Tulpar market, Shymkent, South Kazakhstan, KZ`.
pub fn place(i: &Incident) -> String {
    [
        i.place.locality.clone(),
        i.place.admin1.clone(),
        Some(interfero_register::codes::country_name(&i.place.country).to_string()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// A target: `Murager Alimuly (person), refugee`, `2 journalists (group)`.
pub fn target(t: &Target) -> String {
    let mut out = String::new();
    if let Some(n) = t.count {
        out.push_str(&format!("{n} "));
    }
    match &t.name {
        Some(name) => out.push_str(&format!("{name} ({})", t.kind.as_str())),
        None => out.push_str(t.kind.as_str()),
    }
    if let Some(r) = &t.role {
        out.push_str(&format!(", role: {}", r.replace('_', " ")));
    }
    out
}

fn actor_kind(k: ActorKind) -> &'static str {
    match k {
        ActorKind::Police => "police",
        ActorKind::Government => "government",
        ActorKind::Court => "a court",
        ActorKind::Prosecutor => "prosecutors",
        ActorKind::ElectionOfficials => "election officials",
        ActorKind::Regulator => "the telecom regulator",
        ActorKind::Isp => "an internet operator",
        ActorKind::Administration => "the administration",
        ActorKind::Official => "an official",
        ActorKind::Private => "a private party",
        ActorKind::Unknown => "unknown",
    }
}

fn part(p: Part) -> &'static str {
    match p {
        Part::Ordered => "ordered it",
        Part::CarriedOut => "carried it out",
        Part::Demanded => "demanded it",
        Part::Complainant => "brought the complaint",
        Part::Decided => "decided on it",
        Part::Suspected => "suspected, not established",
    }
}

/// An actor with its part: `Police (Colonel X): carried it out`.
pub fn actor(a: &Actor) -> String {
    match &a.name {
        Some(n) => format!("{n} ({}): {}", actor_kind(a.kind), part(a.part)),
        None => format!("{}: {}", actor_kind(a.kind), part(a.part)),
    }
}

/// An `http(s)` URL that is safe to put in an `href`, or `None` (shown as text only).
pub fn safe_href(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}
