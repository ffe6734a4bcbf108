//! Archived captures in the explorer: `/captures` (the index, newest first, filtered by URL,
//! host and vantage point, a keyset page at a time), `/capture/{id}` (one capture: what was
//! fetched, from where, the change events it is part of with their text diff, its neighbours),
//! `/capture/{id}/view` (the archived page made inert by [`interfero_archive::inert`], the only
//! path another explorer page may frame), `/capture/{id}/image/{n}` (a kept embedded image,
//! inert) and `/capture/{id}.warc` (the capture exported as a record-gzipped WARC file).

use super::capture_page::{self, CaptureView};
use super::{page_error, render, App};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use interfero_archive::Archive;
use interfero_store::{
    CaptureCursor, CaptureEntry, CaptureIndex, CapturePageRequest, CaptureQuery, Order,
};
use serde::Deserialize;
use std::sync::Arc;

/// Where the explorer finds captures: the index (in the store's SQLite file) and the archive
/// directory beside it.
#[derive(Debug, Clone)]
pub struct CaptureSource {
    /// The capture index.
    pub index: Arc<CaptureIndex>,
    /// The archive of capture files.
    pub archive: Archive,
}

/// Marks a response whose headers the handler set for being framed by the explorer's own
/// pages: the explorer keeps its Content-Security-Policy and allows same-origin framing only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Framable;

/// Captures shown on one page of `/captures`.
const PAGE: usize = 50;

/// The routes of this module (added to the explorer's router).
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/captures", get(list))
        .route("/capture/{id}", get(capture))
        .route("/capture/{id}/view", get(view))
        .route("/capture/{id}/image/{n}", get(image))
}

/// The parameters of `/captures`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    #[serde(default)]
    url: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    vantage: String,
    #[serde(default)]
    after: String,
}

/// A capture as a row of the list.
pub(crate) struct Row {
    id: String,
    started: String,
    url: String,
    host: String,
    vantage: &'static str,
    status: String,
    size: String,
    images: u32,
    digest: String,
    note: String,
}

impl Row {
    fn of(e: &CaptureEntry) -> Row {
        Row {
            id: e.id.clone(),
            started: e.started.clone(),
            url: e.url.clone(),
            host: interfero_store::query::domain_of(&e.url),
            vantage: vantage_words(&e.vantage),
            status: if e.status == 0 {
                "no page".into()
            } else {
                e.status.to_string()
            },
            size: size_words(e.size),
            images: e.images,
            digest: short_digest(&e.payload_digest),
            note: match (&e.failure, e.truncated) {
                (Some(f), _) => f.clone(),
                (None, true) => "truncated".into(),
                _ => String::new(),
            },
        }
    }
}

#[derive(askama::Template)]
#[template(path = "captures.html")]
struct ListPage {
    title: String,
    url: String,
    host: String,
    vantage: String,
    rows: Vec<Row>,
    next: String,
    first: String,
    available: bool,
}

/// `GET /captures?url=&host=&vantage=probe|control&after=CURSOR`.
async fn list(State(app): State<App>, UrlQuery(p): UrlQuery<ListParams>) -> Response {
    let mut page = ListPage {
        title: "Archived captures".into(),
        url: p.url.trim().to_string(),
        host: p.host.trim().to_string(),
        vantage: p.vantage.clone(),
        rows: Vec::new(),
        next: String::new(),
        first: String::new(),
        available: app.opts.captures.is_some(),
    };
    let vantage = match p.vantage.as_str() {
        "" | "any" => None,
        "probe" | "control" => Some(p.vantage.clone()),
        _ => return page_error(StatusCode::BAD_REQUEST, "vantage is probe, control or any"),
    };
    let after = match p.after.as_str() {
        "" => None,
        s => match CaptureCursor::decode(s) {
            Some(c) => Some(c),
            None => return page_error(StatusCode::BAD_REQUEST, "after is not a page position"),
        },
    };
    let q = CaptureQuery {
        url: (!page.url.is_empty()).then(|| page.url.clone()),
        host: (!page.host.is_empty()).then(|| page.host.clone()),
        vantage,
        ..CaptureQuery::default()
    };
    let req = CapturePageRequest {
        after: after.clone(),
        limit: PAGE,
        order: Order::Newest,
    };
    let qs = serde_urlencoded_pairs(&[
        ("url", &page.url),
        ("host", &page.host),
        ("vantage", &p.vantage),
    ]);
    if after.is_some() {
        page.first = format!("/captures?{qs}");
    }
    match with_captures(&app, move |src| src.index.page(&q, &req)).await {
        Ok(Some(got)) => {
            page.rows = got.items.iter().map(Row::of).collect();
            if let Some(c) = got.next {
                let sep = if qs.is_empty() { "" } else { "&" };
                page.next = format!("/captures?{qs}{sep}after={}", c.encode());
            }
        }
        Ok(None) => {}
        Err(r) => return r,
    }
    render(&page)
}

/// `GET /capture/{id}` (and `/capture/{id}.warc`: the export).
async fn capture(State(app): State<App>, Path(id): Path<String>) -> Response {
    if let Some(id) = id.strip_suffix(".warc") {
        return warc(app, id.to_string()).await;
    }
    let Some(id) = checked_id(&id) else {
        return bad_id();
    };
    let store = app.store.clone();
    match with_captures(&app, move |src| {
        capture_page::build(src, store.as_ref(), &id)
    })
    .await
    {
        Ok(Some(Some(v))) => render(&CapturePage {
            title: format!("Capture of {}", v.url),
            v,
        }),
        Ok(Some(None)) => page_error(StatusCode::NOT_FOUND, "No capture has this id."),
        Ok(None) => no_archive(),
        Err(r) => r,
    }
}

