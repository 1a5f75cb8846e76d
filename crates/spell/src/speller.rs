//! The autocorrect engine: candidates, noisy-channel ranking, calibrated
//! confidence and the silent-replacement decision.

use crate::Lexicon;
use crate::channel::{ErrorCosts, ErrorModel, Layout};
use crate::distance::osa_distance;
use crate::index::{DeleteIndex, IndexParams};
use crate::user::UserDictionary;
use std::sync::{Arc, OnceLock};

/// How the engine ranks and decides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpellOptions {
    /// Keyboard layouts whose key adjacency counts as a likely slip.
    pub layouts: Vec<Layout>,
    /// Costs of the error model.
    pub costs: ErrorCosts,
    /// Largest edit distance for candidates (1-3; the index is built for it).
    pub max_distance: usize,
    /// Words at least this long (in bytes) are also searched at distance 3
    /// when nothing lies within [`SpellOptions::max_distance`].
    pub long_word_len: usize,
    /// Nats of log-probability per unit of error cost.
    pub error_scale: f64,
    /// Log prior that an unknown word was typed on purpose (a name, jargon).
    pub keep_log_prior: f64,
    /// Weight of the bigram model in the interpolated context probability.
    pub bigram_weight: f64,
    /// Platt calibration `(a, b)`: confidence = sigmoid(a * logit(p) + b).
    pub calibration: (f64, f64),
    /// Minimum calibrated confidence for a silent replacement.
    pub threshold: f64,
    /// Minimum lead of the best candidate's posterior over the runner-up's
    /// (before calibration; the keep-as-typed hypothesis counts as a runner-up).
    pub min_margin: f64,
    /// Words of at most this many bytes get candidates at distance 1 only.
    pub short_word_len: usize,
    /// Typed words of at most three letters are replaced only by words at
    /// least this frequent ("teh" -> "the", but not "env" -> "envy").
    pub short_word_min_freq: u64,
    /// Unknown words shorter than this are never replaced.
    pub min_word_len: usize,
    /// How many suggestions to return.
    pub max_suggestions: usize,
}

impl Default for SpellOptions {
    fn default() -> Self {
        SpellOptions {
            layouts: vec![Layout::Qwerty, Layout::Qwertz, Layout::Azerty],
            costs: ErrorCosts::default(),
            max_distance: 2,
            long_word_len: 7,
            error_scale: 8.0,
            keep_log_prior: -18.0,
            bigram_weight: 0.5,
            calibration: (0.545, 1.81),
            threshold: 0.97,
            min_margin: 0.5,
            short_word_len: 4,
            short_word_min_freq: 100_000_000,
            min_word_len: 3,
            max_suggestions: 5,
        }
    }
}

