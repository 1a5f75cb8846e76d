//! `blocksmith flow ...` and `blocksmith tenant ...`: durable workflows and
//! the tenant service on the embedded store. The CLI's workflows are the
//! tenant service's (its engine, prefix `tenant-flow`); its host systems are
//! the in-memory reference hooks, so a run shows what a real deployment does
//! without touching real databases or billing.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use blocksmith_flow::{ListFilter, Status};
use blocksmith_tenant::{CreateTenant, MemoryHooks, Plans, Tenant, Tenants, Tier};
use clap::Subcommand;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub(crate) enum FlowCmd {
    /// List workflow instances.
    List {
        /// Only this status (running, compensating, completed, rolled_back, failed).
        #[arg(long)]
        state: Option<String>,
    },
    /// Show an instance: status, state and history.
    Show {
        /// Instance id.
        id: String,
    },
    /// Send a signal to an instance (deduplicated by `--event-id`).
    Signal {
        /// Instance id.
        id: String,
        /// Signal name.
        name: String,
        /// JSON payload.
        #[arg(long, default_value = "null")]
        data: String,
        /// Event id (default: a fresh one, so every call is a new event).
        #[arg(long)]
        event_id: Option<String>,
    },
    /// Run the work that is due now, once.
    Tick,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TenantCmd {
    /// Request a tenant and run its provisioning (rolled back on failure).
    Create {
        /// The slug (subdomain).
        slug: String,
        /// The plan: free, pro or enterprise.
        #[arg(long, default_value = "free")]
        plan: String,
        /// Isolation tier.
        #[arg(long, default_value = "shared", value_parser = ["shared", "schema", "database"])]
        tier: String,
        /// The admin to invite.
        #[arg(long, default_value = "admin@example.com")]
        admin: String,
        /// Request id (the same id never makes two tenants; default: the slug).
        #[arg(long)]
        request_id: Option<String>,
        /// Make a provisioning step fail, to show the rollback.
        #[arg(long, value_parser = ["allocate", "migrate", "billing", "seed", "invite"])]
        fail_at: Option<String>,
    },
    /// Show a tenant (by slug or id) with its audit trail.
    Show {
        /// Slug or id.
        slug: String,
    },
    /// List tenants.
    List,
    /// Suspend an active tenant.
    Suspend {
        /// Slug or id.
        slug: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Resume a suspended tenant.
    Resume {
        /// Slug or id.
        slug: String,
    },
    /// Soft-delete a tenant (data exported; purgeable after the grace period).
    Delete {
        /// Slug or id.
        slug: String,
    },
    /// Purge a deleted tenant whose grace period is over.
    Purge {
        /// Slug or id.
        slug: String,
    },
    /// Move a tenant to another plan.
    Plan {
        /// Slug or id.
        slug: String,
        /// The new plan.
        plan: String,
    },
}

impl From<blocksmith_flow::Error> for CliError {
    fn from(e: blocksmith_flow::Error) -> Self {
        use blocksmith_flow::Error as E;
        let msg = crate::output::report(&e);
        match e {
            E::Store(s) => s.into(),
            E::NotFound(_) => CliError::NotFound(msg),
            E::Finished(_) | E::Contended(_) => CliError::Conflict(msg),
            E::Invalid { .. } | E::Serde { .. } | E::UnknownWorkflow { .. } => {
                CliError::BadInput(msg)
            }
            _ => CliError::Internal(msg),
        }
    }
}

impl From<blocksmith_tenant::Error> for CliError {
    fn from(e: blocksmith_tenant::Error) -> Self {
        use blocksmith_tenant::Error as E;
        let msg = crate::output::report(&e);
        match e {
            E::Store(s) => s.into(),
            E::Flow(f) => f.into(),
            E::NotFound(_) => CliError::NotFound(msg),
            E::SlugTaken(_) | E::RequestMismatch(_) | E::Contended(_) => CliError::Conflict(msg),
            E::InvalidSlug { .. } | E::UnknownPlan(_) | E::InvalidTransition { .. } => {
                CliError::BadInput(msg)
            }
            _ => CliError::Internal(msg),
        }
    }
}

fn open(dir: &Path, hooks: MemoryHooks) -> Result<Tenants<CliStore>, CliError> {
    let store = crate::backend::open(dir)?;
    Ok(Tenants::new(store, hooks, Plans::example()))
}

fn status_of(s: &str) -> Result<Status, CliError> {
    Ok(match s {
        "running" => Status::Running,
        "compensating" => Status::Compensating,
        "completed" => Status::Completed,
        "rolled_back" => Status::RolledBack,
        "failed" => Status::Failed,
        _ => return Err(CliError::BadInput(format!("unknown state {s:?}"))),
    })
}

pub(crate) fn run_flow(cmd: FlowCmd, dir: &Path, out: &Output) -> Result<(), CliError> {
    let tenants = open(dir, MemoryHooks::new())?;
    let engine = tenants.engine();
    match cmd {
        FlowCmd::List { state } => {
            let mut f = ListFilter::default().with_archived(true);
            if let Some(s) = state {
                f = f.with_status(status_of(&s)?);
            }
            let rows = blocksmith_store::block_on(engine.list(&f))?;
            let v: Vec<Value> = rows
                .iter()
                .map(|r| json!({"id": r.id, "kind": r.kind, "status": r.status.as_str(), "steps": r.completed_steps.len(), "undone": r.undone}))
                .collect();
            out.emit(&json!(v), || {
                rows.iter()
                    .map(|r| format!("{:<40} {:<8} {}", r.id, r.kind, r.status.as_str()))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        FlowCmd::Show { id } => {
            let view = blocksmith_store::block_on(engine.get(&id))?
                .ok_or_else(|| CliError::NotFound(format!("no instance {id:?}")))?;
            let history = blocksmith_store::block_on(engine.history(&id))?;
            let hv = serde_json::to_value(&history).unwrap_or(Value::Null);
            let vv = serde_json::to_value(&view).unwrap_or(Value::Null);
            out.emit(&json!({"instance": vv, "history": hv}), || {
                let mut s = format!(
                    "{} ({} v{}): {}\ncompleted: {:?}\nundone: {:?}\nhistory:",
                    view.id,
                    view.kind,
                    view.version,
                    view.status.as_str(),
                    view.completed_steps,
                    view.undone
                );
                for e in &history {
                    let kind = serde_json::to_value(&e.kind).unwrap_or(Value::Null);
                    let _ = write!(s, "\n  {:>3} {kind}", e.seq);
                }
                s
            });
        }
        FlowCmd::Signal {
            id,
            name,
            data,
            event_id,
        } => {
            let data: Value = serde_json::from_str(&data)
                .map_err(|e| CliError::BadInput(format!("--data is not JSON: {e}")))?;
            let event_id = event_id.unwrap_or_else(|| {
                format!(
                    "cli-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos())
                )
            });
            let r = blocksmith_store::block_on(engine.signal(&id, &name, &event_id, data))?;
            let delivered = r == blocksmith_flow::Signalled::Delivered;
            out.emit(
                &json!({"delivered": delivered, "event_id": event_id}),
                || {
                    if delivered {
                        format!("signal {name} delivered to {id}")
                    } else {
                        format!("event {event_id} was delivered before: nothing changed")
                    }
                },
            );
        }
        FlowCmd::Tick => {
            let mut w = engine.worker("cli")?;
            let r = blocksmith_store::block_on(w.tick())?;
            blocksmith_store::block_on(w.release())?;
            out.emit(
                &json!({"transitions": r.transitions, "steps": r.steps, "timers": r.timers}),
                || {
                    format!(
                        "{} transitions, {} steps, {} timers",
                        r.transitions, r.steps, r.timers
                    )
                },
            );
        }
    }
    Ok(())
}

fn tenant_json(t: &Tenant) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn tenant_text(t: &Tenant) -> String {
    let mut s = format!(
        "{} ({}): {} on {} ({})",
        t.slug,
        t.id,
        t.status.as_str(),
        t.plan,
        t.tier.as_str()
    );
    if let Some(l) = &t.location {
        let _ = write!(s, "\n  data: {l}");
    }
    if let Some(b) = &t.billing_account {
        let _ = write!(s, "\n  billing: {b}");
    }
    for a in &t.audit {
        let _ = write!(s, "\n  {} {:<10} -> {}", a.at_ms, a.action, a.to.as_str());
    }
    s
}

pub(crate) fn run_tenant(cmd: TenantCmd, dir: &Path, out: &Output) -> Result<(), CliError> {
    use blocksmith_store::block_on;
    match cmd {
        TenantCmd::Create {
            slug,
            plan,
            tier,
            admin,
            request_id,
            fail_at,
        } => {
            let mut hooks = MemoryHooks::new();
            if let Some(f) = &fail_at {
                let hook = match f.as_str() {
                    "billing" => "create_billing",
                    "invite" => "invite_admin",
                    other => other,
                };
                hooks = hooks.failing_at(hook);
            }
            let tenants = open(dir, hooks.clone())?;
            let tier: Tier = tier.parse()?;
            let rid = request_id.unwrap_or_else(|| slug.to_lowercase().replace([' ', '_'], "-"));
            let t = block_on(
                tenants.create(CreateTenant::new(rid, slug, plan, admin).with_tier(tier)),
            )?;
            block_on(tenants.run_due())?;
            let t = block_on(tenants.get(&t.id))?;
            let effects = hooks.with_state(|s| s.effects.clone());
            out.emit(
                &json!({"tenant": tenant_json(&t), "effects": effects}),
                || format!("{}\nhost steps: {}", tenant_text(&t), effects.join(", ")),
            );
        }
        TenantCmd::Show { slug } => {
            let tenants = open(dir, MemoryHooks::new())?;
            let t = block_on(tenants.get(&slug))?;
            out.emit(&tenant_json(&t), || tenant_text(&t));
        }
        TenantCmd::List => {
            let tenants = open(dir, MemoryHooks::new())?;
            let all = block_on(tenants.list(None))?;
            out.emit(
                &json!(all.iter().map(tenant_json).collect::<Vec<_>>()),
                || {
                    all.iter()
                        .map(|t| format!("{:<24} {:<14} {}", t.slug, t.status.as_str(), t.plan))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        TenantCmd::Suspend { slug, reason } => {
            let tenants = open(dir, MemoryHooks::new())?;
            let t = block_on(tenants.suspend(&slug, &reason))?;
            out.emit(&tenant_json(&t), || tenant_text(&t));
        }
        TenantCmd::Resume { slug } => {
            let tenants = open(dir, MemoryHooks::new())?;
            let t = block_on(tenants.resume(&slug))?;
            out.emit(&tenant_json(&t), || tenant_text(&t));
        }
        TenantCmd::Plan { slug, plan } => {
            let tenants = open(dir, MemoryHooks::new())?;
            let t = block_on(tenants.change_plan(&slug, &plan))?;
            out.emit(&tenant_json(&t), || tenant_text(&t));
        }
        TenantCmd::Delete { slug } => {
            let tenants = open(dir, MemoryHooks::new())?;
            let t = block_on(tenants.delete(&slug))?;
            block_on(tenants.run_due())?;
            let t = block_on(tenants.get(&t.id))?;
            out.emit(&tenant_json(&t), || tenant_text(&t));
        }
        TenantCmd::Purge { slug } => {
            let tenants = open(dir, MemoryHooks::new())?;
            let t = block_on(tenants.purge(&slug))?;
            block_on(tenants.run_due())?;
            let t = block_on(tenants.get(&t.id))?;
            out.emit(&tenant_json(&t), || tenant_text(&t));
        }
    }
    Ok(())
}
