//! All engines on one store, each under its default prefix: every engine of
//! `tests/support/engines.rs` does its work on one `RedbStore` (the embedded
//! default a host would share), then, with the file reopened, checks its
//! state after all the others wrote theirs.
//!
//! Each engine reaches the store through a wrapper that logs every
//! operation with the engine's name and, for listings, the keys returned.
//! From that log the test asserts that no key one engine wrote is read,
//! listed, overwritten, deleted or composed from by another; that each
//! engine writes and lists only under its own prefixes; that every listing
//! returns only the listing engine's keys; and that the store holds nothing
//! outside the engines' prefixes.

#[path = "support/engines.rs"]
mod engines;

use blocksmith::store::{
    Capabilities, ComposePart, GetOptions, GetResult, Key, ListOptions, ListPage, ObjectMeta,
    PutOptions, PutResult, RedbStore, Store, StoreExt, block_on,
};
use bytes::Bytes;
use engines::{Engine, Outcome};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Read(String),
    Write(String),
    Delete(String),
    List {
        prefix: String,
        returned: Vec<String>,
    },
}

#[derive(Clone, Debug)]
struct Entry {
    engine: &'static str,
    op: Op,
}

type Log = Arc<Mutex<Vec<Entry>>>;

/// The shared store as one engine sees it: every operation logged under
/// the engine's name.
struct Tagged<S> {
    inner: Arc<S>,
    engine: &'static str,
    log: Log,
}

impl<S> Tagged<S> {
    fn record(&self, op: Op) {
        self.log.lock().expect("log").push(Entry {
            engine: self.engine,
            op,
        });
    }
}

impl<S: Store> Store for Tagged<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith::store::Result<GetResult> {
        self.record(Op::Read(key.to_string()));
        self.inner.get(key, options).await
    }

    async fn head(&self, key: &Key) -> blocksmith::store::Result<ObjectMeta> {
        self.record(Op::Read(key.to_string()));
        self.inner.head(key).await
    }

    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> blocksmith::store::Result<PutResult> {
        self.record(Op::Write(key.to_string()));
        self.inner.put(key, value, options).await
    }

    async fn delete(&self, key: &Key) -> blocksmith::store::Result<()> {
        self.record(Op::Delete(key.to_string()));
        self.inner.delete(key).await
    }

    async fn list(&self, options: ListOptions) -> blocksmith::store::Result<ListPage> {
        let prefix = options.prefix.clone();
        let page = self.inner.list(options).await?;
        self.record(Op::List {
            prefix,
            returned: page.objects.iter().map(|m| m.key.to_string()).collect(),
        });
        Ok(page)
    }

    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> blocksmith::store::Result<PutResult> {
        for p in parts {
            self.record(Op::Read(p.key.to_string()));
        }
        self.record(Op::Write(target.to_string()));
        self.inner.compose(target, parts, options).await
    }
}

fn tagged<E: Engine>(inner: &Arc<RedbStore>, log: &Log) -> Arc<Tagged<RedbStore>> {
    Arc::new(Tagged {
        inner: inner.clone(),
        engine: E::NAME,
        log: log.clone(),
    })
}

/// Each engine's name and prefixes, and its two phases on the shared store.
struct Run {
    name: &'static str,
    prefixes: &'static [&'static str],
    /// Writes, and returns the check to run after the reopen.
    write: fn(&Arc<RedbStore>, &Log) -> Outcome<Check>,
}

type Check = Box<dyn FnOnce(&Arc<RedbStore>, &Log) -> Outcome>;

fn run<E: Engine + 'static>() -> Run
where
    E::Expect: 'static,
{
    Run {
        name: E::NAME,
        prefixes: E::PREFIXES,
        write: |store, log| {
            let expect = block_on(E::write(tagged::<E>(store, log)))?;
            Ok(Box::new(move |store: &Arc<RedbStore>, log: &Log| {
                block_on(E::check(tagged::<E>(store, log), expect))
            }))
        },
    }
}

