//! Onboarding: success, rollback at every step, idempotent requests,
//! contended slugs.

use blocksmith_flow::ManualClock;
use blocksmith_store::{MemoryStore, StoreExt, block_on};
use blocksmith_tenant::{CreateTenant, Error, MemoryHooks, Plans, TenantStatus, Tenants, Tier};

pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) fn service(hooks: &MemoryHooks) -> (Tenants<MemoryStore>, ManualClock) {
    let clock = ManualClock::new(T0);
    let t =
        Tenants::new(MemoryStore::new(), hooks.clone(), Plans::example()).with_clock(clock.clone());
    (t, clock)
}

#[test]
fn a_tenant_is_provisioned_in_order_and_activated() {
    block_on(async {
        let hooks = MemoryHooks::new();
        let (tenants, _) = service(&hooks);
        let req =
            CreateTenant::new("r1", "Acme Corp", "pro", "ada@acme.test").with_tier(Tier::Database);
        let t = tenants.create(req).await.unwrap();
        assert_eq!(t.status, TenantStatus::Requested);
        assert_eq!(t.slug, "acme-corp");
        tenants.run_due().await.unwrap();
        let t = tenants.get("acme-corp").await.unwrap();
        assert_eq!(t.status, TenantStatus::Active);
        assert_eq!(t.location.as_deref(), Some("database:db_tn_r1"));
        assert_eq!(t.billing_account.as_deref(), Some("acct_tn-r1"));
        assert_eq!(t.invitation.as_deref(), Some("inv_tn-r1"));
        assert_eq!(t.quotas["seats"], 25);
        assert!(t.features.contains("sso"));
        assert_eq!(t.trial_ends_ms, Some(T0 + 14 * 86_400_000));
        assert_eq!(
            hooks.with_state(|s| s.effects.clone()),
            [
                "allocate acme-corp",
                "migrate acme-corp",
                "create_billing acme-corp",
                "seed acme-corp",
                "invite_admin acme-corp"
            ]
        );
        let actions: Vec<&str> = t.audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(actions, ["create", "provision", "activate"]);
        // The provisioning history is queryable.
        let h = tenants
            .engine()
            .history(&format!("{}.provision", t.id))
            .await
            .unwrap();
        assert!(h.len() > 10);
    });
}

#[test]
fn a_failure_at_any_step_rolls_back_everything_before_it() {
    block_on(async {
        for (hook, done_before) in [
            ("allocate", 0),
            ("migrate", 1),
            ("create_billing", 2),
            ("seed", 3),
            ("invite_admin", 4),
        ] {
            let hooks = MemoryHooks::new().failing_at(hook);
            let (tenants, _) = service(&hooks);
            tenants
                .create(CreateTenant::new("r1", "acme", "free", "a@b.c"))
                .await
                .unwrap();
            tenants.run_due().await.unwrap();
            let t = tenants.get("tn-r1").await.unwrap();
            assert_eq!(t.status, TenantStatus::Failed, "{hook}");
            // Nothing left behind in the host systems.
            hooks.with_state(|s| {
                assert!(s.locations.is_empty(), "{hook}: {:?}", s.locations);
                assert!(s.accounts.is_empty(), "{hook}");
                assert!(s.invitations.is_empty(), "{hook}");
            });
            // Undone in reverse order.
            let effects = hooks.with_state(|s| s.effects.clone());
            let undo: Vec<&str> = effects[done_before..]
                .iter()
                .map(|e| e.split(' ').next().unwrap())
                .collect();
            let want: Vec<&str> = ["revoke_invite", "cancel_billing", "release"]
                .into_iter()
                .filter(|u| match *u {
                    "release" => done_before >= 1,
                    "cancel_billing" => done_before >= 3,
                    _ => done_before >= 5,
                })
                .collect();
            assert_eq!(undo, want, "{hook}");
            // The slug is free again.
            let v = tenants
                .engine()
                .get("tn-r1.provision")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(v.status, blocksmith_flow::Status::RolledBack, "{hook}");
            tenants
                .create(CreateTenant::new("r2", "acme", "free", "a@b.c"))
                .await
                .unwrap();
            let again = MemoryHooks::new();
            let _ = again;
            assert_eq!(t.audit.last().unwrap().action, "rollback", "{hook}");
        }
    });
}

#[test]
fn the_same_request_id_never_makes_two_tenants() {
    block_on(async {
        let hooks = MemoryHooks::new();
        let (tenants, _) = service(&hooks);
        let req = CreateTenant::new("r1", "acme", "pro", "a@b.c");
        let a = tenants.create(req.clone()).await.unwrap();
        let b = tenants.create(req.clone()).await.unwrap();
        assert_eq!(a.id, b.id);
        tenants.run_due().await.unwrap();
        let c = tenants.create(req).await.unwrap();
        assert_eq!(
            c.status,
            TenantStatus::Active,
            "the existing tenant, as it is now"
        );
        assert_eq!(hooks.with_state(|s| s.effects.len()), 5, "provisioned once");
        assert_eq!(tenants.list(None).await.unwrap().len(), 1);
        // The same id for another request is refused.
        assert!(matches!(
            tenants
                .create(CreateTenant::new("r1", "other", "pro", "a@b.c"))
                .await,
            Err(Error::RequestMismatch(_))
        ));
    });
}

