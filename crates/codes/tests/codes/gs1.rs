use blocksmith_codes::gs1::{self, GS};
use blocksmith_codes::gtin::{self, Gtin};
use blocksmith_codes::{
    EncodeOptions, Error, Gs1Error, GtinError, RenderOptions, Symbology, encode, render, scan,
};
use proptest::prelude::*;

#[test]
fn gtin_check_digits_and_forms() {
    assert_eq!(gtin::check_digit("400638133393").unwrap(), 1);
    assert_eq!(gtin::check_digit("03600029145").unwrap(), 2);
    assert_eq!(gtin::check_digit("9638507").unwrap(), 4);
    assert_eq!(gtin::check_digit("1001234567890").unwrap(), 2); // GTIN-14 10012345678902
    gtin::validate("4006381333931").unwrap();
    gtin::validate("036000291452").unwrap();
    gtin::validate("96385074").unwrap();
    gtin::validate("10012345678902").unwrap();
    assert_eq!(
        gtin::validate("4006381333932"),
        Err(GtinError::CheckDigit {
            found: 2,
            expected: 1
        })
    );
    assert_eq!(
        gtin::validate("400638133393"),
        Err(GtinError::CheckDigit {
            found: 3,
            expected: 0
        })
    );
    assert_eq!(gtin::validate("12345"), Err(GtinError::Length(5)));
    assert_eq!(gtin::validate("4006381x33931"), Err(GtinError::NonDigit(7)));
    let g = Gtin::parse("036000291452").unwrap();
    assert_eq!(g.as_gtin14(), "00036000291452");
    assert_eq!(g.shortest(), "036000291452");
    assert_eq!(Gtin::parse("96385074").unwrap().shortest(), "96385074");
    assert!(matches!(Gtin::parse("1"), Err(Error::Gtin { .. })));
    // UPC-E expansion (examples from the GS1 spec tables).
    assert_eq!(gtin::upce_to_upca("0425261").unwrap(), "042100005264");
    assert_eq!(gtin::upce_to_upca("04252614").unwrap(), "042100005264");
    assert_eq!(gtin::upce_to_upca("01234505").unwrap(), "012000003455");
    assert!(gtin::upce_to_upca("04252615").is_err());
}

#[test]
fn gs1_128_element_strings() {
    let m = gs1::parse("]C1010950600013435217201225\u{1d}10ABC-1\u{1d}3103000250").unwrap();
    // A separator after a fixed-length AI is tolerated; variable ones need it.
    assert_eq!(m.get("01"), Some("09506000134352"));
    assert_eq!(m.get("17"), Some("201225"));
    assert_eq!(m.get("10"), Some("ABC-1"));
    assert_eq!(m.get("3103"), Some("000250"));
    assert_eq!(m.gtin().unwrap().as_gtin14(), "09506000134352");
    assert_eq!(gs1::ai_title("3103"), Some("NET WEIGHT (kg)"));
    // Round trips through both syntaxes.
    let again = gs1::parse(&m.to_element_string()).unwrap();
    assert_eq!(again, m);
    assert_eq!(gs1::parse(&m.to_bracketed()).unwrap(), m);
    // DataMatrix and QR symbology identifiers, leading FNC1.
    assert_eq!(
        gs1::parse("]d201095060001343521012").unwrap().get("10"),
        Some("12")
    );
    assert_eq!(
        gs1::parse(&format!("{GS}0109506000134352"))
            .unwrap()
            .elements
            .len(),
        1
    );
}

#[test]
fn gs1_typed_errors() {
    let r = |s: &str| match gs1::parse(s) {
        Err(Error::Gs1 { reason, offset }) => (reason, offset),
        other => panic!("{s:?}: {other:?}"),
    };
    assert_eq!(
        r("0109506000134353").0,
        Gs1Error::CheckDigit { ai: "01".into() }
    );
    assert_eq!(r("01095060001343").0, Gs1Error::Truncated("01".into()));
    assert_eq!(
        r("17201325").0,
        Gs1Error::BadDate {
            ai: "17".into(),
            value: "201325".into()
        }
    );
    assert!(matches!(r("10").0, Gs1Error::TooShort { .. }));
    assert!(matches!(
        r(&format!("10{}", "A".repeat(21))).0,
        Gs1Error::TooLong { .. }
    ));
    assert!(matches!(r("10ab cd").0, Gs1Error::BadChar { ch: ' ', .. }));
    assert_eq!(r("0512").0, Gs1Error::UnknownAi("0512".into()));
    assert_eq!(r("10A\u{1d}10B").0, Gs1Error::Duplicate("10".into()));
    assert_eq!(r("]C1").0, Gs1Error::Empty);
    assert_eq!(r("(01").0, Gs1Error::Syntax);
    let (reason, offset) = r("0109506000134352\u{1d}17201399");
    assert!(matches!(reason, Gs1Error::BadDate { .. }));
    assert_eq!(offset, 19);
}

