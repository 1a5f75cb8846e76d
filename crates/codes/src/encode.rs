//! Encoding text into a [`Symbol`]: a grid of modules, before any rendering.
//!
//! QR and Micro QR go through the `qrcode` crate (so every mode, version and
//! mask is reachable); the other symbologies through `rxing`'s writers.

use crate::gtin;
use crate::{Error, Result, Symbology};
use qrcode::bits::Bits;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{EcLevel as QrEc, Version};
use rxing::oned::{
    CodaBarWriter, Code39Writer, Code93Writer, Code128Writer, EAN8Writer, EAN13Writer, ITFWriter,
    OneDimensionalCodeWriter, UPCEWriter,
};
use rxing::{EncodeHints, MultiFormatWriter, Writer};
use serde::{Deserialize, Serialize};

/// QR error correction level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EcLevel {
    /// About 7% of codewords can be restored.
    L,
    /// About 15% (the default).
    #[default]
    M,
    /// About 25%.
    Q,
    /// About 30%.
    H,
}

impl EcLevel {
    fn to_qr(self) -> QrEc {
        match self {
            EcLevel::L => QrEc::L,
            EcLevel::M => QrEc::M,
            EcLevel::Q => QrEc::Q,
            EcLevel::H => QrEc::H,
        }
    }
    /// The level's letter.
    pub fn as_str(self) -> &'static str {
        match self {
            EcLevel::L => "L",
            EcLevel::M => "M",
            EcLevel::Q => "Q",
            EcLevel::H => "H",
        }
    }
}

/// How QR data is segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum QrMode {
    /// The optimal mix of segments (the default).
    #[default]
    Auto,
    /// Digits only.
    Numeric,
    /// `0-9 A-Z space $ % * + - . / :`.
    Alphanumeric,
    /// Any bytes.
    Byte,
    /// Shift JIS double-byte characters (pass the Shift JIS bytes as the payload).
    Kanji,
}

/// What to encode and how.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// The symbology.
    pub symbology: Symbology,
    /// QR/Micro QR error correction level (Aztec and PDF417 map it to their own scales).
    pub ec_level: EcLevel,
    /// QR version 1-40 or Micro QR version 1-4; `None` picks the smallest that fits.
    pub version: Option<u8>,
    /// QR mask pattern 0-7 (Micro QR 0-3); `None` picks the lowest penalty.
    pub mask: Option<u8>,
    /// QR segmentation mode.
    pub qr_mode: QrMode,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self::new(Symbology::Qr)
    }
}

impl EncodeOptions {
    /// Defaults for `symbology`.
    pub fn new(symbology: Symbology) -> Self {
        Self {
            symbology,
            ec_level: EcLevel::M,
            version: None,
            mask: None,
            qr_mode: QrMode::Auto,
        }
    }
    /// Sets the error correction level.
    #[must_use]
    pub fn with_ec_level(mut self, level: EcLevel) -> Self {
        self.ec_level = level;
        self
    }
    /// Forces a QR version.
    #[must_use]
    pub fn with_version(mut self, version: u8) -> Self {
        self.version = Some(version);
        self
    }
    /// Forces a QR mask pattern.
    #[must_use]
    pub fn with_mask(mut self, mask: u8) -> Self {
        self.mask = Some(mask);
        self
    }
    /// Sets the QR segmentation mode.
    #[must_use]
    pub fn with_qr_mode(mut self, mode: QrMode) -> Self {
        self.qr_mode = mode;
        self
    }
}

/// An encoded symbol: dark/light modules in row-major order.
///
/// Linear symbologies have `height == 1`; renderers stretch the row into bars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Symbol {
    /// The symbology.
    pub symbology: Symbology,
    /// Modules per row.
    pub width: usize,
    /// Rows (1 for linear codes).
    pub height: usize,
    /// `true` = dark module, row-major, `width * height` entries.
    pub modules: Vec<bool>,
    /// The text a conforming reader returns (check digits added, Codabar
    /// start/stop stripped).
    pub text: String,
    /// QR error correction level used.
    pub ec_level: Option<EcLevel>,
    /// QR version used (`"7"`, `"M3"`).
    pub version: Option<String>,
    /// How many codewords the error correction can restore (QR only).
    pub max_codeword_errors: Option<usize>,
    /// Mask pattern applied (QR only).
    pub mask: Option<u8>,
}

impl Symbol {
    /// Whether the module at column `x`, row `y` is dark; out of range is light
    /// (so is a module `modules` lacks, in a symbol deserialized with fewer
    /// than `width * height` entries).
    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width
            && y < self.height
            && self
                .modules
                .get(y * self.width + x)
                .copied()
                .unwrap_or(false)
    }
}