#[test]
fn two_requests_for_one_slug_give_it_to_one() {
    block_on(async {
        let hooks = MemoryHooks::new();
        let (tenants, _) = service(&hooks);
        tenants
            .create(CreateTenant::new("r1", "acme", "free", "a@b.c"))
            .await
            .unwrap();
        tenants
            .create(CreateTenant::new("r2", "ACME", "free", "x@y.z"))
            .await
            .unwrap();
        tenants.run_due().await.unwrap();
        let statuses: Vec<TenantStatus> = ["tn-r1", "tn-r2"]
            .iter()
            .map(|id| block_on(tenants.get(id)).unwrap().status)
            .collect();
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == TenantStatus::Active)
                .count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == TenantStatus::Failed)
                .count(),
            1
        );
        let owner = tenants.get("acme").await.unwrap();
        assert_eq!(owner.status, TenantStatus::Active);
        // Bad slugs and plans are refused up front.
        for bad in ["ww", "www", "-x-", "acme..corp"] {
            assert!(matches!(
                tenants
                    .create(CreateTenant::new("r9", bad, "free", "a@b.c"))
                    .await,
                Err(Error::InvalidSlug { .. })
            ));
        }
        assert!(matches!(
            tenants
                .create(CreateTenant::new("r9", "good-slug", "platinum", "a@b.c"))
                .await,
            Err(Error::UnknownPlan(_))
        ));
        // Only one slug reservation in the store.
        let all = tenants.engine().store().blocking().list_all("").unwrap();
        let store_keys: Vec<_> = all
            .iter()
            .filter(|m| m.key.as_str().starts_with("tenant/s/"))
            .collect();
        assert_eq!(
            store_keys.len(),
            1,
            "{:?}",
            all.iter().map(|m| m.key.as_str()).collect::<Vec<_>>()
        );
    });
}

#[test]
fn requests_are_checked_before_anything_is_written() {
    block_on(async {
        let hooks = MemoryHooks::new();
        let (tenants, _) = service(&hooks);
        // A slug shaped like a tenant id would shadow that tenant.
        assert!(matches!(
            tenants
                .create(CreateTenant::new("r1", "tn-r2", "free", "a@b.c"))
                .await,
            Err(Error::InvalidSlug { .. })
        ));
        for bad in ["", "a/b", "../x", ".x", &"r".repeat(101)] {
            assert!(matches!(
                tenants
                    .create(CreateTenant::new(bad, "acme", "free", "a@b.c"))
                    .await,
                Err(Error::InvalidSlug { .. })
            ));
        }
        for bad in ["no-at-sign", "a@b.c\r\nBcc: x@y.z"] {
            assert!(matches!(
                tenants
                    .create(CreateTenant::new("r1", "acme", "free", bad))
                    .await,
                Err(Error::InvalidSlug { .. })
            ));
        }
        assert!(
            tenants.list(None).await.unwrap().is_empty(),
            "nothing written"
        );
        // The same request id with another admin is another request.
        tenants
            .create(CreateTenant::new("r1", "acme", "free", "a@b.c"))
            .await
            .unwrap();
        assert!(matches!(
            tenants
                .create(CreateTenant::new("r1", "acme", "free", "evil@x.y"))
                .await,
            Err(Error::RequestMismatch(_))
        ));
    });
}

#[test]
fn a_rollback_that_leaves_something_behind_says_so_and_keeps_the_slug() {
    block_on(async {
        let hooks = MemoryHooks::new().failing_at("seed").failing_at("release");
        let (tenants, clock) = service(&hooks);
        tenants
            .create(CreateTenant::new("r1", "acme", "free", "a@b.c"))
            .await
            .unwrap();
        for _ in 0..12 {
            tenants.run_due().await.unwrap();
            clock.advance(600_000);
        }
        let t = tenants.get("tn-r1").await.unwrap();
        assert_eq!(t.status, TenantStatus::Failed);
        assert!(
            t.cleanup_failed.contains_key("allocate"),
            "{:?}",
            t.cleanup_failed
        );
        assert!(t.audit.last().unwrap().detail["cleanup_failed"].is_object());
        // The leftover data location still exists: the slug is not handed on.
        hooks.with_state(|s| assert_eq!(s.locations.len(), 1));
        tenants
            .create(CreateTenant::new("r2", "acme", "free", "b@b.c"))
            .await
            .unwrap();
        tenants.run_due().await.unwrap();
        assert_eq!(
            tenants.get("tn-r2").await.unwrap().status,
            TenantStatus::Failed
        );
        assert_eq!(tenants.get("acme").await.unwrap().id, "tn-r1");
    });
}
