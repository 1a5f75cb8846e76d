//! The fault-injecting wrapper of `blocksmith_store::testing`, over every
//! embedded backend.

use blocksmith_store::testing::{
    CrashTest, Fault, FaultPlan, FaultyStore, InjectedCrash, OpKind, crash_at_every_operation,
    is_injected,
};
use blocksmith_store::{
    ComposePart, DirStore, Error, Key, ListOptions, MemoryStore, PutOptions, RedbStore, Store,
    StoreExt, block_on,
};

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

fn injected(e: &Error) -> bool {
    matches!(
        e,
        Error::Backend {
            backend: "faulty",
            temporary: false,
            ..
        }
    ) && is_injected(e)
}

/// Writes `a` and `b` (operations 1, 2) on a fresh store, then runs `op` as
/// operation 3 under `fault`; returns the inner store.
fn third<S: Store>(
    make: &mut impl FnMut() -> S,
    fault: Fault,
    prefix: &str,
    op: impl FnOnce(&FaultyStore<S>) -> blocksmith_store::Result<()>,
) -> S {
    let f = FaultyStore::new(make(), FaultPlan::new(3, fault).with_tear_prefix(prefix));
    f.blocking().put(&key("a"), "0123456789").unwrap();
    f.blocking().put(&key("b"), "bbbb").unwrap();
    assert_eq!(f.ops(), 2);
    assert!(!f.crashed());
    let err = op(&f).unwrap_err();
    assert!(injected(&err), "{fault}: {err}");
    assert!(f.crashed());
    assert_eq!(f.ops(), 3);
    let hit = f.faulted().unwrap();
    assert!(!hit.key.is_empty() || hit.kind == OpKind::List, "{hit}");
    // Dead from now on: every call fails, none reaches the store or counts.
    let later = [
        f.blocking().get(&key("a")).unwrap_err(),
        f.blocking().head(&key("a")).unwrap_err(),
        f.blocking().put(&key("z"), "z").unwrap_err(),
        f.blocking().delete(&key("a")).unwrap_err(),
        f.blocking().list(ListOptions::new()).unwrap_err(),
        f.blocking()
            .compose(&key("z"), &[ComposePart::new(key("a"))], PutOptions::new())
            .unwrap_err(),
    ];
    for e in &later {
        assert!(injected(e), "{e}");
        let Error::Backend { source, .. } = e else {
            unreachable!()
        };
        let c = source.downcast_ref::<InjectedCrash>().unwrap();
        assert_eq!((c.at, c.first), (3, false));
    }
    assert_eq!(f.ops(), 3);
    assert_eq!(f.capabilities(), f.inner().capabilities());
    f.into_inner()
}

fn data<S: Store + ?Sized>(s: &S, k: &str) -> Option<Vec<u8>> {
    s.blocking()
        .get_opt(&key(k))
        .unwrap()
        .map(|r| r.data.to_vec())
}

fn keys<S: Store + ?Sized>(s: &S) -> Vec<String> {
    s.blocking()
        .list_all("")
        .unwrap()
        .into_iter()
        .map(|m| m.key.into_string())
        .collect()
}

