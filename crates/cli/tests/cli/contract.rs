//! The command-line contract: every subcommand's `--json` output parses, exit
//! codes follow the table in `--help`, `-` is standard input/output,
//! completions, `NO_COLOR`, `--color` and `BLOCKSMITH_STORE`.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary with a clean environment for the variables it reads.
fn call(store: Option<&Path>, env: &[(&str, &str)], stdin: Option<&[u8]>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blocksmith"));
    if let Some(dir) = store {
        cmd.arg("--store").arg(dir);
    }
    cmd.args(args);
    for var in [
        "BLOCKSMITH_STORE",
        "BLOCKSMITH_VAULT_PASSWORD",
        "BLOCKSMITH_VAULT_SECRET_KEY",
        "BLOCKSMITH_APIKEY_PEPPER",
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run blocksmith");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin
        && let Err(e) = input.write_all(bytes)
    {
        // A command may exit (refusing its arguments) without reading.
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

/// Every JSON value on `bytes` (one, or JSON Lines); panics if any line is not JSON.
fn values(bytes: &[u8], what: &str) -> Vec<Value> {
    let parsed: Result<Vec<Value>, _> = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .collect();
    let parsed = parsed.unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    assert!(!parsed.is_empty(), "{what}: no JSON");
    parsed
}

/// The command paths `blocksmith --help` and its subcommands' help list:
/// `(every path, the runnable ones)`.
fn command_tree() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut all = BTreeSet::new();
    let mut runnable = BTreeSet::new();
    let mut todo = vec![String::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.split_whitespace().collect();
        args.push("--help");
        let o = call(None, &[], None, &args);
        assert!(o.status.success(), "{args:?}: {o:?}");
        let help = String::from_utf8(o.stdout).unwrap();
        let mut subs = Vec::new();
        let mut in_commands = false;
        for line in help.lines() {
            if line == "Commands:" {
                in_commands = true;
                continue;
            }
            if in_commands {
                let Some(name) = line
                    .strip_prefix("  ")
                    .and_then(|l| l.split_whitespace().next())
                else {
                    break;
                };
                if name != "help" && !line.starts_with("   ") {
                    subs.push(name.to_string());
                }
            }
        }
        if !path.is_empty() && (subs.is_empty() || help.contains("\nArguments:")) {
            runnable.insert(path.clone());
        }
        for s in subs {
            let child = format!("{path} {s}").trim().to_string();
            all.insert(child.clone());
            todo.push(child);
        }
    }
    (all, runnable)
}

/// A test session on one store: runs steps and records which commands ran.
struct Session {
    dir: tempfile::TempDir,
    paths: BTreeSet<String>,
    ran: BTreeSet<String>,
}

impl Session {
    fn store(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// Runs `args` with `--json`, expects exit `code`, and returns the JSON
    /// it printed: the result on stdout (codes 0 and 1) or the error on stderr.
    fn step(
        &mut self,
        code: i32,
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
        args: &[&str],
    ) -> Value {
        let words: Vec<&str> = args
            .iter()
            .copied()
            .take_while(|a| !a.starts_with('-'))
            .collect();
        let path = (1..=words.len())
            .rev()
            .map(|n| words[..n].join(" "))
            .find(|p| self.paths.contains(p))
            .unwrap_or_else(|| panic!("{args:?} names no command"));
        self.ran.insert(path);
        let mut full = vec!["--json"];
        full.extend(args);
        let o = call(Some(self.dir.path()), env, stdin, &full);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {o:?}");
        if code <= 1 {
            let mut v = values(&o.stdout, &format!("{args:?}"));
            if v.len() == 1 {
                v.remove(0)
            } else {
                Value::Array(v)
            }
        } else {
            let err = values(&o.stderr, &format!("{args:?} (stderr)")).remove(0);
            assert_eq!(err["exit_code"], code, "{args:?}: {err}");
            assert!(err["kind"].is_string() && err["error"].is_string(), "{err}");
            err
        }
    }

    fn ok(&mut self, args: &[&str]) -> Value {
        self.step(0, &[], None, args)
    }
}

/// `n` lines of `timestamp,value`.
fn points(n: i64, f: impl Fn(i64) -> (i64, f64)) -> String {
    let mut s = String::new();
    for i in 0..n {
        let (t, v) = f(i);
        let _ = writeln!(s, "{t},{v}");
    }
    s
}

/// A PGM page with dark blobs in two lines.
fn page() -> Vec<u8> {
    let (w, h) = (300u32, 120u32);
    let mut px = vec![250u8; (w * h) as usize];
    for line in 0..2u32 {
        for glyph in 0..6u32 {
            let (x0, y0) = (20 + glyph * 24, 20 + line * 50);
            for y in y0..y0 + 25 {
                for x in x0..x0 + 14 {
                    px[(y * w + x) as usize] = 20;
                }
            }
        }
    }
    let mut out = format!("P5\n{w} {h}\n255\n").into_bytes();
    out.extend_from_slice(&px);
    out
}

#[test]
#[allow(clippy::too_many_lines)] // one realistic invocation per subcommand
fn every_subcommand_json_parses() {
    let (paths, runnable) = command_tree();
    assert!(
        runnable.len() >= 80 && runnable.contains("diff config drift") && runnable.contains("ocr"),
        "{runnable:?}"
    );
    let mut s = Session {
        dir: tempfile::tempdir().unwrap(),
        paths,
        ran: BTreeSet::new(),
    };

    // store
    s.ok(&["store", "put", "notes/a", "--value", "hello"]);
    s.ok(&["store", "get", "notes/a"]);
    s.ok(&["store", "head", "notes/a"]);
    s.ok(&["store", "list", "notes/"]);
    s.ok(&["store", "delete", "notes/a"]);

    // tsz
    let csv = points(3000, |i| {
        (1_700_000_000_000 + i * 1000, (i % 17) as f64 / 4.0)
    });
    let pts = s.file("pts.csv", csv.as_bytes());
    let packed = s.store().join("pts.tsz");
    let packed = packed.to_str().unwrap();
    s.ok(&["tsz", "stats", &pts]);
    s.ok(&["tsz", "compress", &pts, packed]);
    let back = s.store().join("back.csv");
    s.ok(&["tsz", "decompress", packed, back.to_str().unwrap()]);

    // diff
    let a = s.file("a.json", br#"{"replicas": 2, "image": "app:1"}"#);
    let b = s.file("b.json", br#"{"replicas": 3, "image": "app:1"}"#);
    let c = s.file("c.json", br#"{"replicas": 2, "image": "app:2"}"#);
    s.step(1, &[], None, &["diff", &a, &b]);
    let patch = s.file(
        "p.json",
        br#"[{"op": "replace", "path": "/replicas", "value": 5}]"#,
    );
    let out = s.store().join("out.json");
    s.ok(&["diff", "apply", &a, &patch, "-o", out.to_str().unwrap()]);
    s.ok(&["diff", "merge", &a, &b, &c]);
    s.ok(&["diff", "config", "commit", "app", &a]);
    s.ok(&["diff", "config", "commit", "app", &b]);
    s.ok(&["diff", "config", "log", "app"]);
    s.step(1, &[], None, &["diff", "config", "show", "app", "1", "2"]);
    s.step(1, &[], None, &["diff", "config", "drift", "app", &a]);
    s.ok(&["diff", "config", "revert", "app"]);

    // geo
    let fleet = s.file(
        "fleet.csv",
        b"id,kind,lat,lon,ts\nd1,driver,48.8584,2.2945,1000\nr1,rider,48.8590,2.2950,1000\n",
    );
    s.ok(&["geo", "load", &fleet]);
    s.ok(&["geo", "nearby", "48.8584", "2.2945", "5000"]);
    let square = r#"{"type":"Polygon","coordinates":[[[2.29,48.85],[2.30,48.85],[2.30,48.87],[2.29,48.87],[2.29,48.85]]]}"#;
    s.ok(&["geo", "fence", "add", "tower", "--geojson", square]);
    s.ok(&["geo", "fence", "roam", "near-d1", "d1", "500"]);
    s.ok(&["geo", "fence", "list"]);
    s.ok(&["geo", "fence", "check", "48.8584", "2.2945"]);
    s.ok(&["geo", "fence", "remove", "tower"]);

    // feed
    let v = s.ok(&[
        "feed", "simulate", "--users", "60", "--posts", "300", "--save", "net",
    ]);
    let user = v["timelines"][0]["user"].as_u64().unwrap().to_string();
    s.ok(&["feed", "timeline", "net", &user]);
    s.ok(&["feed", "stats", "net"]);
    // A new simulation never overwrites a stored feed.
    let err = s.step(
        4,
        &[],
        None,
        &[
            "feed", "simulate", "--users", "10", "--posts", "20", "--save", "net",
        ],
    );
    assert!(
        err["error"].as_str().unwrap().contains("already exists"),
        "{err}"
    );

    // upload
    let blob: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let movie = s.file("movie.bin", &blob);
    let v = s.ok(&[
        "upload",
        "put",
        &movie,
        "--part-kib",
        "64",
        "--stop-after",
        "1",
    ]);
    let id = v["id"].as_str().unwrap().to_string();
    s.ok(&["upload", "status", &id]);
    s.ok(&["upload", "list"]);
    s.ok(&["upload", "abort", &id]);
    s.ok(&["upload", "expire"]);
    s.ok(&["upload", "chunks", &movie]);

    // sketch
    let words: &[u8] = b"a\nb\na\nc\n";
    let nums: &[u8] = b"1\n2\n3\n4\n5\n";
    s.step(0, &[], Some(words), &["sketch", "hll"]);
    s.step(0, &[], Some(nums), &["sketch", "kll"]);
    s.step(0, &[], Some(words), &["sketch", "theta"]);
    let dd = s.store().join("dd.bin");
    s.step(
        0,
        &[],
        Some(nums),
        &["sketch", "ddsketch", "--out", dd.to_str().unwrap()],
    );
    s.step(0, &[], Some(words), &["sketch", "topk"]);
    s.ok(&["sketch", "read", dd.to_str().unwrap()]);

    // spell
    s.ok(&["spell", "correct", "teh"]);
    s.step(0, &[], Some(b"I beleive it"), &["spell", "text"]);
    s.ok(&["spell", "segment", "thequickbrownfox"]);
    s.ok(&["spell", "add", "tokio"]);
    s.ok(&["spell", "words"]);
    s.ok(&["spell", "remove", "tokio"]);

    // codes
    let png = s.store().join("hello.png");
    let png = png.to_str().unwrap();
    s.ok(&["codes", "encode", "hello", "-o", png]);
    s.ok(&["codes", "decode", png]);
    s.ok(&["codes", "gs1", "(01)09506000134352(10)AB12"]);
    let campaign = s.store().join("campaign");
    s.ok(&[
        "codes",
        "batch",
        "https://example.com/c/{id}",
        "-o",
        campaign.to_str().unwrap(),
        "--count",
        "3",
        "--format",
        "svg",
    ]);

    // ocr
    let pgm = s.file("page.pgm", &page());
    let v = s.ok(&["ocr", &pgm]);
    assert_eq!(v[0]["pages"], 1);

    // vault and apikey
    let pw = [("BLOCKSMITH_VAULT_PASSWORD", "correct horse battery staple")];
    let fast = [
        "--kdf-memory-kib",
        "64",
        "--kdf-iterations",
        "1",
        "--kdf-parallelism",
        "1",
    ];
    let w = "--allow-weak-kdf";
    let mut init = vec!["vault", "init"];
    init.extend(fast);
    init.push(w);
    s.step(0, &pw, None, &init);
    s.step(0, &pw, None, &["vault", "add", "github", "ghp_x", w]);
    s.step(0, &pw, None, &["vault", "get", "github", w]);
    s.step(0, &pw, None, &["vault", "list", w]);
    let info = s.step(0, &pw, None, &["vault", "info", w]);
    let bob_pw = [("BLOCKSMITH_VAULT_PASSWORD", "bob pw")];
    let mut init_bob = init.clone();
    init_bob.push("--secret-key");
    let bob = s.step(0, &bob_pw, None, &init_bob);
    let bob_pk = bob["public_key"].as_str().unwrap().to_string();
    let bob_id = bob["vault_id"].as_str().unwrap().to_string();
    let bob_env = [
        ("BLOCKSMITH_VAULT_PASSWORD", "bob pw"),
        (
            "BLOCKSMITH_VAULT_SECRET_KEY",
            bob["secret_key"].as_str().unwrap(),
        ),
    ];
    s.step(
        0,
        &pw,
        None,
        &["vault", "share", "github", "--to", &bob_pk, w],
    );
    let alice_pk = info["public_key"].as_str().unwrap().to_string();
    s.step(
        0,
        &bob_env,
        None,
        &[
            "vault", "receive", "--vault", &bob_id, "--from", &alice_pk, w,
        ],
    );
    s.step(0, &pw, None, &["vault", "rotate", w]);
    // A wrong password: verification failed.
    s.step(
        5,
        &[("BLOCKSMITH_VAULT_PASSWORD", "wrong")],
        None,
        &["vault", "get", "github", w],
    );
    let pepper = [(
        "BLOCKSMITH_APIKEY_PEPPER",
        "4242424242424242424242424242424242424242424242424242424242424242",
    )];
    let k = s.step(0, &pepper, None, &["apikey", "new", "--owner", "svc"]);
    let key = k["key"].as_str().unwrap().to_string();
    s.step(0, &pepper, None, &["apikey", "verify", &key]);
    let r = s.step(0, &pepper, None, &["apikey", "rotate", &key]);
    let new_key = r["key"].as_str().unwrap().to_string();
    s.step(0, &pepper, None, &["apikey", "list"]);
    s.step(0, &pepper, None, &["apikey", "revoke", &new_key]);
    s.step(5, &pepper, None, &["apikey", "verify", &new_key]);

    // tenant and flow
    s.ok(&["tenant", "create", "acme", "--plan", "pro"]);
    s.ok(&["tenant", "show", "acme"]);
    s.ok(&["tenant", "list"]);
    s.ok(&["tenant", "plan", "acme", "enterprise"]);
    s.ok(&["tenant", "suspend", "acme", "--reason", "unpaid"]);
    s.ok(&["tenant", "resume", "acme"]);
    s.ok(&["tenant", "delete", "acme"]);
    // Within the grace period a purge is refused.
    s.step(2, &[], None, &["tenant", "purge", "acme"]);
    let flows = s.ok(&["flow", "list"]);
    let instance = flows[0]["id"].as_str().unwrap().to_string();
    s.ok(&["flow", "show", &instance]);
    // The provisioning has finished: a signal to it is refused.
    s.step(4, &[], None, &["flow", "signal", &instance, "poke"]);
    s.ok(&["flow", "tick"]);

    // dispute
    s.ok(&[
        "dispute",
        "open",
        "--charge",
        "ch_1",
        "--amount",
        "4999",
        "--currency",
        "EUR",
        "--network",
        "visa",
        "--reason",
        "13.1",
    ]);
    // Incomplete evidence: refused as bad input.
    s.step(2, &[], None, &["dispute", "submit", "dp_ch_1"]);
    s.step(
        0,
        &[],
        Some(b"%PDF-1.4 proof of delivery"),
        &[
            "dispute",
            "evidence",
            "dp_ch_1",
            "--add",
            "proof_of_delivery",
            "-",
            "--field",
            "tracking_number=1Z9",
            "--field",
            "delivered_on=2026-12-01",
        ],
    );
    s.ok(&[
        "dispute", "evidence", "dp_ch_1", "--add", "receipt", "Order 1",
    ]);
    s.ok(&["dispute", "submit", "dp_ch_1"]);
    s.step(4, &[], None, &["dispute", "submit", "dp_ch_1"]);
    let ev = r#"{"id":"evt_2","dispute":"dp_ch_1","sequence":2,"at_ms":1796600000000,
        "kind":{"type":"funds_withdrawn","amount":{"amount":4999,"currency":"EUR"},
        "fee":{"amount":1500,"currency":"EUR"}}}"#;
    s.step(
        0,
        &[],
        Some(ev.as_bytes()),
        &["dispute", "event", "dp_ch_1", "-"],
    );
    s.ok(&["dispute", "due", "--within", "60d"]);
    s.ok(&["dispute", "ledger", "dp_ch_1"]);
    s.ok(&["dispute", "show", "dp_ch_1"]);
    s.ok(&["dispute", "stats"]);
    s.ok(&["dispute", "reconcile"]);
    s.ok(&[
        "dispute",
        "open",
        "--charge",
        "ch_2",
        "--amount",
        "100",
        "--currency",
        "USD",
        "--network",
        "amex",
        "--reason",
        "C08",
    ]);
    s.ok(&["dispute", "accept", "dp_ch_2"]);

    // receipts
    let sim = s.ok(&[
        "receipts",
        "simulate",
        "--conversations",
        "3",
        "--members",
        "4",
        "--messages",
        "6",
    ]);
    assert_eq!(sim["messages"], 6, "{sim}");
    s.step(
        4,
        &[],
        None,
        &[
            "receipts",
            "simulate",
            "--conversations",
            "1",
            "--messages",
            "1",
        ],
    );
    let r = s.ok(&[
        "receipts",
        "read",
        "sim-0",
        &sim["sample"]["sender"].to_string(),
        "6",
    ]);
    assert_eq!(r["read"], 6, "{r}");
    s.ok(&["receipts", "status", "sim-0", "6"]);
    s.ok(&["receipts", "unread", "0"]);
    s.step(3, &[], None, &["receipts", "status", "nope", "1"]);
    s.step(3, &[], None, &["receipts", "status", "sim-0", "99"]);
    s.step(2, &[], None, &["receipts", "read", "sim-0", "999999", "1"]);

    let missing: Vec<_> = runnable
        .iter()
        .filter(|p| !s.ran.contains(*p) && p.as_str() != "completions")
        .collect();
    assert!(missing.is_empty(), "no --json step for {missing:?}");
}

#[test]
fn exit_codes_follow_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = Some(dir.path());
    // The table is in --help.
    let o = call(d, &[], None, &["--help"]);
    let help = String::from_utf8(o.stdout).unwrap();
    for code in 0..=5 {
        assert!(help.contains(&format!("\n  {code}  ")), "{help}");
    }
    // Usage (clap): 2, and a JSON error under --json.
    let o = call(d, &[], None, &["store", "frobnicate"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = call(d, &[], None, &["--json", "tsz", "compress"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = &values(&o.stderr, "usage error")[0];
    assert_eq!(
        (err["kind"].as_str(), err["exit_code"].as_u64()),
        (Some("usage"), Some(2))
    );
    // Not found: 3, for a key and for an input file.
    assert_eq!(
        call(d, &[], None, &["store", "get", "nope"]).status.code(),
        Some(3)
    );
    let o = call(d, &[], None, &["tsz", "stats", "/no/such/file.csv"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    // Invalid input: 2.
    let o = call(
        d,
        &[],
        Some(b"1,2\nnot a number\n"),
        &["--json", "tsz", "stats", "-"],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(values(&o.stderr, "bad input")[0]["kind"], "bad_input");
    // Conflict: 4.
    call(d, &[], None, &["store", "put", "k", "--value", "v"]);
    let o = call(
        d,
        &[],
        None,
        &["store", "put", "k", "--value", "w", "--create"],
    );
    assert_eq!(o.status.code(), Some(4));
    // Help and version are not errors.
    assert!(call(d, &[], None, &["--version"]).status.success());
}

#[test]
fn dash_is_stdin_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = Some(dir.path());
    // tsz: compress stdin to stdout, decompress that from stdin to stdout.
    let csv = points(2500, |i| (i * 10, (i % 7) as f64));
    let o = call(d, &[], Some(csv.as_bytes()), &["tsz", "compress", "-", "-"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        !o.stdout.is_empty() && o.stdout.len() < csv.len() / 4,
        "{}",
        o.stdout.len()
    );
    assert!(o.stderr.is_empty(), "no bar off a terminal: {o:?}");
    let o = call(d, &[], Some(&o.stdout), &["tsz", "decompress", "-", "-"]);
    assert!(o.status.success(), "{o:?}");
    let back = String::from_utf8(o.stdout).unwrap();
    let parse = |s: &str| -> Vec<(i64, f64)> {
        s.lines()
            .map(|l| {
                let (t, v) = l.split_once(',').unwrap();
                (t.parse().unwrap(), v.parse().unwrap())
            })
            .collect()
    };
    assert_eq!(parse(&back), parse(&csv));

    // diff: one side from stdin.
    let a = dir.path().join("a.txt");
    std::fs::write(&a, "one\ntwo\nthree\n").unwrap();
    let o = call(
        d,
        &[],
        Some(b"one\n2\nthree\n"),
        &["diff", a.to_str().unwrap(), "-"],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("-two\n+2"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour into a pipe: {text:?}");
    // Standard input can be read once.
    let o = call(d, &[], Some(b""), &["diff", "-", "-"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    // diff apply from stdin to stdout.
    let patch = dir.path().join("p.diff");
    std::fs::write(
        &patch,
        "--- a\n+++ b\n@@ -1,3 +1,3 @@\n one\n-two\n+zwei\n three\n",
    )
    .unwrap();
    let o = call(
        d,
        &[],
        Some(b"one\ntwo\nthree\n"),
        &["diff", "apply", "-", patch.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout, b"one\nzwei\nthree\n");

    // codes: an SVG on stdout, decoded back from stdin as a PNG.
    let o = call(d, &[], None, &["codes", "encode", "dash", "-o", "-"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        o.stdout.starts_with(b"<svg"),
        "{:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = call(
        d,
        &[],
        None,
        &["codes", "encode", "dash", "--format", "png"],
    );
    assert!(o.stdout.starts_with(b"\x89PNG"), "{o:?}");
    let o = call(d, &[], Some(&o.stdout), &["--json", "codes", "decode", "-"]);
    assert!(o.status.success(), "{o:?}");
    let v = &values(&o.stdout, "decode")[0];
    assert_eq!(v[0]["codes"][0]["text"], "dash");
    assert_eq!(v[0]["file"], "(stdin)");

    // ocr: a page from stdin.
    let o = call(d, &[], Some(&page()), &["ocr", "-", "--format", "json"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(values(&o.stdout, "ocr")[0][0]["pages"], 1);
    let o = call(d, &[], Some(&page()), &["ocr", "-", "--format", "hocr"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("ocr_page"),
        "{o:?}"
    );
    let o = call(d, &[], None, &["--json", "ocr", "-", "--format", "hocr"]);
    assert_eq!(o.status.code(), Some(2), "--json and --format hocr: {o:?}");

    // store: put from stdin, get to stdout.
    let o = call(d, &[], Some(b"bytes"), &["store", "put", "k", "-"]);
    assert!(o.status.success(), "{o:?}");
    let o = call(d, &[], None, &["store", "get", "k", "-o", "-"]);
    assert_eq!(o.stdout, b"bytes");
}

#[test]
fn completions_name_the_subcommands() {
    let o = call(None, &[], None, &["completions", "bash"]);
    assert!(o.status.success(), "{o:?}");
    let script = String::from_utf8(o.stdout).unwrap();
    for name in [
        "blocksmith",
        "tsz",
        "diff",
        "ocr",
        "codes",
        "vault",
        "completions",
    ] {
        assert!(script.contains(name), "{name} missing from the bash script");
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let o = call(None, &[], None, &["completions", shell]);
        assert!(
            o.status.success() && o.stdout.len() > 1000,
            "{shell}: {o:?}"
        );
    }
    let o = call(None, &[], None, &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = Some(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, "x\n").unwrap();
    std::fs::write(&b, "y\n").unwrap();
    let args = |color: &'static str| -> Vec<String> {
        let mut v = vec![
            "diff".to_string(),
            a.display().to_string(),
            b.display().to_string(),
        ];
        if !color.is_empty() {
            v.push(format!("--color={color}"));
        }
        v
    };
    let run = |env: &[(&str, &str)], color: &'static str| {
        let a = args(color);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        call(d, env, None, &a)
    };
    let esc = |o: &Output| o.stdout.contains(&0x1b);
    // A pipe: no colour by default; --color always colours; NO_COLOR wins over
    // CLICOLOR_FORCE but not over --color always.
    assert!(!esc(&run(&[], "")));
    let o = run(&[], "always");
    assert!(esc(&o), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("\u{1b}[31m-x"), "{text:?}");
    assert!(esc(&run(&[("CLICOLOR_FORCE", "1")], "")));
    assert!(!esc(&run(
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        ""
    )));
    assert!(esc(&run(&[("NO_COLOR", "1")], "always")));
    assert!(!esc(&run(&[("CLICOLOR_FORCE", "1")], "never")));
    // An empty NO_COLOR is unset.
    assert!(esc(&run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")], "")));
    // Errors too.
    let o = call(d, &[], None, &["--color", "always", "store", "get", "nope"]);
    assert!(o.stderr.contains(&0x1b), "{o:?}");
    let o = call(d, &[("NO_COLOR", "1")], None, &["store", "get", "nope"]);
    assert!(!o.stderr.contains(&0x1b), "{o:?}");
}

#[test]
fn store_dir_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("from-env");
    let env = [("BLOCKSMITH_STORE", store.to_str().unwrap())];
    let o = call(None, &env, None, &["store", "put", "k", "--value", "v"]);
    assert!(o.status.success(), "{o:?}");
    assert!(store.join("blocksmith.redb").is_file());
    let o = call(None, &env, None, &["store", "get", "k"]);
    assert_eq!(o.stdout, b"v");
    // --store wins over the variable.
    let o = call(Some(dir.path()), &env, None, &["store", "get", "k"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
}

/// `--help` recommends the variable for a URL with a password, says there
/// is no TLS, and never prints the variable's value (clap shows an `env`
/// argument's current value unless told not to).
#[test]
fn help_never_shows_the_store_url_and_says_where_a_password_goes() {
    let env = [("BLOCKSMITH_STORE", "postgres://app:hunter2@127.0.0.1:1/app")];
    for flag in ["--help", "-h"] {
        let o = call(None, &env, None, &[flag]);
        assert!(o.status.success(), "{o:?}");
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(
            !help.contains("hunter2"),
            "{flag} shows the password: {help}"
        );
        assert!(help.contains("BLOCKSMITH_STORE"), "{help}");
    }
    let o = call(None, &[], None, &["--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("password belongs in `BLOCKSMITH_STORE`"),
        "{help}"
    );
    assert!(help.contains("no TLS"), "{help}");
}

#[test]
fn long_work_keeps_its_order_and_positions() {
    let dir = tempfile::tempdir().unwrap();
    let d = Some(dir.path());
    // geo load in batches: a refused row past the first batch is reported as itself.
    let mut csv = String::from("id,kind,lat,lon,ts\n");
    for i in 0..5000 {
        let lat = 48.0 + f64::from(i) * 1e-5;
        let _ = writeln!(csv, "e{i},driver,{lat},2.0,1000");
    }
    // An impossible jump (to 40 N in two seconds) at row 5000.
    csv.push_str("e1,driver,40.0,2.0,3000\n");
    let o = call(
        d,
        &[],
        Some(csv.as_bytes()),
        &["--json", "geo", "load", "-"],
    );
    assert!(o.status.success(), "{o:?}");
    assert!(o.stderr.is_empty(), "no bar off a terminal: {o:?}");
    let v = &values(&o.stdout, "geo load")[0];
    assert_eq!(
        (v["rows"].as_u64(), v["inserted"].as_u64()),
        (Some(5001), Some(5000))
    );
    let r = &v["rejected"][0];
    assert_eq!(
        (r["id"].as_str(), r["ts"].as_u64()),
        (Some("e1"), Some(3000)),
        "{v}"
    );

    // ocr over several files: each printed under its name, in input order.
    let names: Vec<String> = (0..3)
        .map(|k| {
            let p = dir.path().join(format!("p{k}.pgm"));
            let mut bytes = page();
            bytes.push(k); // three different images, so three jobs
            std::fs::write(&p, bytes).unwrap();
            p.display().to_string()
        })
        .collect();
    let mut args = vec!["ocr", "--jobs", "3"];
    args.extend(names.iter().map(String::as_str));
    let o = call(d, &[], None, &args);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    let at: Vec<usize> = names
        .iter()
        .map(|n| text.find(&format!("==> {n} <==")).expect(n))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    // codes batch in slices: every id once, in order, in the manifest.
    let out = dir.path().join("camp");
    let o = call(
        d,
        &[],
        None,
        &[
            "codes",
            "batch",
            "x{id}",
            "-o",
            out.to_str().unwrap(),
            "--count",
            "130",
            "--format",
            "svg",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let m: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<&str> = m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (1..=130).map(|i| format!("c{i:06}")).collect();
    assert_eq!(ids, want);
    assert_eq!(m["template"], "x{id}");
}

/// `--store sqlite:PATH` works like `--store DIR`, and two stores do not mix.
#[test]
fn a_sqlite_store_works_like_the_embedded_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("db/app.sqlite").display());
    let db = std::path::Path::new(&db);
    let o = super::run_stdin(db, &["store", "put", "notes/a", "-"], "hello sqlite");
    assert!(o.status.success(), "{o:?}");
    let o = super::run(db, &["store", "get", "notes/a"]);
    assert_eq!(o.stdout, b"hello sqlite");
    let o = super::run(db, &["--json", "store", "list", "notes/"]);
    assert!(o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("notes/a"));
    assert!(dir.path().join("db/app.sqlite").exists());
    // The default embedded store in the same directory is another store.
    let o = super::run(dir.path(), &["store", "get", "notes/a"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    // An empty path is a usage error.
    let o = super::run(std::path::Path::new("sqlite:"), &["store", "list"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

/// `--store postgres://...` works like `--store DIR`, against the server in
/// `BLOCKSMITH_POSTGRES_URL` (skipped without it, unless
/// `BLOCKSMITH_REQUIRE_POSTGRES=1`), in tables of the test's own prefix.
#[test]
fn a_postgres_store_works_like_the_embedded_one() {
    let Ok(url) = std::env::var("BLOCKSMITH_POSTGRES_URL") else {
        assert!(
            std::env::var("BLOCKSMITH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "BLOCKSMITH_REQUIRE_POSTGRES=1 but BLOCKSMITH_POSTGRES_URL is not set"
        );
        eprintln!("SKIPPED: set BLOCKSMITH_POSTGRES_URL to run against a live PostgreSQL server");
        return;
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}table_prefix=cli_{}", std::process::id());
    let db = std::path::Path::new(&db);
    let key = format!("notes/{}", std::process::id());
    let o = super::run_stdin(db, &["store", "put", &key, "-"], "hello postgres");
    assert!(o.status.success(), "{o:?}");
    let o = super::run(db, &["store", "get", &key]);
    assert_eq!(o.stdout, b"hello postgres");
    let o = super::run(db, &["store", "put", "--create", &key, "--value", "again"]);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    let o = super::run(db, &["--json", "store", "list", "notes/"]);
    assert!(o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains(&key));
    let o = super::run(db, &["store", "get", "--range", "6..14", &key]);
    assert_eq!(o.stdout, b"postgres");
    let o = super::run(db, &["store", "delete", &key]);
    assert!(o.status.success(), "{o:?}");
    let o = super::run(db, &["store", "get", &key]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    // A server that is not there fails with a message, not a hang or a panic.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("postgres://nobody@127.0.0.1:{port}/none");
    let o = super::run(std::path::Path::new(&gone), &["store", "list"]);
    assert!(!o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("postgres"),
        "{o:?}"
    );
}