fn all_engines() -> Vec<Run> {
    vec![
        run::<engines::Tsz>(),
        run::<engines::VaultItems>(),
        run::<engines::ApiKeys>(),
        run::<engines::Diff>(),
        run::<engines::Geo>(),
        run::<engines::FeedEngine>(),
        run::<engines::Upload>(),
        run::<engines::Dedup>(),
        run::<engines::Sketch>(),
        run::<engines::Spell>(),
        run::<engines::Codes>(),
        run::<engines::Ocr>(),
        run::<engines::Flow>(),
        run::<engines::Tenant>(),
        run::<engines::Dispute>(),
        run::<engines::Receipts>(),
    ]
}

fn open(path: &Path) -> Arc<RedbStore> {
    Arc::new(RedbStore::open(path).expect("open redb"))
}

#[test]
fn all_engines_share_one_store_without_touching_each_others_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("shared.redb");
    let log: Log = Arc::default();
    let engines = all_engines();

    // Every engine works on the one store...
    let store = open(&path);
    let mut checks = Vec::new();
    for e in &engines {
        let check = (e.write)(&store, &log).unwrap_or_else(|err| panic!("{}: {err}", e.name));
        checks.push(check);
    }
    drop(store);
    // ...and after a restart finds its own state among everyone else's.
    let store = open(&path);
    for (e, check) in engines.iter().zip(checks) {
        check(&store, &log).unwrap_or_else(|err| panic!("{} (after reopen): {err}", e.name));
    }

    let log = log.lock().expect("log").clone();
    let prefixes: BTreeMap<&str, &[&str]> = engines.iter().map(|e| (e.name, e.prefixes)).collect();
    let owns = |engine: &str, key: &str| prefixes[engine].iter().any(|p| key.starts_with(p));

    // No two engines' prefixes overlap (plain string prefixes, as listed).
    for (a, pa) in &prefixes {
        for (b, pb) in &prefixes {
            for x in *pa {
                for y in *pb {
                    assert!(
                        a == b || !(x.starts_with(y) || y.starts_with(x)),
                        "{a} ({x}) and {b} ({y}) overlap"
                    );
                }
            }
        }
    }

    // Who wrote each key; each engine writes only under its own prefixes.
    let mut writers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &log {
        if let Op::Write(k) = &e.op {
            assert!(
                owns(e.engine, k),
                "{} wrote {k} outside its prefixes",
                e.engine
            );
            writers.entry(k).or_default().insert(e.engine);
        }
    }
    for (k, w) in &writers {
        assert_eq!(w.len(), 1, "{k} written by {w:?}");
    }
    let writer = |k: &str| writers.get(k).and_then(|w| w.first().copied());

    let mut seen_by: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &log {
        match &e.op {
            Op::Read(k) | Op::Delete(k) | Op::Write(k) => {
                if let Some(w) = writer(k) {
                    assert_eq!(w, e.engine, "{} touched {k}, written by {w}", e.engine);
                }
                assert!(
                    owns(e.engine, k),
                    "{} touched {k} outside its prefixes",
                    e.engine
                );
            }
            Op::List { prefix, returned } => {
                assert!(
                    owns(e.engine, prefix),
                    "{} listed {prefix:?}, outside its prefixes",
                    e.engine
                );
                for k in returned {
                    assert_eq!(
                        writer(k),
                        Some(e.engine),
                        "{}'s listing of {prefix:?} returned {k}",
                        e.engine
                    );
                }
                *seen_by.entry(e.engine).or_default() += returned.len();
            }
        }
    }
    // The check is not vacuous: every engine wrote, and the listing engines
    // saw their own keys.
    for e in &engines {
        assert!(
            writers.values().any(|w| w.contains(e.name)),
            "{} wrote nothing",
            e.name
        );
    }
    for lister in ["tsz series", "geo index", "flow engine", "ocr job queue"] {
        assert!(seen_by.get(lister).copied().unwrap_or(0) > 0, "{lister}");
    }

    // Everything in the store belongs to exactly one engine.
    let everything = store.blocking().list_all("").expect("list");
    assert!(everything.len() > 100, "{}", everything.len());
    for meta in everything {
        let k = meta.key.as_str();
        let owners: Vec<_> = engines.iter().filter(|e| owns(e.name, k)).collect();
        assert_eq!(owners.len(), 1, "{k}");
        assert_eq!(writer(k), Some(owners[0].name), "{k}");
    }
}
