//! The glyph classifier: a small multi-layer perceptron, its compact binary format and calibration.
//!
//! File format (little endian), version 1:
//! ```text
//! magic  b"BSOCRMLP"            8 bytes
//! version u16 = 1
//! n_classes u16, then n_classes x u32 (Unicode scalar; U+0000 = the "not a glyph" class)
//! temperature f32, platt_a f32, platt_b f32      (calibration)
//! n_layers u16, then per layer:
//!    in u16, out u16, out x f32 row scales, out x f32 biases, in*out x i8 weights (row-major)
//! crc32 (IEEE) of all preceding bytes, u32
//! ```

use super::segment::FEATURES;

/// Magic bytes at the start of a model file.
pub const MAGIC: &[u8; 8] = b"BSOCRMLP";
/// The format version this build reads and writes.
pub const VERSION: u16 = 1;
/// Class code of the "not a glyph" (junk) class.
pub const JUNK: char = '\0';

/// Errors decoding a model file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The bytes end before the structure does.
    #[error("model truncated: needed {needed} bytes at offset {offset}")]
    Truncated {
        /// Offset where reading failed.
        offset: usize,
        /// Bytes needed there.
        needed: usize,
    },
    /// Not a model file.
    #[error("bad magic bytes")]
    BadMagic,
    /// A version this build cannot read.
    #[error("unsupported model version {0}")]
    UnsupportedVersion(u16),
    /// The checksum does not match the contents.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// Stored CRC.
        stored: u32,
        /// Computed CRC.
        computed: u32,
    },
    /// Structurally invalid content.
    #[error("malformed model: {0}")]
    Malformed(&'static str),
}

/// One dense layer, `out x in` weights, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Input width.
    pub inp: usize,
    /// Output width.
    pub out: usize,
    /// Weights, `out * inp`.
    pub w: Vec<f32>,
    /// Biases, `out`.
    pub b: Vec<f32>,
}

impl Layer {
    /// A layer with small deterministic pseudo-random weights (He init).
    pub fn init(inp: usize, out: usize, rng: &mut super::degrade::Rng) -> Self {
        let sd = (2.0 / inp as f32).sqrt();
        let w = (0..inp * out).map(|_| rng.normal() * sd).collect();
        Self {
            inp,
            out,
            w,
            b: vec![0.0; out],
        }
    }

    fn forward(&self, x: &[f32], y: &mut Vec<f32>, relu: bool) {
        y.clear();
        for o in 0..self.out {
            let row = &self.w[o * self.inp..(o + 1) * self.inp];
            let mut acc = [0f32; 8];
            let chunks = row.chunks_exact(8).zip(x.chunks_exact(8));
            for (r, xv) in chunks {
                for k in 0..8 {
                    acc[k] += r[k] * xv[k];
                }
            }
            let tail = self.inp - self.inp % 8;
            let mut s: f32 = acc.iter().sum::<f32>() + self.b[o];
            for k in tail..self.inp {
                s += row[k] * x[k];
            }
            y.push(if relu { s.max(0.0) } else { s });
        }
    }
}

/// The classifier and its calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Class characters; [`JUNK`] marks the "not a glyph" class.
    pub classes: Vec<char>,
    /// Layers; ReLU between them, softmax at the end.
    pub layers: Vec<Layer>,
    /// Softmax temperature fitted on held-out renders (character calibration).
    pub temperature: f32,
    /// Platt scaling of word confidence: `sigmoid(a * sum(ln p_char) + b)`.
    pub platt_a: f32,
    /// See [`Model::platt_a`].
    pub platt_b: f32,
}

