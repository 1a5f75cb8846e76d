//! Change management over [`blocksmith_store`]: a versioned history of named
//! configs, change proposals with approvals, diffs between versions, one-step
//! revert and drift detection, with secrets redacted in every output.
//!
//! # Layout in the store
//! - `diff/configs/<name>/v/<version, 20 digits>`: one typed record per
//!   version, written create-only (the commit point: two writers racing for
//!   the same version number cannot both win);
//! - `diff/configs/<name>/head`: the latest version number (a hint; readers
//!   probe past it, so a crash between the two writes loses nothing);
//! - `diff/proposals/<id>`: one typed record per proposal, updated by
//!   compare-and-swap; `diff/proposal-seq`: the id counter.
//!
//! # Crash safety
//! Each step is one create-only or compare-and-swap write that commits it,
//! plus at most one more: the head hint after a version (readers probe past
//! it), the proposal after its id is taken (a crash leaves a gap in ids),
//! and the proposal's status after [`ConfigStore::apply`] or
//! [`ConfigStore::rollback`] wrote their version (calling them again
//! completes them, without a second version). So a crash loses at most the
//! step in flight.
//!
//! ```
//! use blocksmith_diff::history::{ConfigStore, HistoryOptions, ProposalStatus};
//! use blocksmith_diff::value::Format;
//! use blocksmith_store::{MemoryStore, block_on};
//! block_on(async {
//!     let configs = ConfigStore::new(MemoryStore::new(), HistoryOptions::default());
//!     let v1 = configs.commit("web", "replicas: 2\npassword: a\n", Some(Format::Yaml), "ada", "first").await?;
//!     let p = configs.propose("web", "replicas: 3\npassword: b\n", Some(Format::Yaml), "ada", "scale up").await?;
//!     configs.submit(&p.id, "ada").await?;
//!     let p = configs.approve(&p.id, "bob").await?;
//!     assert_eq!(p.status, ProposalStatus::Approved);
//!     let p = configs.apply(&p.id, "ada").await?;
//!     let d = configs.diff("web", v1.version, p.applied_version.unwrap()).await?;
//!     assert!(d.report.contains("~ /replicas: 2 -> 3"));
//!     assert!(!d.report.contains("b\"") && d.report.contains("[REDACTED]"));
//!     let drift = configs.drift("web", "replicas: 1\npassword: b\n", Some(Format::Yaml)).await?;
//!     assert!(!drift.in_sync);
//!     Ok::<(), blocksmith_diff::Error>(())
//! })?;
//! # Ok::<(), blocksmith_diff::Error>(())
//! ```

use crate::json_patch::JsonPatch;
use crate::redact::Redactor;
use crate::structured::{self, StructuredDiff, StructuredOptions};
use crate::text::{DiffOptions, TextDiff};
use crate::unified::UnifiedOptions;
use crate::value::{self, Format, Value};
use crate::{Error, Result};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, PutOptions, Store, StoreExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fmt::Write as _;

/// How a version came to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VersionOrigin {
    /// A direct commit.
    Commit,
    /// A revert of version `of`.
    Revert {
        /// The version undone.
        of: u64,
    },
    /// Applying proposal `id`.
    Proposal {
        /// The proposal.
        id: String,
    },
    /// Rolling back proposal `id`.
    Rollback {
        /// The proposal.
        id: String,
    },
}

/// One version of a named config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigVersion {
    /// The config's name.
    pub name: String,
    /// Its number, from 1.
    pub version: u64,
    /// The version it was based on.
    pub parent: Option<u64>,
    /// SHA-256 of the content, hex.
    pub hash: String,
    /// Who made it.
    pub author: String,
    /// Why.
    pub message: String,
    /// When, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The document format, when the config is structured.
    pub format: Option<Format>,
    /// How it was made.
    pub origin: VersionOrigin,
    /// The content.
    pub content: String,
}

impl Record for ConfigVersion {
    const KIND: &'static str = "diff.config_version";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    version: u64,
}

impl Record for Head {
    const KIND: &'static str = "diff.config_head";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Seq {
    next: u64,
}

impl Record for Seq {
    const KIND: &'static str = "diff.proposal_seq";
    const VERSION: u32 = 1;
}

/// The status of a proposal.
///
/// ```text
/// draft --submit--> pending_approval --approve x N--> approved --apply--> applied --rollback--> rolled_back
///   \                    \                               \
///    `------------------- `------------reject------------ `--> rejected
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Being written; not yet asking for review.
    Draft,
    /// Waiting for approvals.
    PendingApproval,
    /// Has its required approvals.
    Approved,
    /// Committed as a new version.
    Applied,
    /// Refused.
    Rejected,
    /// Applied, then undone.
    RolledBack,
}

