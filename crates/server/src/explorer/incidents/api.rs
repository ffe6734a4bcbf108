//! The register's JSON API, in the shape of OONI's list answers (`{"metadata": {...},
//! "results": [...]}`), with the records in the very shape `interfero incident import` reads:
//!
//! - `GET /api/v1/incidents?kind=&country=&status=&outcome=&year=&network=&limit=&offset=`
//! - `GET /api/v1/incidents/{id}`
//! - `POST /api/v1/incidents` (create; a body of one record or many, JSON or TOML)
//! - `PUT /api/v1/incidents/{id}` (replace one record; an audit entry is recorded)
//!
//! Reading applies the audience as the pages do. Writing needs the operator's token: 401
//! without a valid one; 403 when the server has no tokens at all (editing over HTTP is never
//! open by default); 400 with one line for bad input (a body that does not parse, an unknown
//! kind, an end before the start, evidence that does not resolve); 409 when the id exists (on
//! create) or the record changed since the revision the edit started from. On any error
//! nothing is stored: the batch is parsed, validated and its evidence resolved before the
//! single transaction that stores it.

use super::list::{select, ListParams, Selection};
use super::{private, with_register, Failure};
use crate::errors::error;
use crate::explorer::App;
use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use interfero_model::incident::Incident;
use interfero_register::evidence::StoreSource;
use interfero_register::{Format, RegisterError};
use interfero_store::{Audience, IncidentChange, IncidentStoreError, OnExisting};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The largest body a create or an edit may send (the seed's whole year is about 40 KiB).
pub const MAX_BODY: usize = 1024 * 1024;
/// The most records one list answer holds.
pub const MAX_LIMIT: usize = 1000;

/// The list's parameters: the pages' facets, and OONI's `limit` and `offset`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiParams {
    #[serde(flatten)]
    facets: ListParams,
    limit: Option<String>,
    offset: Option<String>,
}

fn bad(message: impl Into<String>) -> Response {
    // One line, whatever the parser said.
    let m: String = message.into();
    error(
        StatusCode::BAD_REQUEST,
        m.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

fn failure(f: Failure) -> Response {
    match f {
        Failure::Unavailable => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the incident register is not available on this server: it is kept in the SQLite \
             database of the measurements, and this server reads another store"
                .into(),
        ),
        Failure::Register(e) => match &e {
            RegisterError::Input { .. }
            | RegisterError::Invalid { .. }
            | RegisterError::NotFound(_) => bad(e.to_string()),
            RegisterError::Incidents(
                IncidentStoreError::Exists { .. } | IncidentStoreError::Conflict { .. },
            ) => error(StatusCode::CONFLICT, e.to_string()),
            _ => {
                tracing::warn!("api: register failed: {e}");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the register could not answer; nothing was changed".into(),
                )
            }
        },
        Failure::Panicked => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed inside the server; nothing was changed".into(),
        ),
    }
}

/// `GET /api/v1/incidents`.
pub(crate) async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    UrlQuery(p): UrlQuery<ApiParams>,
) -> Response {
    let started = Instant::now();
    let audience = app.opts.register.audience(&headers);
    let sel = match Selection::of(&p.facets) {
        Ok(s) => s,
        Err(e) => return private(bad(e), audience),
    };
    let number = |v: &Option<String>, name: &str, default: usize, max: usize| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(format!("{name} {s:?} is not a number from 0 to {max}")),
        },
    };
    let (limit, offset) = match (
        number(&p.limit, "limit", 100, MAX_LIMIT),
        number(&p.offset, "offset", 0, usize::MAX),
    ) {
        (Ok(l), Ok(o)) => (l.max(1), o),
        (Err(e), _) | (_, Err(e)) => return private(bad(e), audience),
    };
    let all = match super::visible(&app, audience).await {
        Ok(v) => v,
        Err(f) => return private(failure(f), audience),
    };
    let chosen = select(all, &sel);
    let count = chosen.len();
    let results: Vec<&Incident> = chosen.iter().skip(offset).take(limit).collect();
    let next_url = if offset + limit < count {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("kind", &p.facets.kind),
            ("country", &p.facets.country),
            ("status", &p.facets.status),
            ("outcome", &p.facets.outcome),
            ("year", &p.facets.year),
            ("network", &p.facets.network),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                q.append_pair(k, v);
            }
        }
        q.append_pair("limit", &limit.to_string());
        q.append_pair("offset", &(offset + limit).to_string());
        Some(app.link(&format!("/api/v1/incidents?{}", q.finish())))
    } else {
        None
    };
    let body = serde_json::json!({
        "metadata": {
            "count": count,
            "current_page": offset / limit + 1,
            "limit": limit,
            "next_url": next_url,
            "offset": offset,
            "pages": count.div_ceil(limit),
            "query_time": started.elapsed().as_secs_f64(),
        },
        "results": results,
    });
    private(Json(body).into_response(), audience)
}

