use super::enc;
use blocksmith_codes::{
    EcLevel, EncodeOptions, Error, QrMode, RenderOptions, Symbology, encode, encode_qr_bytes,
    verify,
};

#[test]
fn every_symbology_encodes_and_decodes_back() {
    for s in Symbology::ALL {
        let symbol = enc(s);
        assert_eq!(symbol.modules.len(), symbol.width * symbol.height, "{s}");
        let d = verify(&symbol, &RenderOptions::new().with_scale(3))
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(d.symbology, s);
        assert_eq!(d.text, symbol.text, "{s}");
    }
}

#[test]
fn check_digits_are_added_and_checked() {
    let e = |s, d: &str| encode(d, &EncodeOptions::new(s));
    assert_eq!(
        e(Symbology::Ean13, "400638133393").unwrap().text,
        "4006381333931"
    );
    assert_eq!(
        e(Symbology::UpcA, "03600029145").unwrap().text,
        "036000291452"
    );
    assert_eq!(e(Symbology::Ean8, "9638507").unwrap().text, "96385074");
    assert_eq!(e(Symbology::UpcE, "0123456").unwrap().text.len(), 8);
    assert!(matches!(
        e(Symbology::Ean13, "4006381333932"),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        e(Symbology::Ean13, "40063813339"),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        e(Symbology::Code39, "lower"),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        e(Symbology::Itf, "123"),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        e(Symbology::Codabar, "A12X4B"),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        e(Symbology::Qr, &"x".repeat(3000)),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        e(Symbology::DataMatrix, ""),
        Err(Error::Encode { .. })
    ));
}

#[test]
fn ean13_modules_are_95_wide() {
    let s = enc(Symbology::Ean13);
    assert_eq!((s.width, s.height), (95, 1));
    // Start guard 101, end guard 101.
    assert_eq!(&s.modules[..3], &[true, false, true]);
    assert_eq!(&s.modules[92..], &[true, false, true]);
}

#[test]
fn qr_levels_versions_masks_and_modes() {
    let data = "HELLO WORLD 2026";
    for level in [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H] {
        let s = encode(
            data,
            &EncodeOptions::new(Symbology::Qr).with_ec_level(level),
        )
        .unwrap();
        let d = verify(&s, &RenderOptions::new().with_scale(3)).unwrap();
        assert_eq!(d.ec_level.as_deref(), Some(level.as_str()));
    }
    // Version 1, 7 (version information blocks), 40 (largest).
    for v in [1u8, 7, 25, 40] {
        let s = encode("42", &EncodeOptions::new(Symbology::Qr).with_version(v)).unwrap();
        assert_eq!(s.width, 17 + 4 * v as usize);
        assert_eq!(s.version.as_deref(), Some(v.to_string().as_str()));
        verify(
            &s,
            &RenderOptions::new().with_scale(if v > 20 { 2 } else { 4 }),
        )
        .unwrap();
    }
    // Every mask gives a different symbol that still decodes.
    let mut seen = std::collections::HashSet::new();
    for m in 0..8u8 {
        let s = encode(
            data,
            &EncodeOptions::new(Symbology::Qr)
                .with_version(2)
                .with_mask(m),
        )
        .unwrap();
        assert_eq!(s.mask, Some(m));
        assert!(seen.insert(s.modules.clone()));
        verify(&s, &RenderOptions::new().with_scale(4)).unwrap();
    }
    // The automatic mask is one of the eight.
    let auto = encode(data, &EncodeOptions::new(Symbology::Qr).with_version(2)).unwrap();
    assert!(seen.contains(&auto.modules));
    // Forced modes: numeric is denser than byte for digits.
    let digits = "0123456789".repeat(10);
    let num = encode(
        &digits,
        &EncodeOptions::new(Symbology::Qr).with_qr_mode(QrMode::Numeric),
    )
    .unwrap();
    let byte = encode(
        &digits,
        &EncodeOptions::new(Symbology::Qr).with_qr_mode(QrMode::Byte),
    )
    .unwrap();
    assert!(num.width < byte.width);
    verify(&num, &RenderOptions::new().with_scale(3)).unwrap();
    verify(&byte, &RenderOptions::new().with_scale(3)).unwrap();
    let alnum = encode(
        data,
        &EncodeOptions::new(Symbology::Qr).with_qr_mode(QrMode::Alphanumeric),
    )
    .unwrap();
    verify(&alnum, &RenderOptions::new().with_scale(3)).unwrap();
    // A mode that cannot hold the data is a typed error.
    assert!(matches!(
        encode(
            "abc",
            &EncodeOptions::new(Symbology::Qr).with_qr_mode(QrMode::Numeric)
        ),
        Err(Error::Encode { .. })
    ));
    assert!(matches!(
        encode("x", &EncodeOptions::new(Symbology::Qr).with_version(41)),
        Err(Error::InvalidOption(_))
    ));
    assert!(matches!(
        encode("x", &EncodeOptions::new(Symbology::Qr).with_mask(8)),
        Err(Error::InvalidOption(_))
    ));
}

#[test]
fn micro_qr_versions() {
    for v in 1..=4u8 {
        let level = if v == 1 { EcLevel::L } else { EcLevel::M };
        let s = encode(
            "123",
            &EncodeOptions::new(Symbology::MicroQr)
                .with_version(v)
                .with_ec_level(level),
        )
        .unwrap();
        assert_eq!(s.width, 9 + 2 * v as usize);
        verify(&s, &RenderOptions::new().with_scale(6)).unwrap_or_else(|e| panic!("M{v}: {e}"));
    }
    assert!(
        encode(
            "1",
            &EncodeOptions::new(Symbology::MicroQr).with_ec_level(EcLevel::H)
        )
        .is_err()
    );
}

#[test]
fn qr_binary_bytes() {
    let data: Vec<u8> = (0u8..=255).step_by(7).collect();
    let s = encode_qr_bytes(&data, &EncodeOptions::new(Symbology::Qr)).unwrap();
    let img = blocksmith_codes::render::to_image(&s, &RenderOptions::new().with_scale(4)).unwrap();
    let report =
        blocksmith_codes::scan::scan_image(&image::DynamicImage::ImageRgb8(img), &super::opts())
            .unwrap();
    assert_eq!(report.codes.len(), 1);
    assert_eq!(report.codes[0].symbology, Symbology::Qr);
    assert_eq!(report.codes[0].bytes, data);
}

#[test]
fn symbology_names_parse() {
    for s in Symbology::ALL {
        assert_eq!(s.name().parse::<Symbology>().unwrap(), s);
    }
    assert_eq!("QR-Code".parse::<Symbology>().unwrap(), Symbology::Qr);
    assert_eq!("EAN-13".parse::<Symbology>().unwrap(), Symbology::Ean13);
    assert!("nope".parse::<Symbology>().is_err());
}

#[test]
fn symbol_with_missing_modules_reads_them_as_light() {
    let s = encode("HELLO", &EncodeOptions::new(Symbology::Qr)).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&s).unwrap();
    json["modules"] = serde_json::json!([true]);
    let short: blocksmith_codes::Symbol = serde_json::from_value(json).unwrap();
    assert!(short.get(0, 0));
    assert!(!short.get(s.width - 1, s.height - 1));
    assert!(!short.get(s.width, 0));
}
