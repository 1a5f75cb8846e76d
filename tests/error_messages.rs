//! Error messages do not repeat their `source()`: a report that walks the
//! chain (anyhow's `{:#}`, the CLI's error line) prints each cause once.
//! Each case builds a real error of a crate through its public API, one
//! per variant that carries a source.

use blocksmith::store::record::Record;
use blocksmith::store::{DirStore, Key, MemoryStore, PutOptions, Store, StoreExt, block_on};
use serde::{Deserialize, Serialize};
use std::error::Error;

/// Fails when any error in the chain quotes the message of its source.
fn assert_no_repeat(label: &str, e: &(dyn Error + 'static)) {
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(err) = cur {
        if let Some(src) = err.source() {
            let (outer, inner) = (err.to_string(), src.to_string());
            assert!(
                !outer.contains(&inner),
                "{label}: level {depth} message {outer:?} repeats its source {inner:?}"
            );
        }
        cur = err.source();
        depth += 1;
    }
}

/// An I/O error of the directory store, as every engine over it sees it.
fn store_io_error() -> blocksmith::store::Error {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    match DirStore::open(file.join("sub")) {
        Err(e) => e,
        Ok(_) => panic!("a store under a regular file opened"),
    }
}

/// A record the test only ever fails to decode.
#[derive(Debug, Serialize, Deserialize)]
struct Counter {
    #[allow(dead_code)]
    n: u64,
}
impl Record for Counter {
    const KIND: &'static str = "test.counter";
    const VERSION: u32 = 1;
}

/// Same kind and version as [`Counter`], another shape.
#[derive(Serialize, Deserialize)]
struct Wrong {
    s: String,
}
impl Record for Wrong {
    const KIND: &'static str = "test.counter";
    const VERSION: u32 = 1;
}

#[test]
fn store_errors_do_not_repeat_their_source() {
    let io = store_io_error();
    assert!(io.source().is_some(), "the I/O error keeps its cause");
    assert_no_repeat("store io", &io);

    let store = MemoryStore::new();
    let key = Key::new("counter").unwrap();
    // A well-formed envelope of the right kind whose payload is not a Counter.
    let wrong = blocksmith::store::record::encode(&Wrong { s: "seven".into() }).unwrap();
    block_on(store.put(&key, wrong, PutOptions::new())).unwrap();
    let serde = store.blocking().get_record::<Counter>(&key).unwrap_err();
    assert!(serde.source().is_some());
    assert_no_repeat("store record", &serde);

    let other = blocksmith::store::Error::other(std::io::Error::other("quota of the caller"));
    assert_no_repeat("store other", &other);
}

#[test]
fn engine_errors_wrapping_the_store_do_not_repeat_it() {
    let cases: Vec<(&str, Box<dyn Error + 'static>)> = vec![
        (
            "tsz",
            Box::new(blocksmith::tsz::Error::from(store_io_error())),
        ),
        (
            "vault",
            Box::new(blocksmith::vault::Error::from(store_io_error())),
        ),
        (
            "flow",
            Box::new(blocksmith::flow::Error::from(store_io_error())),
        ),
        (
            "tenant",
            Box::new(blocksmith::tenant::Error::from(store_io_error())),
        ),
        (
            "dispute",
            Box::new(blocksmith::dispute::Error::from(store_io_error())),
        ),
        (
            "codes",
            Box::new(blocksmith::codes::Error::from(store_io_error())),
        ),
        (
            "ocr",
            Box::new(blocksmith::ocr::Error::from(store_io_error())),
        ),
        (
            "upload",
            Box::new(blocksmith::upload::Error::from(store_io_error())),
        ),
        (
            "geo",
            Box::new(blocksmith::geo::Error::from(store_io_error())),
        ),
        (
            "feed",
            Box::new(blocksmith::feed::Error::from(store_io_error())),
        ),
        (
            "diff",
            Box::new(blocksmith::diff::Error::from(store_io_error())),
        ),
        (
            "sketch",
            Box::new(blocksmith::sketch::Error::from(store_io_error())),
        ),
        (
            "spell",
            Box::new(blocksmith::spell::Error::from(store_io_error())),
        ),
        (
            "receipts",
            Box::new(blocksmith::receipts::Error::from(store_io_error())),
        ),
    ];
    for (label, e) in &cases {
        assert_no_repeat(label, e.as_ref());
    }
}

#[test]
fn crate_specific_sources_are_not_repeated() {
    let codes = blocksmith::codes::Error::from(std::io::Error::other("disk gone"));
    assert_no_repeat("codes io", &codes);

    let model =
        blocksmith::ocr::builtin::model::Model::from_bytes(b"garbage model bytes").unwrap_err();
    let ocr = blocksmith::ocr::Error::from(model);
    assert!(ocr.source().is_some());
    assert_no_repeat("ocr model", &ocr);

    let upload = blocksmith::upload::Error::from(std::io::Error::other("reader broke"));
    assert_no_repeat("upload source", &upload);
}
