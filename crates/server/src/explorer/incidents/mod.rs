//! The incident register in the explorer: `/incidents` (a list with facets), `/incident/{id}`
//! (the record in words, with its evidence looked up and checked), and the JSON API
//! `/api/v1/incidents` that the operator edits with (`GET`, `POST`, `PUT`).
//!
//! Who sees what is decided once, in [`Register::audience`]: a request carrying one of the
//! operator's tokens (`Authorization: Bearer ...`) is the operator and sees drafts and
//! restricted records; every other request is the public and sees published, public records
//! only. Without tokens nobody is the operator: the pages show the public's view and editing
//! is refused, so a register is never open for writing by default.

mod api;
mod list;
mod record;
mod words;

use super::{page_error, App};
use crate::auth::Tokens;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use interfero_model::incident::{Evidence, Incident};
use interfero_register::RegisterError;
use interfero_store::{Audience, IncidentFilter, IncidentStore, MeasurementStore};
use std::sync::Arc;

/// The register the explorer serves: where the records are, and whose tokens make a request
/// the operator's.
#[derive(Clone, Default)]
pub struct Register {
    /// The records (the SQLite file of the measurements); `None`: the pages say the register is
    /// not available and the API answers 503.
    pub incidents: Option<Arc<dyn IncidentStore>>,
    /// The operator's tokens. None configured: nobody is the operator (public view only, no
    /// editing).
    pub tokens: Tokens,
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Register")
            .field("available", &self.incidents.is_some())
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl Register {
    /// A register over `incidents`, edited by requests carrying one of `tokens`.
    pub fn new(incidents: Arc<dyn IncidentStore>, tokens: Tokens) -> Register {
        Register {
            incidents: Some(incidents),
            tokens,
        }
    }

    /// Whether the operator can edit over HTTP at all (a register, and tokens to edit with).
    pub fn editable(&self) -> bool {
        self.incidents.is_some() && !self.tokens.is_open()
    }

    /// Who is asking: the operator only with a configured token, compared in constant time.
    pub fn audience(&self, headers: &HeaderMap) -> Audience {
        let auth = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        if !self.tokens.is_open() && auth.is_some() && self.tokens.admits(auth) {
            Audience::Operator
        } else {
            Audience::Public
        }
    }
}

/// The routes of the register (merged into the explorer's router).
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/incidents", get(list::page))
        .route("/incident/{id}", get(record::page))
        .route("/api/v1/incidents", get(api::list).post(api::create))
        .route("/api/v1/incidents/{id}", get(api::one).put(api::edit))
        .route("/static/incidents.css", get(style))
}

async fn style() -> Response {
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/incidents.css"),
    )
        .into_response()
}

/// Why a register call gave no answer.
pub(crate) enum Failure {
    /// The server has no register (another measurement backend).
    Unavailable,
    /// The register or the store refused or failed.
    Register(RegisterError),
    /// The blocking task died.
    Panicked,
}

impl From<RegisterError> for Failure {
    fn from(e: RegisterError) -> Failure {
        Failure::Register(e)
    }
}

impl From<interfero_store::IncidentStoreError> for Failure {
    fn from(e: interfero_store::IncidentStoreError) -> Failure {
        Failure::Register(e.into())
    }
}

impl From<interfero_store::StoreError> for Failure {
    fn from(e: interfero_store::StoreError) -> Failure {
        Failure::Register(e.into())
    }
}

/// Runs a register call off the async threads (SQLite blocks), with both stores.
pub(crate) async fn with_register<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&dyn MeasurementStore, &dyn IncidentStore) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    let Some(incidents) = app.opts.register.incidents.clone() else {
        return Err(Failure::Unavailable);
    };
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || f(store.as_ref(), incidents.as_ref())).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Panicked),
    }
}

/// Every record `audience` may see (the list page and the list API facet and page them).
pub(crate) async fn visible(
    app: &App,
    audience: Audience,
) -> Result<Vec<interfero_model::incident::Incident>, Failure> {
    with_register(app, move |_, incidents| {
        Ok(incidents.incidents(&IncidentFilter {
            audience,
            ..Default::default()
        })?)
    })
    .await
}

