//! The dispute as data: its status, evidence, ledger and event log, and
//! the pure transition every change goes through.
//!
//! [`Dispute::apply`] is the whole lifecycle: it validates a network
//! event, a merchant action or a timer against the dispute and either
//! refuses it ([`Refusal`], nothing changed) or updates the dispute and
//! returns what the workflow engine must do (run a host step, set a
//! timer). The `blocksmith-flow` workflow ([`DisputeFlow`]) calls it from
//! `admit` and `react`, so a refused event is refused in the same
//! compare-and-swap round that would have applied it.

use crate::deadline;
use crate::table::{Category, DisputeRules};
use blocksmith_flow::{Command, Event, StepCall, Workflow};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;

/// Most network events one dispute keeps (applied and waiting).
pub const MAX_EVENTS: usize = 1024;
/// Most events waiting for an earlier sequence number.
pub const MAX_WAITING: usize = 256;
/// Most evidence items added to one dispute over its life (removed ones
/// included).
pub const MAX_EVIDENCE_IDS: usize = 1000;
/// Most audit entries kept (the oldest are dropped beyond).
pub const MAX_AUDIT: usize = 2048;
/// Largest amount, in minor units (ten trillion units of a 2-decimal currency).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// True when `s` has no control or bidirectional-override characters
/// (text that is shown to people: actors, file names).
pub(crate) fn is_printable(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
    })
}

/// True for 1-64 bytes of ASCII letters, digits, `_ - .`.
pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// An amount of money in integer minor units (cents) of a currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Money {
    /// Minor units (4999 is 49.99 EUR).
    pub amount: i64,
    /// ISO 4217 code, upper case (`EUR`).
    pub currency: String,
}

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: i64, currency: impl Into<String>) -> Self {
        Money {
            amount,
            currency: currency.into(),
        }
    }

    /// Checks the currency code (three upper-case letters) and that the
    /// amount is positive and at most [`MAX_AMOUNT`].
    pub(crate) fn check(&self) -> Result<(), Refusal> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Refusal::invalid(format!(
                "currency {:?} is not three upper-case letters",
                self.currency
            )));
        }
        if self.amount <= 0 || self.amount > MAX_AMOUNT {
            return Err(Refusal::invalid(format!(
                "amount {} is not in 1..={MAX_AMOUNT}",
                self.amount
            )));
        }
        Ok(())
    }
}

/// Digits after the decimal point of an ISO 4217 currency (2 unless listed).
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

impl fmt::Display for Money {
    /// `49.99 EUR` for 4999 minor units of EUR, `500 JPY` for 500 of JPY.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = minor_digits(&self.currency);
        if d == 0 {
            return write!(f, "{} {}", self.amount, self.currency);
        }
        let unit = 10i64.pow(d);
        let sign = if self.amount < 0 { "-" } else { "" };
        let a = self.amount.unsigned_abs();
        let unit = unit.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0w$} {}",
            a / unit,
            a % unit,
            self.currency,
            w = d as usize
        )
    }
}

/// The stage of a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// An inquiry / retrieval request: no money has moved.
    Inquiry,
    /// A chargeback (first cycle).
    Chargeback,
    /// Pre-arbitration: the issuer rejected the merchant's response.
    PreArbitration,
    /// Arbitration: the network rules.
    Arbitration,
}

impl Stage {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Inquiry => "inquiry",
            Stage::Chargeback => "chargeback",
            Stage::PreArbitration => "pre_arbitration",
            Stage::Arbitration => "arbitration",
        }
    }
}

/// Where a dispute is, in Stripe's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Events arrived before the dispute's `created` event.
    Pending,
    /// An inquiry awaiting the merchant's response.
    WarningNeedsResponse,
    /// An inquiry answered, under the issuer's review.
    WarningUnderReview,
    /// An inquiry closed without a chargeback.
    WarningClosed,
    /// A chargeback (or pre-arbitration) awaiting the merchant's response.
    NeedsResponse,
    /// Responded (or in arbitration), under review.
    UnderReview,
    /// Decided for the merchant.
    Won,
    /// Decided for the cardholder.
    Lost,
    /// The merchant conceded (or the deadline passed with auto-accept).
    Accepted,
    /// The cardholder or issuer withdrew the dispute.
    Reversed,
}

impl Status {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::WarningNeedsResponse => "warning_needs_response",
            Status::WarningUnderReview => "warning_under_review",
            Status::WarningClosed => "warning_closed",
            Status::NeedsResponse => "needs_response",
            Status::UnderReview => "under_review",
            Status::Won => "won",
            Status::Lost => "lost",
            Status::Accepted => "accepted",
            Status::Reversed => "reversed",
        }
    }

    /// True once the outcome is decided.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::WarningClosed
                | Status::Won
                | Status::Lost
                | Status::Accepted
                | Status::Reversed
        )
    }

    /// True while the merchant's response is awaited.
    pub fn awaits_response(self) -> bool {
        matches!(self, Status::WarningNeedsResponse | Status::NeedsResponse)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a network closes a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// For the merchant (needs a submitted response).
    Won,
    /// For the cardholder.
    Lost,
    /// An inquiry closed without a chargeback.
    WarningClosed,
    /// Withdrawn by the cardholder or issuer.
    Reversed,
}

/// The evidence a response needs: every requirement met, each by any one of
/// its kinds; the optional kinds strengthen it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checklist {
    /// Requirements: each a list of alternative kinds.
    pub required: Vec<Vec<String>>,
    /// Kinds that help but are not required.
    #[serde(default)]
    pub optional: Vec<String>,
}

/// A requirement a package does not meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Missing {
    /// Any one of these kinds meets it.
    pub any_of: Vec<String>,
}

impl Checklist {
    /// Requirements `required` (each met by any one of its kinds) and
    /// helpful `optional` kinds.
    pub fn new(required: Vec<Vec<String>>, optional: Vec<String>) -> Self {
        Checklist { required, optional }
    }

    /// The requirements that `kinds` (the kinds in a package) leave unmet.
    pub fn missing(&self, kinds: &[&str]) -> Vec<Missing> {
        self.required
            .iter()
            .filter(|alts| !kinds.iter().any(|k| alts.iter().any(|a| a == k)))
            .map(|alts| Missing {
                any_of: alts.clone(),
            })
            .collect()
    }
}

/// What an evidence item holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A file in the store, by reference.
    File {
        /// Its store key.
        key: String,
        /// The file name given.
        name: String,
        /// Its content type, from its bytes.
        content_type: String,
        /// Its size.
        bytes: u64,
        /// SHA-256 of its bytes, hex.
        sha256: String,
    },
}

impl Content {
    /// Bytes it counts toward the package's size cap.
    pub fn size(&self) -> u64 {
        match self {
            Content::Text { text } => text.len() as u64,
            Content::File { bytes, .. } => *bytes,
        }
    }
}

/// One evidence item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvidenceItem {
    /// Its id in the dispute.
    pub id: String,
    /// Its kind (a table evidence kind).
    pub kind: String,
    /// The round (0-based) it was added in.
    pub round: u32,
    /// Its content.
    pub content: Content,
    /// Its fields (tracking number, delivery date, ...).
    pub fields: BTreeMap<String, String>,
    /// Who added it.
    pub added_by: String,
    /// When, Unix ms.
    pub added_ms: u64,
}