/// Encodes `data` under `options`.
///
/// ```
/// use blocksmith_codes::{encode, EncodeOptions, Symbology};
/// let s = encode("4006381333931", &EncodeOptions::new(Symbology::Ean13)).unwrap();
/// assert_eq!((s.width, s.height), (95, 1));
/// ```
///
/// # Errors
/// - [`Error::InvalidOption`] if a forced QR version or mask is out of range
///   for the symbology, or Micro QR is asked for level H;
/// - [`Error::Encode`] if the payload cannot be encoded in the symbology
///   (characters or length it does not allow, a wrong check digit, empty, too
///   long for every version or the forced one).
pub fn encode(data: &str, options: &EncodeOptions) -> Result<Symbol> {
    match options.symbology {
        Symbology::Qr | Symbology::MicroQr => encode_qr(data.as_bytes(), data, options),
        s if s.is_linear() => encode_linear(data, s),
        s => encode_2d(data, s, options),
    }
}

/// Encodes raw bytes as QR or Micro QR (byte mode keeps arbitrary binary).
///
/// # Errors
/// [`Error::InvalidOption`] if `options.symbology` is not QR or Micro QR;
/// otherwise as [`encode`].
pub fn encode_qr_bytes(data: &[u8], options: &EncodeOptions) -> Result<Symbol> {
    if !matches!(options.symbology, Symbology::Qr | Symbology::MicroQr) {
        return Err(Error::InvalidOption(
            "encode_qr_bytes needs Symbology::Qr or MicroQr".into(),
        ));
    }
    encode_qr(data, &String::from_utf8_lossy(data), options)
}

fn qr_err(symbology: Symbology, e: impl std::fmt::Display) -> Error {
    Error::Encode {
        symbology: symbology.name(),
        reason: e.to_string(),
    }
}

const NORMAL_MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];
const MICRO_MASKS: [MaskPattern; 4] = [
    MaskPattern::HorizontalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

fn push_segments(bits: &mut Bits, data: &[u8], mode: QrMode) -> qrcode::QrResult<()> {
    match mode {
        QrMode::Auto => bits.push_optimal_data(data),
        QrMode::Numeric => bits.push_numeric_data(data),
        QrMode::Alphanumeric => bits.push_alphanumeric_data(data),
        QrMode::Byte => bits.push_byte_data(data),
        QrMode::Kanji => bits.push_kanji_data(data),
    }
}

fn encode_qr(data: &[u8], text: &str, o: &EncodeOptions) -> Result<Symbol> {
    let micro = o.symbology == Symbology::MicroQr;
    let sym = o.symbology;
    let (lo, hi) = if micro { (1, 4) } else { (1, 40) };
    let versions: Vec<i16> = match o.version {
        Some(v) if (lo..=hi).contains(&v) => vec![i16::from(v)],
        Some(v) => {
            return Err(Error::InvalidOption(format!(
                "{sym} version {v} outside {lo}..={hi}"
            )));
        }
        None => (i16::from(lo)..=i16::from(hi)).collect(),
    };
    if let Some(m) = o.mask {
        let n = if micro { 4 } else { 8 };
        if m >= n {
            return Err(Error::InvalidOption(format!(
                "{sym} mask {m} outside 0..{n}"
            )));
        }
    }
    if micro && o.ec_level == EcLevel::H {
        return Err(Error::InvalidOption("Micro QR has no level H".into()));
    }
    let ec = o.ec_level.to_qr();
    if data.is_empty() && o.qr_mode != QrMode::Byte {
        return Err(qr_err(sym, "empty payload"));
    }
    // The qrcode crate trusts its caller on forced modes: check the data here.
    let valid = match o.qr_mode {
        QrMode::Auto | QrMode::Byte => true,
        QrMode::Numeric => data.iter().all(u8::is_ascii_digit),
        QrMode::Alphanumeric => data
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b" $%*+-./:".contains(b)),
        QrMode::Kanji => {
            data.len().is_multiple_of(2)
                && data.chunks(2).all(|p| {
                    let code = u16::from(p[0]) << 8 | u16::from(p[1]);
                    ((0x8140..=0x9FFC).contains(&code) || (0xE040..=0xEBBF).contains(&code))
                        && (0x40..=0xFC).contains(&p[1])
                        && p[1] != 0x7F
                })
        }
    };
    if !valid {
        return Err(qr_err(
            sym,
            format!("data not allowed in {:?} mode", o.qr_mode),
        ));
    }
    let mut last_err = None;
    for v in versions {
        let version = if micro {
            Version::Micro(v)
        } else {
            Version::Normal(v)
        };
        let mut bits = Bits::new(version);
        let pushed =
            push_segments(&mut bits, data, o.qr_mode).and_then(|()| bits.push_terminator(ec));
        if let Err(e) = pushed {
            last_err = Some(e);
            continue;
        }
        let max_errors = qrcode::ec::max_allowed_errors(version, ec).map_err(|e| qr_err(sym, e))?;
        let raw = bits.into_bytes();
        let (data_cw, ec_cw) = match qrcode::ec::construct_codewords(&raw, version, ec) {
            Ok(x) => x,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let mut canvas = Canvas::new(version, ec);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data_cw, &ec_cw);
        let dark = |c: Canvas| -> Vec<bool> {
            c.into_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect()
        };
        let patterns: &[MaskPattern] = if micro { &MICRO_MASKS } else { &NORMAL_MASKS };
        let (modules, mask) = if let Some(m) = o.mask {
            let mut c = canvas;
            c.apply_mask(patterns[m as usize]);
            (dark(c), m)
        } else {
            let best = dark(canvas.apply_best_mask());
            // Which pattern the penalty search chose, for the caller's record.
            let chosen = patterns.iter().position(|p| {
                let mut c = canvas.clone();
                c.apply_mask(*p);
                dark(c) == best
            });
            (best, chosen.unwrap_or(0) as u8)
        };
        let width = version.width() as usize;
        let mask = Some(mask);
        return Ok(Symbol {
            symbology: sym,
            width,
            height: width,
            modules,
            text: text.to_string(),
            ec_level: Some(o.ec_level),
            version: Some(if micro {
                format!("M{v}")
            } else {
                v.to_string()
            }),
            max_codeword_errors: Some(max_errors),
            mask,
        });
    }
    Err(qr_err(
        sym,
        last_err.map_or_else(|| "data too long".to_string(), |e| e.to_string()),
    ))
}

