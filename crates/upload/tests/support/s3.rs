//! The live S3-compatible server of the tests (`.ci/run` starts moto and
//! sets `BLOCKSMITH_S3_ENDPOINT` and `BLOCKSMITH_S3_BUCKET`).

#![allow(dead_code)] // each test binary uses its own part of it

use blocksmith_store::{GetOptions, Key, ObjectStoreAdapter, StoreExt};
use blocksmith_upload::{Algorithm, Checksum};
use std::io::{Read, Write};
use std::sync::Arc;

/// The server's endpoint; `None` (saying so) when it is not set, unless
/// `BLOCKSMITH_REQUIRE_S3=1`, which CI sets so a missing server fails the
/// run.
pub(crate) fn endpoint() -> Option<String> {
    let Ok(endpoint) = std::env::var("BLOCKSMITH_S3_ENDPOINT") else {
        assert!(
            std::env::var("BLOCKSMITH_REQUIRE_S3").is_err(),
            "BLOCKSMITH_REQUIRE_S3 is set but BLOCKSMITH_S3_ENDPOINT is not"
        );
        eprintln!("SKIPPED: set BLOCKSMITH_S3_ENDPOINT to run against a live S3 server");
        return None;
    };
    Some(endpoint)
}

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

fn bucket() -> String {
    env("BLOCKSMITH_S3_BUCKET", "blocksmith")
}

/// The adapter over the server, with conditional puts, the conditional copy
/// and multipart uploads.
pub(crate) fn adapter(endpoint: &str) -> ObjectStoreAdapter {
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket())
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
    ObjectStoreAdapter::new(s3.clone())
        .expect("adapter")
        .with_multipart(s3)
}

/// The SHA-256 of the object at `key`, streamed back in chunks.
pub(crate) fn sha256_of(store: &ObjectStoreAdapter, key: &str) -> Checksum {
    let mut h = Algorithm::Sha256.hasher();
    let body = store
        .blocking()
        .get_stream(&Key::new(key).unwrap(), GetOptions::new())
        .unwrap();
    for chunk in body {
        h.update(&chunk.unwrap());
    }
    h.finish()
}

/// The ids of the multipart uploads in progress at `key`, listed on the
/// server (`GET /<bucket>?uploads`, unsigned: moto does not check
/// signatures).
pub(crate) fn pending_uploads(endpoint: &str, key: &str) -> Vec<String> {
    let hostport = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut conn = std::net::TcpStream::connect(&hostport).expect("connect to the S3 server");
    write!(
        conn,
        "GET /{}?uploads HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n",
        bucket()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
        .split("<Upload>")
        .skip(1)
        .filter(|u| u.contains(&format!("<Key>{key}</Key>")))
        .map(|u| {
            let id = u.split("<UploadId>").nth(1).unwrap_or("");
            id.split('<').next().unwrap_or("").to_string()
        })
        .collect()
}
