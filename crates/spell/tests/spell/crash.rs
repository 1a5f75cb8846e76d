//! The user dictionary's crash promise, checked with the store's fault
//! injector: two devices of one user (two handles on one store) add,
//! learn and remove words and save by compare-and-swap merges, and a crash
//! (or a lost acknowledgement, or a torn put) hits every store operation in
//! turn. Restarted from the store alone, the dictionary loads as the merge
//! of every save acknowledged, with or without the save in flight: no
//! acknowledged word is lost, no acknowledged removal comes back, and a new
//! handle saves again.

use blocksmith_spell::UserDictionary;
use blocksmith_store::testing::{CrashPoint, Fault, OpKind, crash_at_every_operation};
use blocksmith_store::{MemoryStore, Store};

const USER: &str = "alice";

#[derive(Debug, Clone, Copy)]
enum Device {
    Phone,
    Laptop,
}

/// One step of the user's life on a device.
#[derive(Debug, Clone, Copy)]
enum Step {
    Add(&'static str),
    Remove(&'static str),
    Revert(&'static str),
    Typed(&'static str),
    Save,
}

use Device::{Laptop, Phone};
use Step::{Add, Remove, Revert, Save, Typed};

/// Each device edits its copy and saves now and then; a device sees the
/// other's words once it saved after them (the merge brings them in).
const LIFE: &[(Device, Step)] = &[
    (Phone, Add("ghibli")),
    (Phone, Add("kubectl")),
    (Phone, Save),
    (Laptop, Add("tokio")),
    (Laptop, Revert("pls")),
    (Laptop, Save),
    (Phone, Typed("grokking")),
    (Phone, Typed("grokking")),
    (Phone, Typed("grokking")),
    (Phone, Remove("kubectl")),
    (Phone, Save),
    (Laptop, Add("serde")),
    (Laptop, Typed("grokking")),
    (Laptop, Save),
    (Phone, Add("blocksmith")),
    (Phone, Save),
    (Laptop, Remove("tokio")),
    (Laptop, Add("kubectl")),
    (Laptop, Save),
    (Phone, Revert("teh")),
    (Phone, Save),
];

/// The protected words after each save of `LIFE` (index: saves done). The
/// third save removes "kubectl" (the phone had it), the sixth adds it back
/// (the laptop had merged the removal, so its addition is later).
const WORDS_AFTER: &[&[&str]] = &[
    &[],
    &["ghibli", "kubectl"],
    &["ghibli", "kubectl", "pls", "tokio"],
    &["ghibli", "grokking", "pls", "tokio"],
    &["ghibli", "grokking", "pls", "serde", "tokio"],
    &["blocksmith", "ghibli", "grokking", "pls", "serde", "tokio"],
    &[
        "blocksmith",
        "ghibli",
        "grokking",
        "kubectl",
        "pls",
        "serde",
    ],
    &[
        "blocksmith",
        "ghibli",
        "grokking",
        "kubectl",
        "pls",
        "serde",
        "teh",
    ],
];

/// What the devices saw: the copy each acknowledged save sent, in order,
/// and the one in flight when the crash hit.
#[derive(Debug, Default)]
struct Seen {
    acked: Vec<UserDictionary>,
    inflight: Option<UserDictionary>,
}

fn workload<S: Store>(store: &S) -> Seen {
    let mut seen = Seen::default();
    let Ok(mut phone) = UserDictionary::load_blocking(store, USER) else {
        return seen;
    };
    let Ok(mut laptop) = UserDictionary::load_blocking(store, USER) else {
        return seen;
    };
    for &(device, step) in LIFE {
        let d = match device {
            Phone => &mut phone,
            Laptop => &mut laptop,
        };
        match step {
            Add(w) => d.add(w).unwrap(),
            Remove(w) => {
                d.remove(w);
            }
            Revert(w) => d.record_revert(w).unwrap(),
            Typed(w) => d.record_typed(w).unwrap(),
            Save => {
                let sent = d.clone();
                seen.inflight = Some(sent.clone());
                if d.save_blocking(store, USER).is_err() {
                    // The handle keeps its words for a later save.
                    assert_eq!(*d, sent, "a failed save changed the handle");
                    return seen;
                }
                seen.acked.push(sent);
                seen.inflight = None;
            }
        }
    }
    seen
}

/// The stored dictionary after the saves of `sent`, in order.
fn merged<'a>(sent: impl IntoIterator<Item = &'a UserDictionary>) -> UserDictionary {
    let mut d = UserDictionary::new();
    for s in sent {
        d.merge(s);
    }
    d
}

/// Whether the fault tore the dictionary record (overwritten in place by
/// compare-and-swap). The `Store` contract makes puts atomic, so no
/// conforming backend can do that; loading must then still never give a
/// wrong dictionary, but it may fail with a typed error.
fn tore_in_place(point: &CrashPoint) -> bool {
    point.plan.fault == Fault::Tear
        && point
            .operation
            .as_ref()
            .is_some_and(|op| op.kind == OpKind::Put)
}

#[allow(clippy::needless_pass_by_value)] // the shape CrashTest::run hands over
fn check(inner: MemoryStore, seen: Seen, point: &CrashPoint) {
    let back = match UserDictionary::load_blocking(&inner, USER) {
        Ok(d) => d,
        Err(e) if tore_in_place(point) => {
            eprintln!("{point}: typed error after a torn dictionary: {e}");
            return;
        }
        Err(e) => panic!("{point}: the dictionary does not load: {e}"),
    };
    let without = merged(&seen.acked);
    let with = merged(seen.acked.iter().chain(&seen.inflight));
    assert!(
        back == without || back == with,
        "{point}: loaded {back:?}, acknowledged {without:?}"
    );
    // In words, against the table of what each save protects.
    let k = seen.acked.len();
    let words: Vec<&str> = back.words().collect();
    assert!(
        words == WORDS_AFTER[k] || (seen.inflight.is_some() && words == WORDS_AFTER[k + 1]),
        "{point}: words {words:?} after {k} acknowledged saves"
    );
    // A restarted device carries on: it loads, adds a word and saves.
    let mut d = UserDictionary::load_blocking(&inner, USER).unwrap();
    d.add("restarted").unwrap();
    d.save_blocking(&inner, USER)
        .unwrap_or_else(|e| panic!("{point}: save after restart: {e}"));
    let after = UserDictionary::load_blocking(&inner, USER).unwrap();
    assert!(after.contains("restarted"), "{point}");
    assert_eq!(
        after
            .words()
            .filter(|w| *w != "restarted")
            .collect::<Vec<_>>(),
        back.words().collect::<Vec<_>>(),
        "{point}: saving after restart changed other words"
    );
}

#[test]
fn user_dictionary_survives_a_crash_at_every_store_operation() {
    let report = crash_at_every_operation(MemoryStore::new, workload, check);
    // Two loads, then a read and a compare-and-swap write per save.
    let saves = LIFE.iter().filter(|(_, s)| matches!(s, Save)).count() as u64;
    assert_eq!(report.operations, 2 + 2 * saves, "{report:?}");
    assert_eq!(report.crashes, 3 * report.operations as usize, "{report:?}");
}

#[test]
fn the_whole_life_keeps_both_devices_words() {
    let store = MemoryStore::new();
    let seen = workload(&store);
    assert!(seen.inflight.is_none());
    let back = UserDictionary::load_blocking(&store, USER).unwrap();
    assert_eq!(back, merged(&seen.acked));
    assert_eq!(seen.acked.len(), WORDS_AFTER.len() - 1);
    assert_eq!(
        back.words().collect::<Vec<_>>(),
        WORDS_AFTER[seen.acked.len()]
    );
    // Each save's copy alone, merged in order, gives the table.
    for (k, want) in WORDS_AFTER.iter().enumerate() {
        assert_eq!(merged(&seen.acked[..k]).words().collect::<Vec<_>>(), *want);
    }
}