fn enc_err(s: Symbology, reason: impl Into<String>) -> Error {
    Error::Encode {
        symbology: s.name(),
        reason: reason.into(),
    }
}

fn digits_only(s: Symbology, data: &str) -> Result<()> {
    if data.is_empty() || !data.bytes().all(|b| b.is_ascii_digit()) {
        return Err(enc_err(s, "digits only"));
    }
    Ok(())
}

/// Adds the GTIN check digit to `len - 1` digits, or validates `len` digits.
fn with_check(s: Symbology, data: &str, len: usize) -> Result<String> {
    digits_only(s, data)?;
    if data.len() == len - 1 {
        let c = gtin::check_digit(data).map_err(|e| enc_err(s, e.to_string()))?;
        Ok(format!("{data}{c}"))
    } else if data.len() == len {
        gtin::validate(data).map_err(|e| enc_err(s, e.to_string()))?;
        Ok(data.to_string())
    } else {
        Err(enc_err(
            s,
            format!("{} or {len} digits, got {}", len - 1, data.len()),
        ))
    }
}

fn encode_linear(data: &str, s: Symbology) -> Result<Symbol> {
    let hints = EncodeHints::default();
    let (bars, text) = match s {
        Symbology::Ean13 => {
            let t = with_check(s, data, 13)?;
            (EAN13Writer.encode_oned_with_hints(&t, &hints), t)
        }
        Symbology::UpcA => {
            let t = with_check(s, data, 12)?;
            (
                EAN13Writer.encode_oned_with_hints(&format!("0{t}"), &hints),
                t,
            )
        }
        Symbology::Ean8 => {
            let t = with_check(s, data, 8)?;
            (EAN8Writer.encode_oned_with_hints(&t, &hints), t)
        }
        Symbology::UpcE => {
            digits_only(s, data)?;
            if !(data.len() == 7 || data.len() == 8) || !matches!(data.as_bytes()[0], b'0' | b'1') {
                return Err(enc_err(s, "7 or 8 digits starting with 0 or 1"));
            }
            let upca = gtin::upce_to_upca(&data[..7]).map_err(|e| enc_err(s, e.to_string()))?;
            let check = upca.as_bytes()[11] - b'0';
            let t = format!("{}{check}", &data[..7]);
            if data.len() == 8 && data != t {
                return Err(enc_err(s, format!("check digit should be {check}")));
            }
            (UPCEWriter.encode_oned_with_hints(&t, &hints), t)
        }
        Symbology::Code128 => {
            if data.is_empty() || data.len() > 80 || !data.bytes().all(|b| b.is_ascii()) {
                return Err(enc_err(s, "1-80 ASCII characters"));
            }
            (
                Code128Writer.encode_oned_with_hints(data, &hints),
                data.to_string(),
            )
        }
        Symbology::Code39 => {
            const SET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%";
            if data.is_empty() || data.len() > 80 || !data.chars().all(|c| SET.contains(c)) {
                return Err(enc_err(s, "1-80 characters of 0-9 A-Z - . space $ / + %"));
            }
            (
                Code39Writer.encode_oned_with_hints(data, &hints),
                data.to_string(),
            )
        }
        Symbology::Code93 => {
            if data.is_empty() || data.len() > 80 || !data.bytes().all(|b| b.is_ascii()) {
                return Err(enc_err(s, "1-80 ASCII characters"));
            }
            (
                Code93Writer.encode_oned_with_hints(data, &hints),
                data.to_string(),
            )
        }
        Symbology::Itf => {
            digits_only(s, data)?;
            if !matches!(data.len(), 6 | 8 | 10 | 12 | 14) {
                return Err(enc_err(s, "6, 8, 10, 12 or 14 digits"));
            }
            (
                ITFWriter.encode_oned_with_hints(data, &hints),
                data.to_string(),
            )
        }
        Symbology::Codabar => {
            let (inner, full) = codabar_parts(data).ok_or_else(|| {
                enc_err(
                    s,
                    "1-60 characters of 0-9 - $ : / . +, optionally framed by A-D",
                )
            })?;
            (CodaBarWriter.encode_oned_with_hints(&full, &hints), inner)
        }
        _ => unreachable!("encode_linear is only called for linear symbologies"),
    };
    let bars = bars.map_err(|e| enc_err(s, e.to_string()))?;
    let width = bars.len();
    Ok(Symbol {
        symbology: s,
        width,
        height: 1,
        modules: bars,
        text,
        ec_level: None,
        version: None,
        max_codeword_errors: None,
        mask: None,
    })
}

