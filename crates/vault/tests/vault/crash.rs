//! The vault's crash promise, checked with the store's fault injector: a
//! crash (or a lost acknowledgement) at every store operation of a vault's
//! life (create, add, update, remove, a rotation interrupted and resumed),
//! then a restart from the store alone. Every item acknowledged is there
//! with the value acknowledged (the write in flight may or may not have
//! landed), every item opens, and the rotation resumes to the end.
//!
//! Torn puts are left out: the `Store` contract makes puts atomic, and the
//! rotation re-encrypts blobs in place by compare-and-swap.

use crate::common::{creds, opts};
use blocksmith_store::testing::{CrashPoint, CrashTest, Fault};
use blocksmith_store::{MemoryStore, Store, block_on};
use blocksmith_vault::{NewItem, Vault, VaultId};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
struct Seen {
    vault: Option<VaultId>,
    /// Name -> value, for every write acknowledged.
    acked: BTreeMap<String, String>,
    /// The write in flight when the crash hit: name -> new value (None: a
    /// removal). Either outcome is allowed for it.
    inflight: Vec<(String, Option<String>)>,
}

fn workload<S: Store>(store: S) -> Seen {
    let mut seen = Seen::default();
    block_on(async {
        let Ok((mut v, _)) = Vault::create(&store, &creds(), opts().with_rotation_batch(2)).await
        else {
            return;
        };
        seen.vault = Some(v.id());
        let first: Vec<(String, Option<String>)> = (0..4)
            .map(|i| (format!("item {i}"), Some(format!("value {i}"))))
            .collect();
        seen.inflight.clone_from(&first);
        let Ok(ids) = v
            .add_many(
                first
                    .iter()
                    .map(|(n, s)| NewItem::new(n.clone(), s.clone().unwrap()))
                    .collect(),
            )
            .await
        else {
            return;
        };
        for (n, s) in seen.inflight.drain(..) {
            seen.acked.insert(n, s.unwrap());
        }
        seen.inflight = vec![("item 1".into(), Some("value 1 updated".into()))];
        if v.update(&ids[1], "value 1 updated").await.is_err() {
            return;
        }
        seen.acked.insert("item 1".into(), "value 1 updated".into());
        seen.inflight = vec![("item 2".into(), None)];
        if v.remove(&ids[2]).await.is_err() {
            return;
        }
        seen.acked.remove("item 2");
        seen.inflight.clear();
        if v.rotate_partially(2).await.is_err() {
            return;
        }
        // A write in the middle of the rotation.
        seen.inflight = vec![("late".into(), Some("late value".into()))];
        if v.add(NewItem::new("late", "late value")).await.is_err() {
            return;
        }
        seen.acked.insert("late".into(), "late value".into());
        seen.inflight.clear();
        let _ = v.rotate().await;
    });
    seen
}

#[allow(clippy::needless_pass_by_value)] // the shape CrashTest::run hands over
fn check(inner: MemoryStore, seen: Seen, point: &CrashPoint) {
    let Some(vid) = seen.vault else {
        return; // crashed inside create: nothing was acknowledged
    };
    block_on(async {
        let mut v = Vault::unlock(&inner, vid, &creds(), opts())
            .await
            .unwrap_or_else(|e| panic!("{point}: the vault does not reopen: {e}"));
        let verify = async |v: &Vault<&MemoryStore>| {
            for (name, value) in &seen.acked {
                let flight = seen.inflight.iter().find(|(n, _)| n == name);
                match v.get_by_name(name).await {
                    Ok(got) => {
                        let ok = got.as_str() == Some(value.as_str())
                            || flight.is_some_and(|(_, s)| s.as_deref() == got.as_str());
                        assert!(ok, "{point}: {name} holds {:?}", got.as_str());
                    }
                    Err(e) => assert!(
                        flight.is_some_and(|(_, s)| s.is_none()),
                        "{point}: acknowledged {name} lost: {e}"
                    ),
                }
            }
            for info in v.items() {
                v.get(&info.id())
                    .await
                    .unwrap_or_else(|e| panic!("{point}: {} does not open: {e}", info.name()));
            }
        };
        verify(&v).await;
        // Resume whatever rotation was under way; everything still opens.
        if v.rotation_pending().is_some() {
            v.rotate()
                .await
                .unwrap_or_else(|e| panic!("{point}: the rotation does not resume: {e}"));
            verify(&v).await;
            assert!(v.rotation_pending().is_none());
        }
    });
}

#[test]
fn a_crash_at_every_store_operation_loses_nothing_acknowledged() {
    let report = CrashTest::new()
        .with_faults([Fault::FailBefore, Fault::FailAfter])
        .run(MemoryStore::new, |s| workload(s), check);
    assert!(report.operations >= 30, "{report:?}");
    assert!(report.crashes >= 60, "{report:?}");
}
