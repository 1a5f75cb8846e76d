//! Property test against a reference model: random sequences of webhook
//! deliveries (duplicated, reordered, late), evidence actions, submissions,
//! acceptances and clock advances, with crashes at store operations and a
//! restart that retries the interrupted call. After every call the
//! dispute's ledger balances and the call's answer is the model's; at the
//! end the dispute is in the model's state, and every reminder and deadline
//! fired exactly when the model says, once.

use crate::common::{DAY, T0, eur, service};
use blocksmith_dispute::{
    Account, DeadlineAction, DisputeOptions, Disputes, Error, EventKind, Evidence, Ingested,
    MemoryHooks, NetworkEvent, Outcome, Stage, Status,
};
use blocksmith_flow::{Clock as _, ManualClock};
use blocksmith_store::testing::{Fault, FaultPlan, FaultyStore};
use blocksmith_store::{MemoryStore, block_on};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const ID: &str = "dp_m";
const OFFSETS: [u64; 3] = [7 * DAY, 3 * DAY, DAY];
/// The retire window the test's service runs with.
const RETIRE: u64 = 10 * DAY;
const KINDS: [&str; 4] = [
    "receipt",
    "proof_of_delivery",
    "customer_communication",
    "uncategorized",
];

/// The processor's true history: `created`, then one of five endings.
fn script(ending: u8) -> Vec<NetworkEvent> {
    let w = EventKind::FundsWithdrawn {
        amount: eur(4999),
        fee: Some(eur(1500)),
    };
    let r = EventKind::FundsReinstated {
        amount: eur(4999),
        fee_refund: None,
    };
    let closed = |o| EventKind::Closed { outcome: o };
    let tail = match ending % 5 {
        0 => vec![w, closed(Outcome::Won), r],
        1 => vec![w, closed(Outcome::Lost)],
        2 => vec![
            w,
            EventKind::Escalated {
                stage: Stage::PreArbitration,
                due_by_ms: None,
            },
            closed(Outcome::Lost),
        ],
        3 => vec![w, closed(Outcome::Reversed), r],
        _ => vec![],
    };
    let created = crate::common::created(ID, "visa", "13.1");
    std::iter::once(created)
        .chain(tail)
        .enumerate()
        .map(|(i, k)| {
            let seq = i as u64 + 1;
            NetworkEvent::new(format!("evt_{seq}"), ID, seq, T0 + seq * 1000, k)
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Deliver(usize),
    Add(usize),
    Submit,
    Accept,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..5usize).prop_map(Op::Deliver),
        3 => (0..KINDS.len()).prop_map(Op::Add),
        2 => Just(Op::Submit),
        1 => Just(Op::Accept),
        2 => (0..12 * DAY).prop_map(Op::Advance),
    ]
}

/// What a call answered, compared between the model and the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    Duplicate,
    NotFound,
    Closed,
    InvalidTransition,
    DeadlinePassed,
    Incomplete,
    AlreadySubmitted,
}

