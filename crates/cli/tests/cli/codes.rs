//! `blocksmith codes ...`, run as a user would. Goes in
//! `crates/cli/tests/cli/codes.rs` with `mod codes;` in `tests/cli/main.rs`,
//! whose `run` and `json` helpers it uses.

use super::{json, run};

#[test]
fn codes_encode_decode_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("qr", "https://example.com/p/42", "qr.png"),
        ("ean13", "400638133393", "ean.svg"),
        ("code128", "BLK-0042", "c128.png"),
        ("datamatrix", "DM 2026", "dm.png"),
        ("pdf417", "PDF417 ticket 77", "pdf.png"),
        ("aztec", "AZTEC 1", "az.png"),
        ("upca", "03600029145", "upc.png"),
    ];
    for (sym, text, file) in cases {
        let path = d.join(file);
        let o = run(
            d,
            &[
                "codes",
                "encode",
                text,
                "--symbology",
                sym,
                "--out",
                path.to_str().unwrap(),
                "--json",
            ],
        );
        assert!(o.status.success(), "{sym}: {o:?}");
        let v = json(&o);
        assert_eq!(v["symbology"], sym);
        assert_eq!(v["verified"], true);
        assert!(path.exists());
    }
    // Decode the PNGs (SVG is not an input format) in one call.
    let pngs: Vec<String> = cases
        .iter()
        .filter(|c| {
            std::path::Path::new(c.2)
                .extension()
                .is_some_and(|e| e == "png")
        })
        .map(|c| d.join(c.2).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["codes", "decode"];
    args.extend(pngs.iter().map(String::as_str));
    args.push("--json");
    let o = run(d, &args);
    assert!(o.status.success(), "{o:?}");
    let rows = json(&o);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), pngs.len());
    let qr = &rows[0]["codes"][0];
    assert_eq!(qr["symbology"], "qr");
    assert_eq!(qr["text"], "https://example.com/p/42");
    assert_eq!(qr["corners"].as_array().unwrap().len(), 4);
    assert_eq!(rows[1]["codes"][0]["text"], "BLK-0042");
    assert_eq!(rows.last().unwrap()["codes"][0]["text"], "036000291452");
    // Terminal output without --out.
    let o = run(d, &["codes", "encode", "hi"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains('█'));
}

#[test]
fn codes_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let junk = d.join("junk.png");
    std::fs::write(&junk, b"definitely not a png").unwrap();
    let out = d.join("x.png");
    for args in [
        vec![
            "codes",
            "encode",
            "4006381333932",
            "--symbology",
            "ean13",
            "--out",
            out.to_str().unwrap(),
        ],
        vec!["codes", "encode", "x", "--symbology", "nope"],
        vec![
            "codes",
            "encode",
            "x",
            "--out",
            d.join("x.gif").to_str().unwrap(),
        ],
        vec!["codes", "encode", "x", "--fg", "#eeeeee"],
        vec!["codes", "decode", junk.to_str().unwrap()],
        vec!["codes", "gs1", "0109506000134353"],
    ] {
        let o = run(d, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
    }
}

#[test]
fn codes_gs1_and_batch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &[
            "codes",
            "gs1",
            "(01)09506000134352(17)261231(10)AB1",
            "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["gtin"], "09506000134352");
    assert_eq!(v["elements"][1]["title"], "USE BY");
    let o = run(
        d,
        &[
            "codes",
            "gs1",
            "https://id.example.com/01/9506000134352?10=X",
            "--json",
        ],
    );
    assert_eq!(json(&o)["elements"][1]["value"], "X");
    let out = d.join("campaign");
    let o = run(
        d,
        &[
            "codes",
            "batch",
            "https://example.com/c/{id}",
            "--out",
            out.to_str().unwrap(),
            "--count",
            "5",
            "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["verified"], 5);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["entries"][4]["data"],
        "https://example.com/c/c000005"
    );
}
