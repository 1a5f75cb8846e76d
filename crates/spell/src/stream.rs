//! Streaming correction as text is typed: each word is examined when it is
//! completed (by a space or newline), and every replacement can be undone.
//! Undoing teaches: the reverted word is never replaced again.

use crate::speller::{Speller, Suggestion, Verdict};
use crate::text::{Context, process_chunk};
use crate::{Error, Result};

/// What happened when a word was completed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The word was replaced silently.
    Replaced {
        /// Identifies the replacement for [`Typist::undo`].
        id: u64,
        /// Byte offset of the replacement in [`Typist::text`].
        start: usize,
        /// What was typed.
        original: String,
        /// What it became.
        replacement: String,
        /// Calibrated confidence.
        confidence: f64,
    },
    /// The word was kept but looks wrong.
    Suggested {
        /// Byte offset of the word in [`Typist::text`].
        start: usize,
        /// The word.
        word: String,
        /// Ranked suggestions.
        suggestions: Vec<Suggestion>,
    },
    /// A replacement was undone and its word learned.
    Reverted {
        /// The replacement's id.
        id: u64,
        /// The word restored and learned.
        word: String,
    },
}

#[derive(Debug, Clone)]
struct Done {
    id: u64,
    start: usize,
    original: String,
    replacement: String,
    undone: bool,
}

/// A typing session over a [`Speller`]: feed it text as it is typed.
#[derive(Debug)]
pub struct Typist<'a> {
    speller: &'a mut Speller,
    text: String,
    /// Start of the word being typed.
    word_start: usize,
    ctx: Context,
    history: Vec<Done>,
    next_id: u64,
}

impl<'a> Typist<'a> {
    /// Starts a session. Undo teaches `speller`'s user dictionary.
    pub fn new(speller: &'a mut Speller) -> Self {
        Typist {
            speller,
            text: String::new(),
            word_start: 0,
            ctx: Context::default(),
            history: Vec::new(),
            next_id: 1,
        }
    }

    /// The text so far, with replacements applied.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The speller (with what this session taught it).
    pub fn speller(&self) -> &Speller {
        self.speller
    }

    /// Types `s`; returns the events of every word it completed.
    pub fn type_str(&mut self, s: &str) -> Vec<Event> {
        let mut events = Vec::new();
        for c in s.chars() {
            if c.is_whitespace() {
                self.complete(&mut events);
                if c == '\n' && self.text.ends_with('\n') {
                    self.ctx = Context::default();
                }
                self.text.push(c);
                self.word_start = self.text.len();
            } else {
                self.text.push(c);
            }
        }
        events
    }

    /// Completes the word being typed, as if a space followed.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        self.complete(&mut events);
        self.word_start = self.text.len();
        events
    }

    fn complete(&mut self, events: &mut Vec<Event>) {
        if self.word_start >= self.text.len() {
            return;
        }
        let chunk = self.text[self.word_start..].to_string();
        let outcomes = process_chunk(self.speller, &chunk, &mut self.ctx);
        // Applied first to last; `shift` carries how far earlier replacements
        // in this chunk moved the words after them, so every recorded offset
        // is where the word is in the text once the whole chunk is done.
        let mut shift: isize = 0;
        for w in outcomes {
            let c = w.correction;
            let start = (self.word_start + w.start).saturating_add_signed(shift);
            if c.replace {
                let end = (self.word_start + w.end).saturating_add_signed(shift);
                self.text.replace_range(start..end, &c.best);
                shift += c.best.len() as isize - (end - start) as isize;
                let id = self.next_id;
                self.next_id += 1;
                events.push(Event::Replaced {
                    id,
                    start,
                    original: c.word.clone(),
                    replacement: c.best.clone(),
                    confidence: c.confidence,
                });
                self.history.push(Done {
                    id,
                    start,
                    original: c.word,
                    replacement: c.best,
                    undone: false,
                });
            } else {
                if matches!(c.verdict, Verdict::Suggest | Verdict::NoCandidate) {
                    // Unknown words the user keeps typing are learned.
                    let _ = self.speller.user_mut().record_typed(&c.word);
                }
                if c.verdict == Verdict::Suggest {
                    events.push(Event::Suggested {
                        start,
                        word: c.word,
                        suggestions: c.suggestions,
                    });
                }
            }
        }
    }

    /// Undoes the most recent replacement still in place.
    ///
    /// # Errors
    /// [`Error::NothingToUndo`] if no replacement of this session is still in
    /// place, or the latest one was edited since; as [`Typist::undo`] otherwise.
    pub fn undo_last(&mut self) -> Result<Event> {
        let id = self
            .history
            .iter()
            .rev()
            .find(|d| !d.undone)
            .map(|d| d.id)
            .ok_or_else(|| Error::NothingToUndo("no replacement to undo".into()))?;
        self.undo(id)
    }

    /// Undoes replacement `id`: restores what was typed and teaches the
    /// speller never to replace that word again.
    ///
    /// # Errors
    /// - [`Error::NothingToUndo`] if `id` names no replacement of this session,
    ///   one already undone, or one whose text was edited since;
    /// - [`Error::InvalidWord`] if the original word cannot go into the user
    ///   dictionary (longer than 64 bytes); the text is then left unchanged.
    pub fn undo(&mut self, id: u64) -> Result<Event> {
        let pos = self
            .history
            .iter()
            .position(|d| d.id == id && !d.undone)
            .ok_or_else(|| {
                Error::NothingToUndo(format!("replacement {id} is unknown or already undone"))
            })?;
        let d = self.history[pos].clone();
        let end = d.start + d.replacement.len();
        if self.text.get(d.start..end) != Some(d.replacement.as_str()) {
            return Err(Error::NothingToUndo(format!(
                "replacement {id} was edited since"
            )));
        }
        // Recorded first: if the word cannot be recorded, nothing has changed.
        self.speller.user_mut().record_revert(&d.original)?;
        self.text.replace_range(d.start..end, &d.original);
        let delta = d.original.len() as isize - d.replacement.len() as isize;
        for other in &mut self.history {
            if other.start > d.start {
                other.start = other.start.saturating_add_signed(delta);
            }
        }
        if self.word_start > d.start {
            self.word_start = self.word_start.saturating_add_signed(delta);
        }
        self.history[pos].undone = true;
        Ok(Event::Reverted {
            id,
            word: d.original,
        })
    }
}
