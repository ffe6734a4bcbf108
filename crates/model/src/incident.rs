//! Incident records: what was done to whom, when, where, by whom, with what outcome and what
//! the authorities said, with the evidence that proves it (measurements, events, queries over
//! the measurements) and the sources that report it.
//!
//! The field set is `shared/research/keep-anchors.md` §4: the minimum one record type needs to
//! hold the 2021 Kazakhstan report's cases and to export to STOP (Access Now #KeepItOn),
//! ACLED and Mapping Media Freedom. Types only: validation, codes, evidence resolution and
//! import/export are in `interfero-register`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A closed vocabulary stored by its snake_case name: `ALL`, `as_str` and `parse`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The snake_case name stored and written in files.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses the snake_case name.
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The names, comma-separated (for error messages).
            pub fn names() -> String {
                $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What was done. Each maps to the codes of STOP, ACLED and MapMF where those have one
    /// (`interfero-register`'s `codes`).
    Kind {
        /// Violence against a person (MapMF "Physical assault").
        PhysicalAttack = "physical_attack",
        /// Arrest or detention (ACLED "Arrests").
        Detention = "detention",
        /// Threats, intimidation, harassment.
        ThreatHarassment = "threat_harassment",
        /// Hindering work: denied access, expelled, equipment seized (MapMF "Blocked access").
        Obstruction = "obstruction",
        /// Lawsuits, charges, investigations, fines, restrictive laws.
        LegalAction = "legal_action",
        /// A demand that content be deleted.
        RemovalDemand = "removal_demand",
        /// Content was removed (by its publisher under pressure, or by force).
        ContentRemoved = "content_removed",
        /// A website made unreachable.
        WebsiteBlock = "website_block",
        /// A platform or service (social network, messenger) made unreachable.
        ServiceBlock = "service_block",
        /// Access slowed down.
        Throttling = "throttling",
        /// Internet or telecom access cut for a population or place.
        Shutdown = "shutdown",
        /// Anything else (refusal of papers or registration, ...).
        Other = "other",
    }
}

impl Kind {
    /// Whether this kind claims network interference that measurements can prove.
    pub fn claims_interference(self) -> bool {
        matches!(
            self,
            Kind::WebsiteBlock | Kind::ServiceBlock | Kind::Throttling | Kind::Shutdown
        )
    }

    /// The report section the kind belongs to (the seed report's headings).
    pub fn family(self) -> Family {
        match self {
            Kind::PhysicalAttack | Kind::Detention | Kind::ThreatHarassment | Kind::Obstruction => {
                Family::Violence
            }
            Kind::LegalAction => Family::Legal,
            Kind::RemovalDemand | Kind::ContentRemoved => Family::Censorship,
            Kind::WebsiteBlock | Kind::ServiceBlock | Kind::Throttling | Kind::Shutdown => {
                Family::Internet
            }
            Kind::Other => Family::Other,
        }
    }
}

vocabulary! {
    /// Groups of kinds, in the order of the seed report's section 2.
    Family {
        /// Violence and harassment.
        Violence = "violence",
        /// Legal pressure: lawsuits, charges, libel.
        Legal = "legal",
        /// Censorship or content restrictions.
        Censorship = "censorship",
        /// Internet freedom: blocks, throttling, shutdowns.
        Internet = "internet",
        /// Other restrictions.
        Other = "other",
    }
}

/// A date known to the year, the month or the day (`2021`, `2021-10`, `2021-10-05`), written
/// as that string. The precision is what the source says, never padded with invented days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartialDate {
    /// The year.
    pub year: u16,
    /// The month (1–12), when known.
    pub month: Option<u8>,
    /// The day (1–31), when known (only with a month).
    pub day: Option<u8>,
}

/// How precisely a date is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    /// Only the year.
    Year,
    /// The month.
    Month,
    /// The day.
    Day,
}

