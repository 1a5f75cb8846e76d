//! The job queue's crash promise, checked with the store's fault injector:
//! five jobs are submitted (a two-page document, a page whose recogniser
//! fails once, a page it always fails on, an input that does not decode,
//! one cancelled then submitted again), run by a worker, read back; a crash
//! (or a lost acknowledgement, or a torn put) hits every store operation in
//! turn. Restarted from the store alone, every acknowledged submission is
//! there, every acknowledged status still holds, every job reads back in a
//! valid state (a `Done` job has its whole result), and a new worker takes
//! over the interrupted work and brings every job to its end with the same
//! results an uninterrupted queue gives.

use super::input::tiff_pages;
use super::render::text_page;
use blocksmith_ocr::jobs::{JobOptions, JobQueue, JobStatus};
use blocksmith_ocr::{
    CharGuess, Engine, EngineOptions, JobId, LineImage, Recognizer, WordGuess, export,
};
use blocksmith_store::testing::{CrashPoint, CrashTest, Fault, OpKind};
use blocksmith_store::{MemoryStore, Store};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const PREFIX: &str = "ocr/jobs";

/// Lines at least this tall fail once per recogniser (a transient fault).
const FLAKY: u32 = 25;
/// Lines at least this tall always fail.
const BROKEN: u32 = 40;

/// A fast, deterministic recogniser: one word per word box, named by its
/// size. Panics (an `Error::Recognizer` for the engine) on tall lines.
struct Fake {
    flaky: bool,
    failed_once: AtomicBool,
}

impl Fake {
    fn new(flaky: bool) -> Arc<Self> {
        Arc::new(Fake {
            flaky,
            failed_once: AtomicBool::new(false),
        })
    }
}

/// Keeps the recogniser's injected panics (caught by the engine, hundreds of
/// them) off the test output; any other panic is reported as usual.
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !matches!(msg, "broken line" | "flaky line") {
                previous(info);
            }
        }));
    });
}

impl Recognizer for Fake {
    fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess> {
        let h = line.gray.height();
        assert!(h < BROKEN, "broken line");
        let fail = self.flaky && h >= FLAKY && !self.failed_once.swap(true, Ordering::SeqCst);
        assert!(!fail, "flaky line");
        line.words
            .iter()
            .map(|&bbox| WordGuess {
                chars: format!("w{}x{}", bbox.w, bbox.h)
                    .chars()
                    .map(|ch| CharGuess {
                        ch,
                        bbox,
                        confidence: 0.9,
                    })
                    .collect(),
                bbox,
                confidence: 0.9,
            })
            .collect()
    }
}

/// The options of every job: small upright pages need no deskew or
/// orientation search, which keeps the hundreds of runs fast.
fn options() -> EngineOptions {
    EngineOptions::new()
        .with_deskew(false)
        .with_orientation(false)
}

fn engine(flaky: bool) -> Engine {
    quiet_injected_panics();
    Engine::new(options(), Fake::new(flaky))
}

fn queue<S: Store>(store: S) -> JobQueue<S> {
    // No lease: a job left running by the crashed worker is taken over at
    // once by the restarted one (the clock needs no faking).
    let opts = JobOptions::new()
        .with_max_attempts(2)
        .with_lease(Duration::ZERO);
    JobQueue::new(store, PREFIX, opts)
}

/// The jobs of the workload, in submission order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Doc {
    /// Two pages of small text: done.
    Pages,
    /// One page the recogniser fails on once: retried, done.
    Flaky,
    /// One page the recogniser always fails on: failed after two attempts.
    Broken,
    /// Bytes that do not decode: failed at once.
    Corrupt,
    /// Cancelled while queued, then submitted again: done.
    Cancelled,
    /// Submitted only after the restart.
    Extra,
}

const DOCS: [Doc; 5] = [
    Doc::Pages,
    Doc::Flaky,
    Doc::Broken,
    Doc::Corrupt,
    Doc::Cancelled,
];

fn bytes(doc: Doc) -> &'static [u8] {
    static BYTES: OnceLock<BTreeMap<Doc, Vec<u8>>> = OnceLock::new();
    let all = BYTES.get_or_init(|| {
        let page = |px: f32, lines: usize| text_page(260, 40 + (px * 1.6) as u32 * 2, px, lines).0;
        BTreeMap::from([
            (Doc::Pages, tiff_pages(&[page(14.0, 2), page(14.0, 1)])),
            (Doc::Flaky, tiff_pages(&[page(24.0, 1)])),
            (Doc::Broken, tiff_pages(&[page(40.0, 1)])),
            (Doc::Corrupt, b"P4\n5 5\n".to_vec()),
            (Doc::Cancelled, tiff_pages(&[page(14.0, 1)])),
            (Doc::Extra, tiff_pages(&[text_page(200, 60, 14.0, 1).0])),
        ])
    });
    &all[&doc]
}

