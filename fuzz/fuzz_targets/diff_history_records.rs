//! `diff::history` records read back from a store. A `ConfigStore` over a `MemoryStore` gets a
//! config with one version and a proposal; then the first input byte picks one of its records
//! (version, head, proposal, proposal sequence) and the rest replaces it. Every read and the
//! writes that read first must give a value or a typed error, never a panic; versions and
//! proposals that decode re-encode to records that decode the same.
#![no_main]

use blocksmith_diff::history::{ConfigStore, ConfigVersion, HistoryOptions, Proposal};
use blocksmith_fuzz::record_bytes;
use blocksmith_store::record::{self, Record};
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use libfuzzer_sys::fuzz_target;

fn round_trip<T: Record + PartialEq + std::fmt::Debug>(v: &T) {
    let again = record::encode(v).expect("a decoded record encodes");
    assert_eq!(&record::decode::<T>("k", &again).unwrap(), v);
}

fuzz_target!(|data: &[u8]| {
    let Some((&slot, payload)) = data.split_first() else {
        return;
    };
    let store = MemoryStore::new();
    let cs = ConfigStore::new(&store, HistoryOptions::default().with_clock(|| 1_000));
    block_on(async {
        cs.commit("app", "{\"a\": 1}\n", None, "ada", "first")
            .await
            .unwrap();
        let p = cs
            .propose("app", "{\"a\": 2}\n", None, "ada", "second")
            .await
            .unwrap();
        let (key, kind) = match slot % 4 {
            0 => (
                "diff/configs/app/v/00000000000000000001",
                "diff.config_version",
            ),
            1 => ("diff/configs/app/head", "diff.config_head"),
            2 => ("diff/proposals/000001", "diff.proposal"),
            _ => ("diff/proposal-seq", "diff.proposal_seq"),
        };
        assert_eq!(p.id, "000001");
        let bytes = record_bytes(kind, 1, payload);
        store
            .blocking()
            .put(&Key::new(key).unwrap(), bytes)
            .unwrap();

        if let Ok(Some(h)) = cs.head("app").await {
            round_trip(&h);
        }
        if let Ok(v) = cs.get("app", 1).await {
            round_trip::<ConfigVersion>(&v);
        }
        if let Ok(all) = cs.history("app").await {
            all.iter().for_each(round_trip);
        }
        let _ = cs.names().await;
        let _ = cs.diff("app", 1, 1).await;
        if let Ok(p) = cs.proposal(&p.id).await {
            round_trip::<Proposal>(&p);
        }
        if let Ok(all) = cs.proposals().await {
            all.iter().for_each(round_trip);
        }
        let _ = cs.proposal_diff(&p.id).await;
        let _ = cs.submit(&p.id, "ada").await;
        let _ = cs.approve(&p.id, "bob").await;
        let _ = cs.apply(&p.id, "bob").await;
        let _ = cs.rollback(&p.id, "bob").await;
        let _ = cs.revert("app", "ada", None).await;
        let _ = cs.commit("app", "{\"a\": 3}\n", None, "ada", "third").await;
        let _ = cs.propose("app", "x", None, "ada", "again").await;
    });
});
