use super::input::{encode, tiff_pages};
use super::render::text_page;
use blocksmith_ocr::jobs::{JobOptions, JobQueue, JobStatus};
use blocksmith_ocr::{Engine, EngineOptions, Error, LineImage, Recognizer, WordGuess};
use blocksmith_store::MemoryStore;
use image::{DynamicImage, ImageFormat};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Counts calls; panics on the first call for a line taller than `fail_taller` (once, or
/// always), tracks the most calls in flight at once.
#[derive(Default)]
struct Probe {
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    fail_taller: Option<u32>,
    always: bool,
    failed: AtomicBool,
}

impl Recognizer for Probe {
    fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let fail = self.fail_taller.is_some_and(|t| {
            line.gray.height() > t && (self.always || !self.failed.swap(true, Ordering::SeqCst))
        });
        assert!(!fail, "injected failure");
        Vec::new()
    }
}

fn png_page(lines: usize, px: f32) -> Vec<u8> {
    let (p, _) = text_page(500, 80 + (lines as f32 * px * 1.6) as u32, px, lines);
    encode(&DynamicImage::ImageLuma8(p), ImageFormat::Png)
}

fn queue(max_attempts: u32) -> JobQueue<MemoryStore> {
    JobQueue::new(
        MemoryStore::new(),
        "ocr/jobs",
        JobOptions::default().with_max_attempts(max_attempts),
    )
}

#[test]
fn submit_is_idempotent_and_results_persist() {
    let q = queue(3);
    let probe = Arc::new(Probe::default());
    let engine = Engine::new(EngineOptions::default(), probe.clone());
    let opts = EngineOptions::default();
    let bytes = png_page(3, 20.0);
    let id = q.blocking().submit(&bytes, &opts).unwrap();
    assert_eq!(q.blocking().submit(&bytes, &opts).unwrap(), id);
    assert_eq!(q.blocking().list().unwrap(), vec![id.clone()]);
    assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Queued);
    assert!(matches!(
        q.blocking().result(&id),
        Err(Error::NoResult { .. })
    ));
    let rep = q.blocking().run_pending(&engine, 2).unwrap();
    assert_eq!(rep.done, 1);
    assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Done);
    let doc = q.blocking().result(&id).unwrap();
    assert_eq!(doc.pages.len(), 1);
    assert_eq!(doc.pages[0].lines().count(), 3);
    let calls = probe.calls.load(Ordering::SeqCst);
    assert_eq!(calls, 3);
    // Same content again: same job, no new work.
    assert_eq!(q.blocking().submit(&bytes, &opts).unwrap(), id);
    assert_eq!(q.blocking().run_pending(&engine, 2).unwrap().done, 0);
    assert_eq!(probe.calls.load(Ordering::SeqCst), calls);
    // Other options: another job.
    let other = q
        .blocking()
        .submit(&bytes, &opts.clone().with_deskew(false))
        .unwrap();
    assert_ne!(other, id);
    assert!(matches!(
        q.blocking().status(&blocksmith_ocr::JobId("nope".into())),
        Err(Error::JobNotFound(_))
    ));
}

#[test]
fn cancel_stops_a_queued_job() {
    let q = queue(3);
    let probe = Arc::new(Probe::default());
    let engine = Engine::new(EngineOptions::default(), probe.clone());
    let id = q
        .blocking()
        .submit(&png_page(2, 20.0), &EngineOptions::default())
        .unwrap();
    assert_eq!(q.blocking().cancel(&id).unwrap(), JobStatus::Cancelled);
    let rep = q.blocking().run_pending(&engine, 1).unwrap();
    assert_eq!(rep.done, 0);
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
    assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Cancelled);
    assert!(matches!(
        q.blocking().result(&id),
        Err(Error::NoResult { .. })
    ));
    // Resubmitting a cancelled job queues it again.
    q.blocking()
        .submit(&png_page(2, 20.0), &EngineOptions::default())
        .unwrap();
    assert_eq!(q.blocking().run_pending(&engine, 1).unwrap().done, 1);
    assert_eq!(q.blocking().cancel(&id).unwrap(), JobStatus::Done);
}

