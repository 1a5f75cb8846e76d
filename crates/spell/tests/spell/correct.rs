//! Single-word correction: candidates, ranking, confidence, protections.

use super::speller;
use blocksmith_spell::{Layout, Protection, SpellOptions, Speller, Verdict};

#[test]
fn common_typos_are_replaced() {
    let s = speller();
    for (typo, want) in [
        ("teh", "the"),
        ("acommodate", "accommodate"),
        ("recieve", "receive"),
        ("seperate", "separate"),
        ("occured", "occurred"),
        ("untill", "until"),
        ("konwn", "known"),
        ("pakage", "package"),
        ("goverment", "government"),
        ("becuase", "because"),
    ] {
        let c = s.correct(typo, None);
        assert_eq!(c.best, want, "{typo}: {c:?}");
        assert!(c.replace, "{typo} should be replaced silently: {c:?}");
        assert_eq!(c.verdict, Verdict::Replace);
        assert!(c.confidence >= s.options().threshold);
    }
    // Right, but not sure enough to act alone: suggested.
    let c = s.correct("definately", None);
    assert_eq!(c.best, "definitely");
    assert!(
        c.confidence > 0.9 && c.confidence < s.options().threshold,
        "{c:?}"
    );
    assert_eq!(c.verdict, Verdict::Suggest);
}

#[test]
fn known_words_are_never_replaced() {
    let s = speller();
    for w in [
        "the", "their", "there", "form", "from", "affect", "effect", "don't",
    ] {
        let c = s.correct(w, None);
        assert_eq!(c.verdict, Verdict::Known, "{w}");
        assert!(!c.replace);
        assert_eq!(c.best, w);
    }
    // Possessives of known words are known too.
    assert_eq!(s.correct("friend's", None).verdict, Verdict::Known);
}

#[test]
fn case_is_preserved() {
    let s = speller();
    assert_eq!(s.correct("Teh", None).best, "The");
    assert_eq!(s.correct("Recieve", None).best, "Receive");
    // All capitals is an acronym: left alone.
    assert_eq!(
        s.correct("TEH", None).verdict,
        Verdict::Protected(Protection::Acronym)
    );
}

#[test]
fn protections() {
    let s = speller();
    for (w, p) in [
        ("https://exmaple.com", Protection::Url),
        ("jon@exmaple.com", Protection::Email),
        ("abc123", Protection::Number),
        ("my_var", Protection::Code),
        ("getElemnt", Protection::Code),
        ("NASA", Protection::Acronym),
        ("naïve", Protection::Foreign),
    ] {
        let c = s.correct(w, None);
        assert_eq!(c.verdict, Verdict::Protected(p), "{w}");
        assert!(!c.replace);
        assert_eq!(c.best, w);
    }
}

#[test]
fn unsure_words_are_suggested_not_replaced() {
    let s = speller();
    // Three-letter abbreviations one edit from rarer words are left alone,
    // three-letter slips of very common words are not.
    for w in ["env", "tmp", "irl"] {
        let c = s.correct(w, None);
        assert!(!c.replace, "{c:?}");
    }
    for (w, want) in [("adn", "and"), ("yuo", "you"), ("wih", "with")] {
        let c = s.correct(w, None);
        assert!(c.replace && c.best == want, "{c:?}");
    }
    // Two-letter words are never replaced.
    let c = s.correct("th", None);
    assert!(!c.replace);
    // An invented word far from everything is kept.
    let c = s.correct("zxqvbw", None);
    assert!(!c.replace, "{c:?}");
    assert_eq!(c.best, "zxqvbw");
    // Ambiguous typos are suggested: several candidates share the mass.
    for w in ["thn", "wierd"] {
        let c = s.correct(w, None);
        assert!(!c.replace, "{c:?}");
        assert_eq!(c.verdict, Verdict::Suggest);
        assert!(
            c.suggestions.len() > 1 && c.suggestions[1].confidence > 0.05,
            "{c:?}"
        );
    }
}

#[test]
fn transpositions_count_as_one_edit() {
    let s = speller();
    let c = s.correct("recieve", None);
    assert_eq!(c.suggestions[0].distance, 1);
}

#[test]
fn long_words_reach_distance_three() {
    let s = speller();
    // Three edits away from "responsibility".
    let c = s.correct("responsbilitty", None);
    assert_eq!(c.best, "responsibility", "{c:?}");
    let c = s.correct("resposibilitye", None);
    assert!(
        c.suggestions.iter().any(|x| x.word == "responsibility"),
        "{c:?}"
    );
}

#[test]
fn run_together_words_are_split() {
    let s = speller();
    let c = s.correct("inthe", None);
    assert_eq!(c.best, "in the", "{c:?}");
    assert_eq!(
        s.segment("thequickbrownfoxjumpsoverthelazydog"),
        [
            "the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"
        ]
    );
    assert_eq!(
        s.segment("itwasthebestoftimes!"),
        ["it", "was", "the", "best", "of", "times", "!"]
    );
}

#[test]
fn previous_word_shifts_the_ranking() {
    let s = speller();
    // "lates": "latest" after "the", "later" after "see you".
    let a = s.correct("lates", Some("the"));
    let b = s.correct("lates", Some("you"));
    let score = |c: &blocksmith_spell::Correction, w: &str| {
        c.suggestions
            .iter()
            .find(|x| x.word == w)
            .map_or(0.0, |x| x.confidence)
    };
    assert!(score(&a, "latest") > score(&b, "latest"), "{a:?} / {b:?}");
}

#[test]
fn keyboard_layout_changes_the_error_model() {
    let qwerty = Speller::english_with(SpellOptions::default().with_layouts(&[Layout::Qwerty]));
    let azerty = Speller::english_with(SpellOptions::default().with_layouts(&[Layout::Azerty]));
    // On AZERTY 'm' sits next to 'l' (on QWERTY it does not): "helmo" is a
    // slip for "hello" there.
    let q = qwerty.correct("helmo", None);
    let a = azerty.correct("helmo", None);
    let conf = |c: &blocksmith_spell::Correction| {
        c.suggestions
            .iter()
            .find(|x| x.word == "hello")
            .map_or(0.0, |x| x.confidence)
    };
    assert!(conf(&a) > conf(&q), "{q:?} / {a:?}");
}

#[test]
fn confidence_is_a_probability() {
    let s = speller();
    for w in ["teh", "cas", "zzzz", "inthe", "speling", "Recieve"] {
        let c = s.correct(w, None);
        assert!((0.0..=1.0).contains(&c.confidence), "{w}: {c:?}");
        for x in &c.suggestions {
            assert!((0.0..=1.0).contains(&x.confidence));
        }
        let mut last = f64::INFINITY;
        for x in &c.suggestions {
            assert!(x.confidence <= last + 1e-12, "ranked best first: {c:?}");
            last = x.confidence;
        }
    }
}
