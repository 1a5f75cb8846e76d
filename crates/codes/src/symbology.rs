//! The symbologies this crate writes and reads.

use rxing::BarcodeFormat;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A barcode symbology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Symbology {
    /// QR Code (ISO/IEC 18004), versions 1-40.
    Qr,
    /// Micro QR Code, versions M1-M4.
    MicroQr,
    /// EAN-13 / GTIN-13.
    Ean13,
    /// EAN-8 / GTIN-8.
    Ean8,
    /// UPC-A / GTIN-12.
    UpcA,
    /// UPC-E (zero-suppressed GTIN-12).
    UpcE,
    /// Code 128 (and GS1-128 when the data starts with FNC1).
    Code128,
    /// Code 39.
    Code39,
    /// Code 93.
    Code93,
    /// Interleaved 2 of 5.
    Itf,
    /// Codabar.
    Codabar,
    /// Data Matrix ECC 200.
    DataMatrix,
    /// PDF417.
    Pdf417,
    /// Aztec Code.
    Aztec,
}

impl Symbology {
    /// Every symbology, in a stable order.
    pub const ALL: [Symbology; 14] = [
        Symbology::Qr,
        Symbology::MicroQr,
        Symbology::Ean13,
        Symbology::Ean8,
        Symbology::UpcA,
        Symbology::UpcE,
        Symbology::Code128,
        Symbology::Code39,
        Symbology::Code93,
        Symbology::Itf,
        Symbology::Codabar,
        Symbology::DataMatrix,
        Symbology::Pdf417,
        Symbology::Aztec,
    ];

    /// The short lowercase name (`qr`, `ean13`, `code128`, ...), as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Symbology::Qr => "qr",
            Symbology::MicroQr => "microqr",
            Symbology::Ean13 => "ean13",
            Symbology::Ean8 => "ean8",
            Symbology::UpcA => "upca",
            Symbology::UpcE => "upce",
            Symbology::Code128 => "code128",
            Symbology::Code39 => "code39",
            Symbology::Code93 => "code93",
            Symbology::Itf => "itf",
            Symbology::Codabar => "codabar",
            Symbology::DataMatrix => "datamatrix",
            Symbology::Pdf417 => "pdf417",
            Symbology::Aztec => "aztec",
        }
    }

    /// A linear (one-dimensional) symbology.
    pub fn is_linear(self) -> bool {
        matches!(
            self,
            Symbology::Ean13
                | Symbology::Ean8
                | Symbology::UpcA
                | Symbology::UpcE
                | Symbology::Code128
                | Symbology::Code39
                | Symbology::Code93
                | Symbology::Itf
                | Symbology::Codabar
        )
    }

    /// The quiet zone the specification asks for, in modules on each side.
    pub fn default_quiet_zone(self) -> u32 {
        match self {
            Symbology::Qr => 4,
            Symbology::MicroQr | Symbology::Pdf417 | Symbology::Aztec | Symbology::DataMatrix => 2,
            Symbology::Ean8 | Symbology::UpcE => 7,
            Symbology::Ean13 | Symbology::UpcA => 11,
            Symbology::Code128
            | Symbology::Code39
            | Symbology::Code93
            | Symbology::Itf
            | Symbology::Codabar => 10,
        }
    }

    pub(crate) fn to_rxing(self) -> BarcodeFormat {
        match self {
            Symbology::Qr => BarcodeFormat::QR_CODE,
            Symbology::MicroQr => BarcodeFormat::MICRO_QR_CODE,
            Symbology::Ean13 => BarcodeFormat::EAN_13,
            Symbology::Ean8 => BarcodeFormat::EAN_8,
            Symbology::UpcA => BarcodeFormat::UPC_A,
            Symbology::UpcE => BarcodeFormat::UPC_E,
            Symbology::Code128 => BarcodeFormat::CODE_128,
            Symbology::Code39 => BarcodeFormat::CODE_39,
            Symbology::Code93 => BarcodeFormat::CODE_93,
            Symbology::Itf => BarcodeFormat::ITF,
            Symbology::Codabar => BarcodeFormat::CODABAR,
            Symbology::DataMatrix => BarcodeFormat::DATA_MATRIX,
            Symbology::Pdf417 => BarcodeFormat::PDF_417,
            Symbology::Aztec => BarcodeFormat::AZTEC,
        }
    }

    pub(crate) fn from_rxing(f: BarcodeFormat) -> Option<Self> {
        Some(match f {
            BarcodeFormat::QR_CODE => Symbology::Qr,
            BarcodeFormat::MICRO_QR_CODE => Symbology::MicroQr,
            BarcodeFormat::EAN_13 => Symbology::Ean13,
            BarcodeFormat::EAN_8 => Symbology::Ean8,
            BarcodeFormat::UPC_A => Symbology::UpcA,
            BarcodeFormat::UPC_E => Symbology::UpcE,
            BarcodeFormat::CODE_128 => Symbology::Code128,
            BarcodeFormat::CODE_39 => Symbology::Code39,
            BarcodeFormat::CODE_93 => Symbology::Code93,
            BarcodeFormat::ITF => Symbology::Itf,
            BarcodeFormat::CODABAR => Symbology::Codabar,
            BarcodeFormat::DATA_MATRIX => Symbology::DataMatrix,
            BarcodeFormat::PDF_417 => Symbology::Pdf417,
            BarcodeFormat::AZTEC => Symbology::Aztec,
            _ => return None,
        })
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Symbology {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        let norm: String = s
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        let alias = match norm.as_str() {
            "qrcode" => "qr",
            "micro" | "microqrcode" => "microqr",
            "interleaved2of5" | "itf14" => "itf",
            "dm" | "datamatrixecc200" => "datamatrix",
            "pdf" => "pdf417",
            "gs1128" => "code128",
            other => other,
        };
        Symbology::ALL
            .into_iter()
            .find(|s| s.name() == alias)
            .ok_or_else(|| crate::Error::InvalidOption(format!("unknown symbology {s:?}")))
    }
}
