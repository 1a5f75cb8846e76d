//! Word segmentation of run-together text ("thequickbrownfox").

use crate::Speller;

/// Longest piece considered, in bytes.
const MAX_PIECE: usize = 24;

impl Speller {
    /// Splits run-together lowercase letters into the most probable word
    /// sequence under the unigram model (Viterbi over all split points).
    /// Unknown stretches are kept as single pieces with a length penalty.
    /// Non-letters end the current stretch and are kept as their own piece.
    pub fn segment(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut run = String::new();
        for c in text.chars() {
            if c.is_ascii_alphabetic() || c == '\'' {
                run.push(c);
            } else {
                if !run.is_empty() {
                    out.extend(self.segment_run(&run));
                    run.clear();
                }
                if !c.is_whitespace() {
                    out.push(c.to_string());
                }
            }
        }
        if !run.is_empty() {
            out.extend(self.segment_run(&run));
        }
        out
    }

    fn segment_run(&self, run: &str) -> Vec<String> {
        let lower = run.to_ascii_lowercase();
        let n = lower.len();
        let mut best = vec![f64::NEG_INFINITY; n + 1];
        let mut back = vec![0usize; n + 1];
        best[0] = 0.0;
        // An unknown piece of length L: as likely as a rare word, minus a
        // penalty per letter (Norvig's model), so known words win.
        let rare = 100f64.ln() - (self.lexicon().total() as f64).ln();
        for end in 1..=n {
            for start in end.saturating_sub(MAX_PIECE)..end {
                if best[start] == f64::NEG_INFINITY {
                    continue;
                }
                let piece = &lower[start..end];
                let lp = match self.ln_word(piece) {
                    Some(lp) if piece.len() > 1 || piece == "a" || piece == "i" => lp,
                    _ => rare - 2.5 * piece.len() as f64,
                };
                let v = best[start] + lp;
                if v > best[end] {
                    best[end] = v;
                    back[end] = start;
                }
            }
        }
        let mut pieces = Vec::new();
        let mut end = n;
        while end > 0 {
            let start = back[end];
            pieces.push(run[start..end].to_string());
            end = start;
        }
        pieces.reverse();
        pieces
    }
}