impl fmt::Display for ProposalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProposalStatus::Draft => "draft",
            ProposalStatus::PendingApproval => "pending approval",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Applied => "applied",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::RolledBack => "rolled back",
        })
    }
}

/// Something that happened to a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalEvent {
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Who.
    pub by: String,
    /// What: `propose`, `submit`, `approve`, `reject`, `apply`, `rollback`.
    pub action: String,
    /// The status after it.
    pub status: ProposalStatus,
    /// A note (a rejection reason).
    pub note: Option<String>,
}

/// A proposed change to a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Its id.
    pub id: String,
    /// The config it changes.
    pub config: String,
    /// The head version it was written against (`None` for a new config).
    pub base_version: Option<u64>,
    /// The proposed content.
    pub content: String,
    /// The document format.
    pub format: Option<Format>,
    /// Who proposed it.
    pub author: String,
    /// Why.
    pub message: String,
    /// Where it stands.
    pub status: ProposalStatus,
    /// Approvals needed.
    pub required_approvals: u32,
    /// Who approved (distinct).
    pub approvals: Vec<String>,
    /// The version applying it made.
    pub applied_version: Option<u64>,
    /// Its history.
    pub events: Vec<ProposalEvent>,
}

impl Record for Proposal {
    const KIND: &'static str = "diff.proposal";
    const VERSION: u32 = 1;
}

/// A diff between two versions (or desired and observed), redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionDiff {
    /// The config.
    pub name: String,
    /// Old side label (a version number or `observed`).
    pub from: String,
    /// New side label.
    pub to: String,
    /// Structured changes (structured configs only), secrets masked.
    pub changes: Option<StructuredDiff>,
    /// The JSON Patch from old to new (structured configs only), secrets masked.
    pub json_patch: Option<JsonPatch>,
    /// A unified diff of the (redacted) documents.
    pub unified: String,
    /// The readable report (structured), or the unified diff (text).
    pub report: String,
}

impl VersionDiff {
    /// `true` when the two sides are equal.
    pub fn is_empty(&self) -> bool {
        self.changes
            .as_ref()
            .map_or(self.unified.is_empty(), StructuredDiff::is_empty)
    }
}

/// Desired (the head version) against observed (what runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The config.
    pub name: String,
    /// The head version compared.
    pub version: u64,
    /// `true` when observed equals desired (structurally, for structured configs).
    pub in_sync: bool,
    /// The differences, from desired to observed, redacted.
    pub diff: VersionDiff,
}

/// Options of a [`ConfigStore`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HistoryOptions {
    /// How structured versions are compared.
    pub structured: StructuredOptions,
    /// Secret paths masked in every diff, report and drift output.
    pub redactor: Redactor,
    /// Approvals a proposal needs (default 1).
    pub required_approvals: u32,
    /// Whether an author may approve their own proposal (default no).
    pub allow_self_approval: bool,
    /// The clock, in ms since the epoch (default: the system clock).
    pub clock: fn() -> u64,
}

fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Default for HistoryOptions {
    fn default() -> Self {
        Self {
            structured: StructuredOptions::default().with_identity_key("name"),
            redactor: Redactor::secrets(),
            required_approvals: 1,
            allow_self_approval: false,
            clock: system_ms,
        }
    }
}

impl HistoryOptions {
    /// Sets the structured diff options.
    #[must_use]
    pub fn with_structured(mut self, s: StructuredOptions) -> Self {
        self.structured = s;
        self
    }
    /// Sets the redactor.
    #[must_use]
    pub fn with_redactor(mut self, r: Redactor) -> Self {
        self.redactor = r;
        self
    }
    /// Sets the approvals a proposal needs.
    #[must_use]
    pub fn with_required_approvals(mut self, n: u32) -> Self {
        self.required_approvals = n;
        self
    }
    /// Allows (or not) self-approval.
    #[must_use]
    pub fn with_self_approval(mut self, on: bool) -> Self {
        self.allow_self_approval = on;
        self
    }
    /// Sets the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }
}

/// Named configs with history, proposals and drift detection over a [`Store`].
#[derive(Debug)]
pub struct ConfigStore<S> {
    store: S,
    options: HistoryOptions,
}

/// SHA-256 of `content`, hex.
pub fn content_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "config name {name:?}: use 1-128 of A-Z a-z 0-9 - _ . (not starting with '.')"
        )))
    }
}

fn version_key(name: &str, v: u64) -> Result<Key> {
    Ok(Key::new(format!("diff/configs/{name}/v/{v:020}"))?)
}

fn head_key(name: &str) -> Result<Key> {
    Ok(Key::new(format!("diff/configs/{name}/head"))?)
}