/// Every fault on every kind of operation, on one backend.
fn faults_on<S: Store>(mut make: impl FnMut() -> S) {
    let put = |f: &FaultyStore<S>| f.blocking().put(&key("c"), "cccccccc").map(drop);
    let overwrite = |f: &FaultyStore<S>| f.blocking().put(&key("a"), "ABCDEFGHIJKLMNOP").map(drop);
    let delete = |f: &FaultyStore<S>| f.blocking().delete(&key("a"));
    let compose = |f: &FaultyStore<S>| {
        let parts = [ComposePart::new(key("a")), ComposePart::new(key("b"))];
        f.blocking()
            .compose(&key("ab"), &parts, PutOptions::create())
            .map(drop)
    };
    let get = |f: &FaultyStore<S>| f.blocking().get(&key("a")).map(drop);
    let head = |f: &FaultyStore<S>| f.blocking().head(&key("a")).map(drop);
    let list = |f: &FaultyStore<S>| f.blocking().list(ListOptions::new()).map(drop);

    // FailBefore: nothing happens.
    for op in [put, overwrite, delete, compose, get, head, list] {
        let s = third(&mut make, Fault::FailBefore, "", op);
        assert_eq!(keys(&s), ["a", "b"]);
        assert_eq!(data(&s, "a").unwrap(), b"0123456789");
    }
    // FailAfter: writes are applied, reads only fail.
    let s = third(&mut make, Fault::FailAfter, "", put);
    assert_eq!(data(&s, "c").unwrap(), b"cccccccc");
    let s = third(&mut make, Fault::FailAfter, "", delete);
    assert_eq!(keys(&s), ["b"]);
    let s = third(&mut make, Fault::FailAfter, "", compose);
    assert_eq!(data(&s, "ab").unwrap(), b"0123456789bbbb");
    for op in [get, head, list] {
        let s = third(&mut make, Fault::FailAfter, "", op);
        assert_eq!(keys(&s), ["a", "b"]);
    }
    // Tear: a put keeps its first half (the mode still applies); anything
    // else fails as before.
    let s = third(&mut make, Fault::Tear, "", put);
    assert_eq!(data(&s, "c").unwrap(), b"cccc");
    let s = third(&mut make, Fault::Tear, "", overwrite);
    assert_eq!(data(&s, "a").unwrap(), b"ABCDEFGH");
    let s = third(&mut make, Fault::Tear, "parts/", put);
    assert_eq!(keys(&s), ["a", "b"], "outside the tear prefix: no effect");
    let s = third(&mut make, Fault::Tear, "", |f| {
        f.blocking()
            .put_opts(&key("a"), "xx", PutOptions::create())
            .map(drop)
    });
    assert_eq!(
        data(&s, "a").unwrap(),
        b"0123456789",
        "create-only still refused"
    );
    for op in [delete, compose, get, head, list] {
        let s = third(&mut make, Fault::Tear, "", op);
        assert_eq!(keys(&s), ["a", "b"]);
    }
    // Never: only counts.
    let f = FaultyStore::new(make(), FaultPlan::never());
    for i in 0..10 {
        f.blocking().put(&key(&format!("k{i}")), "v").unwrap();
    }
    assert_eq!((f.ops(), f.crashed()), (10, false));
}

/// A log of `n` create-only writes; the check asserts the acknowledged
/// prefix survived whole and the write in flight is absent, whole or torn
/// as the fault says.
fn driver_on<S: Store>(make: impl FnMut() -> S) {
    let mut seen = Vec::new();
    let report = crash_at_every_operation(
        make,
        |store| {
            let mut acked = 0;
            for i in 0..6 {
                let v = format!("value number {i}");
                if store
                    .blocking()
                    .put_opts(&key(&format!("log/{i}")), v, PutOptions::create())
                    .is_err()
                {
                    break;
                }
                acked += 1;
            }
            acked
        },
        |inner, acked, point| {
            seen.push((point.plan.fault, point.plan.at, point.fired));
            if let Some(op) = &point.operation {
                assert_eq!(op.kind, OpKind::Put);
                assert_eq!(op.key, format!("log/{acked}"));
                assert_eq!(op.to_string(), format!("put \"log/{acked}\""));
            }
            let stored = keys(&inner);
            for i in 0..acked {
                assert_eq!(
                    data(&inner, &format!("log/{i}")).unwrap(),
                    format!("value number {i}").as_bytes(),
                    "{point}"
                );
            }
            if !point.fired {
                assert_eq!(acked, 6);
                return;
            }
            let in_flight = data(&inner, &format!("log/{acked}"));
            let whole = format!("value number {acked}").into_bytes();
            match point.plan.fault {
                Fault::FailBefore => assert_eq!(in_flight, None, "{point}"),
                Fault::FailAfter => assert_eq!(in_flight, Some(whole), "{point}"),
                _ => assert_eq!(
                    in_flight,
                    Some(whole[..whole.len() / 2].to_vec()),
                    "{point}"
                ),
            }
            assert!(stored.len() <= acked + 1);
        },
    );
    assert_eq!(report.operations, 6);
    assert_eq!((report.runs, report.crashes), (21, 18));
    let mut want = Vec::new();
    for f in Fault::ALL {
        want.extend((1..=6).map(|at| (f, at, true)));
        want.push((f, 7, false));
    }
    assert_eq!(seen, want);
}

