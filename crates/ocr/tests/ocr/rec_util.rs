use blocksmith_ocr::builtin::render::Font;

/// The committed held-out font (Noto Sans, OFL; never used in training).
pub(crate) fn heldout_font() -> Font {
    Font::from_bytes(
        "NotoSans",
        include_bytes!("../data/NotoSans-Regular.ttf").to_vec(),
    )
    .expect("font parses")
}