/// English month names, January first.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl PartialDate {
    /// The date in words, as precise as it is known: `2 March 2021`, `March 2021`, `2021`.
    pub fn in_words(&self) -> String {
        let month = |m: u8| {
            MONTHS
                .get(usize::from(m).wrapping_sub(1))
                .copied()
                .unwrap_or("?")
        };
        match (self.month, self.day) {
            (Some(m), Some(day)) => format!("{day} {} {}", month(m), self.year),
            (Some(m), None) => format!("{} {}", month(m), self.year),
            _ => self.year.to_string(),
        }
    }

    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (a day that exists in its month).
    pub fn parse(s: &str) -> Option<PartialDate> {
        let mut parts = s.split('-');
        let year = parts.next().filter(|y| y.len() == 4)?.parse().ok()?;
        let month = match parts.next() {
            None => None,
            Some(m) if m.len() == 2 => Some(m.parse::<u8>().ok().filter(|m| (1..=12).contains(m))?),
            Some(_) => return None,
        };
        let day = match parts.next() {
            None => None,
            Some(d) if d.len() == 2 => Some(d.parse::<u8>().ok()?),
            Some(_) => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        let date = PartialDate { year, month, day };
        match (month, day) {
            (Some(m), Some(d)) if d < 1 || d > days_in_month(year, m) => None,
            _ => Some(date),
        }
    }

    /// How precisely the date is known.
    pub fn precision(&self) -> Precision {
        match (self.month, self.day) {
            (Some(_), Some(_)) => Precision::Day,
            (Some(_), None) => Precision::Month,
            _ => Precision::Year,
        }
    }

    /// The first day the date may mean, as `YYYY-MM-DD`.
    pub fn first_day(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            self.year,
            self.month.unwrap_or(1),
            self.day.unwrap_or(1)
        )
    }

    /// The last day the date may mean, as `YYYY-MM-DD`.
    pub fn last_day(&self) -> String {
        let month = self.month.unwrap_or(12);
        let day = self.day.unwrap_or_else(|| days_in_month(self.year, month));
        format!("{:04}-{month:02}-{day:02}", self.year)
    }
}

/// Days in a month of the Gregorian calendar.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

impl Serialize for PartialDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PartialDate::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid date {s:?}: write YYYY, YYYY-MM or YYYY-MM-DD (a real day)"
            ))
        })
    }
}

/// Where it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// ISO 3166-1 alpha-2 country code (`KZ`).
    pub country: String,
    /// Region, province or city of national rank (`Almaty`, `Mangistau Region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin1: Option<String>,
    /// Town, village or place (`Tulpar market, Shymkent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
}

vocabulary! {
    /// What a target is.
    TargetKind {
        /// A named or counted person.
        Person = "person",
        /// A media outlet.
        Outlet = "outlet",
        /// An NGO, party, association or company.
        Organisation = "organisation",
        /// A website (with its domain).
        Website = "website",
        /// A platform or service (LinkedIn, Telegram, mobile internet).
        Service = "service",
        /// A group of people (protesters, refugees, stateless persons, a region's users).
        Population = "population",
    }
}

/// Who or what was targeted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// What the target is.
    pub kind: TargetKind,
    /// Its name, when the source gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its role: `journalist`, `blogger`, `activist`, `human_rights_defender`, `refugee`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// How many, for a counted group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The domain, for a website or service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// A URL (the story, the page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

vocabulary! {
    /// What an actor is (ACLED's actor types, STOP's `ordered_by`, MapMF's source of incident).
    ActorKind {
        /// Police or other security forces.
        Police = "police",
        /// A ministry or the government.
        Government = "government",
        /// A court.
        Court = "court",
        /// A prosecutor or investigator.
        Prosecutor = "prosecutor",
        /// Election officials.
        ElectionOfficials = "election_officials",
        /// The telecom regulator.
        Regulator = "regulator",
        /// An internet or telecom operator.
        Isp = "isp",
        /// Tax or other administrative authorities.
        Administration = "administration",
        /// A politician or public official acting in person.
        Official = "official",
        /// A private person or company.
        Private = "private",
        /// Not known.
        Unknown = "unknown",
    }
}

