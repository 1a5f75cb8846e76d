//! The tus 1.0 protocol layer, request by request.

use crate::noise;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_upload::tus::{TusOptions, TusRequest, TusResponse, TusServer};
use blocksmith_upload::{Algorithm, UploadOptions, Uploads};

fn server(store: &MemoryStore) -> TusServer<&MemoryStore> {
    let up = Uploads::with_options(
        store,
        UploadOptions::default()
            .with_part_size(1, 1 << 20)
            .with_max_size(1 << 20),
    );
    TusServer::with_config(up, TusOptions::default().with_target_prefix("tus"))
}

fn req(method: &str, path: &str) -> TusRequest {
    TusRequest::new(method, path).header("Tus-Resumable", "1.0.0")
}

fn send(s: &TusServer<&MemoryStore>, r: TusRequest) -> TusResponse {
    block_on(s.handle(r))
}

fn patch(path: &str, offset: u64, body: &[u8]) -> TusRequest {
    req("PATCH", path)
        .header("Upload-Offset", &offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(body.to_vec())
}

#[test]
fn options_advertise_extensions() {
    let store = MemoryStore::new();
    let r = send(&server(&store), TusRequest::new("OPTIONS", "/files/"));
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Tus-Version"), Some("1.0.0"));
    let ext = r.header("Tus-Extension").unwrap();
    for e in [
        "creation",
        "creation-defer-length",
        "expiration",
        "checksum",
        "termination",
        "concatenation",
    ] {
        assert!(ext.split(',').any(|x| x == e), "{e}");
    }
    assert_eq!(
        r.header("Tus-Checksum-Algorithm"),
        Some("sha1,sha256,crc32c")
    );
    assert_eq!(r.header("Tus-Max-Size"), Some("1048576"));
}

#[test]
fn create_patch_resume_head_and_publish() {
    let store = MemoryStore::new();
    let s = server(&store);
    let file = noise(3000, 21);
    // Missing Tus-Resumable: 412.
    assert_eq!(
        send(
            &s,
            TusRequest::new("POST", "/files/").header("Upload-Length", "3000")
        )
        .status,
        412
    );
    let r = send(
        &s,
        req("POST", "/files/")
            .header("Upload-Length", "3000")
            .header("Upload-Metadata", "filename bW92aWUubXA0,private"),
    );
    assert_eq!(r.status, 201);
    assert!(r.header("Upload-Expires").unwrap().ends_with("GMT"));
    let loc = r.header("Location").unwrap().to_string();
    let id = loc.trim_start_matches("/files/").to_string();
    let r = send(&s, patch(&loc, 0, &file[..1000]));
    assert_eq!((r.status, r.header("Upload-Offset")), (204, Some("1000")));
    // A client that lost the response resends from a stale offset: 409.
    assert_eq!(send(&s, patch(&loc, 0, &file[..1000])).status, 409);
    let h = send(&s, req("HEAD", &loc));
    assert_eq!(h.status, 200);
    assert_eq!(h.header("Upload-Offset"), Some("1000"));
    assert_eq!(h.header("Upload-Length"), Some("3000"));
    assert_eq!(h.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        h.header("Upload-Metadata"),
        Some("filename bW92aWUubXA0,private")
    );
    // Wrong content type: 415; bad checksum: 460; bad offset header: 400.
    assert_eq!(
        send(
            &s,
            req("PATCH", &loc)
                .header("Upload-Offset", "1000")
                .body(vec![1])
        )
        .status,
        415
    );
    let bad = Algorithm::Sha1.digest(b"nope").to_tus();
    assert_eq!(
        send(
            &s,
            patch(&loc, 1000, &file[1000..2000]).header("Upload-Checksum", &bad)
        )
        .status,
        460
    );
    assert_eq!(
        send(
            &s,
            patch(&loc, 1000, &file[1000..2000]).header("Upload-Checksum", "md5 AAAA")
        )
        .status,
        400
    );
    assert_eq!(
        send(
            &s,
            req("PATCH", &loc)
                .header("Upload-Offset", "-1")
                .header("Content-Type", "application/offset+octet-stream")
        )
        .status,
        400
    );
    let good = Algorithm::Sha1.digest(&file[1000..]).to_tus();
    let r = send(
        &s,
        patch(&loc, 1000, &file[1000..]).header("Upload-Checksum", &good),
    );
    assert_eq!((r.status, r.header("Upload-Offset")), (204, Some("3000")));
    // Completed: published, and HEAD reports the full offset.
    let key = Key::new(format!("tus/{id}")).unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().data, file);
    assert_eq!(
        send(&s, req("HEAD", &loc)).header("Upload-Offset"),
        Some("3000")
    );
    // Past the length: 413.
    assert_eq!(
        send(
            &s,
            req("POST", "/files/").header("Upload-Length", "2000000")
        )
        .status,
        413
    );
}

