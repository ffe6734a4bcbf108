use super::*;
use interfero_model::capture::{Exchange, Vantage};

fn cap(url: &str, final_url: &str, status: u16, body: &str) -> Capture {
    Capture {
        url: url.into(),
        vantage: Vantage::Probe,
        exchanges: vec![Exchange {
            url: final_url.into(),
            status,
            body: body.as_bytes().to_vec(),
            ..Exchange::default()
        }],
        ..Capture::default()
    }
}

const URL: &str = "https://news.example/2021/ruling";

fn article(clock: &str, extra: &str, img: &str) -> String {
    format!(
        "<html><title>Court ruling on the NGO</title><body><p>Updated {clock}</p>\
         <p>The court ordered the NGO to delete the information.</p>\
         <p>The NGO will appeal.</p>{extra}<img src=\"{img}\"><p>Views: {clock}</p></body></html>"
    )
}

fn page(clock: &str) -> Capture {
    cap(URL, URL, 200, &article(clock, "", "/img/mural.jpg"))
}

fn learned() -> Variation {
    let mut v = Variation::default();
    v.learn(&page("10:00:01"), &page("10:00:02"));
    v
}

#[test]
fn the_sites_own_variation_is_not_a_change() {
    assert_eq!(
        compare(&page("10:00:01"), &page("23:59:59"), &learned()),
        None
    );
    // Without learning, the clock and counter lines are a change.
    assert!(compare(&page("10:00:01"), &page("10:00:02"), &Variation::default()).is_some());
}

#[test]
fn removals_are_told_by_status_home_redirect_and_soft_404() {
    let v = learned();
    let gone = compare(&page("10:00:01"), &cap(URL, URL, 404, "nope"), &v).unwrap();
    assert_eq!(
        (gone.kind, gone.removal),
        (ChangeKind::Removed, Some(Removal::Status(404)))
    );
    let home = cap(
        URL,
        "https://news.example/",
        200,
        "<title>News</title><p>Front page</p>",
    );
    let r = compare(&page("10:00:01"), &home, &v).unwrap();
    assert_eq!(r.removal, Some(Removal::ToHome));
    let soft = cap(
        URL,
        URL,
        200,
        "<title>News</title><p>Page not found</p><p>Try the search.</p>",
    );
    let r = compare(&page("10:00:01"), &soft, &v).unwrap();
    assert_eq!(
        (r.kind, r.removal),
        (ChangeKind::Removed, Some(Removal::Soft404))
    );
}

#[test]
fn altered_text_and_a_swapped_image_are_shown() {
    let v = learned();
    let edited = cap(
        URL,
        URL,
        200,
        &article("11:00:00", "", "/img/mural.jpg").replace(
            "The NGO will appeal.",
            "[deleted at the request of the ministry]",
        ),
    );
    let c = compare(&page("10:00:01"), &edited, &v).unwrap();
    assert_eq!(c.kind, ChangeKind::Altered);
    assert_eq!(
        c.diff,
        vec![
            "- The NGO will appeal.",
            "+ [deleted at the request of the ministry]"
        ]
    );
    let blurred = cap(
        URL,
        URL,
        200,
        &article("12:00:00", "", "/img/mural-blurred.jpg"),
    );
    let c = compare(&page("10:00:01"), &blurred, &v).unwrap();
    assert_eq!(
        (c.images_removed.clone(), c.images_added.clone()),
        (
            vec!["/img/mural.jpg".to_string()],
            vec!["/img/mural-blurred.jpg".to_string()]
        )
    );
    assert!(c.describe().contains("+ [image] /img/mural-blurred.jpg"));
}

#[test]
fn a_different_page_is_a_replacement() {
    let other = cap(
        URL,
        URL,
        200,
        "<title>Sports</title><p>The match ended 2:1.</p><p>Next week: the final.</p>",
    );
    let c = compare(&page("10:00:01"), &other, &learned()).unwrap();
    assert_eq!(c.kind, ChangeKind::Replaced);
}

#[test]
fn removal_everywhere_is_the_publisher_and_only_here_is_interference() {
    let v = learned();
    let before = page("10:00:01");
    let gone = cap(URL, URL, 410, "");
    let change = compare(&before, &gone, &v);
    let mut control_gone = gone.clone();
    control_gone.vantage = Vantage::Control;
    assert_eq!(
        attribute(&before, change.as_ref(), &gone, Some(&control_gone), &v),
        Attribution::Publisher
    );
    let control_ok = page("10:30:00");
    assert_eq!(
        attribute(&before, change.as_ref(), &gone, Some(&control_ok), &v),
        Attribution::Interference
    );
    // Blocked: the vantage point got no page at all while the control did.
    let blocked = Capture {
        failure: Some(interfero_model::Failure::ConnectionReset),
        ..Capture::default()
    };
    assert_eq!(
        attribute(&before, None, &blocked, Some(&control_ok), &v),
        Attribution::Interference
    );
    assert_eq!(
        attribute(&before, change.as_ref(), &gone, None, &v),
        Attribution::Unknown
    );
}

#[test]
fn a_long_page_diffs_within_bounds() {
    let lines: Vec<String> = (0..5000).map(|i| format!("line {i} text")).collect();
    let mut after = lines.clone();
    after[10] = "changed".into();
    let d = line_diff(&lines, &after, &Variation::default());
    assert_eq!(d, vec!["- line 10 text", "+ changed"]);
}
