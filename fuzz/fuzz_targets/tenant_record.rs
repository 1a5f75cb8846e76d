//! `blocksmith-tenant` records read back from a store: arbitrary bytes as a tenant record
//! (`tenant.tenant`) or a slug reservation, then lookups, limits, lifecycle calls and the
//! provisioning worker. Typed errors, never a panic.
#![no_main]

use blocksmith_fuzz::record_bytes;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_tenant::{CreateTenant, MemoryHooks, Plans, Tenants};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let store = Arc::new(MemoryStore::new());
    let tenants = Tenants::new(store.clone(), MemoryHooks::new(), Plans::example())
        .with_clock(blocksmith_flow::ManualClock::new(1_700_000_000_000));
    block_on(async {
        tenants
            .create(CreateTenant::new("r1", "acme", "pro", "a@b.c"))
            .await
            .expect("a fresh store takes a request");
        if which % 2 == 0 {
            tenants.run_due().await.expect("provisioning runs");
        }
        let (key, value) = match which % 4 {
            0 | 1 => ("tenant/t/tn-r1", record_bytes("tenant.tenant", 1, rest)),
            _ => ("tenant/s/acme", rest.to_vec()),
        };
        store
            .blocking()
            .put(&Key::new(key).unwrap(), value)
            .unwrap();
        let _ = tenants.get("acme").await;
        let _ = tenants.get("tn-r1").await;
        if let Ok(l) = tenants.limits("acme").await {
            let _ = l.check("seats", u64::MAX, u64::MAX);
            let _ = l.require("sso");
        }
        let _ = tenants.list(None).await;
        let _ = tenants.suspend("acme", "x").await;
        let _ = tenants.resume("acme").await;
        let _ = tenants.change_plan("acme", "free").await;
        let _ = tenants.delete("acme").await;
        let _ = tenants.run_due().await;
    });
});
