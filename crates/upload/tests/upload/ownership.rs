//! Security review 21, M3 and L4, on the `object_store` adapter over
//! `InMemory`: which object a multipart finalize takes for its own, and
//! what it does when the upload holds another part than a marker names.
//!
//! - An object already at the target, even one with the upload's length and
//!   CRC-32C (CRC-32C is linear: four chosen bytes match any value), is
//!   someone else's: refused, never published, never deleted.
//! - A writer that creates a create-only custom target while the upload
//!   completes keeps its object (the upload completes at a staging key and
//!   is published by a conditional copy).
//! - A part sent twice at once, the later one's marker lost: sending the
//!   part again puts it back into the upload, and a completion the service
//!   refuses (S3's `InvalidPart`) asks for the marked slots again instead of
//!   failing every finalize.

use crate::multipart::{S, adapter, object, options, part_names, send_to, upload_at};
use crate::noise;
use blocksmith_store::{
    Bytes, Capabilities, ComposePart, Error as StoreError, GetOptions, GetResult, GetStream, Key,
    ListOptions, ListPage, MultipartId, ObjectMeta, ObjectStoreAdapter, PartId, PutOptions,
    PutResult, Store, StoreExt, block_on,
};
use blocksmith_upload::{Algorithm, CreateOptions, Error, SessionState, Uploads};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A different value with the same length and CRC-32C as `file`: a set of
/// bit flips (past the first 64 bytes, so the type sniffs the same) whose
/// CRC changes cancel, found among 33 single flips by elimination over
/// GF(2) (33 vectors in a 32-bit space are dependent).
fn forge(file: &[u8]) -> Vec<u8> {
    let zero = crc32c::crc32c(&vec![0u8; file.len()]);
    let flip = |i: usize| {
        let mut d = vec![0u8; file.len()];
        d[64 + i / 8] ^= 1 << (i % 8);
        crc32c::crc32c(&d) ^ zero
    };
    // A basis of CRC changes, each with the flips that make it, kept in
    // descending order (distinct leading bits).
    let mut basis: Vec<(u32, u64)> = Vec::new();
    for i in 0..33 {
        let (mut v, mut set) = (flip(i), 1u64 << i);
        for &(b, flips) in &basis {
            if v ^ b < v {
                v ^= b;
                set ^= flips;
            }
        }
        if v == 0 {
            let mut out = file.to_vec();
            for j in (0..33).filter(|j| set & (1 << j) != 0) {
                out[64 + j / 8] ^= 1 << (j % 8);
            }
            return out;
        }
        basis.push((v, set));
        basis.sort_by_key(|b| std::cmp::Reverse(b.0));
    }
    unreachable!("33 changes in 32 bits are dependent")
}

/// Every slot of `file` into session `id`, in the session's part size.
fn send_all<St: Store>(up: &Uploads<St>, id: &str, file: &Bytes) {
    let length = file.len() as u64;
    let mut at = 0;
    while at < length {
        let end = (at + S).min(length);
        send_to(up, id, file, at, end);
        at = end;
    }
}

#[test]
fn a_forged_target_with_the_same_crc_is_neither_published_nor_deleted() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let length = 3 * S + 7;
    let file = noise(length as usize, 21);
    let forged = forge(&file);
    assert_ne!(&forged[..], &file[..]);
    assert_eq!(crc32c::crc32c(&forged), crc32c::crc32c(&file));
    for custom in [true, false] {
        for expected in [None, Some(Algorithm::Sha256.digest(&file))] {
            let up = Uploads::with_options(&store, options());
            let mut create = CreateOptions::new(length);
            if custom {
                create = create.with_target(format!("media/forged-{}", expected.is_some()));
            }
            if let Some(e) = &expected {
                create = create.with_expected(e.clone());
            }
            let session = block_on(up.create(create)).unwrap().session;
            let target = Key::new(&*session.target).unwrap();
            store.blocking().put(&target, forged.clone()).unwrap();
            send_all(&up, &session.id, &file);
            let r = block_on(up.finalize(&session.id));
            assert!(
                matches!(r, Err(Error::TargetExists { .. })),
                "custom {custom}, expected {expected:?}: {r:?}"
            );
            assert_eq!(
                &store.blocking().get(&target).unwrap().data[..],
                &forged[..],
                "the forged object was touched"
            );
            assert_eq!(
                block_on(up.session(&session.id)).unwrap().state,
                SessionState::Open
            );
            // Finalizing again changes nothing; aborting leaves it too.
            assert!(matches!(
                block_on(up.finalize(&session.id)),
                Err(Error::TargetExists { .. })
            ));
            block_on(up.abort(&session.id)).unwrap();
            assert_eq!(
                &store.blocking().get(&target).unwrap().data[..],
                &forged[..]
            );
            store.blocking().delete(&target).unwrap();
        }
    }
}