/// One response window: a stage in which the merchant may respond once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Round {
    /// The stage.
    pub stage: Stage,
    /// When it opened, Unix ms.
    pub opened_ms: u64,
    /// The response deadline, Unix ms.
    pub due_ms: u64,
    /// The evidence it needs.
    pub checklist: Checklist,
    /// When the response was submitted.
    pub submitted_ms: Option<u64>,
    /// Who submitted it.
    pub submitted_by: Option<String>,
    /// True once the host's submit hook succeeded.
    pub delivered: bool,
    /// True once the deadline timer fired.
    pub deadline_fired: bool,
    /// Submissions the host's submit hook failed to deliver.
    pub failed_deliveries: u32,
    /// The host step delivering the submission.
    pub submit_step: Option<String>,
    /// True once an update moved the deadline.
    pub due_moved: bool,
}

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Account {
    /// The merchant's balance at the processor.
    MerchantBalance,
    /// Disputed funds taken from the merchant, awaiting the outcome.
    DisputedFundsHeld,
    /// Dispute fees charged.
    DisputeFees,
    /// Disputed funds lost for good.
    ChargebackLosses,
}

/// One leg of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Posting {
    /// The account.
    pub account: Account,
    /// Signed minor units (debits positive).
    pub amount: i64,
}

/// What a transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TxKind {
    /// The disputed amount (and a fee) taken from the merchant.
    FundsWithdrawn,
    /// Funds given back (a win or a reversal).
    FundsReinstated,
    /// Held funds lost for good (a loss or an acceptance).
    Loss,
}

/// A balanced double-entry transaction, in the settlement currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transaction {
    /// Its id: the event that caused it (idempotent by it).
    pub id: String,
    /// What it records.
    pub kind: TxKind,
    /// When, Unix ms.
    pub at_ms: u64,
    /// The settlement currency.
    pub currency: String,
    /// The legs; they sum to zero.
    pub postings: Vec<Posting>,
    /// The amount in the transaction's original currency, when it differs.
    pub original: Option<Money>,
}

/// Who did what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Unix ms.
    pub at_ms: u64,
    /// A user, `network`, or `system`.
    pub actor: String,
    /// What (`evidence_added`, `submitted`, `funds_withdrawn`, ...).
    pub action: String,
    /// Details.
    pub detail: String,
}

/// A processor's webhook event about a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NetworkEvent {
    /// The event's id: a second delivery is a duplicate.
    pub id: String,
    /// The dispute it is about.
    pub dispute: String,
    /// Its place in the dispute's event sequence, from 1 (`created`):
    /// events apply in this order, whatever order they arrive in.
    pub sequence: u64,
    /// When it happened, Unix ms.
    pub at_ms: u64,
    /// What happened.
    pub kind: EventKind,
}

/// What a [`NetworkEvent`] says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum EventKind {
    /// The dispute was opened (sequence 1).
    Created {
        /// `inquiry` or `chargeback`.
        stage: Stage,
        /// The disputed charge.
        charge: String,
        /// The disputed amount in the charge's currency.
        amount: Money,
        /// The amount in the merchant's settlement currency, when it differs.
        #[serde(default)]
        settlement: Option<Money>,
        /// The network id (`visa`).
        network: String,
        /// The reason code (`13.1`).
        reason: String,
        /// The processor's own response deadline, if it gives one (the
        /// earlier of it and the network's rule applies).
        #[serde(default)]
        due_by_ms: Option<u64>,
    },
    /// The reason code or the deadline changed.
    Updated {
        /// A new reason code.
        #[serde(default)]
        reason: Option<String>,
        /// A new processor deadline.
        #[serde(default)]
        due_by_ms: Option<u64>,
    },
    /// The dispute moved to a later stage (an inquiry became a chargeback,
    /// the issuer filed pre-arbitration or arbitration).
    Escalated {
        /// The new stage.
        stage: Stage,
        /// The processor's deadline for it.
        #[serde(default)]
        due_by_ms: Option<u64>,
    },
    /// The disputed amount (and a fee) was taken from the merchant.
    FundsWithdrawn {
        /// The amount, in the settlement currency.
        amount: Money,
        /// The dispute fee, in the settlement currency.
        #[serde(default)]
        fee: Option<Money>,
    },
    /// Funds were given back.
    FundsReinstated {
        /// The amount, in the settlement currency.
        amount: Money,
        /// A refunded dispute fee.
        #[serde(default)]
        fee_refund: Option<Money>,
    },
    /// The dispute was decided.
    Closed {
        /// How.
        outcome: Outcome,
    },
}

impl NetworkEvent {
    /// Event `id` about `dispute`, number `sequence`, at `at_ms`.
    pub fn new(
        id: impl Into<String>,
        dispute: impl Into<String>,
        sequence: u64,
        at_ms: u64,
        kind: EventKind,
    ) -> Self {
        NetworkEvent {
            id: id.into(),
            dispute: dispute.into(),
            sequence,
            at_ms,
            kind,
        }
    }
}

impl EventKind {
    /// The snake-case name.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::Updated { .. } => "updated",
            EventKind::Escalated { .. } => "escalated",
            EventKind::FundsWithdrawn { .. } => "funds_withdrawn",
            EventKind::FundsReinstated { .. } => "funds_reinstated",
            EventKind::Closed { .. } => "closed",
        }
    }
}

/// A network event applied, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppliedEvent {
    /// Its sequence number.
    pub sequence: u64,
    /// Its id.
    pub id: String,
    /// Its kind's name.
    pub kind: String,
    /// When it happened.
    pub at_ms: u64,
}

/// An event waiting for an earlier sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Waiting {
    /// The event.
    pub event: NetworkEvent,
    /// The rules it brings (a new reason code's).
    pub rules: Option<DisputeRules>,
}

/// What happens at a response deadline with no submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadlineAction {
    /// Concede: the dispute is accepted (and the host's `accept` runs).
    AutoAccept,
    /// Escalate to people: the host's `escalate` runs; the dispute waits.
    Escalate,
}

/// The merchant-side policy a dispute is opened under (copied into it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Policy {
    /// The acquirer's IANA time zone: calendar days are counted in it.
    pub timezone: String,
    /// Calendar days taken off every deadline.
    pub safety_margin_days: u32,
    /// Reminders, in ms before the deadline.
    pub reminders_ms: Vec<u64>,
    /// What runs at a missed deadline.
    pub on_deadline: DeadlineAction,
    /// Most evidence items per dispute.
    pub max_items: usize,
    /// Most bytes of evidence (files and text) per dispute.
    pub max_total_bytes: u64,
    /// How long a decided and settled dispute still takes late events
    /// before its workflow completes, ms.
    #[serde(default = "default_retire_ms")]
    pub retire_after_ms: u64,
}

fn default_retire_ms() -> u64 {
    120 * 86_400_000
}

