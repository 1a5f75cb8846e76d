//! User dictionaries persisted through blocksmith-store.

use blocksmith_spell::{Speller, UserDictionary, Verdict};
use blocksmith_store::{MemoryStore, RedbStore};

#[test]
fn user_words_are_protected_and_offered() {
    let mut sp = Speller::english();
    assert!(
        sp.correct("kubectl", None).verdict
            != Verdict::Protected(blocksmith_spell::Protection::UserWord)
    );
    sp.user_mut().add("Kubectl").unwrap();
    let c = sp.correct("kubectl", None);
    assert_eq!(
        c.verdict,
        Verdict::Protected(blocksmith_spell::Protection::UserWord)
    );
    assert!(!c.replace);
    // A typo of a user word is corrected to it.
    let c = sp.correct("kubectll", None);
    assert_eq!(c.best, "kubectl", "{c:?}");
    assert!(sp.user_mut().remove("kubectl"));
    assert!(!sp.user().contains("kubectl"));
}

#[test]
fn invalid_words_are_rejected() {
    let mut d = UserDictionary::new();
    assert!(d.add("").is_err());
    assert!(d.add("two words").is_err());
    assert!(d.add(&"x".repeat(65)).is_err());
    assert!(d.record_revert("a b").is_err());
    assert!(d.is_empty());
}

#[test]
fn saves_and_loads_through_memory_and_redb() {
    let mem = MemoryStore::new();
    let dir = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(dir.path().join("s.redb")).unwrap();
    let mut d = UserDictionary::new();
    d.add("blocksmith").unwrap();
    d.record_revert("teh").unwrap();
    for _ in 0..3 {
        d.record_typed("grokking").unwrap();
    }
    d.record_typed("once").unwrap();
    d.save_blocking(&mem, "alice").unwrap();
    d.save_blocking(&redb, "alice").unwrap();
    for back in [
        UserDictionary::load_blocking(&mem, "alice").unwrap(),
        UserDictionary::load_blocking(&redb, "alice").unwrap(),
    ] {
        assert_eq!(back, d);
        assert_eq!(
            back.words().collect::<Vec<_>>(),
            ["blocksmith", "grokking", "teh"]
        );
        assert!(!back.contains("once"));
    }
    assert!(
        UserDictionary::load_blocking(&mem, "bob")
            .unwrap()
            .is_empty()
    );
    assert!(UserDictionary::load_blocking(&mem, "bad key\0").is_err());
}

#[test]
fn concurrent_saves_merge_instead_of_losing_words() {
    let store = MemoryStore::new();
    let mut phone = UserDictionary::load_blocking(&store, "u").unwrap();
    let mut laptop = UserDictionary::load_blocking(&store, "u").unwrap();
    phone.add("ghibli").unwrap();
    laptop.add("tokio").unwrap();
    laptop.record_revert("pls").unwrap();
    phone.save_blocking(&store, "u").unwrap();
    laptop.save_blocking(&store, "u").unwrap();
    let merged = UserDictionary::load_blocking(&store, "u").unwrap();
    assert_eq!(
        merged.words().collect::<Vec<_>>(),
        ["ghibli", "pls", "tokio"]
    );
    assert_eq!(laptop, merged, "save leaves the merged view in memory");
    // A removal on one device survives a stale save from another.
    phone.remove("tokio");
    phone.save_blocking(&store, "u").unwrap();
    let mut stale = merged.clone();
    stale.add("extra").unwrap();
    stale.save_blocking(&store, "u").unwrap();
    let after = UserDictionary::load_blocking(&store, "u").unwrap();
    assert!(!after.contains("tokio"));
    assert!(after.contains("extra") && after.contains("ghibli"));
}

#[test]
fn corrupt_records_are_errors() {
    use blocksmith_store::{Key, StoreExt};
    let store = MemoryStore::new();
    store
        .blocking()
        .put(&Key::new("spell/x/user").unwrap(), "garbage")
        .unwrap();
    assert!(UserDictionary::load_blocking(&store, "x").is_err());
}

mod props {
    use blocksmith_spell::UserDictionary;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add(String),
        Remove(String),
        Revert(String),
        Typed(String),
    }

    fn op() -> impl Strategy<Value = Op> {
        let w = "[a-e]{1,3}";
        prop_oneof![
            w.prop_map(Op::Add),
            w.prop_map(Op::Remove),
            w.prop_map(Op::Revert),
            w.prop_map(Op::Typed),
        ]
    }

    fn apply(d: &mut UserDictionary, ops: &[Op]) {
        for o in ops {
            match o {
                Op::Add(w) => d.add(w).unwrap(),
                Op::Remove(w) => {
                    d.remove(w);
                }
                Op::Revert(w) => d.record_revert(w).unwrap(),
                Op::Typed(w) => d.record_typed(w).unwrap(),
            }
        }
    }

    proptest! {
        #[test]
        fn record_round_trip(ops in prop::collection::vec(op(), 0..40)) {
            let mut d = UserDictionary::new();
            apply(&mut d, &ops);
            let bytes = blocksmith_store::record::encode(&d).unwrap();
            let back: UserDictionary = blocksmith_store::record::decode("k", &bytes).unwrap();
            prop_assert_eq!(back, d);
        }

        #[test]
        fn merge_is_order_independent(a in prop::collection::vec(op(), 0..20), b in prop::collection::vec(op(), 0..20)) {
            let (mut x, mut y) = (UserDictionary::new(), UserDictionary::new());
            apply(&mut x, &a);
            apply(&mut y, &b);
            let mut xy = x.clone();
            xy.merge(&y);
            let mut yx = y.clone();
            yx.merge(&x);
            prop_assert_eq!(xy.words().collect::<Vec<_>>(), yx.words().collect::<Vec<_>>());
            // Merging is idempotent.
            let mut again = xy.clone();
            again.merge(&y);
            prop_assert_eq!(again.words().collect::<Vec<_>>(), xy.words().collect::<Vec<_>>());
        }
    }
}
