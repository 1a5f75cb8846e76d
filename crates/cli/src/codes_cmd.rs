//! `blocksmith codes ...`: generate barcodes and QR codes, decode images,
//! parse GS1 data, render campaigns.

use crate::files;
use crate::output::{CliError, Output};
use crate::progress;
use blocksmith_codes::batch::{self, Format, Template};
use blocksmith_codes::{
    Color, EcLevel, EncodeOptions, Logo, RenderOptions, ScanOptions, Symbology, encode, gs1,
    render, scan, verify,
};
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum CodesCmd {
    /// Encode TEXT as a barcode or QR code; writes FILE.svg or FILE.png, or
    /// prints it to the terminal without --out. Every output is decoded back.
    Encode {
        /// The payload.
        text: String,
        /// qr|microqr|ean13|ean8|upca|upce|code128|code39|code93|itf|codabar|datamatrix|pdf417|aztec
        #[arg(long, short = 's', default_value = "qr")]
        symbology: String,
        /// Output file (`-`: standard output, SVG unless `--format png`).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// Output format (default: from the extension of --out, else the terminal).
        #[arg(long, value_enum)]
        format: Option<EncodeFormat>,
        /// Error correction level (QR; Aztec and PDF417 map it to their scales).
        #[arg(long, value_enum, default_value_t = EcArg::M)]
        ec: EcArg,
        /// QR version (1-40, Micro QR 1-4).
        #[arg(long)]
        version: Option<u8>,
        /// QR mask pattern (0-7, Micro QR 0-3).
        #[arg(long)]
        mask: Option<u8>,
        /// Pixels per module.
        #[arg(long, default_value_t = 8)]
        scale: u32,
        /// Quiet zone in modules (default: the symbology's standard).
        #[arg(long)]
        quiet_zone: Option<u32>,
        /// Foreground colour, #rrggbb.
        #[arg(long, default_value = "#000000")]
        fg: String,
        /// Background colour, #rrggbb.
        #[arg(long, default_value = "#ffffff")]
        bg: String,
        /// A PNG logo for the centre of a QR code (`-`: standard input).
        #[arg(long)]
        logo: Option<PathBuf>,
        /// Logo width as a fraction of the code width.
        #[arg(long, default_value_t = 0.2)]
        logo_ratio: f32,
    },
    /// Decode every code in each image (PNG or JPEG).
    Decode {
        /// Image files (`-`: one from standard input).
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Only these symbologies (comma separated).
        #[arg(long, value_delimiter = ',')]
        symbology: Vec<String>,
    },
    /// Parse a GS1 element string, bracketed string or Digital Link URL.
    Gs1 {
        /// The data (FNC1 as the GS character, or `(01)...`, or `https://...`).
        text: String,
    },
    /// Render a campaign: one code per id from a template with `{id}`.
    Batch {
        /// The payload template, e.g. `https://example.com/c/{id}`.
        template: String,
        /// Output directory (files `<id>.<ext>` and `manifest.json`).
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Number of ids (`<prefix>000001`...).
        #[arg(long, default_value_t = 10)]
        count: usize,
        /// Id prefix.
        #[arg(long, default_value = "c")]
        prefix: String,
        /// Symbology.
        #[arg(long, short = 's', default_value = "qr")]
        symbology: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Png)]
        format: FormatArg,
        /// Pixels per module.
        #[arg(long, default_value_t = 4)]
        scale: u32,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum EcArg {
    L,
    M,
    Q,
    H,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EncodeFormat {
    /// Block characters on the terminal.
    Terminal,
    Svg,
    Png,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum FormatArg {
    Png,
    Svg,
}

impl From<blocksmith_codes::Error> for CliError {
    fn from(e: blocksmith_codes::Error) -> Self {
        use blocksmith_codes::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::Io(e) => CliError::Internal(crate::output::report(&e)),
            E::Verify(_) => CliError::Verify(crate::output::report(&e)),
            E::DecoderPanic(_) => CliError::Internal(crate::output::report(&e)),
            _ => CliError::BadInput(crate::output::report(&e)),
        }
    }
}

fn symbology(s: &str) -> Result<Symbology, CliError> {
    s.parse::<Symbology>().map_err(CliError::from)
}

pub(crate) fn run(cmd: CodesCmd, _store_dir: &Path, out: &Output) -> Result<(), CliError> {
    match cmd {
        CodesCmd::Encode {
            text,
            symbology: sym,
            out: file,
            format,
            ec,
            version,
            mask,
            scale,
            quiet_zone,
            fg,
            bg,
            logo,
            logo_ratio,
        } => {
            let mut eo = EncodeOptions::new(symbology(&sym)?).with_ec_level(match ec {
                EcArg::L => EcLevel::L,
                EcArg::M => EcLevel::M,
                EcArg::Q => EcLevel::Q,
                EcArg::H => EcLevel::H,
            });
            if let Some(v) = version {
                eo = eo.with_version(v);
            }
            if let Some(m) = mask {
                eo = eo.with_mask(m);
            }
            let symbol = encode(&text, &eo)?;
            let mut ro = RenderOptions::new()
                .with_scale(scale)
                .with_colors(Color::parse(&fg)?, Color::parse(&bg)?);
            if let Some(q) = quiet_zone {
                ro = ro.with_quiet_zone(q);
            }
            if let Some(path) = &logo {
                let bytes = files::read(path)?;
                ro = ro.with_logo(Logo::from_bytes(&bytes, logo_ratio)?);
            }
            let detection = verify(&symbol, &ro)?;
            let format = match (format, &file) {
                (Some(f), _) => f,
                (None, None) => EncodeFormat::Terminal,
                (None, Some(p)) if files::is_std(p) => EncodeFormat::Svg,
                (None, Some(p)) => {
                    match p
                        .extension()
                        .and_then(|e| e.to_str())
                        .map(str::to_ascii_lowercase)
                        .as_deref()
                    {
                        Some("svg") => EncodeFormat::Svg,
                        Some("png") => EncodeFormat::Png,
                        _ => {
                            return Err(CliError::BadInput(format!(
                                "{}: the output must end in .svg or .png (or give --format)",
                                p.display()
                            )));
                        }
                    }
                }
            };
            let bytes = match format {
                EncodeFormat::Terminal => None,
                EncodeFormat::Svg => Some(render::to_svg(&symbol, &ro)?.into_bytes()),
                EncodeFormat::Png => Some(render::to_png(&symbol, &ro)?),
            };
            let file = file.filter(|_| bytes.is_some());
            let written = match (&file, &bytes) {
                (Some(path), Some(bytes)) => {
                    files::write(path, bytes)?;
                    Some(bytes.len())
                }
                (None, Some(bytes)) => {
                    // `--format svg|png` without --out: the image on stdout.
                    files::write(Path::new("-"), bytes)?;
                    return Ok(());
                }
                _ => None,
            };
            // The image went to stdout: a summary would corrupt it.
            if file.as_deref().is_some_and(files::is_std) {
                return Ok(());
            }
            let value = json!({
                "symbology": symbol.symbology.name(),
                "text": symbol.text,
                "width": symbol.width,
                "height": symbol.height,
                "version": symbol.version,
                "ec_level": symbol.ec_level.map(EcLevel::as_str),
                "mask": symbol.mask,
                "out": file.as_ref().map(|p| p.display().to_string()),
                "bytes": written,
                "verified": detection.text == symbol.text,
            });
            out.emit(&value, || match &file {
                Some(p) => format!(
                    "{} {}x{} modules -> {} ({} bytes, verified)",
                    symbol.symbology,
                    symbol.width,
                    symbol.height,
                    p.display(),
                    written.unwrap_or(0)
                ),
                None => render::to_terminal(&symbol, None, false),
            });
            Ok(())
        }
        CodesCmd::Decode {
            images,
            symbology: syms,
        } => {
            let mut opts = ScanOptions::new();
            if !syms.is_empty() {
                let list = syms
                    .iter()
                    .map(|s| symbology(s))
                    .collect::<Result<Vec<_>, _>>()?;
                opts = opts.with_symbologies(list);
            }
            files::one_stdin(images.iter().map(PathBuf::as_path))?;
            let mut rows = Vec::new();
            let mut failed = 0;
            let bar = progress::count(images.len() as u64, "images", out);
            for path in &images {
                let result = files::read(path)
                    .and_then(|b| scan::scan_bytes(&b, &opts).map_err(CliError::from));
                bar.inc(1);
                match result {
                    Ok(report) => rows.push(json!({
                        "file": files::name(path),
                        "width": report.width,
                        "height": report.height,
                        "elapsed_ms": report.elapsed.as_secs_f64() * 1000.0,
                        "codes": report.codes.iter().map(|d| json!({
                            "symbology": d.symbology.name(),
                            "text": d.text,
                            "corners": d.corners.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                            "points": d.points.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                            "ec_level": d.ec_level,
                        })).collect::<Vec<_>>(),
                    })),
                    Err(e) => {
                        failed += 1;
                        rows.push(json!({"file": files::name(path), "error": e.to_string()}));
                    }
                }
            }
            bar.finish_and_clear();
            let value = serde_json::Value::Array(rows);
            out.emit(&value, || {
                let mut s = String::new();
                for r in value.as_array().into_iter().flatten() {
                    let file = r["file"].as_str().unwrap_or("");
                    if let Some(e) = r["error"].as_str() {
                        let _ = writeln!(s, "{file}: error: {e}");
                        continue;
                    }
                    let codes = r["codes"].as_array().cloned().unwrap_or_default();
                    if codes.is_empty() {
                        let _ = writeln!(s, "{file}: no code found");
                    }
                    for c in codes {
                        let _ = writeln!(
                            s,
                            "{file}: {} {}",
                            c["symbology"].as_str().unwrap_or(""),
                            c["text"].as_str().unwrap_or("")
                        );
                    }
                }
                s.trim_end().to_string()
            });
            if failed > 0 {
                return Err(CliError::BadInput(format!(
                    "{failed} of {} images could not be read",
                    images.len()
                )));
            }
            Ok(())
        }
        CodesCmd::Gs1 { text } => {
            let msg = if text.starts_with("http://") || text.starts_with("https://") {
                gs1::parse_digital_link(&text)?
            } else {
                gs1::parse(&text)?
            };
            let value = json!({
                "elements": msg.elements.iter().map(|e| json!({
                    "ai": e.ai, "value": e.value, "title": gs1::ai_title(&e.ai),
                })).collect::<Vec<_>>(),
                "gtin": msg.gtin().map(|g| g.to_string()),
                "bracketed": msg.to_bracketed(),
            });
            out.emit(&value, || {
                msg.elements
                    .iter()
                    .map(|e| {
                        format!(
                            "({}) {} = {}",
                            e.ai,
                            gs1::ai_title(&e.ai).unwrap_or("?"),
                            e.value
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        CodesCmd::Batch {
            template,
            out: dir,
            count,
            prefix,
            symbology: sym,
            format,
            scale,
        } => {
            if count == 0 || count > 100_000 {
                return Err(CliError::BadInput("--count must be 1..=100000".into()));
            }
            let t = Template::new(template)
                .with_encode(EncodeOptions::new(symbology(&sym)?))
                .with_render(RenderOptions::new().with_scale(scale))
                .with_format(match format {
                    FormatArg::Png => Format::Png,
                    FormatArg::Svg => Format::Svg,
                });
            let ids: Vec<String> = (1..=count).map(|i| format!("{prefix}{i:06}")).collect();
            // In slices, so a bar can count the codes; each slice renders in parallel.
            let bar = progress::count(ids.len() as u64, "codes", out);
            let mut items = Vec::with_capacity(ids.len());
            let mut manifest = batch::Manifest::default();
            for part in ids.chunks(64) {
                let (mut done, m) = batch::render_batch(&t, part)?;
                bar.inc(done.len() as u64);
                items.append(&mut done);
                let entries = std::mem::take(&mut manifest.entries);
                manifest = batch::Manifest {
                    entries: entries.into_iter().chain(m.entries).collect(),
                    ..m
                };
            }
            bar.finish_and_clear();
            batch::write_dir(&dir, &items, &manifest)?;
            let value = json!({
                "out": dir.display().to_string(),
                "count": items.len(),
                "verified": items.iter().filter(|i| i.verified).count(),
                "bytes": items.iter().map(|i| i.bytes.len()).sum::<usize>(),
                "manifest": dir.join("manifest.json").display().to_string(),
            });
            out.emit(&value, || {
                format!(
                    "{} codes written to {} (all verified), manifest.json beside them",
                    items.len(),
                    dir.display()
                )
            });
            Ok(())
        }
    }
}