/// `GET /api/v1/incidents/{id}`: the record as `incident import` reads it.
pub(crate) async fn one(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let audience = app.opts.register.audience(&headers);
    let missing = || {
        private(
            error(
                StatusCode::NOT_FOUND,
                format!("no incident {id:?} is published here"),
            ),
            audience,
        )
    };
    if !interfero_register::validate::valid_id(&id) {
        return missing();
    }
    let key = id.clone();
    match with_register(&app, move |_, incidents| {
        Ok(incidents.incident(&key, audience)?)
    })
    .await
    {
        Ok(Some(i)) => private(Json(i).into_response(), audience),
        Ok(None) => missing(),
        Err(f) => private(failure(f), audience),
    }
}

/// Refuses a write that does not come from the operator: 503 without a register, 403 when no
/// token is configured (editing over HTTP is off), 401 without a valid token.
fn refuse_write(app: &App, headers: &HeaderMap) -> Option<Response> {
    let r = &app.opts.register;
    if r.incidents.is_none() {
        return Some(failure(Failure::Unavailable));
    }
    if r.tokens.is_open() {
        return Some(error(
            StatusCode::FORBIDDEN,
            "editing over HTTP is off: this server has no operator token (start it with \
             --token-file FILE, or edit with `interfero incident` on the database)"
                .into(),
        ));
    }
    if r.audience(headers) != Audience::Operator {
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "editing the register needs the operator's token (Authorization: Bearer ...)".into(),
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Some(resp);
    }
    None
}

/// The format of a body: its content type, else its first character (`{`/`[`: JSON).
fn format_of(headers: &HeaderMap, text: &str) -> Format {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = ct.contains("json") || text.trim_start().starts_with(['{', '[']);
    if ct.contains("toml") || !json {
        Format::Toml
    } else {
        Format::Json
    }
}

/// Reads a write's body: the operator's checks first, then at most [`MAX_BODY`] bytes of
/// UTF-8, parsed as JSON or TOML.
async fn records_of(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Vec<interfero_register::files::Read>, String), Response> {
    if let Some(r) = refuse_write(app, headers) {
        return Err(r);
    }
    let bytes = crate::read_body(body, MAX_BODY, Duration::from_secs(10)).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| bad("the body is not UTF-8 text"))?;
    let reads = interfero_register::parse("body", &text, format_of(headers, &text))
        .map_err(|e| bad(e.to_string()))?;
    if reads.is_empty() {
        return Err(bad("the body holds no record"));
    }
    Ok((reads, text))
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Who the audit trail names for a change over HTTP.
const BY: &str = "http:operator";

/// `POST /api/v1/incidents`: creates the records of the body, all or none; 201 with them as
/// stored. An id that exists is a conflict (edit it with `PUT`).
pub(crate) async fn create(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let (reads, text) = match records_of(&app, &headers, body).await {
        Ok(v) => v,
        Err(r) => return private(r, Audience::Operator),
    };
    let got = with_register(&app, move |store, incidents| {
        let texts = std::collections::HashMap::from([("body".to_string(), text)]);
        interfero_register::check_reads(&reads, &texts, &StoreSource::new(store))?;
        let records: Vec<Incident> = reads.into_iter().map(|r| r.incident).collect();
        let at = now();
        let change = IncidentChange {
            by: BY,
            at: &at,
            action: "add",
        };
        Ok(incidents.save_incidents(&records, &change, OnExisting::Refuse)?)
    })
    .await;
    let resp = match got {
        Ok(saved) => {
            let mut resp = (
                StatusCode::CREATED,
                Json(serde_json::json!({ "results": saved })),
            )
                .into_response();
            if let [one] = saved.as_slice() {
                if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/incidents/{}", one.id)) {
                    resp.headers_mut().insert(header::LOCATION, v);
                }
            }
            resp
        }
        Err(f) => failure(f),
    };
    private(resp, Audience::Operator)
}

/// `PUT /api/v1/incidents/{id}`: replaces the record with the body's (one record, this id).
/// A body whose `audit.revision` is set must carry the stored revision (else 409); without
/// it the edit applies to the current revision. 200 with the record as stored.
pub(crate) async fn edit(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let (reads, text) = match records_of(&app, &headers, body).await {
        Ok(v) => v,
        Err(r) => return private(r, Audience::Operator),
    };
    if reads.len() != 1 || reads[0].incident.id != id {
        return private(
            bad(format!(
                "give exactly one record, with id {id:?} (the id in the path)"
            )),
            Audience::Operator,
        );
    }
    let got = with_register(&app, move |store, incidents| {
        if incidents.incident(&id, Audience::Operator)?.is_none() {
            return Ok(None);
        }
        let texts = std::collections::HashMap::from([("body".to_string(), text)]);
        interfero_register::check_reads(&reads, &texts, &StoreSource::new(store))?;
        let at = now();
        let change = IncidentChange {
            by: BY,
            at: &at,
            action: "edit",
        };
        let records: Vec<Incident> = reads.into_iter().map(|r| r.incident).collect();
        let mut saved = incidents.save_incidents(&records, &change, OnExisting::Replace)?;
        Ok(saved.pop())
    })
    .await;
    let resp = match got {
        Ok(Some(saved)) => Json(saved).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "no incident with this id: create it with POST /api/v1/incidents".into(),
        ),
        Err(f) => failure(f),
    };
    private(resp, Audience::Operator)
}