#[test]
fn creation_with_upload_and_deferred_length() {
    let store = MemoryStore::new();
    let s = server(&store);
    let r = send(
        &s,
        req("POST", "/files/")
            .header("Upload-Defer-Length", "1")
            .header("Content-Type", "application/offset+octet-stream")
            .body(&b"hello "[..]),
    );
    assert_eq!((r.status, r.header("Upload-Offset")), (201, Some("6")));
    let loc = r.header("Location").unwrap().to_string();
    assert_eq!(
        send(&s, req("HEAD", &loc)).header("Upload-Defer-Length"),
        Some("1")
    );
    let r = send(&s, patch(&loc, 6, b"world").header("Upload-Length", "11"));
    assert_eq!((r.status, r.header("Upload-Offset")), (204, Some("11")));
    let id = loc.trim_start_matches("/files/");
    assert_eq!(
        &store
            .blocking()
            .get(&Key::new(format!("tus/{id}")).unwrap())
            .unwrap()
            .data[..],
        b"hello world"
    );
    // Both or neither length header: 400.
    assert_eq!(send(&s, req("POST", "/files/")).status, 400);
    assert_eq!(
        send(
            &s,
            req("POST", "/files/")
                .header("Upload-Length", "1")
                .header("Upload-Defer-Length", "1")
        )
        .status,
        400
    );
}

#[test]
fn termination_and_unknown_uploads() {
    let store = MemoryStore::new();
    let s = server(&store);
    let loc = send(&s, req("POST", "/files/").header("Upload-Length", "10"))
        .header("Location")
        .unwrap()
        .to_string();
    send(&s, patch(&loc, 0, b"abcd"));
    assert_eq!(send(&s, req("DELETE", &loc)).status, 204);
    assert_eq!(send(&s, req("HEAD", &loc)).status, 410);
    assert_eq!(send(&s, patch(&loc, 4, b"ef")).status, 410);
    assert!(
        store
            .blocking()
            .list_all("uploads/parts/")
            .unwrap()
            .is_empty()
    );
    assert_eq!(send(&s, req("HEAD", "/files/nope")).status, 404);
    assert_eq!(send(&s, req("HEAD", "/elsewhere")).status, 404);
    assert_eq!(send(&s, req("PUT", "/files/")).status, 405);
    // X-HTTP-Method-Override
    let r = send(
        &s,
        req("POST", &loc).header("X-HTTP-Method-Override", "HEAD"),
    );
    assert_eq!(r.status, 410);
}

#[test]
fn concatenation() {
    let store = MemoryStore::new();
    let s = server(&store);
    let mut urls = Vec::new();
    for part in [&b"first half, "[..], b"second half"] {
        let r = send(
            &s,
            req("POST", "/files/")
                .header("Upload-Length", &part.len().to_string())
                .header("Upload-Concat", "partial"),
        );
        let loc = r.header("Location").unwrap().to_string();
        assert_eq!(send(&s, patch(&loc, 0, part)).status, 204);
        assert_eq!(
            send(&s, req("HEAD", &loc)).header("Upload-Concat"),
            Some("partial")
        );
        urls.push(loc);
    }
    // Full URLs work as well as paths.
    let list = format!("final;http://example.test{} {}", urls[0], urls[1]);
    let r = send(&s, req("POST", "/files/").header("Upload-Concat", &list));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let loc = r.header("Location").unwrap().to_string();
    let h = send(&s, req("HEAD", &loc));
    assert_eq!(h.header("Upload-Offset"), Some("23"));
    assert_eq!(
        h.header("Upload-Concat").unwrap(),
        format!("final;{} {}", urls[0], urls[1])
    );
    let id = loc.trim_start_matches("/files/");
    assert_eq!(
        &store
            .blocking()
            .get(&Key::new(format!("tus/{id}")).unwrap())
            .unwrap()
            .data[..],
        b"first half, second half"
    );
    assert_eq!(send(&s, patch(&loc, 23, b"x")).status, 403);
}

#[test]
fn error_bodies_are_fixed_text_that_never_echo_the_request() {
    let store = MemoryStore::new();
    let s = server(&store);
    let evil = "<script>alert(1)</script>";
    let created = send(&s, req("POST", "/files/").header("Upload-Length", "10"));
    let loc = created.header("Location").unwrap().to_string();
    let ct = "application/offset+octet-stream";
    let cases = [
        req("POST", "/files/")
            .header("Upload-Length", "10")
            .header("Upload-Metadata", &format!("{evil} !!notbase64")),
        req("POST", "/files/").header("Upload-Length", "10").header(
            "Upload-Metadata",
            &format!("name {}", "PHNjcmlwdD4=,name x"),
        ),
        req("POST", "/files/").header("Upload-Length", evil),
        req("POST", "/files/").header("Upload-Defer-Length", evil),
        req("POST", "/files/")
            .header("Upload-Length", "10")
            .header("Upload-Checksum", &format!("sha1 {evil}")),
        req("POST", "/files/").header("Upload-Concat", &format!("final;{evil}")),
        req("PATCH", &loc)
            .header("Upload-Offset", evil)
            .header("Content-Type", ct),
        req("PATCH", &loc)
            .header("Upload-Offset", "0")
            .header("Content-Type", evil),
        req("PATCH", "/files/<script>alert(1)")
            .header("Upload-Offset", "0")
            .header("Content-Type", ct),
        req("HEAD", "/files/<script>alert(1)"),
        req("DELETE", "/files/<script>alert(1)"),
        req("GET", "/elsewhere/<script>"),
        TusRequest::new("POST", "/files/").header("Tus-Resumable", evil),
    ];
    for r in cases {
        let res = send(&s, r.clone());
        assert!(res.status >= 400, "{r:?}: {}", res.status);
        let body = std::str::from_utf8(&res.body).unwrap();
        assert!(
            !body.contains("<script") && !body.contains("alert") && !body.contains("PHNj"),
            "{r:?} echoed: {body}"
        );
        assert!(!body.is_empty());
        assert_eq!(
            res.header("Content-Type"),
            Some("text/plain; charset=utf-8"),
            "{r:?}"
        );
    }
}
