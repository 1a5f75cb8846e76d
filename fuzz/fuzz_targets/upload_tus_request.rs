//! The tus header parser and request handler on arbitrary requests: never a
//! panic, always a response.
#![no_main]

use blocksmith_store::{MemoryStore, block_on};
use blocksmith_upload::tus::{TusHeaders, TusRequest, TusServer};
use blocksmith_upload::{UploadOptions, Uploads};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 7] = ["OPTIONS", "POST", "HEAD", "PATCH", "DELETE", "GET", "PUT"];

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    // Header lines up to an empty line, then the body.
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let path = lines.next().unwrap_or("/files/");
    let mut req =
        TusRequest::new(METHODS[usize::from(m) % METHODS.len()], path).body(body.to_vec());
    for line in lines {
        if let Some((n, v)) = line.split_once(':') {
            req = req.header(n.trim(), v.trim());
        }
    }
    let _ = TusHeaders::parse(&req);
    let store = MemoryStore::new();
    let server = TusServer::new(Uploads::with_options(
        &store,
        UploadOptions::default()
            .with_part_size(1, 1 << 16)
            .with_max_size(1 << 20),
    ));
    // Create an upload first so PATCH/HEAD reach an existing session.
    let created = block_on(
        server.handle(
            TusRequest::new("POST", "/files/")
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", "64"),
        ),
    );
    if let Some(loc) = created.header("Location") {
        if req.path == "/files/x" {
            req.path = loc.to_string();
        }
    }
    let res = block_on(server.handle(req));
    assert!((100..600).contains(&res.status));
});
