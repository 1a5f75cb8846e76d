//! Streaming correction with undo that teaches.

use blocksmith_spell::{Event, Speller, Typist, Verdict};

#[test]
fn corrects_each_word_as_it_is_completed() {
    let mut sp = Speller::english();
    let mut t = Typist::new(&mut sp);
    let mut events = Vec::new();
    for c in "I recieved teh pakage yesterday".chars() {
        events.extend(t.type_str(&c.to_string()));
    }
    // The last word is still being typed: not examined yet.
    assert_eq!(t.text(), "I received the package yesterday");
    let replaced: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Replaced {
                original,
                replacement,
                ..
            } => Some((original.as_str(), replacement.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        replaced,
        [
            ("recieved", "received"),
            ("teh", "the"),
            ("pakage", "package")
        ]
    );
    assert!(t.finish().is_empty());
}

#[test]
fn trailing_word_is_examined_on_finish() {
    let mut sp = Speller::english();
    let mut t = Typist::new(&mut sp);
    assert!(t.type_str("see you tomorow").is_empty() || t.text().starts_with("see you"));
    let ev = t.finish();
    assert_eq!(t.text(), "see you tomorrow");
    assert!(matches!(&ev[..], [Event::Replaced { .. }]));
}

#[test]
fn undo_restores_and_teaches() {
    let mut sp = Speller::english();
    {
        let mut t = Typist::new(&mut sp);
        let ev = t.type_str("the recieved crate ");
        let id = match &ev[..] {
            [Event::Replaced { id, original, .. }] => {
                assert_eq!(original, "recieved");
                *id
            }
            other => panic!("expected one replacement, got {other:?} in {:?}", t.text()),
        };
        t.type_str("works well ");
        // Undo an earlier replacement after more text was typed.
        let e = t.undo(id).unwrap();
        assert_eq!(
            e,
            Event::Reverted {
                id,
                word: "recieved".into()
            }
        );
        assert_eq!(t.text(), "the recieved crate works well ");
        assert!(t.undo(id).is_err(), "undoing twice is an error");
        assert!(t.undo_last().is_err(), "nothing left to undo");
        // Typed again: now left alone.
        let ev = t.type_str("recieved ");
        assert!(
            ev.iter().all(|e| !matches!(e, Event::Replaced { .. })),
            "{ev:?}"
        );
        assert_eq!(t.text(), "the recieved crate works well recieved ");
    }
    assert!(sp.user().contains("recieved"));
    assert_eq!(sp.user().learned("recieved").unwrap().reverted, 1);
    assert_eq!(
        sp.correct("recieved", None).verdict,
        Verdict::Protected(blocksmith_spell::Protection::UserWord)
    );
}

#[test]
fn words_typed_often_are_learned() {
    let mut sp = Speller::english();
    {
        let mut t = Typist::new(&mut sp);
        // "zorbly" has no close candidate: kept, and counted each time.
        for _ in 0..3 {
            t.type_str("zorbly ");
        }
    }
    assert!(sp.user().contains("zorbly"));
    // A learned word becomes a correction target itself.
    assert_eq!(sp.correct("zorbyl", None).best, "zorbly");
}

#[test]
fn undo_with_nothing_done_is_an_error() {
    let mut sp = Speller::english();
    let mut t = Typist::new(&mut sp);
    assert!(t.undo_last().is_err());
    assert!(t.undo(42).is_err());
}

/// Regression (fuzz target `spell_text`): two words replaced in one chunk
/// ("tuth-tuth") where the first replacement changes the length. The second
/// replacement's offset must account for the first, or undo finds the text
/// "edited since" and leaves it corrected.
#[test]
fn two_replacements_in_one_chunk_report_their_real_offsets_and_undo() {
    for typed in ["tuth-tuth", "teh-recieve-teh"] {
        let mut sp = Speller::english();
        let mut t = Typist::new(&mut sp);
        let mut events = t.type_str(typed);
        events.extend(t.finish());
        let replaced: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Replaced {
                    start, replacement, ..
                } => Some((*start, replacement.clone())),
                _ => None,
            })
            .collect();
        assert!(replaced.len() >= 2, "{typed}: {events:?}");
        for (start, replacement) in &replaced {
            assert_eq!(
                t.text().get(*start..start + replacement.len()),
                Some(replacement.as_str()),
                "{typed}: offsets of {events:?} in {:?}",
                t.text()
            );
        }
        while t.undo_last().is_ok() {}
        assert_eq!(t.text(), typed);
    }
}

mod props {
    use super::super::speller;
    use blocksmith_spell::Typist;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("teh"),
                Just("recieve"),
                Just("the"),
                Just("Jhon"),
                Just("inthe"),
                Just("x@y.com"),
                Just("acommodate,"),
                Just("(pakage)"),
                Just("well-konwn"),
                Just("é"),
                Just("NASA"),
                Just("42"),
                Just("tomorow."),
                Just("'"),
                Just("tuth-tuth"),
                Just("teh/recieve")
            ],
            0..12,
        )
        .prop_flat_map(|words| {
            let n = words.len();
            (
                Just(words),
                prop::collection::vec(prop_oneof![Just(" "), Just("  "), Just("\n")], n),
            )
        })
        .prop_map(|(words, seps)| {
            let mut t = String::new();
            for (w, s) in words.iter().zip(seps) {
                t.push_str(w);
                t.push_str(s);
            }
            t
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn stream_matches_whole_text_and_undo_restores(t in text()) {
            let whole = speller().correct_text(&t);
            for r in &whole.replacements {
                prop_assert_eq!(&t[r.start..r.end], r.original.as_str());
            }
            let mut sp = speller().clone();
            let mut ty = Typist::new(&mut sp);
            ty.type_str(&t);
            ty.finish();
            prop_assert_eq!(ty.text(), whole.text.as_str());
            while ty.undo_last().is_ok() {}
            prop_assert_eq!(ty.text(), t.as_str());
        }
    }
}
