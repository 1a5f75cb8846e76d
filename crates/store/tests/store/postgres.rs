//! `PostgresStore` against a live server: conformance, reopen, the schema
//! guard, keys of every character a `Key` allows, chunks across ranges and
//! composes, damaged rows, compare-and-swap across processes, and faults (a
//! terminated connection mid-put, a statement timeout, an unreachable server,
//! a server crashed and restarted under a writer) as temporary errors with
//! nothing half-written visible.
//!
//! The server is the one in `BLOCKSMITH_POSTGRES_URL`; the crash test starts
//! one of its own with the tools in `BLOCKSMITH_POSTGRES_BIN`
//! (`.ci/postgres.sh` starts a server and sets both). Without them the tests
//! say that they skipped, unless `BLOCKSMITH_REQUIRE_POSTGRES=1`, when they
//! fail. Each test works in tables of its own prefix, so they run in
//! parallel and leave nothing behind.

use crate::check;
use blocksmith_store::{
    ByteRange, ComposePart, Error, GetOptions, Key, ListOptions, PostgresOptions, PostgresStore,
    PutOptions, Store, StoreExt, block_on,
};
use std::time::{Duration, Instant};

/// The server's URL, or `None` (after saying so) when the tests skip.
fn url() -> Option<String> {
    if let Ok(url) = std::env::var("BLOCKSMITH_POSTGRES_URL") {
        return Some(url);
    }
    assert!(
        std::env::var("BLOCKSMITH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
        "BLOCKSMITH_REQUIRE_POSTGRES=1 but BLOCKSMITH_POSTGRES_URL is not set"
    );
    eprintln!("SKIPPED: set BLOCKSMITH_POSTGRES_URL to run against a live PostgreSQL server");
    None
}

/// A plain connection for the tests' own SQL (locks, terminations, checks),
/// on a current-thread runtime of its own.
struct Admin {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Admin {
    fn connect(url: &str) -> Admin {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        });
        Admin { rt, client }
    }

    fn exec(&self, sql: &str) {
        self.rt.block_on(self.client.batch_execute(sql)).unwrap();
    }

    fn int(&self, sql: &str) -> i64 {
        self.rt
            .block_on(self.client.query_one(sql, &[]))
            .unwrap()
            .get(0)
    }
}

/// A table prefix of this test and process, with any tables a previous run
/// of the same name left dropped first.
fn fresh_prefix(admin: &Admin, name: &str) -> String {
    let prefix = format!("t_{name}_{}", std::process::id());
    drop_tables(admin, &prefix);
    prefix
}

fn drop_tables(admin: &Admin, prefix: &str) {
    admin.exec(&format!(
        "DROP TABLE IF EXISTS {prefix}_objects, {prefix}_chunks, {prefix}_meta;
         DROP SEQUENCE IF EXISTS {prefix}_versions;
         DROP FUNCTION IF EXISTS {prefix}_drop_chunks();"
    ));
}

fn open(url: &str, prefix: &str) -> PostgresStore {
    block_on(PostgresStore::open(
        PostgresOptions::new(url).with_table_prefix(prefix),
    ))
    .unwrap()
}

/// Chunk rows that belong to no current version (left by a put, a compose
/// or a delete): there must never be any.
fn orphan_chunks(admin: &Admin, prefix: &str) -> i64 {
    admin.int(&format!(
        "SELECT count(*) FROM {prefix}_chunks
         WHERE object NOT IN (SELECT version FROM {prefix}_objects)"
    ))
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn postgres_conforms() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "conform");
    let store = open(&url, &prefix);
    let r = check(&store);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(orphan_chunks(&admin, &prefix), 0);
    drop(store);
    drop_tables(&admin, &prefix);
}

