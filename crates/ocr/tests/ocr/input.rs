use blocksmith_ocr::{Error, Format, Limits, decode, input};
use image::{DynamicImage, GrayImage, ImageFormat, Luma, RgbImage};
use std::io::Cursor;

fn gray_page() -> GrayImage {
    GrayImage::from_fn(64, 40, |x, y| Luma([((x * 4 + y * 3) % 256) as u8]))
}

pub(crate) fn encode(img: &DynamicImage, fmt: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, fmt).expect("encode");
    out.into_inner()
}

pub(crate) fn tiff_pages(pages: &[GrayImage]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut out).expect("tiff");
        for p in pages {
            enc.write_image::<tiff::encoder::colortype::Gray8>(p.width(), p.height(), p.as_raw())
                .expect("page");
        }
    }
    out.into_inner()
}

#[test]
fn png_jpeg_pnm_decode() {
    let g = gray_page();
    let png = encode(&DynamicImage::ImageLuma8(g.clone()), ImageFormat::Png);
    assert_eq!(input::sniff(&png), Some(Format::Png));
    let pages = decode(&png, &Limits::default()).unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].to_luma8(), g);

    let rgb = RgbImage::from_fn(50, 30, |x, _| image::Rgb([200, (x * 5) as u8, 10]));
    let jpg = encode(&DynamicImage::ImageRgb8(rgb), ImageFormat::Jpeg);
    assert_eq!(input::sniff(&jpg), Some(Format::Jpeg));
    let pages = decode(&jpg, &Limits::default()).unwrap();
    assert_eq!((pages[0].width(), pages[0].height()), (50, 30));

    // PBM, plain (P1) and raw (P4): 1 = black.
    let p1 = b"P1\n# comment\n4 2\n1 0 0 1\n0 1 1 0\n";
    let img = decode(p1, &Limits::default()).unwrap()[0].to_luma8();
    let px: Vec<u8> = img.pixels().map(|p| p.0[0]).collect();
    assert_eq!(px, [0, 255, 255, 0, 255, 0, 0, 255]);
    let p4 = b"P4\n10 2\n\xC0\x40\x01\x80";
    let img = decode(p4, &Limits::default()).unwrap()[0].to_luma8();
    assert_eq!(img.dimensions(), (10, 2));
    assert_eq!(img.get_pixel(0, 0).0[0], 0);
    assert_eq!(img.get_pixel(2, 0).0[0], 255);
    assert_eq!(img.get_pixel(9, 0).0[0], 0);
    assert_eq!(img.get_pixel(7, 1).0[0], 0);
    // PGM, plain and raw.
    let p2 = b"P2\n3 1\n255\n0 128 255\n";
    let img = decode(p2, &Limits::default()).unwrap()[0].to_luma8();
    assert_eq!(img.as_raw(), &[0, 128, 255]);
    let p5 = b"P5\n2 1\n255\n\x10\x20";
    assert_eq!(
        decode(p5, &Limits::default()).unwrap()[0]
            .to_luma8()
            .as_raw(),
        &[16, 32]
    );
}

#[test]
fn multi_page_tiff_yields_every_page() {
    let a = gray_page();
    let b = GrayImage::from_pixel(30, 20, Luma([9]));
    let c = GrayImage::from_fn(17, 5, |x, _| Luma([x as u8 * 10]));
    let t = tiff_pages(&[a.clone(), b.clone(), c.clone()]);
    assert_eq!(input::sniff(&t), Some(Format::Tiff));
    let pages = decode(&t, &Limits::default()).unwrap();
    let got: Vec<GrayImage> = pages.iter().map(DynamicImage::to_luma8).collect();
    assert_eq!(got, vec![a, b, c]);
    assert!(matches!(
        decode(&t, &Limits::default().with_max_pages(2)),
        Err(Error::TooManyPages { max: 2 })
    ));
    assert_eq!(input::dimensions(&t).unwrap(), (64, 40));
}

#[test]
fn limits_are_checked_from_the_header() {
    // A 30-byte file declaring 100 000 x 100 000 pixels.
    let huge = b"P4\n100000 100000\n\x00\x00\x00\x00";
    assert!(matches!(
        decode(huge, &Limits::default()),
        Err(Error::DimensionsTooLarge { width: 100_000, .. })
    ));
    let many = b"P5\n15000 15000\n255\n\x00";
    assert!(matches!(
        decode(many, &Limits::default()),
        Err(Error::TooManyPixels {
            pixels: 225_000_000,
            ..
        })
    ));
    let png = encode(&DynamicImage::ImageLuma8(gray_page()), ImageFormat::Png);
    assert!(matches!(
        decode(&png, &Limits::default().with_max_dimensions(63, 1000)),
        Err(Error::DimensionsTooLarge { .. })
    ));
    assert!(matches!(
        decode(&png, &Limits::default().with_max_pixels(64 * 40 - 1)),
        Err(Error::TooManyPixels { .. })
    ));
    assert!(matches!(
        decode(&png, &Limits::default().with_max_bytes(10)),
        Err(Error::TooManyBytes { .. })
    ));
    let t = tiff_pages(&[gray_page()]);
    assert!(matches!(
        decode(&t, &Limits::default().with_max_dimensions(10, 10)),
        Err(Error::DimensionsTooLarge { .. })
    ));
}

#[test]
fn corrupt_and_unknown_inputs_get_typed_errors() {
    assert!(matches!(
        decode(b"hello world", &Limits::default()),
        Err(Error::UnknownFormat)
    ));
    assert!(matches!(
        decode(b"", &Limits::default()),
        Err(Error::UnknownFormat)
    ));
    let png = encode(&DynamicImage::ImageLuma8(gray_page()), ImageFormat::Png);
    for cut in [12, 40, png.len() / 2, png.len() - 5] {
        let r = decode(&png[..cut], &Limits::default());
        assert!(
            matches!(r, Err(Error::Corrupt { format: "PNG", .. })),
            "cut {cut}: {r:?}"
        );
    }
    let t = tiff_pages(&[gray_page()]);
    assert!(matches!(
        decode(&t[..20], &Limits::default()),
        Err(Error::Corrupt { format: "TIFF", .. })
    ));
    assert!(matches!(
        decode(b"P4\n0 5\n", &Limits::default()),
        Err(Error::EmptyImage | Error::Corrupt { .. })
    ));
    assert!(matches!(
        decode(b"P1\n3 3\n1 0 x\n", &Limits::default()),
        Err(Error::Corrupt { .. })
    ));
    let jpg = encode(&DynamicImage::ImageLuma8(gray_page()), ImageFormat::Jpeg);
    assert!(decode(&jpg[..jpg.len() / 3], &Limits::default()).is_err());
}