#[test]
fn failures_retry_and_resume_from_the_last_page() {
    // Pages 0 and 1 have small text, page 2 large text that fails once.
    let small = |n| text_page(500, 200, 18.0, n).0;
    let big = text_page(700, 300, 40.0, 2).0;
    let bytes = tiff_pages(&[small(2), small(3), big]);
    let q = queue(3);
    let probe = Arc::new(Probe {
        fail_taller: Some(35),
        ..Probe::default()
    });
    let engine = Engine::new(EngineOptions::default(), probe.clone());
    let id = q
        .blocking()
        .submit(&bytes, &EngineOptions::default())
        .unwrap();
    let rep = q.blocking().run_pending(&engine, 1).unwrap();
    assert_eq!((rep.retried, rep.done, rep.failed), (1, 1, 0));
    // 2 + 3 lines once, the failing line, then page 2's 2 lines: no page was read twice.
    assert_eq!(probe.calls.load(Ordering::SeqCst), 2 + 3 + 1 + 2);
    assert_eq!(q.blocking().result(&id).unwrap().pages.len(), 3);

    // A recogniser that always fails: the job fails after max_attempts.
    let q = queue(2);
    let probe = Arc::new(Probe {
        fail_taller: Some(35),
        always: true,
        ..Probe::default()
    });
    let engine = Engine::new(EngineOptions::default(), probe);
    let id = q
        .blocking()
        .submit(&bytes, &EngineOptions::default())
        .unwrap();
    let rep = q.blocking().run_pending(&engine, 1).unwrap();
    assert_eq!((rep.retried, rep.failed), (1, 1));
    match q.blocking().status(&id).unwrap() {
        JobStatus::Failed { error, attempts } => {
            assert_eq!(attempts, 2);
            assert!(error.contains("injected failure"), "{error}");
        }
        s => panic!("{s:?}"),
    }
    // A corrupt input fails at once: decoding again would not help.
    let id = q
        .blocking()
        .submit(b"P4\n5 5\n", &EngineOptions::default())
        .unwrap();
    let rep = q.blocking().run_pending(&engine, 1).unwrap();
    assert_eq!((rep.retried, rep.failed), (0, 1));
    assert!(matches!(
        q.blocking().status(&id).unwrap(),
        JobStatus::Failed { attempts: 1, .. }
    ));
}

#[test]
fn a_job_left_running_by_a_dead_worker_is_taken_over() {
    // The queue's clock is a counter the test moves: no sleeping, no race with a loaded
    // machine.
    let clock = Arc::new(AtomicU64::new(1_000_000));
    let q = JobQueue::new(
        MemoryStore::new(),
        "jobs",
        JobOptions::default().with_lease(Duration::from_millis(150)),
    )
    .with_clock({
        let clock = clock.clone();
        move || clock.load(Ordering::SeqCst)
    });
    assert_eq!(q.now_ms(), 1_000_000);
    let probe = Arc::new(Probe::default());
    let engine = Engine::new(EngineOptions::default(), probe.clone());
    let id = q
        .blocking()
        .submit(&png_page(2, 20.0), &EngineOptions::default())
        .unwrap();
    // A worker claims the job and dies before doing anything.
    assert!(q.blocking().claim(&id).unwrap());
    assert!(
        !q.blocking().claim(&id).unwrap(),
        "a live lease is exclusive"
    );
    assert!(matches!(
        q.blocking().status(&id).unwrap(),
        JobStatus::Running { .. }
    ));
    assert_eq!(
        q.blocking().run_pending(&engine, 2).unwrap().done,
        0,
        "lease still valid"
    );
    // One millisecond before the lease runs out it still holds...
    clock.fetch_add(149, Ordering::SeqCst);
    assert!(
        !q.blocking().claim(&id).unwrap(),
        "lease valid until its last millisecond"
    );
    assert_eq!(q.blocking().run_pending(&engine, 2).unwrap().done, 0);
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
    // ...and at its end another worker takes the job over.
    clock.fetch_add(1, Ordering::SeqCst);
    assert_eq!(q.blocking().run_pending(&engine, 2).unwrap().done, 1);
    assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Done);
    assert_eq!(probe.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn worker_pool_respects_the_concurrency_limit() {
    let q = queue(1);
    let probe = Arc::new(Probe::default());
    let engine = Engine::new(EngineOptions::default(), probe.clone());
    let opts = EngineOptions::default();
    let ids: Vec<_> = (1..=5)
        .map(|n| q.blocking().submit(&png_page(n, 18.0), &opts).unwrap())
        .collect();
    let rep = q.blocking().run_pending(&engine, 2).unwrap();
    assert_eq!(rep.done, 5);
    assert_eq!(probe.calls.load(Ordering::SeqCst), 15);
    assert!(probe.max_in_flight.load(Ordering::SeqCst) <= 2);
    for id in ids {
        assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Done);
    }
}

#[test]
fn queue_persists_in_redb() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.redb");
    let bytes = png_page(2, 20.0);
    let id = {
        let store = blocksmith_store::RedbStore::open(&path).unwrap();
        let q = JobQueue::new(store, "ocr", JobOptions::default());
        q.blocking()
            .submit(&bytes, &EngineOptions::default())
            .unwrap()
    };
    let store = blocksmith_store::RedbStore::open(&path).unwrap();
    let q = JobQueue::new(store, "ocr", JobOptions::default());
    assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Queued);
    let engine = Engine::new(EngineOptions::default(), Arc::new(Probe::default()));
    q.blocking().run_pending(&engine, 1).unwrap();
    assert_eq!(
        q.blocking().result(&id).unwrap().pages[0].lines().count(),
        2
    );
}

