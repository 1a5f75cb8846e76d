//! Multipart uploads on the `object_store` adapter (over `InMemory`, and the
//! live S3 server when `BLOCKSMITH_S3_ENDPOINT` is set), through every
//! wrapper that forwards them, with faults; and the create-only streamed put
//! over 64 MiB that goes through a staging key and a conditional copy.

use crate::check;
use blocksmith_store::conformance::pattern_stream;
use blocksmith_store::testing::{Fault, FaultPlan, FaultyStore, is_injected};
use blocksmith_store::{
    DynStore, Error, GetOptions, Key, MemoryStore, MultipartId, MultipartLimits,
    ObjectStoreAdapter, Offload, PutOptions, Store, StoreExt,
};
use std::sync::Arc;

fn in_memory() -> ObjectStoreAdapter {
    let inner = Arc::new(object_store::memory::InMemory::new());
    ObjectStoreAdapter::new(inner.clone())
        .unwrap()
        .with_multipart(inner)
}

#[test]
fn object_store_in_memory_with_multipart_conforms() {
    let r = check(&in_memory());
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert!(r.unsupported.is_empty(), "{:?}", r.unsupported);
    assert!(r.passed.contains(&"multipart"));
}

#[test]
fn stores_without_multipart_refuse_it_and_the_suite_says_so() {
    let r = check(&MemoryStore::new());
    assert_eq!(r.unsupported, [("multipart", "multipart")]);
    // The adapter offers it only when given a MultipartStore.
    let plain = ObjectStoreAdapter::new(Arc::new(object_store::memory::InMemory::new())).unwrap();
    assert_eq!(plain.capabilities().multipart, None);
    let key = Key::new("k").unwrap();
    assert!(matches!(
        plain.blocking().create_multipart(&key),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn multipart_goes_through_every_forwarding_wrapper() {
    let dynamic: Arc<dyn DynStore> = Arc::new(in_memory());
    let r = check(&dynamic);
    assert!(r.passed.contains(&"multipart"), "{r:?}");
    let boxed: Box<dyn DynStore> = Box::new(in_memory());
    assert!(check(&&*boxed).passed.contains(&"multipart"));
    let offload = Offload::new(in_memory()).unwrap();
    assert!(check(&offload).passed.contains(&"multipart"));
    let counted = FaultyStore::new(in_memory(), FaultPlan::never());
    assert!(check(&counted).passed.contains(&"multipart"));
}

#[test]
fn declared_limits_are_the_adapters_and_can_be_changed() {
    let store = in_memory();
    assert_eq!(store.capabilities().multipart, Some(MultipartLimits::S3));
    let small = MultipartLimits::new(1, 100, 3);
    let inner = Arc::new(object_store::memory::InMemory::new());
    let store = ObjectStoreAdapter::new(inner.clone())
        .unwrap()
        .with_multipart(inner)
        .with_capabilities(blocksmith_store::Capabilities::FULL.with_multipart(Some(small)));
    let key = Key::new("small/limits").unwrap();
    let s = store.blocking();
    let id = s.create_multipart(&key).unwrap();
    assert!(matches!(
        s.put_part(&key, &id, 4, "x"),
        Err(Error::InvalidMultipart { .. })
    ));
    assert!(matches!(
        s.put_part(&key, &id, 1, vec![0u8; 101]),
        Err(Error::InvalidMultipart { .. })
    ));
    let parts = [
        s.put_part(&key, &id, 1, "ab").unwrap(),
        s.put_part(&key, &id, 2, "c").unwrap(),
    ];
    s.complete_multipart(&key, &id, &parts).unwrap();
    assert_eq!(&s.get(&key).unwrap().data[..], b"abc");
    // Declared limits without a MultipartStore are still refused.
    let plain = ObjectStoreAdapter::new(Arc::new(object_store::memory::InMemory::new()))
        .unwrap()
        .with_capabilities(blocksmith_store::Capabilities::FULL.with_multipart(Some(small)));
    assert!(matches!(
        plain.blocking().create_multipart(&key),
        Err(Error::Unsupported { .. })
    ));
}

/// The ids are plain data: another process (here, another adapter over the
/// same bucket) sends the rest and completes.
#[test]
fn another_adapter_continues_an_upload_from_its_ids() {
    let inner = Arc::new(object_store::memory::InMemory::new());
    let first = ObjectStoreAdapter::new(inner.clone())
        .unwrap()
        .with_multipart(inner.clone());
    let key = Key::new("shared/upload").unwrap();
    let id = first.blocking().create_multipart(&key).unwrap();
    let p1 = first
        .blocking()
        .put_part(&key, &id, 1, vec![1u8; 5 << 20])
        .unwrap();
    let saved = serde_json::to_string(&(&id, &p1)).unwrap();
    drop(first);
    let second = ObjectStoreAdapter::new(inner.clone())
        .unwrap()
        .with_multipart(inner);
    let (id, p1): (MultipartId, blocksmith_store::PartId) = serde_json::from_str(&saved).unwrap();
    let p2 = second.blocking().put_part(&key, &id, 2, "end").unwrap();
    second
        .blocking()
        .complete_multipart(&key, &id, &[p1, p2])
        .unwrap();
    assert_eq!(second.blocking().head(&key).unwrap().size, (5 << 20) + 3);
}

#[test]
fn faulty_store_counts_and_faults_multipart_calls() {
    let key = Key::new("faulty/mp").unwrap();
    // Counted: create, two parts, complete, abort.
    let counted = FaultyStore::new(in_memory(), FaultPlan::never());
    let s = counted.blocking();
    let id = s.create_multipart(&key).unwrap();
    let parts = [
        s.put_part(&key, &id, 1, vec![7u8; 5 << 20]).unwrap(),
        s.put_part(&key, &id, 2, "tail").unwrap(),
    ];
    s.complete_multipart(&key, &id, &parts).unwrap();
    s.abort_multipart(&key, &id).unwrap();
    assert_eq!(counted.ops(), 5);

    // A lost acknowledgement of the completion: the object is there.
    let faulty = FaultyStore::new(in_memory(), FaultPlan::new(4, Fault::FailAfter));
    let s = faulty.blocking();
    let id = s.create_multipart(&key).unwrap();
    let parts = [
        s.put_part(&key, &id, 1, vec![7u8; 5 << 20]).unwrap(),
        s.put_part(&key, &id, 2, "tail").unwrap(),
    ];
    let lost = s.complete_multipart(&key, &id, &parts).unwrap_err();
    assert!(is_injected(&lost));
    assert_eq!(
        faulty.faulted().unwrap().to_string(),
        "complete_multipart \"faulty/mp\""
    );
    assert!(s.head(&key).is_err(), "dead after the crash");
    let inner = faulty.into_inner();
    assert_eq!(inner.blocking().head(&key).unwrap().size, (5 << 20) + 4);
    // Completed, the upload is gone.
    assert!(matches!(
        inner.blocking().put_part(&key, &id, 2, "x"),
        Err(Error::NotFound { .. })
    ));

    // A torn part: the first half is stored as the part; sending it again
    // replaces it.
    let faulty = FaultyStore::new(in_memory(), FaultPlan::new(2, Fault::Tear));
    let id = faulty.blocking().create_multipart(&key).unwrap();
    assert!(
        faulty
            .blocking()
            .put_part(&key, &id, 1, vec![3u8; 100])
            .is_err()
    );
    let inner = faulty.into_inner();
    let torn = inner.blocking().put_part(&key, &id, 2, "z").unwrap();
    let p1 = inner.blocking().put_part(&key, &id, 1, vec![3u8; 6 << 20]);
    inner
        .blocking()
        .complete_multipart(&key, &id, &[p1.unwrap(), torn])
        .unwrap();
    assert_eq!(inner.blocking().head(&key).unwrap().size, (6 << 20) + 1);
}

/// 70 MiB create-only through `put_stream`: over the 64 MiB a conditional
/// PUT carries, so it goes to a staging key and is copied conditionally
/// (`InMemory` copies create-only natively).
#[test]
fn create_only_streamed_put_over_64_mib_goes_through_a_conditional_copy() {
    let store = in_memory();
    create_only_over_64_mib(&store, "big/created");
}

/// Asserts the large create-only streamed put on `store`: published whole,
/// refused over an existing object (before the body is sent), no staging
/// object left.
pub(crate) fn create_only_over_64_mib<S: Store + ?Sized>(store: &S, name: &str) {
    let n: u64 = (70 << 20) + 3;
    let key = Key::new(name).unwrap();
    let _ = store.blocking().delete(&key);
    let put = store
        .blocking()
        .put_stream(&key, pattern_stream(n, 1 << 20), PutOptions::create())
        .unwrap();
    let got = store
        .blocking()
        .get_stream(&key, GetOptions::new())
        .unwrap();
    assert_eq!(got.meta.version, put.version);
    let mut at = 0u64;
    for chunk in got {
        let chunk = chunk.unwrap();
        assert!(
            chunk
                .iter()
                .enumerate()
                .all(|(i, &b)| b == blocksmith_store::conformance::pattern_byte(at + i as u64)),
            "differs within {at}.."
        );
        at += chunk.len() as u64;
    }
    assert_eq!(at, n);
    assert!(matches!(
        store
            .blocking()
            .put_stream(&key, pattern_stream(n, 1 << 20), PutOptions::create()),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(
        store
            .blocking()
            .list_all(".blocksmith-staging/")
            .unwrap()
            .is_empty(),
        "a staging object was left behind"
    );
    store.blocking().delete(&key).unwrap();
}

/// The live S3 server: the adapter with `S3CopyIfNotExists::Multipart`
/// publishes a large create-only stream; without it the put is refused as
/// `Unsupported` (after one try, before any body is sent), and a
/// compare-and-swap stream over 64 MiB is refused.
#[test]
fn s3_large_create_only_stream() {
    let Some(endpoint) = crate::s3_endpoint() else {
        return;
    };
    let with_copy = crate::s3_builder(&endpoint)
        .with_copy_if_not_exists(object_store::aws::S3CopyIfNotExists::Multipart)
        .build()
        .unwrap();
    let with_copy = Arc::new(with_copy);
    // The server takes the conditional copy (UploadPartCopy, then a
    // completion with If-None-Match) and refuses it over an existing object.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use object_store::{ObjectStoreExt, path::Path};
        let (from, to) = (
            Path::from("mp-test/copy-from"),
            Path::from("mp-test/copy-to"),
        );
        with_copy.put(&from, "source".into()).await.unwrap();
        let _ = with_copy.delete(&to).await;
        with_copy.copy_if_not_exists(&from, &to).await.unwrap();
        let again = with_copy.copy_if_not_exists(&from, &to).await;
        assert!(
            matches!(again, Err(object_store::Error::AlreadyExists { .. })),
            "{again:?}"
        );
        let got = with_copy.get(&to).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"source");
        with_copy.delete(&from).await.unwrap();
        with_copy.delete(&to).await.unwrap();
    });
    let store = ObjectStoreAdapter::new(with_copy).unwrap();
    create_only_over_64_mib(&store, "mp-test/created");

    let plain =
        ObjectStoreAdapter::new(Arc::new(crate::s3_builder(&endpoint).build().unwrap())).unwrap();
    let key = Key::new("mp-test/refused").unwrap();
    for _ in 0..2 {
        let r = plain.blocking().put_stream(
            &key,
            pattern_stream(65 << 20, 1 << 20),
            PutOptions::create(),
        );
        assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
    }
    assert!(plain.blocking().get_opt(&key).unwrap().is_none());
    assert!(
        plain
            .blocking()
            .list_all(".blocksmith-staging/")
            .unwrap()
            .is_empty()
    );
    let v = plain.blocking().put(&key, "small").unwrap().version;
    let r = plain.blocking().put_stream(
        &key,
        pattern_stream(65 << 20, 1 << 20),
        PutOptions::update(v),
    );
    assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
    plain.blocking().delete(&key).unwrap();
}

/// The live S3 server: a completion naming a part that was sent again
/// with other bytes since (S3's `InvalidPart`) is `Error::InvalidMultipart`,
/// completes nothing, and the upload completes with the part it holds.
#[test]
fn s3_a_completion_naming_a_replaced_part_is_invalid_multipart() {
    let Some(endpoint) = crate::s3_endpoint() else {
        return;
    };
    let s3 = Arc::new(crate::s3_builder(&endpoint).build().unwrap());
    let store = ObjectStoreAdapter::new(s3.clone())
        .unwrap()
        .with_multipart(s3);
    let key = Key::new("mp-test/invalid-part").unwrap();
    let _ = store.blocking().delete(&key);
    let b = store.blocking();
    let upload = b.create_multipart(&key).unwrap();
    let first = b.put_part(&key, &upload, 1, "first bytes").unwrap();
    let second = b.put_part(&key, &upload, 1, "other bytes").unwrap();
    assert_ne!(first, second, "S3's part ids are the parts' ETags");
    let r = b.complete_multipart(&key, &upload, &[first]);
    assert!(matches!(r, Err(Error::InvalidMultipart { .. })), "{r:?}");
    assert!(b.get_opt(&key).unwrap().is_none());
    b.complete_multipart(&key, &upload, &[second]).unwrap();
    assert_eq!(&b.get(&key).unwrap().data[..], b"other bytes");
    b.delete(&key).unwrap();
}