/// What a [`Service`] does besides forwarding.
#[derive(Default)]
struct Behaviour {
    /// Put at this key, once, when a completion arrives (a writer racing
    /// the finalize between its check and its completion).
    race: Mutex<Option<(Key, Bytes)>>,
    /// Part ids as S3 has them: each send of a part gets a new one, and a
    /// completion naming one that is not the last sent under its number is
    /// refused (`InvalidPart`), completing nothing.
    strict_ids: bool,
    latest: Mutex<HashMap<(String, u32), String>>,
    sends: AtomicU64,
    /// Part ids this many bytes longer (a backend with long content ids).
    pad_ids: usize,
}

/// The adapter, with a [`Behaviour`] of a real service added.
struct Service {
    inner: ObjectStoreAdapter,
    b: Behaviour,
}

impl Store for Service {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith_store::Result<GetResult> {
        self.inner.get(key, options).await
    }
    async fn get_stream(
        &self,
        key: &Key,
        options: GetOptions,
    ) -> blocksmith_store::Result<GetStream<'_>> {
        self.inner.get_stream(key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.inner.list(options).await
    }
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.inner.compose(target, parts, options).await
    }
    async fn create_multipart(&self, key: &Key) -> blocksmith_store::Result<MultipartId> {
        self.inner.create_multipart(key).await
    }
    async fn put_part(
        &self,
        key: &Key,
        upload: &MultipartId,
        number: u32,
        data: Bytes,
    ) -> blocksmith_store::Result<PartId> {
        let part = self.inner.put_part(key, upload, number, data).await?;
        if self.b.pad_ids > 0 {
            let id = format!("{}~{}", part.content_id(), "x".repeat(self.b.pad_ids));
            return Ok(PartId::new(number, id));
        }
        if !self.b.strict_ids {
            return Ok(part);
        }
        let n = self.b.sends.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}.{n}", part.content_id());
        self.b
            .latest
            .lock()
            .unwrap()
            .insert((upload.as_str().to_string(), number), id.clone());
        Ok(PartId::new(number, id))
    }
    async fn complete_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
        parts: &[PartId],
    ) -> blocksmith_store::Result<PutResult> {
        let race = self.b.race.lock().unwrap().take();
        if let Some((k, v)) = race {
            self.inner.put(&k, v, PutOptions::new()).await?;
        }
        let mut inner_parts = Vec::with_capacity(parts.len());
        if self.b.strict_ids {
            let latest = self.b.latest.lock().unwrap().clone();
            for p in parts {
                let now = latest.get(&(upload.as_str().to_string(), p.number()));
                if now.map(String::as_str) != Some(p.content_id()) {
                    return Err(StoreError::InvalidMultipart {
                        key: key.to_string(),
                        reason: format!(
                            "InvalidPart: part {} is not {}",
                            p.number(),
                            p.content_id()
                        ),
                    });
                }
                let inner = p.content_id().rsplit_once('.').map_or("", |(id, _)| id);
                inner_parts.push(PartId::new(p.number(), inner));
            }
        } else {
            inner_parts.extend_from_slice(parts);
        }
        self.inner
            .complete_multipart(key, upload, &inner_parts)
            .await
    }
    async fn abort_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
    ) -> blocksmith_store::Result<()> {
        self.inner.abort_multipart(key, upload).await
    }
}

fn service(b: Behaviour) -> Service {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    Service {
        inner: adapter(&bucket),
        b,
    }
}

/// Another writer creates the create-only custom target after finalize
/// looked (it was absent) and before the completion: its object stays, and
/// the session is told the target is taken.
#[test]
fn a_target_created_during_the_completion_is_not_overwritten() {
    let length = 2 * S + 5;
    let file = noise(length as usize, 22);
    let theirs = Bytes::from_static(b"a writer's own object");
    let target = Key::new("media/raced.bin").unwrap();
    let store = service(Behaviour {
        race: Mutex::new(Some((target.clone(), theirs.clone()))),
        ..Behaviour::default()
    });
    let up = Uploads::with_options(&store, options());
    let session = block_on(up.create(CreateOptions::new(length).with_target(target.as_str())))
        .unwrap()
        .session;
    send_all(&up, &session.id, &file);
    let r = block_on(up.finalize(&session.id));
    assert!(matches!(r, Err(Error::TargetExists { .. })), "{r:?}");
    assert_eq!(store.blocking().get(&target).unwrap().data, theirs);
    // Aborted, the session leaves nothing of its own behind.
    block_on(up.abort(&session.id)).unwrap();
    assert!(
        store
            .blocking()
            .get_opt(&Key::new(upload_at(&session)).unwrap())
            .unwrap()
            .is_none()
    );
    assert!(part_names(&store, &session.id).is_empty());
    assert_eq!(store.blocking().get(&target).unwrap().data, theirs);
}

