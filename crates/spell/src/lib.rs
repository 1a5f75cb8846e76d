#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

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