fn proposal_key(id: &str) -> Result<Key> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::NotFound {
            what: format!("proposal {id:?}"),
        });
    }
    Ok(Key::new(format!("diff/proposals/{id}"))?)
}

impl<S: Store> ConfigStore<S> {
    /// A config store over `store`.
    pub fn new(store: S, options: HistoryOptions) -> Self {
        Self { store, options }
    }

    /// The options.
    pub fn options(&self) -> &HistoryOptions {
        &self.options
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The latest version of `name`, if it exists.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `name` is not 1-128 of `A-Z a-z 0-9 - _ .`
    /// (not starting with `.`); [`Error::Store`] if the store fails or a stored
    /// record does not decode.
    pub async fn head(&self, name: &str) -> Result<Option<ConfigVersion>> {
        check_name(name)?;
        let hint = self
            .store
            .get_record::<Head>(&head_key(name)?)
            .await?
            .map_or(0, |(h, _)| h.version);
        let mut best = None;
        if hint > 0 {
            best = self
                .store
                .get_record::<ConfigVersion>(&version_key(name, hint)?)
                .await?
                .map(|r| r.0);
        }
        // Probe past the hint: a crash after the version write leaves it behind.
        let mut next = hint + 1;
        while let Some((v, _)) = self
            .store
            .get_record::<ConfigVersion>(&version_key(name, next)?)
            .await?
        {
            best = Some(v);
            next += 1;
        }
        Ok(best)
    }

    /// Version `version` of `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an invalid `name` (as for
    /// [`ConfigStore::head`]); [`Error::NotFound`] if `name` has no version
    /// `version`; [`Error::Store`] if the store fails.
    pub async fn get(&self, name: &str, version: u64) -> Result<ConfigVersion> {
        check_name(name)?;
        self.store
            .get_record::<ConfigVersion>(&version_key(name, version)?)
            .await?
            .map(|r| r.0)
            .ok_or_else(|| Error::NotFound {
                what: format!("config {name} version {version}"),
            })
    }

    /// Every version of `name`, oldest first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an invalid `name` (as for
    /// [`ConfigStore::head`]); [`Error::Store`] if the store fails.
    pub async fn history(&self, name: &str) -> Result<Vec<ConfigVersion>> {
        check_name(name)?;
        let mut out = Vec::new();
        for meta in self
            .store
            .list_all(&format!("diff/configs/{name}/v/"))
            .await?
        {
            if let Some((v, _)) = self.store.get_record::<ConfigVersion>(&meta.key).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The names of every config.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails.
    pub async fn names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .store
            .list_all("diff/configs/")
            .await?
            .into_iter()
            .filter_map(|m| {
                m.key
                    .as_str()
                    .strip_prefix("diff/configs/")
                    .and_then(|r| r.split('/').next())
                    .map(str::to_string)
            })
            .collect();
        names.dedup();
        Ok(names)
    }

    /// Commits `content` as the next version of `name`. Structured content is
    /// validated first (a parse error names the line). Content identical to the
    /// head commits nothing and returns the head.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] for an invalid `name` (as for
    ///   [`ConfigStore::head`]);
    /// - [`Error::Parse`] if `format` is given and `content` does not parse as it;
    /// - [`Error::Conflict`] if another writer committed the same version number
    ///   first (read the head again and retry);
    /// - [`Error::Store`] if the store fails.
    pub async fn commit(
        &self,
        name: &str,
        content: &str,
        format: Option<Format>,
        author: &str,
        message: &str,
    ) -> Result<ConfigVersion> {
        let head = self.head(name).await?;
        if let Some(h) = &head
            && h.hash == content_hash(content)
            && h.format == format
        {
            return Ok(h.clone());
        }
        self.write_version(
            name,
            head.map(|h| h.version),
            content,
            format,
            author,
            message,
            VersionOrigin::Commit,
        )
        .await
    }

    /// Writes version `parent + 1`; fails with [`Error::Conflict`] if another
    /// writer already took that number.
    #[allow(clippy::too_many_arguments)]
    async fn write_version(
        &self,
        name: &str,
        parent: Option<u64>,
        content: &str,
        format: Option<Format>,
        author: &str,
        message: &str,
        origin: VersionOrigin,
    ) -> Result<ConfigVersion> {
        check_name(name)?;
        if let Some(f) = format {
            value::parse(content, f)?;
        }
        let version = parent.map_or(1, |p| p + 1);
        let v = ConfigVersion {
            name: name.to_string(),
            version,
            parent,
            hash: content_hash(content),
            author: author.to_string(),
            message: message.to_string(),
            timestamp_ms: (self.options.clock)(),
            format,
            origin,
            content: content.to_string(),
        };
        match self
            .store
            .put_record(&version_key(name, version)?, &v, PutOptions::create())
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_conflict() => {
                return Err(Error::Conflict {
                    what: format!("config {name}"),
                    reason: format!("version {version} was written by someone else first"),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .update_record::<Head, _>(&head_key(name)?, |h| {
                Ok(match h {
                    Some(h) if h.version >= version => None,
                    _ => Some(Head { version }),
                })
            })
            .await?;
        Ok(v)
    }

    /// Undoes the head version of `name` in one step: a new version with its
    /// parent's content.
    ///
    /// # Errors
    /// - [`Error::NotFound`] if `name` has no version;
    /// - [`Error::InvalidArgument`] for an invalid `name`, or if the head is the
    ///   first version (nothing to revert to);
    /// - [`Error::Conflict`] or [`Error::Store`], as for [`ConfigStore::commit`].
    pub async fn revert(
        &self,
        name: &str,
        author: &str,
        message: Option<&str>,
    ) -> Result<ConfigVersion> {
        let head = self.head(name).await?.ok_or_else(|| Error::NotFound {
            what: format!("config {name}"),
        })?;
        let parent = head.parent.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "config {name} has only one version: nothing to revert"
            ))
        })?;
        let prev = self.get(name, parent).await?;
        let msg = message.map_or_else(
            || format!("revert version {}", head.version),
            str::to_string,
        );
        self.write_version(
            name,
            Some(head.version),
            &prev.content,
            prev.format,
            author,
            &msg,
            VersionOrigin::Revert { of: head.version },
        )
        .await
    }

    /// The redacted difference between versions `from` and `to` of `name`.
    ///
    /// # Errors
    /// As [`ConfigStore::get`] for either version; [`Error::Encode`] in the
    /// (unreachable for parsed content) case a redacted value cannot be written as
    /// JSON.
    pub async fn diff(&self, name: &str, from: u64, to: u64) -> Result<VersionDiff> {
        let a = self.get(name, from).await?;
        let b = self.get(name, to).await?;
        self.compare(
            name,
            &a.content,
            a.format.or(b.format),
            &b.content,
            b.format.or(a.format),
            &from.to_string(),
            &to.to_string(),
        )
    }

    /// Compares two contents of config `name` (structured when a format is
    /// given: each side is parsed in its own format, so a YAML config can be
    /// compared with the JSON a running system reports), with secrets masked
    /// in every part of the result.
    ///
    /// # Errors
    /// [`Error::Encode`] if a redacted structured value cannot be written as
    /// JSON (parsed content always can). Content that does not parse as its
    /// format is compared as text, not refused.
    #[allow(clippy::too_many_arguments)]
    pub fn compare(
        &self,
        name: &str,
        old: &str,
        old_format: Option<Format>,
        new: &str,
        new_format: Option<Format>,
        from: &str,
        to: &str,
    ) -> Result<VersionDiff> {
        let format = old_format.or(new_format);
        let r = &self.options.redactor;
        let labels =
            UnifiedOptions::default().with_labels(format!("{name}@{from}"), format!("{name}@{to}"));
        if let Some(f) = format {
            let (va, vb) = (
                value::parse(old, f)?,
                value::parse(new, new_format.unwrap_or(f))?,
            );
            let d = structured::diff(&va, &vb, &self.options.structured);
            let red = r.redact_diff(&d);
            let ra = value::to_string(&r.redact_value(&va), Format::Json)?;
            let rb = value::to_string(&r.redact_value(&vb), Format::Json)?;
            let unified = TextDiff::new(&ra, &rb, &DiffOptions::default()).unified(&labels);
            return Ok(VersionDiff {
                name: name.to_string(),
                from: from.to_string(),
                to: to.to_string(),
                json_patch: Some(red.to_json_patch()),
                report: red.report(),
                changes: Some(red),
                unified,
            });
        }
        let d = TextDiff::new(old, new, &DiffOptions::default());
        let unified = r.redact_text(&d.unified(&labels));
        Ok(VersionDiff {
            name: name.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            changes: None,
            json_patch: None,
            report: unified.clone(),
            unified,
        })
    }

    /// Compares the head of `name` (desired) with `observed` (what runs),
    /// parsing `observed` as `format` (default: the head's format).
    ///
    /// # Errors
    /// - [`Error::NotFound`] if `name` has no version;
    /// - [`Error::InvalidArgument`] for an invalid `name`;
    /// - [`Error::Store`] if the store fails.
    pub async fn drift(
        &self,
        name: &str,
        observed: &str,
        format: Option<Format>,
    ) -> Result<DriftReport> {
        let head = self.head(name).await?.ok_or_else(|| Error::NotFound {
            what: format!("config {name}"),
        })?;
        let diff = self.compare(
            name,
            &head.content,
            head.format.or(format),
            observed,
            format.or(head.format),
            &head.version.to_string(),
            "observed",
        )?;
        Ok(DriftReport {
            name: name.to_string(),
            version: head.version,
            in_sync: diff.is_empty(),
            diff,
        })
    }

    /// Opens a proposal (status draft) to change `name` to `content`, based on its current head.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] for an invalid `name` (as for
    ///   [`ConfigStore::head`]), or if the stored proposal counter is exhausted
    ///   (a corrupt `diff/proposal-seq` record);
    /// - [`Error::Parse`] if `format` is given and `content` does not parse as it;
    /// - [`Error::Store`] if the store fails.
    pub async fn propose(
        &self,
        name: &str,
        content: &str,
        format: Option<Format>,
        author: &str,
        message: &str,
    ) -> Result<Proposal> {
        check_name(name)?;
        if let Some(f) = format {
            value::parse(content, f)?;
        }
        let base = self.head(name).await?.map(|h| h.version);
        let seq_key = Key::new("diff/proposal-seq")?;
        let mut id = 0;
        self.store
            .update_record::<Seq, _>(&seq_key, |s| {
                id = s.map_or(1, |s| s.next);
                // A stored counter at its end (only a corrupt record gets there)
                // writes nothing and fails below instead of overflowing.
                Ok(id.checked_add(1).map(|next| Seq { next }))
            })
            .await?;
        if id == u64::MAX {
            return Err(Error::InvalidArgument(
                "the proposal sequence is exhausted (corrupt diff/proposal-seq record)".into(),
            ));
        }
        let id = format!("{id:06}");
        let p = Proposal {
            id: id.clone(),
            config: name.to_string(),
            base_version: base,
            content: content.to_string(),
            format,
            author: author.to_string(),
            message: message.to_string(),
            status: ProposalStatus::Draft,
            required_approvals: self.options.required_approvals,
            approvals: Vec::new(),
            applied_version: None,
            events: vec![ProposalEvent {
                at_ms: (self.options.clock)(),
                by: author.to_string(),
                action: "propose".into(),
                status: ProposalStatus::Draft,
                note: None,
            }],
        };
        self.store
            .put_record(&proposal_key(&id)?, &p, PutOptions::create())
            .await?;
        Ok(p)
    }

    /// Reads a proposal.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no proposal has id `id` (or `id` is not
    /// alphanumeric-and-dashes); [`Error::Store`] if the store fails.
    pub async fn proposal(&self, id: &str) -> Result<Proposal> {
        self.store
            .get_record::<Proposal>(&proposal_key(id)?)
            .await?
            .map(|r| r.0)
            .ok_or_else(|| Error::NotFound {
                what: format!("proposal {id}"),
            })
    }

    /// Every proposal, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails or a stored proposal does not decode.
    pub async fn proposals(&self) -> Result<Vec<Proposal>> {
        let mut out = Vec::new();
        for m in self.store.list_all("diff/proposals/").await? {
            if let Some((p, _)) = self.store.get_record::<Proposal>(&m.key).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Runs a status transition under compare-and-swap.
    async fn transition<F>(
        &self,
        id: &str,
        by: &str,
        action: &'static str,
        note: Option<String>,
        mut f: F,
    ) -> Result<Proposal>
    where
        F: FnMut(&mut Proposal) -> Result<()> + Send,
    {
        let key = proposal_key(id)?;
        let mut refusal: Option<Error> = None;
        let clock = self.options.clock;
        self.store
            .update_record::<Proposal, _>(&key, |p| {
                let Some(mut p) = p else {
                    refusal = Some(Error::NotFound {
                        what: format!("proposal {id}"),
                    });
                    return Ok(None);
                };
                if let Err(e) = f(&mut p) {
                    refusal = Some(e);
                    return Ok(None);
                }
                p.events.push(ProposalEvent {
                    at_ms: clock(),
                    by: by.to_string(),
                    action: action.to_string(),
                    status: p.status,
                    note: note.clone(),
                });
                refusal = None;
                Ok(Some(p))
            })
            .await?;
        match refusal {
            Some(e) => Err(e),
            None => self.proposal(id).await,
        }
    }

    /// Draft to pending approval.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no proposal has id `id`;
    /// [`Error::InvalidTransition`] unless it is a draft; [`Error::Store`] if the
    /// store fails.
    pub async fn submit(&self, id: &str, by: &str) -> Result<Proposal> {
        self.transition(id, by, "submit", None, |p| {
            require(p, "submit", &[ProposalStatus::Draft])?;
            p.status = if p.required_approvals == 0 {
                ProposalStatus::Approved
            } else {
                ProposalStatus::PendingApproval
            };
            Ok(())
        })
        .await
    }

    /// Records an approval; with enough distinct approvers the proposal is approved.
    ///
    /// # Errors
    /// - [`Error::NotFound`] if no proposal has id `id`;
    /// - [`Error::InvalidTransition`] unless it is pending approval;
    /// - [`Error::InvalidArgument`] if `by` is the proposal's author;
    /// - [`Error::Store`] if the store fails.
    pub async fn approve(&self, id: &str, by: &str) -> Result<Proposal> {
        let self_ok = self.options.allow_self_approval;
        self.transition(id, by, "approve", None, |p| {
            require(p, "approve", &[ProposalStatus::PendingApproval])?;
            if p.author == by && !self_ok {
                return Err(Error::InvalidArgument(format!(
                    "proposal {}: {by} cannot approve their own proposal",
                    p.id
                )));
            }
            if !p.approvals.iter().any(|a| a == by) {
                p.approvals.push(by.to_string());
            }
            if p.approvals.len() as u32 >= p.required_approvals {
                p.status = ProposalStatus::Approved;
            }
            Ok(())
        })
        .await
    }

    /// Refuses a proposal that is not yet applied.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no proposal has id `id`;
    /// [`Error::InvalidTransition`] if it is already applied, rolled back or
    /// rejected; [`Error::Store`] if the store fails.
    pub async fn reject(&self, id: &str, by: &str, reason: &str) -> Result<Proposal> {
        self.transition(id, by, "reject", Some(reason.to_string()), |p| {
            require(
                p,
                "reject",
                &[
                    ProposalStatus::Draft,
                    ProposalStatus::PendingApproval,
                    ProposalStatus::Approved,
                ],
            )?;
            p.status = ProposalStatus::Rejected;
            Ok(())
        })
        .await
    }

    /// Whether version `after + 1` of `name` exists and was made as
    /// `origin`: the first write of an apply or rollback whose second write
    /// (the proposal's update) a crash cut short.
    async fn written_as(
        &self,
        name: &str,
        after: Option<u64>,
        origin: &VersionOrigin,
    ) -> Result<Option<u64>> {
        let next = after.map_or(1, |v| v + 1);
        Ok(self
            .store
            .get_record::<ConfigVersion>(&version_key(name, next)?)
            .await?
            .filter(|(v, _)| v.origin == *origin && v.parent == after)
            .map(|(v, _)| v.version))
    }

    /// Commits an approved proposal. Fails with [`Error::Conflict`] (and the
    /// proposal stays approved) if the config changed since it was proposed.
    ///
    /// An apply cut short by a crash after writing the version (before
    /// recording it on the proposal) is completed by calling it again: the
    /// proposal is marked applied with that version, and no second version
    /// is written.
    ///
    /// # Errors
    /// - [`Error::NotFound`] if no proposal has id `id`;
    /// - [`Error::InvalidTransition`] unless it is approved;
    /// - [`Error::Conflict`] if the config's head is no longer the proposal's
    ///   base version (another change landed: propose again), or another writer
    ///   took the version number first;
    /// - [`Error::Store`] if the store fails.
    pub async fn apply(&self, id: &str, by: &str) -> Result<Proposal> {
        let p = self.proposal(id).await?;
        require(&p, "apply", &[ProposalStatus::Approved])?;
        let head = self.head(&p.config).await?.map(|h| h.version);
        let origin = VersionOrigin::Proposal { id: id.to_string() };
        if head != p.base_version
            && let Some(version) = self.written_as(&p.config, p.base_version, &origin).await?
        {
            return self.mark_applied(id, by, version).await;
        }
        if head != p.base_version {
            return Err(Error::Conflict {
                what: format!("proposal {id}"),
                reason: format!(
                    "config {} is at version {} but the proposal is based on {}",
                    p.config,
                    head.map_or("none".into(), |v| v.to_string()),
                    p.base_version.map_or("none".into(), |v| v.to_string())
                ),
            });
        }
        let msg = format!("{} (proposal {id})", p.message);
        let v = self
            .write_version(&p.config, head, &p.content, p.format, by, &msg, origin)
            .await?;
        self.mark_applied(id, by, v.version).await
    }

    async fn mark_applied(&self, id: &str, by: &str, version: u64) -> Result<Proposal> {
        self.transition(id, by, "apply", None, |p| {
            require(p, "apply", &[ProposalStatus::Approved])?;
            p.status = ProposalStatus::Applied;
            p.applied_version = Some(version);
            Ok(())
        })
        .await
    }

    /// Undoes an applied proposal: commits its parent's content, provided the
    /// proposal's version is still the head.
    ///
    /// Like [`ConfigStore::apply`], a rollback cut short by a crash between
    /// its two writes is completed by calling it again.
    ///
    /// # Errors
    /// - [`Error::NotFound`] if no proposal has id `id`;
    /// - [`Error::InvalidTransition`] unless it is applied;
    /// - [`Error::Conflict`] if the config moved on after the applied version, or
    ///   another writer took the version number first;
    /// - [`Error::InvalidArgument`] if the proposal created the config (there is
    ///   no earlier version to go back to);
    /// - [`Error::Store`] if the store fails.
    pub async fn rollback(&self, id: &str, by: &str) -> Result<Proposal> {
        let p = self.proposal(id).await?;
        require(&p, "roll back", &[ProposalStatus::Applied])?;
        let applied = p.applied_version.unwrap_or(0);
        let head = self.head(&p.config).await?.map_or(0, |h| h.version);
        let origin = VersionOrigin::Rollback { id: id.to_string() };
        if head != applied
            && self
                .written_as(&p.config, Some(applied), &origin)
                .await?
                .is_some()
        {
            return self.mark_rolled_back(id, by).await;
        }
        if head != applied {
            return Err(Error::Conflict {
                what: format!("proposal {id}"),
                reason: format!(
                    "config {} moved on to version {head} after the proposal's version {applied}",
                    p.config
                ),
            });
        }
        let applied_v = self.get(&p.config, applied).await?;
        let (content, format) = match applied_v.parent {
            Some(parent) => {
                let prev = self.get(&p.config, parent).await?;
                (prev.content, prev.format)
            }
            None => {
                return Err(Error::InvalidArgument(format!(
                    "proposal {id} created config {}: nothing to roll back to",
                    p.config
                )));
            }
        };
        self.write_version(
            &p.config,
            Some(head),
            &content,
            format,
            by,
            &format!("roll back proposal {id}"),
            origin,
        )
        .await?;
        self.mark_rolled_back(id, by).await
    }

    async fn mark_rolled_back(&self, id: &str, by: &str) -> Result<Proposal> {
        self.transition(id, by, "rollback", None, |p| {
            require(p, "roll back", &[ProposalStatus::Applied])?;
            p.status = ProposalStatus::RolledBack;
            Ok(())
        })
        .await
    }

    /// The redacted diff a proposal would make against its base.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no proposal has id `id` or its base version is
    /// gone; [`Error::Store`] if the store fails.
    pub async fn proposal_diff(&self, id: &str) -> Result<VersionDiff> {
        let p = self.proposal(id).await?;
        let base = match p.base_version {
            Some(v) => self.get(&p.config, v).await?.content,
            None => String::new(),
        };
        let from = p.base_version.map_or("none".into(), |v| v.to_string());
        if base.is_empty() && p.format.is_some() {
            // A new structured config: compare against an empty document.
            let empty = match p.format {
                Some(Format::Json) => "{}",
                _ => "",
            };
            return self.compare(
                &p.config,
                empty,
                p.format,
                &p.content,
                p.format,
                &from,
                &format!("proposal {id}"),
            );
        }
        self.compare(
            &p.config,
            &base,
            p.format,
            &p.content,
            p.format,
            &from,
            &format!("proposal {id}"),
        )
    }
}

fn require(p: &Proposal, action: &'static str, allowed: &[ProposalStatus]) -> Result<()> {
    if allowed.contains(&p.status) {
        Ok(())
    } else {
        Err(Error::InvalidTransition {
            id: p.id.clone(),
            status: p.status,
            action,
        })
    }
}

/// Parses `text` as `format` when given (a helper for callers holding raw content).
///
/// # Errors
/// [`Error::Parse`] if `format` is given and `text` does not parse as it.
pub fn parse_content(text: &str, format: Option<Format>) -> Result<Option<Value>> {
    format.map(|f| value::parse(text, f)).transpose()
}

impl<S: Store> ConfigStore<S> {
    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread with [`blocksmith_store::block_on`]: never call it from inside
    /// an async runtime's task).
    pub fn blocking(&self) -> BlockingConfigStore<'_, S> {
        BlockingConfigStore(self)
    }
}

/// Blocking calls over a [`ConfigStore`] (see [`ConfigStore::blocking`]).
#[derive(Debug)]
pub struct BlockingConfigStore<'a, S>(&'a ConfigStore<S>);

impl<S: Store> BlockingConfigStore<'_, S> {
    /// [`ConfigStore::head`].
    ///
    /// # Errors
    /// As [`ConfigStore::head`].
    pub fn head(&self, name: &str) -> Result<Option<ConfigVersion>> {
        blocksmith_store::block_on(self.0.head(name))
    }
    /// [`ConfigStore::get`].
    ///
    /// # Errors
    /// As [`ConfigStore::get`].
    pub fn get(&self, name: &str, version: u64) -> Result<ConfigVersion> {
        blocksmith_store::block_on(self.0.get(name, version))
    }
    /// [`ConfigStore::history`].
    ///
    /// # Errors
    /// As [`ConfigStore::history`].
    pub fn history(&self, name: &str) -> Result<Vec<ConfigVersion>> {
        blocksmith_store::block_on(self.0.history(name))
    }
    /// [`ConfigStore::names`].
    ///
    /// # Errors
    /// As [`ConfigStore::names`].
    pub fn names(&self) -> Result<Vec<String>> {
        blocksmith_store::block_on(self.0.names())
    }
    /// [`ConfigStore::commit`].
    ///
    /// # Errors
    /// As [`ConfigStore::commit`].
    pub fn commit(
        &self,
        name: &str,
        content: &str,
        format: Option<Format>,
        author: &str,
        message: &str,
    ) -> Result<ConfigVersion> {
        blocksmith_store::block_on(self.0.commit(name, content, format, author, message))
    }
    /// [`ConfigStore::revert`].
    ///
    /// # Errors
    /// As [`ConfigStore::revert`].
    pub fn revert(&self, name: &str, author: &str, message: Option<&str>) -> Result<ConfigVersion> {
        blocksmith_store::block_on(self.0.revert(name, author, message))
    }
    /// [`ConfigStore::diff`].
    ///
    /// # Errors
    /// As [`ConfigStore::diff`].
    pub fn diff(&self, name: &str, from: u64, to: u64) -> Result<VersionDiff> {
        blocksmith_store::block_on(self.0.diff(name, from, to))
    }
    /// [`ConfigStore::drift`].
    ///
    /// # Errors
    /// As [`ConfigStore::drift`].
    pub fn drift(&self, name: &str, observed: &str, format: Option<Format>) -> Result<DriftReport> {
        blocksmith_store::block_on(self.0.drift(name, observed, format))
    }
    /// [`ConfigStore::propose`].
    ///
    /// # Errors
    /// As [`ConfigStore::propose`].
    pub fn propose(
        &self,
        name: &str,
        content: &str,
        format: Option<Format>,
        author: &str,
        message: &str,
    ) -> Result<Proposal> {
        blocksmith_store::block_on(self.0.propose(name, content, format, author, message))
    }
    /// [`ConfigStore::proposal`].
    ///
    /// # Errors
    /// As [`ConfigStore::proposal`].
    pub fn proposal(&self, id: &str) -> Result<Proposal> {
        blocksmith_store::block_on(self.0.proposal(id))
    }
    /// [`ConfigStore::proposals`].
    ///
    /// # Errors
    /// As [`ConfigStore::proposals`].
    pub fn proposals(&self) -> Result<Vec<Proposal>> {
        blocksmith_store::block_on(self.0.proposals())
    }
    /// [`ConfigStore::submit`].
    ///
    /// # Errors
    /// As [`ConfigStore::submit`].
    pub fn submit(&self, id: &str, by: &str) -> Result<Proposal> {
        blocksmith_store::block_on(self.0.submit(id, by))
    }
    /// [`ConfigStore::approve`].
    ///
    /// # Errors
    /// As [`ConfigStore::approve`].
    pub fn approve(&self, id: &str, by: &str) -> Result<Proposal> {
        blocksmith_store::block_on(self.0.approve(id, by))
    }
    /// [`ConfigStore::reject`].
    ///
    /// # Errors
    /// As [`ConfigStore::reject`].
    pub fn reject(&self, id: &str, by: &str, reason: &str) -> Result<Proposal> {
        blocksmith_store::block_on(self.0.reject(id, by, reason))
    }
    /// [`ConfigStore::apply`].
    ///
    /// # Errors
    /// As [`ConfigStore::apply`].
    pub fn apply(&self, id: &str, by: &str) -> Result<Proposal> {
        blocksmith_store::block_on(self.0.apply(id, by))
    }
    /// [`ConfigStore::rollback`].
    ///
    /// # Errors
    /// As [`ConfigStore::rollback`].
    pub fn rollback(&self, id: &str, by: &str) -> Result<Proposal> {
        blocksmith_store::block_on(self.0.rollback(id, by))
    }
    /// [`ConfigStore::proposal_diff`].
    ///
    /// # Errors
    /// As [`ConfigStore::proposal_diff`].
    pub fn proposal_diff(&self, id: &str) -> Result<VersionDiff> {
        blocksmith_store::block_on(self.0.proposal_diff(id))
    }
}