/// Cancels its own job on the first line it sees.
struct Canceller {
    queue: Arc<JobQueue<MemoryStore>>,
    id: std::sync::OnceLock<blocksmith_ocr::JobId>,
}

impl Recognizer for Canceller {
    fn recognize_line(&self, _: &LineImage<'_>) -> Vec<WordGuess> {
        if let Some(id) = self.id.get() {
            let _ = self.queue.blocking().cancel(id);
        }
        Vec::new()
    }
}

#[test]
fn cancel_stops_a_running_job_after_its_page() {
    let q = Arc::new(queue(3));
    let pages: Vec<_> = (0..3).map(|_| text_page(400, 150, 18.0, 1).0).collect();
    let id = q
        .blocking()
        .submit(&tiff_pages(&pages), &EngineOptions::default())
        .unwrap();
    let rec = Arc::new(Canceller {
        queue: q.clone(),
        id: std::sync::OnceLock::new(),
    });
    rec.id.set(id.clone()).unwrap();
    let engine = Engine::new(EngineOptions::default(), rec);
    let rep = q.blocking().run_pending(&engine, 1).unwrap();
    assert_eq!((rep.cancelled, rep.done), (1, 0));
    assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Cancelled);
}

#[test]
fn a_stored_page_that_does_not_read_back_is_done_again() {
    use blocksmith_store::{Key, StoreExt};
    let store = MemoryStore::new();
    let q = JobQueue::new(
        &store,
        "ocr/jobs",
        JobOptions::default().with_lease(Duration::ZERO),
    );
    let probe = Arc::new(Probe::default());
    let engine = Engine::new(EngineOptions::default(), probe.clone());
    let pages: Vec<_> = (0..2).map(|_| text_page(400, 150, 18.0, 1).0).collect();
    let id = q
        .blocking()
        .submit(&tiff_pages(&pages), &EngineOptions::default())
        .unwrap();
    // A worker claimed the job, stored page 0 cut short (what a put cut off
    // on a store without atomic puts leaves) and died.
    assert!(q.blocking().claim(&id).unwrap());
    let page0 = Key::new(format!("ocr/jobs/{id}/page/000000")).unwrap();
    store
        .blocking()
        .put(&page0, &b"BSRC\x01\x08ocr.pa"[..])
        .unwrap();
    // The next worker takes over and does page 0 again.
    assert_eq!(q.blocking().run_pending(&engine, 1).unwrap().done, 1);
    assert_eq!(probe.calls.load(Ordering::SeqCst), 2);
    assert_eq!(q.blocking().result(&id).unwrap().pages.len(), 2);
}

/// On its first line, lets the worker's lease run out and has another
/// worker claim the job and finish it.
struct Overtaken {
    queue: Arc<JobQueue<MemoryStore>>,
    clock: Arc<AtomicU64>,
    id: std::sync::OnceLock<blocksmith_ocr::JobId>,
    done: AtomicBool,
}

impl Recognizer for Overtaken {
    fn recognize_line(&self, _: &LineImage<'_>) -> Vec<WordGuess> {
        if let Some(id) = self.id.get()
            && !self.done.swap(true, Ordering::SeqCst)
        {
            self.clock.fetch_add(10_000, Ordering::SeqCst);
            assert!(
                self.queue.blocking().claim(id).unwrap(),
                "the lease ran out"
            );
            let other = Engine::new(EngineOptions::default(), Arc::new(Probe::default()));
            let mut report = blocksmith_ocr::jobs::RunReport::default();
            self.queue
                .blocking()
                .process(&other, id, &mut report)
                .unwrap();
            assert_eq!(report.done, 1);
        }
        Vec::new()
    }
}

/// A worker whose lease ran out while it worked, and whose job another
/// worker took over and finished, stops writing: it neither moves the
/// finished job back to running nor marks it done a second time.
#[test]
fn a_worker_that_lost_its_lease_stops_writing() {
    let clock = Arc::new(AtomicU64::new(1_000_000));
    let q = Arc::new(
        JobQueue::new(
            MemoryStore::new(),
            "jobs",
            JobOptions::default().with_lease(Duration::from_secs(1)),
        )
        .with_clock({
            let clock = clock.clone();
            move || clock.load(Ordering::SeqCst)
        }),
    );
    let pages: Vec<_> = (0..3).map(|_| text_page(400, 150, 18.0, 1).0).collect();
    let id = q
        .blocking()
        .submit(&tiff_pages(&pages), &EngineOptions::default())
        .unwrap();
    let rec = Arc::new(Overtaken {
        queue: q.clone(),
        clock,
        id: std::sync::OnceLock::new(),
        done: AtomicBool::new(false),
    });
    rec.id.set(id.clone()).unwrap();
    let engine = Engine::new(EngineOptions::default(), rec);
    let rep = q.blocking().run_pending(&engine, 1).unwrap();
    assert_eq!((rep.lost, rep.done), (1, 0), "{rep:?}");
    assert_eq!(q.blocking().status(&id).unwrap(), JobStatus::Done);
}