fn dir_maker() -> impl FnMut() -> DirStore {
    let root = tempfile::tempdir().unwrap();
    let mut n = 0;
    move || {
        n += 1;
        DirStore::open(root.path().join(n.to_string())).unwrap()
    }
}

fn redb_maker() -> impl FnMut() -> RedbStore {
    let root = tempfile::tempdir().unwrap();
    let mut n = 0;
    move || {
        n += 1;
        RedbStore::open(root.path().join(format!("{n}.redb"))).unwrap()
    }
}

#[test]
fn faults_over_memory() {
    faults_on(MemoryStore::new);
    driver_on(MemoryStore::new);
}

#[test]
fn faults_over_dir() {
    faults_on(dir_maker());
    driver_on(dir_maker());
}

#[test]
fn faults_over_redb() {
    faults_on(redb_maker());
    driver_on(redb_maker());
}

/// Over a reference and a `dyn` store too, and the inner store is the
/// same one the workload wrote to.
#[test]
fn faults_over_borrowed_and_dyn_stores() {
    let shared = MemoryStore::new();
    let f = FaultyStore::new(&shared, FaultPlan::new(2, Fault::FailAfter));
    f.blocking().put(&key("a"), "1").unwrap();
    assert!(f.blocking().put(&key("b"), "2").is_err());
    assert_eq!(keys(&shared), ["a", "b"]);
    let dynamic: std::sync::Arc<dyn blocksmith_store::DynStore> =
        std::sync::Arc::new(MemoryStore::new());
    let f = FaultyStore::new(dynamic.clone(), FaultPlan::new(1, Fault::Tear));
    assert!(f.blocking().put(&key("t"), "torn").is_err());
    assert_eq!(data(&*dynamic, "t").unwrap(), b"to");
}

/// Engines wrap the store's error: the marker is found through the chain.
#[test]
fn injected_errors_are_recognised_through_wrappers() {
    #[derive(Debug)]
    struct Engine(Error);
    impl std::fmt::Display for Engine {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("engine failed")
        }
    }
    impl std::error::Error for Engine {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let f = FaultyStore::new(MemoryStore::new(), FaultPlan::new(1, Fault::FailBefore));
    let e = f.blocking().get(&key("a")).unwrap_err();
    // The message does not repeat its source; the chain names the crash.
    let chain = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    assert!(chain.contains("injected crash at operation 1"), "{chain}");
    assert!(is_injected(&Engine(e)));
    let real = MemoryStore::new().blocking().get(&key("a")).unwrap_err();
    assert!(!is_injected(&Engine(real)));
}

#[test]
fn crash_test_options() {
    let mut runs = Vec::new();
    let report = CrashTest::new().with_faults([Fault::FailAfter]).run(
        MemoryStore::new,
        |s| {
            let _ = block_on(s.put(&key("x"), "1".into(), PutOptions::new()));
            let _ = block_on(s.delete(&key("x")));
        },
        |_, (), p| runs.push(p.plan.at),
    );
    assert_eq!(runs, [1, 2, 3]);
    assert_eq!((report.runs, report.crashes, report.operations), (3, 2, 2));
}

#[test]
#[should_panic(expected = "more than 5 operations")]
fn runaway_workloads_fail() {
    CrashTest::new().with_max_operations(5).run(
        MemoryStore::new,
        |s| {
            // Retries forever while the store is up; stops once it crashed.
            while !s.crashed() {
                let _ = s.blocking().head(&key("x"));
            }
        },
        |_, (), _| {},
    );
}

#[test]
#[should_panic(expected = "lost")]
fn failing_checks_panic() {
    crash_at_every_operation(
        MemoryStore::new,
        |s| s.blocking().put(&key("x"), "1").is_ok(),
        |inner, acked, _| assert!(!acked || data(&inner, "x").is_none(), "lost"),
    );
}

/// Until its fault fires the wrapper is the store it wraps: it passes the
/// conformance suite, races included.
#[test]
fn faulty_store_that_never_fires_conforms() {
    let store = FaultyStore::new(MemoryStore::new(), FaultPlan::never());
    let report = blocksmith_store::conformance::Suite::new(&store)
        .run()
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(report.skipped.is_empty());
    assert!(store.ops() > 100 && !store.crashed());
}
