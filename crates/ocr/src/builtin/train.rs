//! Training: synthetic, augmented line renders -> labelled candidate glyphs -> MLP trained with Adam
//! -> temperature and Platt calibration. No I/O: callers hand in fonts and get a [`Model`] back.

use image::GrayImage;

use super::degrade::{self, Rng};
use super::model::{JUNK, Model, softmax_into};
use super::render::{Font, RenderOptions, RenderedLine, render_line};
use super::segment::{self, FEATURES, MAX_MERGE, Piece};
use super::{BuiltinRecognizer, harness};
use crate::recognize::{LineImage, Recognizer};

/// The character classes the built-in model recognises (plus [`JUNK`]).
pub const CHARSET: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-/&%$@#*+=[]";

/// All classes, junk first.
pub fn classes() -> Vec<char> {
    std::iter::once(JUNK).chain(CHARSET.chars()).collect()
}

/// A labelled training set: flat features and class indices.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// `len * FEATURES` values.
    pub x: Vec<f32>,
    /// Class index per sample.
    pub y: Vec<u16>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    fn push(&mut self, f: &[f32; FEATURES], y: u16) {
        self.x.extend_from_slice(f);
        self.y.push(y);
    }
    /// Append another set.
    pub fn extend(&mut self, o: Dataset) {
        self.x.extend(o.x);
        self.y.extend(o.y);
    }
}

const LETTERS: &str = "eeeeeeeeeeeetttttttttaaaaaaaaoooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrddddllllcccuuummwwffggyyppbbvkjxqz";

/// Random training text: English-like words, capitals, numbers, punctuation and uniform class draws.
pub fn random_text(rng: &mut Rng, words: usize) -> String {
    let all: Vec<char> = CHARSET.chars().collect();
    let letters: Vec<char> = LETTERS.chars().collect();
    let mut out = Vec::new();
    for _ in 0..words {
        let r = rng.f32();
        let mut w: String = if r < 0.12 {
            (0..=rng.below(5))
                .map(|_| all[rng.below(all.len())])
                .collect()
        } else if r < 0.22 {
            let mut s: String = (0..=rng.below(5))
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            if rng.f32() < 0.4 {
                s.push(['.', ',', ':', '/', '-', '%'][rng.below(6)]);
                s.extend((0..=rng.below(3)).map(|_| char::from(b'0' + rng.below(10) as u8)));
            }
            s
        } else if r < 0.27 {
            ["-", "&", "/", "+", "=", "*", "#", "@", "$", "%"][rng.below(10)].to_string()
        } else {
            let len = 1 + rng.below(9);
            let mut s: String = (0..len)
                .map(|_| letters[rng.below(letters.len())])
                .collect();
            let c = rng.f32();
            if c < 0.2 {
                let mut it = s.chars();
                s = it
                    .next()
                    .map(|f| f.to_ascii_uppercase().to_string() + it.as_str())
                    .unwrap_or_default();
            } else if c < 0.26 {
                s = s.to_ascii_uppercase();
            }
            s
        };
        let p = rng.f32();
        if p < 0.25 {
            w.push([',', '.', ';', ':', '!', '?', ')', '"', '\'', ']'][rng.below(10)]);
        } else if p < 0.32 {
            w.insert(0, ['(', '"', '\'', '['][rng.below(4)]);
        } else if p < 0.36 {
            let mid = rng.below(w.len().max(1));
            if w.is_char_boundary(mid) {
                w.insert(mid, ['\'', '-', '/'][rng.below(3)]);
            }
        }
        out.push(w);
    }
    out.join(" ")
}

/// Augmentation applied to a rendered line.
#[derive(Clone, Copy, Debug)]
pub struct Augment {
    /// Blur sigma in pixels.
    pub blur: f32,
    /// Noise sigma in gray levels.
    pub noise: f32,
    /// Ink gray level.
    pub ink: u8,
    /// Paper gray level.
    pub paper: u8,
    /// Stroke thickness change (-1..1).
    pub thickness: f32,
    /// Offset added to the Otsu threshold.
    pub threshold_shift: i32,
}

