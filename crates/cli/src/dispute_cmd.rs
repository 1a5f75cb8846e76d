//! `blocksmith dispute ...`: the payment dispute service on the embedded
//! store. Its host hooks are the in-memory reference ones (the processor is
//! not really called); every command runs the timers and hooks that are due.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use blocksmith_dispute::{
    Dispute, Disputes, Evidence, Ingested, MemoryHooks, Money, NetworkEvent, OpenDispute,
};
use clap::Subcommand;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum DisputeCmd {
    /// Open a dispute (a chargeback, or an inquiry with --inquiry).
    Open {
        /// The disputed charge.
        #[arg(long)]
        charge: String,
        /// The disputed amount in minor units (4999 is 49.99).
        #[arg(long)]
        amount: i64,
        /// The charge's currency (ISO 4217).
        #[arg(long)]
        currency: String,
        /// The network: visa, mastercard, amex, discover.
        #[arg(long)]
        network: String,
        /// The reason code (13.1, 4855, C08, ...).
        #[arg(long)]
        reason: String,
        /// The dispute id (default dp_<charge>).
        #[arg(long)]
        id: Option<String>,
        /// Open it as an inquiry / retrieval request.
        #[arg(long)]
        inquiry: bool,
        /// The amount in the settlement currency, when it differs: AMOUNT:CUR.
        #[arg(long)]
        settlement: Option<String>,
    },
    /// Add (or remove) evidence: KIND and a FILE path or TEXT.
    Evidence {
        /// The dispute.
        id: String,
        /// Add an item: KIND FILE|TEXT (`-`: a file from standard input).
        #[arg(long, num_args = 2, value_names = ["KIND", "FILE|TEXT"])]
        add: Option<Vec<String>>,
        /// A field of the item: NAME=VALUE (repeatable).
        #[arg(long = "field")]
        fields: Vec<String>,
        /// Remove an item by id.
        #[arg(long)]
        remove: Option<String>,
        /// Who does it.
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Submit the response (refused, naming what is missing, until complete).
    Submit {
        /// The dispute.
        id: String,
        /// Who does it.
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Concede the dispute.
    Accept {
        /// The dispute.
        id: String,
        /// Who does it.
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Ingest processor events from a JSON file (one event or an array).
    Event {
        /// The dispute the events are about.
        id: String,
        /// The JSON file (`-`: standard input).
        file: PathBuf,
    },
    /// The response queue: disputes due within a window (7d, 36h, 90m).
    Due {
        /// The window from now.
        #[arg(long, default_value = "7d")]
        within: String,
        /// Most rows.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// A dispute's ledger.
    Ledger {
        /// The dispute.
        id: String,
    },
    /// A dispute: status, deadline, evidence, checklist, audit.
    Show {
        /// The dispute.
        id: String,
    },
    /// Win rate by reason code and amounts at risk.
    Stats,
    /// The ledger checked against the disputes.
    Reconcile,
}

impl From<blocksmith_dispute::Error> for CliError {
    fn from(e: blocksmith_dispute::Error) -> Self {
        use blocksmith_dispute::Error as E;
        let msg = crate::output::report(&e);
        match e {
            E::Store(s) => s.into(),
            E::Flow(f) => f.into(),
            E::NotFound(_) => CliError::NotFound(msg),
            E::Closed(_)
            | E::InvalidTransition { .. }
            | E::DeadlinePassed { .. }
            | E::AlreadySubmitted
            | E::SequenceConflict { .. } => CliError::Conflict(msg),
            E::Invalid { .. }
            | E::EvidenceIncomplete { .. }
            | E::EvidenceLimit(_)
            | E::UnknownReason { .. } => CliError::BadInput(msg),
            _ => CliError::Internal(msg),
        }
    }
}

fn open_service(dir: &Path) -> Result<Disputes<CliStore>, CliError> {
    let store = crate::backend::open(dir)?;
    Ok(Disputes::new(store, MemoryHooks::new()))
}

/// `7d`, `36h`, `90m`, `45s` in ms.
fn duration_ms(s: &str) -> Result<u64, CliError> {
    let bad = || CliError::BadInput(format!("{s:?} is not a duration like 7d, 36h, 90m"));
    if !s.is_ascii() || s.is_empty() {
        return Err(bad());
    }
    let (n, unit) = s.split_at(s.len() - 1);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let mult = match unit {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1000,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn dispute_json(d: &Dispute) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
    v["held"] = json!(d.held());
    v["due_ms"] = json!(d.due_ms());
    v["missing"] = json!(d.missing());
    v
}

fn dispute_text(d: &Dispute) -> String {
    let amount = d
        .amount
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    let mut s = format!(
        "{} ({} {} {}): {} at {}, {amount}",
        d.id,
        d.network,
        d.reason,
        d.category.map_or("", |c| c.as_str()),
        d.status,
        d.stage.as_str(),
    );
    if let Some(due) = d.due_ms() {
        let _ = write!(s, "\n  respond by {due} (Unix ms)");
    }
    for m in d.missing() {
        let _ = write!(s, "\n  missing: {}", m.any_of.join(" or "));
    }
    for e in &d.evidence {
        let _ = write!(s, "\n  evidence {} {} (by {})", e.id, e.kind, e.added_by);
    }
    let _ = write!(s, "\n  held: {}", d.held());
    if let Some((seq, why)) = &d.blocked {
        let _ = write!(s, "\n  event {seq} blocked: {why}");
    }
    for a in &d.audit {
        let _ = write!(
            s,
            "\n  {} {:<8} {:<16} {}",
            a.at_ms, a.actor, a.action, a.detail
        );
    }
    s
}

fn parse_money(s: &str) -> Result<Money, CliError> {
    let (a, c) = s
        .split_once(':')
        .ok_or_else(|| CliError::BadInput(format!("{s:?} is not AMOUNT:CURRENCY")))?;
    let a = a
        .parse()
        .map_err(|_| CliError::BadInput(format!("{a:?} is not an amount in minor units")))?;
    Ok(Money::new(a, c))
}

pub(crate) fn run(cmd: DisputeCmd, dir: &Path, out: &Output) -> Result<(), CliError> {
    let d = open_service(dir)?;
    match cmd {
        DisputeCmd::Open {
            charge,
            amount,
            currency,
            network,
            reason,
            id,
            inquiry,
            settlement,
        } => {
            let mut req = OpenDispute::new(charge, Money::new(amount, currency), network, reason);
            if let Some(id) = id {
                req = req.with_id(id);
            }
            if inquiry {
                req = req.as_inquiry();
            }
            if let Some(s) = settlement {
                req = req.with_settlement(parse_money(&s)?);
            }
            let x = d.blocking().open(req)?;
            d.blocking().run_due()?;
            out.emit(&dispute_json(&x), || dispute_text(&x));
        }
        DisputeCmd::Evidence {
            id,
            add,
            fields,
            remove,
            by,
        } => {
            if let Some(item) = remove {
                d.blocking().remove_evidence(&id, &item, &by)?;
            }
            if let Some(add) = add {
                let [kind, body] = <[String; 2]>::try_from(add)
                    .map_err(|_| CliError::BadInput("--add takes KIND and FILE|TEXT".into()))?;
                let path = Path::new(&body);
                let limit = blocksmith_dispute::DisputeOptions::default().max_file_bytes;
                let mut e = if crate::files::is_std(path) {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(
                        &mut std::io::Read::take(std::io::stdin().lock(), limit + 1),
                        &mut bytes,
                    )?;
                    if bytes.len() as u64 > limit {
                        return Err(CliError::BadInput(format!(
                            "standard input: larger than {limit} bytes"
                        )));
                    }
                    Evidence::file(kind, "stdin", bytes)
                } else if path.is_file() {
                    // Read no more than the largest file the service takes.
                    if std::fs::metadata(path)?.len() > limit {
                        return Err(CliError::BadInput(format!(
                            "{body}: larger than {limit} bytes"
                        )));
                    }
                    let bytes = std::fs::read(path)?;
                    let name = path
                        .file_name()
                        .map_or_else(|| body.clone(), |n| n.to_string_lossy().into_owned());
                    Evidence::file(kind, name, bytes)
                } else {
                    Evidence::text(kind, body)
                };
                for f in fields {
                    let (k, v) = f
                        .split_once('=')
                        .ok_or_else(|| CliError::BadInput(format!("{f:?} is not NAME=VALUE")))?;
                    e = e.with_field(k, v);
                }
                d.blocking().add_evidence(&id, e.by(by))?;
            }
            let x = d.blocking().get(&id)?;
            out.emit(&dispute_json(&x), || dispute_text(&x));
        }
        DisputeCmd::Submit { id, by } => {
            d.blocking().submit(&id, &by)?;
            d.blocking().run_due()?;
            let x = d.blocking().get(&id)?;
            out.emit(&dispute_json(&x), || dispute_text(&x));
        }
        DisputeCmd::Accept { id, by } => {
            d.blocking().accept(&id, &by)?;
            d.blocking().run_due()?;
            let x = d.blocking().get(&id)?;
            out.emit(&dispute_json(&x), || dispute_text(&x));
        }
        DisputeCmd::Event { id, file } => {
            let text = crate::files::read(&file)?;
            let v: Value = serde_json::from_slice(&text)
                .map_err(|e| CliError::BadInput(format!("{}: {e}", crate::files::name(&file))))?;
            let list = match v {
                Value::Array(a) => a,
                one => vec![one],
            };
            let mut results = Vec::new();
            for ev in list {
                let ev: NetworkEvent = serde_json::from_value(ev)
                    .map_err(|e| CliError::BadInput(format!("{}: {e}", file.display())))?;
                if ev.dispute != id {
                    return Err(CliError::BadInput(format!(
                        "event {} is about {}, not {id}",
                        ev.id, ev.dispute
                    )));
                }
                let r = d.blocking().ingest(ev.clone())?;
                results.push((ev.id, r == Ingested::Duplicate));
            }
            d.blocking().run_due()?;
            let x = d.blocking().get(&id)?;
            out.emit(
                &json!({"events": results.iter().map(|(e, dup)| json!({"id": e, "duplicate": dup})).collect::<Vec<_>>(), "dispute": dispute_json(&x)}),
                || {
                    let mut s = String::new();
                    for (e, dup) in &results {
                        let _ = writeln!(s, "{e}: {}", if *dup { "duplicate" } else { "accepted" });
                    }
                    s + &dispute_text(&x)
                },
            );
        }
        DisputeCmd::Due { within, limit } => {
            d.blocking().run_due()?;
            let until = now_ms().saturating_add(duration_ms(&within)?);
            let rows = d.blocking().due(until, limit, None)?;
            out.emit(&serde_json::to_value(&rows).unwrap_or(Value::Null), || {
                rows.iter()
                    .map(|r| {
                        let amount = r
                            .amount
                            .as_ref()
                            .map_or_else(String::new, ToString::to_string);
                        format!(
                            "{:<20} due {} {:<22} {} {} {amount} ({} missing)",
                            r.id,
                            r.due_ms,
                            r.status.as_str(),
                            r.network,
                            r.reason,
                            r.missing
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        DisputeCmd::Ledger { id } => {
            let x = d.blocking().get(&id)?;
            out.emit(
                &json!({"ledger": x.ledger, "held": x.held(), "balanced": x.ledger_balanced()}),
                || {
                    let mut s = String::new();
                    for t in &x.ledger {
                        let _ = writeln!(s, "{} {:?} ({})", t.id, t.kind, t.currency);
                        for p in &t.postings {
                            let _ = writeln!(
                                s,
                                "  {:<22} {:>12}",
                                format!("{:?}", p.account),
                                p.amount
                            );
                        }
                    }
                    let _ = write!(s, "held {}; balanced: {}", x.held(), x.ledger_balanced());
                    s
                },
            );
        }
        DisputeCmd::Show { id } => {
            d.blocking().run_due()?;
            let x = d.blocking().get(&id)?;
            out.emit(&dispute_json(&x), || dispute_text(&x));
        }
        DisputeCmd::Stats => {
            let s = d.blocking().stats()?;
            out.emit(&serde_json::to_value(&s).unwrap_or(Value::Null), || {
                let mut t = String::new();
                for (r, st) in &s.by_reason {
                    let rate = st
                        .win_rate()
                        .map_or("-".into(), |w| format!("{:.0}%", w * 100.0));
                    let _ = writeln!(
                        t,
                        "{r:<20} won {} lost {} open {} win rate {rate}",
                        st.won, st.lost, st.open
                    );
                }
                for (c, a) in &s.at_risk {
                    let _ = writeln!(t, "at risk: {a} {c}");
                }
                t.trim_end().to_string()
            });
        }
        DisputeCmd::Reconcile => {
            let r = d.blocking().reconcile()?;
            out.emit(&serde_json::to_value(&r).unwrap_or(Value::Null), || {
                let mut t = format!("{} disputes, {} findings", r.disputes, r.findings.len());
                for f in &r.findings {
                    let _ = write!(t, "\n  {}: {}", f.id, f.issue);
                }
                t
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::duration_ms;

    #[test]
    fn durations_parse() {
        assert_eq!(duration_ms("7d").unwrap(), 7 * 86_400_000);
        assert_eq!(duration_ms("90m").unwrap(), 5_400_000);
        assert!(duration_ms("7w").is_err());
        assert!(duration_ms("").is_err());
        assert!(duration_ms("7é").is_err());
        assert!(duration_ms("99999999999999999999d").is_err());
    }
}