/// Why a change was refused (what [`crate::Error`] is made of).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// Not valid in this status.
    InvalidTransition {
        /// The status.
        status: Status,
        /// What was refused.
        action: String,
    },
    /// After the deadline.
    DeadlinePassed {
        /// The deadline.
        due_ms: u64,
        /// The action's time.
        at_ms: u64,
    },
    /// The package lacks required items.
    EvidenceIncomplete {
        /// What is missing.
        missing: Vec<Missing>,
    },
    /// The response was submitted already.
    AlreadySubmitted,
    /// A size or count limit.
    EvidenceLimit {
        /// Which.
        reason: String,
    },
    /// Another event holds this sequence number.
    SequenceConflict {
        /// The number.
        sequence: u64,
        /// Its holder.
        holder: String,
    },
    /// This event was seen before.
    Duplicate,
    /// Malformed.
    Invalid {
        /// Why.
        reason: String,
    },
}

impl Refusal {
    fn invalid(reason: impl Into<String>) -> Self {
        Refusal::Invalid {
            reason: reason.into(),
        }
    }

    fn transition(status: Status, action: &str) -> Self {
        Refusal::InvalidTransition {
            status,
            action: action.to_string(),
        }
    }

    /// The crate error for this refusal.
    pub fn into_error(self) -> crate::Error {
        use crate::Error;
        match self {
            Refusal::InvalidTransition { status, action } => {
                Error::InvalidTransition { status, action }
            }
            Refusal::DeadlinePassed { due_ms, at_ms } => Error::DeadlinePassed { due_ms, at_ms },
            Refusal::EvidenceIncomplete { missing } => Error::EvidenceIncomplete { missing },
            Refusal::AlreadySubmitted => Error::AlreadySubmitted,
            Refusal::EvidenceLimit { reason } => Error::EvidenceLimit(reason),
            Refusal::SequenceConflict { sequence, holder } => {
                Error::SequenceConflict { sequence, holder }
            }
            Refusal::Duplicate => Error::Invalid {
                what: "event",
                reason: "a duplicate".into(),
            },
            Refusal::Invalid { reason } => Error::Invalid {
                what: "dispute change",
                reason,
            },
        }
    }
}

/// A merchant's action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Adds an evidence item.
    AddEvidence {
        /// Its id (unique in the dispute).
        id: String,
        /// The kind.
        kind: String,
        /// The content.
        content: Content,
        /// Its fields.
        fields: BTreeMap<String, String>,
    },
    /// Removes an item added in the current round.
    RemoveEvidence {
        /// The item's id.
        item: String,
    },
    /// Submits the response of round `round` (once per round).
    Submit {
        /// The round the caller saw open (0-based): a round that changed
        /// since (an escalation) refuses the submission.
        round: u32,
    },
    /// Concedes the dispute.
    Accept,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::AddEvidence { .. } => "add_evidence",
            Action::RemoveEvidence { .. } => "remove_evidence",
            Action::Submit { .. } => "submit",
            Action::Accept => "accept",
        }
    }
}

/// What the dispute service signals to the workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // built once per call, never stored
pub enum Input {
    /// A network event, with the rules of the reason code it names.
    Network {
        /// The event.
        event: NetworkEvent,
        /// The rules (for `created` and a reason change).
        rules: Option<DisputeRules>,
        /// The policy (for `created`).
        policy: Option<Policy>,
    },
    /// A merchant's action.
    Merchant {
        /// Who.
        actor: String,
        /// When (the service's clock).
        at_ms: u64,
        /// What.
        action: Action,
    },
}

/// A dispute: the workflow's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dispute {
    /// Its id.
    pub id: String,
    /// Its status.
    pub status: Status,
    /// Its stage.
    pub stage: Stage,
    /// The disputed charge.
    pub charge: String,
    /// The network id.
    pub network: String,
    /// The reason code.
    pub reason: String,
    /// The reason's category.
    pub category: Option<Category>,
    /// The disputed amount in the charge's currency.
    pub amount: Option<Money>,
    /// The amount in the settlement currency (the ledger's).
    pub settlement: Option<Money>,
    /// When it was created (the `created` event), Unix ms.
    pub created_ms: u64,
    /// When it reached a final status.
    pub closed_ms: Option<u64>,
    /// The rules it runs under.
    pub rules: Option<DisputeRules>,
    /// The merchant policy it runs under.
    pub policy: Option<Policy>,
    /// Response windows, oldest first.
    pub rounds: Vec<Round>,
    /// Evidence items.
    pub evidence: Vec<EvidenceItem>,
    /// The ledger.
    pub ledger: Vec<Transaction>,
    /// Network events applied, in sequence order.
    pub applied: Vec<AppliedEvent>,
    /// Events waiting for an earlier sequence number.
    pub waiting: BTreeMap<u64, Waiting>,
    /// The next sequence number to apply.
    pub next_sequence: u64,
    /// The first waiting event, when it is not valid in turn (nothing after
    /// it applies until it is replaced by a valid event).
    pub blocked: Option<(u64, String)>,
    /// Reminders fired (timer ids), each once.
    pub reminders_fired: Vec<String>,
    /// The audit trail.
    pub audit: Vec<AuditEntry>,
    /// Ids of removed evidence items (never used again).
    #[serde(default)]
    pub removed_evidence: Vec<String>,
    /// Host steps commanded and not yet finished.
    pub outstanding: Vec<String>,
    /// Failures of host steps not since made good by a success of the
    /// same hook, last first (`"<step id>: <error>"`).
    pub hook_failures: Vec<String>,
    /// When the workflow completes, once decided and settled (late events
    /// are taken until then).
    pub retire_at: Option<u64>,
    steps: u64,
}

impl Dispute {
    /// A dispute known only by id (events came before `created`).
    pub(crate) fn pending(id: &str) -> Self {
        Dispute {
            id: id.to_string(),
            status: Status::Pending,
            stage: Stage::Inquiry,
            charge: String::new(),
            network: String::new(),
            reason: String::new(),
            category: None,
            amount: None,
            settlement: None,
            created_ms: 0,
            closed_ms: None,
            rules: None,
            policy: None,
            rounds: Vec::new(),
            evidence: Vec::new(),
            ledger: Vec::new(),
            applied: Vec::new(),
            waiting: BTreeMap::new(),
            next_sequence: 1,
            blocked: None,
            reminders_fired: Vec::new(),
            audit: Vec::new(),
            removed_evidence: Vec::new(),
            outstanding: Vec::new(),
            hook_failures: Vec::new(),
            retire_at: None,
            steps: 0,
        }
    }

    /// The open round (the last), if any.
    pub fn round(&self) -> Option<&Round> {
        self.rounds.last()
    }

    /// The response deadline, while a response is awaited.
    pub fn due_ms(&self) -> Option<u64> {
        if self.status.awaits_response() {
            self.round().map(|r| r.due_ms)
        } else {
            None
        }
    }

    /// The balance of `account` (debits positive).
    pub fn balance(&self, account: Account) -> i64 {
        self.ledger
            .iter()
            .flat_map(|t| &t.postings)
            .filter(|p| p.account == account)
            .fold(0i64, |a, p| a.saturating_add(p.amount))
    }