impl Augment {
    /// A random augmentation.
    pub fn random(rng: &mut Rng) -> Self {
        let heavy = rng.f32() < 0.5;
        Self {
            blur: if heavy {
                rng.range(0.0, 1.5)
            } else {
                rng.range(0.0, 0.6)
            },
            noise: if rng.f32() < 0.4 {
                rng.range(0.0, 40.0)
            } else {
                0.0
            },
            ink: if rng.f32() < 0.3 {
                rng.range(0.0, 120.0) as u8
            } else {
                0
            },
            paper: if rng.f32() < 0.3 {
                rng.range(170.0, 255.0) as u8
            } else {
                255
            },
            thickness: if rng.f32() < 0.35 {
                rng.range(-0.8, 0.8)
            } else {
                0.0
            },
            threshold_shift: (rng.normal() * 18.0) as i32,
        }
    }

    /// Apply to a gray image; returns (gray, binary).
    pub fn apply(&self, img: &GrayImage, rng: &mut Rng) -> (GrayImage, GrayImage) {
        let mut g = if self.thickness.abs() > 0.05 {
            degrade::thickness(img, self.thickness)
        } else {
            img.clone()
        };
        g = degrade::blur(&g, self.blur);
        g = degrade::contrast(&g, self.ink, self.paper);
        if self.noise > 0.5 {
            g = degrade::noise(&g, self.noise, rng);
            if self.noise > 15.0 {
                g = degrade::blur(&g, 0.7);
            }
        }
        let th = degrade::otsu(&g);
        let lo = i32::from(self.ink) + 10;
        let hi = i32::from(self.paper) - 10;
        let t = (i32::from(th) + self.threshold_shift)
            .clamp(lo.min(hi), hi.max(lo))
            .clamp(1, 254) as u8;
        let b = degrade::binarize(&g, t);
        (g, b)
    }
}

/// Random render options for training: 7.5-17 pt at 300 DPI with scale jitter and slight shear.
pub fn random_render(rng: &mut Rng) -> RenderOptions {
    let dpi = if rng.f32() < 0.7 {
        300.0
    } else {
        rng.range(220.0, 400.0)
    };
    RenderOptions::default()
        .with_pt(rng.range(7.5, 17.0))
        .with_dpi(dpi)
        .with_shear(if rng.f32() < 0.15 {
            rng.range(-0.12, 0.12)
        } else {
            0.0
        })
}

enum Label {
    Glyph(usize),
    Junk,
    Speck,
}

fn label(cand: &Piece, line: &RenderedLine, ink: &[u32], width: u32) -> Label {
    let mut counts: Vec<(u16, u32)> = Vec::new();
    let mut labelled = 0u32;
    for &(x, y) in &cand.pixels {
        let o = line.owner[(y * width + x) as usize];
        if o == 0 {
            continue;
        }
        labelled += 1;
        match counts.iter_mut().find(|c| c.0 == o) {
            Some(c) => c.1 += 1,
            None => counts.push((o, 1)),
        }
    }
    let Some(&(g, c)) = counts.iter().max_by_key(|c| c.1) else {
        // Pure noise speck: no glyph pixel at all.
        return Label::Speck;
    };
    let total = ink[g as usize];
    if c * 100 >= labelled * 88 && c * 100 >= total * 82 {
        Label::Glyph(g as usize - 1)
    } else {
        Label::Junk
    }
}

