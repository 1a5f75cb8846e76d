//! The conformance suite every [`Store`] must pass: ours, and yours.
//!
//! Run it from a test against a fresh (or shared: everything happens under a
//! unique prefix and is deleted afterwards) instance of your backend:
//!
//! ```
//! use blocksmith_store::{MemoryStore, conformance::Suite};
//! let report = Suite::new(&MemoryStore::new())
//!     .with_large_value_size(1 << 20) // the default is 64 MiB
//!     .run()
//!     .unwrap();
//! assert!(report.skipped.is_empty());
//! ```
//!
//! Checks that need an ability the backend does not declare in its
//! [`Capabilities`](crate::Capabilities) are skipped and listed in
//! [`Report::skipped`], never passed silently; for those, the suite still
//! checks that the backend refuses the operation instead of doing something else.
//! Optional operations a backend does not offer at all (multipart uploads)
//! are listed in [`Report::unsupported`] once the suite has checked that
//! they fail with [`Error::Unsupported`].

use crate::{
    ByteRange, ComposePart, Error, Key, ListOptions, ListPage, ObjectMeta, PutOptions, Store,
    StoreExt,
};
use bytes::Bytes;
use std::collections::HashSet;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A failed check.
#[derive(Debug)]
pub struct Failure {
    /// The check's name.
    pub check: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conformance check `{}` failed: {}",
            self.check, self.message
        )
    }
}

impl std::error::Error for Failure {}

/// What ran.
#[derive(Debug, Default)]
pub struct Report {
    /// Checks that passed.
    pub passed: Vec<&'static str>,
    /// Checks skipped, with the missing capability.
    pub skipped: Vec<(&'static str, &'static str)>,
    /// Checks of optional operations the store does not offer, with the
    /// capability it does not declare: the suite checked that it refuses
    /// them with [`Error::Unsupported`].
    pub unsupported: Vec<(&'static str, &'static str)>,
}

enum Outcome {
    Passed,
    Skipped(&'static str),
    Unsupported(&'static str),
}

type Check<'a, S> = fn(&Suite<'a, S>, &str) -> Result<Outcome, String>;

/// The suite, configured for one store.
#[derive(Debug)]
pub struct Suite<'a, S: ?Sized> {
    store: &'a S,
    prefix: String,
    large_value_size: usize,
    threads: usize,
    increments: usize,
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn ok<T>(what: &str, r: crate::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: unexpected error: {e}"))
}

impl<'a, S: Store + ?Sized> Suite<'a, S> {
    /// A suite with the defaults: 64 MiB large values, 8 threads x 25
    /// compare-and-swap increments, a unique prefix under `conformance/`.
    pub fn new(store: &'a S) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Suite {
            store,
            prefix: format!("conformance/{nanos:x}-{}", std::process::id()),
            large_value_size: 64 << 20,
            threads: 8,
            increments: 25,
        }
    }

    /// Runs everything under this key prefix instead (no trailing `/`).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Size of the value in the large-value check.
    #[must_use]
    pub fn with_large_value_size(mut self, bytes: usize) -> Self {
        self.large_value_size = bytes;
        self
    }

    /// Threads and increments per thread in the compare-and-swap race.
    #[must_use]
    pub fn with_race(mut self, threads: usize, increments: usize) -> Self {
        self.threads = threads.max(1);
        self.increments = increments.max(1);
        self
    }

    /// Runs every check, stopping at the first failure; cleans up its keys.
    ///
    /// # Errors
    /// A [`Failure`] naming the first check the store failed and what went wrong (an unexpected
    /// error, a wrong value, a lost update in the race). The keys of the checks run so far are
    /// cleaned up first.
    pub fn run(&self) -> Result<Report, Failure> {
        let checks: [(&'static str, Check<'a, S>); 19] = [
            ("put_get_head", Self::put_get_head),
            ("missing_keys", Self::missing_keys),
            ("overwrite_and_versions", Self::overwrite_and_versions),
            ("empty_value", Self::empty_value),
            ("create_only", Self::create_only),
            ("compare_and_swap", Self::compare_and_swap),
            ("ranges", Self::ranges),
            ("listing_order_and_prefix", Self::listing),
            ("listing_pagination", Self::pagination),
            ("delete", Self::delete),
            ("compose", Self::compose),
            ("unicode_keys", Self::unicode_keys),
            ("large_value", Self::large_value),
            ("streamed_put_and_get", Self::streamed),
            (
                "streamed_conditions_and_failures",
                Self::streamed_conditions,
            ),
            ("streamed_large_value", Self::streamed_large),
            ("multipart", Self::multipart),
            ("create_race", Self::create_race),
            ("compare_and_swap_race", Self::cas_race),
        ];
        let mut report = Report::default();
        let mut failure = None;
        for (name, check) in checks {
            let base = format!("{}/{name}", self.prefix);
            match check(self, &base) {
                Ok(Outcome::Passed) => report.passed.push(name),
                Ok(Outcome::Skipped(why)) => report.skipped.push((name, why)),
                Ok(Outcome::Unsupported(why)) => report.unsupported.push((name, why)),
                Err(message) => {
                    failure = Some(Failure {
                        check: name,
                        message,
                    });
                    break;
                }
            }
        }
        self.cleanup();
        match failure {
            Some(f) => Err(f),
            None => Ok(report),
        }
    }

    fn cleanup(&self) {
        let b = self.store.blocking();
        if let Ok(all) = b.list_all(&format!("{}/", self.prefix)) {
            for m in all {
                let _ = b.delete(&m.key);
            }
        }
    }