#[test]
fn postgres_conforms_on_a_host_runtime() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "hostrt");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = block_on(PostgresStore::open_with_handle(
        PostgresOptions::new(&url).with_table_prefix(&prefix),
        rt.handle().clone(),
    ))
    .unwrap();
    let r = blocksmith_store::conformance::Suite::new(&store)
        .with_large_value_size(3 << 20)
        .run()
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    // Awaited inside the runtime too.
    let key = Key::new("inside/runtime").unwrap();
    rt.block_on(async {
        store
            .put(&key, "x".into(), PutOptions::new())
            .await
            .unwrap();
        assert_eq!(
            &store.get(&key, GetOptions::new()).await.unwrap().data[..],
            b"x"
        );
    });
    drop(store);
    drop_tables(&admin, &prefix);
}

#[test]
fn postgres_reopens_with_data_and_fresh_versions() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "reopen");
    let key = Key::new("k/1").unwrap();
    let big_key = Key::new("k/big").unwrap();
    let big = pattern(3 * (1 << 20) + 5, 7);
    let v1 = {
        let store = open(&url, &prefix);
        store.blocking().put(&big_key, big.clone()).unwrap();
        let first = store.blocking().put(&key, "1").unwrap().version;
        store.blocking().delete(&key).unwrap();
        let again = store.blocking().put(&key, "1").unwrap().version;
        assert_ne!(
            first, again,
            "a version came back after delete and re-create"
        );
        again
    };
    let store = open(&url, &prefix);
    let v2 = store.blocking().put(&key, "2").unwrap().version;
    assert_ne!(v1, v2);
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"2");
    let r = block_on(store.get(
        &big_key,
        GetOptions::new().with_range((1 << 20) - 3..(1 << 20) + 7),
    ))
    .unwrap();
    assert_eq!(&r.data[..], &big[(1 << 20) - 3..(1 << 20) + 7]);
    assert_eq!(r.meta.size, big.len() as u64);
    drop(store);
    drop_tables(&admin, &prefix);
}

#[test]
fn a_newer_schema_and_a_bad_prefix_are_refused() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "schema");
    drop(open(&url, &prefix));
    admin.exec(&format!(
        "UPDATE {prefix}_meta SET value = 99 WHERE name = 'schema'"
    ));
    let err = block_on(PostgresStore::open(
        PostgresOptions::new(&url).with_table_prefix(&prefix),
    ))
    .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("schema 99"), "{err}");
    drop_tables(&admin, &prefix);
    for bad in [
        "",
        "1abc",
        "Upper",
        "a-b",
        "a;drop table x",
        "a b",
        &"a".repeat(41),
    ] {
        let err = block_on(PostgresStore::open(
            PostgresOptions::new(&url).with_table_prefix(bad),
        ))
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Backend {
                    temporary: false,
                    ..
                }
            ),
            "{bad:?}: {err:?}"
        );
    }
}

