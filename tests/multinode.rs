//! Several nodes, one store: separate processes (this test binary run
//! again as a "node", see [`node`]) share one backend and work on the same
//! state at the same time. Nothing may be lost, and every compare-and-swap
//! conflict is settled by retrying.
//!
//! - two tus servers serve one upload alternately, the client switching
//!   server after every PATCH; the published object is byte-identical;
//! - two vault devices add items while a third rotates the vault key;
//! - two feed writers follow and publish (fanning posts out into inboxes)
//!   while a reader pages through timelines, refreshing between pages; the
//!   stored feed is the one a single writer makes by replaying every change
//!   in the order the saves committed;
//! - two sketch aggregators, each over half of a stream, merge their
//!   per-window HyperLogLogs into shared keys by compare-and-swap; the
//!   merged estimates equal one aggregator's over the whole stream.
//!
//! Backends: a `DirStore` directory always (its compare-and-swap holds
//! across processes through `flock`); the S3-compatible server when
//! `BLOCKSMITH_S3_ENDPOINT` is set (required when `BLOCKSMITH_REQUIRE_S3=1`);
//! PostgreSQL when `BLOCKSMITH_POSTGRES_URL` is set (required when
//! `BLOCKSMITH_REQUIRE_POSTGRES=1`). Each scenario prints its throughput,
//! quoted in `docs/scaling.md`.

use blocksmith::feed::{CursorKey, Feed, FeedOptions, FeedStore, Kind, UserId};
use blocksmith::sketch::hll::{HllSketch, HllType};
use blocksmith::store::{Bytes, DirStore, DynStore, Key, StoreExt, block_on};
use blocksmith::upload::tus::{TusOptions, TusRequest, TusServer};
use blocksmith::upload::{UploadOptions, Uploads};
use blocksmith::vault::{Credentials, NewItem, Vault, VaultId, VaultOptions};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

const ROLE: &str = "BLOCKSMITH_NODE_ROLE";
const MIB: usize = 1 << 20;
const BACKEND: &str = "BLOCKSMITH_NODE_BACKEND";
const ARGS: &str = "BLOCKSMITH_NODE_ARGS";

// ------------------------------------------------------------ backends ----

type Shared = Arc<dyn DynStore>;

/// Opens the backend a spec names: `dir:PATH`, `s3` (the server in the
/// `BLOCKSMITH_S3_*` variables) or `postgres:TABLE_PREFIX` (the server in
/// `BLOCKSMITH_POSTGRES_URL`).
fn open(spec: &str) -> Shared {
    if let Some(path) = spec.strip_prefix("dir:") {
        return Arc::new(DirStore::open(path).expect("open the directory store"));
    }
    if let Some(prefix) = spec.strip_prefix("postgres:") {
        let url = std::env::var("BLOCKSMITH_POSTGRES_URL").expect("BLOCKSMITH_POSTGRES_URL");
        let options = blocksmith::store::PostgresOptions::new(url).with_table_prefix(prefix);
        return Arc::new(
            block_on(blocksmith::store::PostgresStore::open(options)).expect("open PostgreSQL"),
        );
    }
    match spec {
        "s3" => {
            let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
            let s3 = object_store::aws::AmazonS3Builder::new()
                .with_endpoint(env("BLOCKSMITH_S3_ENDPOINT", ""))
                .with_bucket_name(env("BLOCKSMITH_S3_BUCKET", "blocksmith"))
                .with_region(env("BLOCKSMITH_S3_REGION", "us-east-1"))
                .with_access_key_id(env("BLOCKSMITH_S3_ACCESS_KEY", "blocksmith"))
                .with_secret_access_key(env("BLOCKSMITH_S3_SECRET_KEY", "blocksmith-secret"))
                .with_allow_http(true)
                .with_virtual_hosted_style_request(false)
                .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
                .with_copy_if_not_exists(object_store::aws::S3CopyIfNotExists::Multipart)
                .build()
                .expect("S3 builder");
            let s3 = Arc::new(s3);
            // Multipart uploads: a tus session's aligned parts go straight
            // into one S3 multipart upload, whichever node receives them.
            Arc::new(
                blocksmith::store::ObjectStoreAdapter::new(s3.clone())
                    .expect("adapter")
                    .with_multipart(s3),
            )
        }
        other => panic!("unknown backend spec {other}"),
    }
}

