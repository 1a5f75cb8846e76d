//! `blocksmith spell ...`: autocorrect words and running text; manage the
//! user dictionary kept in the store.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use blocksmith_spell::{Speller, UserDictionary};
use clap::Subcommand;
use serde_json::json;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub(crate) enum SpellCmd {
    /// Correct words (arguments, or standard input one word per line). With
    /// --json, one object per input word, in order:
    /// {"word", "best", "confidence", "replace"}.
    Correct {
        /// Words to correct; read from standard input when none.
        words: Vec<String>,
        /// Previous word, as context for the first word.
        #[arg(long)]
        after: Option<String>,
        /// User dictionary to honour (kept in the store).
        #[arg(long, default_value = "default")]
        user: String,
    },
    /// Correct running text from standard input: confident corrections are
    /// applied, names, URLs, e-mails, code, numbers and acronyms left alone.
    Text {
        /// User dictionary to honour (kept in the store).
        #[arg(long, default_value = "default")]
        user: String,
    },
    /// Split run-together words ("thequickbrownfox").
    Segment {
        /// Text to split.
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// Add words to a user dictionary: never replaced, offered as corrections.
    Add {
        /// Words to add.
        #[arg(required = true)]
        words: Vec<String>,
        /// User dictionary name.
        #[arg(long, default_value = "default")]
        user: String,
    },
    /// Remove words from a user dictionary.
    Remove {
        /// Words to remove.
        #[arg(required = true)]
        words: Vec<String>,
        /// User dictionary name.
        #[arg(long, default_value = "default")]
        user: String,
    },
    /// List the words of a user dictionary.
    Words {
        /// User dictionary name.
        #[arg(long, default_value = "default")]
        user: String,
    },
}

impl From<blocksmith_spell::Error> for CliError {
    fn from(e: blocksmith_spell::Error) -> Self {
        match e {
            blocksmith_spell::Error::Store(e) => e.into(),
            blocksmith_spell::Error::NothingToUndo(_) => {
                CliError::NotFound(crate::output::report(&e))
            }
            _ => CliError::BadInput(crate::output::report(&e)),
        }
    }
}

fn open(dir: &Path) -> Result<CliStore, CliError> {
    crate::backend::open(dir)
}

/// The user dictionary `name`, or an empty one when the store does not exist
/// yet (reading never creates a store).
fn load_user(dir: &Path, name: &str) -> Result<UserDictionary, CliError> {
    if !crate::backend::exists(dir) {
        return Ok(UserDictionary::new());
    }
    Ok(UserDictionary::load_blocking(&open(dir)?, name)?)
}

fn read_stdin() -> Result<String, CliError> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|_| CliError::BadInput("standard input is not UTF-8".into()))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn run(cmd: SpellCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    match cmd {
        SpellCmd::Correct { words, after, user } => {
            let words = if words.is_empty() {
                read_stdin()?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            } else {
                words
            };
            let mut speller = Speller::english();
            speller.set_user(load_user(store_dir, &user)?);
            for w in &words {
                if w.chars().any(char::is_whitespace) {
                    return Err(CliError::BadInput(format!("{w:?} is not one word")));
                }
            }
            let mut prev = after;
            for w in &words {
                let c = speller.correct(w, prev.as_deref());
                let value = json!({
                    "word": c.word,
                    "best": c.best,
                    "confidence": round3(c.confidence),
                    "replace": c.replace,
                });
                out.emit(&value, || {
                    let action = if c.replace {
                        "replace".to_string()
                    } else if c.best == c.word {
                        "keep".to_string()
                    } else {
                        "suggest".to_string()
                    };
                    let others: Vec<String> = c
                        .suggestions
                        .iter()
                        .filter(|s| s.word != c.best)
                        .take(3)
                        .map(|s| format!("{} {:.3}", s.word, s.confidence))
                        .collect();
                    let mut line =
                        format!("{} -> {} ({action}, {:.3})", c.word, c.best, c.confidence);
                    if !others.is_empty() {
                        let _ = write!(line, "; also: {}", others.join(", "));
                    }
                    line
                });
                prev = Some(if c.replace {
                    c.best.clone()
                } else {
                    c.word.clone()
                });
            }
            Ok(())
        }
        SpellCmd::Text { user } => {
            let text = read_stdin()?;
            let mut speller = Speller::english();
            speller.set_user(load_user(store_dir, &user)?);
            let r = speller.correct_text(&text);
            let value = json!({
                "text": r.text,
                "words": r.words,
                "replacements": r.replacements.iter().map(|x| json!({
                    "start": x.start,
                    "end": x.end,
                    "original": x.original,
                    "replacement": x.replacement,
                    "confidence": round3(x.confidence),
                })).collect::<Vec<_>>(),
                "flagged": r.flagged.iter().map(|f| json!({
                    "start": f.start,
                    "end": f.end,
                    "word": f.word,
                    "suggestions": f.suggestions.iter().map(|s| json!({
                        "word": s.word,
                        "confidence": round3(s.confidence),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            out.emit(&value, || {
                r.text.strip_suffix('\n').unwrap_or(&r.text).to_string()
            });
            Ok(())
        }
        SpellCmd::Segment { text } => {
            let speller = Speller::english();
            let words = speller.segment(&text.join(" "));
            out.emit(&json!({ "words": words }), || words.join(" "));
            Ok(())
        }
        SpellCmd::Add { words, user } | SpellCmd::Remove { words, user } if words.is_empty() => {
            let _ = user;
            Err(CliError::BadInput("no words given".into()))
        }
        SpellCmd::Add { words, user } => {
            let store = open(store_dir)?;
            let mut dict = UserDictionary::load_blocking(&store, &user)?;
            for w in &words {
                dict.add(w)?;
            }
            dict.save_blocking(&store, &user)?;
            out.emit(
                &json!({ "user": user, "added": words, "words": dict.len() }),
                || {
                    format!(
                        "added {} word(s) to {user} ({} in total)",
                        words.len(),
                        dict.len()
                    )
                },
            );
            Ok(())
        }
        SpellCmd::Remove { words, user } => {
            let store = open(store_dir)?;
            let mut dict = UserDictionary::load_blocking(&store, &user)?;
            let removed: Vec<&String> = words.iter().filter(|w| dict.remove(w)).collect();
            dict.save_blocking(&store, &user)?;
            out.emit(
                &json!({ "user": user, "removed": removed, "words": dict.len() }),
                || {
                    format!(
                        "removed {} word(s) from {user} ({} left)",
                        removed.len(),
                        dict.len()
                    )
                },
            );
            Ok(())
        }
        SpellCmd::Words { user } => {
            let dict = load_user(store_dir, &user)?;
            let words: Vec<&str> = dict.words().collect();
            out.emit(&json!({ "user": user, "words": words }), || {
                words.join("\n")
            });
            Ok(())
        }
    }
}