/// Every character a key may hold (so every byte its UTF-8 may hold) goes
/// in and comes back, lists in byte order, and `%` and `_` in a prefix are
/// plain characters.
#[test]
fn keys_of_every_allowed_character_round_trip() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "keys");
    let store = open(&url, &prefix);
    let s = store.blocking();
    let allowed = |c: &char| !c.is_control() && *c != '\\' && *c != '/';
    let mut chars: Vec<char> = ('\u{20}'..='\u{7ff}').filter(allowed).collect();
    chars.extend(('\u{800}'..='\u{ffff}').step_by(61).filter(allowed));
    chars.extend(('\u{10000}'..='\u{10ffff}').step_by(4099));
    chars.extend(['\u{d7ff}', '\u{e000}', '\u{fffd}', '\u{ffff}', '\u{10ffff}']);
    let mut keys = Vec::new();
    let mut segment = String::new();
    for c in chars {
        if segment.len() + c.len_utf8() > 900 {
            keys.push(Key::new(format!("all/{:03}/{segment}", keys.len())).unwrap());
            segment.clear();
        }
        segment.push(c);
    }
    keys.push(Key::new(format!("all/{:03}/{segment}", keys.len())).unwrap());
    let bytes: std::collections::BTreeSet<u8> =
        keys.iter().flat_map(|k| k.as_str().bytes()).collect();
    assert_eq!(
        bytes.len(),
        // Printable ASCII less the backslash, every continuation byte, every
        // lead byte UTF-8 uses (C2-F4).
        (0x20..=0x7e).count() - 1 + 64 + (0xc2..=0xf4).count(),
        "the keys miss a byte"
    );
    for k in &keys {
        s.put(k, k.as_str().to_owned()).unwrap();
    }
    for k in &keys {
        assert_eq!(s.get(k).unwrap().data, k.as_str().as_bytes());
    }
    let listed: Vec<Key> = s
        .list_all("all/")
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(listed, want);
    // Paged with start_after inside the astral plane.
    let page = s.list(ListOptions::prefix("all/").with_limit(2)).unwrap();
    assert_eq!(page.objects.len(), 2);
    // A prefix is a prefix: no LIKE patterns.
    for rel in [
        "a%b",
        "a%",
        "a_b",
        "axb",
        "ab",
        "a\u{10ffff}",
        "a\u{10ffff}z",
        "b",
    ] {
        s.put(&Key::new(format!("pct/{rel}")).unwrap(), rel)
            .unwrap();
    }
    let names = |p: &str| -> Vec<String> {
        s.list_all(p)
            .unwrap()
            .into_iter()
            .map(|m| m.key.into_string())
            .collect()
    };
    assert_eq!(names("pct/a%"), ["pct/a%", "pct/a%b"]);
    assert_eq!(names("pct/a_"), ["pct/a_b"]);
    assert_eq!(
        names("pct/a\u{10ffff}"),
        ["pct/a\u{10ffff}", "pct/a\u{10ffff}z"]
    );
    assert_eq!(names("pct/a").len(), 7);
    drop(store);
    drop_tables(&admin, &prefix);
}

/// Ranges and composes whose edges fall inside and across 1 MiB chunks,
/// a compose that appends to its own target, and no chunk left behind.
#[test]
fn chunks_across_ranges_and_composes() {
    const M: usize = 1 << 20;
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "chunks");
    let store = open(&url, &prefix);
    let s = store.blocking();
    let a = pattern(2 * M + 100, 1);
    let b = pattern(M, 2);
    let (ka, kb) = (Key::new("p/a").unwrap(), Key::new("p/b").unwrap());
    s.put(&ka, a.clone()).unwrap();
    s.put(&kb, b.clone()).unwrap();
    for r in [
        0..1,
        M - 1..M + 1,
        5..2 * M + 100,
        2 * M..2 * M + 100,
        M..2 * M,
    ] {
        let got = s.get_range(&ka, r.start as u64..r.end as u64).unwrap();
        assert_eq!(got.data, a[r.clone()], "{r:?}");
    }
    let got = s.get_range(&ka, ByteRange::Suffix(M as u64 + 1)).unwrap();
    assert_eq!(got.data, a[a.len() - M - 1..]);
    let whole = Key::new("w").unwrap();
    let parts = [
        ComposePart::new(ka.clone()).with_range((M - 10) as u64..(2 * M + 3) as u64),
        ComposePart::new(kb.clone()),
        ComposePart::new(ka.clone()).with_range(ByteRange::Suffix(7)),
    ];
    s.compose(&whole, &parts, PutOptions::create()).unwrap();
    let mut want = a[M - 10..2 * M + 3].to_vec();
    want.extend_from_slice(&b);
    want.extend_from_slice(&a[a.len() - 7..]);
    assert_eq!(s.get(&whole).unwrap().data, want);
    for r in [M + 5..M + 20, 3..2 * M + 20, 2 * M + 10..want.len()] {
        assert_eq!(
            s.get_range(&whole, r.start as u64..r.end as u64)
                .unwrap()
                .data,
            want[r.clone()],
            "{r:?}"
        );
    }
    // Append to the target itself, under compare-and-swap.
    let v = s.head(&whole).unwrap().version;
    s.compose(
        &whole,
        &[
            ComposePart::new(whole.clone()),
            ComposePart::new(kb.clone()),
        ],
        PutOptions::update(v.clone()),
    )
    .unwrap();
    want.extend_from_slice(&b);
    assert_eq!(s.get(&whole).unwrap().data, want);
    assert!(matches!(
        s.compose(
            &whole,
            &[ComposePart::new(kb.clone())],
            PutOptions::update(v)
        ),
        Err(Error::PreconditionFailed { .. })
    ));
    s.put(&ka, "small now").unwrap();
    s.delete(&kb).unwrap();
    assert_eq!(s.get(&whole).unwrap().data, want);
    assert_eq!(orphan_chunks(&admin, &prefix), 0);
    drop(store);
    drop_tables(&admin, &prefix);
}