/// Labelled candidate glyphs from one rendered and augmented line, generated the way the recognizer
/// builds its candidates (blobs, over-segmented pieces, merges of consecutive primitives).
pub fn samples_from_line(
    line: &RenderedLine,
    binary: &GrayImage,
    rng: &mut Rng,
    jitter: bool,
    out: &mut Dataset,
) {
    let classes = classes();
    let width = binary.width();
    // Ink pixels per glyph that survived binarisation.
    let mut ink = vec![0u32; line.glyphs.len() + 1];
    for (i, &o) in line.owner.iter().enumerate() {
        if o != 0 && binary.as_raw()[i] < 128 {
            ink[o as usize] += 1;
        }
    }
    let (xh_j, bl_j) = if jitter {
        (rng.range(-0.06, 0.06), rng.range(-0.08, 0.08))
    } else {
        (0.0, 0.0)
    };
    let xh_est = line.x_height * (1.0 + xh_j);
    let bl_est = line.baseline + bl_j * line.x_height;
    let min_area = segment::min_area(xh_est);
    let words: Vec<Vec<Piece>> = line
        .words
        .iter()
        .map(|r| {
            let r = crate::recognize::Rect {
                x: r.x.saturating_sub(2),
                y: 0,
                w: r.w + 4,
                h: binary.height(),
            };
            segment::stack_merge(segment::components(binary, r, min_area))
        })
        .collect();
    let all: Vec<Piece> = words.iter().flatten().cloned().collect();
    let (xh, bl) = segment::refine_metrics(&all, xh_est, bl_est);
    let mut f = [0f32; FEATURES];
    let mut add = |p: &Piece, out: &mut Dataset, rng: &mut Rng| {
        let lab = label(p, line, &ink, width);
        let y = match lab {
            Label::Glyph(g) => {
                let ch = line.glyphs[g].ch;
                let Some(k) = classes.iter().position(|&c| c == ch) else {
                    return;
                };
                k
            }
            // Noise specks are removed by the area filter at recognition; teaching them as junk
            // would make real periods look like junk.
            Label::Speck => return,
            Label::Junk => {
                if rng.f32() > 0.35 {
                    return;
                }
                0
            }
        };
        segment::features(p, xh, bl, &mut f);
        out.push(&f, y as u16);
    };
    for blobs in &words {
        let mut prims: Vec<Piece> = Vec::new();
        for b in blobs {
            add(b, out, rng);
            let parts = segment::oversegment(b, xh);
            if parts.len() > 1 {
                for i in 0..parts.len() {
                    for j in i + 1..=(i + MAX_MERGE).min(parts.len()) {
                        if j - i == parts.len() {
                            continue;
                        }
                        add(&Piece::merged(&parts[i..j]), out, rng);
                    }
                }
            }
            prims.push(b.clone());
        }
        for i in 0..prims.len() {
            for j in i + 2..=(i + MAX_MERGE).min(prims.len()) {
                let x0 = prims[i].x0;
                let x1 = prims[i..j].iter().map(|p| p.x1).max().unwrap_or(0);
                if (x1 - x0) as f32 <= 2.3 * xh {
                    add(&Piece::merged(&prims[i..j]), out, rng);
                }
            }
        }
    }
}

/// A random line of 4-9 words in one of `fonts` (not empty), rendered with random options.
fn random_line(fonts: &[Font], rng: &mut Rng) -> (String, RenderedLine) {
    let font = &fonts[rng.below(fonts.len())];
    let nw = 4 + rng.below(6);
    let text = random_text(rng, nw);
    let line = render_line(font, &text, &random_render(rng));
    (text, line)
}

/// Generate a training set from `lines` random lines over `fonts`.
pub fn generate(fonts: &[Font], lines: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut ds = Dataset::default();
    if fonts.is_empty() {
        return ds;
    }
    for _ in 0..lines {
        let (_, line) = random_line(fonts, &mut rng);
        let aug = Augment::random(&mut rng);
        let (_, bin) = aug.apply(&line.image, &mut rng);
        samples_from_line(&line, &bin, &mut rng, true, &mut ds);
    }
    ds
}

/// Training settings.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct TrainOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Adam learning rate at the start (cosine-decayed).
    pub lr: f32,
    /// Worker threads for gradient computation.
    pub threads: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 8,
            batch: 128,
            lr: 2e-3,
            threads: 2,
            seed: 7,
        }
    }
}

