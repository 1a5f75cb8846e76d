//! User dictionaries and learned words, persisted through `blocksmith-store`.
//!
//! A [`UserDictionary`] holds the words a user added explicitly and the
//! words the engine learned: words the user reverted a correction of (one
//! revert is enough: the engine never replaces that word again) and unknown
//! words the user keeps typing ([`UserDictionary::LEARN_AFTER`] times). All of
//! them are protected from silent replacement and offered as candidates.
//!
//! Saved as a typed record at `spell/<name>/user` with a compare-and-swap
//! merge: two devices saving concurrently keep the union of their words and
//! the larger of each count; removals are kept as tombstones so they win over
//! stale copies.

use crate::{Error, Result};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, Store, StoreExt};
use std::collections::{BTreeMap, BTreeSet};

/// Longest user word accepted, in bytes.
pub const MAX_USER_WORD: usize = 64;

/// What the engine learned about one word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Learned {
    /// How often the user typed it while it was unknown.
    pub typed: u32,
    /// How often the user reverted a correction of it.
    pub reverted: u32,
}

/// A user's own words: a last-writer-wins set keyed by a logical clock, so
/// merging copies from several devices keeps additions and removals in the
/// order they happened, whatever order the copies are saved in.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserDictionary {
    /// Logical clock: greater than every stamp below.
    clock: u64,
    /// Explicit words with the stamp of their addition.
    words: BTreeMap<String, u64>,
    /// Learned words with the stamp of their last update.
    learned: BTreeMap<String, (Learned, u64)>,
    /// Removed words with the stamp of their removal.
    removed: BTreeMap<String, u64>,
}

impl Record for UserDictionary {
    const KIND: &'static str = "spell.user";
    const VERSION: u32 = 1;
}

fn check(word: &str) -> Result<String> {
    let reason = if word.is_empty() {
        Some("empty")
    } else if word.len() > MAX_USER_WORD {
        Some("longer than 64 bytes")
    } else if word.chars().any(char::is_whitespace) {
        Some("contains whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidWord {
            word: word.chars().take(80).collect(),
            reason,
        }),
        None => Ok(word.to_lowercase()),
    }
}

impl UserDictionary {
    /// Unknown words typed this many times are learned.
    pub const LEARN_AFTER: u32 = 3;

    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Adds a word (stored lowercase).
    ///
    /// # Errors
    /// [`Error::InvalidWord`] if `word` is empty, longer than 64 bytes or contains
    /// whitespace.
    pub fn add(&mut self, word: &str) -> Result<()> {
        let w = check(word)?;
        let t = self.tick();
        self.removed.remove(&w);
        self.words.insert(w, t);
        Ok(())
    }

    /// Removes a word and what was learned about it; returns whether it was there.
    pub fn remove(&mut self, word: &str) -> bool {
        let w = word.to_lowercase();
        let had = self.words.remove(&w).is_some() | self.learned.remove(&w).is_some();
        let t = self.tick();
        self.removed.insert(w, t);
        had
    }

    /// Whether `word` (any case) is protected: added, reverted to, or typed often enough.
    pub fn contains(&self, word: &str) -> bool {
        let w = word.to_lowercase();
        self.words.contains_key(&w)
            || self
                .learned
                .get(&w)
                .is_some_and(|(l, _)| l.reverted > 0 || l.typed >= Self::LEARN_AFTER)
    }

    /// Records that the user reverted a correction of `word`.
    ///
    /// # Errors
    /// [`Error::InvalidWord`] if `word` is empty, longer than 64 bytes or contains
    /// whitespace.
    pub fn record_revert(&mut self, word: &str) -> Result<()> {
        let w = check(word)?;
        let t = self.tick();
        self.removed.remove(&w);
        let e = self.learned.entry(w).or_default();
        e.0.reverted = e.0.reverted.saturating_add(1);
        e.1 = t;
        Ok(())
    }

    /// Records that the user typed the unknown `word` and kept it. Ignored
    /// for words the user removed.
    ///
    /// # Errors
    /// [`Error::InvalidWord`] if `word` is empty, longer than 64 bytes or contains
    /// whitespace.
    pub fn record_typed(&mut self, word: &str) -> Result<()> {
        let w = check(word)?;
        if self.removed.contains_key(&w) {
            return Ok(());
        }
        let t = self.tick();
        let e = self.learned.entry(w).or_default();
        e.0.typed = e.0.typed.saturating_add(1);
        e.1 = t;
        Ok(())
    }