/// The backends this run covers, each with a directory kept alive for it.
fn backends() -> Vec<(String, tempfile::TempDir)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    out.push((format!("dir:{}", dir.path().join("store").display()), dir));
    if std::env::var("BLOCKSMITH_S3_ENDPOINT").is_ok() {
        out.push(("s3".to_string(), tempfile::tempdir().unwrap()));
    } else {
        assert!(
            std::env::var("BLOCKSMITH_REQUIRE_S3").is_err(),
            "BLOCKSMITH_REQUIRE_S3 is set but BLOCKSMITH_S3_ENDPOINT is not"
        );
        eprintln!("S3 SKIPPED: set BLOCKSMITH_S3_ENDPOINT to run the nodes on a live S3 server");
    }
    if std::env::var("BLOCKSMITH_POSTGRES_URL").is_ok() {
        // Tables of their own for each scenario of each run.
        let prefix = format!("mn_{}", run_id().replace('-', "_"));
        out.push((format!("postgres:{prefix}"), tempfile::tempdir().unwrap()));
    } else {
        assert!(
            std::env::var("BLOCKSMITH_REQUIRE_POSTGRES").is_err(),
            "BLOCKSMITH_REQUIRE_POSTGRES is set but BLOCKSMITH_POSTGRES_URL is not"
        );
        eprintln!("PostgreSQL SKIPPED: set BLOCKSMITH_POSTGRES_URL to run the nodes on PostgreSQL");
    }
    out
}

/// A name no other run of this test uses (the S3 bucket outlives runs).
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}-{}", std::process::id())
}

// --------------------------------------------------------------- nodes ----

/// Starts this test binary again as a node playing `role`.
fn spawn(role: &str, backend: &str, args: &[String]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["node", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(BACKEND, backend)
        .env(ARGS, args.join(" "))
        // The node exits when this pipe closes: when the test drops the
        // child, or dies, no node is left behind.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start a node")
}

/// Waits for a node; returns the `STAT name value` lines it printed.
fn finish(mut child: Child, what: &str) -> Vec<(String, f64)> {
    // Held open until the node has exited by itself.
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "node {what} failed:\n{text}");
    text.lines()
        .filter_map(|l| {
            let mut w = l[l.find("STAT ")? + 5..].split_whitespace();
            Some((w.next()?.to_string(), w.next()?.parse().ok()?))
        })
        .collect()
}

fn stat(stats: &[(String, f64)], name: &str) -> f64 {
    stats
        .iter()
        .filter(|(n, _)| n == name)
        .fold(0.0, |a, (_, v)| a + v)
}

/// The node side: does nothing in a normal test run; in a process started
/// by [`spawn`], plays its role and exits.
#[test]
fn node() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(3);
    });
    let store = open(&std::env::var(BACKEND).unwrap());
    let args: Vec<String> = std::env::var(ARGS)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    match role.as_str() {
        "tus" => tus_node(store, &args),
        "vault-writer" => vault_writer(&store, &args),
        "vault-rotator" => vault_rotator(&store, &args),
        "sketch" => sketch_node(&store, &args),
        "feed-writer" => feed_writer(&store, &args),
        "feed-reader" => feed_reader(&store, &args),
        other => panic!("unknown role {other}"),
    }
}

// ----------------------------------------------------------------- tus ----

fn tus_options() -> UploadOptions {
    // tus clients choose their own chunk sizes.
    UploadOptions::default()
        .with_part_size(1, 64 << 20)
        .with_max_size(1 << 30)
        // Uploads past 1 MiB are not read through as images, so on S3 they
        // go into a multipart upload.
        .with_max_image_bytes(1 << 20)
}