impl TrainOptions {
    /// Set epochs.
    #[must_use]
    pub fn with_epochs(mut self, e: usize) -> Self {
        self.epochs = e;
        self
    }
    /// Set threads.
    #[must_use]
    pub fn with_threads(mut self, t: usize) -> Self {
        self.threads = t.max(1);
        self
    }
}

struct Grads {
    w: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
    loss: f64,
}

impl Grads {
    fn zeros(m: &Model) -> Self {
        Self {
            w: m.layers.iter().map(|l| vec![0.0; l.w.len()]).collect(),
            b: m.layers.iter().map(|l| vec![0.0; l.b.len()]).collect(),
            loss: 0.0,
        }
    }
}

fn grad_batch(m: &Model, ds: &Dataset, idx: &[usize]) -> Grads {
    let mut g = Grads::zeros(m);
    let nl = m.layers.len();
    let mut acts: Vec<Vec<f32>> = vec![Vec::new(); nl + 1];
    let mut probs = Vec::new();
    for &i in idx {
        acts[0].clear();
        acts[0].extend_from_slice(&ds.x[i * FEATURES..(i + 1) * FEATURES]);
        for (k, l) in m.layers.iter().enumerate() {
            let (inp, rest) = acts.split_at_mut(k + 1);
            let x = &inp[k];
            let y = &mut rest[0];
            y.clear();
            for o in 0..l.out {
                let row = &l.w[o * l.inp..(o + 1) * l.inp];
                let s: f32 = row.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + l.b[o];
                y.push(if k + 1 < nl { s.max(0.0) } else { s });
            }
        }
        softmax_into(&acts[nl], 1.0, &mut probs);
        let t = ds.y[i] as usize;
        g.loss -= f64::from(probs[t].max(1e-9).ln());
        let mut delta: Vec<f32> = probs.clone();
        delta[t] -= 1.0;
        for k in (0..nl).rev() {
            let l = &m.layers[k];
            let x = &acts[k];
            let gw = &mut g.w[k];
            for (o, &d) in delta.iter().enumerate() {
                if d == 0.0 {
                    continue;
                }
                g.b[k][o] += d;
                let row = &mut gw[o * l.inp..(o + 1) * l.inp];
                for (r, &xv) in row.iter_mut().zip(x) {
                    *r += d * xv;
                }
            }
            if k > 0 {
                let mut nd = vec![0f32; l.inp];
                for (o, &d) in delta.iter().enumerate() {
                    if d == 0.0 {
                        continue;
                    }
                    let row = &l.w[o * l.inp..(o + 1) * l.inp];
                    for (n, &w) in nd.iter_mut().zip(row) {
                        *n += d * w;
                    }
                }
                for (n, &a) in nd.iter_mut().zip(&acts[k]) {
                    if a <= 0.0 {
                        *n = 0.0;
                    }
                }
                delta = nd;
            }
        }
    }
    g
}