/// Rows the store did not write (a missing chunk, a chunk too long, a
/// negative size, a key a `Key` refuses) are typed errors, never a panic or
/// wrong bytes.
#[test]
fn damaged_rows_are_errors() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "damage");
    let store = open(&url, &prefix);
    let s = store.blocking();
    let (gap, long, neg) = (
        Key::new("gap").unwrap(),
        Key::new("long").unwrap(),
        Key::new("neg").unwrap(),
    );
    for k in [&gap, &long] {
        s.put(k, pattern(3 << 20, 9)).unwrap();
    }
    s.put(&neg, "x").unwrap();
    admin.exec(&format!(
        "DELETE FROM {prefix}_chunks WHERE start = {} AND object =
             (SELECT version FROM {prefix}_objects WHERE key = 'gap');
         UPDATE {prefix}_chunks SET data = data || '\\x00'::bytea WHERE start = 0 AND object =
             (SELECT version FROM {prefix}_objects WHERE key = 'long');
         UPDATE {prefix}_objects SET size = -1 WHERE key = 'neg';",
        1 << 20
    ));
    for (k, range) in [
        (&gap, None),
        (&gap, Some((1 << 20) - 1..(1 << 20) + 1)),
        (&long, None),
        (&long, Some(0..(2 << 20))),
        (&neg, None),
    ] {
        let got = match range {
            None => s.get(k),
            Some(r) => s.get_range(k, r),
        };
        assert!(matches!(got, Err(Error::Corrupt { .. })), "{k}: {got:?}");
    }
    assert!(matches!(s.head(&neg), Err(Error::Corrupt { .. })));
    // A chunk past the damage still reads.
    let tail = s.get_range(&gap, (2 << 20) + 1..(2 << 20) + 3).unwrap();
    assert_eq!(tail.data, pattern(3 << 20, 9)[(2 << 20) + 1..(2 << 20) + 3]);
    admin.exec(&format!(
        "INSERT INTO {prefix}_objects (key, version, size) VALUES ('bad//key', 1, 0)"
    ));
    assert!(matches!(s.list_all(""), Err(Error::InvalidKey { .. })));
    drop(store);
    drop_tables(&admin, &prefix);
}

const WORKER_ENV: &str = "BLOCKSMITH_POSTGRES_CAS_WORKER";

/// Not a test on its own: the child process of `postgres_cas_across_processes`.
#[test]
fn postgres_cas_worker() {
    let (Ok(prefix), Ok(url)) = (
        std::env::var(WORKER_ENV),
        std::env::var("BLOCKSMITH_POSTGRES_URL"),
    ) else {
        return;
    };
    let store = open(&url, &prefix);
    let key = Key::new("shared/counter").unwrap();
    for _ in 0..50 {
        store
            .blocking()
            .update(&key, blocksmith_store::conformance::increment)
            .unwrap();
    }
}

