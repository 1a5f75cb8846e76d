//! Shared fixtures: a service on a manual clock, events, complete packages.

use blocksmith_dispute::{
    Disputes, EventKind, Evidence, MemoryHooks, Money, NetworkEvent, OpenDispute, ReasonTable,
};
use blocksmith_flow::ManualClock;
use blocksmith_store::Store;

/// 2026-06-01T00:00:00Z.
pub(crate) const T0: u64 = 1_780_272_000_000;
pub(crate) const DAY: u64 = 86_400_000;

pub(crate) fn service<S: Store + 'static>(
    store: S,
    clock: &ManualClock,
    hooks: &MemoryHooks,
) -> Disputes<S> {
    // Deadlines concede (the default escalates to people).
    Disputes::new(store, hooks.clone())
        .with_clock(clock.clone())
        .with_options(
            blocksmith_dispute::DisputeOptions::default()
                .with_on_deadline(blocksmith_dispute::DeadlineAction::AutoAccept),
        )
}

pub(crate) fn eur(n: i64) -> Money {
    Money::new(n, "EUR")
}

pub(crate) fn open(network: &str, reason: &str, id: &str) -> OpenDispute {
    OpenDispute::new(format!("ch_{id}"), eur(4999), network, reason).with_id(id)
}

pub(crate) fn ev(id: &str, dispute: &str, seq: u64, kind: EventKind) -> NetworkEvent {
    NetworkEvent::new(id, dispute, seq, T0 + seq * 1000, kind)
}

pub(crate) fn created(dispute: &str, network: &str, reason: &str) -> EventKind {
    EventKind::Created {
        stage: blocksmith_dispute::Stage::Chargeback,
        charge: format!("ch_{dispute}"),
        amount: eur(4999),
        settlement: None,
        network: network.into(),
        reason: reason.into(),
        due_by_ms: None,
    }
}

/// An item of `kind` with every field the table requires.
pub(crate) fn item(table: &ReasonTable, kind: &str) -> Evidence {
    let mut e = Evidence::text(kind, format!("evidence of {kind}")).by("ada");
    for f in &table.evidence_kinds[kind].fields {
        let v = if f.date {
            "2026-05-20".to_string()
        } else {
            format!("{} value", f.name)
        };
        e = e.with_field(f.name.clone(), v);
    }
    e
}

/// A complete package for `network`/`reason`: the first kind of each requirement.
pub(crate) fn complete_package(table: &ReasonTable, network: &str, reason: &str) -> Vec<Evidence> {
    let c = table.checklist(network, reason).unwrap();
    let mut kinds: Vec<&str> = c.required.iter().map(|alts| alts[0].as_str()).collect();
    kinds.dedup();
    kinds.into_iter().map(|k| item(table, k)).collect()
}

pub(crate) async fn add_all<S: Store + 'static>(d: &Disputes<S>, id: &str, items: Vec<Evidence>) {
    for e in items {
        d.add_evidence(id, e).await.unwrap();
    }
}