/// A tus server on an ephemeral port; prints `PORT n`, serves until a
/// request for `/quit`.
fn tus_node(store: Shared, args: &[String]) {
    let target = args[0].clone();
    let server = TusServer::with_config(
        Uploads::with_options(store, tus_options()),
        TusOptions::default().with_target_prefix(target),
    );
    let http = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = http.server_addr().to_ip().unwrap().port();
    println!("PORT {port}");
    std::io::stdout().flush().unwrap();
    let mut served = 0u64;
    for mut request in http.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("").to_string();
        if path == "/quit" {
            let _ = request.respond(tiny_http::Response::empty(200));
            break;
        }
        let mut body = Vec::new();
        request.as_reader().read_to_end(&mut body).unwrap();
        let mut req = TusRequest::new(request.method().as_str(), &path).body(body);
        for h in request.headers() {
            req = req.header(h.field.as_str().as_str(), h.value.as_str());
        }
        let res = block_on(server.handle(req));
        let mut out =
            tiny_http::Response::from_data(res.body.to_vec()).with_status_code(res.status);
        for (name, value) in &res.headers {
            out = out.with_header(
                tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap(),
            );
        }
        request.respond(out).unwrap();
        served += 1;
    }
    println!("STAT requests {served}");
}

/// One HTTP/1.1 request; the status and the headers (lower-cased names).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Vec<(String, String)>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    // The body, by its length (a keep-alive server would never close).
    let len: usize = match method {
        "HEAD" => 0, // a length, but no body
        _ => header(&headers, "content-length").map_or(0, |v| v.parse().unwrap()),
    };
    let mut rest = vec![0u8; len];
    reader.read_exact(&mut rest).unwrap();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The port a tus node announces (after the test harness's own lines).
fn tus_port(child: &mut Child) -> u16 {
    let out = child.stdout.as_mut().unwrap();
    loop {
        let mut line = String::new();
        // Byte by byte: a BufReader would swallow what comes after the line.
        let mut b = [0u8; 1];
        loop {
            let n = out.read(&mut b).unwrap();
            assert_eq!(n, 1, "the tus node ended before it announced its port");
            if b[0] == b'\n' {
                break;
            }
            line.push(b[0] as char);
        }
        // libtest prints "test node ... " without a newline first.
        if let Some(i) = line.find("PORT ") {
            return line[i + 5..].trim().parse().unwrap();
        }
    }
}

#[test]
fn two_tus_servers_serve_one_upload_alternately() {
    for (backend, _dir) in backends() {
        let target = format!("multinode-tus-{}", run_id());
        let mut a = spawn("tus", &backend, std::slice::from_ref(&target));
        let mut b = spawn("tus", &backend, std::slice::from_ref(&target));
        let ports = [tus_port(&mut a), tus_port(&mut b)];
        // An aligned 8 MiB part (straight into the multipart upload on S3),
        // two odd ones (stored, joined at finalize), the short last part.
        let sizes = [8 * MIB, MIB, 7 * MIB, 4 * MIB + 4321];
        let len: usize = sizes.iter().sum();
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let tus = ("Tus-Resumable", "1.0.0".to_string());
        let (status, h) = http(
            ports[0],
            "POST",
            "/files/",
            &[tus.clone(), ("Upload-Length", len.to_string())],
            &[],
        );
        assert_eq!(status, 201, "{backend}: create");
        let location = header(&h, "location").unwrap().to_string();
        let path = location
            .find("/files/")
            .map(|i| location[i..].to_string())
            .unwrap();
        let id = path.trim_start_matches("/files/").to_string();
        let started = Instant::now();
        let mut offset = 0usize;
        let mut patches = 0usize;
        while offset < len {
            let port = ports[patches % 2];
            // The new server learns the offset from the store, as a client
            // resuming after a switch would.
            let (status, h) = http(port, "HEAD", &path, std::slice::from_ref(&tus), &[]);
            assert_eq!(status, 200, "{backend}: HEAD on server {}", patches % 2);
            let at: usize = header(&h, "upload-offset").unwrap().parse().unwrap();
            assert_eq!(
                at,
                offset,
                "{backend}: offset seen by server {}",
                patches % 2
            );
            let end = offset + sizes[patches];
            let (status, h) = http(
                port,
                "PATCH",
                &path,
                &[
                    tus.clone(),
                    ("Upload-Offset", offset.to_string()),
                    ("Content-Type", "application/offset+octet-stream".into()),
                ],
                &data[offset..end],
            );
            assert_eq!(status, 204, "{backend}: PATCH {patches}");
            offset = header(&h, "upload-offset").unwrap().parse().unwrap();
            assert_eq!(offset, end);
            patches += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        for (port, child) in ports.iter().zip([&mut a, &mut b]) {
            http(*port, "GET", "/quit", &[], &[]);
            let _ = child;
        }
        let sa = finish(a, "tus a");
        let sb = finish(b, "tus b");
        assert!(stat(&sa, "requests") >= 2.0 && stat(&sb, "requests") >= 2.0);
        let store = open(&backend);
        let key = Key::new(format!("{target}/{id}")).unwrap();
        let got = store.blocking().get(&key).unwrap();
        assert!(
            got.data[..] == data[..],
            "{backend}: the published object differs"
        );
        println!(
            "{backend}: tus, {} MiB in {patches} PATCHes alternating two servers: {:.1} MiB/s",
            len >> 20,
            len as f64 / f64::from(1 << 20) / secs
        );
    }
}

// --------------------------------------------------------------- vault ----

const PASSWORD: &str = "correct horse battery staple";

async fn unlock(store: Shared, id: VaultId) -> Vault<Shared> {
    Vault::unlock(
        store,
        id,
        &Credentials::new(PASSWORD),
        VaultOptions::insecure_fast(),
    )
    .await
    .expect("unlock")
}

fn retryable(e: &blocksmith::vault::Error) -> bool {
    matches!(
        e,
        blocksmith::vault::Error::Conflict(_) | blocksmith::vault::Error::UnknownKeyEpoch { .. }
    )
}

/// Adds `count` items named `<device>-<i>`; a lost compare-and-swap (or a
/// key rotated meanwhile) reopens the vault and tries again.
fn vault_writer(store: &Shared, args: &[String]) {
    let id: VaultId = args[0].parse().unwrap();
    let device = &args[1];
    let count: usize = args[2].parse().unwrap();
    block_on(async {
        let mut v = unlock(store.clone(), id).await;
        let mut retries = 0u64;
        for i in 0..count {
            let name = format!("{device}-{i}");
            loop {
                match v
                    .add(NewItem::new(&name, format!("secret of {name}")))
                    .await
                {
                    // A duplicate: an earlier attempt landed after all.
                    Ok(_) | Err(blocksmith::vault::Error::DuplicateName { .. }) => break,
                    Err(e) if retryable(&e) => {
                        retries += 1;
                        v = unlock(store.clone(), id).await;
                    }
                    Err(e) => panic!("{device}: add {name}: {e}"),
                }
            }
        }
        println!("STAT retries {retries}");
        println!("STAT items {count}");
    });
}

/// Rotates the vault key `rounds` times, reopening on a lost race.
fn vault_rotator(store: &Shared, args: &[String]) {
    let id: VaultId = args[0].parse().unwrap();
    let rounds: usize = args[1].parse().unwrap();
    block_on(async {
        let mut v = unlock(store.clone(), id).await;
        let mut retries = 0u64;
        for _ in 0..rounds {
            loop {
                match v.rotate().await {
                    Ok(_) => break,
                    Err(e) if retryable(&e) => {
                        retries += 1;
                        v = unlock(store.clone(), id).await;
                    }
                    Err(e) => panic!("rotate: {e}"),
                }
            }
        }
        println!("STAT retries {retries}");
        println!("STAT rotations {rounds}");
    });
}

#[test]
fn two_vault_devices_write_while_a_third_rotates() {
    for (backend, _dir) in backends() {
        let store = open(&backend);
        let (v, _recovery) = block_on(Vault::create(
            store.clone(),
            &Credentials::new(PASSWORD),
            VaultOptions::insecure_fast(),
        ))
        .unwrap();
        let id = v.id();
        drop(v);
        let per_device = 12usize;
        let started = Instant::now();
        let a = spawn(
            "vault-writer",
            &backend,
            &[id.to_string(), "phone".into(), per_device.to_string()],
        );
        let b = spawn(
            "vault-writer",
            &backend,
            &[id.to_string(), "laptop".into(), per_device.to_string()],
        );
        let r = spawn("vault-rotator", &backend, &[id.to_string(), "2".into()]);
        let stats: Vec<_> = [(a, "phone"), (b, "laptop"), (r, "rotator")]
            .into_iter()
            .flat_map(|(c, w)| finish(c, w))
            .collect();
        let secs = started.elapsed().as_secs_f64();
        let v = block_on(unlock(store.clone(), id));
        assert_eq!(v.len(), 2 * per_device, "{backend}: items in the vault");
        for device in ["phone", "laptop"] {
            for i in 0..per_device {
                let name = format!("{device}-{i}");
                let secret = block_on(v.get_by_name(&name)).unwrap();
                assert_eq!(
                    secret.expose_secret(),
                    format!("secret of {name}").as_bytes()
                );
            }
        }
        println!(
            "{backend}: vault, {} items from two devices and 2 rotations in {secs:.1} s \
             ({:.1} items/s), {} retries after lost races",
            2 * per_device,
            (2 * per_device) as f64 / secs,
            stat(&stats, "retries")
        );
    }
}

// ---------------------------------------------------------------- feed ----

/// Updates per feed writer; each follows and publishes.
const FEED_UPDATES: u64 = 100;
/// Authors 0..20 post (writer 0 for even ones, writer 1 for odd ones);
/// readers 20..60 follow them.
const FEED_AUTHORS: u32 = 20;
const FEED_USERS: u32 = 60;
/// After the last post (writer 1's update 99 at 199 minutes).
const FEED_NOW: i64 = 4 * 3_600_000;

fn feed_options() -> FeedOptions {
    // A low celebrity threshold: some authors are pulled at read, the rest
    // fanned out into bounded inboxes.
    FeedOptions::default()
        .with_celebrity_threshold(6)
        .with_inbox_cap(16)
        .with_page_size(5)
}

fn feed_key() -> CursorKey {
    CursorKey::derive(b"multinode feed")
}

/// Writer `w`'s update `i`: reader `follower` follows `author`, and
/// `poster` publishes at `ts`.
fn feed_op(w: u64, i: u64) -> (u32, u32, u32, i64) {
    let x = (w * 1_000 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    let follower = FEED_AUTHORS + (x % u64::from(FEED_USERS - FEED_AUTHORS)) as u32;
    let author = ((x >> 12) % u64::from(FEED_AUTHORS)) as u32;
    let poster = (((x >> 24) % u64::from(FEED_AUTHORS / 2)) * 2 + w) as u32;
    let ts = (i as i64 * 2 + w as i64) * 60_000 + 1;
    (follower, author, poster, ts)
}

fn apply_feed_op(f: &mut Feed, (follower, author, poster, ts): (u32, u32, u32, i64)) {
    f.follow(UserId(follower), UserId(author)).unwrap();
    f.publish(UserId(poster), ts, Kind::Text).unwrap();
}

/// Makes writer `w`'s updates through `FeedStore::update`; prints the
/// generation each committed as, and how many races it lost.
fn feed_writer(store: &Shared, args: &[String]) {
    let (name, w): (&str, u64) = (&args[0], args[1].parse().unwrap());
    let fs = FeedStore::new(store.clone(), name).unwrap();
    let mut f = fs.blocking().load(feed_options(), feed_key()).unwrap();
    let mut runs = 0u64;
    for i in 0..FEED_UPDATES {
        let op = feed_op(w, i);
        let ((), stats) = fs
            .blocking()
            .update(&mut f, |f| {
                runs += 1;
                apply_feed_op(f, op);
                Ok(())
            })
            .unwrap();
        println!("STAT op-{w}-{i} {}", stats.generation);
    }
    println!("STAT conflicts {}", runs - FEED_UPDATES);
}

/// Pages through readers' timelines until both writers are done,
/// refreshing the feed between pages; a session never serves a post twice.
fn feed_reader(store: &Shared, args: &[String]) {
    let fs = FeedStore::new(store.clone(), &args[0]).unwrap();
    let mut f = fs.blocking().load(feed_options(), feed_key()).unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    let (mut sessions, mut pages) = (0u64, 0u64);
    let mut last = false;
    while !last {
        assert!(Instant::now() < deadline, "the writers never finished");
        // One more round after the last save, on the final feed.
        last = f.generation() >= 2 * FEED_UPDATES;
        for u in FEED_AUTHORS..FEED_USERS {
            let mut served = std::collections::BTreeSet::new();
            let mut page = f.read(UserId(u), None, FEED_NOW).unwrap();
            loop {
                pages += 1;
                for item in &page.items {
                    assert!(
                        served.insert(item.post),
                        "user {u}: {} served twice",
                        item.post
                    );
                }
                let Some(next) = page.next else { break };
                fs.blocking().refresh(&mut f).unwrap();
                page = f.read(UserId(u), Some(&next), FEED_NOW).unwrap();
            }
            sessions += 1;
        }
        fs.blocking().refresh(&mut f).unwrap();
    }
    println!("STAT sessions {sessions}");
    println!("STAT pages {pages}");
}

/// Every page of `u`'s timeline, followed from the first.
fn feed_session(f: &Feed, u: UserId) -> Vec<blocksmith::feed::Page> {
    let mut pages = vec![f.read(u, None, FEED_NOW).unwrap()];
    while let Some(next) = pages.last().unwrap().next.clone() {
        pages.push(f.read(u, Some(&next), FEED_NOW).unwrap());
    }
    pages
}

#[test]
fn two_feed_writers_fan_out_while_a_reader_pages() {
    for (backend, _dir) in backends() {
        let name = format!("mn-{}", run_id());
        let started = Instant::now();
        let nodes: Vec<_> = (0..2)
            .map(|w| spawn("feed-writer", &backend, &[name.clone(), w.to_string()]))
            .chain([spawn("feed-reader", &backend, std::slice::from_ref(&name))])
            .collect();
        let stats: Vec<_> = nodes.into_iter().flat_map(|c| finish(c, "feed")).collect();
        let secs = started.elapsed().as_secs_f64();
        // Every update is a save of its own, and the saves form one chain.
        let mut committed: Vec<(u64, (u32, u32, u32, i64))> = (0..2)
            .flat_map(|w| {
                let stats = &stats;
                (0..FEED_UPDATES)
                    .map(move |i| (stat(stats, &format!("op-{w}-{i}")) as u64, feed_op(w, i)))
            })
            .collect();
        committed.sort_by_key(|c| c.0);
        let gens: Vec<u64> = committed.iter().map(|c| c.0).collect();
        assert_eq!(
            gens,
            (1..=2 * FEED_UPDATES).collect::<Vec<_>>(),
            "{backend}"
        );
        // Replaying them in that order gives the stored feed exactly.
        let mut replay = Feed::new(feed_options(), feed_key());
        for &(_, op) in &committed {
            apply_feed_op(&mut replay, op);
        }
        let store = open(&backend);
        let fs = FeedStore::new(store, &name).unwrap();
        let stored = fs.blocking().load(feed_options(), feed_key()).unwrap();
        assert_eq!(stored.posts(), replay.posts(), "{backend}");
        for u in 0..FEED_USERS {
            let u = UserId(u);
            assert_eq!(stored.followees(u), replay.followees(u), "{backend}: {u}");
            assert_eq!(stored.inbox(u), replay.inbox(u), "{backend}: {u}");
            assert_eq!(
                feed_session(&stored, u),
                feed_session(&replay, u),
                "{backend}: {u}"
            );
        }
        assert!(
            stored.stats().pulled_posts > 0,
            "{backend}: some authors are pulled"
        );
        println!(
            "{backend}: feed, {} updates (follow + publish with fan-out) from two writers in \
             {secs:.1} s ({:.0} saves/s), {} lost races retried; the reader paged {} sessions \
             ({} pages) meanwhile",
            2 * FEED_UPDATES,
            2.0 * FEED_UPDATES as f64 / secs,
            stat(&stats, "conflicts"),
            stat(&stats, "sessions"),
            stat(&stats, "pages")
        );
    }
}

// -------------------------------------------------------------- sketch ----

const EVENTS: u64 = 600_000;
const WINDOW: u64 = 10_000;
const USERS: u64 = 30_000;

/// Event `i`: user `i * 7919 % USERS` in window `i / WINDOW`.
fn user_of(i: u64) -> u64 {
    i.wrapping_mul(7919) % USERS
}

fn new_hll() -> HllSketch {
    HllSketch::new(12, HllType::Hll8).unwrap()
}

fn window_key(run: &str, w: u64) -> Key {
    Key::new(format!("multinode-sketch/{run}/window-{w:04}")).unwrap()
}

/// Aggregates the events of partition `part` of `parts` window by window,
/// merging each finished window into the shared key by compare-and-swap.
fn sketch_node(store: &Shared, args: &[String]) {
    let run = &args[0];
    let part: u64 = args[1].parse().unwrap();
    let parts: u64 = args[2].parse().unwrap();
    let mut conflicts = 0u64;
    let mut merges = 0u64;
    for w in 0..EVENTS / WINDOW {
        let mut local = new_hll();
        for i in (w * WINDOW..(w + 1) * WINDOW).filter(|i| i % parts == part) {
            local.update_u64(user_of(i));
        }
        let mut attempts = 0u64;
        store
            .blocking()
            .update(&window_key(run, w), |old| {
                attempts += 1;
                let mut merged = match old {
                    Some(b) => HllSketch::from_bytes(b).map_err(blocksmith::store::Error::other)?,
                    None => new_hll(),
                };
                merged
                    .merge(&local)
                    .map_err(blocksmith::store::Error::other)?;
                Ok(Some(Bytes::from(merged.to_bytes())))
            })
            .unwrap();
        conflicts += attempts - 1;
        merges += 1;
    }
    println!("STAT conflicts {conflicts}");
    println!("STAT merges {merges}");
}

#[test]
fn two_sketch_aggregators_merge_their_windows() {
    for (backend, _dir) in backends() {
        let run = run_id();
        let started = Instant::now();
        let nodes: Vec<_> = (0..2)
            .map(|p| {
                spawn(
                    "sketch",
                    &backend,
                    &[run.clone(), p.to_string(), "2".into()],
                )
            })
            .collect();
        let stats: Vec<_> = nodes
            .into_iter()
            .flat_map(|c| finish(c, "sketch"))
            .collect();
        let secs = started.elapsed().as_secs_f64();
        let store = open(&backend);
        for w in 0..EVENTS / WINDOW {
            // What the two halves give merged here, in either order (a merged
            // sketch estimates from its registers, not with the HIP counter a
            // sketch fed directly keeps, so "the whole" is the merge).
            let half = |p: u64| {
                let mut h = new_hll();
                for i in (w * WINDOW..(w + 1) * WINDOW).filter(|i| i % 2 == p) {
                    h.update_u64(user_of(i));
                }
                h
            };
            let merged_here = |first: u64| {
                let mut m = new_hll();
                m.merge(&half(first)).unwrap();
                m.merge(&half(1 - first)).unwrap();
                m.to_bytes()
            };
            let got = store.blocking().get(&window_key(&run, w)).unwrap();
            let merged = HllSketch::from_bytes(&got.data).unwrap();
            assert!(
                got.data[..] == merged_here(0)[..] || got.data[..] == merged_here(1)[..],
                "{backend}: window {w}: the stored sketch is not the two halves merged"
            );
            let truth = (w * WINDOW..(w + 1) * WINDOW)
                .map(user_of)
                .collect::<std::collections::HashSet<_>>()
                .len() as f64;
            assert!(
                (merged.estimate() - truth).abs() / truth < 0.05,
                "{backend}: window {w}: estimate {} for {truth} users",
                merged.estimate()
            );
        }
        println!(
            "{backend}: sketch, {EVENTS} events on two aggregators in {secs:.1} s \
             ({:.0} events/s), {} merges, {} lost races retried",
            EVENTS as f64 / secs,
            stat(&stats, "merges"),
            stat(&stats, "conflicts")
        );
    }
}