    /// Disputed funds withdrawn and not reinstated (held or lost).
    pub fn withdrawn_net(&self) -> i64 {
        let held_by = |kind: TxKind| {
            self.ledger
                .iter()
                .filter(|t| t.kind == kind)
                .flat_map(|t| &t.postings)
                .filter(|p| p.account == Account::DisputedFundsHeld)
                .fold(0i64, |a, p| a.saturating_add(p.amount))
        };
        held_by(TxKind::FundsWithdrawn).saturating_add(held_by(TxKind::FundsReinstated))
    }

    /// Funds taken from the merchant and not yet given back or lost.
    pub fn held(&self) -> i64 {
        self.balance(Account::DisputedFundsHeld)
    }

    /// True when every transaction sums to zero (so the ledger does).
    pub fn ledger_balanced(&self) -> bool {
        self.ledger.iter().all(|t| {
            t.postings
                .iter()
                .map(|p| i128::from(p.amount))
                .sum::<i128>()
                == 0
        })
    }

    /// The evidence kinds that count for the open round.
    pub fn package_kinds(&self) -> Vec<&str> {
        self.evidence.iter().map(|e| e.kind.as_str()).collect()
    }

    /// What the open round still needs.
    pub fn missing(&self) -> Vec<Missing> {
        match self.round() {
            Some(r) => r.checklist.missing(&self.package_kinds()),
            None => Vec::new(),
        }
    }

    fn audit(&mut self, at_ms: u64, actor: &str, action: &str, detail: String) {
        self.audit.push(AuditEntry {
            at_ms,
            actor: actor.to_string(),
            action: action.to_string(),
            detail,
        });
        if self.audit.len() > MAX_AUDIT {
            self.audit.remove(0);
        }
    }

    fn step(&mut self, name: &str, input: Value) -> Command {
        self.steps = self.steps.saturating_add(1);
        let id = format!("s{}-{}", self.steps, name.replace('.', "-"));
        self.outstanding.push(id.clone());
        Command::Run(StepCall::new(id, format!("dispute.{name}"), input))
    }

    /// Applies one input: refuses it (nothing changed) or changes the
    /// dispute and returns the engine's commands.
    ///
    /// # Errors
    /// The [`Refusal`].
    pub fn apply(&mut self, input: &Input) -> Result<Vec<Command>, Refusal> {
        let mut next = self.clone();
        let out = next.apply_in_place(input)?;
        *self = next;
        Ok(out)
    }

    /// [`Dispute::apply`] without the copy: on a refusal the dispute may be
    /// half changed (for callers that throw it away).
    fn apply_in_place(&mut self, input: &Input) -> Result<Vec<Command>, Refusal> {
        match input {
            Input::Network {
                event,
                rules,
                policy,
            } => self.network(event, rules.as_ref(), policy.as_ref()),
            Input::Merchant {
                actor,
                at_ms,
                action,
            } => self.merchant(actor, *at_ms, action),
        }
    }

    fn network(
        &mut self,
        ev: &NetworkEvent,
        rules: Option<&DisputeRules>,
        policy: Option<&Policy>,
    ) -> Result<Vec<Command>, Refusal> {
        if ev.dispute != self.id {
            return Err(Refusal::invalid("the event names another dispute"));
        }
        if ev.sequence == 0 {
            return Err(Refusal::invalid("sequence numbers start at 1"));
        }
        if self.applied.iter().any(|a| a.id == ev.id)
            || self.waiting.values().any(|w| w.event.id == ev.id)
        {
            return Err(Refusal::Duplicate);
        }
        if let Some(a) = self.applied.iter().find(|a| a.sequence == ev.sequence) {
            return Err(Refusal::SequenceConflict {
                sequence: ev.sequence,
                holder: a.id.clone(),
            });
        }
        if self.applied.len() + self.waiting.len() >= MAX_EVENTS {
            return Err(Refusal::invalid("the dispute has too many events"));
        }
        let waiting = Waiting {
            event: ev.clone(),
            rules: rules.cloned(),
        };
        if ev.sequence > self.next_sequence {
            // A blocked event may be replaced by another at its number;
            // any other waiting number is held by its first event.
            if let Some(w) = self.waiting.get(&ev.sequence)
                && self.blocked.as_ref().map(|b| b.0) != Some(ev.sequence)
            {
                return Err(Refusal::SequenceConflict {
                    sequence: ev.sequence,
                    holder: w.event.id.clone(),
                });
            }
            if self.waiting.len() >= MAX_WAITING {
                return Err(Refusal::invalid("too many events wait for an earlier one"));
            }
            // Shape checks now, state checks in turn.
            check_event_shape(ev)?;
            if ev.sequence != 1 && matches!(ev.kind, EventKind::Created { .. }) {
                return Err(Refusal::invalid("created is sequence 1"));
            }
            self.waiting.insert(ev.sequence, waiting);
            if self.blocked.as_ref().map(|b| b.0) == Some(ev.sequence) {
                self.blocked = None;
            }
            return Ok(Vec::new());
        }
        // In turn: it replaces a blocked event at its number, if any.
        let mut out = self.event(ev, rules, policy)?;
        self.waiting.remove(&ev.sequence);
        self.blocked = None;
        self.drain(&mut out);
        Ok(out)
    }

    /// Applies the waiting events that are next in turn; the first that is
    /// not valid blocks the rest.
    fn drain(&mut self, out: &mut Vec<Command>) {
        while let Some(w) = self.waiting.get(&self.next_sequence).cloned() {
            if w.event.sequence != self.next_sequence {
                // Only a damaged record files an event under another
                // number: it blocks, it is never applied.
                self.blocked = Some((
                    self.next_sequence,
                    "a waiting event filed under another number".into(),
                ));
                return;
            }
            let mut next = self.clone();
            next.waiting.remove(&w.event.sequence);
            match next.event(&w.event, w.rules.as_ref(), None) {
                Ok(cmds) => {
                    *self = next;
                    self.blocked = None;
                    out.extend(cmds);
                }
                Err(r) => {
                    self.blocked = Some((w.event.sequence, refusal_text(&r)));
                    return;
                }
            }
        }
    }