vocabulary! {
    /// An actor's part in the incident.
    Part {
        /// Ordered it.
        Ordered = "ordered",
        /// Carried it out.
        CarriedOut = "carried_out",
        /// Demanded it (of the target or of someone else).
        Demanded = "demanded",
        /// Brought the complaint or lawsuit.
        Complainant = "complainant",
        /// Decided on it (a court ruling).
        Decided = "decided",
        /// Suspected, not established.
        Suspected = "suspected",
    }
}

/// Who did it, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// What the actor is.
    pub kind: ActorKind,
    /// Its name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its part.
    pub part: Part,
}

vocabulary! {
    /// Which networks (STOP's `affected_network`).
    NetworkType {
        /// Fixed-line broadband.
        Fixed = "fixed",
        /// Mobile data.
        Mobile = "mobile",
        /// Both.
        Both = "both",
    }
}

vocabulary! {
    /// How much was cut (STOP's `shutdown_extent` and `shutdown_type`).
    Extent {
        /// The whole network.
        Full = "full",
        /// Some services or sites.
        Service = "service",
        /// Slowed, not cut.
        Throttle = "throttle",
    }
}

/// The networks, domains and services an interference concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkScope {
    /// Networks, as `AS9198`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asns: Vec<String>,
    /// Fixed, mobile or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<NetworkType>,
    /// Full, service or throttle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extent: Option<Extent>,
    /// Domains affected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Services affected (`linkedin`, `telegram`, `whatsapp`, `sms`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

vocabulary! {
    /// How two incidents relate.
    Relation {
        /// This one was caused by the other.
        CausedBy = "caused_by",
        /// This one answers the other (a protest against an assault).
        ResponseTo = "response_to",
        /// This one is part of the other.
        PartOf = "part_of",
        /// This one followed the other.
        Follows = "follows",
    }
}

/// A link to another incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Related {
    /// The other incident's id.
    pub incident: String,
    /// How this one relates to it.
    pub rel: Relation,
}

vocabulary! {
    /// How it ended.
    OutcomeKind {
        /// The target did what was demanded.
        Complied = "complied",
        /// The target did part of it.
        Partial = "partial",
        /// The target refused.
        Refused = "refused",
        /// Access or the situation was restored.
        Restored = "restored",
        /// A case or investigation was dropped.
        Dropped = "dropped",
        /// A court or authority ruled against the target (conviction, order, fine).
        RuledAgainst = "ruled_against",
        /// A penalty was reversed on appeal or review.
        Reversed = "reversed",
        /// Not over.
        Ongoing = "ongoing",
        /// Not known.
        Unknown = "unknown",
    }
}

/// The outcome, coded and told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The coded outcome.
    pub result: OutcomeKind,
    /// What happened, in a sentence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

vocabulary! {
    /// What the authorities said (STOP's `gov_ack`).
    Stance {
        /// They acknowledged it.
        Acknowledged = "acknowledged",
        /// They denied it.
        Denied = "denied",
        /// They said nothing.
        NoComment = "no_comment",
        /// Not known.
        Unknown = "unknown",
    }
}

/// The official position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficialPosition {
    /// Acknowledged, denied, no comment.
    pub stance: Stance,
    /// The reason they gave (STOP's `gov_justification`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Who said it, where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A query over the stored measurements: what a block looked like, as the store holds it.
/// Unset fields do not filter; `since`/`until` are `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceQuery {
    /// The vantage point's country (`KZ`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The vantage point's network (`AS9198`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The target's domain (`holanews.kz`; subdomains match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// From this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Up to this time (a bare date includes its whole day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// One piece of evidence. Measurements, events and queries are resolved against the store