/// Two sends of one slot at once with different bytes; the upload keeps
/// the one whose marker was lost (sent here straight into the store). On a
/// store whose part ids do not tell the two apart (`InMemory`: the part's
/// index), sending the right part again puts it back, so the object is the
/// bytes the marker names, not the other ones.
#[test]
fn sending_a_marked_part_again_puts_it_back_into_the_upload() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let up = Uploads::with_options(&store, options());
    let length = 3 * S;
    let file = noise(length as usize, 23);
    let session = block_on(up.create(CreateOptions::new(length).with_target("media/twice.bin")))
        .unwrap()
        .session;
    let mp = session.multipart.clone().unwrap();
    send_all(&up, &session.id, &file);
    // The other send of slot 1 lands last in the upload.
    let at = Key::new(upload_at(&session)).unwrap();
    store
        .blocking()
        .put_part(&at, &mp.upload, 2, noise(S as usize, 99))
        .unwrap();
    // The client sends slot 1 again (it does after any error).
    send_to(&up, &session.id, &file, S, 2 * S);
    assert_eq!(part_names(&store, &session.id).len(), 3);
    let p = block_on(up.finalize(&session.id)).unwrap();
    assert_eq!(object(&store, "media/twice.bin"), file);
    assert_eq!(p.checksum, Algorithm::Crc32c.digest(&file));
}

/// The same on a store whose part ids change with every send (S3's ETags
/// of different bytes): the completion names the marked part, the service
/// holds the other one and refuses (`InvalidPart`). Finalize deletes the
/// marked slots' markers and asks for them again (`Incomplete`), instead of
/// failing the same way every time; sent again, they complete.
#[test]
fn a_completion_refused_for_its_parts_asks_for_the_marked_slots_again() {
    let store = service(Behaviour {
        strict_ids: true,
        ..Behaviour::default()
    });
    let up = Uploads::with_options(&store, options());
    let length = 3 * S + 11;
    let file = noise(length as usize, 24);
    let session = block_on(up.create(CreateOptions::new(length).with_target("media/refused.bin")))
        .unwrap()
        .session;
    let mp = session.multipart.clone().unwrap();
    send_all(&up, &session.id, &file);
    let at = Key::new(upload_at(&session)).unwrap();
    store
        .blocking()
        .put_part(&at, &mp.upload, 1, noise(S as usize, 98))
        .unwrap();
    let r = block_on(up.finalize(&session.id));
    assert!(
        matches!(&r, Err(Error::Incomplete { missing, .. }) if *missing == length),
        "{r:?}"
    );
    let st = block_on(up.status(&session.id)).unwrap();
    assert_eq!(st.missing, vec![0..length]);
    assert!(part_names(&store, &session.id).is_empty());
    // The upload is still the session's; the parts sent again complete it.
    assert_eq!(
        block_on(up.session(&session.id))
            .unwrap()
            .multipart
            .unwrap()
            .upload,
        mp.upload
    );
    send_all(&up, &session.id, &file);
    block_on(up.finalize(&session.id)).unwrap();
    assert_eq!(object(&store, "media/refused.bin"), file);
}

/// A backend whose part ids are so long that a part's marker key would
/// pass the longest key: the part is refused with a typed error naming the
/// cause, not left in the upload with no marker and counted as missing.
#[test]
fn a_part_id_too_long_for_its_marker_is_a_typed_error() {
    let store = service(Behaviour {
        pad_ids: 800,
        ..Behaviour::default()
    });
    let up = Uploads::with_options(&store, options());
    let length = 2 * S;
    let file = noise(length as usize, 25);
    let session = block_on(up.create(CreateOptions::new(length).with_target("media/long.bin")))
        .unwrap()
        .session;
    let r = block_on(up.put_part(&session.id, 0, file.slice(..S as usize), None));
    assert!(
        matches!(
            &r,
            Err(Error::Invalid {
                what: "multipart part id",
                ..
            })
        ),
        "{r:?}"
    );
}

/// A session record whose staging key was damaged or forged (it names
/// another key, here another session's record) is a typed error on every
/// path that reads it, and that key is never deleted.
#[test]
fn a_forged_staging_key_is_refused() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let up = Uploads::with_options(&store, options());
    let victim = block_on(up.create(CreateOptions::new(2 * S).with_id("victim")))
        .unwrap()
        .session;
    let id = block_on(up.create(CreateOptions::new(2 * S).with_target("media/forged-staging")))
        .unwrap()
        .session
        .id;
    let key = Key::new(format!("uploads/sessions/{id}")).unwrap();
    let (mut session, _) = store
        .blocking()
        .get_record::<blocksmith_upload::Session>(&key)
        .unwrap()
        .unwrap();
    session.multipart.as_mut().unwrap().staging = Some("uploads/sessions/victim".into());
    store
        .blocking()
        .put_record(&key, &session, PutOptions::new())
        .unwrap();
    for r in [
        block_on(up.status(&id)).map(|_| ()),
        block_on(up.put_part(&id, 0, noise(S as usize, 1), None)).map(|_| ()),
        block_on(up.finalize(&id)).map(|_| ()),
        block_on(up.abort(&id)),
    ] {
        assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    }
    assert_eq!(block_on(up.session("victim")).unwrap(), victim);
}
