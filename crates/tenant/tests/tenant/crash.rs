//! The crash promise: a crash at every store operation while a tenant is
//! requested and provisioned, then a restart from the store alone, ends
//! with the tenant active and each host step applied exactly once.

use blocksmith_flow::ManualClock;
use blocksmith_store::testing::{Fault, FaultPlan, FaultyStore};
use blocksmith_store::{MemoryStore, Store, block_on};
use blocksmith_tenant::{CreateTenant, MemoryHooks, Plans, TenantStatus, Tenants};
use std::sync::Arc;

const T0: u64 = 1_700_000_000_000;

fn workload<S: Store + 'static>(store: S, hooks: &MemoryHooks) -> bool {
    let tenants =
        Tenants::new(store, hooks.clone(), Plans::example()).with_clock(ManualClock::new(T0));
    block_on(async {
        let acked = tenants
            .create(CreateTenant::new("r1", "acme", "pro", "a@b.c"))
            .await
            .is_ok();
        let _ = tenants.run_due().await;
        acked
    })
}

#[test]
fn a_crash_at_every_store_operation_ends_active_with_each_step_once() {
    let mut crashes = 0;
    for fault in [Fault::FailBefore, Fault::FailAfter] {
        for at in 1.. {
            let data = Arc::new(MemoryStore::new());
            let hooks = MemoryHooks::new(); // the host systems outlive the crash
            let faulty = Arc::new(FaultyStore::new(data.clone(), FaultPlan::new(at, fault)));
            let acked = workload(faulty.clone(), &hooks);
            let point = format!("{fault:?} at operation {at}");
            let tenants = Tenants::new(data, hooks.clone(), Plans::example())
                .with_clock(ManualClock::new(T0 + 3_600_000));
            block_on(async {
                if !acked {
                    // The client retries its request, as a client does.
                    tenants
                        .create(CreateTenant::new("r1", "acme", "pro", "a@b.c"))
                        .await
                        .unwrap_or_else(|e| panic!("{point}: retry: {e}"));
                }
                tenants
                    .run_due()
                    .await
                    .unwrap_or_else(|e| panic!("{point}: {e}"));
                let t = tenants.get("tn-r1").await.unwrap();
                assert_eq!(t.status, TenantStatus::Active, "{point}");
                assert_eq!(
                    hooks.with_state(|s| s.effects.clone()),
                    [
                        "allocate acme",
                        "migrate acme",
                        "create_billing acme",
                        "seed acme",
                        "invite_admin acme"
                    ],
                    "{point}"
                );
            });
            if !faulty.crashed() {
                break;
            }
            crashes += 1;
        }
    }
    assert!(crashes > 40, "{crashes}");
}