    /// One network event, in turn.
    fn event(
        &mut self,
        ev: &NetworkEvent,
        rules: Option<&DisputeRules>,
        policy: Option<&Policy>,
    ) -> Result<Vec<Command>, Refusal> {
        check_event_shape(ev)?;
        let name = ev.kind.name();
        let refuse = |s: Status| Refusal::transition(s, name);
        let mut out = Vec::new();
        if self.status == Status::Pending && !matches!(ev.kind, EventKind::Created { .. }) {
            return Err(refuse(self.status));
        }
        match &ev.kind {
            EventKind::Created {
                stage,
                charge,
                amount,
                settlement,
                network,
                reason,
                due_by_ms,
            } => {
                if self.status != Status::Pending {
                    return Err(refuse(self.status));
                }
                let Some(rules) = rules else {
                    return Err(Refusal::invalid("created without the reason's rules"));
                };
                let policy = policy
                    .or(self.policy.as_ref())
                    .ok_or_else(|| Refusal::invalid("created without a policy"))?
                    .clone();
                if rules.network.name.is_empty()
                    || rules.reason.network != *network
                    || rules.reason.code != *reason
                {
                    return Err(Refusal::invalid("the rules are for another reason code"));
                }
                if !matches!(stage, Stage::Inquiry | Stage::Chargeback) {
                    return Err(Refusal::invalid(
                        "a dispute opens as an inquiry or a chargeback",
                    ));
                }
                self.stage = *stage;
                self.status = if *stage == Stage::Inquiry {
                    Status::WarningNeedsResponse
                } else {
                    Status::NeedsResponse
                };
                self.charge.clone_from(charge);
                self.network.clone_from(network);
                self.reason.clone_from(reason);
                self.category = Some(rules.reason.category);
                self.amount = Some(amount.clone());
                self.settlement = Some(settlement.clone().unwrap_or_else(|| amount.clone()));
                self.created_ms = ev.at_ms;
                self.rules = Some(rules.clone());
                self.policy = Some(policy);
                self.open_round(*stage, ev.at_ms, *due_by_ms, &mut out)?;
                self.audit(
                    ev.at_ms,
                    "network",
                    "created",
                    format!(
                        "{} {network} {reason}, {amount} ({})",
                        stage.as_str(),
                        event_detail(ev)
                    ),
                );
            }
            EventKind::Updated { reason, due_by_ms } => {
                if self.status.is_final() {
                    return Err(refuse(self.status));
                }
                if let Some(code) = reason {
                    let Some(rules) = rules else {
                        return Err(Refusal::invalid("a reason change without its rules"));
                    };
                    if rules.reason.code != *code || rules.reason.network != self.network {
                        return Err(Refusal::invalid("the rules are for another reason code"));
                    }
                    self.reason.clone_from(code);
                    self.category = Some(rules.reason.category);
                    let stage = self.stage;
                    if let Some(r) = self.rounds.last_mut()
                        && r.submitted_ms.is_none()
                        && stage != Stage::Inquiry
                    {
                        r.checklist = rules.checklist.clone();
                    }
                    self.rules = Some(rules.clone());
                }
                if let Some(by) = due_by_ms {
                    if !self.status.awaits_response() {
                        return Err(refuse(self.status));
                    }
                    let (stage, opened) = match self.round() {
                        Some(r) => (r.stage, r.opened_ms),
                        None => return Err(refuse(self.status)),
                    };
                    let due = self.compute_due(stage, opened, Some(*by))?;
                    let idx = self.rounds.len() - 1;
                    let old = self.rounds[idx].due_ms;
                    self.rounds[idx].due_ms = due;
                    self.rounds[idx].due_moved = true;
                    self.arm_timers(idx, ev.at_ms, &mut out);
                    let cmd = self.step("index", json!({"set": due, "clear": [old]}));
                    out.push(cmd);
                }
                self.audit(ev.at_ms, "network", "updated", event_detail(ev));
            }
            EventKind::Escalated { stage, due_by_ms } => {
                let allowed = self
                    .rules
                    .as_ref()
                    .is_some_and(|r| r.network.escalations.contains(stage));
                let ok = match stage {
                    Stage::Chargeback => {
                        self.stage == Stage::Inquiry
                            && matches!(
                                self.status,
                                Status::WarningNeedsResponse | Status::WarningUnderReview
                            )
                    }
                    Stage::PreArbitration => {
                        allowed
                            && self.stage == Stage::Chargeback
                            && self.status == Status::UnderReview
                    }
                    Stage::Arbitration => {
                        allowed
                            && matches!(self.stage, Stage::Chargeback | Stage::PreArbitration)
                            && self.status == Status::UnderReview
                    }
                    Stage::Inquiry => false,
                };
                if !ok {
                    return Err(Refusal::transition(
                        self.status,
                        &format!("escalated to {}", stage.as_str()),
                    ));
                }
                self.close_round(&mut out);
                self.stage = *stage;
                if *stage == Stage::Arbitration {
                    self.status = Status::UnderReview;
                } else {
                    self.status = Status::NeedsResponse;
                    self.open_round(*stage, ev.at_ms, *due_by_ms, &mut out)?;
                }
                self.audit(ev.at_ms, "network", "escalated", stage.as_str().to_string());
            }
            EventKind::FundsWithdrawn { amount, fee } => {
                if self.stage == Stage::Inquiry || self.status == Status::WarningClosed {
                    return Err(refuse(self.status));
                }
                self.same_currency(amount)?;
                if let Some(f) = fee {
                    self.same_currency(f)?;
                }
                if self.held() != 0 {
                    return Err(Refusal::transition(
                        self.status,
                        &format!("funds_withdrawn ({} already held)", self.held()),
                    ));
                }
                // Never more than the disputed amount out at once: what was
                // withdrawn and not given back, this withdrawal included.
                let cap = self.settlement.as_ref().map_or(0, |m| m.amount);
                let out_now = self.withdrawn_net().saturating_add(amount.amount);
                if out_now > cap {
                    return Err(Refusal::transition(
                        self.status,
                        &format!(
                            "funds_withdrawn of {} ({} withdrawn and not reinstated, {cap} disputed)",
                            amount.amount,
                            self.withdrawn_net()
                        ),
                    ));
                }
                let fee_amount = fee.as_ref().map_or(0, |f| f.amount);
                let mut postings = vec![
                    Posting {
                        account: Account::MerchantBalance,
                        amount: -(amount.amount + fee_amount),
                    },
                    Posting {
                        account: Account::DisputedFundsHeld,
                        amount: amount.amount,
                    },
                ];
                if fee_amount > 0 {
                    postings.push(Posting {
                        account: Account::DisputeFees,
                        amount: fee_amount,
                    });
                }
                self.post(&ev.id, TxKind::FundsWithdrawn, ev.at_ms, postings);
                self.audit(ev.at_ms, "network", "funds_withdrawn", event_detail(ev));
            }
            EventKind::FundsReinstated { amount, fee_refund } => {
                self.same_currency(amount)?;
                if let Some(f) = fee_refund {
                    self.same_currency(f)?;
                }
                if amount.amount > self.held() {
                    return Err(Refusal::transition(
                        self.status,
                        &format!(
                            "funds_reinstated of {} (only {} held)",
                            amount.amount,
                            self.held()
                        ),
                    ));
                }
                if matches!(self.status, Status::Lost | Status::Accepted) {
                    return Err(refuse(self.status));
                }
                let refund = fee_refund.as_ref().map_or(0, |f| f.amount);
                if refund > self.balance(Account::DisputeFees) {
                    return Err(Refusal::transition(
                        self.status,
                        "funds_reinstated (a fee refund beyond the fees charged)",
                    ));
                }
                let mut postings = vec![
                    Posting {
                        account: Account::DisputedFundsHeld,
                        amount: -amount.amount,
                    },
                    Posting {
                        account: Account::MerchantBalance,
                        amount: amount
                            .amount
                            .checked_add(refund)
                            .ok_or_else(|| Refusal::invalid("the reinstated amount overflows"))?,
                    },
                ];
                if refund > 0 {
                    postings.push(Posting {
                        account: Account::DisputeFees,
                        amount: -refund,
                    });
                }
                self.post(&ev.id, TxKind::FundsReinstated, ev.at_ms, postings);
                self.audit(ev.at_ms, "network", "funds_reinstated", event_detail(ev));
            }
            EventKind::Closed { outcome } => {
                let submitted = self.rounds.iter().any(|r| r.submitted_ms.is_some());
                let (ok, status) = match outcome {
                    Outcome::Won => (
                        self.stage != Stage::Inquiry
                            && self.status == Status::UnderReview
                            && submitted,
                        Status::Won,
                    ),
                    Outcome::Lost => (
                        self.stage != Stage::Inquiry
                            && matches!(self.status, Status::NeedsResponse | Status::UnderReview),
                        Status::Lost,
                    ),
                    Outcome::WarningClosed => (
                        self.stage == Stage::Inquiry
                            && matches!(
                                self.status,
                                Status::WarningNeedsResponse | Status::WarningUnderReview
                            ),
                        Status::WarningClosed,
                    ),
                    Outcome::Reversed => (
                        self.stage != Stage::Inquiry && !self.status.is_final(),
                        Status::Reversed,
                    ),
                };
                if !ok {
                    return Err(Refusal::transition(
                        self.status,
                        &format!("closed as {}", status.as_str()),
                    ));
                }
                self.close_round(&mut out);
                self.status = status;
                self.closed_ms = Some(ev.at_ms);
                self.audit(ev.at_ms, "network", "closed", status.as_str().to_string());
            }
        }
        self.applied.push(AppliedEvent {
            sequence: ev.sequence,
            id: ev.id.clone(),
            kind: name.to_string(),
            at_ms: ev.at_ms,
        });
        self.next_sequence = ev.sequence.saturating_add(1);
        self.settle(&ev.id, ev.at_ms);
        Ok(out)
    }

