//! The reference property test through the store: random histories with
//! writes (interval ticks and full flushes) and crashes between them. After
//! a crash the engine restarts from the store alone and must equal the
//! reference as of each conversation's last write; every status, count,
//! list and badge is checked after every step, and no watermark is ever
//! lower than one written before.

use crate::model::{Marks, Op, apply, check, op, options, seed};
use crate::reference::Reference;
use blocksmith_receipts::{ManualClock, ReceiptStore, ReceiptsOptions, UserId};
use blocksmith_store::MemoryStore;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
enum Step {
    Op(Op),
    /// Advance the clock and write what is due.
    Tick(u16),
    Flush,
    /// The process dies; a new one starts from the store.
    Crash,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => op().prop_map(Step::Op),
        2 => (0..2500u16).prop_map(Step::Tick),
        1 => Just(Step::Flush),
        1 => Just(Step::Crash),
    ]
}

fn handle(
    store: &Arc<MemoryStore>,
    options: &ReceiptsOptions,
    clock: &ManualClock,
) -> ReceiptStore<Arc<MemoryStore>> {
    ReceiptStore::with_clock(store.clone(), options.clone(), clock.clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn crashes_between_writes_lose_only_the_unwritten(
        steps in prop::collection::vec(step(), 1..80),
        all_devices in any::<bool>(),
        reciprocal in any::<bool>(),
        limit in any::<bool>(),
    ) {
        let (options, policy) = options(all_devices, reciprocal, limit);
        let options = options.with_flush_interval_ms(1000).with_flush_max_updates(1_000_000);
        let store = Arc::new(MemoryStore::new());
        let clock = ManualClock::new(1_000);
        let mut rs = handle(&store, &options, &clock);
        let mut m = Reference::new(policy);
        // The reference and the watermarks as of each conversation's last write.
        let mut written: BTreeMap<String, crate::reference::Conv> = BTreeMap::new();
        let mut marks = Marks::new();
        let mut written_marks = Marks::new();
        rs.with_engine(|e| seed(e, &mut m, &options));
        for (n, s) in steps.iter().enumerate() {
            match s {
                // Blocks round-trip through the store here: the in-memory
                // round trip would replace the handle's engine.
                Step::Op(Op::Roundtrip) => {}
                Step::Op(op) => rs.with_engine(|e| apply(e, &mut m, op, &options)),
                Step::Tick(ms) => {
                    clock.advance(u64::from(*ms));
                    rs.blocking().tick().unwrap();
                }
                Step::Flush => {
                    rs.blocking().flush().unwrap();
                }
                Step::Crash => {
                    rs = handle(&store, &options, &clock);
                    rs.blocking().load_all().unwrap();
                    m.convs = written.clone();
                    marks = written_marks.clone();
                }
            }
            // What is written now is the reference's state of that conversation.
            for c in m.convs.keys().cloned().collect::<Vec<_>>() {
                if !rs.with_engine(|e| e.is_dirty(&c)) {
                    written.insert(c.clone(), m.convs[&c].clone());
                    for ((mc, u), v) in &marks {
                        if *mc == c {
                            written_marks.insert((mc.clone(), *u), *v);
                        }
                    }
                }
            }
            rs.with_engine(|e| check(e, &m, &mut marks, n % 2 == 0));
            for ((c, u), v) in &marks {
                if let Some(w) = written_marks.get(&(c.clone(), *u)) {
                    prop_assert!(v.0 >= w.0 && v.1 >= w.1 && v.2 >= w.2, "{c} {u}: below the written {w:?}");
                }
            }
        }
        // Nothing is left unwritten after a last flush, and it reloads whole.
        rs.blocking().flush().unwrap();
        let again = handle(&store, &options, &clock);
        again.blocking().load_all().unwrap();
        again.with_engine(|e| check(e, &m, &mut marks, true));
        for u in 0..10 {
            prop_assert_eq!(again.badge(UserId(u)), rs.badge(UserId(u)));
        }
    }
}