    /// What was learned about `word`.
    pub fn learned(&self, word: &str) -> Option<Learned> {
        self.learned.get(&word.to_lowercase()).map(|e| e.0)
    }

    /// Every protected word, ascending.
    pub fn words(&self) -> impl Iterator<Item = &str> + '_ {
        let mut all: BTreeSet<&str> = self.words.keys().map(String::as_str).collect();
        all.extend(
            self.learned
                .iter()
                .filter(|(_, (l, _))| l.reverted > 0 || l.typed >= Self::LEARN_AFTER)
                .map(|(w, _)| w.as_str()),
        );
        all.into_iter()
    }

    /// Number of protected words.
    pub fn len(&self) -> usize {
        self.words().count()
    }

    /// Whether no word is protected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Merges `other` into `self`, per word the later of addition and
    /// removal winning (ties keep the word); learned counts take the maximum.
    pub fn merge(&mut self, other: &UserDictionary) {
        self.clock = self.clock.max(other.clock);
        for (w, &t) in &other.words {
            let e = self.words.entry(w.clone()).or_insert(t);
            *e = (*e).max(t);
        }
        for (w, &(l, t)) in &other.learned {
            let e = self.learned.entry(w.clone()).or_insert((l, t));
            e.0.typed = e.0.typed.max(l.typed);
            e.0.reverted = e.0.reverted.max(l.reverted);
            e.1 = e.1.max(t);
        }
        for (w, &t) in &other.removed {
            let e = self.removed.entry(w.clone()).or_insert(t);
            *e = (*e).max(t);
        }
        // Resolve: a removal newer than the addition (or learning) wins. The
        // tombstone stays, so merging a stale copy again cannot revive the word.
        for (w, &t) in &self.removed {
            if self.words.get(w).is_some_and(|&added| t > added) {
                self.words.remove(w);
            }
            if self.learned.get(w).is_some_and(|e| t > e.1) {
                self.learned.remove(w);
            }
        }
    }

    fn key(name: &str) -> Result<Key> {
        Ok(Key::new(format!("spell/{name}/user"))?)
    }

    /// Loads the dictionary saved under `name` (empty if none).
    ///
    /// # Errors
    /// [`Error::Store`] if `name` does not make a valid store key
    /// (`spell/{name}/user`: no empty segment, `.`, `..`, backslash or control
    /// character), the stored record does not decode, or the store fails.
    pub async fn load<S: Store + ?Sized>(store: &S, name: &str) -> Result<Self> {
        Ok(store
            .get_record::<UserDictionary>(&Self::key(name)?)
            .await?
            .map(|(d, _)| d)
            .unwrap_or_default())
    }

    /// Saves under `name`, merging with what is stored (compare-and-swap loop),
    /// and updates `self` to the merged result.
    ///
    /// # Errors
    /// [`Error::Store`] if `name` does not make a valid store key
    /// (`spell/{name}/user`), the stored record does not decode, or the store
    /// fails; `self` is then left as it was.
    pub async fn save<S: Store + ?Sized>(&mut self, store: &S, name: &str) -> Result<()> {
        let key = Self::key(name)?;
        let mine = self.clone();
        let mut merged = mine.clone();
        store
            .update_record::<UserDictionary, _>(&key, |old| {
                let mut m = old.unwrap_or_default();
                m.merge(&mine);
                merged = m.clone();
                Ok(Some(m))
            })
            .await?;
        *self = merged;
        Ok(())
    }

    /// Blocking [`UserDictionary::load`]: drives it with [`blocksmith_store::block_on`]
    /// on the calling thread (never call it from inside an async runtime's task).
    ///
    /// # Errors
    /// As [`UserDictionary::load`].
    pub fn load_blocking<S: Store + ?Sized>(store: &S, name: &str) -> Result<Self> {
        blocksmith_store::block_on(Self::load(store, name))
    }

    /// Blocking [`UserDictionary::save`]: drives it with [`blocksmith_store::block_on`]
    /// on the calling thread (never call it from inside an async runtime's task).
    ///
    /// # Errors
    /// As [`UserDictionary::save`].
    pub fn save_blocking<S: Store + ?Sized>(&mut self, store: &S, name: &str) -> Result<()> {
        blocksmith_store::block_on(self.save(store, name))
    }
}
