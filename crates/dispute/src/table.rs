//! Card networks, their reason codes and the evidence each needs: a
//! versioned table of data, replaceable by the host.
//!
//! The default table ([`ReasonTable::standard`], `data/reason_codes.json`)
//! lists Visa (Visa Claims Resolution), Mastercard, American Express and
//! Discover reason codes grouped Visa-style into four categories, each
//! with an evidence checklist, and the response windows in calendar days.
//! Windows and checklists vary by acquirer and processor: hosts load their
//! own with [`ReasonTable::from_json`]. A dispute keeps the rules it was
//! opened under, so a new table changes new disputes only.

use crate::error::{Error, Result};
use crate::model::{Checklist, Stage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Visa's four dispute categories, used for every network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// The cardholder did not make the purchase.
    Fraud,
    /// The transaction lacked a valid authorization.
    Authorization,
    /// Duplicate, late, wrong amount or currency, ...
    ProcessingError,
    /// Not received, not as described, cancelled, credit not processed, ...
    ConsumerDispute,
}

impl Category {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Fraud => "fraud",
            Category::Authorization => "authorization",
            Category::ProcessingError => "processing_error",
            Category::ConsumerDispute => "consumer_dispute",
        }
    }
}

/// A field an evidence kind carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldSpec {
    /// The field's name.
    pub name: String,
    /// True when the value must be a date, `YYYY-MM-DD`.
    #[serde(default)]
    pub date: bool,
}

/// An evidence kind: what it is and the fields it must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KindSpec {
    /// What it is, for people.
    pub description: String,
    /// Required fields.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// A card network's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkRules {
    /// Display name.
    pub name: String,
    /// What the network calls the merchant's response (`second_presentment`
    /// for Mastercard).
    pub response_name: String,
    /// Calendar days to respond, from the stage's start, by stage
    /// (`inquiry`, `chargeback`, `pre_arbitration`).
    pub days: BTreeMap<Stage, u32>,
    /// The later stages the network has, in order (`pre_arbitration`,
    /// `arbitration`).
    #[serde(default)]
    pub escalations: Vec<Stage>,
}

/// One reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReasonCode {
    /// The network's id (`visa`).
    pub network: String,
    /// The code (`13.1`, `4855`, `C08`).
    pub code: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: Category,
    /// Its own checklist (else the category's).
    #[serde(default)]
    pub checklist: Option<Checklist>,
}

impl ReasonCode {
    /// Code `code` of `network`, titled `title`, in `category` (checked
    /// when added to a table).
    pub fn new(
        network: impl Into<String>,
        code: impl Into<String>,
        title: impl Into<String>,
        category: Category,
    ) -> Self {
        ReasonCode {
            network: network.into(),
            code: code.into(),
            title: title.into(),
            category,
            checklist: None,
        }
    }

    /// Gives it its own checklist (else its category's applies).
    #[must_use]
    pub fn with_checklist(mut self, c: Checklist) -> Self {
        self.checklist = Some(c);
        self
    }
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReasonTable {
    /// The table's version, recorded in every dispute opened under it.
    pub version: String,
    /// Evidence kinds by name.
    pub evidence_kinds: BTreeMap<String, KindSpec>,
    /// Networks by id.
    pub networks: BTreeMap<String, NetworkRules>,
    /// The checklist of each category.
    pub categories: BTreeMap<Category, Checklist>,
    /// The checklist of an inquiry (retrieval request).
    pub inquiry: Checklist,
    /// Reason codes.
    pub reasons: Vec<ReasonCode>,
}

/// The rules a dispute is opened under, copied into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DisputeRules {
    /// The table's version.
    pub table_version: String,
    /// The network's rules.
    pub network: NetworkRules,
    /// The reason code.
    pub reason: ReasonCode,
    /// Its checklist (the reason's own, else its category's).
    pub checklist: Checklist,
    /// The inquiry checklist.
    pub inquiry: Checklist,
}

const STANDARD: &str = include_str!("../data/reason_codes.json");

impl ReasonTable {
    /// The bundled table (`data/reason_codes.json`).
    ///
    /// # Panics
    /// Never: the bundled table is checked by the crate's tests.
    pub fn standard() -> Self {
        Self::from_json(STANDARD).expect("the bundled reason table is valid")
    }

    /// A table from its JSON form (the shape of `data/reason_codes.json`),
    /// checked: every checklist names known kinds, every reason a known
    /// network, no code twice, no network without a chargeback window.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first problem.
    pub fn from_json(json: &str) -> Result<Self> {
        if json.len() > 4 << 20 {
            return Err(invalid("larger than 4 MiB".into()));
        }
        let t: ReasonTable =
            serde_json::from_str(json).map_err(|e| invalid(format!("not a reason table: {e}")))?;
        t.check()?;
        Ok(t)
    }

