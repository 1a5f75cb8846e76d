//! Onboarding SaaS tenants as durable sagas: a request whose billing step
//! fails is rolled back in reverse order (data location released, slug
//! freed), a retried request provisions the tenant, then its life goes on:
//! a plan change seen by the in-process limits, a suspension, a soft
//! deletion with a data export. Every step survives a crash of the process
//! running it (see the crate's crash test).
//!
//! ```text
//! cargo run --release --example tenant_onboarding
//! ```

use blocksmith::flow::ManualClock;
use blocksmith::store::{RedbStore, Store, block_on};
use blocksmith::tenant::{CreateTenant, MemoryHooks, Plans, TenantStatus, Tenants, Tier};
use std::error::Error;
use std::sync::Arc;

/// Runs the demo on `store` and returns a summary.
pub(crate) fn demo<S: Store + 'static>(store: Arc<S>) -> Result<String, Box<dyn Error>> {
    block_on(async {
        let clock = ManualClock::new(1_780_000_000_000);
        // The billing provider is down for the first request.
        let down = MemoryHooks::new().failing_at("create_billing");
        let tenants =
            Tenants::new(store.clone(), down.clone(), Plans::example()).with_clock(clock.clone());
        let req = CreateTenant::new("signup-8841", "Acme Corp", "pro", "ada@acme.test")
            .with_tier(Tier::Schema);
        tenants.create(req).await?;
        tenants.run_due().await?; // a worker runs the saga: billing fails, rollback
        let failed = tenants.get("tn-signup-8841").await?;
        let rollback = down.with_state(|s| s.effects.join(" -> "));
        let undone = tenants
            .engine()
            .get("tn-signup-8841.provision")
            .await?
            .map(|v| v.undone.join(", "))
            .unwrap_or_default();

        // The user tries again; billing is back.
        let hooks = MemoryHooks::new();
        let tenants =
            Tenants::new(store, hooks.clone(), Plans::example()).with_clock(clock.clone());
        let req = CreateTenant::new("signup-8842", "acme-corp", "pro", "ada@acme.test")
            .with_tier(Tier::Schema);
        tenants.create(req.clone()).await?;
        tenants.create(req).await?; // a retried request: the same tenant, nothing doubled
        tenants.run_due().await?;
        let t = tenants.get("acme-corp").await?;
        assert_eq!(t.status, TenantStatus::Active);
        let seats_ok = tenants
            .limits("acme-corp")
            .await?
            .check("seats", 24, 1)
            .is_ok();
        tenants.change_plan("acme-corp", "enterprise").await?;
        let seats_after = tenants
            .limits("acme-corp")
            .await?
            .check("seats", 900, 1)
            .is_ok();
        tenants.suspend("acme-corp", "card expired").await?;
        tenants.resume("acme-corp").await?;
        tenants.delete("acme-corp").await?;
        tenants.run_due().await?;
        let t = tenants.get("acme-corp").await?;
        let trail: Vec<&str> = t.audit.iter().map(|a| a.action.as_str()).collect();
        Ok(format!(
            "tenant  failed request: {} (host steps {rollback}; saga undid {undone}); retried: {} at {} \
             with billing {}, steps run once: {}; 25-seat pro limit holds {seats_ok}, enterprise \
             admits seat 901 {seats_after}; now {} (export {}), audit: {}",
            failed.status.as_str(),
            t.slug,
            t.location.as_deref().unwrap_or("-"),
            t.billing_account.as_deref().unwrap_or("-"),
            hooks.with_state(|s| s.effects.len() == s.calls as usize),
            t.status.as_str(),
            t.export.as_deref().unwrap_or("-"),
            trail.join(" > ")
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tenant_onboarding");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(RedbStore::open(dir.join("tenants.redb"))?);
    println!("{}", demo(store)?);
    Ok(())
}