#[test]
fn digital_link() {
    let m = gs1::parse_digital_link(
        "https://id.example.com/products/01/9506000134352/22/V1/10/AB%2F12/21/S%2B1?17=261231&3103=000189&utm=x#frag",
    )
    .unwrap();
    assert_eq!(m.get("01"), Some("09506000134352")); // GTIN-13 padded to 14
    assert_eq!(m.get("22"), Some("V1"));
    assert_eq!(m.get("10"), Some("AB/12"));
    assert_eq!(m.get("21"), Some("S+1"));
    assert_eq!(m.get("17"), Some("261231"));
    assert_eq!(m.get("3103"), Some("000189"));
    assert!(m.get("utm").is_none());
    let url = m.to_digital_link("https://id.gs1.org").unwrap();
    assert!(
        url.starts_with("https://id.gs1.org/01/09506000134352/22/V1/10/AB%2F12/21/S%2B1?17=261231"),
        "{url}"
    );
    assert_eq!(gs1::parse_digital_link(&url).unwrap(), m);
    let bad = |u: &str| {
        matches!(
            gs1::parse_digital_link(u),
            Err(Error::Gs1 {
                reason: Gs1Error::DigitalLink(_)
                    | Gs1Error::CheckDigit { .. }
                    | Gs1Error::UnknownAi(_),
                ..
            })
        )
    };
    assert!(bad("ftp://x/01/09506000134352"));
    assert!(bad("https://x/nothing/here"));
    assert!(bad("https://x/01/09506000134353"));
    assert!(bad("https://x/01/09506000134352/21/A/10/B")); // qualifiers out of order
    assert!(bad("https://x/01/09506000134352/10"));
    assert!(bad("https://x/01/09506000134352/10/%zz"));
}

#[test]
fn gs1_datamatrix_and_qr_payloads_decode_and_parse() {
    // A GS1 element string carried in a QR with the GS separator.
    let msg =
        gs1::from_pairs([("01", "09506000134352"), ("10", "LOT7"), ("17", "270101")]).unwrap();
    let payload = msg.to_element_string();
    let s = encode(&payload, &EncodeOptions::new(Symbology::Qr)).unwrap();
    let png = render::to_png(&s, &RenderOptions::new().with_scale(4)).unwrap();
    let d = &scan::scan_bytes(&png, &super::opts()).unwrap().codes[0];
    assert_eq!(gs1::parse(&d.text).unwrap(), msg);
}

fn element() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        "[0-9]{13}".prop_map(|b| {
            let c = gtin::check_digit(&b).unwrap();
            ("01".to_string(), format!("{b}{c}"))
        }),
        "[A-Za-z0-9!%&()*+,./:;<=>?_-]{1,20}".prop_map(|v| ("10".to_string(), v)),
        "[A-Za-z0-9]{1,20}".prop_map(|v| ("21".to_string(), v)),
        (0u32..100, 1u32..13, 0u32..32)
            .prop_map(|(y, m, d)| ("17".to_string(), format!("{y:02}{m:02}{d:02}"))),
        ("[0-9]", "[0-9]{6}").prop_map(|(n, v)| (format!("310{n}"), v)),
        "[0-9]{1,8}".prop_map(|v| ("30".to_string(), v)),
        "[A-Z0-9]{1,30}".prop_map(|v| ("400".to_string(), v)),
    ]
}

proptest! {
    #[test]
    fn element_string_round_trip(els in proptest::collection::vec(element(), 1..6)) {
        let mut seen = std::collections::HashSet::new();
        let pairs: Vec<(String, String)> = els.into_iter().filter(|(a, _)| seen.insert(a.clone())).collect();
        let msg = gs1::from_pairs(pairs.iter().map(|(a, v)| (a.as_str(), v.as_str()))).unwrap();
        prop_assert_eq!(&gs1::parse(&msg.to_element_string()).unwrap(), &msg);
        prop_assert_eq!(&gs1::parse(&format!("]C1{}", msg.to_element_string())).unwrap(), &msg);
        prop_assert_eq!(&gs1::parse_bracketed(&msg.to_bracketed()).unwrap(), &msg);
        if msg.get("01").is_some() {
            let url = msg.to_digital_link("https://example.com/").unwrap();
            let back = gs1::parse_digital_link(&url).unwrap();
            // Path qualifiers move to the path; compare as sets.
            let mut a = back.elements.clone();
            let mut b = msg.elements.clone();
            a.sort_by(|x, y| x.ai.cmp(&y.ai));
            b.sort_by(|x, y| x.ai.cmp(&y.ai));
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,80}", b in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = gs1::parse(&s);
        let _ = gs1::parse_bracketed(&s);
        let _ = gs1::parse_digital_link(&format!("https://x/{s}"));
        let t = String::from_utf8_lossy(&b);
        let _ = gs1::parse(&t);
        let _ = gtin::validate(&t);
        let _ = gtin::upce_to_upca(&t);
    }

    #[test]
    fn gtin_check_digit_detects_single_errors(body in "[0-9]{12}", pos in 0usize..13, delta in 1u8..10) {
        let c = gtin::check_digit(&body).unwrap();
        let full = format!("{body}{c}");
        prop_assert!(gtin::validate(&full).is_ok());
        let mut bytes = full.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        prop_assert!(gtin::validate(std::str::from_utf8(&bytes).unwrap()).is_err());
    }
}