    fn same_currency(&self, m: &Money) -> Result<(), Refusal> {
        let cur = self.settlement.as_ref().map_or("", |s| s.currency.as_str());
        if m.currency != cur {
            return Err(Refusal::invalid(format!(
                "{} is not the settlement currency {cur}",
                m.currency
            )));
        }
        Ok(())
    }

    fn post(&mut self, id: &str, kind: TxKind, at_ms: u64, postings: Vec<Posting>) {
        let currency = self
            .settlement
            .as_ref()
            .map(|s| s.currency.clone())
            .unwrap_or_default();
        let original = match (&self.amount, &self.settlement) {
            (Some(a), Some(s)) if a.currency != s.currency && kind != TxKind::Loss => {
                Some(a.clone())
            }
            _ => None,
        };
        self.ledger.push(Transaction {
            id: id.to_string(),
            kind,
            at_ms,
            currency,
            postings,
            original,
        });
    }

    /// Held funds of a lost or accepted dispute are lost for good.
    fn settle(&mut self, cause: &str, at_ms: u64) {
        let held = self.held();
        if matches!(self.status, Status::Lost | Status::Accepted) && held > 0 {
            self.post(
                &format!("{cause}:loss"),
                TxKind::Loss,
                at_ms,
                vec![
                    Posting {
                        account: Account::DisputedFundsHeld,
                        amount: -held,
                    },
                    Posting {
                        account: Account::ChargebackLosses,
                        amount: held,
                    },
                ],
            );
        }
    }

    fn compute_due(
        &self,
        stage: Stage,
        opened_ms: u64,
        due_by_ms: Option<u64>,
    ) -> Result<u64, Refusal> {
        let (Some(rules), Some(policy)) = (&self.rules, &self.policy) else {
            return Err(Refusal::invalid("no rules"));
        };
        let days = rules
            .network
            .days
            .get(&stage)
            .or_else(|| rules.network.days.get(&Stage::Chargeback))
            .copied()
            .unwrap_or(30);
        deadline::response_due(
            opened_ms,
            days,
            policy.safety_margin_days,
            &policy.timezone,
            due_by_ms,
        )
        .map_err(Refusal::invalid)
    }

    fn open_round(
        &mut self,
        stage: Stage,
        at_ms: u64,
        due_by_ms: Option<u64>,
        out: &mut Vec<Command>,
    ) -> Result<(), Refusal> {
        let due = self.compute_due(stage, at_ms, due_by_ms)?;
        let Some(rules) = &self.rules else {
            return Err(Refusal::invalid("no rules"));
        };
        let checklist = if stage == Stage::Inquiry {
            rules.inquiry.clone()
        } else {
            rules.checklist.clone()
        };
        self.rounds.push(Round {
            stage,
            opened_ms: at_ms,
            due_ms: due,
            checklist,
            submitted_ms: None,
            submitted_by: None,
            delivered: false,
            deadline_fired: false,
            failed_deliveries: 0,
            submit_step: None,
            due_moved: false,
        });
        let idx = self.rounds.len() - 1;
        self.arm_timers(idx, at_ms, out);
        let cmd = self.step("index", json!({"set": due, "clear": []}));
        out.push(cmd);
        Ok(())
    }

    /// Sets the round's reminder and deadline timers (moving them when the
    /// deadline moved). Reminders already due when the round opened, or
    /// already fired, are not set.
    fn arm_timers(&self, idx: usize, now_ms: u64, out: &mut Vec<Command>) {
        let r = &self.rounds[idx];
        for off in self.policy.as_ref().map_or(&[][..], |p| &p.reminders_ms) {
            let id = format!("remind-{idx}-{off}");
            let at = r.due_ms.saturating_sub(*off);
            if self.reminders_fired.contains(&id) {
                continue;
            }
            if at > now_ms {
                out.push(Command::SetTimer { id, at_ms: at });
            } else {
                out.push(Command::CancelTimer { id });
            }
        }
        out.push(Command::SetTimer {
            id: format!("deadline-{idx}"),
            at_ms: r.due_ms,
        });
    }

    /// Ends the open round's timers and index entry (responded, closed or
    /// escalated).
    fn close_round(&mut self, out: &mut Vec<Command>) {
        let Some(idx) = self.rounds.len().checked_sub(1) else {
            return;
        };
        let offs: Vec<u64> = self
            .policy
            .as_ref()
            .map(|p| p.reminders_ms.clone())
            .unwrap_or_default();
        for off in offs {
            out.push(Command::CancelTimer {
                id: format!("remind-{idx}-{off}"),
            });
        }
        out.push(Command::CancelTimer {
            id: format!("deadline-{idx}"),
        });
        let due = self.rounds[idx].due_ms;
        let cmd = self.step("index", json!({"set": null, "clear": [due]}));
        out.push(cmd);
    }

