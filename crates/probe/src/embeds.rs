//! A captured page's embedded images, fetched from the same vantage point during the capture,
//! so that an image replaced under the same URL (the blurred mural) shows in its digest.
//!
//! Bounded, because a page is hostile input: at most [`MAX_IMAGES`] distinct images, each cut
//! at [`IMAGE_CAP`] (or the page's cap, if smaller), all of them within [`MAX_EMBED_BYTES`] (or
//! twice the page's cap: the control sends its copy back inside an 8 MiB answer), fetched at
//! most [`CONCURRENT`] at a time within one redirect-chain budget. An answer that is not an
//! image keeps its status and headers but not its body. Whatever is left out is said in the
//! capture's `notes`.
//!
//! Same-site images only: the page's host, its `www.`-less name, or a subdomain of that name
//! (`img.vlast.kz` for `www.vlast.kz`). Fetching third parties (ad networks, counters, social
//! widgets) from the user's connection would tell them who is looking and enlarge what the
//! probe contacts beyond what the user asked for; what a publisher alters under pressure is
//! its own content, on its own hosts.

use crate::capture::fetch_page;
use crate::ProbeConfig;
use futures_util::StreamExt;
use interfero_model::capture::Capture;
use std::collections::BTreeSet;

/// Most images fetched for one page.
pub const MAX_IMAGES: usize = 16;

/// Most bytes kept of one image.
pub const IMAGE_CAP: usize = 1024 * 1024;

/// Most bytes kept of all the images of one page.
pub const MAX_EMBED_BYTES: usize = 8 * 1024 * 1024;

/// Images fetched at once.
pub const CONCURRENT: usize = 4;

/// Fetches the images of `c`'s page (when it is an HTML page that answered 2xx) into
/// `c.embeds`, saying in `c.notes` what was left out.
pub async fn fetch_images(cfg: &ProbeConfig, c: &mut Capture, cap: usize) {
    let Some(page) = c.page() else { return };
    let html = page
        .header("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    if !(200..300).contains(&page.status) || !html {
        return;
    }
    let Ok(base) = url::Url::parse(&page.url) else {
        return;
    };
    let text = String::from_utf8_lossy(&page.body);
    // Read a few more than are fetched, to say how many were left out.
    let sources = interfero_model::html::image_sources(&text, MAX_IMAGES * 64);
    let mut seen = BTreeSet::new();
    let mut urls = Vec::new();
    let (mut off_site, mut over) = (0usize, 0usize);
    for src in &sources {
        let Some(u) = base
            .join(src)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            continue; // data:, javascript:, unparsable: nothing to fetch
        };
        let mut u = u;
        u.set_fragment(None);
        if !seen.insert(u.to_string()) {
            continue;
        }
        if !same_site(&base, &u) {
            off_site += 1;
        } else if urls.len() >= MAX_IMAGES {
            over += 1;
        } else {
            urls.push(u.to_string());
        }
    }
    if off_site > 0 {
        c.notes.push(format!(
            "{off_site} images on other sites not fetched (same-site images only)"
        ));
    }
    if over > 0 || sources.len() >= MAX_IMAGES * 64 {
        c.notes.push(format!(
            "{over} more images not fetched (at most {MAX_IMAGES} a page)"
        ));
    }
    let each = cap.min(IMAGE_CAP);
    let total = MAX_EMBED_BYTES.min(cap.saturating_mul(2));
    let deadline = tokio::time::Instant::now() + crate::fetch::chain_budget(cfg);
    let vantage = c.vantage;
    let fetched: Vec<(String, Option<Capture>)> = futures_util::stream::iter(urls)
        .map(|u| async move {
            let got = tokio::time::timeout_at(deadline, fetch_page(cfg, &u, vantage, each)).await;
            (u, got.ok())
        })
        .buffered(CONCURRENT)
        .collect()
        .await;
    let mut used = 0usize;
    for (u, got) in fetched {
        let Some(img) = got else {
            c.notes.push(format!(
                "image {u} not fetched: out of time for the page's images"
            ));
            continue;
        };
        let Some(mut e) = img.page().cloned() else {
            let why = img.failure.map(|f| f.to_string()).unwrap_or_default();
            c.notes.push(format!("image {u} not fetched: {why}"));
            continue;
        };
        // The record is of the URL the page names; redirects on the way are left out.
        e.url = u.clone();
        let ctype = e.header("content-type").unwrap_or("").to_ascii_lowercase();
        if (200..300).contains(&e.status) && !ctype.starts_with("image/") {
            c.notes.push(format!(
                "image {u} answered {}, not an image: body not kept",
                if ctype.is_empty() { "no type" } else { &ctype }
            ));
            e.body.clear();
        } else if used + e.body.len() > total {
            c.notes.push(format!(
                "image {u} not kept: the page's images exceed {total} bytes"
            ));
            e.body.clear();
        } else if e.truncated {
            c.notes.push(format!("image {u} cut at {each} bytes"));
        }
        used += e.body.len();
        c.embeds.push(e);
    }
}

/// Whether `img` is on `page`'s site: the same host, or the host's `www.`-less name or one of
/// its subdomains.
pub fn same_site(page: &url::Url, img: &url::Url) -> bool {
    let (Some(p), Some(i)) = (page.host_str(), img.host_str()) else {
        return false;
    };
    let (p, i) = (p.to_ascii_lowercase(), i.to_ascii_lowercase());
    let site = p.strip_prefix("www.").unwrap_or(&p);
    i == p || i == site || i.ends_with(&format!(".{site}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_is_the_host_and_its_subdomains() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let page = u("https://www.vlast.example/a");
        assert!(same_site(&page, &u("https://www.vlast.example:8443/i.jpg")));
        assert!(same_site(&page, &u("https://img.vlast.example/i.jpg")));
        assert!(same_site(&page, &u("https://vlast.example/i.jpg")));
        assert!(!same_site(&page, &u("https://ads.example/i.jpg")));
        assert!(!same_site(&page, &u("https://evilvlast.example/i.jpg")));
    }
}
