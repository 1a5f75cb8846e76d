//! `blocksmith vault ...` and `blocksmith apikey ...`: a zero-knowledge
//! password vault and API keys over the embedded store.
//!
//! Passwords come from `BLOCKSMITH_VAULT_PASSWORD` (for scripts) or are read
//! from the terminal without echo; a vault's secret key, when it has one,
//! from `BLOCKSMITH_VAULT_SECRET_KEY` or the terminal. API keys are hashed
//! with a pepper from `BLOCKSMITH_APIKEY_PEPPER` (64 hex digits) or, when
//! unset, with one kept as an item of the default vault.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use blocksmith_store::{Key, StoreExt, block_on};
use blocksmith_vault::apikey::{ApiKeyInfo, ApiKeySpec, ApiKeyStatus, ApiKeys};
use blocksmith_vault::{
    Credentials, Error as VaultError, ItemId, KdfFloor, KdfParams, KdfPolicy, NewItem, PublicKey,
    SecretKey, SymmetricKey, Vault, VaultId, VaultOptions,
};
use clap::{Args, Subcommand};
use serde_json::json;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

const PASSWORD_ENV: &str = "BLOCKSMITH_VAULT_PASSWORD";
const SECRET_KEY_ENV: &str = "BLOCKSMITH_VAULT_SECRET_KEY";
const PEPPER_ENV: &str = "BLOCKSMITH_APIKEY_PEPPER";
const PEPPER_ITEM: &str = "blocksmith/apikey-pepper";
const DEFAULT_VAULT_KEY: &str = "cli/vault/default";