fn answer(r: &Result<Ingested, Error>) -> Answer {
    match r {
        Ok(Ingested::Duplicate) => Answer::Duplicate,
        Ok(_) => Answer::Ok,
        Err(Error::Closed(_)) => Answer::Closed,
        Err(Error::NotFound(_)) => Answer::NotFound,
        Err(Error::InvalidTransition { .. }) => Answer::InvalidTransition,
        Err(Error::DeadlinePassed { .. }) => Answer::DeadlinePassed,
        Err(Error::EvidenceIncomplete { .. }) => Answer::Incomplete,
        Err(Error::AlreadySubmitted) => Answer::AlreadySubmitted,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[derive(Debug, Clone)]
struct Round {
    due: u64,
    submitted: bool,
    deadline_fired: bool,
    /// Timers live (set, not cancelled).
    timers: bool,
}

/// The reference model: a plain re-statement of the rules for this script.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
struct Model {
    status: Status,
    stage: Stage,
    rounds: Vec<Round>,
    held: i64,
    merchant: i64,
    fees: i64,
    losses: i64,
    next: u64,
    waiting: BTreeMap<u64, usize>,
    blocked: Option<u64>,
    seen: BTreeSet<String>,
    kinds: Vec<&'static str>,
    items: BTreeSet<String>,
    reminders: BTreeSet<(usize, u64)>,
    accept_effect: bool,
    merchant_accepted: bool,
    steps_pending: bool,
    completed: bool,
    exists: bool,
    /// When the dispute reached a final status.
    closed: Option<u64>,
}

impl Model {
    fn new() -> Self {
        Model {
            status: Status::Pending,
            stage: Stage::Inquiry,
            rounds: Vec::new(),
            held: 0,
            merchant: 0,
            fees: 0,
            losses: 0,
            next: 1,
            waiting: BTreeMap::new(),
            blocked: None,
            seen: BTreeSet::new(),
            kinds: Vec::new(),
            items: BTreeSet::new(),
            reminders: BTreeSet::new(),
            accept_effect: false,
            merchant_accepted: false,
            steps_pending: false,
            completed: false,
            exists: false,
            closed: None,
        }
    }

    fn awaiting(&self) -> bool {
        self.status == Status::NeedsResponse
    }

    fn open_round(&mut self, at: u64) {
        // Visa: 30 days, 2-day margin, end of the UTC day; every event of
        // the script happens on T0's day.
        let day0 = at - at % DAY;
        self.rounds.push(Round {
            due: day0 + 29 * DAY - 1,
            submitted: false,
            deadline_fired: false,
            timers: true,
        });
    }

    fn close_round(&mut self) {
        if let Some(r) = self.rounds.last_mut() {
            r.timers = false;
        }
        self.steps_pending = true;
    }

    fn settle(&mut self) {
        if matches!(self.status, Status::Lost | Status::Accepted) && self.held > 0 {
            self.losses += self.held;
            self.held = 0;
        }
    }

    /// One event in turn: `false` when it is refused.
    fn event(&mut self, e: &NetworkEvent) -> bool {
        use EventKind as K;
        if self.status == Status::Pending && !matches!(e.kind, K::Created { .. }) {
            return false;
        }
        match &e.kind {
            K::Created { .. } => {
                self.status = Status::NeedsResponse;
                self.stage = Stage::Chargeback;
                self.open_round(e.at_ms);
                self.steps_pending = true;
            }
            K::FundsWithdrawn { .. } => {
                if self.held != 0 {
                    return false;
                }
                self.held = 4999;
                self.merchant -= 6499;
                self.fees += 1500;
            }
            K::FundsReinstated { .. } => {
                if self.held < 4999 || matches!(self.status, Status::Lost | Status::Accepted) {
                    return false;
                }
                self.held -= 4999;
                self.merchant += 4999;
            }
            K::Escalated { .. } => {
                if !(self.stage == Stage::Chargeback && self.status == Status::UnderReview) {
                    return false;
                }
                self.close_round();
                self.stage = Stage::PreArbitration;
                self.status = Status::NeedsResponse;
                self.open_round(e.at_ms);
            }
            K::Closed { outcome } => {
                let submitted = self.rounds.iter().any(|r| r.submitted);
                let (ok, to) = match outcome {
                    Outcome::Won => (self.status == Status::UnderReview && submitted, Status::Won),
                    Outcome::Lost => (
                        matches!(self.status, Status::NeedsResponse | Status::UnderReview),
                        Status::Lost,
                    ),
                    _ => (!self.status.is_final(), Status::Reversed),
                };
                if !ok {
                    return false;
                }
                self.close_round();
                self.status = to;
                self.closed = Some(e.at_ms);
            }
            _ => unreachable!(),
        }
        self.next = e.sequence + 1;
        self.settle();
        true
    }

    /// The workflow completes when a worker runs past the retire window
    /// of a decided, settled dispute.
    fn check_complete(&mut self, now: u64) {
        if self.status.is_final()
            && self.held == 0
            && self.waiting.is_empty()
            && !self.steps_pending
            && self.closed.is_some_and(|c| now >= c + RETIRE)
        {
            self.completed = true;
        }
    }

    fn deliver(&mut self, script: &[NetworkEvent], k: usize) -> Answer {
        let e = &script[k];
        if self.seen.contains(&e.id) {
            return Answer::Duplicate;
        }
        if self.completed {
            return Answer::Closed;
        }
        self.exists = true;
        if e.sequence > self.next {
            self.waiting.insert(e.sequence, k);
            self.seen.insert(e.id.clone());
            return Answer::Ok;
        }
        let mut next = self.clone();
        if !next.event(e) {
            return Answer::InvalidTransition;
        }
        next.seen.insert(e.id.clone());
        next.blocked = None;
        while let Some(&w) = next.waiting.get(&next.next) {
            let mut after = next.clone();
            after.waiting.remove(&next.next);
            if after.event(&script[w]) {
                next = after;
                next.blocked = None;
            } else {
                next.blocked = Some(next.next);
                break;
            }
        }
        *self = next;
        Answer::Ok
    }

    fn window(&self, now: u64) -> Result<(), Answer> {
        if !self.awaiting() {
            let submitted = self.rounds.last().is_some_and(|r| r.submitted);
            return Err(if self.status == Status::UnderReview && submitted {
                Answer::AlreadySubmitted
            } else {
                Answer::InvalidTransition
            });
        }
        let r = self.rounds.last().unwrap();
        if r.deadline_fired || now > r.due {
            return Err(Answer::DeadlinePassed);
        }
        Ok(())
    }

    fn add(&mut self, kind: &'static str, item: &str, now: u64) -> Answer {
        if self.items.contains(item) {
            return Answer::Ok; // a retry: the item is there
        }
        if !self.exists {
            return Answer::NotFound;
        }
        if self.completed {
            return Answer::Closed;
        }
        if let Err(a) = self.window(now) {
            return if a == Answer::AlreadySubmitted {
                Answer::InvalidTransition
            } else {
                a
            };
        }
        self.kinds.push(kind);
        self.items.insert(item.to_string());
        Answer::Ok
    }

    fn submit(&mut self, now: u64) -> Answer {
        // The same round's submission again is a duplicate call.
        if self.rounds.last().is_some_and(|r| r.submitted) && !self.completed {
            return Answer::AlreadySubmitted;
        }
        if self.completed {
            return if self.rounds.last().is_some_and(|r| r.submitted) {
                Answer::AlreadySubmitted
            } else {
                Answer::Closed
            };
        }
        if !self.exists {
            return Answer::NotFound;
        }
        if self.status == Status::Pending {
            return Answer::InvalidTransition;
        }
        if let Err(a) = self.window(now) {
            return a;
        }
        let has = |k: &str| self.kinds.contains(&k);
        if !(has("proof_of_delivery") && has("receipt")) {
            return Answer::Incomplete;
        }
        self.close_round();
        self.rounds.last_mut().unwrap().submitted = true;
        self.status = Status::UnderReview;
        Answer::Ok
    }

    fn accept(&mut self, now: u64) -> Answer {
        if !self.exists {
            return Answer::NotFound;
        }
        if self.merchant_accepted {
            return Answer::Ok;
        }
        if self.completed {
            return Answer::Closed;
        }
        if !self.awaiting() {
            return Answer::InvalidTransition;
        }
        self.close_round();
        self.status = Status::Accepted;
        self.closed = Some(now);
        self.merchant_accepted = true;
        self.accept_effect = true;
        self.settle();
        Answer::Ok
    }

    /// The worker runs at `now`: timers fire in time order, steps run.
    fn run(&mut self, now: u64) {
        if self.completed {
            return;
        }
        if let Some(idx) = self.rounds.len().checked_sub(1) {
            let r = self.rounds[idx].clone();
            if r.timers {
                for off in OFFSETS {
                    let at = r.due - off;
                    if at <= now && self.awaiting() {
                        self.reminders.insert((idx, off));
                    }
                }
                if r.due <= now && !r.deadline_fired {
                    self.rounds[idx].deadline_fired = true;
                    self.rounds[idx].timers = false;
                    if self.awaiting() && !r.submitted {
                        self.status = Status::Accepted;
                        self.closed = Some(r.due);
                        self.accept_effect = true;
                        self.settle();
                    }
                }
            }
        }
        self.steps_pending = false;
        self.check_complete(now);
    }
}

fn options() -> DisputeOptions {
    DisputeOptions::default()
        .with_on_deadline(DeadlineAction::AutoAccept)
        .with_retire_after_ms(RETIRE)
}

/// One incarnation of the service: a fault plan over the shared data.
struct Process {
    faulty: Arc<FaultyStore<Arc<MemoryStore>>>,
    d: Disputes<Arc<FaultyStore<Arc<MemoryStore>>>>,
}

fn process(
    data: &Arc<MemoryStore>,
    plan: FaultPlan,
    clock: &ManualClock,
    hooks: &MemoryHooks,
) -> Process {
    let faulty = Arc::new(FaultyStore::new(data.clone(), plan));
    let d = service(faulty.clone(), clock, hooks).with_options(options());
    Process { faulty, d }
}

async fn call(
    p: &Process,
    script: &[NetworkEvent],
    op: &Op,
    i: usize,
    clock: &ManualClock,
) -> Result<Ingested, Error> {
    match op {
        Op::Deliver(k) => p.d.ingest(script[*k % script.len()].clone()).await,
        Op::Add(k) => {
            let kind = KINDS[*k];
            let mut e = Evidence::text(kind, format!("{kind} text"))
                .with_id(format!("it{i}"))
                .by("ada");
            if kind == "proof_of_delivery" {
                e = e
                    .with_field("tracking_number", "1Z999")
                    .with_field("delivered_on", "2026-05-30");
            }
            p.d.add_evidence(ID, e).await.map(|_| Ingested::Applied)
        }
        Op::Submit => p.d.submit(ID, "ada").await.map(|_| Ingested::Applied),
        Op::Accept => p.d.accept(ID, "ada").await.map(|_| Ingested::Applied),
        Op::Advance(ms) => {
            let target = (clock.now_ms() + ms).min(T0 + 80 * DAY);
            clock.set(target.max(clock.now_ms()));
            p.d.run_due().await.map(|()| Ingested::Applied)
        }
    }
}

fn run_case(ending: u8, ops: &[Op], crashes: &[(u64, bool)]) -> Result<(), TestCaseError> {
    let script = script(ending);
    let data = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(T0);
    let hooks = MemoryHooks::new();
    let checker = service(data.clone(), &clock, &hooks).with_options(options());
    let mut plans = crashes.iter().map(|&(at, after)| {
        FaultPlan::new(
            at,
            if after {
                Fault::FailAfter
            } else {
                Fault::FailBefore
            },
        )
    });
    let mut p = process(
        &data,
        plans.next().unwrap_or_else(FaultPlan::never),
        &clock,
        &hooks,
    );
    let mut model = Model::new();
    block_on(async {
        for (i, op) in ops.iter().enumerate() {
            let mut crashed = false;
            let got = loop {
                let r = call(&p, &script, op, i, &clock).await;
                if r.is_err() && p.faulty.crashed() {
                    crashed = true;
                    if matches!(op, Op::Advance(_)) {
                        clock.advance(60_000); // the dead worker's leases lapse
                    }
                    p = process(
                        &data,
                        plans.next().unwrap_or_else(FaultPlan::never),
                        &clock,
                        &hooks,
                    );
                    continue;
                }
                break answer(&r);
            };
            let now = clock.now_ms();
            let want = match op {
                Op::Deliver(k) => model.deliver(&script, *k % script.len()),
                Op::Add(k) => model.add(KINDS[*k], &format!("it{i}"), now),
                Op::Submit => model.submit(now),
                Op::Accept => model.accept(now),
                Op::Advance(_) => {
                    model.run(now);
                    Answer::Ok
                }
            };
            let retried_ok = crashed
                && want == Answer::Ok
                && matches!(
                    (op, got),
                    (Op::Deliver(_), Answer::Duplicate) | (Op::Submit, Answer::AlreadySubmitted)
                );
            prop_assert!(
                got == want || retried_ok,
                "op {i} {op:?}: got {got:?}, model {want:?} (crashed: {crashed})"
            );
            if let Ok(x) = checker.get(ID).await {
                prop_assert!(x.ledger_balanced(), "op {i}: unbalanced {:?}", x.ledger);
                prop_assert!(x.held() >= 0);
            }
        }
        // A last run of the worker, then the dispute is the model's.
        loop {
            let r = p.d.run_due().await;
            if r.is_err() && p.faulty.crashed() {
                clock.advance(60_000);
                p = process(&data, FaultPlan::never(), &clock, &hooks);
                continue;
            }
            r.unwrap();
            break;
        }
        model.run(clock.now_ms());
        if !model.exists {
            prop_assert!(matches!(checker.get(ID).await, Err(Error::NotFound(_))));
            return Ok(());
        }
        let x = checker.get(ID).await.unwrap();
        prop_assert_eq!(x.status, model.status);
        prop_assert_eq!(x.held(), model.held);
        prop_assert_eq!(x.balance(Account::MerchantBalance), model.merchant);
        prop_assert_eq!(x.balance(Account::DisputeFees), model.fees);
        prop_assert_eq!(x.balance(Account::ChargebackLosses), model.losses);
        prop_assert_eq!(x.next_sequence, model.next);
        prop_assert_eq!(
            x.waiting.keys().copied().collect::<Vec<_>>(),
            model.waiting.keys().copied().collect::<Vec<_>>()
        );
        prop_assert_eq!(x.blocked.as_ref().map(|b| b.0), model.blocked);
        prop_assert_eq!(x.rounds.len(), model.rounds.len());
        for (r, m) in x.rounds.iter().zip(&model.rounds) {
            prop_assert_eq!(r.due_ms, m.due);
            prop_assert_eq!(r.submitted_ms.is_some(), m.submitted);
            prop_assert_eq!(r.deadline_fired, m.deadline_fired);
        }
        prop_assert_eq!(x.evidence.len(), model.kinds.len());
        // Every reminder and deadline exactly when the model says, once.
        let fired: BTreeSet<String> = x.reminders_fired.iter().cloned().collect();
        prop_assert_eq!(
            fired.len(),
            x.reminders_fired.len(),
            "a reminder fired twice"
        );
        let want: BTreeSet<String> = model
            .reminders
            .iter()
            .map(|(r, o)| format!("remind-{r}-{o}"))
            .collect();
        prop_assert_eq!(&fired, &want);
        let effects = hooks.effects();
        let reminded: BTreeSet<String> = effects
            .iter()
            .filter(|e| e.starts_with("remind"))
            .cloned()
            .collect();
        let want_effects: BTreeSet<String> = model
            .reminders
            .iter()
            .map(|(r, o)| format!("remind {ID} {r} {o}"))
            .collect();
        prop_assert_eq!(reminded, want_effects);
        let accepts = effects.iter().filter(|e| e.starts_with("accept")).count();
        prop_assert_eq!(accepts, usize::from(model.accept_effect));
        let submits = effects.iter().filter(|e| e.starts_with("submit")).count();
        prop_assert_eq!(submits, model.rounds.iter().filter(|r| r.submitted).count());
        let finished = checker
            .engine()
            .get(ID)
            .await
            .unwrap()
            .unwrap()
            .status
            .is_finished();
        prop_assert_eq!(finished, model.completed, "completion");
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn disputes_end_in_their_model_state_through_crashes(
        ending in 0u8..5,
        ops in proptest::collection::vec(op(), 1..36),
        crashes in proptest::collection::vec((1u64..80, any::<bool>()), 0..4),
    ) {
        run_case(ending, &ops, &crashes)?;
    }
}

#[test]
fn a_won_dispute_scripted_in_order_matches_the_model() {
    let ops = [
        Op::Deliver(0),
        Op::Add(0),
        Op::Add(1),
        Op::Submit,
        Op::Deliver(1),
        Op::Deliver(2),
        Op::Deliver(3),
        Op::Advance(40 * DAY),
    ];
    run_case(0, &ops, &[]).unwrap();
    run_case(0, &ops, &[(7, true), (3, false)]).unwrap();
}