/// Reusable buffers for [`Model::predict`].
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Model {
    /// A fresh untrained model with the given hidden widths.
    pub fn new(classes: Vec<char>, hidden: &[usize], seed: u64) -> Self {
        let mut rng = super::degrade::Rng::new(seed);
        let mut dims = vec![FEATURES];
        dims.extend_from_slice(hidden);
        dims.push(classes.len());
        let layers = dims
            .windows(2)
            .map(|d| Layer::init(d[0], d[1], &mut rng))
            .collect();
        Self {
            classes,
            layers,
            temperature: 1.0,
            platt_a: 1.0,
            platt_b: 0.0,
        }
    }

    /// Raw logits for one feature vector (written into `s.a`).
    pub fn logits<'s>(&self, x: &[f32], s: &'s mut Scratch) -> &'s [f32] {
        s.a.clear();
        s.a.extend_from_slice(x);
        let n = self.layers.len();
        for (i, l) in self.layers.iter().enumerate() {
            l.forward(&s.a, &mut s.b, i + 1 < n);
            std::mem::swap(&mut s.a, &mut s.b);
        }
        &s.a
    }

    /// Calibrated class probabilities (softmax of logits / temperature), written into `probs`.
    pub fn predict(&self, x: &[f32], s: &mut Scratch, probs: &mut Vec<f32>) {
        let t = if self.temperature.is_finite() && self.temperature > 0.01 {
            self.temperature
        } else {
            1.0
        };
        let logits = self.logits(x, s);
        softmax_into(logits, t, probs);
    }

    /// Word confidence from the natural logs of its character probabilities.
    pub fn word_confidence(&self, sum_ln_p: f32) -> f32 {
        let z = self.platt_a * sum_ln_p + self.platt_b;
        let v = 1.0 / (1.0 + (-z).exp());
        if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Encode to the compact binary format (weights quantised to i8 per output row).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Vec::new();
        o.extend_from_slice(MAGIC);
        o.extend_from_slice(&VERSION.to_le_bytes());
        o.extend_from_slice(&(self.classes.len() as u16).to_le_bytes());
        for &c in &self.classes {
            o.extend_from_slice(&u32::from(c).to_le_bytes());
        }
        for v in [self.temperature, self.platt_a, self.platt_b] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        o.extend_from_slice(&(self.layers.len() as u16).to_le_bytes());
        for l in &self.layers {
            o.extend_from_slice(&(l.inp as u16).to_le_bytes());
            o.extend_from_slice(&(l.out as u16).to_le_bytes());
            let mut q = Vec::with_capacity(l.w.len());
            let mut scales = Vec::with_capacity(l.out);
            for r in 0..l.out {
                let row = &l.w[r * l.inp..(r + 1) * l.inp];
                let m = row.iter().fold(0f32, |a, v| a.max(v.abs()));
                let sc = if m > 0.0 { m / 127.0 } else { 1.0 };
                scales.push(sc);
                q.extend(
                    row.iter()
                        .map(|v| (v / sc).round().clamp(-127.0, 127.0) as i8),
                );
            }
            for s in scales {
                o.extend_from_slice(&s.to_le_bytes());
            }
            for b in &l.b {
                o.extend_from_slice(&b.to_le_bytes());
            }
            o.extend(q.iter().map(|&v| v as u8));
        }
        let crc = crc32fast::hash(&o);
        o.extend_from_slice(&crc.to_le_bytes());
        o
    }

    /// Decode the binary format; damaged bytes give a typed error, never a panic.
    ///
    /// # Errors
    /// [`ModelError::Truncated`] if the bytes end before the structure does;
    /// [`ModelError::BadMagic`] if they are not a model file;
    /// [`ModelError::UnsupportedVersion`] for another format version;
    /// [`ModelError::Checksum`] if the CRC-32 does not match;
    /// [`ModelError::Malformed`] if the content is structurally invalid (fewer
    /// than two classes, layers that do not chain, non-finite parameters,
    /// trailing bytes, ...).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() < MAGIC.len() + 2 + 4 {
            return Err(ModelError::Truncated {
                offset: 0,
                needed: MAGIC.len() + 6,
            });
        }
        if &bytes[..8] != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            return Err(ModelError::UnsupportedVersion(version));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(ModelError::Checksum { stored, computed });
        }
        let mut r = Reader { b: body, pos: 10 };
        let nc = r.u16()? as usize;
        if nc < 2 {
            return Err(ModelError::Malformed("fewer than two classes"));
        }
        let mut classes = Vec::with_capacity(nc);
        for _ in 0..nc {
            classes.push(
                char::from_u32(r.u32()?)
                    .ok_or(ModelError::Malformed("class is not a Unicode scalar"))?,
            );
        }
        let temperature = r.f32()?;
        let platt_a = r.f32()?;
        let platt_b = r.f32()?;
        if !(temperature.is_finite()
            && temperature > 0.0
            && platt_a.is_finite()
            && platt_b.is_finite())
        {
            return Err(ModelError::Malformed("calibration parameters out of range"));
        }
        let nl = r.u16()? as usize;
        if nl == 0 || nl > 8 {
            return Err(ModelError::Malformed("layer count must be 1..=8"));
        }
        let mut layers = Vec::with_capacity(nl);
        let mut expect_in = FEATURES;
        for _ in 0..nl {
            let inp = r.u16()? as usize;
            let out = r.u16()? as usize;
            if inp != expect_in || out == 0 {
                return Err(ModelError::Malformed("layer dimensions do not chain"));
            }
            let scales: Vec<f32> = (0..out).map(|_| r.f32()).collect::<Result<_, _>>()?;
            let b: Vec<f32> = (0..out).map(|_| r.f32()).collect::<Result<_, _>>()?;
            if scales.iter().chain(&b).any(|v| !v.is_finite()) {
                return Err(ModelError::Malformed("non-finite parameter"));
            }
            let q = r.take(inp * out)?;
            let w = q
                .chunks_exact(inp)
                .zip(&scales)
                .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v as i8) * s))
                .collect();
            layers.push(Layer { inp, out, w, b });
            expect_in = out;
        }
        if expect_in != nc {
            return Err(ModelError::Malformed(
                "last layer width differs from class count",
            ));
        }
        if r.pos != body.len() {
            return Err(ModelError::Malformed("trailing bytes"));
        }
        Ok(Self {
            classes,
            layers,
            temperature,
            platt_a,
            platt_b,
        })
    }
}

/// Softmax of `logits / t` into `out`.
pub fn softmax_into(logits: &[f32], t: f32, out: &mut Vec<f32>) {
    out.clear();
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
    let mut sum = 0.0;
    for &v in logits {
        let e = ((v - m) / t).exp();
        sum += e;
        out.push(e);
    }
    if sum > 0.0 && sum.is_finite() {
        for v in out.iter_mut() {
            *v /= sum;
        }
    } else {
        let n = out.len().max(1) as f32;
        out.fill(1.0 / n);
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(ModelError::Truncated {
                offset: self.pos,
                needed: n,
            })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, ModelError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_bits(self.u32()?))
    }
}