/// (`interfero-register`'s `evidence`); URLs and documents are kept as given, with a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Evidence {
    /// One stored measurement, by its store id or its measurement uid.
    Measurement {
        /// The store's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<i64>,
        /// The measurement uid (OONI's `measurement_uid`, or the collector's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<String>,
    },
    /// One stored event (`block_started`, `shutdown_started`, `coordinated`), by its id.
    Event {
        /// The store's id.
        id: i64,
    },
    /// The measurements a query selects.
    Query {
        /// The query.
        query: EvidenceQuery,
    },
    /// A web page or archived capture.
    Url {
        /// Where.
        url: String,
        /// SHA-256 of the content, hex, when captured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        /// When it was captured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        captured_at: Option<String>,
    },
    /// An archived capture (`interfero archive`, `watch --archive`), by its id in the archive:
    /// the hex SHA-256 of its WARC records, so the id itself proves the content. The explorer
    /// shows it at `/capture/{id}`.
    Capture {
        /// The capture's id (64 hex digits).
        id: String,
        /// The URL captured, as a reminder for readers of the record.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// A document (court ruling, official letter), by title.
    Document {
        /// Its title.
        title: String,
        /// SHA-256 of the file, hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
}

/// A source that reports the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The publisher or author (`US Department of State`).
    pub publisher: String,
    /// The title of the piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When it was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<PartialDate>,
    /// The source's own sources, as it names them (`Adil Soz`, `CPJ`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citing: Vec<String>,
}

vocabulary! {
    /// Where a record is in its life.
    RecordStatus {
        /// Being written.
        Draft = "draft",
        /// Written, awaiting review.
        Review = "review",
        /// Public (if its visibility is public).
        Published = "published",
        /// Withdrawn; kept for the record.
        Retracted = "retracted",
    }
}

vocabulary! {
    /// Who may see a published record.
    Visibility {
        /// Everyone.
        Public = "public",
        /// Operators only (protects a source or a victim).
        Restricted = "restricted",
    }
}

/// Codes in the other registers, when a record needs other than the kind's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtCodes {
    /// Mapping Media Freedom's incident type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapmf: Option<String>,
    /// ACLED's sub-event type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acled: Option<String>,
    /// STOP's shutdown type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
}

/// Who made the record and when it last changed; the full history is the store's audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// 1 for the first stored version, one more at each change.
    #[serde(default)]
    pub revision: u32,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// Who created it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
    /// Who changed it last.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_by: String,
}

/// One incident record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// A stable, readable id (`kz-2021-10-hola-news-block`): letters, digits and `-`.
    pub id: String,
    /// One line.
    pub title: String,
    /// What happened, in a paragraph.
    #[serde(default)]
    pub summary: String,
    /// What was done.
    pub kind: Kind,
    /// Codes in other registers, when not the kind's default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub codes: ExtCodes,
    /// When it began.
    pub start: PartialDate,
    /// When it ended, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<PartialDate>,
    /// Still going on when last updated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ongoing: bool,
    /// Where.
    pub place: Place,
    /// Against whom or what.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// By whom.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<Actor>,
    /// Which networks, domains and services (interference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_scope: Option<NetworkScope>,
    /// Context tags: `protest`, `election`, `fire`, `pandora_papers` ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    /// Links to other incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// What the authorities said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official_position: Option<OfficialPosition>,
    /// What proves it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Who reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Draft, review, published, retracted.
    pub status: RecordStatus,
    /// Public or restricted.
    pub visibility: Visibility,
    /// Revision and authorship.
    #[serde(default, skip_serializing_if = "is_default")]
    pub audit: Audit,
}

impl Incident {
    /// Whether anyone may see it: published and public.
    pub fn is_public(&self) -> bool {
        self.status == RecordStatus::Published && self.visibility == Visibility::Public
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn is_false(b: &bool) -> bool {
    !*b
}