#[test]
fn postgres_cas_across_processes() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "procs");
    drop(open(&url, &prefix));
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "postgres::postgres_cas_worker",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, &prefix)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = open(&url, &prefix);
    let got = store
        .blocking()
        .get(&Key::new("shared/counter").unwrap())
        .unwrap();
    assert_eq!(&got.data[..], b"200", "lost updates across processes");
    drop(store);
    drop_tables(&admin, &prefix);
}

/// The server ends the store's connection while a large put is half
/// written (its fourth chunk waits on a lock the test holds): the put fails
/// with a temporary error, readers never see the half, and the store works
/// again on a new connection.
#[test]
fn a_connection_terminated_mid_put_is_temporary_and_leaves_nothing_half_written() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "fault");
    let app = format!("blocksmith-fault-{}", std::process::id());
    let store = block_on(PostgresStore::open(
        PostgresOptions::new(&url)
            .with_table_prefix(&prefix)
            .with_pool_size(1)
            .with_application_name(&app),
    ))
    .unwrap();
    let key = Key::new("big").unwrap();
    let old = pattern(5 << 20, 1);
    let new = pattern(5 << 20, 2);
    let v_old = store.blocking().put(&key, old.clone()).unwrap().version;
    // The put's version will be the sequence's next value: hold a lock on
    // the chunk row it writes at 3 MiB, in a transaction left open.
    let next = admin.int(&format!("SELECT nextval('{prefix}_versions')")) + 1;
    admin.exec(&format!(
        "BEGIN; INSERT INTO {prefix}_chunks (object, start, data) VALUES ({next}, {}, '\\x00')",
        3 << 20
    ));
    let put = std::thread::scope(|scope| {
        let put = scope.spawn(|| store.blocking().put(&key, new.clone()));
        // Wait until the store's backend waits on that lock, then end it.
        let deadline = Instant::now() + Duration::from_secs(60);
        let waiting = format!(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = '{app}' AND wait_event_type = 'Lock'"
        );
        while admin.int(&waiting) == 0 {
            assert!(Instant::now() < deadline, "the put never reached the lock");
            std::thread::sleep(Duration::from_millis(20));
        }
        let ended = admin.int(&format!(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = '{app}') t"
        ));
        assert_eq!(ended, 1);
        put.join().unwrap()
    });
    admin.exec("ROLLBACK");
    let err = put.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "postgres",
                ..
            }
        ) && err.is_temporary(),
        "{err:?}"
    );
    // Nothing of the failed put is visible or stored; the old value is whole.
    let got = store.blocking().get(&key).unwrap();
    assert_eq!(got.meta.version, v_old);
    assert!(got.data == old, "the old value changed");
    assert_eq!(
        admin.int(&format!(
            "SELECT count(*) FROM {prefix}_chunks WHERE object = {next}"
        )),
        0
    );
    assert_eq!(orphan_chunks(&admin, &prefix), 0);
    // And the store works again.
    let v = store.blocking().put(&key, new.clone()).unwrap().version;
    let got = store.blocking().get(&key).unwrap();
    assert_eq!((got.meta.version, got.data == new), (v, true));
    drop(store);
    drop_tables(&admin, &prefix);
}

/// A put that waits on a row lock past `statement_timeout` is cancelled by
/// the server: a temporary error, the value untouched.
#[test]
fn a_statement_timeout_is_temporary() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "timeout");
    let store = block_on(PostgresStore::open(
        PostgresOptions::new(&url)
            .with_table_prefix(&prefix)
            .with_statement_timeout(Some(Duration::from_millis(200))),
    ))
    .unwrap();
    let key = Key::new("k").unwrap();
    store.blocking().put(&key, "one").unwrap();
    admin.exec(&format!(
        "BEGIN; SELECT * FROM {prefix}_objects WHERE key = 'k' FOR UPDATE"
    ));
    let err = block_on(store.put(&key, "two".into(), PutOptions::new())).unwrap_err();
    admin.exec("ROLLBACK");
    assert!(err.is_temporary(), "{err:?}");
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"one");
    store.blocking().put(&key, "two").unwrap();
    drop(store);
    drop_tables(&admin, &prefix);
}

