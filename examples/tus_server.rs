//! A tus 1.0 server on `tiny_http`, storing into a `RedbStore`: the
//! framework-free [`TusServer`] mounted on a real HTTP server. Finished
//! uploads can be read back with `GET /download/<id>`.
//!
//! ```text
//! cargo run --example tus_server -- 127.0.0.1:1080
//! ```
//! then point any tus client at `http://127.0.0.1:1080/files/` (see
//! `scripts/upload_tuspy.sh`, which does so with the Python `tuspy` client).

use blocksmith::store::{Key, RedbStore, StoreExt, block_on};
use blocksmith::upload::tus::{TusOptions, TusRequest, TusServer};
use blocksmith::upload::{UploadOptions, Uploads};
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1080".into());
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tus_server");
    std::fs::create_dir_all(&dir)?;
    let store = RedbStore::open(dir.join("tus.redb"))?;
    // tus clients choose their own chunk sizes: no minimum part size here.
    let options = UploadOptions::default()
        .with_part_size(1, 256 << 20)
        .with_max_size(1 << 30);
    let server = TusServer::with_config(
        Uploads::with_options(&store, options),
        TusOptions::default().with_target_prefix("tus"),
    );
    let http = tiny_http::Server::http(&addr).map_err(|e| e.to_string())?;
    println!("tus endpoint on http://{addr}/files/");
    for mut request in http.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("").to_string();
        let mut body = Vec::new();
        request.as_reader().read_to_end(&mut body)?;
        let response = if let Some(id) = path.strip_prefix("/download/") {
            match Key::new(format!("tus/{id}")).map(|k| store.blocking().get(&k)) {
                Ok(Ok(r)) => tiny_http::Response::from_data(r.data.to_vec()),
                _ => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
            }
        } else {
            let mut req = TusRequest::new(request.method().as_str(), &path).body(body);
            for h in request.headers() {
                req = req.header(h.field.as_str().as_str(), h.value.as_str());
            }
            let res = block_on(server.handle(req));
            let mut out =
                tiny_http::Response::from_data(res.body.to_vec()).with_status_code(res.status);
            for (name, value) in &res.headers {
                if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                    out.add_header(h);
                }
            }
            out
        };
        if let Err(e) = request.respond(response) {
            eprintln!("respond: {e}");
        }
    }
    Ok(())
}