#[derive(askama::Template)]
#[template(path = "capture.html")]
struct CapturePage {
    title: String,
    v: CaptureView,
}

/// `GET /capture/{id}/view`: the archived page, inert, framable by the explorer only.
async fn view(State(app): State<App>, Path(id): Path<String>) -> Response {
    let Some(id) = checked_id(&id) else {
        return bad_id();
    };
    let got = with_captures(&app, move |src| {
        Ok(load(src, &id)?.map(|c| interfero_archive::inert(&c)))
    })
    .await;
    match got {
        Ok(Some(Some(inert))) => inert_response(inert),
        Ok(Some(None)) => page_error(StatusCode::NOT_FOUND, "No capture has this id."),
        Ok(None) => no_archive(),
        Err(r) => r,
    }
}

/// `GET /capture/{id}/image/{n}`: the `n`th kept embedded image, inert (raster types as
/// themselves, anything else as an attachment).
async fn image(State(app): State<App>, Path((id, n)): Path<(String, usize)>) -> Response {
    let Some(id) = checked_id(&id) else {
        return bad_id();
    };
    let got = with_captures(&app, move |src| {
        Ok(load(src, &id)?.and_then(|c| {
            let e = c.embeds.get(n)?.clone();
            let one = interfero_model::capture::Capture {
                url: e.url.clone(),
                exchanges: vec![e],
                ..c
            };
            Some(interfero_archive::inert(&one))
        }))
    })
    .await;
    match got {
        Ok(Some(Some(inert))) => inert_response(inert),
        Ok(Some(None)) => page_error(StatusCode::NOT_FOUND, "No such image in this capture."),
        Ok(None) => no_archive(),
        Err(r) => r,
    }
}

/// `GET /capture/{id}.warc`: the capture (and any capture its revisits refer to) as one
/// record-gzipped WARC 1.1 file.
async fn warc(app: App, id: String) -> Response {
    let Some(id) = checked_id(&id) else {
        return bad_id();
    };
    let name = format!("interfero-capture-{}.warc.gz", id.get(..16).unwrap_or(&id));
    let got = with_captures(&app, move |src| {
        if src.index.get(&id)?.is_none() {
            return Ok(None);
        }
        let mut out = Vec::new();
        match src.archive.export(std::slice::from_ref(&id), &mut out) {
            Ok(_) => Ok(Some(out)),
            Err(e) => {
                tracing::warn!("explorer: capture {id} not exported: {e}");
                Ok(None)
            }
        }
    })
    .await;
    match got {
        Ok(Some(Some(bytes))) => (
            [
                (header::CONTENT_TYPE, "application/warc".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Some(None)) => page_error(
            StatusCode::NOT_FOUND,
            "No capture has this id, or its file is not in the archive.",
        ),
        Ok(None) => no_archive(),
        Err(r) => r,
    }
}

/// The capture `id` from the archive, when it is listed and its file reads.
pub(crate) fn load(
    src: &CaptureSource,
    id: &str,
) -> Result<Option<interfero_model::capture::Capture>, interfero_store::StoreError> {
    if src.index.get(id)?.is_none() {
        return Ok(None);
    }
    match src.archive.load(id) {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            tracing::warn!("explorer: capture {id} not read: {e}");
            Ok(None)
        }
    }
}

/// The inert bytes with their headers, marked framable by the explorer's own pages.
fn inert_response(inert: interfero_archive::Inert) -> Response {
    let mut resp = inert.body.into_response();
    let h = resp.headers_mut();
    for (k, v) in &inert.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            h.insert(k, v);
        }
    }
    resp.extensions_mut().insert(Framable);
    resp
}

fn no_archive() -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "This explorer has no archive of captures (run `interfero archive` or `watch --archive` \
         with this database).",
    )
}

/// A capture id as the archive names them (64 hex digits, lowercase).
fn checked_id(id: &str) -> Option<String> {
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

fn bad_id() -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "A capture id is 64 hexadecimal digits.",
    )
}

/// Runs `f` on the capture source off the async threads; `None` when there is no archive.
pub(crate) async fn with_captures<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&CaptureSource) -> Result<T, interfero_store::StoreError> + Send + 'static,
) -> Result<Option<T>, Response> {
    let Some(src) = app.opts.captures.clone() else {
        return Ok(None);
    };
    match tokio::task::spawn_blocking(move || f(&src)).await {
        Ok(Ok(v)) => Ok(Some(v)),
        Ok(Err(e)) => {
            tracing::warn!("explorer: capture index failed: {e}");
            Err(page_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The capture index could not answer; try again.",
            ))
        }
        Err(_) => Err(page_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The request failed inside the server.",
        )),
    }
}

/// `probe` / `control` in words.
pub(crate) fn vantage_words(v: &str) -> &'static str {
    if v == "control" {
        "control"
    } else {
        "vantage point"
    }
}

/// A size in bytes, KiB or MiB.
pub(crate) fn size_words(n: u64) -> String {
    match n {
        0..=1023 => format!("{n} B"),
        1024..=1_048_575 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// The first characters of a digest (`sha256:ABCD…`).
pub(crate) fn short_digest(d: &str) -> String {
    match d.get(..19) {
        Some(s) if d.len() > 19 => format!("{s}…"),
        _ => d.to_string(),
    }
}

/// `k=v&...` of the non-empty pairs, URL-encoded.
fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(k, v);
    }
    out.finish()
}
