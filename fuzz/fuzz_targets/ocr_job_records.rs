//! `ocr` job records read back from a store: arbitrary bytes as the job record at
//! `jobs/fz/job` of a `MemoryStore` (the first input byte picks: as the job record, or as the
//! record of its first page beside a valid job), with a tiny PBM input beside it; then every
//! public path: status, result, list, cancel, claim, run_pending (which runs the engine with
//! the record's options), submit. Typed errors, never a panic.
#![no_main]

use blocksmith_fuzz::record_bytes;
use blocksmith_ocr::jobs::{JobId, JobOptions, JobQueue};
use blocksmith_ocr::{Engine, EngineOptions, LineImage, Recognizer, WordGuess};
use blocksmith_store::{Key, MemoryStore, StoreExt};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

/// Recognizes nothing, instantly.
struct Blank;

impl Recognizer for Blank {
    fn recognize_line(&self, _: &LineImage<'_>) -> Vec<WordGuess> {
        Vec::new()
    }
}

/// A 2x2 plain PBM.
const INPUT: &[u8] = b"P1\n2 2\n1 0\n0 1\n";

fuzz_target!(|data: &[u8]| {
    let Some((&slot, payload)) = data.split_first() else {
        return;
    };
    let q = JobQueue::new(MemoryStore::new(), "jobs", JobOptions::default()).with_clock(|| 1_000);
    let id = JobId("fz".into());
    let b = q.store().blocking();
    b.put(&Key::new("jobs/fz/input").unwrap(), INPUT.to_vec())
        .unwrap();
    if slot & 1 == 0 {
        let bytes = record_bytes("ocr.job", 1, payload);
        b.put(&Key::new("jobs/fz/job").unwrap(), bytes).unwrap();
    } else {
        // A real job of the same input, done, with the fuzzed bytes as its first page.
        let real = q
            .blocking()
            .submit(INPUT, &EngineOptions::default())
            .unwrap();
        let engine = Engine::new(EngineOptions::default(), Arc::new(Blank));
        q.blocking().run_pending(&engine, 1).unwrap();
        let bytes = record_bytes("ocr.page", 1, payload);
        b.put(
            &Key::new(format!("jobs/{real}/page/000000")).unwrap(),
            bytes,
        )
        .unwrap();
        let _ = q.blocking().result(&real);
        return;
    }
    let _ = q.blocking().status(&id);
    let _ = q.blocking().result(&id);
    let _ = q.blocking().list();
    let engine = Engine::new(EngineOptions::default(), Arc::new(Blank));
    let _ = q.blocking().claim(&id);
    let _ = q.blocking().run_pending(&engine, 1);
    let _ = q.blocking().status(&id);
    let _ = q.blocking().result(&id);
    let _ = q.blocking().cancel(&id);
    let _ = q.blocking().submit(INPUT, &EngineOptions::default());
});