fn id(doc: Doc) -> JobId {
    JobQueue::<MemoryStore>::job_id(bytes(doc), &options())
}

/// The text of each job that ends done, from an uninterrupted queue.
fn expected_text(doc: Doc) -> &'static str {
    static TEXT: OnceLock<BTreeMap<Doc, String>> = OnceLock::new();
    let all = TEXT.get_or_init(|| {
        let q = queue(MemoryStore::new());
        let Seen { statuses, .. } = workload(&q);
        assert!(statuses[&Doc::Cancelled] == JobStatus::Done, "{statuses:?}");
        DOCS.iter()
            .filter(|&&d| statuses[&d] == JobStatus::Done)
            .map(|&d| (d, export::to_text(&q.blocking().result(&id(d)).unwrap())))
            .collect()
    });
    &all[&doc]
}

/// What the caller saw acknowledged.
#[derive(Debug, Default)]
struct Seen {
    /// Submissions that returned their id.
    submitted: Vec<Doc>,
    /// The cancel of `Doc::Cancelled` returned.
    cancelled: bool,
    /// Its second submission was made (it may or may not have landed)...
    resubmitting: bool,
    /// ...and returned.
    resubmitted: bool,
    /// Statuses read back (the last read of each job).
    statuses: BTreeMap<Doc, JobStatus>,
}

fn workload<S: Store>(q: &JobQueue<S>) -> Seen {
    let mut seen = Seen::default();
    for doc in DOCS {
        if q.blocking().submit(bytes(doc), &options()).is_err() {
            return seen;
        }
        seen.submitted.push(doc);
    }
    if q.blocking().cancel(&id(Doc::Cancelled)).is_err() {
        return seen;
    }
    seen.cancelled = true;
    let engine = engine(true);
    if q.blocking().run_pending(&engine, 1).is_err() {
        return seen;
    }
    for doc in DOCS {
        let Ok(s) = q.blocking().status(&id(doc)) else {
            return seen;
        };
        seen.statuses.insert(doc, s);
    }
    seen.resubmitting = true;
    if q.blocking()
        .submit(bytes(Doc::Cancelled), &options())
        .is_err()
    {
        return seen;
    }
    seen.resubmitted = true;
    if q.blocking().run_pending(&engine, 1).is_err() {
        return seen;
    }
    if let Ok(s) = q.blocking().status(&id(Doc::Cancelled)) {
        seen.statuses.insert(Doc::Cancelled, s);
    }
    seen
}

/// A status without its error text.
fn summary(s: &JobStatus) -> String {
    match s {
        JobStatus::Failed { attempts, .. } => format!("failed after {attempts}"),
        s => format!("{s:?}"),
    }
}

/// The statuses a job may end with once every job has run. A crash
/// during an attempt costs that attempt, so a job that fails may have made
/// one more; the cancelled job is `Cancelled` or `Done` as the crash left
/// its cancellation and second submission.
fn final_statuses(doc: Doc, seen: &Seen) -> Vec<String> {
    let done = summary(&JobStatus::Done);
    let cancelled = summary(&JobStatus::Cancelled);
    match doc {
        Doc::Pages | Doc::Flaky | Doc::Extra => vec![done],
        Doc::Broken => vec!["failed after 2".into(), "failed after 3".into()],
        Doc::Corrupt => vec!["failed after 1".into(), "failed after 2".into()],
        Doc::Cancelled if seen.resubmitted => vec![done],
        Doc::Cancelled if seen.cancelled && !seen.resubmitting => vec![cancelled],
        Doc::Cancelled => vec![cancelled, done],
    }
}

/// Whether the fault tore a job record (overwritten in place by
/// compare-and-swap). The `Store` contract makes puts atomic, so no
/// conforming backend can do that; the job must then never read back as
/// another state, but it may fail with a typed error.
fn tore_record_of(point: &CrashPoint, doc: Doc) -> bool {
    point.plan.fault == Fault::Tear
        && point.operation.as_ref().is_some_and(|op| {
            op.kind == OpKind::Put && op.key == format!("{PREFIX}/{}/job", id(doc))
        })
}