/// A server that is not there: a temporary error, at once (no server needed).
#[test]
fn an_unreachable_server_is_temporary() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = block_on(PostgresStore::open(PostgresOptions::new(format!(
        "postgres://nobody@127.0.0.1:{port}/none"
    ))))
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "postgres",
                ..
            }
        ) && err.is_temporary(),
        "{err:?}"
    );
    let err = block_on(PostgresStore::open(PostgresOptions::new("not a url="))).unwrap_err();
    assert!(!err.is_temporary(), "{err:?}");
}

/// A PostgreSQL server of the test's own (the tools in
/// `BLOCKSMITH_POSTGRES_BIN`, which `.ci/postgres.sh` exports): a fresh
/// cluster on a free loopback port, run as `BLOCKSMITH_POSTGRES_RUN_AS`
/// (default `postgres`) when the test runs as root; stopped (like a crash)
/// when dropped.
#[cfg(unix)]
struct OwnServer {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The user a server of the test's own runs as when the test is root.
#[cfg(unix)]
fn run_as() -> String {
    std::env::var("BLOCKSMITH_POSTGRES_RUN_AS").unwrap_or_else(|_| "postgres".into())
}

#[cfg(unix)]
impl OwnServer {
    fn command(&self, tool: &str) -> std::process::Command {
        if rustix::process::geteuid().is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", &run_as(), "--"]).arg(self.bin.join(tool));
            c
        } else {
            std::process::Command::new(self.bin.join(tool))
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool).args(args).output().unwrap();
        assert!(out.status.success(), "{tool} {args:?}: {out:?}");
    }

