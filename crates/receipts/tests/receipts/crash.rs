//! The crash promise: a crash at any store operation loses at most the
//! changes not yet written. After a restart from the store alone, each
//! conversation is exactly as its last acknowledged write left it, or as
//! the write in flight when the process died (a torn block is reported as
//! `Error::Corrupt`, never read as other data), so no watermark is lower
//! than an acknowledged one. With a flush interval of 0 every acknowledged
//! update is durable.

use blocksmith_receipts::{Error, ManualClock, ReceiptStore, ReceiptsOptions, UserId};
use blocksmith_store::testing::{CrashPoint, Fault, FaultyStore, crash_at_every_operation};
use blocksmith_store::{MemoryStore, Store};
use std::collections::BTreeMap;

const CONVS: [&str; 2] = ["dm-1", "team"];

type Blocks = BTreeMap<String, Vec<u8>>;

fn blocks<S: Store>(rs: &ReceiptStore<S>) -> Blocks {
    rs.with_engine(|e| {
        e.conversations()
            .map(|c| (c.id().to_string(), c.to_bytes()))
            .collect()
    })
}

/// Three rounds of changes, each made durable by `flush`. Returns the
/// blocks of the last acknowledged flush and of the one in flight.
fn interval_workload(store: &FaultyStore<MemoryStore>) -> (Blocks, Blocks) {
    let options = ReceiptsOptions::default().with_flush_interval_ms(60_000);
    let rs = ReceiptStore::with_clock(store, options, ManualClock::new(0));
    let b = rs.blocking();
    let mut acked = Blocks::new();
    let result = (|| -> Result<(), Error> {
        for round in 0..3u64 {
            for (n, conv) in CONVS.iter().enumerate() {
                let members = if n == 0 { 2 } else { 5 };
                for u in 0..members {
                    b.join(conv, UserId(u))?;
                }
                for k in 1..=4 {
                    let seq = round * 4 + k;
                    b.post(
                        conv,
                        seq,
                        UserId(seq % members),
                        &[UserId((seq + 1) % members)],
                    )?;
                }
                // Receipts out of order, some stale.
                for u in 0..members {
                    b.delivered(conv, UserId(u), round * 4 + 4)?;
                    b.read(conv, UserId(u), round * 4 + 1 + u % 3)?;
                    b.read(conv, UserId(u), round * 4)?;
                }
                if round == 1 {
                    b.delete(conv, 5)?;
                    b.mark_unread(conv, UserId(0), 3)?;
                }
            }
            let snapshot = blocks(&rs);
            b.flush()?;
            acked = snapshot;
        }
        Ok(())
    })();
    let inflight = if result.is_err() {
        blocks(&rs)
    } else {
        acked.clone()
    };
    (acked, inflight)
}

#[test]
fn a_crash_at_every_operation_loses_at_most_the_unwritten_changes() {
    let options = ReceiptsOptions::default();
    let report = crash_at_every_operation(
        MemoryStore::new,
        interval_workload,
        |inner: MemoryStore, (acked, inflight): (Blocks, Blocks), point: &CrashPoint| {
            let rs = ReceiptStore::new(inner, options.clone());
            for conv in CONVS {
                match rs.blocking().load(conv) {
                    Ok(true) => {
                        let got = rs.with_engine(|e| e.conversation(conv).unwrap().to_bytes());
                        assert!(
                            acked.get(conv) == Some(&got) || inflight.get(conv) == Some(&got),
                            "{point}: {conv} is neither the acknowledged nor the in-flight block"
                        );
                    }
                    Ok(false) => assert!(
                        !acked.contains_key(conv),
                        "{point}: acknowledged {conv} lost"
                    ),
                    Err(Error::Corrupt { .. }) => {
                        assert_eq!(
                            point.plan.fault,
                            Fault::Tear,
                            "{point}: corrupt without a torn put"
                        );
                    }
                    Err(e) => panic!("{point}: {e}"),
                }
            }
            // The restarted process carries on from what it found.
            if point.plan.fault != Fault::Tear {
                rs.blocking().load_all().unwrap();
                rs.blocking().join("team", UserId(9)).unwrap();
                rs.blocking().flush().unwrap();
            }
        },
    );
    assert!(report.crashes > 20, "{report:?}");
}

/// Write-through: each acknowledged update is durable.
#[test]
fn write_through_makes_every_acknowledged_update_durable() {
    let options = ReceiptsOptions::default().with_flush_interval_ms(0);
    let report = crash_at_every_operation(
        MemoryStore::new,
        |store| {
            let rs = ReceiptStore::new(store, options.clone());
            let b = rs.blocking();
            // (user, read) acknowledged
            let mut acked: Vec<(u64, u64)> = Vec::new();
            let run = (|| -> Result<(), Error> {
                for u in 0..4 {
                    b.join("g", UserId(u))?;
                }
                for seq in 1..=6 {
                    b.post("g", seq, UserId(seq % 4), &[])?;
                }
                for (u, seq) in [(1, 3), (2, 6), (1, 2), (3, 5), (1, 6)] {
                    b.read("g", UserId(u), seq)?;
                    acked.push((u, seq));
                }
                Ok(())
            })();
            let _ = run;
            acked
        },
        |inner: MemoryStore, acked: Vec<(u64, u64)>, point: &CrashPoint| {
            let rs = ReceiptStore::new(inner, options.clone());
            match rs.blocking().load("g") {
                Ok(found) => {
                    assert!(found || acked.is_empty(), "{point}");
                    for (u, seq) in acked {
                        let v = rs.with_engine(|e| {
                            e.conversation("g").unwrap().member(UserId(u)).unwrap()
                        });
                        assert!(
                            v.read >= seq,
                            "{point}: read of {u} is {} < acknowledged {seq}",
                            v.read
                        );
                    }
                }
                Err(Error::Corrupt { .. }) => assert_eq!(point.plan.fault, Fault::Tear, "{point}"),
                Err(e) => panic!("{point}: {e}"),
            }
        },
    );
    assert!(report.crashes > 20, "{report:?}");
}