    fn merchant(
        &mut self,
        actor: &str,
        at_ms: u64,
        action: &Action,
    ) -> Result<Vec<Command>, Refusal> {
        if actor.is_empty() || actor.len() > 128 || !is_printable(actor) {
            return Err(Refusal::invalid(
                "the actor must be 1-128 bytes without control characters",
            ));
        }
        let name = action.name();
        let mut out = Vec::new();
        let status = self.status;
        if !status.awaits_response() {
            if matches!(action, Action::Submit { .. })
                && matches!(status, Status::UnderReview | Status::WarningUnderReview)
                && self.round().is_some_and(|r| r.submitted_ms.is_some())
            {
                return Err(Refusal::AlreadySubmitted);
            }
            return Err(Refusal::transition(status, name));
        }
        let Some(idx) = self.rounds.len().checked_sub(1) else {
            return Err(Refusal::invalid(
                "a dispute awaiting a response without a round",
            ));
        };
        let round = &self.rounds[idx];
        if round.submitted_ms.is_some() {
            return Err(Refusal::AlreadySubmitted);
        }
        if !matches!(action, Action::Accept) && (round.deadline_fired || at_ms > round.due_ms) {
            return Err(Refusal::DeadlinePassed {
                due_ms: round.due_ms,
                at_ms,
            });
        }
        let policy = self
            .policy
            .clone()
            .ok_or_else(|| Refusal::invalid("no policy"))?;
        match action {
            Action::AddEvidence {
                id,
                kind,
                content,
                fields,
            } => {
                if !is_name(id)
                    || self.evidence.iter().any(|e| e.id == *id)
                    || self.removed_evidence.iter().any(|r| r == id)
                {
                    return Err(Refusal::invalid(format!(
                        "evidence id {id:?} is taken, was used before, or is not a name"
                    )));
                }
                if self.evidence.len() + self.removed_evidence.len() >= MAX_EVIDENCE_IDS {
                    return Err(Refusal::EvidenceLimit {
                        reason: format!("at most {MAX_EVIDENCE_IDS} items added per dispute"),
                    });
                }
                if self.evidence.len() >= policy.max_items {
                    return Err(Refusal::EvidenceLimit {
                        reason: format!("at most {} items", policy.max_items),
                    });
                }
                let total = self
                    .evidence
                    .iter()
                    .fold(content.size(), |a, e| a.saturating_add(e.content.size()));
                if total > policy.max_total_bytes {
                    return Err(Refusal::EvidenceLimit {
                        reason: format!(
                            "the package would be {} bytes, over the cap of {}",
                            total, policy.max_total_bytes
                        ),
                    });
                }
                self.evidence.push(EvidenceItem {
                    id: id.clone(),
                    kind: kind.clone(),
                    round: idx as u32,
                    content: content.clone(),
                    fields: fields.clone(),
                    added_by: actor.to_string(),
                    added_ms: at_ms,
                });
                let what = match content {
                    Content::Text { text } => format!("{id} {kind}: text, {} bytes", text.len()),
                    Content::File {
                        name,
                        bytes,
                        sha256,
                        ..
                    } => format!("{id} {kind}: file {name:?}, {bytes} bytes, sha256 {sha256}"),
                };
                self.audit(at_ms, actor, "evidence_added", what);
            }
            Action::RemoveEvidence { item } => {
                let Some(pos) = self.evidence.iter().position(|e| e.id == *item) else {
                    return Err(Refusal::invalid(format!("no evidence item {item:?}")));
                };
                if self.evidence[pos].round as usize != idx {
                    return Err(Refusal::invalid(format!(
                        "{item} was submitted in an earlier round"
                    )));
                }
                let e = self.evidence.remove(pos);
                self.removed_evidence.push(e.id.clone());
                self.audit(
                    at_ms,
                    actor,
                    "evidence_removed",
                    format!("{} {}", e.id, e.kind),
                );
            }
            Action::Submit { round } => {
                if *round as usize != idx {
                    return Err(Refusal::invalid(format!(
                        "round {round} is not the open one ({idx}): read the dispute again"
                    )));
                }
                let missing = self.missing();
                if !missing.is_empty() {
                    return Err(Refusal::EvidenceIncomplete { missing });
                }
                self.rounds[idx].submitted_ms = Some(at_ms);
                self.rounds[idx].submitted_by = Some(actor.to_string());
                self.status = if self.stage == Stage::Inquiry {
                    Status::WarningUnderReview
                } else {
                    Status::UnderReview
                };
                self.close_round(&mut out);
                let items: Vec<&str> = self.evidence.iter().map(|e| e.id.as_str()).collect();
                let cmd = self.step("submit", json!({"round": idx, "items": items}));
                if let Command::Run(call) = &cmd {
                    self.rounds[idx].submit_step = Some(call.id.clone());
                }
                out.push(cmd);
                let n = self.evidence.len();
                self.audit(at_ms, actor, "submitted", format!("{n} items"));
            }
            Action::Accept => {
                self.concede(idx, at_ms, actor, &mut out);
            }
        }
        Ok(out)
    }

    fn concede(&mut self, idx: usize, at_ms: u64, actor: &str, out: &mut Vec<Command>) {
        self.close_round(out);
        self.status = Status::Accepted;
        self.closed_ms = Some(at_ms);
        let cmd = self.step("accept", json!({"round": idx}));
        out.push(cmd);
        self.audit(at_ms, actor, "accepted", String::new());
        self.settle(&format!("accept-{idx}"), at_ms);
    }

    /// A timer fired or a host step finished.
    fn engine_event(&mut self, event: &Event) -> Vec<Command> {
        let mut out = Vec::new();
        match event {
            Event::TimerFired { id } => self.timer(id, &mut out),
            Event::StepCompleted { id, .. } => {
                self.outstanding.retain(|s| s != id);
                let kind = step_kind(id);
                self.hook_failures
                    .retain(|f| step_kind(f.split(':').next().unwrap_or_default()) != kind);
                if let Some(r) = self
                    .rounds
                    .iter_mut()
                    .find(|r| r.submit_step.as_deref() == Some(id.as_str()))
                {
                    r.delivered = true;
                }
            }
            Event::StepFailed { id, error } => {
                self.outstanding.retain(|s| s != id);
                self.hook_failures.insert(0, format!("{id}: {error}"));
                self.hook_failures.truncate(16);
                let at = self.audit.last().map_or(self.created_ms, |a| a.at_ms);
                self.audit(at, "system", "hook_failed", format!("{id}: {error}"));
                self.submission_failed(id, &mut out);
            }
            _ => {}
        }
        out
    }

    /// A submission the processor never took reopens its round, if it is
    /// still the open one (the deadline timer, cancelled at submission, is
    /// set again: past its time it fires at once).
    fn submission_failed(&mut self, step: &str, out: &mut Vec<Command>) {
        let Some(idx) = self
            .rounds
            .iter()
            .position(|r| r.submit_step.as_deref() == Some(step))
        else {
            return;
        };
        let awaiting = matches!(
            self.status,
            Status::UnderReview | Status::WarningUnderReview
        );
        if Some(idx) != self.rounds.len().checked_sub(1)
            || !awaiting
            || self.stage == Stage::Arbitration
        {
            return;
        }
        let r = &mut self.rounds[idx];
        r.submitted_ms = None;
        r.submitted_by = None;
        r.submit_step = None;
        r.failed_deliveries = r.failed_deliveries.saturating_add(1);
        let due = r.due_ms;
        self.status = if self.stage == Stage::Inquiry {
            Status::WarningNeedsResponse
        } else {
            Status::NeedsResponse
        };
        out.push(Command::SetTimer {
            id: format!("deadline-{idx}"),
            at_ms: due,
        });
        let cmd = self.step("index", json!({"set": due, "clear": []}));
        out.push(cmd);
    }

