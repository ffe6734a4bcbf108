//! The explorer: server-rendered HTML over any [`MeasurementStore`] — search, a page per
//! measurement, charts (also served alone as SVG images, CSV and JSON), pages per domain,
//! network and country, Atom feeds of events and CSV/JSON downloads of any search.
//!
//! Every page works without JavaScript (forms are GET forms, chart bars are links) and the
//! pages load nothing from another host. Templates (askama, `templates/`) escape everything by
//! default; the only unescaped insertions are SVG charts made in [`chart`], which escape every
//! text they draw. Every answer carries a Content-Security-Policy without `'unsafe-inline'`,
//! so even a payload that slipped through could not run.

mod capture_page;
pub mod captures;
mod chart;
mod downloads;
pub mod incidents;
mod measurement;
pub mod networks;
mod pages;
pub mod params;
mod views;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use interfero_store::{MeasurementStore, StoreError};
use std::sync::Arc;

pub use chart::{colour, esc};
pub(crate) use downloads::csv_safe;

/// How the explorer presents itself.
#[derive(Debug, Clone)]
pub struct ExplorerOptions {
    /// The public base URL (`https://explorer.example/`), used for absolute links in feeds;
    /// without it, feeds carry links relative to the feed.
    pub public_url: Option<String>,
    /// Measurements per search page (at most [`interfero_store::MAX_PAGE`]).
    pub page_size: usize,
    /// The incident register the pages show and the operator edits (none: the incident
    /// pages say it is not available).
    pub register: incidents::Register,
    /// The archive of captures, for `/captures` and `/capture/{id}` (without it those pages
    /// say there is none).
    pub captures: Option<captures::CaptureSource>,
}

impl Default for ExplorerOptions {
    /// No public URL; 50 measurements a page (as OONI Explorer).
    fn default() -> Self {
        ExplorerOptions {
            public_url: None,
            page_size: 50,
            register: incidents::Register::default(),
            captures: None,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    pub store: Arc<dyn MeasurementStore>,
    pub opts: ExplorerOptions,
}

impl App {
    /// Runs a store call off the async threads (SQLite blocks).
    pub async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn MeasurementStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Response> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::warn!("explorer: store failed: {e}");
                Err(page_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The store could not answer; try again, and tell the operator if it lasts.",
                ))
            }
            Err(_) => Err(page_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The request failed inside the server.",
            )),
        }
    }

    /// An absolute link when a public URL is set, else the path itself.
    pub fn link(&self, path: &str) -> String {
        match &self.opts.public_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => path.to_string(),
        }
    }
}

/// The Content-Security-Policy of every answer: everything from this origin only, no inline
/// script (nor `eval`), no plugins, no framing by others, forms only to this origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn security_headers(mut resp: Response) -> Response {
    // An archived page served inert carries its own policy (nothing runs, nothing loads) and
    // may be framed by the explorer's own capture page, by nobody else.
    let framable = resp.extensions().get::<captures::Framable>().is_some();
    let h = resp.headers_mut();
    if framable {
        let own = h
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(interfero_archive::serve::CSP)
            .to_string();
        if let Ok(v) = HeaderValue::try_from(format!("{own}; frame-ancestors 'self'")) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        return resp;
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// The explorer's routes over `store`: `/`, `/search` (+ `.csv`, `.json`), `/m/{uid}`,
/// `/chart` (+ `.svg`, `.csv`, `.json`), `/domain/{d}`, `/network/{asn}`, `/country/{cc}`,
/// `/feed.atom`, `/static/style.css`, the incident register's `/incidents`, `/incident/{id}`
/// and `/api/v1/incidents` ([`incidents`]), and the archive's `/captures`, `/capture/{id}` (+
/// `/view`, `/image/{n}`, `.warc`). Mount it beside [`crate::api::router`], which serves
/// the JSON the pages link to.
pub fn router(store: Arc<dyn MeasurementStore>, opts: ExplorerOptions) -> Router {
    let app = App { store, opts };
    Router::new()
        .route("/", get(pages::home))
        .route("/search", get(pages::search))
        .route("/search.csv", get(downloads::search_csv))
        .route("/search.json", get(downloads::search_json))
        .route("/m/{uid}", get(pages::measurement))
        .route("/chart", get(views::chart_page))
        .route("/chart.svg", get(views::chart_svg))
        .route("/chart.csv", get(views::chart_csv))
        .route("/chart.json", get(views::chart_json))
        .route("/domain/{domain}", get(pages::domain))
        .route("/network/{asn}", get(pages::network))
        .route("/country/{cc}", get(pages::country))
        .route("/feed.atom", get(downloads::feed))
        .route("/static/style.css", get(style))
        .merge(incidents::routes())
        .merge(captures::routes())
        .with_state(app)
        .layer(axum::middleware::map_response(security_headers))
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("static/style.css"),
    )
        .into_response()
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// An HTML page saying what went wrong (the message is escaped).
pub(crate) fn page_error(status: StatusCode, message: &str) -> Response {
    let title = if status == StatusCode::NOT_FOUND {
        "Not found"
    } else if status.is_client_error() {
        "Cannot show this"
    } else {
        "Something failed"
    };
    let body = askama::Template::render(&ErrorPage { title, message })
        .unwrap_or_else(|_| message.to_string());
    (status, Html(body)).into_response()
}

/// Renders a template into a page (or an error page if rendering fails).
pub(crate) fn render(t: &impl askama::Template) -> Response {
    match t.render() {
        Ok(s) => Html(s).into_response(),
        Err(e) => {
            tracing::warn!("explorer: template failed: {e}");
            page_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be drawn.",
            )
        }
    }
}