impl SpellOptions {
    /// Sets the keyboard layouts.
    #[must_use]
    pub fn with_layouts(mut self, layouts: &[Layout]) -> Self {
        self.layouts = layouts.to_vec();
        self
    }
    /// Sets the error-model costs.
    #[must_use]
    pub fn with_costs(mut self, costs: ErrorCosts) -> Self {
        self.costs = costs;
        self
    }
    /// Sets the largest candidate edit distance (clamped to 1-3).
    #[must_use]
    pub fn with_max_distance(mut self, d: usize) -> Self {
        self.max_distance = d.clamp(1, 3);
        self
    }
    /// Sets the length from which distance 3 is searched.
    #[must_use]
    pub fn with_long_word_len(mut self, n: usize) -> Self {
        self.long_word_len = n;
        self
    }
    /// Sets the nats per unit of error cost.
    #[must_use]
    pub fn with_error_scale(mut self, s: f64) -> Self {
        self.error_scale = s;
        self
    }
    /// Sets the log prior of keeping an unknown word.
    #[must_use]
    pub fn with_keep_log_prior(mut self, p: f64) -> Self {
        self.keep_log_prior = p;
        self
    }
    /// Sets the bigram interpolation weight (0-1).
    #[must_use]
    pub fn with_bigram_weight(mut self, w: f64) -> Self {
        self.bigram_weight = w.clamp(0.0, 1.0);
        self
    }
    /// Sets the Platt calibration.
    #[must_use]
    pub fn with_calibration(mut self, a: f64, b: f64) -> Self {
        self.calibration = (a, b);
        self
    }
    /// Sets the replacement threshold (0-1).
    #[must_use]
    pub fn with_threshold(mut self, t: f64) -> Self {
        self.threshold = t;
        self
    }
    /// Sets the minimum margin over the runner-up (0-1).
    #[must_use]
    pub fn with_min_margin(mut self, m: f64) -> Self {
        self.min_margin = m;
        self
    }
    /// Sets the length up to which candidates are searched at distance 1 only.
    #[must_use]
    pub fn with_short_word_len(mut self, n: usize) -> Self {
        self.short_word_len = n;
        self
    }
    /// Sets the frequency a replacement of a word of at most three letters needs.
    #[must_use]
    pub fn with_short_word_min_freq(mut self, f: u64) -> Self {
        self.short_word_min_freq = f;
        self
    }
    /// Sets the minimum length of a replaceable word.
    #[must_use]
    pub fn with_min_word_len(mut self, n: usize) -> Self {
        self.min_word_len = n;
        self
    }
    /// Sets how many suggestions are returned.
    #[must_use]
    pub fn with_max_suggestions(mut self, n: usize) -> Self {
        self.max_suggestions = n;
        self
    }
}

/// Why a word is left alone without looking for corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protection {
    /// A capitalised word inside a sentence (a name).
    ProperNoun,
    /// A URL or domain.
    Url,
    /// An e-mail address.
    Email,
    /// Contains digits.
    Number,
    /// Looks like code (underscores, camelCase, operators, paths).
    Code,
    /// An all-capitals acronym.
    Acronym,
    /// In the user dictionary or learned.
    UserWord,
    /// Letters outside the dictionary's alphabet.
    Foreign,
}

/// What the engine decided about one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// A dictionary word: kept.
    Known,
    /// Not examined (see [`Protection`]).
    Protected(Protection),
    /// Replaced silently with [`Correction::best`].
    Replace,
    /// Unsure: kept, with suggestions.
    Suggest,
    /// Unknown, and nothing close enough: kept.
    NoCandidate,
}

/// A ranked alternative.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The word (or two words for a split), in the case of the input.
    pub word: String,
    /// Calibrated probability that this is what was meant.
    pub confidence: f64,
    /// Unit edit distance from the input (a split counts 1).
    pub distance: u8,
}

/// A dictionary word near a query, from [`Speller::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The dictionary word.
    pub word: String,
    /// Its unit OSA distance from the query.
    pub distance: u8,
    /// Its corpus frequency.
    pub frequency: u64,
}

/// The outcome for one word.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    /// The input word.
    pub word: String,
    /// The best reading (the input itself when kept or protected).
    pub best: String,
    /// Calibrated probability that `best` is right.
    pub confidence: f64,
    /// Whether autocorrect replaces silently.
    pub replace: bool,
    /// Why.
    pub verdict: Verdict,
    /// Ranked alternatives, best first (may include the input when known).
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug)]
struct Scored {
    /// Lowercase text (may contain one space for splits).
    text: String,
    score: f64,
    distance: u8,
    keep: bool,
}

/// The autocorrect engine over a lexicon, with a user dictionary.
#[derive(Debug, Clone)]
pub struct Speller {
    lex: Arc<Lexicon>,
    index: Arc<DeleteIndex>,
    model: ErrorModel,
    options: SpellOptions,
    user: UserDictionary,
    row_sums: Arc<Vec<u64>>,
    ln_total: f64,
}