/// A status read after the restart is valid for a job: a done job has its
/// whole result, with the text an uninterrupted queue gives.
fn check_valid<S: Store>(q: &JobQueue<S>, doc: Doc, status: &JobStatus, point: &CrashPoint) {
    match status {
        JobStatus::Done => {
            let doc_ = q
                .blocking()
                .result(&id(doc))
                .unwrap_or_else(|e| panic!("{point}: {doc:?} done without a result: {e}"));
            assert_eq!(
                export::to_text(&doc_),
                expected_text(doc),
                "{point}: {doc:?}"
            );
        }
        JobStatus::Failed { .. } => {
            assert!(
                matches!(doc, Doc::Broken | Doc::Corrupt),
                "{point}: {doc:?} {status:?}"
            );
        }
        JobStatus::Cancelled => assert_eq!(doc, Doc::Cancelled, "{point}"),
        JobStatus::Queued | JobStatus::Running { .. } => {}
        s => panic!("{point}: {doc:?} {s:?}"),
    }
}

#[allow(clippy::needless_pass_by_value)] // the shape CrashTest::run hands over
fn check(inner: MemoryStore, seen: Seen, point: &CrashPoint) {
    let q = queue(&inner);
    let listed = q
        .blocking()
        .list()
        .unwrap_or_else(|e| panic!("{point}: list: {e}"));
    let mut torn = None;
    for doc in DOCS {
        let status = match q.blocking().status(&id(doc)) {
            Ok(s) => s,
            Err(e) if tore_record_of(point, doc) => {
                eprintln!("{point}: {doc:?}: typed error after a torn job record: {e}");
                torn = Some(doc);
                continue;
            }
            Err(e) => {
                assert!(
                    !seen.submitted.contains(&doc),
                    "{point}: acknowledged submission of {doc:?} lost: {e}"
                );
                continue;
            }
        };
        assert!(listed.contains(&id(doc)), "{point}: {doc:?} not listed");
        check_valid(&q, doc, &status, point);
        // An acknowledged status holds, unless the resubmission in flight
        // queued the cancelled job again.
        if let Some(acked) = seen.statuses.get(&doc) {
            let moved_on = doc == Doc::Cancelled && seen.resubmitting;
            assert!(
                *acked == status || moved_on,
                "{point}: {doc:?} acknowledged {acked:?}, now {status:?}"
            );
        }
        if doc == Doc::Cancelled && seen.cancelled && !seen.resubmitting {
            assert_eq!(
                status,
                JobStatus::Cancelled,
                "{point}: acknowledged cancel lost"
            );
        }
    }
    // A new worker takes over whatever was interrupted and runs every job
    // to its end.
    q.blocking()
        .run_pending(&engine(false), 1)
        .unwrap_or_else(|e| panic!("{point}: the restarted worker fails: {e}"));
    for doc in DOCS {
        if Some(doc) == torn {
            continue;
        }
        let Ok(status) = q.blocking().status(&id(doc)) else {
            continue; // never submitted
        };
        check_valid(&q, doc, &status, point);
        assert!(
            final_statuses(doc, &seen).contains(&summary(&status)),
            "{point}: {doc:?} ends {status:?}"
        );
    }
    // And the queue carries on: a new document goes through.
    let new = q
        .blocking()
        .submit(bytes(Doc::Extra), &options())
        .unwrap_or_else(|e| panic!("{point}: submit after restart: {e}"));
    q.blocking().run_pending(&engine(false), 1).unwrap();
    assert_eq!(
        q.blocking().status(&new).unwrap(),
        JobStatus::Done,
        "{point}"
    );
    assert_eq!(q.blocking().result(&new).unwrap().pages.len(), 1, "{point}");
}

#[test]
fn the_uninterrupted_workload_ends_every_job() {
    let q = queue(MemoryStore::new());
    let seen = workload(&q);
    assert_eq!(seen.submitted, DOCS);
    assert!(seen.cancelled && seen.resubmitted);
    let got: Vec<String> = DOCS.iter().map(|d| summary(&seen.statuses[d])).collect();
    assert_eq!(
        got,
        ["Done", "Done", "failed after 2", "failed after 1", "Done"]
    );
    assert!(
        matches!(&seen.statuses[&Doc::Broken], JobStatus::Failed { error, .. } if error.contains("broken line"))
    );
    assert_eq!(
        expected_text(Doc::Pages).matches('\u{c}').count(),
        1,
        "two pages"
    );
    assert!(expected_text(Doc::Flaky).contains('w'));
}

#[test]
fn the_job_queue_survives_a_crash_at_every_store_operation() {
    let report = CrashTest::new().run(MemoryStore::new, |s| workload(&queue(s)), check);
    assert!(report.operations > 60, "{report:?}");
}
