//! The due-date queue: earliest first, paged, stale index entries skipped.

use crate::common::{DAY, T0, add_all, complete_package, open, service};
use blocksmith_dispute::{DeadlineAction, DisputeOptions, MemoryHooks};
use blocksmith_flow::ManualClock;
use blocksmith_store::{MemoryStore, block_on};

#[test]
fn the_queue_lists_disputes_awaiting_a_response_by_deadline() {
    block_on(async {
        let clock = ManualClock::new(T0);
        // Overdue disputes stay in the queue (escalated, not accepted).
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new())
            .with_options(DisputeOptions::default().with_on_deadline(DeadlineAction::Escalate));
        // 30 disputes opened a day apart on three networks; five answered
        // at once leave the queue.
        for i in 0..30u64 {
            clock.set(T0 + i * DAY);
            let net = ["visa", "mastercard", "amex"][(i % 3) as usize];
            let reason = ["13.1", "4855", "C08"][(i % 3) as usize];
            let id = format!("dp_{i:02}");
            d.open(open(net, reason, &id)).await.unwrap();
            if [0, 3, 6, 9, 12].contains(&i) {
                add_all(&d, &id, complete_package(d.table(), net, reason)).await;
                d.submit(&id, "ada").await.unwrap();
            }
        }
        d.run_due().await.unwrap();
        let all = d.due(u64::MAX, 1000, None).await.unwrap();
        assert_eq!(all.len(), 25);
        assert!(
            all.windows(2)
                .all(|w| (w[0].due_ms, &w[0].id) <= (w[1].due_ms, &w[1].id))
        );
        assert!(
            all.iter()
                .all(|r| !["dp_00", "dp_03", "dp_06", "dp_09", "dp_12"].contains(&r.id.as_str()))
        );
        // Every open one is there, with its true deadline.
        for r in &all {
            assert_eq!(Some(r.due_ms), d.get(&r.id).await.unwrap().due_ms());
        }
        // Paging returns the same rows.
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = d.due(u64::MAX, 7, after.as_ref()).await.unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().cloned();
            paged.extend(page);
        }
        assert_eq!(paged, all);
        // "Due within a week" of a date.
        let now = T0 + 20 * DAY;
        let week = d.due(now + 7 * DAY, 1000, None).await.unwrap();
        let expect: Vec<_> = all
            .iter()
            .filter(|r| r.due_ms <= now + 7 * DAY)
            .cloned()
            .collect();
        assert_eq!(week, expect);
        assert!(!week.is_empty() && week.len() < all.len());
    });
}