fn english_parts(max_distance: usize) -> (Arc<Lexicon>, Arc<DeleteIndex>, Arc<Vec<u64>>) {
    static ROWS: OnceLock<Arc<Vec<u64>>> = OnceLock::new();
    static IDX: [OnceLock<Arc<DeleteIndex>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let lex = Lexicon::english_shared().clone();
    let rows = ROWS.get_or_init(|| Arc::new(row_sums(&lex))).clone();
    let d = max_distance.clamp(1, 3);
    let idx = IDX[d - 1]
        .get_or_init(|| Arc::new(DeleteIndex::build(&lex, index_params(d))))
        .clone();
    (lex, idx, rows)
}

fn index_params(max_distance: usize) -> IndexParams {
    IndexParams {
        max_distance,
        prefix_len: 7,
    }
}

fn row_sums(lex: &Lexicon) -> Vec<u64> {
    let mut rows = vec![0u64; lex.len()];
    for (a, _, c) in lex.iter_bigram_indices() {
        rows[a as usize] = rows[a as usize].saturating_add(c);
    }
    rows
}

/// Nats below the best candidate past which a candidate is not aligned.
const PRUNE: f64 = 10.0;

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Restores the case pattern of `like` onto lowercase `word`.
pub(crate) fn match_case(word: &str, like: &str) -> String {
    let mut chars = like.chars().filter(|c| c.is_alphabetic());
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    let rest_upper = like.chars().filter(|c| c.is_alphabetic()).count() > 1
        && like
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(char::is_uppercase);
    if rest_upper {
        word.to_uppercase()
    } else if first_upper {
        let mut out = String::with_capacity(word.len());
        let mut cs = word.chars();
        if let Some(c) = cs.next() {
            out.extend(c.to_uppercase());
        }
        out.extend(cs);
        out
    } else {
        word.to_string()
    }
}

impl Speller {
    /// The English engine with default options. The first call decodes the
    /// shipped dictionary and builds the index (tens of milliseconds); later
    /// calls share them.
    pub fn english() -> Self {
        Self::english_with(SpellOptions::default())
    }

    /// The English engine with `options`.
    pub fn english_with(options: SpellOptions) -> Self {
        let (lex, index, rows) = english_parts(options.max_distance);
        Self::from_parts(lex, index, rows, options)
    }

    /// An engine over any lexicon.
    pub fn new(lexicon: Lexicon, options: SpellOptions) -> Self {
        let d = options.max_distance.clamp(1, 3);
        let index = Arc::new(DeleteIndex::build(&lexicon, index_params(d)));
        let rows = Arc::new(row_sums(&lexicon));
        Self::from_parts(Arc::new(lexicon), index, rows, options)
    }

    fn from_parts(
        lex: Arc<Lexicon>,
        index: Arc<DeleteIndex>,
        row_sums: Arc<Vec<u64>>,
        options: SpellOptions,
    ) -> Self {
        let model = ErrorModel::new(options.costs, &options.layouts);
        let ln_total = (lex.total() as f64).ln();
        Speller {
            lex,
            index,
            model,
            options,
            user: UserDictionary::new(),
            row_sums,
            ln_total,
        }
    }

    /// The lexicon.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lex
    }

    /// The options.
    pub fn options(&self) -> &SpellOptions {
        &self.options
    }

    /// Replaces the options (the index is rebuilt only if the distance changes).
    pub fn set_options(&mut self, options: SpellOptions) {
        if options.max_distance.clamp(1, 3) != self.index.max_distance() {
            self.index = Arc::new(DeleteIndex::build(
                &self.lex,
                index_params(options.max_distance.clamp(1, 3)),
            ));
        }
        self.model = ErrorModel::new(options.costs, &options.layouts);
        self.options = options;
    }

    /// The user dictionary.
    pub fn user(&self) -> &UserDictionary {
        &self.user
    }

    /// The user dictionary, to add words or load a saved one into.
    pub fn user_mut(&mut self) -> &mut UserDictionary {
        &mut self.user
    }

    /// Replaces the user dictionary (e.g. with [`UserDictionary::load`]).
    pub fn set_user(&mut self, user: UserDictionary) {
        self.user = user;
    }

    /// Candidate generation alone (no ranking model): dictionary words within
    /// `max_distance` (at most the index distance) edits of `word`, lowercase,
    /// ordered by distance then frequency (like SymSpell's `Verbosity::All`).
    pub fn lookup(&self, word: &str, max_distance: usize) -> Vec<Candidate> {
        let q = word.to_lowercase();
        let mut found = Vec::new();
        self.index
            .lookup(&self.lex, q.as_bytes(), max_distance, &mut found);
        let mut out: Vec<Candidate> = found
            .into_iter()
            .map(|(i, d)| Candidate {
                word: self.lex.word(i).to_string(),
                distance: d,
                frequency: self.lex.freq(i),
            })
            .collect();
        out.sort_by(|a, b| {
            a.distance
                .cmp(&b.distance)
                .then(b.frequency.cmp(&a.frequency))
        });
        out
    }

    /// Number of entries in the delete index.
    pub fn index_entries(&self) -> usize {
        self.index.entry_count()
    }

    /// Whether `word` (any case) is a dictionary or user word.
    pub fn is_known(&self, word: &str) -> bool {
        let w = word.to_lowercase();
        self.lex.index_of(&w).is_some() || self.user.contains(&w)
    }

    fn ln_unigram(&self, idx: Option<u32>) -> f64 {
        let f = idx.map_or(0, |i| self.lex.freq(i));
        ((f as f64) + 0.5).ln() - self.ln_total
    }

    /// Interpolated log P(word | prev).
    fn ln_context(&self, idx: Option<u32>, prev: Option<u32>) -> f64 {
        let uni = self.ln_unigram(idx).exp();
        let lambda = self.options.bigram_weight;
        let p = match (idx, prev) {
            (Some(i), Some(p)) if self.row_sums[p as usize] > 0 => {
                let bi = self.lex.bigram(p, i) as f64 / self.row_sums[p as usize] as f64;
                lambda * bi + (1.0 - lambda) * uni
            }
            _ => uni,
        };
        p.max(1e-300).ln()
    }

    /// Frequency-like prior of a user word, for ranking it as a candidate.
    fn user_word_ln(&self) -> f64 {
        // As likely as a common word (1e8 of ~4e11 counts): the user uses it.
        1e8f64.ln() - self.ln_total
    }

    fn candidates(&self, q: &str, prev: Option<u32>, out: &mut Vec<Scored>) {
        let qb = q.as_bytes();
        let mut max = self.options.max_distance.min(self.index.max_distance());
        if qb.len() <= self.options.short_word_len {
            // Two edits on a short word reach hundreds of words: noise.
            max = max.min(1);
        }
        let mut found = Vec::new();
        self.index.lookup(&self.lex, qb, max, &mut found);
        if found.is_empty() && max < 3 && qb.len() >= self.options.long_word_len {
            self.index.scan(&self.lex, qb, 3, &mut found);
        }
        let scale = self.options.error_scale;
        let known = self.lex.index_of(q);
        let mut key_buf = [0u8; 64];
        let qkey = crate::channel::phonetic_key_into(qb, &mut key_buf);
        // Cheap bound first: no edit costs less than `floor`, so a candidate
        // whose language score minus that bound trails the best by more than
        // `PRUNE` nats cannot carry posterior mass; skip its alignment.
        let floor = self.options.costs.floor();
        let bonus = self.options.costs.phonetic_bonus;
        let bound = |lm: f64, d: u8| {
            lm - scale * (floor * f64::from(d) - bonus).max(0.1 * f64::from(d.min(1)))
        };
        let mut pre: Vec<(f64, u32, u8)> = found
            .iter()
            .map(|&(i, d)| (self.ln_context(Some(i), prev), i, d))
            .collect();
        pre.sort_by(|a, b| bound(b.0, b.2).total_cmp(&bound(a.0, a.2)));
        let mut best = f64::NEG_INFINITY;
        for (lm, i, d) in pre {
            if bound(lm, d) < best - PRUNE {
                break;
            }
            let w = self.lex.word(i);
            let cost = self.model.cost(qb, qkey, w.as_bytes());
            let score = lm - scale * cost;
            best = best.max(score);
            out.push(Scored {
                text: w.to_string(),
                score,
                distance: d,
                keep: Some(i) == known,
            });
        }
        // User words.
        for w in self.user.words() {
            if out.iter().any(|s| s.text == w) {
                continue;
            }
            if let Some(d) = osa_distance(qb, w.as_bytes(), max) {
                let cost = self.model.cost(qb, qkey, w.as_bytes());
                out.push(Scored {
                    text: w.to_string(),
                    score: self.user_word_ln() - scale * cost,
                    distance: d as u8,
                    keep: d == 0,
                });
            }
        }
        // Run-together words: "inthe" -> "in the".
        if known.is_none() && qb.len() >= 4 {
            // Slips of the space bar join short words ("inthe", "ofthe"); long
            // run-togethers are rarer, so each letter past five costs a little.
            let split_cost =
                self.options.costs.missing_space + 0.08 * qb.len().saturating_sub(5) as f64;
            for k in 1..qb.len() {
                let (a, b) = (&q[..k], &q[k..]);
                if (a.len() == 1 && a != "a" && a != "i") || (b.len() == 1 && b != "a" && b != "i")
                {
                    continue;
                }
                let Some(ia) = self.lex.index_of(a) else {
                    continue;
                };
                let Some(ib) = self.lex.index_of(b) else {
                    continue;
                };
                let score = self.ln_context(Some(ia), prev) + self.ln_context(Some(ib), Some(ia))
                    - scale * split_cost;
                out.push(Scored {
                    text: format!("{a} {b}"),
                    score,
                    distance: 1,
                    keep: false,
                });
            }
        }
    }

    /// Corrects one word, with the previous word as context (if any).
    /// Applies the protections of [`Protection`] except the proper-noun rule,
    /// which needs sentence context (see [`Speller::correct_text`]).
    pub fn correct(&self, word: &str, prev: Option<&str>) -> Correction {
        if let Some(p) = crate::text::protection(word, false) {
            return Self::kept(word, Verdict::Protected(p));
        }
        if self.user.contains(word) {
            return Self::kept(word, Verdict::Protected(Protection::UserWord));
        }
        self.rank(word, prev)
    }

    fn kept(word: &str, verdict: Verdict) -> Correction {
        Correction {
            word: word.to_string(),
            best: word.to_string(),
            confidence: 1.0,
            replace: false,
            verdict,
            suggestions: Vec::new(),
        }
    }

    /// Ranks without protections (the word must be plain letters).
    pub(crate) fn rank(&self, word: &str, prev: Option<&str>) -> Correction {
        let q = word.to_lowercase();
        if q.len() > crate::lexicon::MAX_WORD_LEN
            || !q.bytes().all(|c| c.is_ascii_lowercase() || c == b'\'')
        {
            return Self::kept(word, Verdict::Protected(Protection::Foreign));
        }
        let prev_idx = prev.and_then(|p| self.lex.index_of(&p.to_lowercase()));
        let known = self.lex.index_of(&q).is_some() || self.known_inflection(&q);
        let mut cands = Vec::new();
        self.candidates(&q, prev_idx, &mut cands);
        if !known {
            cands.push(Scored {
                text: q.clone(),
                score: self.options.keep_log_prior,
                distance: 0,
                keep: true,
            });
        }
        let max = cands
            .iter()
            .map(|c| c.score)
            .fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = cands.iter().map(|c| (c.score - max).exp()).sum();
        cands.sort_by(|a, b| b.score.total_cmp(&a.score));
        let (a, b) = self.options.calibration;
        let post = |c: &Scored| (c.score - max).exp() / z;
        let top = &cands[0];
        let p_top = post(top);
        let p_second = cands.get(1).map_or(0.0, post);
        // Platt-calibrate the top posterior; spread the remaining mass over
        // the others in proportion to their posteriors.
        let confidence = sigmoid(a * logit(p_top) + b);
        let rest = if p_top < 1.0 {
            (1.0 - confidence) / (1.0 - p_top)
        } else {
            0.0
        };
        let conf_of = |c: &Scored| {
            if std::ptr::eq(c, top) {
                confidence
            } else {
                (post(c) * rest).min(1.0)
            }
        };
        let margin = p_top - p_second;
        let suggestions: Vec<Suggestion> = cands
            .iter()
            .filter(|c| !c.keep || known)
            .take(self.options.max_suggestions)
            .map(|c| Suggestion {
                word: match_case(&c.text, word),
                confidence: conf_of(c),
                distance: c.distance,
            })
            .collect();
        if known {
            return Correction {
                word: word.to_string(),
                best: word.to_string(),
                confidence: cands.iter().find(|c| c.keep).map_or(confidence, conf_of),
                replace: false,
                verdict: Verdict::Known,
                suggestions,
            };
        }
        let only_keep = cands.len() == 1;
        if only_keep {
            return Correction {
                word: word.to_string(),
                best: word.to_string(),
                confidence,
                replace: false,
                verdict: Verdict::NoCandidate,
                suggestions,
            };
        }
        let best = if top.keep {
            word.to_string()
        } else {
            match_case(&top.text, word)
        };
        // Three letters carry little evidence: abbreviations ("env", "tmp")
        // sit one edit from rare words. Only very common targets qualify.
        let common_enough =
            q.len() > 3 || self.lex.freq_of(&top.text) >= self.options.short_word_min_freq;
        let replace = !top.keep
            && common_enough
            && q.len() >= self.options.min_word_len
            && confidence >= self.options.threshold
            && margin >= self.options.min_margin;
        if q.len() < self.options.min_word_len && !top.keep {
            return Correction {
                word: word.to_string(),
                best,
                confidence,
                replace: false,
                verdict: Verdict::Suggest,
                suggestions,
            };
        }
        Correction {
            word: word.to_string(),
            best,
            confidence,
            replace,
            verdict: if replace {
                Verdict::Replace
            } else {
                Verdict::Suggest
            },
            suggestions,
        }
    }

    /// The best reading of `word` regardless of the replacement policy (for
    /// evaluation): the top candidate, or the word itself.
    pub fn best(&self, word: &str, prev: Option<&str>) -> String {
        let c = self.rank(word, prev);
        if c.verdict == Verdict::Suggest || c.verdict == Verdict::Replace {
            // The top non-keep candidate if the keep hypothesis won.
            if c.best == c.word {
                return c.suggestions.first().map_or(c.best, |s| s.word.clone());
            }
        }
        c.best
    }

    /// Possessives and contractions of known words ("friend's", "dogs'", "it'd").
    fn known_inflection(&self, q: &str) -> bool {
        let Some((stem, suffix)) = q.rsplit_once('\'') else {
            return false;
        };
        let stem_known =
            !stem.is_empty() && (self.lex.index_of(stem).is_some() || self.user.contains(stem));
        stem_known
            && (matches!(suffix, "s" | "d" | "ll" | "re" | "ve" | "m")
                || (suffix.is_empty() && stem.ends_with('s')))
    }

    /// Log-probability of `word` under the unigram model (for segmentation).
    pub(crate) fn ln_word(&self, word: &str) -> Option<f64> {
        self.lex
            .index_of(word)
            .map(|i| self.ln_unigram(Some(i)))
            .or_else(|| self.user.contains(word).then(|| self.user_word_ln()))
    }
}