/// Train `model` on `ds` with Adam; calls `progress(epoch, mean_loss)` after each epoch.
pub fn train(
    model: &mut Model,
    ds: &Dataset,
    opts: &TrainOptions,
    mut progress: impl FnMut(usize, f64),
) {
    let n = ds.len();
    if n == 0 {
        return;
    }
    let mut rng = Rng::new(opts.seed);
    let mut mw: Vec<Vec<f32>> = model.layers.iter().map(|l| vec![0.0; l.w.len()]).collect();
    let mut vw = mw.clone();
    let mut mb: Vec<Vec<f32>> = model.layers.iter().map(|l| vec![0.0; l.b.len()]).collect();
    let mut vb = mb.clone();
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut step = 0i32;
    let total_steps = (opts.epochs * n.div_ceil(opts.batch)).max(1);
    let mut order: Vec<usize> = (0..n).collect();
    for epoch in 0..opts.epochs {
        for i in (1..n).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut loss = 0f64;
        for batch in order.chunks(opts.batch) {
            let parts: Vec<&[usize]> = batch.chunks(batch.len().div_ceil(opts.threads)).collect();
            let grads: Vec<Grads> = if parts.len() == 1 {
                vec![grad_batch(model, ds, parts[0])]
            } else {
                std::thread::scope(|s| {
                    let hs: Vec<_> = parts
                        .iter()
                        .map(|p| s.spawn(|| grad_batch(model, ds, p)))
                        .collect();
                    hs.into_iter()
                        .map(|h| h.join().unwrap_or_else(|_| Grads::zeros(model)))
                        .collect()
                })
            };
            step += 1;
            let progress_frac = step as f32 / total_steps as f32;
            let lr = opts.lr * 0.5 * (1.0 + (std::f32::consts::PI * progress_frac).cos()) + 1e-5;
            let scale = 1.0 / batch.len() as f32;
            let c1 = 1.0 - b1.powi(step);
            let c2 = 1.0 - b2.powi(step);
            for (k, l) in model.layers.iter_mut().enumerate() {
                let upd =
                    |p: &mut [f32], m: &mut [f32], v: &mut [f32], gi: &dyn Fn(usize) -> f32| {
                        for j in 0..p.len() {
                            let g = gi(j) * scale;
                            m[j] = b1 * m[j] + (1.0 - b1) * g;
                            v[j] = b2 * v[j] + (1.0 - b2) * g * g;
                            p[j] -= lr * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
                        }
                    };
                upd(&mut l.w, &mut mw[k], &mut vw[k], &|j| {
                    grads.iter().map(|g| g.w[k][j]).sum()
                });
                upd(&mut l.b, &mut mb[k], &mut vb[k], &|j| {
                    grads.iter().map(|g| g.b[k][j]).sum()
                });
            }
            loss += grads.iter().map(|g| g.loss).sum::<f64>();
        }
        progress(epoch, loss / n as f64);
    }
}

/// Accuracy of a model on a labelled set, ignoring junk samples.
pub fn accuracy(model: &Model, ds: &Dataset) -> f64 {
    let mut s = super::model::Scratch::default();
    let (mut ok, mut tot) = (0usize, 0usize);
    for i in 0..ds.len() {
        if ds.y[i] == 0 {
            continue;
        }
        let l = model.logits(&ds.x[i * FEATURES..(i + 1) * FEATURES], &mut s);
        let arg = l
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |a| a.0);
        tot += 1;
        ok += usize::from(arg == ds.y[i] as usize);
    }
    if tot == 0 {
        0.0
    } else {
        ok as f64 / tot as f64
    }
}

/// Fit the softmax temperature minimising negative log-likelihood on `ds` (grid search).
pub fn fit_temperature(model: &Model, ds: &Dataset) -> f32 {
    let mut s = super::model::Scratch::default();
    let logits: Vec<Vec<f32>> = (0..ds.len())
        .map(|i| {
            model
                .logits(&ds.x[i * FEATURES..(i + 1) * FEATURES], &mut s)
                .to_vec()
        })
        .collect();
    let mut best = (1.0f32, f64::INFINITY);
    let mut p = Vec::new();
    for k in 0..60 {
        let t = 0.4 + k as f32 * 0.05;
        let mut nll = 0f64;
        for (l, &y) in logits.iter().zip(&ds.y) {
            softmax_into(l, t, &mut p);
            nll -= f64::from(p[y as usize].max(1e-9).ln());
        }
        if nll < best.1 {
            best = (t, nll);
        }
    }
    best.0
}

/// A rendered, augmented calibration line with its ground truth words.
pub struct CalLine {
    /// Gray crop.
    pub gray: GrayImage,
    /// Binary crop.
    pub binary: GrayImage,
    /// Rendered line (word boxes, metrics).
    pub line: RenderedLine,
    /// Ground-truth words.
    pub words: Vec<String>,
}

