//! Upload `Session` records read back from a store: arbitrary bytes at
//! `uploads/sessions/fz` of a `MemoryStore`, then every public path that reads the record
//! (session, status, put_part, declare_length, finalize, abort, expire, list). Typed errors,
//! never a panic; a record that decodes re-encodes to one that decodes the same.
#![no_main]

use blocksmith_fuzz::record_bytes;
use blocksmith_store::record::{self, Record};
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_upload::{Session, UploadOptions, Uploads};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore::new();
    let key = Key::new("uploads/sessions/fz").unwrap();
    let bytes = record_bytes(Session::KIND, Session::VERSION, data);
    store.blocking().put(&key, bytes).unwrap();
    let up = Uploads::with_options(
        &store,
        UploadOptions::default()
            .with_part_size(1, 1 << 16)
            .with_max_size(1 << 20),
    )
    .with_clock(|| 1_000_000);
    block_on(async {
        let Ok(s) = up.session("fz").await else {
            return;
        };
        let again = record::encode(&s).expect("a decoded session encodes");
        assert_eq!(record::decode::<Session>("k", &again).unwrap(), s);
        let _ = up.status("fz").await;
        let _ = up
            .put_part("fz", 0, Bytes::from_static(b"\x89PNG\r\n\x1a\n"), None)
            .await;
        let _ = up.status("fz").await;
        let _ = up.declare_length("fz", 8).await;
        let _ = up.finalize("fz").await;
        let _ = up.status("fz").await;
        let _ = up.abort("fz").await;
        let _ = up.expire().await;
        let _ = up.list().await;
    });
});
