//! Whole-text correction.

use super::speller;

#[test]
fn corrects_running_text_keeping_punctuation_and_case() {
    let s = speller();
    let r =
        s.correct_text("Teh quick brown fox, accross!  It was \"beleived\".\nRecieve it (please).");
    assert_eq!(
        r.text,
        "The quick brown fox, across!  It was \"believed\".\nReceive it (please)."
    );
    assert_eq!(r.replacements.len(), 4);
    let first = &r.replacements[0];
    assert_eq!(
        (
            first.start,
            first.end,
            first.original.as_str(),
            first.replacement.as_str()
        ),
        (0, 3, "Teh", "The")
    );
    assert_eq!(r.words, 11);
}

#[test]
fn never_touches_protected_tokens() {
    let s = speller();
    let input = "Ask Jhon Smiht at jhon@exmaple.com or see https://exmaple.com/pge and www.exmaple.org; \
                 NASSA said teh value_of_x is 42nd in getVlaue() and C:\\Prgram.";
    let r = s.correct_text(input);
    assert_eq!(
        r.text,
        "Ask Jhon Smiht at jhon@exmaple.com or see https://exmaple.com/pge and www.exmaple.org; \
         NASSA said the value_of_x is 42nd in getVlaue() and C:\\Prgram."
    );
    assert_eq!(r.replacements.len(), 1);
}

#[test]
fn sentence_start_capitals_are_corrected_but_mid_sentence_names_are_not() {
    let s = speller();
    let r = s.correct_text("Recieve the parcel. Recieve it again, said Recieve.");
    assert_eq!(
        r.text,
        "Receive the parcel. Receive it again, said Recieve."
    );
}

#[test]
fn hyphenated_parts_are_checked_separately() {
    let s = speller();
    let r = s.correct_text("a well-konwn state-of-teh-art design");
    assert_eq!(r.text, "a well-known state-of-the-art design");
}

#[test]
fn unsure_words_are_flagged_with_suggestions() {
    let s = speller();
    let r = s.correct_text("we saw thn there");
    assert_eq!(r.text, "we saw thn there");
    assert_eq!(r.flagged.len(), 1);
    assert_eq!(r.flagged[0].word, "thn");
    assert!(!r.flagged[0].suggestions.is_empty());
}

#[test]
fn empty_and_odd_inputs() {
    let s = speller();
    for t in [
        "",
        "   ",
        "...",
        "\n\n",
        "'",
        "-",
        "--- ---",
        "a",
        "é",
        "🙂 teh 🙂",
        "x'y'z",
        "'''teh'''",
    ] {
        let r = s.correct_text(t);
        assert!(r.text.len() + 3 >= t.len(), "{t:?} -> {:?}", r.text);
        for x in &r.replacements {
            assert_eq!(&t[x.start..x.end], x.original);
        }
    }
    assert_eq!(s.correct_text("🙂 teh 🙂").text, "🙂 the 🙂");
}