    fn key(base: &str, rel: &str) -> Result<Key, String> {
        Key::new(format!("{base}/{rel}")).map_err(|e| format!("building a key: {e}"))
    }

    fn put_get_head(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "k")?;
        let put = ok("put", b.put(&k, "hello"))?;
        let got = ok("get", b.get(&k))?;
        ensure!(&got.data[..] == b"hello", "get returned {:?}", got.data);
        ensure!(got.meta.size == 5, "size {} != 5", got.meta.size);
        ensure!(got.meta.key == k, "meta key {} != {k}", got.meta.key);
        ensure!(
            got.meta.version == put.version,
            "get version differs from put's"
        );
        ensure!(got.range == (0..5), "whole-object range {:?}", got.range);
        let head = ok("head", b.head(&k))?;
        ensure!(head == got.meta, "head {head:?} != get meta {:?}", got.meta);
        Ok(Outcome::Passed)
    }

    fn missing_keys(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "absent")?;
        ensure!(
            matches!(b.get(&k), Err(Error::NotFound { .. })),
            "get of a missing key is not NotFound"
        );
        ensure!(
            matches!(b.head(&k), Err(Error::NotFound { .. })),
            "head of a missing key is not NotFound"
        );
        ensure!(
            matches!(b.get_range(&k, 0..1), Err(Error::NotFound { .. })),
            "ranged get of a missing key is not NotFound"
        );
        ok("delete of a missing key", b.delete(&k))?;
        ok("second delete", b.delete(&k))?;
        ensure!(
            ok("get_opt", b.get_opt(&k))?.is_none(),
            "get_opt found a ghost"
        );
        Ok(Outcome::Passed)
    }

    fn overwrite_and_versions(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "k")?;
        let mut seen = HashSet::new();
        for i in 0..20 {
            let v = ok("put", b.put(&k, format!("value {i}")))?.version;
            ensure!(seen.insert(v.clone()), "version {v} reused on put {i}");
        }
        let got = ok("get", b.get(&k))?;
        ensure!(
            &got.data[..] == b"value 19",
            "overwrite lost: {:?}",
            got.data
        );
        // Deleting and re-creating must not bring an old version back (ABA).
        ok("delete", b.delete(&k))?;
        let v = ok("put after delete", b.put(&k, "again"))?.version;
        ensure!(!seen.contains(&v), "version {v} reused after delete");
        Ok(Outcome::Passed)
    }

    fn empty_value(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "empty")?;
        ok("put", b.put(&k, Bytes::new()))?;
        let got = ok("get", b.get(&k))?;
        ensure!(
            got.data.is_empty() && got.meta.size == 0,
            "empty value not empty"
        );
        ensure!(
            ok("head", b.head(&k))?.size == 0,
            "head size of empty value"
        );
        ensure!(
            matches!(
                b.get_range(&k, ByteRange::From(0)),
                Err(Error::InvalidRange { .. })
            ),
            "a range of an empty object is not InvalidRange"
        );
        Ok(Outcome::Passed)
    }

    fn create_only(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "k")?;
        if !self.store.capabilities().create_only {
            ensure!(
                matches!(
                    b.put_opts(&k, "x", PutOptions::create()),
                    Err(Error::Unsupported { .. })
                ),
                "create-only put is not declared but did not fail with Unsupported"
            );
            return Ok(Outcome::Skipped("create_only"));
        }
        let v = ok("create", b.put_opts(&k, "first", PutOptions::create()))?.version;
        match b.put_opts(&k, "second", PutOptions::create()) {
            Err(Error::AlreadyExists { .. }) => {}
            other => return Err(format!("second create gave {other:?}, not AlreadyExists")),
        }
        let got = ok("get", b.get(&k))?;
        ensure!(&got.data[..] == b"first", "failed create changed the value");
        ensure!(got.meta.version == v, "failed create changed the version");
        Ok(Outcome::Passed)
    }

    fn compare_and_swap(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "k")?;
        if !self.store.capabilities().compare_and_swap {
            let v = ok("put", b.put(&k, "x"))?.version;
            ensure!(
                matches!(
                    b.put_opts(&k, "y", PutOptions::update(v)),
                    Err(Error::Unsupported { .. })
                ),
                "compare-and-swap is not declared but did not fail with Unsupported"
            );
            return Ok(Outcome::Skipped("compare_and_swap"));
        }
        let v1 = ok("put", b.put(&k, "one"))?.version;
        let v2 = ok(
            "update with current version",
            b.put_opts(&k, "two", PutOptions::update(v1.clone())),
        )?
        .version;
        ensure!(v2 != v1, "update kept the version");
        match b.put_opts(&k, "stale", PutOptions::update(v1.clone())) {
            Err(Error::PreconditionFailed { .. }) => {}
            other => {
                return Err(format!(
                    "stale update gave {other:?}, not PreconditionFailed"
                ));
            }
        }
        ensure!(
            &ok("get", b.get(&k))?.data[..] == b"two",
            "stale update changed the value"
        );
        let missing = Self::key(base, "missing")?;
        match b.put_opts(&missing, "x", PutOptions::update(v2.clone())) {
            Err(Error::PreconditionFailed { .. }) => {}
            other => {
                return Err(format!(
                    "update of a missing key gave {other:?}, not PreconditionFailed"
                ));
            }
        }
        ensure!(
            ok("get_opt", b.get_opt(&missing))?.is_none(),
            "failed update created the key"
        );
        ok("delete", b.delete(&k))?;
        ok("recreate", b.put(&k, "three"))?;
        match b.put_opts(&k, "aba", PutOptions::update(v2)) {
            Err(Error::PreconditionFailed { .. }) => {}
            other => return Err(format!("update with a pre-delete version gave {other:?}")),
        }
        Ok(Outcome::Passed)
    }

    fn ranges(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "k")?;
        let value: Vec<u8> = (0..100u8).collect();
        ok("put", b.put(&k, value.clone()))?;
        let cases: [(ByteRange, std::ops::Range<usize>); 7] = [
            (ByteRange::Bounded(10..20), 10..20),
            (ByteRange::Bounded(0..1), 0..1),
            (ByteRange::Bounded(90..200), 90..100),
            (ByteRange::From(95), 95..100),
            (ByteRange::From(0), 0..100),
            (ByteRange::Suffix(5), 95..100),
            (ByteRange::Suffix(500), 0..100),
        ];
        for (range, want) in cases {
            let got = ok(&format!("get {range}"), b.get_range(&k, range.clone()))?;
            ensure!(
                got.data[..] == value[want.clone()],
                "{range} returned wrong bytes"
            );
            ensure!(
                got.range == (want.start as u64..want.end as u64),
                "{range} reported range {:?}",
                got.range
            );
            ensure!(
                got.meta.size == 100,
                "{range} reported size {}",
                got.meta.size
            );
        }
        for bad in [
            ByteRange::Bounded(100..101),
            ByteRange::Bounded(5..5),
            ByteRange::From(100),
            ByteRange::Suffix(0),
        ] {
            match b.get_range(&k, bad.clone()) {
                Err(Error::InvalidRange { .. }) => {}
                other => return Err(format!("{bad} gave {other:?}, not InvalidRange")),
            }
        }
        Ok(Outcome::Passed)
    }

    fn listing(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let rels = ["a", "a/b", "a/b/c", "a/bc", "ab", "b/x", "b/y", "a-", "a0"];
        for r in rels {
            ok("put", b.put(&Self::key(base, r)?, r))?;
        }
        let names = |metas: Vec<ObjectMeta>| -> Vec<String> {
            metas
                .into_iter()
                .map(|m| m.key.as_str()[base.len() + 1..].to_string())
                .collect()
        };
        let mut all: Vec<String> = rels.iter().map(ToString::to_string).collect();
        all.sort();
        let got = names(ok("list_all", b.list_all(&format!("{base}/")))?);
        ensure!(
            got == all,
            "full listing {got:?}, expected {all:?} (byte order)"
        );
        let cases: [(&str, &[&str]); 5] = [
            ("a/", &["a/b", "a/b/c", "a/bc"]),
            ("a/b", &["a/b", "a/b/c", "a/bc"]),
            ("a/b/", &["a/b/c"]),
            ("b", &["b/x", "b/y"]),
            ("zz", &[]),
        ];
        for (p, want) in cases {
            let got = names(ok("list", b.list_all(&format!("{base}/{p}")))?);
            ensure!(
                got == want,
                "prefix {p:?} listed {got:?}, expected {want:?}"
            );
        }
        for m in ok("list", b.list_all(&format!("{base}/")))? {
            let v = m.key.as_str()[base.len() + 1..].to_string();
            ensure!(m.size == v.len() as u64, "listed size of {v} is {}", m.size);
            let head = ok("head", b.head(&m.key))?;
            ensure!(
                head.version == m.version,
                "listed version of {v} differs from head"
            );
        }
        Ok(Outcome::Passed)
    }

    fn pagination(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let mut want = Vec::new();
        for i in 0..23 {
            let k = Self::key(base, &format!("item-{i:03}"))?;
            ok("put", b.put(&k, vec![i as u8]))?;
            want.push(k);
        }
        let prefix = format!("{base}/");
        let mut got = Vec::new();
        let mut after: Option<Key> = None;
        for page_no in 0.. {
            ensure!(page_no < 100, "pagination does not end");
            let page: ListPage = ok(
                "list page",
                b.list(
                    ListOptions::prefix(prefix.clone())
                        .with_limit(5)
                        .with_start_after(after.clone()),
                ),
            )?;
            ensure!(
                page.objects.len() <= 5,
                "page of {} with limit 5",
                page.objects.len()
            );
            got.extend(page.objects.into_iter().map(|m| m.key));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        ensure!(
            got == want,
            "pages gave {} keys, not the 23 in order",
            got.len()
        );
        // start_after need not be an existing key.
        let page = ok(
            "list after a non-key",
            b.list(
                ListOptions::prefix(prefix.clone())
                    .with_start_after(Some(Self::key(base, "item-010x")?)),
            ),
        )?;
        ensure!(
            page.objects.first().map(|m| &m.key) == Some(&want[11]),
            "start_after between keys resumed at {:?}",
            page.objects.first().map(|m| m.key.as_str())
        );
        let page = ok(
            "list after everything",
            b.list(ListOptions::prefix(prefix).with_start_after(Some(Self::key(base, "zzz")?))),
        )?;
        ensure!(
            page.objects.is_empty() && page.next.is_none(),
            "listing past the end is not empty"
        );
        Ok(Outcome::Passed)
    }

    fn delete(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "d/k")?;
        let keep = Self::key(base, "d/keep")?;
        ok("put", b.put(&k, "x"))?;
        ok("put", b.put(&keep, "y"))?;
        ok("delete", b.delete(&k))?;
        ensure!(
            matches!(b.get(&k), Err(Error::NotFound { .. })),
            "deleted key still readable"
        );
        let listed = ok("list", b.list_all(&format!("{base}/d/")))?;
        ensure!(
            listed.len() == 1 && listed[0].key == keep,
            "listing after delete: {:?}",
            listed.iter().map(|m| m.key.as_str()).collect::<Vec<_>>()
        );
        Ok(Outcome::Passed)
    }

    fn unicode_keys(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let rels = [
            "ünï/cødé",
            "日本語/ファイル.txt",
            "emoji/🦀🚀",
            "punct/sp ace+plus=eq&amp@at,comma;semi'q",
            "punct/%25~tilde",
        ];
        for r in rels {
            let k = Self::key(base, r)?;
            ok(r, b.put(&k, r))?;
            let got = ok(r, b.get(&k))?;
            ensure!(&got.data[..] == r.as_bytes(), "{r} read back wrong");
        }
        let listed: Vec<String> = ok("list", b.list_all(&format!("{base}/")))?
            .into_iter()
            .map(|m| m.key.into_string())
            .collect();
        let mut want: Vec<String> = rels.iter().map(|r| format!("{base}/{r}")).collect();
        want.sort();
        ensure!(
            listed == want,
            "unicode listing {listed:?}, expected {want:?}"
        );
        let got = ok("list prefix", b.list_all(&format!("{base}/日本")))?;
        ensure!(got.len() == 1, "unicode prefix matched {} keys", got.len());
        Ok(Outcome::Passed)
    }

    fn compose(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let bytes = |n: usize, seed: usize| -> Bytes {
            (0..n)
                .map(|i| (i * 7 + seed * 13) as u8)
                .collect::<Vec<u8>>()
                .into()
        };
        let (pa, pb, pc) = (bytes(1000, 1), bytes(37, 2), bytes(500, 3));
        let (ka, kb, kc) = (
            Self::key(base, "parts/a")?,
            Self::key(base, "parts/b")?,
            Self::key(base, "parts/c")?,
        );
        ok("put part a", b.put(&ka, pa.clone()))?;
        ok("put part b", b.put(&kb, pb.clone()))?;
        let vc = ok("put part c", b.put(&kc, pc.clone()))?.version;
        let whole = Self::key(base, "whole")?;
        let parts = [
            ComposePart::new(ka.clone()),
            ComposePart::new(kb.clone()),
            ComposePart::new(kc.clone()).with_range(100..400),
            ComposePart::new(kb.clone()).with_range(ByteRange::Suffix(5)),
        ];
        let mut expect = pa.to_vec();
        expect.extend_from_slice(&pb);
        expect.extend_from_slice(&pc[100..400]);
        expect.extend_from_slice(&pb[32..]);
        let v = ok("compose", b.compose(&whole, &parts, PutOptions::new()))?.version;
        ensure!(v != vc, "compose reused a part's version");
        let got = ok("get composed", b.get(&whole))?;
        ensure!(got.data[..] == expect[..], "composed bytes differ");
        ensure!(
            got.meta.version == v,
            "composed version differs from compose's"
        );
        ensure!(
            ok("head composed", b.head(&whole))?.size == expect.len() as u64,
            "composed size"
        );
        for r in [
            0..1000u64,
            990..1010,
            1030..1040,
            999..1338,
            1336..1342,
            500..1342,
        ] {
            let part = ok("ranged get of composed", b.get_range(&whole, r.clone()))?;
            ensure!(
                part.data[..] == expect[r.start as usize..r.end as usize],
                "composed range {r:?} differs"
            );
        }
        // The parts are untouched, and later changes to them do not leak in.
        ensure!(
            ok("get part", b.get(&kc))?.data == pc,
            "compose changed a part"
        );
        ok("overwrite part a", b.put(&ka, "changed"))?;
        ok("delete part c", b.delete(&kc))?;
        ensure!(
            ok("get composed", b.get_range(&whole, 0..1342))?.data[..] == expect[..],
            "changing a part changed the composed object"
        );
        // A composed object composes again (nested), with ranges.
        let twice = Self::key(base, "twice")?;
        let nested = [
            ComposePart::new(whole.clone()).with_range(990..1040),
            ComposePart::new(kb.clone()),
            ComposePart::new(whole.clone()),
        ];
        ok(
            "compose of a composed object",
            b.compose(&twice, &nested, PutOptions::new()),
        )?;
        let mut expect2 = expect[990..1040].to_vec();
        expect2.extend_from_slice(&pb);
        expect2.extend_from_slice(&expect);
        ensure!(
            ok("get nested", b.get(&twice))?.data[..] == expect2[..],
            "nested compose differs"
        );
        let mut twice_len = expect2.len() as u64;
        // Conditions, missing parts and bad ranges leave the target alone.
        if self.store.capabilities().create_only {
            match b.compose(&whole, &parts[1..2], PutOptions::create()) {
                Err(Error::AlreadyExists { .. }) => {}
                other => return Err(format!("create-only compose over a key gave {other:?}")),
            }
            // One whole object, create-only: a copy (server-side on the
            // object_store adapter), once.
            let copied = Self::key(base, "copied")?;
            let v = ok(
                "create-only compose of one object",
                b.compose(&copied, &parts[1..2], PutOptions::create()),
            )?
            .version;
            ensure!(
                ok("get copied", b.get(&copied))?.data == pb,
                "create-only compose of one object differs"
            );
            ensure!(
                ok("head copied", b.head(&copied))?.version == v,
                "copied version differs from compose's"
            );
            match b.compose(&copied, &parts[..1], PutOptions::create()) {
                Err(Error::AlreadyExists { .. }) => {}
                other => {
                    return Err(format!(
                        "create-only compose of one object over a key gave {other:?}"
                    ));
                }
            }
            ok("delete copied", b.delete(&copied))?;
            let none = Self::key(base, "parts/none")?;
            match b.compose(&copied, &[ComposePart::new(none)], PutOptions::create()) {
                Err(Error::NotFound { .. }) => {}
                other => {
                    return Err(format!(
                        "create-only compose of a missing object gave {other:?}"
                    ));
                }
            }
            ensure!(
                ok("get_opt", b.get_opt(&copied))?.is_none(),
                "a failed create-only compose wrote its target"
            );
        }
        if self.store.capabilities().compare_and_swap {
            let stale = ok("head nested", b.head(&twice))?.version;
            ok(
                "compose with the current version",
                b.compose(&twice, &parts[1..2], PutOptions::update(stale.clone())),
            )?;
            match b.compose(&twice, &parts[..1], PutOptions::update(stale)) {
                Err(Error::PreconditionFailed { .. }) => {}
                other => return Err(format!("stale compose gave {other:?}")),
            }
            ensure!(
                ok("get", b.get(&twice))?.data == pb,
                "a failed compose changed the target"
            );
            twice_len = pb.len() as u64;
        }
        let fresh = Self::key(base, "fresh")?;
        match b.compose(
            &fresh,
            &[ComposePart::new(kb.clone()), ComposePart::new(kc)],
            PutOptions::new(),
        ) {
            Err(Error::NotFound { .. }) => {}
            other => return Err(format!("compose with a missing part gave {other:?}")),
        }
        match b.compose(
            &fresh,
            &[ComposePart::new(kb.clone()).with_range(30..90)],
            PutOptions::new(),
        ) {
            Ok(_) | Err(Error::InvalidRange { .. }) => {}
            other => return Err(format!("compose with a range past the end gave {other:?}")),
        }
        match b.compose(
            &fresh,
            &[ComposePart::new(kb.clone()).with_range(40..90)],
            PutOptions::new(),
        ) {
            Err(Error::InvalidRange { .. }) => {}
            other => {
                return Err(format!(
                    "compose with a range outside its part gave {other:?}"
                ));
            }
        }
        ok(
            "compose of nothing",
            b.compose(&fresh, &[], PutOptions::new()),
        )?;
        ensure!(
            ok("get empty", b.get(&fresh))?.data.is_empty(),
            "compose of nothing is not empty"
        );
        // A composed object is replaced and deleted like any other.
        ok("overwrite composed", b.put(&whole, "plain"))?;
        ensure!(
            &ok("get", b.get(&whole))?.data[..] == b"plain",
            "overwrite of a composed object"
        );
        let listed = ok("list", b.list_all(&format!("{base}/")))?;
        ensure!(
            listed.iter().any(|m| m.key == twice && m.size == twice_len),
            "listing does not show the composed object with its size {twice_len}"
        );
        ok("delete composed", b.delete(&twice))?;
        ensure!(
            ok("get_opt", b.get_opt(&twice))?.is_none(),
            "deleted composed object still there"
        );
        Ok(Outcome::Passed)
    }

    fn large_value(&self, base: &str) -> Result<Outcome, String> {
        let n = self.large_value_size;
        if self
            .store
            .capabilities()
            .max_value_size
            .is_some_and(|max| max < n as u64)
        {
            return Ok(Outcome::Skipped("max_value_size"));
        }
        let b = self.store.blocking();
        let k = Self::key(base, "big")?;
        let value: Bytes = (0..n)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        ok("put large", b.put(&k, value.clone()))?;
        ensure!(ok("head", b.head(&k))?.size == n as u64, "large value size");
        let got = ok("get large", b.get(&k))?;
        ensure!(got.data == value, "large value read back wrong");
        let mid = n as u64 / 2;
        let end = (mid + (1 << 20)).min(n as u64);
        if mid < end {
            let part = ok("ranged get", b.get_range(&k, mid..end))?;
            ensure!(
                part.data[..] == value[mid as usize..end as usize],
                "large ranged read wrong"
            );
        }
        ok("delete large", b.delete(&k))?;
        Ok(Outcome::Passed)
    }

    fn streamed(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let window = crate::STREAM_CHUNK as usize;
        let n = 2 * window + 12_345;
        let value: Vec<u8> = (0..n).map(|i| (i * 7 % 253) as u8).collect();
        let k = Self::key(base, "k")?;
        // Irregular chunks, empty ones included.
        let mut chunks = Vec::new();
        let mut at = 0;
        let mut step = 1;
        while at < n {
            let end = (at + step).min(n);
            chunks.push(Ok(Bytes::copy_from_slice(&value[at..end])));
            chunks.push(Ok(Bytes::new()));
            at = end;
            step = step * 3 + 777;
        }
        let mode = if self.store.capabilities().create_only {
            PutOptions::create()
        } else {
            PutOptions::new()
        };
        let put = ok(
            "put_stream",
            b.put_stream(&k, crate::byte_stream(chunks), mode),
        )?;
        let head = ok("head", b.head(&k))?;
        ensure!(head.size == n as u64, "streamed size {} != {n}", head.size);
        ensure!(
            head.version == put.version,
            "head version differs from put_stream's"
        );
        let got = ok("get", b.get(&k))?;
        ensure!(
            got.data[..] == value[..],
            "whole get of a streamed put differs"
        );
        let ranges: [(Option<ByteRange>, std::ops::Range<usize>); 5] = [
            (None, 0..n),
            (
                Some(ByteRange::Bounded(5..window as u64 + 9)),
                5..window + 9,
            ),
            (Some(ByteRange::From(window as u64 - 1)), window - 1..n),
            (
                Some(ByteRange::Suffix(window as u64 + 3)),
                n - window - 3..n,
            ),
            (
                Some(ByteRange::Bounded(n as u64 - 2..n as u64 + 50)),
                n - 2..n,
            ),
        ];
        for (range, want) in ranges {
            let opts = match &range {
                Some(r) => crate::GetOptions::new().with_range(r.clone()),
                None => crate::GetOptions::new(),
            };
            let mut body = ok("get_stream", b.get_stream(&k, opts))?;
            ensure!(
                body.range == (want.start as u64..want.end as u64),
                "get_stream {range:?}: range {:?}, want {want:?}",
                body.range
            );
            ensure!(body.meta.version == put.version, "get_stream version");
            ensure!(body.meta.size == n as u64, "get_stream size");
            let mut read = Vec::new();
            std::io::Read::read_to_end(&mut body, &mut read)
                .map_err(|e| format!("reading get_stream {range:?}: {e}"))?;
            ensure!(
                read[..] == value[want.clone()],
                "get_stream {range:?} returned {} bytes that differ",
                read.len()
            );
        }
        let missing = Self::key(base, "missing")?;
        ensure!(
            matches!(
                b.get_stream(&missing, crate::GetOptions::new()),
                Err(Error::NotFound { .. })
            ),
            "get_stream of a missing key is not NotFound"
        );
        ensure!(
            matches!(
                b.get_stream(
                    &k,
                    crate::GetOptions::new().with_range(n as u64..n as u64 + 1)
                ),
                Err(Error::InvalidRange { .. })
            ),
            "get_stream of a range past the end is not InvalidRange"
        );
        let empty = Self::key(base, "empty")?;
        ok(
            "put_stream of nothing",
            b.put_stream(&empty, crate::byte_stream([]), PutOptions::new()),
        )?;
        ensure!(ok("head", b.head(&empty))?.size == 0, "empty streamed put");
        let body = ok(
            "get_stream empty",
            b.get_stream(&empty, crate::GetOptions::new()),
        )?;
        let chunks: Vec<_> = body
            .collect::<crate::Result<_>>()
            .map_err(|e| e.to_string())?;
        ensure!(
            chunks.iter().all(Bytes::is_empty),
            "an empty object streamed bytes"
        );
        let small = Self::key(base, "small")?;
        ok("put small", b.put(&small, "tiny"))?;
        let got = ok(
            "get_stream small",
            b.get_stream(&small, crate::GetOptions::new()),
        )?;
        let bytes: Vec<Bytes> = got
            .collect::<crate::Result<_>>()
            .map_err(|e| e.to_string())?;
        ensure!(bytes.concat() == b"tiny", "get_stream of a small value");
        Ok(Outcome::Passed)
    }

    fn streamed_conditions(&self, base: &str) -> Result<Outcome, String> {
        let caps = self.store.capabilities();
        let b = self.store.blocking();
        let k = Self::key(base, "k")?;
        let chunks = |text: &'static str| {
            crate::byte_stream(
                text.as_bytes()
                    .chunks(3)
                    .map(|c| Ok(Bytes::copy_from_slice(c))),
            )
        };
        let first = ok(
            "put_stream",
            b.put_stream(&k, chunks("first value"), PutOptions::new()),
        )?;
        if caps.create_only {
            ensure!(
                matches!(
                    b.put_stream(&k, chunks("second"), PutOptions::create()),
                    Err(Error::AlreadyExists { .. })
                ),
                "create-only put_stream over an existing key did not fail with AlreadyExists"
            );
        }
        if caps.compare_and_swap {
            let stale = crate::Version::new("not-a-version");
            ensure!(
                matches!(
                    b.put_stream(&k, chunks("third"), PutOptions::update(stale)),
                    Err(Error::PreconditionFailed { .. })
                ),
                "put_stream with a stale version did not fail with PreconditionFailed"
            );
            ensure!(
                &ok("get", b.get(&k))?.data[..] == b"first value",
                "a refused put_stream changed the value"
            );
            let next = ok(
                "put_stream update",
                b.put_stream(
                    &k,
                    chunks("updated"),
                    PutOptions::update(first.version.clone()),
                ),
            )?;
            ensure!(next.version != first.version, "put_stream reused a version");
        }
        let before = ok("get", b.get(&k))?;
        // A body that fails half way writes nothing.
        let failing = crate::byte_stream([
            Ok(Bytes::from_static(b"partial ")),
            Err(Error::other(std::io::Error::other("the client went away"))),
            Ok(Bytes::from_static(b"never")),
        ]);
        match b.put_stream(&k, failing, PutOptions::new()) {
            Err(Error::Other { source }) if source.to_string() == "the client went away" => {}
            other => return Err(format!("a failing body gave {other:?}, not its own error")),
        }
        let after = ok("get", b.get(&k))?;
        ensure!(
            after.data == before.data && after.meta.version == before.meta.version,
            "a failed put_stream changed the value"
        );
        let fresh = Self::key(base, "fresh")?;
        let failing = crate::byte_stream([Err(Error::other(std::io::Error::other("no body")))]);
        ensure!(
            b.put_stream(&fresh, failing, PutOptions::new()).is_err(),
            "a failing body was accepted"
        );
        ensure!(
            ok("get_opt", b.get_opt(&fresh))?.is_none(),
            "a failed put_stream created the object"
        );
        Ok(Outcome::Passed)
    }

    /// A value of [`Suite::with_large_value_size`] bytes, streamed in and
    /// out from a generator: never whole in memory on either side.
    fn streamed_large(&self, base: &str) -> Result<Outcome, String> {
        let n = self.large_value_size as u64;
        if self
            .store
            .capabilities()
            .max_value_size
            .is_some_and(|max| max < n)
        {
            return Ok(Outcome::Skipped("max_value_size"));
        }
        let b = self.store.blocking();
        let k = Self::key(base, "big")?;
        ok(
            "put_stream large",
            b.put_stream(&k, pattern_stream(n, 1 << 20), PutOptions::new()),
        )?;
        ensure!(ok("head", b.head(&k))?.size == n, "streamed large size");
        let body = ok(
            "get_stream large",
            b.get_stream(&k, crate::GetOptions::new()),
        )?;
        let mut at = 0u64;
        for chunk in body {
            let chunk = chunk.map_err(|e| format!("reading the large stream at {at}: {e}"))?;
            ensure!(
                chunk
                    .iter()
                    .enumerate()
                    .all(|(i, &x)| x == pattern_byte(at + i as u64)),
                "the large stream differs within {at}..{}",
                at + chunk.len() as u64
            );
            at += chunk.len() as u64;
        }
        ensure!(at == n, "the large stream has {at} bytes, not {n}");
        ok("delete large", b.delete(&k))?;
        Ok(Outcome::Passed)
    }

    /// Multipart uploads, where declared: parts sent out of order complete
    /// into the exact bytes (over an existing object), an aborted upload
    /// leaves nothing, a completion naming parts other than `1..=n` fails
    /// with [`Error::InvalidMultipart`]. Undeclared, every call must fail
    /// with [`Error::Unsupported`].
    fn multipart(&self, base: &str) -> Result<Outcome, String> {
        let b = self.store.blocking();
        let k = Self::key(base, "object")?;
        let Some(limits) = self.store.capabilities().multipart else {
            let refused = |r: crate::Result<()>| matches!(r, Err(Error::Unsupported { .. }));
            let id = crate::MultipartId::new("none");
            ensure!(
                refused(b.create_multipart(&k).map(drop))
                    && refused(b.put_part(&k, &id, 1, "x").map(drop))
                    && refused(b.complete_multipart(&k, &id, &[]).map(drop))
                    && refused(b.abort_multipart(&k, &id)),
                "a store without multipart uploads did not refuse them with Unsupported"
            );
            ensure!(
                ok("get_opt", b.get_opt(&k))?.is_none(),
                "a refused multipart call wrote"
            );
            return Ok(Outcome::Unsupported("multipart"));
        };
        let size = usize::try_from(limits.min_part_size.max(1)).map_err(|e| e.to_string())?;
        let data: Bytes = (0..(2 * size + size / 2 + 1) as u64)
            .map(pattern_byte)
            .collect::<Vec<u8>>()
            .into();
        let slices = [
            data.slice(..size),
            data.slice(size..2 * size),
            data.slice(2 * size..),
        ];
        // Over an existing object: completion replaces it, in one step.
        ok("put", b.put(&k, "old"))?;
        let id = ok("create_multipart", b.create_multipart(&k))?;
        ensure!(
            &ok("get", b.get(&k))?.data[..] == b"old",
            "an upload in progress changed the object"
        );
        let mut parts = Vec::new();
        for n in [3u32, 1, 2] {
            let part = ok(
                "put_part",
                b.put_part(&k, &id, n, slices[n as usize - 1].clone()),
            )?;
            ensure!(
                part.number() == n,
                "put_part {n} answered part {}",
                part.number()
            );
            parts.push(part);
        }
        // Part 1 again (a retry) replaces it.
        parts[1] = ok("put_part again", b.put_part(&k, &id, 1, slices[0].clone()))?;
        parts.sort_by_key(crate::PartId::number);
        let done = ok("complete_multipart", b.complete_multipart(&k, &id, &parts))?;
        let got = ok("get completed", b.get(&k))?;
        ensure!(
            got.data == data,
            "the completed object differs from its parts"
        );
        // object_store's InMemory quotes the ETag of a completion only.
        let bare = |v: &crate::Version| v.as_str().trim_matches('"').to_string();
        ensure!(
            bare(&got.meta.version) == bare(&done.version),
            "the completed version {} is not the stored {}",
            done.version,
            got.meta.version
        );
        let listed = ok("list", b.list_all(&format!("{base}/")))?;
        ensure!(
            listed.len() == 1 && listed[0].key == k,
            "after completion the listing holds {:?}",
            listed.iter().map(|m| m.key.as_str()).collect::<Vec<_>>()
        );
        // Completed, the upload is gone.
        ensure!(
            matches!(
                b.put_part(&k, &id, 1, slices[0].clone()),
                Err(Error::NotFound { .. })
            ),
            "put_part into a completed upload did not fail with NotFound"
        );
        ok("abort completed", b.abort_multipart(&k, &id))?;
        ensure!(
            ok("get", b.get(&k))?.data == data,
            "abort of a completed upload changed the object"
        );

        // Aborted: nothing stored, nothing listed, the id is dead.
        let gone = Self::key(base, "aborted")?;
        let id = ok("create_multipart", b.create_multipart(&gone))?;
        ok("put_part", b.put_part(&gone, &id, 1, slices[0].clone()))?;
        ok("abort_multipart", b.abort_multipart(&gone, &id))?;
        ok("abort_multipart again", b.abort_multipart(&gone, &id))?;
        ensure!(
            ok("get_opt", b.get_opt(&gone))?.is_none(),
            "an aborted upload created its object"
        );
        ensure!(
            matches!(
                b.put_part(&gone, &id, 2, slices[1].clone()),
                Err(Error::NotFound { .. })
            ),
            "put_part into an aborted upload did not fail with NotFound"
        );
        let listed = ok("list", b.list_all(&format!("{base}/")))?;
        ensure!(
            listed.len() == 1,
            "an aborted upload left {} objects",
            listed.len() - 1
        );

        // A completion missing a part, or out of order: refused, typed.
        let holey = Self::key(base, "holey")?;
        let id = ok("create_multipart", b.create_multipart(&holey))?;
        let p1 = ok("put_part", b.put_part(&holey, &id, 1, slices[0].clone()))?;
        let p3 = ok("put_part", b.put_part(&holey, &id, 3, slices[2].clone()))?;
        for (what, list) in [
            ("missing part 2", vec![p1.clone(), p3.clone()]),
            ("out of order", vec![p3, p1]),
        ] {
            ensure!(
                matches!(
                    b.complete_multipart(&holey, &id, &list),
                    Err(Error::InvalidMultipart { .. })
                ),
                "a completion with a part {what} did not fail with InvalidMultipart"
            );
        }
        ensure!(
            matches!(
                b.put_part(&holey, &id, 0, slices[0].clone()),
                Err(Error::InvalidMultipart { .. })
            ),
            "part number 0 was not refused with InvalidMultipart"
        );
        ensure!(
            ok("get_opt", b.get_opt(&holey))?.is_none(),
            "a refused completion created its object"
        );
        ok("abort_multipart", b.abort_multipart(&holey, &id))?;
        ok("delete", b.delete(&k))?;
        Ok(Outcome::Passed)
    }

    fn create_race(&self, base: &str) -> Result<Outcome, String> {
        if !self.store.capabilities().create_only {
            return Ok(Outcome::Skipped("create_only"));
        }
        let k = Self::key(base, "k")?;
        let results: Vec<crate::Result<_>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads)
                .map(|i| {
                    let k = &k;
                    s.spawn(move || {
                        self.store
                            .blocking()
                            .put_opts(k, format!("{i}"), PutOptions::create())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("racing thread panicked"))
                .collect()
        });
        let wins = results.iter().filter(|r| r.is_ok()).count();
        let lost = results
            .iter()
            .filter(|r| matches!(r, Err(Error::AlreadyExists { .. })))
            .count();
        ensure!(
            wins == 1 && lost == self.threads - 1,
            "{wins} creates won, {lost} lost with AlreadyExists, of {}",
            self.threads
        );
        Ok(Outcome::Passed)
    }

    fn cas_race(&self, base: &str) -> Result<Outcome, String> {
        let caps = self.store.capabilities();
        if !caps.compare_and_swap || !caps.create_only {
            return Ok(Outcome::Skipped("compare_and_swap"));
        }
        let k = Self::key(base, "counter")?;
        let errors: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads)
                .map(|_| {
                    let k = &k;
                    s.spawn(move || -> Result<(), String> {
                        for _ in 0..self.increments {
                            ok("update", self.store.blocking().update(k, increment))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().expect("racing thread panicked").err())
                .collect()
        });
        ensure!(errors.is_empty(), "racing updates failed: {errors:?}");
        let got = ok("get", self.store.blocking().get(&k))?;
        let want = self.threads * self.increments;
        ensure!(
            got.data[..] == *want.to_string().as_bytes(),
            "{} threads x {} increments gave {:?}, not {want}: a lost update",
            self.threads,
            self.increments,
            String::from_utf8_lossy(&got.data)
        );
        Ok(Outcome::Passed)
    }
}

