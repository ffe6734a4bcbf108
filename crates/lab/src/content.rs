//! Pages whose content changes on a schedule, for `lab archive`: an article that is edited,
//! whose image is swapped, that is deleted (404, 410, a redirect to the home page, a "not
//! found" page) — and pages that vary by themselves on every request (a clock, a counter), as
//! real news sites do. The schedule is the ground truth the archive's events are scored against.

use crate::clock::ScenarioTime;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// One page of a site with a schedule of versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSpec {
    /// Its path (`/2021/ruling`).
    pub path: String,
    /// The page's versions, each from its time on (the first from the start).
    pub versions: Vec<Version>,
    /// A clock line and a request counter on every answer (the site's own variation).
    #[serde(default)]
    pub varies: bool,
}

/// What a page is from a time on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// From when (`d4 00:00`); the first version's is ignored.
    #[serde(default)]
    pub from: Option<String>,
    /// The status (200 unless said).
    #[serde(default)]
    pub status: Option<u16>,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The paragraphs.
    #[serde(default)]
    pub text: Vec<String>,
    /// An embedded image's path; the site serves it while this version is in force.
    #[serde(default)]
    pub image: Option<String>,
    /// What the image's bytes are made from (the path when unset): another value under the
    /// same path is an image replaced under the same URL (the blurred mural).
    #[serde(default)]
    pub image_data: Option<String>,
    /// Redirect there (a 302) instead of answering.
    #[serde(default)]
    pub redirect_to: Option<String>,
}

/// What a change of version is, for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// Gone: 404/410, a redirect to `/`, or a page titled/saying "not found".
    Removed,
    /// Changed in another way.
    Changed,
}

impl PageSpec {
    /// The version in force at `t`.
    pub fn version_at(&self, t: ScenarioTime) -> Option<&Version> {
        self.versions
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                *i == 0
                    || v.from
                        .as_deref()
                        .and_then(ScenarioTime::parse)
                        .is_some_and(|f| f <= t)
            })
            .map(|(_, v)| v)
            .next_back()
    }

    /// Each version change: when, and what it is.
    pub fn changes(&self) -> Vec<(ScenarioTime, Expected)> {
        self.versions
            .iter()
            .skip(1)
            .filter_map(|v| {
                let at = ScenarioTime::parse(v.from.as_deref()?)?;
                Some((at, v.expected()))
            })
            .collect()
    }
}

impl Version {
    fn expected(&self) -> Expected {
        let status = self.status.unwrap_or(200);
        let home = self.redirect_to.as_deref() == Some("/");
        let soft = self.title.to_lowercase().contains("not found");
        if matches!(status, 404 | 410) || home || soft {
            Expected::Removed
        } else {
            Expected::Changed
        }
    }
}

/// An answer: status, extra headers, body.
pub(crate) type Answer = (u16, Vec<(String, String)>, Vec<u8>);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The answer for `path` at `t`, when the site has such a page: status, extra headers, body.
pub(crate) fn serve(pages: &[PageSpec], path: &str, t: ScenarioTime) -> Option<Answer> {
    if let Some(img) = image(pages, path, t) {
        return Some(img);
    }
    let spec = pages.iter().find(|p| p.path == path)?;
    let v = spec.version_at(t)?;
    if let Some(to) = &v.redirect_to {
        return Some((302, vec![("Location".into(), to.clone())], Vec::new()));
    }
    let mut body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n<h1>{}</h1>\n",
        v.title, v.title
    );
    if spec.varies {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        body.push_str(&format!("<p>Updated {} (request {n})</p>\n", t));
        body.push_str(&format!("<p>Readers now: {}</p>\n", 100 + n * 7 % 900));
    }
    for p in &v.text {
        body.push_str(&format!("<p>{p}</p>\n"));
    }
    if let Some(img) = &v.image {
        body.push_str(&format!("<img src=\"{img}\" alt=\"\">\n"));
    }
    body.push_str("</body></html>\n");
    Some((v.status.unwrap_or(200), Vec::new(), body.into_bytes()))
}

/// The image at `path` of a page's version in force at `t`: a small JPEG-like body made from
/// the version's `image_data` (or the path), so its bytes change exactly when the schedule
/// says.
fn image(pages: &[PageSpec], path: &str, t: ScenarioTime) -> Option<Answer> {
    let v = pages
        .iter()
        .filter_map(|p| p.version_at(t))
        .find(|v| v.image.as_deref() == Some(path))?;
    let seed = v.image_data.as_deref().unwrap_or(path);
    let mut body = vec![0xff, 0xd8, 0xff, 0xe0];
    while body.len() < 2048 {
        body.extend_from_slice(seed.as_bytes());
        body.push(b' ');
    }
    body.extend_from_slice(&[0xff, 0xd9]);
    let ctype = if path.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    Some((200, vec![("Content-Type".into(), ctype.into())], body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PageSpec {
        let v = |from: Option<&str>, status, title: &str| Version {
            from: from.map(str::to_string),
            status,
            title: title.into(),
            text: vec!["x".into()],
            image: Some("/i.jpg".into()),
            image_data: from.map(str::to_string),
            redirect_to: None,
        };
        PageSpec {
            path: "/a".into(),
            versions: vec![v(None, None, "A"), v(Some("d4 00:00"), Some(404), "Gone")],
            varies: true,
        }
    }

    #[test]
    fn versions_follow_the_schedule_and_varying_pages_differ() {
        let s = spec();
        assert_eq!(s.version_at(ScenarioTime::at(3, 23, 0)).unwrap().title, "A");
        assert_eq!(
            s.version_at(ScenarioTime::at(4, 0, 0)).unwrap().title,
            "Gone"
        );
        assert_eq!(
            s.changes(),
            vec![(ScenarioTime::at(4, 0, 0), Expected::Removed)]
        );
        let t = ScenarioTime::at(1, 0, 0);
        let a = serve(std::slice::from_ref(&s), "/a", t).unwrap();
        let b = serve(std::slice::from_ref(&s), "/a", t).unwrap();
        assert_ne!(a.2, b.2, "a varying page differs on every request");
        let img = |t| serve(std::slice::from_ref(&s), "/i.jpg", t).unwrap();
        let (before, after) = (
            img(ScenarioTime::at(3, 0, 0)),
            img(ScenarioTime::at(4, 0, 0)),
        );
        assert_eq!(before.1, vec![("Content-Type".into(), "image/jpeg".into())]);
        assert_ne!(
            before.2, after.2,
            "the image's bytes change with the version"
        );
        assert!(serve(&[s], "/b", t).is_none());
    }
}