    fn timer(&mut self, id: &str, out: &mut Vec<Command>) {
        if let Some(rest) = id.strip_prefix("remind-") {
            let Some((idx, off)) = rest.split_once('-') else {
                return;
            };
            let (Ok(idx), Ok(off)) = (idx.parse::<usize>(), off.parse::<u64>()) else {
                return;
            };
            let live = Some(idx) == self.rounds.len().checked_sub(1)
                && self.status.awaits_response()
                && self.rounds[idx].submitted_ms.is_none();
            if live && !self.reminders_fired.iter().any(|r| r == id) {
                self.reminders_fired.push(id.to_string());
                let due = self.rounds[idx].due_ms;
                let cmd = self.step(
                    "remind",
                    json!({"round": idx, "due_ms": due, "before_ms": off}),
                );
                out.push(cmd);
                let at = due.saturating_sub(off);
                self.audit(
                    at,
                    "system",
                    "reminded",
                    format!("round {idx}, {off} ms before the deadline"),
                );
            }
        } else if let Some(idx) = id.strip_prefix("deadline-") {
            let Ok(idx) = idx.parse::<usize>() else {
                return;
            };
            if Some(idx) != self.rounds.len().checked_sub(1) || self.rounds[idx].deadline_fired {
                return;
            }
            self.rounds[idx].deadline_fired = true;
            let due = self.rounds[idx].due_ms;
            if self.status.awaits_response() && self.rounds[idx].submitted_ms.is_none() {
                self.at_deadline(idx, due, out);
            }
        }
    }

    fn at_deadline(&mut self, idx: usize, at: u64, out: &mut Vec<Command>) {
        let action = self
            .policy
            .as_ref()
            .map_or(DeadlineAction::Escalate, |p| p.on_deadline);
        self.audit(at, "system", "deadline_missed", format!("round {idx}"));
        match action {
            DeadlineAction::AutoAccept => self.concede(idx, at, "system", out),
            DeadlineAction::Escalate => {
                let cmd = self.step("escalate", json!({"round": idx}));
                out.push(cmd);
            }
        }
    }

    /// A decided and settled dispute completes its workflow after the
    /// policy's window for late events; anything that unsettles it puts
    /// the completion off.
    pub(crate) fn schedule_retire(&mut self, out: &mut Vec<Command>) {
        match (self.done(), self.retire_at) {
            (true, None) => {
                let window = self.policy.as_ref().map_or(0, |p| p.retire_after_ms);
                let at = self
                    .closed_ms
                    .unwrap_or(self.created_ms)
                    .saturating_add(window);
                self.retire_at = Some(at);
                out.push(Command::SetTimer {
                    id: "retire".into(),
                    at_ms: at,
                });
            }
            (false, Some(_)) => {
                self.retire_at = None;
                out.push(Command::CancelTimer {
                    id: "retire".into(),
                });
            }
            _ => {}
        }
    }

    /// Decided, settled, nothing outstanding or waiting.
    fn done(&self) -> bool {
        self.status.is_final()
            && self.held() == 0
            && self.outstanding.is_empty()
            && self.waiting.is_empty()
    }
}

/// `submit` for step id `s7-submit`.
fn step_kind(id: &str) -> &str {
    id.rsplit('-').next().unwrap_or_default()
}

fn refusal_text(r: &Refusal) -> String {
    r.clone().into_error().to_string()
}

fn event_detail(ev: &NetworkEvent) -> String {
    format!("event {} (sequence {})", ev.id, ev.sequence)
}

/// Checks what an event says on its own: names, amounts, currencies.
pub(crate) fn check_event_shape(ev: &NetworkEvent) -> Result<(), Refusal> {
    if ev.id.is_empty() || ev.id.len() > 128 || ev.id.chars().any(char::is_control) {
        return Err(Refusal::invalid(
            "the event id must be 1-128 printable bytes",
        ));
    }
    match &ev.kind {
        EventKind::Created {
            charge,
            amount,
            settlement,
            network,
            reason,
            ..
        } => {
            if charge.is_empty() || charge.len() > 128 || charge.chars().any(char::is_control) {
                return Err(Refusal::invalid(
                    "the charge id must be 1-128 printable bytes",
                ));
            }
            amount.check()?;
            if let Some(s) = settlement {
                s.check()?;
            }
            if !is_name(network) || !is_name(reason) {
                return Err(Refusal::invalid("network and reason must be names"));
            }
        }
        EventKind::Updated { reason, .. } => {
            if reason.as_deref().is_some_and(|r| !is_name(r)) {
                return Err(Refusal::invalid("the reason must be a name"));
            }
        }
        EventKind::Escalated { .. } | EventKind::Closed { .. } => {}
        EventKind::FundsWithdrawn { amount, fee } => {
            amount.check()?;
            if let Some(f) = fee {
                f.check()?;
            }
        }
        EventKind::FundsReinstated { amount, fee_refund } => {
            amount.check()?;
            if let Some(f) = fee_refund {
                f.check()?;
            }
        }
    }
    Ok(())
}

/// The `blocksmith-flow` workflow of a dispute (kind `"dispute"`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DisputeFlow;

/// What starts a dispute's workflow: its id, and the first input when the
/// service has already checked that it applies (the `created` event), so
/// a new dispute is one write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Start {
    /// The dispute id.
    pub id: String,
    /// The first input.
    #[serde(default)]
    pub first: Option<Input>,
}

impl Workflow for DisputeFlow {
    const KIND: &'static str = "dispute";
    type Input = Start;
    type State = Dispute;

    fn start(&self, input: Start) -> (Dispute, Vec<Command>) {
        let mut d = Dispute::pending(&input.id);
        // A first input that does not apply leaves the dispute pending (the
        // service checks it first, so this does not happen).
        let commands = input
            .first
            .as_ref()
            .and_then(|i| d.apply(i).ok())
            .unwrap_or_default();
        (d, commands)
    }

    fn react(&self, state: &mut Dispute, event: &Event) -> Vec<Command> {
        if matches!(event, Event::TimerFired { id } if id == "retire") {
            state.retire_at = None;
            if state.done() {
                return vec![Command::Complete {
                    output: json!({"status": state.status, "held": state.held()}),
                }];
            }
        }
        let mut out = match event {
            Event::Signal { data, .. } => match serde_json::from_value::<Input>(data.clone()) {
                // `admit` ran on this state: a refusal here cannot happen,
                // and would change nothing.
                Ok(input) => state.apply(&input).unwrap_or_default(),
                Err(_) => Vec::new(),
            },
            other => state.engine_event(other),
        };
        state.schedule_retire(&mut out);
        out
    }

    fn admit(&self, state: &Dispute, _name: &str, data: &Value) -> Result<(), Value> {
        let input: Input = serde_json::from_value(data.clone()).map_err(|e| {
            serde_json::to_value(Refusal::invalid(format!("unreadable input: {e}")))
                .unwrap_or(Value::Null)
        })?;
        // `apply` works on its own copy: the probe changes nothing.
        let mut probe = state.clone();
        probe
            .apply_in_place(&input)
            .map(|_| ())
            .map_err(|r| serde_json::to_value(r).unwrap_or(Value::Null))
    }
}
