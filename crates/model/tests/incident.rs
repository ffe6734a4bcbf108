//! Incident types: dates with their precision, closed vocabularies, and files that say more or
//! less than the field set.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::incident::{Incident, Kind, PartialDate, Precision};

#[test]
fn dates_keep_the_precision_the_source_gives() {
    let day = PartialDate::parse("2021-03-02").unwrap();
    assert_eq!(day.precision(), Precision::Day);
    let month = PartialDate::parse("2021-10").unwrap();
    assert_eq!(month.precision(), Precision::Month);
    assert_eq!(
        (month.first_day(), month.last_day()),
        ("2021-10-01".into(), "2021-10-31".into())
    );
    let year = PartialDate::parse("2021").unwrap();
    assert_eq!(
        (year.first_day(), year.last_day()),
        ("2021-01-01".into(), "2021-12-31".into())
    );
    assert_eq!(
        PartialDate::parse("2024-02").unwrap().last_day(),
        "2024-02-29"
    );
    for bad in [
        "2021-02-29",
        "2021-13",
        "2021-1-5",
        "21",
        "2021-10-05-01",
        "",
        "2021-00",
        "2021-04-31",
    ] {
        assert!(PartialDate::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(month.to_string(), "2021-10");
}

const MINIMAL: &str = r#"{"id": "a", "title": "A", "kind": "website_block", "start": "2021-10",
  "place": {"country": "KZ"}, "status": "draft", "visibility": "restricted"}"#;

#[test]
fn records_read_only_the_field_set() {
    let i: Incident = serde_json::from_str(MINIMAL).unwrap();
    assert_eq!(i.kind, Kind::WebsiteBlock);
    assert!(!i.is_public());
    // Written back, a record leaves out what it does not have, and reads back equal.
    let json = serde_json::to_string(&i).unwrap();
    assert!(
        !json.contains("evidence") && !json.contains("audit"),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Incident>(&json).unwrap(), i);
    let unknown_kind = MINIMAL.replace("website_block", "blok");
    let e = serde_json::from_str::<Incident>(&unknown_kind)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `blok`"), "{e}");
    let typo = MINIMAL.replace("\"title\"", "\"titel\"");
    assert!(
        serde_json::from_str::<Incident>(&typo).is_err(),
        "a misspelt field is not ignored"
    );
    let bad_date = MINIMAL.replace("2021-10", "2021-10-32");
    let e = serde_json::from_str::<Incident>(&bad_date)
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid date \"2021-10-32\""), "{e}");
    let evidence = MINIMAL.replace(
        "\"status\"",
        "\"evidence\": [{\"kind\": \"measurement\", \"id\": 4}, {\"kind\": \"event\", \"id\": 2}], \"status\"",
    );
    let i: Incident = serde_json::from_str(&evidence).unwrap();
    assert_eq!(i.evidence.len(), 2);
}

#[test]
fn every_kind_has_a_family_and_interference_kinds_are_the_internet_family() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()), Some(*k));
        assert_eq!(
            k.claims_interference(),
            k.family() == interfero_model::incident::Family::Internet
        );
    }
}

#[test]
fn a_date_reads_as_precisely_as_it_is_known() {
    use interfero_model::incident::PartialDate;
    let words = |s: &str| PartialDate::parse(s).unwrap().in_words();
    assert_eq!(words("2021-03-02"), "2 March 2021");
    assert_eq!(words("2021-12"), "December 2021");
    assert_eq!(words("2021"), "2021");
}
