//! Autocorrect that replaces silently only when it is sure.
//!
//! A spell checker flags; autocorrect replaces, so a wrong replacement costs
//! more than a missed one. This crate ranks candidates with a noisy-channel
//! model and replaces only above a calibrated confidence threshold and a
//! margin over the runner-up; everything else is suggested.
//!
//! - **Dictionary**: 82,833 English words with frequencies and 242,342 bigrams
//!   (symspellpy's lists, MIT), shipped inside the crate in a compact binary
//!   encoding ([`Lexicon`], 2.2 MB), decoded in about 12 ms.
//! - **Candidates**: a symmetric-delete (SymSpell) index, edit distance 2 with
//!   transpositions as one edit, distance 3 for long words.
//! - **Ranking**: unigram + bigram language model × an error model aware of
//!   QWERTY/QWERTZ/AZERTY/Dvorak key adjacency, vowel and sound-alike
//!   confusions, doubled and dropped letters, and phonetic keys.
//! - **Decision**: never touches proper nouns, URLs, e-mails, code, numbers,
//!   acronyms or user words; keeps case and punctuation; undo teaches
//!   ([`Typist::undo`]); user and learned words persist through
//!   `blocksmith-store` ([`UserDictionary::save`]).
//! - **Segmentation** of run-together words ([`Speller::segment`]), a
//!   streaming API ([`Typist`]) and a whole-text API ([`Speller::correct_text`]).
//!
//! ```
//! use blocksmith_spell::{Speller, Typist, Verdict};
//!
//! let mut speller = Speller::english();
//! let c = speller.correct("acommodate", None);
//! assert_eq!((c.best.as_str(), c.replace), ("accommodate", true));
//!
//! // Names, code and URLs are never touched; case and punctuation are kept.
//! let fixed = speller.correct_text("Teh meeting with Jhon is tomorow at https://exmaple.com.");
//! assert_eq!(fixed.text, "The meeting with Jhon is tomorrow at https://exmaple.com.");
//!
//! // As the user types: a word is corrected when it is completed; undo teaches.
//! let mut typist = Typist::new(&mut speller);
//! typist.type_str("I recieved it ");
//! assert_eq!(typist.text(), "I received it ");
//! typist.undo_last()?;
//! assert_eq!(typist.text(), "I recieved it ");
//! assert!(speller.user().contains("recieved"));
//! assert_eq!(speller.correct("recieved", None).verdict,
//!            Verdict::Protected(blocksmith_spell::Protection::UserWord));
//!
//! assert_eq!(speller.segment("thequickbrownfox"), ["the", "quick", "brown", "fox"]);
//! # Ok::<(), blocksmith_spell::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod channel;
pub mod distance;
mod error;
mod index;
pub mod lexicon;
mod segment;
mod speller;
mod stream;
mod text;
pub mod user;

pub use channel::{ErrorCosts, Layout, phonetic_key};
pub use error::{Error, Result};
pub use lexicon::Lexicon;
pub use speller::{Candidate, Correction, Protection, SpellOptions, Speller, Suggestion, Verdict};
pub use stream::{Event, Typist};
pub use text::{Flagged, Replacement, TextCorrection, protection};
pub use user::{Learned, UserDictionary};
