//! `blocksmith receipts ...`: delivery and read receipts on the store.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use blocksmith_receipts::{
    Error as RError, ListKind, ManualClock, ReceiptKind, ReceiptStore, ReceiptsOptions, UserId,
};
use clap::Subcommand;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub(crate) enum ReceiptsCmd {
    /// Run a synthetic chat workload (posts, deliveries, scroll-burst reads,
    /// private reads, hidden receipts) into the store and print the update
    /// rate, the writes and the query latencies.
    Simulate {
        /// Conversations.
        #[arg(long, default_value_t = 100)]
        conversations: u32,
        /// Members per conversation.
        #[arg(long, default_value_t = 50)]
        members: u32,
        /// Messages per conversation.
        #[arg(long, default_value_t = 200)]
        messages: u64,
        /// Conversations are named NAME-0, NAME-1, ...
        #[arg(long, default_value = "sim")]
        name: String,
        /// Flush interval in simulated ms (0: write-through).
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Record that USER read (or received) conversation CONV up to message SEQ.
    Read {
        /// Conversation id.
        conversation: String,
        /// User id.
        user: u64,
        /// Sequence number read up to.
        seq: u64,
        /// A private read receipt (moves only the user's own position).
        #[arg(long, conflicts_with = "delivered")]
        private: bool,
        /// A delivery receipt instead of a read.
        #[arg(long)]
        delivered: bool,
    },
    /// A message's status: "delivered to N, read by R of M", with the lists.
    Status {
        /// Conversation id.
        conversation: String,
        /// The message's sequence number.
        seq: u64,
        /// Who is looking (privacy rules depend on it; default: the sender).
        #[arg(long)]
        viewer: Option<u64>,
        /// Longest list printed.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// A user's unread badge and their unread conversations.
    Unread {
        /// User id.
        user: u64,
    },
}

impl From<RError> for CliError {
    fn from(e: RError) -> Self {
        let msg = crate::output::report(&e);
        match e {
            RError::Store(e) => e.into(),
            RError::UnknownConversation(_) | RError::NoMessage { .. } => CliError::NotFound(msg),
            RError::SeqTaken { .. } | RError::Contended(_) => CliError::Conflict(msg),
            RError::Corrupt { .. } | RError::UnsupportedFormat { .. } => CliError::Internal(msg),
            _ => CliError::BadInput(msg),
        }
    }
}

/// The store of a reading command: it must exist already.
fn open_existing(dir: &Path) -> Result<CliStore, CliError> {
    if !crate::backend::exists(dir) {
        return Err(CliError::NotFound(format!("no store at {}", dir.display())));
    }
    crate::backend::open(dir)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[allow(clippy::too_many_arguments)]
fn simulate(
    store_dir: &Path,
    out: &Output,
    conversations: u32,
    members: u32,
    messages: u64,
    name: &str,
    interval_ms: u64,
    seed: u64,
) -> Result<(), CliError> {
    if conversations == 0 || members < 2 || messages == 0 {
        return Err(CliError::BadInput(
            "--conversations and --messages must be at least 1, --members at least 2".into(),
        ));
    }
    let store = crate::backend::open(store_dir)?;
    let clock = ManualClock::new(1_700_000_000_000);
    let options = ReceiptsOptions::default().with_flush_interval_ms(interval_ms);
    let rs = ReceiptStore::with_clock(store, options, clock.clone());
    let b = rs.blocking();
    let first = format!("{name}-0");
    if b.load(&first)? {
        return Err(CliError::Conflict(format!(
            "a simulation named {name:?} is already stored (use --name)"
        )));
    }
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    // Users come from a pool shared by the conversations, so badges span several.
    let pool = u64::from(members).max(u64::from(conversations) * u64::from(members) / 8);
    let ids: Vec<String> = (0..conversations).map(|i| format!("{name}-{i}")).collect();
    let mut rosters: Vec<Vec<UserId>> = Vec::new();
    for id in &ids {
        let mut roster: Vec<UserId> = Vec::new();
        while roster.len() < members as usize {
            let u = UserId(rng.below(pool));
            if !roster.contains(&u) {
                roster.push(u);
            }
        }
        for &u in &roster {
            b.join(id, u)?;
        }
        // One member in ten hides read receipts.
        for &u in roster.iter().filter(|u| u.0 % 10 == 3) {
            b.set_privacy(id, u, blocksmith_receipts::Privacy::Hidden)?;
        }
        rosters.push(roster);
    }
    // Messages round-robin over the conversations; each is delivered to
    // most members, and members scroll in bursts (some privately).
    let (mut updates, mut update_ns) = (0u64, 0u128);
    let mut flush = blocksmith_receipts::FlushStats::default();
    let mut positions: Vec<Vec<u64>> = rosters.iter().map(|r| vec![0; r.len()]).collect();
    for seq in 1..=messages {
        for (c, id) in ids.iter().enumerate() {
            let roster = &rosters[c];
            let sender = roster[rng.below(roster.len() as u64) as usize];
            let mention: Vec<UserId> = if rng.below(20) == 0 {
                vec![roster[rng.below(roster.len() as u64) as usize]]
            } else {
                Vec::new()
            };
            b.post(id, seq, sender, &mention)?;
            let t = Instant::now();
            for (j, &u) in roster.iter().enumerate() {
                if rng.below(10) != 0 {
                    b.delivered(id, u, seq)?;
                    updates += 1;
                }
                if rng.below(8) == 0 {
                    // A burst: scroll from the last position to now.
                    let from = positions[c][j];
                    for s in from + 1..=seq {
                        let kind = if u.0 % 7 == 5 {
                            ReceiptKind::ReadPrivate
                        } else {
                            ReceiptKind::Read
                        };
                        b.receipt(id, u, kind, s)?;
                        updates += 1;
                    }
                    positions[c][j] = seq;
                }
            }
            update_ns += t.elapsed().as_nanos();
        }
        clock.advance(100);
        if seq % 10 == 0 {
            let s = b.tick()?;
            flush.written += s.written;
            flush.bytes += s.bytes;
            flush.batches += s.batches;
        }
    }
    let last = b.flush()?;
    flush.written += last.written;
    flush.bytes += last.bytes;
    let memory = rs.with_engine(|e| e.memory());
    // Query latencies.
    let mut status_us = Vec::new();
    for _ in 0..2000 {
        let c = rng.below(u64::from(conversations)) as usize;
        let seq = rng.below(messages) + 1;
        let t = Instant::now();
        let _ = b.status(&ids[c], seq, UserId(0));
        status_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut badge_us = Vec::new();
    for _ in 0..500 {
        let u = UserId(rng.below(pool));
        let t = Instant::now();
        let _ = b.badge(u);
        badge_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    status_us.sort_by(f64::total_cmp);
    badge_us.sort_by(f64::total_cmp);
    let sample = b.status(&ids[0], messages, UserId(0))?;
    let rate = if update_ns == 0 {
        0.0
    } else {
        updates as f64 / (update_ns as f64 / 1e9)
    };
    let value = json!({
        "conversations": conversations,
        "members": members,
        "messages": messages,
        "users": pool,
        "updates": updates,
        "updates_per_s": rate.round(),
        "writes": flush.written,
        "bytes_written": flush.bytes,
        "feed_batches": flush.batches,
        "aggregator_bytes_per_pair": r2(memory.bytes_per_pair()),
        "status_us": {"p50": r2(percentile(&status_us, 0.5)), "p99": r2(percentile(&status_us, 0.99))},
        "badge_us": {"p50": r2(percentile(&badge_us, 0.5)), "p99": r2(percentile(&badge_us, 0.99))},
        "sample": {
            "conversation": ids[0],
            "seq": messages,
            "sender": sample.sender.0,
            "recipients": sample.recipients,
            "delivered": sample.delivered,
            "read": sample.read,
        },
    });
    out.emit(&value, || {
        format!(
            "{conversations} conversations x {members} members, {messages} messages each ({pool} users)\n\
             {updates} receipt updates at {:.0}/s (through the store handle); {} blocks written ({} bytes), {} feed batches\n\
             aggregator memory {:.2} bytes per (conversation, member) pair\n\
             status p50 {:.2} us p99 {:.2} us; badge p50 {:.2} us p99 {:.2} us\n\
             {} message {messages}: delivered to {}, read by {} of {}",
            rate,
            flush.written,
            flush.bytes,
            flush.batches,
            memory.bytes_per_pair(),
            percentile(&status_us, 0.5),
            percentile(&status_us, 0.99),
            percentile(&badge_us, 0.5),
            percentile(&badge_us, 0.99),
            ids[0],
            sample.delivered,
            sample.read.map_or_else(|| "?".into(), |r| r.to_string()),
            sample.recipients,
        )
    });
    Ok(())
}

fn list_json(r: &Result<Vec<UserId>, RError>) -> Value {
    match r {
        Ok(v) => json!(v.iter().map(|u| u.0).collect::<Vec<_>>()),
        Err(_) => Value::Null,
    }
}

pub(crate) fn run(cmd: ReceiptsCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    match cmd {
        ReceiptsCmd::Simulate {
            conversations,
            members,
            messages,
            name,
            interval_ms,
            seed,
        } => simulate(
            store_dir,
            out,
            conversations,
            members,
            messages,
            &name,
            interval_ms,
            seed,
        ),
        ReceiptsCmd::Read {
            conversation,
            user,
            seq,
            private,
            delivered,
        } => {
            let store = open_existing(store_dir)?;
            // Write-through: the receipt is durable when the command returns.
            let rs = ReceiptStore::new(store, ReceiptsOptions::default().with_flush_interval_ms(0));
            let b = rs.blocking();
            if !b.load(&conversation)? {
                return Err(RError::UnknownConversation(conversation).into());
            }
            let kind = if delivered {
                ReceiptKind::Delivered
            } else if private {
                ReceiptKind::ReadPrivate
            } else {
                ReceiptKind::Read
            };
            let moved = b.receipt(&conversation, UserId(user), kind, seq)?;
            let unread = b.unread(&conversation, UserId(user))?;
            let v = rs
                .with_engine(|e| {
                    e.conversation(&conversation)
                        .and_then(|c| c.member(UserId(user)))
                })
                .ok_or_else(|| CliError::Internal("member vanished".into()))?;
            let kind_name = match kind {
                ReceiptKind::Delivered => "delivered",
                ReceiptKind::ReadPrivate => "read_private",
                _ => "read",
            };
            let value = json!({
                "conversation": conversation,
                "user": user,
                "seq": seq,
                "kind": kind_name,
                "moved": moved,
                "delivered": v.delivered,
                "read": v.read,
                "read_public": v.read_public,
                "unread": {"messages": unread.messages, "mentions": unread.mentions},
            });
            out.emit(&value, || {
                format!(
                    "{kind_name} {seq} by user {user} in {conversation}: {}; delivered {}, read {} (shown to others: {}), {} unread, {} mentions",
                    if moved { "moved" } else { "already there (receipts never go back)" },
                    v.delivered,
                    v.read,
                    v.read_public,
                    unread.messages,
                    unread.mentions
                )
            });
            Ok(())
        }
        ReceiptsCmd::Status {
            conversation,
            seq,
            viewer,
            limit,
        } => {
            let store = open_existing(store_dir)?;
            let rs = ReceiptStore::new(store, ReceiptsOptions::default());
            let b = rs.blocking();
            if !b.load(&conversation)? {
                return Err(RError::UnknownConversation(conversation).into());
            }
            let sender = rs
                .with_engine(|e| e.conversation(&conversation).and_then(|c| c.sender(seq)))
                .ok_or_else(|| {
                    CliError::from(RError::NoMessage {
                        conversation: conversation.clone(),
                        seq,
                    })
                })?;
            let viewer = viewer.map_or(sender, UserId);
            let s = b.status(&conversation, seq, viewer)?;
            let read_by = b.list(&conversation, seq, viewer, ListKind::Read, limit);
            let delivered_to = b.list(&conversation, seq, viewer, ListKind::Delivered, limit);
            let hidden = match &read_by {
                Err(RError::Hidden { reason, .. }) => Some(*reason),
                _ => None,
            };
            let state = match s.state {
                blocksmith_receipts::MessageState::Read => "read",
                blocksmith_receipts::MessageState::Delivered => "delivered",
                _ => "sent",
            };
            let value = json!({
                "conversation": conversation,
                "seq": seq,
                "sender": s.sender.0,
                "viewer": viewer.0,
                "state": state,
                "recipients": s.recipients,
                "delivered": s.delivered,
                "read": s.read,
                "read_by": list_json(&read_by),
                "read_by_hidden": hidden,
                "delivered_to": list_json(&delivered_to),
            });
            out.emit(&value, || {
                let mut t = format!(
                    "message {seq} of {conversation} by user {} ({state}): delivered to {}, read by {} of {}",
                    s.sender,
                    s.delivered,
                    s.read.map_or_else(|| "(hidden)".into(), |r| r.to_string()),
                    s.recipients
                );
                match &read_by {
                    Ok(v) if !v.is_empty() => {
                        let names: Vec<String> = v.iter().map(ToString::to_string).collect();
                        let _ = write!(t, "\nread by: {}", names.join(", "));
                    }
                    Err(RError::Hidden { reason, .. }) => {
                        let _ = write!(t, "\nread list hidden: {reason}");
                    }
                    _ => {}
                }
                t
            });
            Ok(())
        }
        ReceiptsCmd::Unread { user } => {
            let store = open_existing(store_dir)?;
            let rs = ReceiptStore::new(store, ReceiptsOptions::default());
            rs.blocking().load_all()?;
            let badge = rs.badge(UserId(user));
            let mut per: Vec<(String, u64, u64)> = rs.with_engine(|e| {
                e.unread_all(UserId(user))
                    .into_iter()
                    .map(|(c, u)| (c.to_string(), u.messages, u.mentions))
                    .collect()
            });
            per.sort();
            let value = json!({
                "user": user,
                "messages": badge.messages,
                "mentions": badge.mentions,
                "conversations": badge.conversations,
                "unread": per.iter().map(|(c, m, n)| json!({"conversation": c, "messages": m, "mentions": n})).collect::<Vec<_>>(),
            });
            out.emit(&value, || {
                let mut t = format!(
                    "user {user}: {} unread in {} conversations, {} mentions",
                    badge.messages, badge.conversations, badge.mentions
                );
                for (c, m, n) in &per {
                    let _ = write!(t, "\n  {c}: {m} unread");
                    if *n > 0 {
                        let _ = write!(t, ", {n} mentions");
                    }
                }
                t
            });
            Ok(())
        }
    }
}
