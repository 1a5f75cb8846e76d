//! Property tests: round trips and merge laws.

use blocksmith_diff::json_patch::JsonPatch;
use blocksmith_diff::merge::{MergeOptions, merge_text, merge_values};
use blocksmith_diff::patch::{ApplyOptions, Patch, apply_strict};
use blocksmith_diff::structured::{StructuredOptions, diff};
use blocksmith_diff::text::{Algorithm, DiffOptions, Granularity, TextDiff};
use blocksmith_diff::unified::UnifiedOptions;
use blocksmith_diff::value::{Format, parse};
use proptest::prelude::*;
use serde_json::{Value, json};

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Histogram),
        Just(Algorithm::Myers),
        Just(Algorithm::MyersMinimal),
        Just(Algorithm::Patience)
    ]
}

/// Texts from a small alphabet of lines, so that diffs have real structure;
/// sometimes without a final newline, sometimes with CRLF.
fn text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "c", "", "  x", "}", "é", "a\r"]),
            0..40,
        ),
        any::<bool>(),
    )
        .prop_map(|(lines, final_nl)| {
            let mut s = lines.join("\n");
            if final_nl && !s.is_empty() {
                s.push('\n');
            }
            s
        })
}

/// Random JSON values of bounded depth.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        prop::sample::select(vec!["a", "b", "~/", ""]).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["k", "name", "x/y", "a~b", "v"]).prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Arrays of objects with distinct `name`s (identity-matchable), mixed with plain values.
fn named_list() -> impl Strategy<Value = Value> {
    prop::collection::vec((0u8..8, value()), 0..8).prop_map(|items| {
        let mut seen = std::collections::HashSet::new();
        Value::Array(
            items
                .into_iter()
                .filter(|(n, _)| seen.insert(*n))
                .map(|(n, v)| json!({"name": format!("n{n}"), "v": v}))
                .collect(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn unified_patch_round_trips(a in text(), b in text(), alg in algorithm(), ctx in 0usize..4) {
        let d = TextDiff::new(&a, &b, &DiffOptions::default().with_algorithm(alg));
        prop_assert_eq!(d.apply_to_old(), b.clone());
        let u = d.unified(&UnifiedOptions::default().with_context(ctx));
        if a == b {
            prop_assert_eq!(u, "");
        } else {
            let p = Patch::parse(&u).unwrap();
            prop_assert_eq!(apply_strict(&a, &p.files[0], &ApplyOptions::strict()).unwrap(), b.clone());
            // And backwards.
            prop_assert_eq!(apply_strict(&b, &p.files[0].reversed(), &ApplyOptions::strict()).unwrap(), a);
        }
    }

    #[test]
    fn token_diffs_round_trip(a in ".{0,60}", b in ".{0,60}", alg in algorithm(),
                              g in prop_oneof![Just(Granularity::Word), Just(Granularity::Char), Just(Granularity::Line)]) {
        let d = TextDiff::new(&a, &b, &DiffOptions::default().with_algorithm(alg).with_granularity(g));
        prop_assert_eq!(d.apply_to_old(), b);
    }

    #[test]
    fn structured_diff_round_trips(a in value(), b in value()) {
        let d = diff(&a, &b, &StructuredOptions::default());
        prop_assert_eq!(d.is_empty(), a == b);
        let p = d.to_json_patch();
        prop_assert_eq!(p.apply(&a).unwrap(), b.clone());
        // Through JSON text too.
        let text = serde_json::to_string(&p).unwrap();
        prop_assert_eq!(JsonPatch::from_str(&text).unwrap().apply(&a).unwrap(), b);
    }

    #[test]
    fn identity_matched_diff_round_trips(a in named_list(), b in named_list()) {
        let opts = StructuredOptions::default().with_identity_key("name");
        let (a, b) = (json!({"list": a}), json!({"list": b}));
        prop_assert_eq!(diff(&a, &b, &opts).to_json_patch().apply(&a).unwrap(), b);
    }

    #[test]
    fn merge_patch_round_trips(a in value(), b in value()) {
        if let Ok(p) = blocksmith_diff::merge_patch::create(&a, &b) {
            prop_assert_eq!(blocksmith_diff::merge_patch::apply(&a, &p), b);
        }
    }

    #[test]
    fn non_overlapping_text_merges_are_clean(
        n in 1usize..30,
        blocks in prop::collection::vec((0u8..3, 0usize..3, 1usize..4), 1..10),
    ) {
        // Base lines are unique; the base is cut into blocks owned by nobody,
        // ours or theirs, with an untouched line between owned blocks. Each
        // owned block is replaced by new unique lines (possibly none).
        let mut base = Vec::new();
        let (mut ours, mut theirs, mut expected) = (Vec::new(), Vec::new(), Vec::new());
        let mut k = 0;
        for (bi, (owner, new_len, len)) in blocks.into_iter().enumerate() {
            let lines: Vec<String> = (0..len).map(|i| { k += 1; format!("base {k} {i}\n") }).collect();
            let fresh: Vec<String> = (0..new_len).map(|i| format!("{owner}-{bi}-{i}\n")).collect();
            base.extend(lines.clone());
            match owner {
                1 => { ours.extend(fresh.clone()); theirs.extend(lines.clone()); expected.extend(fresh); }
                2 => { ours.extend(lines.clone()); theirs.extend(fresh.clone()); expected.extend(fresh); }
                _ => { ours.extend(lines.clone()); theirs.extend(lines.clone()); expected.extend(lines); }
            }
            // Separator nobody touches.
            let sep = format!("sep {bi}\n");
            for v in [&mut base, &mut ours, &mut theirs, &mut expected] { v.push(sep.clone()); }
        }
        let _ = n;
        let (base, ours, theirs, expected) = (base.concat(), ours.concat(), theirs.concat(), expected.concat());
        let m = merge_text(&base, &ours, &theirs, &MergeOptions::default());
        prop_assert!(m.is_clean(), "{:?}", m.conflicts);
        prop_assert_eq!(&m.text, &expected);
        // Equal to applying both sides' edits (each computed against the base) to the base.
        let d_o = TextDiff::new(&base, &ours, &DiffOptions::default());
        let d_t = TextDiff::new(&base, &theirs, &DiffOptions::default());
        let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
        for d in [&d_o, &d_t] {
            for e in d.edits() {
                edits.push((e.old.clone(), d.new_tokens()[e.new.clone()].concat()));
            }
        }
        edits.sort_by_key(|e| (e.0.start, e.0.end));
        let old = d_o.old_tokens();
        let (mut both, mut at) = (String::new(), 0);
        for (r, repl) in edits {
            prop_assert!(r.start >= at, "edits overlap");
            both.push_str(&old[at..r.start].concat());
            both.push_str(&repl);
            at = r.end;
        }
        both.push_str(&old[at..].concat());
        prop_assert_eq!(both, expected);
    }

    #[test]
    fn non_overlapping_structured_merges_are_clean(
        base in prop::collection::btree_map(0u8..12, value(), 1..12),
        ours_edits in prop::collection::btree_map(0u8..16, prop::option::of(value()), 0..6),
        theirs_edits in prop::collection::btree_map(0u8..16, prop::option::of(value()), 0..6),
    ) {
        let key = |k: u8| format!("k{k}");
        let base: serde_json::Map<String, Value> = base.into_iter().map(|(k, v)| (key(k), v)).collect();
        let apply = |m: &serde_json::Map<String, Value>, edits: &[(u8, Option<Value>)]| {
            let mut m = m.clone();
            for (k, v) in edits {
                match v { Some(v) => { m.insert(key(*k), v.clone()); } None => { m.remove(&key(*k)); } }
            }
            m
        };
        let ours_e: Vec<_> = ours_edits.into_iter().collect();
        // Theirs only touches keys ours leaves alone.
        let theirs_e: Vec<_> = theirs_edits.into_iter().filter(|(k, _)| !ours_e.iter().any(|(o, _)| o == k)).collect();
        let ours = Value::Object(apply(&base, &ours_e));
        let theirs = Value::Object(apply(&base, &theirs_e));
        let base_v = Value::Object(base.clone());
        let m = merge_values(&base_v, &ours, &theirs, &StructuredOptions::default());
        prop_assert!(m.is_clean(), "{:?}", m.conflicts);
        let both = diff(&base_v, &theirs, &StructuredOptions::default()).to_json_patch().apply(&ours).unwrap();
        prop_assert_eq!(&m.value, &both);
        prop_assert_eq!(m.value, Value::Object(apply(&apply(&base, &ours_e), &theirs_e)));
    }

    #[test]
    fn parsers_never_panic(s in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for t in [&s, &lossy] {
            let _ = Patch::parse(t);
            let _ = JsonPatch::from_str(t);
            for f in [Format::Json, Format::Yaml, Format::Toml] {
                let _ = parse(t, f);
            }
        }
    }

    #[test]
    fn patch_parser_survives_mutated_patches(a in text(), b in text(), cut in 0usize..400, junk in ".{0,3}") {
        let u = TextDiff::new(&a, &b, &DiffOptions::default()).unified(&UnifiedOptions::default());
        let mut m = u.clone();
        let at = (0..=cut.min(m.len())).rev().find(|&i| m.is_char_boundary(i)).unwrap_or(0);
        m.insert_str(at, &junk);
        if let Ok(p) = Patch::parse(&m) {
            for f in &p.files {
                let _ = blocksmith_diff::patch::apply(&a, f, &ApplyOptions::default());
            }
        }
    }
}