    fn init(bin: std::path::PathBuf) -> OwnServer {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        if rustix::process::geteuid().is_root() {
            let out = std::process::Command::new("chown")
                .arg(run_as())
                .arg(&data)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = OwnServer {
            bin,
            data,
            port,
            _dir: dir,
        };
        let d = server.data.to_str().unwrap().to_owned();
        server.run(
            "initdb",
            &[
                "-D",
                &d,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
            ],
        );
        server.start();
        server
    }

    fn start(&self) {
        let d = self.data.to_str().unwrap();
        let opts = format!("-c listen_addresses=127.0.0.1 -p {} -k {d}", self.port);
        let log = format!("{d}/server.log");
        self.run("pg_ctl", &["-D", d, "-l", &log, "-w", "-o", &opts, "start"]);
    }

    /// Stops the server the way a crash or a kill does: no checkpoint,
    /// connections cut.
    fn crash(&self) {
        let d = self.data.to_str().unwrap();
        self.run("pg_ctl", &["-D", d, "-m", "immediate", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

#[cfg(unix)]
impl Drop for OwnServer {
    fn drop(&mut self) {
        let d = self.data.to_str().unwrap_or_default().to_owned();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &d, "-m", "immediate", "stop"])
            .output();
    }
}

/// The server stops (as in a crash) while a writer puts large values and
/// starts again: every failure is a temporary error, every put that was
/// acknowledged is still there after recovery, every value is whole (one
/// put's bytes, never a mix or a half), and the same store works again.
#[cfg(unix)]
#[test]
fn a_server_crash_and_restart_mid_workload() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const KEYS: usize = 3;
    let Ok(bin) = std::env::var("BLOCKSMITH_POSTGRES_BIN") else {
        assert!(
            std::env::var("BLOCKSMITH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "BLOCKSMITH_REQUIRE_POSTGRES=1 but BLOCKSMITH_POSTGRES_BIN is not set"
        );
        eprintln!(
            "SKIPPED: set BLOCKSMITH_POSTGRES_BIN to PostgreSQL's bin directory to crash a server"
        );
        return;
    };
    let server = OwnServer::init(bin.into());
    let store = block_on(PostgresStore::open(
        PostgresOptions::new(server.url())
            .with_pool_size(2)
            .with_connect_timeout(Duration::from_secs(5)),
    ))
    .unwrap();
    // Put i writes KEYS.len() keys round robin: 2 MiB + i bytes, all i.
    let value = |i: usize| vec![i as u8; (2 << 20) + i];
    let (ok, failed, stop) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicBool::new(false),
    );
    let keys: Vec<Key> = (0..KEYS)
        .map(|k| Key::new(format!("k/{k}")).unwrap())
        .collect();
    let acked = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // The last acknowledged and the last attempted put per key.
            let mut acked = [None::<usize>; KEYS];
            let mut tried = [None::<usize>; KEYS];
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) && i < 250 {
                tried[i % KEYS] = Some(i);
                match store.blocking().put(&keys[i % KEYS], value(i)) {
                    Ok(_) => {
                        acked[i % KEYS] = Some(i);
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        assert!(e.is_temporary(), "put {i}: {e:?}");
                        failed.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                i += 1;
            }
            (acked, tried)
        });
        let wait = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !done() {
                assert!(!writer.is_finished(), "the writer stopped before {what}");
                assert!(Instant::now() < deadline, "timed out waiting for {what}");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait("puts before the crash", &|| ok.load(Ordering::SeqCst) >= 4);
        server.crash();
        wait("a failed put", &|| failed.load(Ordering::SeqCst) >= 1);
        server.start();
        let before = ok.load(Ordering::SeqCst);
        wait("puts after the restart", &|| {
            ok.load(Ordering::SeqCst) >= before + 4
        });
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap()
    });
    let (acked, tried) = acked;
    println!(
        "{} puts acknowledged, {} failed (temporary) around the crash",
        ok.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst)
    );
    for (k, key) in keys.iter().enumerate() {
        let got = store.blocking().get(key).unwrap();
        let i = got.data.first().copied().unwrap() as usize;
        // Whole: one put's bytes and length.
        assert!(
            got.data.len() == (2 << 20) + i && got.data.iter().all(|&b| b as usize == i),
            "{key} holds a mix or a half"
        );
        // Durable: no older than the last acknowledged put, no newer than
        // the last attempted one (a put whose answer the crash took may or
        // may not have committed).
        assert!(
            acked[k].is_none_or(|a| i >= a) && tried[k].is_some_and(|t| i <= t),
            "{key}: holds put {i}, last acknowledged {:?}, last tried {:?}",
            acked[k],
            tried[k]
        );
    }
}

/// A streamed put runs its transaction on the store's runtime; a caller
/// that goes away mid-body rolls it back: nothing published, no chunk
/// left. A whole streamed put of several chunks reads back.
#[test]
fn streamed_puts_commit_whole_or_not_at_all() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "stream");
    let store = open(&url, &prefix);
    let key = Key::new("streamed/big").unwrap();
    crate::cancel_mid_body(&store, &key);
    std::thread::sleep(Duration::from_millis(300));
    assert!(store.blocking().get_opt(&key).unwrap().is_none());
    assert_eq!(orphan_chunks(&admin, &prefix), 0);
    let value = pattern(3 * (1 << 20) + 77, 5);
    let chunks: Vec<_> = value
        .chunks(700_001)
        .map(|c| Ok(blocksmith_store::Bytes::copy_from_slice(c)))
        .collect();
    store
        .blocking()
        .put_stream(
            &key,
            blocksmith_store::byte_stream(chunks),
            PutOptions::create(),
        )
        .unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().data, value);
    assert_eq!(
        admin.int(&format!("SELECT count(*) FROM {prefix}_chunks")),
        4
    );
    drop(store);
    drop_tables(&admin, &prefix);
}

