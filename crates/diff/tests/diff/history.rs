use blocksmith_diff::Error;
use blocksmith_diff::history::{
    ConfigStore, HistoryOptions, ProposalStatus, VersionOrigin, content_hash,
};
use blocksmith_diff::redact::Redactor;
use blocksmith_diff::value::Format;
use blocksmith_store::{MemoryStore, RedbStore, Store, block_on};

fn clock() -> u64 {
    1_764_201_600_000
}

fn configs<S: Store>(store: S) -> ConfigStore<S> {
    ConfigStore::new(
        store,
        HistoryOptions::default()
            .with_clock(clock)
            .with_required_approvals(2),
    )
}

const V1: &str = "{\"db\": {\"host\": \"db1\", \"password\": \"s3cret\"}, \"replicas\": 2}\n";
const V2: &str = "{\"db\": {\"host\": \"db2\", \"password\": \"n3w-s3cret\"}, \"replicas\": 2}\n";

#[test]
fn versions_hashes_parents_and_revert() {
    block_on(async {
        let c = configs(MemoryStore::new());
        assert!(c.head("web").await.unwrap().is_none());
        let v1 = c
            .commit("web", V1, Some(Format::Json), "ada", "initial")
            .await
            .unwrap();
        assert_eq!((v1.version, v1.parent, v1.timestamp_ms), (1, None, clock()));
        assert_eq!(v1.hash, content_hash(V1));
        assert_eq!(v1.hash.len(), 64);
        // Same content: nothing new.
        assert_eq!(
            c.commit("web", V1, Some(Format::Json), "ada", "again")
                .await
                .unwrap(),
            v1
        );
        let v2 = c
            .commit("web", V2, Some(Format::Json), "bob", "move db")
            .await
            .unwrap();
        assert_eq!(
            (v2.version, v2.parent, v2.author.as_str()),
            (2, Some(1), "bob")
        );
        let d = c.diff("web", 1, 2).await.unwrap();
        assert_eq!(
            d.report,
            "~ /db/host: \"db1\" -> \"db2\"\n~ /db/password: \"[REDACTED]\" -> \"[REDACTED]\"\n"
        );
        for text in [
            d.report.clone(),
            d.unified.clone(),
            serde_json::to_string(&d).unwrap(),
        ] {
            assert!(!text.contains("s3cret"), "{text}");
        }
        let r = c.revert("web", "carol", None).await.unwrap();
        assert_eq!(
            (r.version, r.parent, r.origin.clone()),
            (3, Some(2), VersionOrigin::Revert { of: 2 })
        );
        assert_eq!(r.content, V1);
        assert_eq!(c.history("web").await.unwrap().len(), 3);
        assert_eq!(c.names().await.unwrap(), ["web"]);
        // Malformed content is refused with a position; unknown versions are not found.
        match c
            .commit("web", "{\"a\": }", Some(Format::Json), "x", "bad")
            .await
        {
            Err(Error::Parse {
                line: 1, column: 7, ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(c.get("web", 9).await, Err(Error::NotFound { .. })));
        assert!(matches!(
            c.commit("../x", "", None, "x", "y").await,
            Err(Error::InvalidArgument(_))
        ));
    });
}

#[test]
fn proposal_status_machine_and_approvals() {
    block_on(async {
        let c = configs(MemoryStore::new());
        c.commit("api", V1, Some(Format::Json), "ada", "initial")
            .await
            .unwrap();
        let p = c
            .propose("api", V2, Some(Format::Json), "ada", "new db")
            .await
            .unwrap();
        assert_eq!((p.status, p.base_version), (ProposalStatus::Draft, Some(1)));
        // Not yet submitted: cannot approve or apply.
        assert!(matches!(
            c.approve(&p.id, "bob").await,
            Err(Error::InvalidTransition {
                status: ProposalStatus::Draft,
                ..
            })
        ));
        assert!(matches!(
            c.apply(&p.id, "ada").await,
            Err(Error::InvalidTransition { .. })
        ));
        let p = c.submit(&p.id, "ada").await.unwrap();
        assert_eq!(p.status, ProposalStatus::PendingApproval);
        // Self-approval refused; a repeated approval counts once; two distinct approvers approve.
        assert!(matches!(
            c.approve(&p.id, "ada").await,
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(
            c.approve(&p.id, "bob").await.unwrap().status,
            ProposalStatus::PendingApproval
        );
        assert_eq!(c.approve(&p.id, "bob").await.unwrap().approvals, ["bob"]);
        let p = c.approve(&p.id, "carol").await.unwrap();
        assert_eq!(p.status, ProposalStatus::Approved);
        let d = c.proposal_diff(&p.id).await.unwrap();
        assert!(d.report.contains("/db/host") && !d.report.contains("s3cret"));
        let p = c.apply(&p.id, "ada").await.unwrap();
        assert_eq!(
            (p.status, p.applied_version),
            (ProposalStatus::Applied, Some(2))
        );
        assert_eq!(c.head("api").await.unwrap().unwrap().content, V2);
        let p = c.rollback(&p.id, "ada").await.unwrap();
        assert_eq!(p.status, ProposalStatus::RolledBack);
        assert_eq!(c.head("api").await.unwrap().unwrap().content, V1);
        let actions: Vec<&str> = p.events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "propose", "submit", "approve", "approve", "approve", "apply", "rollback"
            ]
        );
        assert!(matches!(
            c.reject(&p.id, "bob", "late").await,
            Err(Error::InvalidTransition { .. })
        ));

        // A stale proposal cannot apply; a rejected one is final.
        let q = c
            .propose(
                "api",
                "{\"replicas\": 5}",
                Some(Format::Json),
                "bob",
                "scale",
            )
            .await
            .unwrap();
        c.submit(&q.id, "bob").await.unwrap();
        c.approve(&q.id, "ada").await.unwrap();
        c.approve(&q.id, "carol").await.unwrap();
        c.commit(
            "api",
            "{\"replicas\": 4}",
            Some(Format::Json),
            "dave",
            "hotfix",
        )
        .await
        .unwrap();
        assert!(matches!(
            c.apply(&q.id, "bob").await,
            Err(Error::Conflict { .. })
        ));
        assert_eq!(
            c.proposal(&q.id).await.unwrap().status,
            ProposalStatus::Approved
        );
        let q = c
            .reject(&q.id, "ada", "superseded by hotfix")
            .await
            .unwrap();
        assert_eq!(
            q.events.last().unwrap().note.as_deref(),
            Some("superseded by hotfix")
        );
        assert!(matches!(
            c.submit(&q.id, "bob").await,
            Err(Error::InvalidTransition {
                status: ProposalStatus::Rejected,
                ..
            })
        ));
        assert!(matches!(
            c.proposal("nope").await,
            Err(Error::NotFound { .. })
        ));
        assert_eq!(c.proposals().await.unwrap().len(), 2);
    });
}

#[test]
fn drift_detection_redacts_every_output() {
    block_on(async {
        let opts = HistoryOptions::default()
            .with_clock(clock)
            .with_redactor(Redactor::secrets().with_patterns(["/tls/key"]).unwrap());
        let c = ConfigStore::new(MemoryStore::new(), opts);
        let desired = "replicas: 2\ndb:\n  password: hunter2\ntls:\n  key: PEMDATA\n  cert: C\nenv:\n  - {name: API_TOKEN, value: tok123}\n  - {name: MODE, value: prod}\n";
        c.commit("svc", desired, Some(Format::Yaml), "ada", "initial")
            .await
            .unwrap();
        let same = "db: {password: hunter2}\nreplicas: 2\ntls: {cert: C, key: PEMDATA}\nenv: [{name: API_TOKEN, value: tok123}, {name: MODE, value: prod}]\n";
        assert!(c.drift("svc", same, None).await.unwrap().in_sync);
        let observed = "replicas: 3\ndb:\n  password: hunter3\ntls:\n  key: OTHERPEM\n  cert: C\nenv:\n  - {name: API_TOKEN, value: tok999}\n  - {name: MODE, value: dev}\n";
        let r = c.drift("svc", observed, None).await.unwrap();
        assert!(!r.in_sync);
        assert_eq!(r.version, 1);
        let all = serde_json::to_string(&r).unwrap() + &r.diff.unified + &r.diff.report;
        for secret in ["hunter", "PEMDATA", "OTHERPEM", "tok123", "tok999"] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        assert!(r.diff.report.contains("~ /replicas: 2 -> 3"));
        assert!(
            r.diff
                .report
                .contains("~ /env[name=MODE]/value: \"prod\" -> \"dev\"")
        );
        assert!(
            r.diff.report.contains("/db/password"),
            "a changed secret still shows as changed"
        );
        // Plain-text configs: key = value lines are masked.
        c.commit("dotenv", "A=1\nDB_PASSWORD=abc\n", None, "ada", "env")
            .await
            .unwrap();
        let r = c
            .drift("dotenv", "A=2\nDB_PASSWORD=xyz\n", None)
            .await
            .unwrap();
        assert!(!r.in_sync && !r.diff.unified.contains("abc") && !r.diff.unified.contains("xyz"));
        assert!(r.diff.unified.contains("+A=2"));
    });
}

#[test]
fn history_persists_in_redb() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diff.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        block_on(configs(&store).commit("x", "a = 1\n", Some(Format::Toml), "ada", "one")).unwrap();
        block_on(configs(&store).commit("x", "a = 2\n", Some(Format::Toml), "ada", "two")).unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    let h = block_on(configs(&store).head("x")).unwrap().unwrap();
    assert_eq!((h.version, h.content.as_str()), (2, "a = 2\n"));
}

/// Found by the `diff_history_records` fuzz target: a stored proposal counter at `u64::MAX`
/// overflowed (a panic with overflow checks) at the next proposal.
#[test]
fn an_exhausted_proposal_counter_is_an_error_not_an_overflow() {
    use blocksmith_store::StoreExt as _;
    let store = MemoryStore::new();
    let cs = ConfigStore::new(&store, HistoryOptions::default());
    let key = blocksmith_store::Key::new("diff/proposal-seq").unwrap();
    let mut bytes = b"BSRC\x01\x11diff.proposal_seq\x01\x00\x00\x00".to_vec();
    bytes.extend_from_slice(br#"{"next":18446744073709551615}"#);
    store.blocking().put(&key, bytes.clone()).unwrap();
    let r = block_on(cs.propose("app", "x\n", None, "ada", "m"));
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    // The counter was left as it was.
    assert_eq!(
        store.blocking().get(&key).unwrap().data.as_ref(),
        &bytes[..]
    );
}

/// The blocking twin drives the same calls on the calling thread.
#[test]
fn blocking_twin_commits_and_reads_back() {
    let cs = ConfigStore::new(MemoryStore::new(), HistoryOptions::default());
    let b = cs.blocking();
    assert!(b.head("app").unwrap().is_none());
    let v1 = b.commit("app", "a = 1\n", None, "ada", "first").unwrap();
    let v2 = b.commit("app", "a = 2\n", None, "ada", "second").unwrap();
    assert_eq!(b.head("app").unwrap().unwrap().version, v2.version);
    assert_eq!(b.history("app").unwrap().len(), 2);
    assert!(!b.diff("app", v1.version, v2.version).unwrap().is_empty());
    assert_eq!(b.names().unwrap(), ["app"]);
    assert_eq!(block_on(cs.get("app", v1.version)).unwrap(), v1);
}
