//! The lifecycle after provisioning: suspend, resume, plan changes and
//! limits, soft deletion with export, purge after the grace period.

use crate::provisioning::{T0, service};
use blocksmith_store::block_on;
use blocksmith_tenant::{CreateTenant, Error, MemoryHooks, TenantStatus};
use serde_json::json;

#[test]
fn the_whole_life_of_a_tenant_with_its_audit_trail() {
    block_on(async {
        let hooks = MemoryHooks::new();
        let (tenants, clock) = service(&hooks);
        tenants
            .create(CreateTenant::new("r1", "acme", "free", "a@b.c"))
            .await
            .unwrap();
        tenants.run_due().await.unwrap();
        // Limits: fast path, and a plan change seen at once.
        let l = tenants.limits("acme").await.unwrap();
        assert!(l.check("seats", 2, 1).is_ok());
        assert!(matches!(
            l.check("seats", 3, 1),
            Err(Error::QuotaExceeded { .. })
        ));
        assert!(matches!(l.require("sso"), Err(Error::FeatureDisabled(_))));
        tenants.change_plan("acme", "pro").await.unwrap();
        let l = tenants.limits("acme").await.unwrap();
        assert!(l.check("seats", 20, 5).is_ok());
        assert!(l.require("sso").is_ok());
        // Suspension stops use; resume restores it.
        tenants.suspend("acme", "unpaid").await.unwrap();
        assert!(
            tenants
                .limits("acme")
                .await
                .unwrap()
                .check("seats", 0, 1)
                .is_err()
        );
        assert!(matches!(
            tenants.suspend("acme", "again").await,
            Err(Error::InvalidTransition { .. })
        ));
        tenants.resume("acme").await.unwrap();
        tenants
            .set_config("acme", "theme", json!("dark"))
            .await
            .unwrap();
        // Soft deletion: exported, kept for the grace period.
        assert!(matches!(
            tenants.purge("acme").await,
            Err(Error::InvalidTransition { .. })
        ));
        tenants.delete("acme").await.unwrap();
        tenants.run_due().await.unwrap();
        let t = tenants.get("acme").await.unwrap();
        assert_eq!(t.status, TenantStatus::Deleted);
        assert_eq!(t.export.as_deref(), Some("export/acme.tar.zst"));
        assert!(matches!(
            tenants.purge("acme").await,
            Err(Error::InvalidTransition { .. })
        ));
        assert!(matches!(
            tenants.resume("acme").await,
            Err(Error::InvalidTransition { .. })
        ));
        // After the grace period: purged, resources released, slug free.
        clock.set(T0 + 31 * 86_400_000);
        tenants.purge("acme").await.unwrap();
        tenants.run_due().await.unwrap();
        let t = tenants.get("tn-r1").await.unwrap();
        assert_eq!(t.status, TenantStatus::Purged);
        hooks.with_state(|s| {
            assert!(s.locations.is_empty() && s.accounts.is_empty() && s.invitations.is_empty());
        });
        assert!(matches!(tenants.get("acme").await, Err(Error::NotFound(_))));
        let actions: Vec<&str> = t.audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "create",
                "provision",
                "activate",
                "plan",
                "suspend",
                "resume",
                "delete",
                "deprovision",
                "purge"
            ]
        );
        assert_eq!(t.audit[3].detail, json!({ "from": "free", "to": "pro" }));
        // The slug can be taken again.
        tenants
            .create(CreateTenant::new("r2", "acme", "free", "n@b.c"))
            .await
            .unwrap();
        tenants.run_due().await.unwrap();
        assert_eq!(tenants.get("acme").await.unwrap().id, "tn-r2");
    });
}

#[test]
fn a_failed_deletion_can_be_tried_again() {
    block_on(async {
        let hooks = MemoryHooks::new().failing_at("export_data");
        let (tenants, _) = service(&hooks);
        tenants
            .create(CreateTenant::new("r1", "acme", "free", "a@b.c"))
            .await
            .unwrap();
        tenants.run_due().await.unwrap();
        // The export fails: the tenant stays active.
        tenants.delete("acme").await.unwrap();
        tenants.run_due().await.unwrap();
        assert_eq!(
            tenants.get("acme").await.unwrap().status,
            TenantStatus::Active
        );
        // The export service is back: a second delete runs anew.
        let tenants2 = blocksmith_tenant::Tenants::new(
            std::sync::Arc::clone(tenants.engine().store()),
            MemoryHooks::new(),
            blocksmith_tenant::Plans::example(),
        )
        .with_clock(blocksmith_flow::ManualClock::new(T0));
        tenants2.delete("acme").await.unwrap();
        tenants2.run_due().await.unwrap();
        assert_eq!(
            tenants2.get("acme").await.unwrap().status,
            TenantStatus::Deleted
        );
        assert!(
            tenants2
                .engine()
                .get("tn-r1.delete-2")
                .await
                .unwrap()
                .is_some()
        );
    });
}

#[test]
fn the_blocking_twin_runs_a_tenant_from_synchronous_code() {
    let tenants = blocksmith_tenant::Tenants::new(
        blocksmith_store::MemoryStore::new(),
        blocksmith_tenant::MemoryHooks::new(),
        blocksmith_tenant::Plans::example(),
    )
    .with_clock(blocksmith_flow::ManualClock::new(1_700_000_000_000));
    let b = tenants.blocking();
    b.create(blocksmith_tenant::CreateTenant::new(
        "r1", "acme", "pro", "a@b.c",
    ))
    .unwrap();
    b.run_due().unwrap();
    assert_eq!(
        b.get("acme").unwrap().status,
        blocksmith_tenant::TenantStatus::Active
    );
    assert!(b.limits("acme").unwrap().check("seats", 1, 1).is_ok());
    b.suspend("acme", "unpaid").unwrap();
    b.resume("acme").unwrap();
    assert_eq!(b.list(None).unwrap().len(), 1);
}