/// A call past `call_timeout` (a read that waits on a table lock the test
/// holds) fails with the typed, temporary `Error::TimedOut`; its connection
/// is closed rather than pooled, so the store's one connection is a new
/// one and works once the lock goes.
#[test]
fn a_call_timeout_is_a_typed_temporary_error() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "calltimeout");
    let app = format!("blocksmith-calltimeout-{}", std::process::id());
    let store = block_on(PostgresStore::open(
        PostgresOptions::new(&url)
            .with_table_prefix(&prefix)
            .with_pool_size(1)
            .with_application_name(&app)
            .with_call_timeout(Some(Duration::from_millis(300))),
    ))
    .unwrap();
    let key = Key::new("k").unwrap();
    store.blocking().put(&key, "one").unwrap();
    admin.exec(&format!(
        "BEGIN; LOCK TABLE {prefix}_objects IN ACCESS EXCLUSIVE MODE"
    ));
    let err = store.blocking().get(&key).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TimedOut {
                backend: "postgres",
                after
            } if after == Duration::from_millis(300)
        ),
        "{err:?}"
    );
    assert!(err.is_temporary());
    admin.exec("ROLLBACK");
    // The abandoned connection is not the one the next call gets.
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"one");
    store.blocking().put(&key, "two").unwrap();
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"two");
    let deadline = Instant::now() + Duration::from_secs(60);
    let backends =
        format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'");
    while admin.int(&backends) > 1 {
        assert!(
            Instant::now() < deadline,
            "the timed-out connection stayed open"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(store);
    drop_tables(&admin, &prefix);
}

/// With a schema, the store's tables, sequence and function live in it (it
/// is created), every statement names them qualified, and look-alike
/// tables in the default `search_path` (here a `P_meta` in `public` that
/// claims a newer schema, which would refuse an unqualified open) are never
/// touched; the trigger function runs with a fixed `search_path`.
#[test]
fn a_schema_qualifies_every_name() {
    let Some(url) = url() else { return };
    let admin = Admin::connect(&url);
    let prefix = fresh_prefix(&admin, "schema");
    let schema = format!("bs_schema_{}", std::process::id());
    admin.exec(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    admin.exec(&format!(
        "CREATE TABLE public.{prefix}_meta (name text PRIMARY KEY, value bigint NOT NULL);
         INSERT INTO public.{prefix}_meta VALUES ('schema', 99)"
    ));
    let unqualified = block_on(PostgresStore::open(
        PostgresOptions::new(&url).with_table_prefix(&prefix),
    ));
    assert!(
        matches!(unqualified, Err(Error::Corrupt { .. })),
        "the decoy was not in the way: {unqualified:?}"
    );
    let options = PostgresOptions::new(&url)
        .with_table_prefix(&prefix)
        .with_schema(&schema);
    let store = block_on(PostgresStore::open(options.clone())).unwrap();
    let r = check(&store);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    let key = Key::new("kept").unwrap();
    store.blocking().put(&key, vec![4u8; 3 << 20]).unwrap();
    drop(store);
    let store = block_on(PostgresStore::open(options)).unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().data.len(), 3 << 20);
    drop(store);
    let in_schema = admin.int(&format!(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = '{schema}' AND c.relname LIKE '{prefix}\\_%'"
    ));
    // meta, objects, chunks, versions, and the three primary keys' indexes.
    assert_eq!(in_schema, 7);
    assert_eq!(
        admin.int(&format!(
            "SELECT count(*) FROM {schema}.{prefix}_chunks
             WHERE object NOT IN (SELECT version FROM {schema}.{prefix}_objects)"
        )),
        0
    );
    assert_eq!(
        admin.int(&format!(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = '{schema}' AND p.proname = '{prefix}_drop_chunks'
               AND 'search_path=pg_catalog, pg_temp' = ANY(p.proconfig)"
        )),
        1
    );
    assert_eq!(
        admin.int(&format!("SELECT value FROM public.{prefix}_meta")),
        99,
        "the decoy changed"
    );
    admin.exec(&format!(
        "DROP SCHEMA {schema} CASCADE; DROP TABLE public.{prefix}_meta"
    ));
}