/// The page a failure shows.
pub(crate) fn failure_page(f: Failure) -> Response {
    match f {
        Failure::Unavailable => page_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The incident register is not available on this server: it is kept in the SQLite \
             database of the measurements, and this server reads another store.",
        ),
        Failure::Register(e) => {
            tracing::warn!("explorer: register failed: {e}");
            page_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The register could not answer; try again, and tell the operator if it lasts.",
            )
        }
        Failure::Panicked => page_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The request failed inside the server.",
        ),
    }
}

/// Pages that differ by audience are never cached by others, and say so.
pub(crate) fn private(mut resp: Response, audience: Audience) -> Response {
    let h = resp.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Authorization"));
    if audience == Audience::Operator {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    resp
}

/// A link to an incident, as the measurement, domain and country pages list them.
pub(crate) struct IncidentLink {
    /// `/incident/{id}`.
    pub href: String,
    /// Its title.
    pub title: String,
    /// Its dates and kind, in words.
    pub what: String,
}

fn link(i: &Incident) -> IncidentLink {
    IncidentLink {
        href: format!("/incident/{}", i.id),
        title: i.title.clone(),
        what: format!("{} · {}", words::when_short(i), words::kind(i.kind)),
    }
}

/// What a page other than the register's lists about incidents (empty when there is no
/// register, or when it fails: those pages are about measurements and still answer).
#[derive(Default)]
pub(crate) struct Mentions {
    /// The section's heading.
    pub heading: &'static str,
    /// The records.
    pub links: Vec<IncidentLink>,
    /// Where all of them are listed (`/incidents?country=KZ`), or empty.
    pub all: String,
}

/// The most records listed on a measurement, domain or country page.
const MENTIONS: usize = 10;

async fn mentions(
    app: &App,
    audience: Audience,
    heading: &'static str,
    all: String,
    keep: impl Fn(&Incident) -> bool + Send + 'static,
) -> Mentions {
    let got = with_register(app, move |_, incidents| {
        let mut out: Vec<Incident> = incidents
            .incidents(&IncidentFilter {
                audience,
                ..Default::default()
            })?
            .into_iter()
            .filter(|i| keep(i))
            .collect();
        out.sort_by_key(|i| std::cmp::Reverse(i.start.first_day()));
        Ok(out)
    })
    .await;
    match got {
        Ok(records) => Mentions {
            heading,
            all: if records.len() > MENTIONS {
                all
            } else {
                String::new()
            },
            links: records.iter().take(MENTIONS).map(link).collect(),
        },
        Err(_) => Mentions::default(),
    }
}

/// The records that cite a measurement directly (by uid or store id).
pub(crate) async fn citing(app: &App, headers: &HeaderMap, uid: String, id: i64) -> Mentions {
    let audience = app.opts.register.audience(headers);
    mentions(
        app,
        audience,
        "Incidents citing this measurement",
        String::new(),
        move |i| {
            i.evidence.iter().any(|e| match e {
                Evidence::Measurement {
                    uid: Some(u),
                    id: None,
                } => *u == uid,
                Evidence::Measurement { id: Some(n), .. } => *n == id,
                _ => false,
            })
        },
    )
    .await
}

/// The records about a country (their place) or a domain (their targets, network scope or
/// evidence queries), for those pages.
pub(crate) async fn about(
    app: &App,
    headers: &HeaderMap,
    country: Option<String>,
    domain: Option<String>,
) -> Mentions {
    let audience = app.opts.register.audience(headers);
    let all = match (&country, &domain) {
        (Some(cc), _) => format!("/incidents?country={cc}"),
        _ => String::new(),
    };
    mentions(app, audience, "Incidents in the register", all, move |i| {
        if let Some(cc) = &country {
            return i.place.country.eq_ignore_ascii_case(cc);
        }
        let Some(d) = &domain else {
            return false;
        };
        let same = |x: &str| {
            let x = x.trim_end_matches('.').to_ascii_lowercase();
            x == *d || x.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{x}"))
        };
        i.targets
            .iter()
            .filter_map(|t| t.domain.as_deref())
            .any(same)
            || i.network_scope
                .as_ref()
                .is_some_and(|n| n.domains.iter().any(|x| same(x)))
            || i.evidence.iter().any(|e| match e {
                Evidence::Query { query } => query.domain.as_deref().is_some_and(same),
                _ => false,
            })
    })
    .await
}