    /// Checks the table: every checklist names known evidence kinds,
    /// every reason a known network, no code twice, every network has a
    /// chargeback window of 1-365 days, names are names.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first problem.
    pub fn check(&self) -> Result<()> {
        if self.version.is_empty() || self.version.len() > 64 {
            return Err(invalid("the version must be 1-64 bytes".into()));
        }
        let check_list = |where_: &str, c: &Checklist| -> Result<()> {
            for k in c.required.iter().flatten().chain(&c.optional) {
                if !self.evidence_kinds.contains_key(k) {
                    return Err(invalid(format!(
                        "{where_} names unknown evidence kind {k:?}"
                    )));
                }
            }
            if c.required.iter().any(Vec::is_empty) {
                return Err(invalid(format!("{where_} has an empty requirement")));
            }
            Ok(())
        };
        for (name, k) in &self.evidence_kinds {
            if !crate::model::is_name(name) {
                return Err(invalid(format!("evidence kind {name:?} is not a name")));
            }
            if k.fields.iter().any(|f| !crate::model::is_name(&f.name)) {
                return Err(invalid(format!(
                    "evidence kind {name:?} has a bad field name"
                )));
            }
        }
        for (cat, c) in &self.categories {
            check_list(cat.as_str(), c)?;
        }
        check_list("the inquiry checklist", &self.inquiry)?;
        for (id, n) in &self.networks {
            if !crate::model::is_name(id) {
                return Err(invalid(format!("network id {id:?} is not a name")));
            }
            if !n.days.contains_key(&Stage::Chargeback) {
                return Err(invalid(format!("network {id:?} has no chargeback window")));
            }
            if n.days.values().any(|d| *d == 0 || *d > 365) {
                return Err(invalid(format!(
                    "network {id:?} has a window outside 1-365 days"
                )));
            }
            if n.escalations.iter().any(|s| {
                !matches!(s, Stage::PreArbitration | Stage::Arbitration)
                    || (*s == Stage::PreArbitration && !n.days.contains_key(s))
            }) {
                return Err(invalid(format!(
                    "network {id:?}: escalations are pre_arbitration (with a window) and arbitration"
                )));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.reasons {
            if !self.networks.contains_key(&r.network) {
                return Err(invalid(format!(
                    "reason {} names unknown network {:?}",
                    r.code, r.network
                )));
            }
            if r.code.is_empty() || r.code.len() > 16 || !crate::model::is_name(&r.code) {
                return Err(invalid(format!(
                    "reason code {:?} is not 1-16 name bytes",
                    r.code
                )));
            }
            if !seen.insert((r.network.as_str(), r.code.as_str())) {
                return Err(invalid(format!("{} {} appears twice", r.network, r.code)));
            }
            if let Some(c) = &r.checklist {
                check_list(&format!("{} {}", r.network, r.code), c)?;
            } else if !self.categories.contains_key(&r.category) {
                return Err(invalid(format!(
                    "category {} has no checklist",
                    r.category.as_str()
                )));
            }
        }
        Ok(())
    }

    /// Adds (or replaces) a reason code, and checks the table.
    ///
    /// # Errors
    /// [`Error::Invalid`]: the table is left as it was.
    pub fn add_reason(&mut self, reason: ReasonCode) -> Result<()> {
        let mut next = self.clone();
        next.reasons
            .retain(|r| !(r.network == reason.network && r.code == reason.code));
        next.reasons.push(reason);
        next.check()?;
        *self = next;
        Ok(())
    }

    /// A reason code.
    ///
    /// # Errors
    /// [`Error::UnknownNetwork`], [`Error::UnknownReason`].
    pub fn reason(&self, network: &str, code: &str) -> Result<&ReasonCode> {
        if !self.networks.contains_key(network) {
            return Err(Error::UnknownNetwork(network.to_string()));
        }
        self.reasons
            .iter()
            .find(|r| r.network == network && r.code == code)
            .ok_or_else(|| Error::UnknownReason {
                network: network.to_string(),
                code: code.to_string(),
            })
    }

    /// The checklist for a reason code (its own, else its category's).
    ///
    /// # Errors
    /// [`Error::UnknownReason`].
    pub fn checklist(&self, network: &str, code: &str) -> Result<&Checklist> {
        let r = self.reason(network, code)?;
        match &r.checklist {
            Some(c) => Ok(c),
            None => self.categories.get(&r.category).ok_or_else(|| {
                invalid(format!("category {} has no checklist", r.category.as_str()))
            }),
        }
    }

    /// The rules a dispute on `network` for `code` is opened under.
    ///
    /// # Errors
    /// [`Error::UnknownReason`].
    pub fn rules(&self, network: &str, code: &str) -> Result<DisputeRules> {
        let mut reason = self.reason(network, code)?.clone();
        // Its checklist is `checklist`, kept once.
        reason.checklist = None;
        let checklist = self.checklist(network, code)?.clone();
        let network = self
            .networks
            .get(network)
            .ok_or_else(|| Error::UnknownReason {
                network: network.to_string(),
                code: code.to_string(),
            })?
            .clone();
        Ok(DisputeRules {
            table_version: self.version.clone(),
            network,
            reason,
            checklist,
            inquiry: self.inquiry.clone(),
        })
    }
}

fn invalid(reason: String) -> Error {
    Error::Invalid {
        what: "reason table",
        reason,
    }
}