/// Render calibration lines (distinct seed from training).
pub fn calibration_lines(fonts: &[Font], n: usize, seed: u64) -> Vec<CalLine> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    if fonts.is_empty() {
        return out;
    }
    for _ in 0..n {
        let (text, line) = random_line(fonts, &mut rng);
        let aug = Augment::random(&mut rng);
        let (gray, binary) = aug.apply(&line.image, &mut rng);
        let words = text.split_whitespace().map(str::to_string).collect();
        out.push(CalLine {
            gray,
            binary,
            line,
            words,
        });
    }
    out
}

/// (sum of ln p of chars, whether the word was right) for each aligned word of the calibration lines.
pub fn word_outcomes(rec: &BuiltinRecognizer, lines: &[CalLine]) -> Vec<(f32, bool)> {
    let mut out = Vec::new();
    for cl in lines {
        if cl.line.words.len() != cl.words.len() {
            continue;
        }
        let li = LineImage {
            gray: &cl.gray,
            binary: &cl.binary,
            words: &cl.line.words,
            x_height: cl.line.x_height,
            baseline: cl.line.baseline,
        };
        let got = rec.recognize_line(&li);
        if got.len() != cl.words.len() {
            // The recogniser dropped a word box (all ink lost): count those words as wrong at low confidence.
            continue;
        }
        for (g, truth) in got.iter().zip(&cl.words) {
            let s: String = g.chars.iter().map(|c| c.ch).collect();
            let sum_ln: f32 = g.chars.iter().map(|c| c.confidence.max(1e-6).ln()).sum();
            out.push((sum_ln, s == *truth));
        }
    }
    out
}

/// Fit Platt scaling `sigmoid(a * x + b)` by Newton-free gradient descent on log loss.
pub fn fit_platt(data: &[(f32, bool)]) -> (f32, f32) {
    let (mut a, mut b) = (1.0f64, 1.0f64);
    if data.is_empty() {
        return (1.0, 0.0);
    }
    let n = data.len() as f64;
    for it in 0..4000 {
        let (mut ga, mut gb) = (0f64, 0f64);
        for &(x, y) in data {
            let z = a * f64::from(x) + b;
            let p = 1.0 / (1.0 + (-z).exp());
            let e = p - f64::from(u8::from(y));
            ga += e * f64::from(x);
            gb += e;
        }
        let lr = if it < 1000 { 0.5 } else { 0.1 };
        a -= lr * ga / n;
        b -= lr * gb / n;
    }
    (a as f32, b as f32)
}

/// Expected calibration error with `bins` equal-width bins over (confidence, correct) pairs.
pub fn ece(pairs: &[(f32, bool)], bins: usize) -> f64 {
    if pairs.is_empty() || bins == 0 {
        return 0.0;
    }
    let mut cnt = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    let mut acc = vec![0f64; bins];
    for &(c, ok) in pairs {
        let k = ((c.clamp(0.0, 1.0) * bins as f32) as usize).min(bins - 1);
        cnt[k] += 1;
        conf[k] += f64::from(c);
        acc[k] += f64::from(u8::from(ok));
    }
    let n = pairs.len() as f64;
    (0..bins)
        .filter(|&k| cnt[k] > 0)
        .map(|k| (conf[k] - acc[k]).abs() / n)
        .sum()
}

/// Line-level character error of the recognizer on rendered lines: (char edits, reference chars).
pub fn line_errors(rec: &BuiltinRecognizer, lines: &[CalLine]) -> (usize, usize) {
    let (mut e, mut t) = (0, 0);
    for cl in lines {
        let li = LineImage {
            gray: &cl.gray,
            binary: &cl.binary,
            words: &cl.line.words,
            x_height: cl.line.x_height,
            baseline: cl.line.baseline,
        };
        let got = harness::page_text(&[rec.recognize_line(&li)]);
        let (ce, rc, _, _) = harness::error_counts(&cl.words.join(" "), &got);
        e += ce;
        t += rc;
    }
    (e, t)
}
