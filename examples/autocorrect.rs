//! Autocorrect while typing: a simulated user types a note character by
//! character; words are corrected as they are completed, one correction is
//! undone (which teaches the engine), the learned words are saved through the
//! store and reloaded by a fresh session that leaves them alone.
//!
//! ```text
//! cargo run --release --example autocorrect
//! ```

use blocksmith::spell::{Event, Speller, Typist, UserDictionary, Verdict};
use blocksmith::store::Store;
use std::error::Error;

const NOTE: &str = "Teh tokio runtime failed becuase the pakage was not recieved. \
                    Ask Jhon (jhon@exmaple.com) to chek https://exmaple.com/status tomorow, \
                    the NASA_KEY env var is fine. Will retry inthe morning.";

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    let mut speller = Speller::english();
    speller.set_user(UserDictionary::load_blocking(&store, "demo-user")?);
    let (replaced, suggested, undone, text) = {
        let mut typist = Typist::new(&mut speller);
        let (mut replaced, mut suggested) = (0, 0);
        let mut undo_id = None;
        for c in NOTE.chars() {
            for e in typist.type_str(&c.to_string()) {
                match e {
                    Event::Replaced { id, original, .. } => {
                        replaced += 1;
                        // The user meant "tokio" (a Rust runtime), not "Tokyo": undo it.
                        if original == "tokio" {
                            undo_id = Some(id);
                        }
                    }
                    Event::Suggested { .. } => suggested += 1,
                    _ => {}
                }
            }
        }
        for e in typist.finish() {
            if matches!(e, Event::Replaced { .. }) {
                replaced += 1;
            }
        }
        let mut undone = String::new();
        if let Some(id) = undo_id
            && let Event::Reverted { word, .. } = typist.undo(id)?
        {
            undone = word;
        }
        (replaced, suggested, undone, typist.text().to_string())
    };
    let mut user = speller.user().clone();
    user.save_blocking(&store, "demo-user")?;

    // A new session on another device loads what was learned.
    let mut fresh = Speller::english();
    fresh.set_user(UserDictionary::load_blocking(&store, "demo-user")?);
    let kept = fresh.correct("tokio", None).verdict
        == Verdict::Protected(blocksmith::spell::Protection::UserWord);
    let fixed = fresh.correct_text("teh pakage from tokio");
    Ok(format!(
        "spell   typed {} words: {replaced} replaced silently, {suggested} suggested, undo of {undone:?} learned \
         (reloaded session keeps it: {kept}); result: {text:?}; reloaded session corrects \"teh pakage from tokio\" -> {:?}",
        NOTE.split_whitespace().count(),
        fixed.text
    ))
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/autocorrect");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = blocksmith::store::RedbStore::open(dir.join("autocorrect.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