/// Which vault, and how strict to be about its key-derivation cost.
#[derive(Args, Debug, Clone)]
pub(crate) struct VaultSel {
    /// Vault id (default: the first vault created in this store).
    #[arg(long, value_name = "ID")]
    vault: Option<String>,
    /// Accept Argon2 parameters below the OWASP floor (test vaults only).
    #[arg(long)]
    allow_weak_kdf: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum VaultCmd {
    /// Create a vault and print its recovery key (shown once: keep it safe).
    Init {
        /// Argon2id memory in KiB (default 65536 = 64 MiB).
        #[arg(long, value_name = "KIB")]
        kdf_memory_kib: Option<u32>,
        /// Argon2id passes (default 3).
        #[arg(long, value_name = "N")]
        kdf_iterations: Option<u32>,
        /// Argon2id lanes (default 4).
        #[arg(long, value_name = "N")]
        kdf_parallelism: Option<u32>,
        /// Pick the passes so that unlocking takes about this long on this machine.
        #[arg(long, value_name = "MS", conflicts_with = "kdf_iterations")]
        calibrate_ms: Option<u64>,
        /// Also generate a secret key (two-secret derivation) and print it once.
        #[arg(long)]
        secret_key: bool,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Add an item; the secret is read from standard input when not given.
    Add {
        /// Item name (unique in the vault).
        name: String,
        /// The secret (prefer standard input: arguments end up in shell history).
        secret: Option<String>,
        /// Put the item in a collection.
        #[arg(long)]
        collection: Option<String>,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Print an item's secret.
    Get {
        /// Item name.
        name: String,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// List items (names, versions, sizes; never secrets).
    List {
        /// Only this collection.
        #[arg(long)]
        collection: Option<String>,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Share items (or a whole collection) with another vault's public key.
    Share {
        /// Names of the items to share.
        names: Vec<String>,
        /// Share every item of this collection.
        #[arg(long, required_unless_present = "names")]
        collection: Option<String>,
        /// The recipient's public key (`bsvpk1_...`); check its fingerprint with them first.
        #[arg(long, value_name = "PUBLIC_KEY")]
        to: String,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Import the items shared with this vault.
    Receive {
        #[command(flatten)]
        sel: VaultSel,
        /// Import shares from this sender (public key or fingerprint;
        /// repeat for several). Shares from anyone else stay in the inbox and
        /// are listed; without `--from` nothing is imported.
        #[arg(long = "from", value_name = "KEY_OR_FINGERPRINT")]
        from: Vec<String>,
    },
    /// Rotate the vault key (re-encrypts every item; resumes an interrupted
    /// rotation) and print the new recovery key.
    Rotate {
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Print the vault id, key epoch, public key and parameters.
    Info {
        #[command(flatten)]
        sel: VaultSel,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ApiKeyCmd {
    /// Issue a key and print it (shown once; only its hash is stored).
    New {
        /// Who the key belongs to.
        #[arg(long)]
        owner: String,
        /// A scope (repeatable).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime in days (default: no expiry).
        #[arg(long, value_name = "DAYS")]
        ttl_days: Option<u64>,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Check a key (from the argument or standard input). Exit 0 valid, 5
    /// rejected (unknown, revoked or expired), 2 malformed or mistyped.
    Verify {
        /// The key.
        key: Option<String>,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Replace a key (by id or by the key itself); the old one keeps working
    /// during the grace period.
    Rotate {
        /// Key id, or the full key.
        key: String,
        /// Grace period in hours (0 revokes the old key at once).
        #[arg(long, default_value_t = 24)]
        grace_hours: u64,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// Revoke a key at once.
    Revoke {
        /// Key id, or the full key.
        key: String,
        #[command(flatten)]
        sel: VaultSel,
    },
    /// List keys (metadata only).
    List {
        /// Only this owner's.
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        sel: VaultSel,
    },
}

impl From<VaultError> for CliError {
    fn from(e: VaultError) -> Self {
        let msg = crate::output::report(&e);
        match e {
            VaultError::Store(e) => e.into(),
            VaultError::VaultNotFound { .. }
            | VaultError::ItemNotFound { .. }
            | VaultError::ApiKeyNotFound { .. } => CliError::NotFound(msg),
            VaultError::WrongCredentials
            | VaultError::ApiKeyRejected
            | VaultError::ApiKeyExpired { .. }
            | VaultError::ApiKeyRevoked { .. } => CliError::Verify(msg),
            VaultError::DuplicateName { .. }
            | VaultError::Conflict(_)
            | VaultError::ApiKeyNotActive { .. } => CliError::Conflict(msg),
            VaultError::SecretKeyRequired
            | VaultError::PasswordRequired
            | VaultError::KdfParams(_)
            | VaultError::InvalidArgument(_)
            | VaultError::ApiKeyChecksum
            | VaultError::Malformed { .. }
            | VaultError::TooLarge { .. } => CliError::BadInput(msg),
            _ => CliError::Internal(msg),
        }
    }
}

fn open(dir: &Path) -> Result<CliStore, CliError> {
    crate::backend::open(dir)
}

fn read_secret_line(env: &str, prompt: &str) -> Result<String, CliError> {
    if let Ok(v) = std::env::var(env) {
        return Ok(v);
    }
    rpassword::prompt_password(prompt)
        .map_err(|e| CliError::BadInput(format!("{prompt} cannot be read ({e}); set {env}")))
}

fn options(sel: &VaultSel) -> VaultOptions {
    let opts = VaultOptions::default();
    if sel.allow_weak_kdf {
        opts.with_kdf_policy(KdfPolicy::default().with_floor(KdfFloor::None))
    } else {
        opts
    }
}

fn default_key() -> Key {
    Key::new(DEFAULT_VAULT_KEY).expect("valid constant key")
}

fn vault_id(store: &CliStore, sel: &VaultSel) -> Result<VaultId, CliError> {
    let text = if let Some(v) = &sel.vault {
        v.clone()
    } else {
        let r = store.blocking().get_opt(&default_key())?.ok_or_else(|| {
            CliError::NotFound("no vault in this store: run `blocksmith vault init`".into())
        })?;
        String::from_utf8_lossy(&r.data).into_owned()
    };
    Ok(text.trim().parse()?)
}

fn credentials(store: &CliStore, id: VaultId) -> Result<Credentials, CliError> {
    let pre = block_on(Vault::prelogin(store, id))?;
    let creds = Credentials::new(read_secret_line(PASSWORD_ENV, "Vault password: ")?);
    if pre.secret_key_required {
        let sk = SecretKey::parse(&read_secret_line(SECRET_KEY_ENV, "Secret key: ")?)?;
        return Ok(creds.with_secret_key(sk));
    }
    Ok(creds)
}

fn unlock<'a>(store: &'a CliStore, sel: &VaultSel) -> Result<Vault<&'a CliStore>, CliError> {
    let id = vault_id(store, sel)?;
    let creds = credentials(store, id)?;
    Ok(block_on(Vault::unlock(store, id, &creds, options(sel)))?)
}

fn secret_arg_or_stdin(secret: Option<String>) -> Result<Vec<u8>, CliError> {
    if let Some(s) = secret {
        return Ok(s.into_bytes());
    }
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf)?;
    if buf.ends_with(b"\n") {
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
    }
    Ok(buf)
}

fn kdf_json(p: &KdfParams) -> serde_json::Value {
    json!({
        "algorithm": "argon2id",
        "memory_kib": p.memory_kib,
        "iterations": p.iterations,
        "parallelism": p.parallelism,
        "meets_rfc9106": p.meets_rfc9106(),
        "meets_owasp": p.meets_owasp(),
    })
}

pub(crate) fn run(cmd: VaultCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    let store = open(store_dir)?;
    match cmd {
        VaultCmd::Init {
            kdf_memory_kib,
            kdf_iterations,
            kdf_parallelism,
            calibrate_ms,
            secret_key,
            sel,
        } => {
            let d = KdfParams::default();
            let mut kdf = d
                .with_memory_kib(kdf_memory_kib.unwrap_or(d.memory_kib))
                .with_iterations(kdf_iterations.unwrap_or(d.iterations))
                .with_parallelism(kdf_parallelism.unwrap_or(d.parallelism));
            if let Some(ms) = calibrate_ms {
                kdf = KdfParams::calibrate_from(kdf, Duration::from_millis(ms))?;
            }
            let password = read_secret_line(PASSWORD_ENV, "New vault password: ")?;
            if std::env::var(PASSWORD_ENV).is_err() {
                let again = read_secret_line(PASSWORD_ENV, "Repeat the password: ")?;
                if again != password {
                    return Err(CliError::BadInput("the passwords differ".into()));
                }
            }
            let mut creds = Credentials::new(password);
            let sk = if secret_key {
                let sk = SecretKey::generate()?;
                creds = creds.with_secret_key(sk.clone());
                Some(sk)
            } else {
                None
            };
            let (vault, recovery) =
                block_on(Vault::create(&store, &creds, options(&sel).with_kdf(kdf)))?;
            let became_default = store
                .blocking()
                .put_opts(
                    &default_key(),
                    vault.id().to_string(),
                    blocksmith_store::PutOptions::create(),
                )
                .is_ok();
            let pk = vault.public_key();
            let recovery_text = recovery.to_text();
            let sk_text = sk.as_ref().map(|k| k.to_text().to_string());
            out.emit(
                &json!({
                    "vault_id": vault.id().to_string(),
                    "default": became_default,
                    "public_key": pk.to_string(),
                    "fingerprint": pk.fingerprint(),
                    "recovery_key": recovery_text.as_str(),
                    "secret_key": sk_text,
                    "kdf": kdf_json(&kdf),
                }),
                || {
                    let mut s = format!(
                        "created vault {}{}\npublic key  {pk}\nfingerprint {}\n\
                         recovery key {}  <- write it down: it is shown once and is the only way back without the password",
                        vault.id(),
                        if became_default { " (default)" } else { "" },
                        pk.fingerprint(),
                        recovery_text.as_str(),
                    );
                    if let Some(t) = &sk_text {
                        let _ = write!(s, "\nsecret key   {t}  <- needed with the password on every new device");
                    }
                    if !kdf.meets_recommendations() {
                        s.push_str("\nwarning: Argon2 parameters below RFC 9106 / OWASP recommendations");
                    }
                    s
                },
            );
        }
        VaultCmd::Add {
            name,
            secret,
            collection,
            sel,
        } => {
            let mut vault = unlock(&store, &sel)?;
            let secret = secret_arg_or_stdin(secret)?;
            let size = secret.len();
            let mut item = NewItem::new(name.clone(), secret);
            if let Some(c) = collection {
                item = item.with_collection(c);
            }
            let id = block_on(vault.add(item))?;
            out.emit(
                &json!({"id": id.to_string(), "name": name, "size": size}),
                || format!("added {name} ({size} bytes)"),
            );
        }
        VaultCmd::Get { name, sel } => {
            let vault = unlock(&store, &sel)?;
            let info = vault
                .find(&name)
                .ok_or_else(|| CliError::NotFound(format!("no item named {name:?}")))?;
            let (id, version) = (info.id(), info.version());
            let secret = block_on(vault.get(&id))?;
            if out.json {
                let text = secret.as_str();
                let hex = if text.is_none() {
                    Some(
                        secret
                            .expose_secret()
                            .iter()
                            .fold(String::new(), |mut s, b| {
                                let _ = write!(s, "{b:02x}");
                                s
                            }),
                    )
                } else {
                    None
                };
                out.emit(
                    &json!({"id": id.to_string(), "name": name, "version": version, "secret": text, "secret_hex": hex}),
                    String::new,
                );
            } else {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(secret.expose_secret())?;
                stdout.flush()?;
            }
        }
        VaultCmd::List { collection, sel } => {
            let vault = unlock(&store, &sel)?;
            let mut items: Vec<_> = vault
                .items()
                .filter(|i| collection.is_none() || i.collection() == collection.as_deref())
                .collect();
            items.sort_by(|a, b| a.name().cmp(b.name()));
            let value = json!(
                items
                    .iter()
                    .map(|i| json!({
                        "id": i.id().to_string(),
                        "name": i.name(),
                        "collection": i.collection(),
                        "version": i.version(),
                        "size": i.size(),
                        "updated": i.updated(),
                    }))
                    .collect::<Vec<_>>()
            );
            out.emit(&value, || {
                let mut s = format!(
                    "{:<32} {:<16} {:>7} {:>8}",
                    "name", "collection", "version", "bytes"
                );
                for i in &items {
                    let _ = write!(
                        s,
                        "\n{:<32} {:<16} {:>7} {:>8}",
                        i.name(),
                        i.collection().unwrap_or("-"),
                        i.version(),
                        i.size()
                    );
                }
                s
            });
        }
        VaultCmd::Share {
            names,
            collection,
            to,
            sel,
        } => {
            let vault = unlock(&store, &sel)?;
            let recipient: PublicKey = to.parse()?;
            let mut ids: Vec<ItemId> = Vec::new();
            for n in &names {
                ids.push(
                    vault
                        .find(n)
                        .ok_or_else(|| CliError::NotFound(format!("no item named {n:?}")))?
                        .id(),
                );
            }
            if let Some(c) = &collection {
                ids.extend(vault.collection(c).map(blocksmith_vault::ItemInfo::id));
            }
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                return Err(CliError::NotFound("nothing to share".into()));
            }
            let share = block_on(vault.share(&ids, &recipient))?;
            out.emit(
                &json!({"share_id": share.to_string(), "items": ids.len(), "to": recipient.fingerprint()}),
                || format!("shared {} item(s) with {} (share {share})", ids.len(), recipient.fingerprint()),
            );
        }
        VaultCmd::Receive { sel, from } => {
            let mut vault = unlock(&store, &sel)?;
            let trusted: Vec<String> = from
                .iter()
                .map(|f| match f.parse::<PublicKey>() {
                    Ok(pk) => pk.fingerprint(),
                    Err(_) => f.clone(),
                })
                .collect();
            let inbox = block_on(vault.pending_shares())?;
            let mut rows = Vec::new();
            let (mut imported, mut items) = (0usize, 0usize);
            for p in &inbox.shares {
                let fp = p.share.sender.fingerprint();
                let status = if trusted.contains(&fp) {
                    match block_on(vault.accept_share(p)) {
                        Ok(ids) => {
                            imported += 1;
                            items += ids.len();
                            let names: Vec<_> = ids
                                .iter()
                                .filter_map(|i| vault.info(i))
                                .map(|i| i.name().to_string())
                                .collect();
                            json!({"share_id": p.share.id.to_string(), "from": fp, "status": "imported", "items": names})
                        }
                        Err(e) => {
                            json!({"share_id": p.share.id.to_string(), "from": fp, "status": "quarantined", "error": e.to_string()})
                        }
                    }
                } else {
                    json!({"share_id": p.share.id.to_string(), "from": fp, "status": "waiting", "items": p.share.items.len()})
                };
                rows.push(status);
            }
            for (key, e) in &inbox.quarantined {
                rows.push(json!({"key": key, "status": "quarantined", "error": e.to_string()}));
            }
            let waiting = rows.iter().filter(|r| r["status"] == "waiting").count();
            out.emit(&json!(rows), || {
                format!(
                    "received {imported} share(s), {items} item(s); {waiting} waiting from senders not given with --from; {} quarantined",
                    rows.len() - imported - waiting
                )
            });
        }
        VaultCmd::Rotate { sel } => {
            let mut vault = unlock(&store, &sel)?;
            let report = block_on(vault.rotate())?;
            let recovery = report.recovery_key.to_text();
            out.emit(
                &json!({
                    "from_epoch": report.from_epoch,
                    "to_epoch": report.to_epoch,
                    "items": report.items,
                    "recovery_key": recovery.as_str(),
                    "public_key": report.public_key.to_string(),
                    "fingerprint": report.public_key.fingerprint(),
                }),
                || {
                    format!(
                        "rotated vault key {} -> {} ({} items re-encrypted)\nnew public key {}\n\
                         new recovery key {}  <- the old one no longer works",
                        report.from_epoch,
                        report.to_epoch,
                        report.items,
                        report.public_key,
                        recovery.as_str()
                    )
                },
            );
        }
        VaultCmd::Info { sel } => {
            let id = vault_id(&store, &sel)?;
            let pre = block_on(Vault::prelogin(&store, id))?;
            let vault = unlock(&store, &sel)?;
            let pk = vault.public_key();
            out.emit(
                &json!({
                    "vault_id": id.to_string(),
                    "epoch": vault.epoch(),
                    "items": vault.len(),
                    "manifest_seq": vault.manifest_seq(),
                    "public_key": pk.to_string(),
                    "fingerprint": pk.fingerprint(),
                    "secret_key_required": pre.secret_key_required,
                    "kdf": kdf_json(&pre.kdf),
                    "rotation_pending": vault.rotation_pending().is_some(),
                }),
                || {
                    format!(
                        "vault {id}\nkey epoch {}, {} items, manifest #{}\npublic key  {pk}\nfingerprint {}\n\
                         argon2id m={} KiB t={} p={}{}",
                        vault.epoch(),
                        vault.len(),
                        vault.manifest_seq(),
                        pk.fingerprint(),
                        pre.kdf.memory_kib,
                        pre.kdf.iterations,
                        pre.kdf.parallelism,
                        if vault.rotation_pending().is_some() {
                            "\na key rotation is pending: run `blocksmith vault rotate`"
                        } else {
                            ""
                        }
                    )
                },
            );
        }
    }
    Ok(())
}

/// The pepper: from the environment, or an item of the default vault
/// (created on first use).
fn pepper(store: &CliStore, sel: &VaultSel) -> Result<SymmetricKey, CliError> {
    if let Ok(hex) = std::env::var(PEPPER_ENV) {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()
            .ok_or_else(|| CliError::BadInput(format!("{PEPPER_ENV} must be 64 hex digits")))?;
        return SymmetricKey::from_slice(&bytes)
            .map_err(|_| CliError::BadInput(format!("{PEPPER_ENV} must be 64 hex digits")));
    }
    let mut vault = unlock(store, sel)?;
    if let Some(id) = vault.find(PEPPER_ITEM).map(blocksmith_vault::ItemInfo::id) {
        Ok(SymmetricKey::from_slice(
            block_on(vault.get(&id))?.expose_secret(),
        )?)
    } else {
        let p = SymmetricKey::generate()?;
        block_on(vault.add(NewItem::new(PEPPER_ITEM, p.expose_secret().to_vec())))?;
        Ok(p)
    }
}

fn key_id(arg: &str) -> String {
    match blocksmith_vault::ApiKey::parse(arg) {
        Ok(k) => k.id().to_string(),
        Err(_) => arg.trim().to_string(),
    }
}

fn status_str(s: &ApiKeyStatus) -> String {
    match s {
        ApiKeyStatus::Active => "active".into(),
        ApiKeyStatus::Grace { until } => format!("grace until {until}"),
        ApiKeyStatus::Revoked { at } => format!("revoked at {at}"),
        _ => "unknown".into(),
    }
}

fn info_json(i: &ApiKeyInfo) -> serde_json::Value {
    json!({
        "id": i.id,
        "owner": i.owner,
        "scopes": i.scopes,
        "created": i.created,
        "expires": i.expires,
        "last_used": i.last_used,
        "status": i.status,
        "replaced_by": i.replaced_by,
        "replaces": i.replaces,
    })
}

pub(crate) fn run_apikey(cmd: ApiKeyCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    let store = open(store_dir)?;
    match cmd {
        ApiKeyCmd::New {
            owner,
            scopes,
            ttl_days,
            sel,
        } => {
            let keys = ApiKeys::new(&store, pepper(&store, &sel)?);
            let mut spec = ApiKeySpec::new(owner).with_scopes(scopes);
            if let Some(d) = ttl_days {
                spec = spec.with_ttl(Duration::from_secs(d.saturating_mul(86_400)));
            }
            let k = block_on(keys.create(spec))?;
            let mut v = info_json(&k.info);
            v["key"] = json!(k.key.expose_secret());
            out.emit(&v, || {
                format!(
                    "{}\n(id {}; shown once, only its hash is stored)",
                    k.key.expose_secret(),
                    k.info.id
                )
            });
        }
        ApiKeyCmd::Verify { key, sel } => {
            let key = match key {
                Some(k) => k,
                None => String::from_utf8(secret_arg_or_stdin(None)?)
                    .map_err(|_| CliError::BadInput("the key is not UTF-8".into()))?,
            };
            // Offline check first: a typo needs no pepper and no password.
            blocksmith_vault::ApiKey::parse(&key)?;
            let keys = ApiKeys::new(&store, pepper(&store, &sel)?);
            let i = block_on(keys.verify(&key))?;
            out.emit(&info_json(&i), || {
                format!(
                    "valid: {} owned by {} [{}] ({})",
                    i.id,
                    i.owner,
                    i.scopes.join(", "),
                    status_str(&i.status)
                )
            });
        }
        ApiKeyCmd::Rotate {
            key,
            grace_hours,
            sel,
        } => {
            let keys = ApiKeys::new(&store, pepper(&store, &sel)?);
            let id = key_id(&key);
            let grace = Duration::from_secs(grace_hours.saturating_mul(3600));
            let k = block_on(keys.rotate(&id, grace))?;
            let mut v = info_json(&k.info);
            v["key"] = json!(k.key.expose_secret());
            out.emit(&v, || {
                format!(
                    "{}\n(new id {}; {id} keeps working for {grace_hours} h)",
                    k.key.expose_secret(),
                    k.info.id
                )
            });
        }
        ApiKeyCmd::Revoke { key, sel } => {
            let keys = ApiKeys::new(&store, pepper(&store, &sel)?);
            let id = key_id(&key);
            block_on(keys.revoke(&id))?;
            out.emit(&json!({"id": id, "revoked": true}), || {
                format!("revoked {id}")
            });
        }
        ApiKeyCmd::List { owner, sel } => {
            let keys = ApiKeys::new(&store, pepper(&store, &sel)?);
            let list = block_on(keys.list(owner.as_deref()))?;
            out.emit(
                &json!(list.iter().map(info_json).collect::<Vec<_>>()),
                || {
                    let mut s = format!("{:<14} {:<20} {}", "id", "owner", "status");
                    for i in &list {
                        let _ = write!(
                            s,
                            "\n{:<14} {:<20} {}",
                            i.id,
                            i.owner,
                            status_str(&i.status)
                        );
                    }
                    s
                },
            );
        }
    }
    Ok(())
}