/// Splits Codabar input into (text a reader returns, text with start/stop).
fn codabar_parts(data: &str) -> Option<(String, String)> {
    const BODY: &str = "0123456789-$:/.+";
    let guard = |c: char| matches!(c.to_ascii_uppercase(), 'A'..='D');
    let chars: Vec<char> = data.chars().collect();
    let (inner, start, stop) = match (chars.first(), chars.last()) {
        (Some(&a), Some(&b)) if chars.len() >= 3 && guard(a) && guard(b) => (
            chars[1..chars.len() - 1].iter().collect::<String>(),
            a.to_ascii_uppercase(),
            b.to_ascii_uppercase(),
        ),
        _ => (data.to_string(), 'A', 'B'),
    };
    if inner.is_empty() || inner.len() > 60 || !inner.chars().all(|c| BODY.contains(c)) {
        return None;
    }
    Some((inner.clone(), format!("{start}{inner}{stop}")))
}

fn encode_2d(data: &str, s: Symbology, o: &EncodeOptions) -> Result<Symbol> {
    if data.is_empty() {
        return Err(enc_err(s, "empty payload"));
    }
    if data.len() > 3000 {
        return Err(enc_err(s, "payload over 3000 bytes"));
    }
    let mut hints = EncodeHints {
        Margin: Some("0".into()),
        ..EncodeHints::default()
    };
    match s {
        // PDF417 security level 0-8; map L/M/Q/H to 2/3/4/5.
        Symbology::Pdf417 => {
            let lvl = match o.ec_level {
                EcLevel::L => 2,
                EcLevel::M => 3,
                EcLevel::Q => 4,
                EcLevel::H => 5,
            };
            hints.ErrorCorrection = Some(lvl.to_string());
        }
        // Aztec: percentage of the symbol given to error correction.
        Symbology::Aztec => {
            let pct = match o.ec_level {
                EcLevel::L => 10,
                EcLevel::M => 23,
                EcLevel::Q => 36,
                EcLevel::H => 50,
            };
            hints.ErrorCorrection = Some(pct.to_string());
        }
        _ => {}
    }
    if !data.is_ascii() {
        hints.CharacterSet = Some("UTF-8".into());
    }
    let m = MultiFormatWriter
        .encode_with_hints(data, &s.to_rxing(), 0, 0, &hints)
        .map_err(|e| enc_err(s, e.to_string()))?;
    let (w, h) = (m.getWidth() as usize, m.getHeight() as usize);
    let mut modules = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            modules.push(m.get(x as u32, y as u32));
        }
    }
    Ok(Symbol {
        symbology: s,
        width: w,
        height: h,
        modules,
        text: data.to_string(),
        ec_level: None,
        version: None,
        max_codeword_errors: None,
        mask: None,
    })
}