/// The byte at `i` of the generated values of the streamed checks.
pub fn pattern_byte(i: u64) -> u8 {
    (i.wrapping_mul(0x9E37_79B9) >> 7) as u8 ^ (i % 251) as u8
}

/// A stream of `n` generated bytes ([`pattern_byte`]) in chunks of
/// `chunk`, made as it is read (memory: one chunk).
pub fn pattern_stream(n: u64, chunk: usize) -> crate::ByteStream<'static> {
    let chunk = chunk.max(1) as u64;
    let mut at = 0u64;
    crate::byte_stream(std::iter::from_fn(move || {
        if at >= n {
            return None;
        }
        let end = n.min(at + chunk);
        let bytes: Vec<u8> = (at..end).map(pattern_byte).collect();
        at = end;
        Some(Ok(Bytes::from(bytes)))
    }))
}

/// The increment used by the race: a decimal counter (public so hosts can
/// drive the same race across processes).
///
/// # Errors
/// [`Error::Corrupt`] if `old` is not a decimal `u64`.
pub fn increment(old: Option<&Bytes>) -> crate::Result<Option<Bytes>> {
    let n: u64 = match old {
        None => 0,
        Some(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Corrupt {
                key: "counter".into(),
                reason: "not a decimal number".into(),
            })?,
    };
    Ok(Some((n + 1).to_string().into()))
}
