//! Per category: an incomplete package is refused with the missing items
//! named; a complete one is accepted. And the table itself.

use crate::common::{T0, add_all, complete_package, open, service};
use blocksmith_dispute::{Category, Error, MemoryHooks, ReasonTable, Status};
use blocksmith_flow::ManualClock;
use blocksmith_store::{MemoryStore, block_on};

fn category_case(network: &str, reason: &str, category: Category) {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        assert_eq!(
            d.table().reason(network, reason).unwrap().category,
            category
        );
        let id = format!("dp_{network}_{}", reason.replace('.', "_"));
        d.open(open(network, reason, &id)).await.unwrap();
        let mut items = complete_package(d.table(), network, reason);
        let required = d
            .table()
            .checklist(network, reason)
            .unwrap()
            .required
            .clone();
        // Leave out the last requirement's item.
        let left_out = items.pop().unwrap();
        add_all(&d, &id, items).await;
        match d.submit(&id, "ada").await {
            Err(Error::EvidenceIncomplete { missing }) => {
                assert_eq!(missing.len(), 1, "{network} {reason}");
                assert_eq!(&missing[0].any_of, required.last().unwrap());
                assert!(missing[0].any_of.contains(&left_out.kind));
                let msg = Error::EvidenceIncomplete { missing }.to_string();
                assert!(msg.contains(&left_out.kind), "{msg}");
            }
            other => panic!("{network} {reason}: {other:?}"),
        }
        assert_eq!(d.get(&id).await.unwrap().status, Status::NeedsResponse);
        d.add_evidence(&id, left_out).await.unwrap();
        let x = d.submit(&id, "ada").await.unwrap();
        assert_eq!(x.status, Status::UnderReview);
        assert!(x.missing().is_empty());
    });
}

#[test]
fn fraud_needs_avs_or_3ds_and_device_or_history() {
    category_case("visa", "10.4", Category::Fraud);
    category_case("mastercard", "4837", Category::Fraud);
}

#[test]
fn authorization_needs_the_authorization_record() {
    category_case("visa", "11.3", Category::Authorization);
}

#[test]
fn processing_errors_need_the_transaction_documents() {
    category_case("visa", "12.6.1", Category::ProcessingError);
    category_case("discover", "AW", Category::ProcessingError);
}

#[test]
fn consumer_disputes_need_their_reason_specific_proof() {
    // Not received: proof of delivery with tracking and date.
    category_case("visa", "13.1", Category::ConsumerDispute);
    // Subscription cancelled: the policy and proof it was shown.
    category_case("visa", "13.2", Category::ConsumerDispute);
    category_case("amex", "C31", Category::ConsumerDispute);
}

#[test]
fn the_standard_table_is_complete_and_a_broken_one_is_refused() {
    let t = ReasonTable::standard();
    for net in ["visa", "mastercard", "amex", "discover"] {
        for cat in [
            Category::Fraud,
            Category::Authorization,
            Category::ProcessingError,
            Category::ConsumerDispute,
        ] {
            assert!(
                t.reasons
                    .iter()
                    .any(|r| r.network == net && r.category == cat),
                "{net} has no {cat:?} code"
            );
        }
    }
    let c = t.checklist("visa", "13.1").unwrap();
    assert!(
        c.required
            .iter()
            .any(|alts| alts.contains(&"proof_of_delivery".to_string()))
    );
    let pod = &t.evidence_kinds["proof_of_delivery"];
    assert!(
        pod.fields
            .iter()
            .any(|f| f.name == "delivered_on" && f.date)
    );
    assert!(matches!(
        t.reason("visa", "99.9"),
        Err(Error::UnknownReason { .. })
    ));

    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(ReasonTable::from_json(&json).unwrap(), t);
    let breakers: [fn(&mut serde_json::Value); 4] = [
        |v| v["categories"]["fraud"]["required"][0][0] = "proof_of_teleport".into(),
        |v| v["reasons"][0]["network"] = "unionpay".into(),
        |v| v["networks"]["visa"]["days"]["chargeback"] = 0.into(),
        |v| {
            let r = v["reasons"][0].clone();
            v["reasons"].as_array_mut().unwrap().push(r);
        },
    ];
    for (i, f) in breakers.iter().enumerate() {
        let mut v = serde_json::to_value(&t).unwrap();
        f(&mut v);
        assert!(
            matches!(
                ReasonTable::from_json(&v.to_string()),
                Err(Error::Invalid { .. })
            ),
            "breaker {i}"
        );
    }
    assert!(ReasonTable::from_json("{").is_err());
}
