//! A store in PostgreSQL tables (`tokio-postgres` over a small connection
//! pool of its own), for hosts that already run a database server; several
//! processes and machines share it with compare-and-swap that holds between
//! all of them.
//!
//! # Schema (version 1), for the table prefix `P` (default `blocksmith`)
//!
//! - `P_meta(name text PRIMARY KEY, value bigint)`: the row `schema` (1).
//! - `P_versions`: a sequence; every put, compose and re-create takes a new
//!   value from it, so versions are never reused (sequences never go back,
//!   not even when a transaction rolls back).
//! - `P_objects(key text COLLATE "C" PRIMARY KEY, version bigint, size bigint)`:
//!   one row per key; the `C` collation makes the index order byte order.
//! - `P_chunks(object bigint, start bigint, data bytea, PRIMARY KEY (object, start))`:
//!   the bytes of the object whose version is `object`, from offset `start`,
//!   in rows of at most 1 MiB (a put cuts at 1 MiB; a compose copies the
//!   covered pieces of its parts, so its rows may be shorter).
//! - `P_drop_chunks()` and the deferred constraint trigger
//!   `P_objects_drop_chunks`: when a row of `P_objects` changes version or
//!   goes, the old version's chunks are deleted at commit, in the same
//!   transaction.
//!
//! The connection pool is the store's own (a semaphore and a list of idle
//! connections) rather than `deadpool-postgres`: the statements are known up
//! front and prepared once when a connection opens (no per-call cache
//! lookup), a connection that failed with a temporary error or closed is
//! simply not given back, and nothing is added to the dependencies.
//!
//! A put of up to 1 MiB is one statement (the compare-and-swap and the chunk
//! insert in one `WITH`); a larger put is one transaction (the
//! compare-and-swap first, which locks the row, then the chunks). Readers run
//! one statement, whose snapshot holds one committed version: never a
//! half-written value.

use crate::stream::next;
use crate::{
    BoxFuture, ByteRange, ByteStream, Capabilities, ComposePart, Error, GetOptions, GetResult, Key,
    ListOptions, ListPage, ObjectMeta, PutMode, PutOptions, PutResult, Result, Store, Version,
};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt, stream};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, NoTls, Statement};

const BACKEND: &str = "postgres";
/// The schema this build writes and reads.
const SCHEMA: i64 = 1;
/// The largest chunk row a put writes.
const CHUNK: usize = 1 << 20;
/// Chunk inserts of one put in flight at once (pipelined on one connection).
const CHUNKS_IN_FLIGHT: usize = 4;
/// The longest table prefix: PostgreSQL names are at most 63 bytes, and the
/// longest name built from it is `P_objects_drop_chunks`.
pub const MAX_TABLE_PREFIX_LEN: usize = 40;

/// Options of [`PostgresStore::open`]: the server, the tables, the pool.
///
/// ```
/// use blocksmith_store::PostgresOptions;
/// use std::time::Duration;
/// let options = PostgresOptions::new("postgres://app@127.0.0.1:5432/app")
///     .with_table_prefix("uploads")
///     .with_pool_size(16)
///     .with_statement_timeout(Some(Duration::from_secs(30)))
///     .with_call_timeout(Some(Duration::from_secs(60)))
///     .with_schema("app");
/// assert_eq!(options.table_prefix, "uploads");
/// assert_eq!(options.schema.as_deref(), Some("app"));
/// // The URL's password never shows in debug output.
/// let secret = PostgresOptions::new("postgres://app:hunter2@db/app");
/// assert!(!format!("{secret:?}").contains("hunter2"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The server: a `postgres://user:password@host:port/database` URL or a
    /// `host=... user=...` connection string, as libpq reads them (TLS is not
    /// built in: use a loopback address, a Unix socket or a trusted network;
    /// `sslmode=prefer`, the default, connects in plaintext, and
    /// `sslmode=require` fails to connect). Keepalive and
    /// `tcp_user_timeout` parameters set here replace the store's defaults
    /// (30 s).
    pub url: String,
    /// Names the store's tables (`PREFIX_objects`, ...): `[a-z_][a-z0-9_]*`, at
    /// most [`MAX_TABLE_PREFIX_LEN`] bytes (default `blocksmith`). Stores with
    /// different prefixes in one database are independent.
    pub table_prefix: String,
    /// Connections the store opens at most (default 8); a call waits for a
    /// free one.
    pub pool_size: usize,
    /// How long opening a connection may take (default 10 s).
    pub connect_timeout: Duration,
    /// The server's `statement_timeout` for the store's connections (default
    /// `None`: the server's setting). A statement cancelled by it is a
    /// temporary error.
    pub statement_timeout: Option<Duration>,
    /// The `application_name` the connections report to the server (default
    /// `blocksmith-store`), as seen in `pg_stat_activity`.
    pub application_name: String,
    /// The longest a call may take, from waiting for a connection to the
    /// answer (default `None`: no limit). One that takes longer fails with
    /// [`Error::TimedOut`] (temporary), and its connection is closed rather
    /// than pooled, so the server rolls back whatever it was doing. A
    /// streamed put counts each server round trip on its own (and the wait
    /// for a connection), not the time its body takes to arrive. A write
    /// that timed out may still have committed (its commit was on its way):
    /// read before writing again where that matters.
    pub call_timeout: Option<Duration>,
    /// The schema the store's tables live in (default `None`: the tables'
    /// names are resolved through the connections' `search_path`, as the
    /// server sets it). With a schema, every table, sequence and function
    /// name in the store's SQL is qualified with it (`"app".P_objects`), the
    /// schema is created if missing, the connections run with `search_path`
    /// set to `pg_catalog` and it, and the trigger function (in a new
    /// store) with `search_path` set to `pg_catalog, pg_temp`: a role that
    /// can create objects in another schema of the default path (`public`
    /// on PostgreSQL 14 and older) cannot put look-alike tables in the
    /// store's way. `[a-z_][a-z0-9_]*`, at most 63 bytes, not `pg_...`.
    pub schema: Option<String>,
}

impl PostgresOptions {
    /// Options for the server at `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            table_prefix: "blocksmith".into(),
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
            application_name: "blocksmith-store".into(),
            call_timeout: None,
            schema: None,
        }
    }

    /// Sets [`PostgresOptions::table_prefix`] (checked when the store opens).
    #[must_use]
    pub fn with_table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// Sets [`PostgresOptions::pool_size`] (at least 1).
    #[must_use]
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Sets [`PostgresOptions::connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`PostgresOptions::statement_timeout`].
    #[must_use]
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Sets [`PostgresOptions::application_name`].
    #[must_use]
    pub fn with_application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// Sets [`PostgresOptions::call_timeout`].
    #[must_use]
    pub fn with_call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Puts the store in the schema `schema` ([`PostgresOptions::schema`],
    /// checked when the store opens).
    #[must_use]
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("server", &describe(&self.url))
            .field("table_prefix", &self.table_prefix)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .field("call_timeout", &self.call_timeout)
            .field("schema", &self.schema)
            .finish()
    }
}

/// `user@host:port/dbname` of a connection string, without its password.
fn describe(url: &str) -> String {
    let Ok(c) = url.parse::<tokio_postgres::Config>() else {
        return "<not a valid connection string>".into();
    };
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = c.get_ports().iter().map(ToString::to_string).collect();
    format!(
        "{}@{}:{}/{}",
        c.get_user().unwrap_or(""),
        hosts.join(","),
        ports.join(","),
        c.get_dbname().unwrap_or("")
    )
}

/// A configuration problem found when the store opens.
#[derive(Debug)]
struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn config_error(message: String) -> Error {
    Error::Backend {
        backend: BACKEND,
        temporary: false,
        source: Box::new(ConfigError(message)),
    }
}

/// Whether the same call may succeed again: the connection went (closed,
/// reset, refused, timed out), the server is shutting down or starting, a
/// statement was cancelled (`statement_timeout`), a transaction lost a
/// serialization or deadlock check, the server ran out of a resource.
fn is_temporary(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let class = code.code().get(..2).unwrap_or("");
        return matches!(class, "08" | "40" | "53")
            || [
                SqlState::QUERY_CANCELED,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::IDLE_SESSION_TIMEOUT,
                SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
                SqlState::LOCK_NOT_AVAILABLE,
            ]
            .contains(code);
    }
    // No SQLSTATE: a socket error (refused, reset) or the connect timeout.
    std::error::Error::source(e).is_some_and(<dyn std::error::Error>::is::<std::io::Error>)
        || e.to_string().starts_with("timeout")
}

/// A backend error, temporary when [`is_temporary`] says so.
fn err(e: tokio_postgres::Error) -> Error {
    Error::Backend {
        backend: BACKEND,
        temporary: is_temporary(&e),
        source: Box::new(e),
    }
}

fn corrupt(key: &str, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn version_of(key: &str, v: i64) -> Result<Version> {
    u64::try_from(v)
        .map(Version::from_u64)
        .map_err(|_| corrupt(key, format!("negative version {v}")))
}

fn size_of(key: &str, n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| corrupt(key, format!("negative size {n}")))
}

/// The stored number behind a version this store handed out (`None` for
/// any other string: no stored version can match it).
fn parse_version(v: &Version) -> Option<i64> {
    let n = u64::from_str_radix(v.as_str(), 16).ok()?;
    (Version::from_u64(n) == *v)
        .then(|| i64::try_from(n).ok())
        .flatten()
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The smallest string above every string that starts with `prefix` (`None`
/// when there is none: an empty prefix, or one of only `char::MAX`).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut s = prefix.to_owned();
    while let Some(c) = s.pop() {
        let mut n = u32::from(c) + 1;
        if (0xD800..0xE000).contains(&n) {
            n = 0xE000;
        }
        if let Some(next) = char::from_u32(n) {
            s.push(next);
            return Some(s);
        }
    }
    None
}

/// Checks a table prefix: `[a-z_][a-z0-9_]*`, at most
/// [`MAX_TABLE_PREFIX_LEN`] bytes. It is the one thing ever written into SQL
/// text; every value is a bound parameter.
fn validate_prefix(prefix: &str) -> Result<()> {
    let mut chars = prefix.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && prefix.len() <= MAX_TABLE_PREFIX_LEN {
        Ok(())
    } else {
        Err(config_error(format!(
            "invalid table prefix {:?}: use [a-z_][a-z0-9_]*, at most {MAX_TABLE_PREFIX_LEN} bytes",
            prefix.chars().take(64).collect::<String>()
        )))
    }
}

/// Checks a schema name: `[a-z_][a-z0-9_]*`, at most 63 bytes, not one of
/// PostgreSQL's own (`pg_...`). It is written into SQL text, quoted.
fn validate_schema(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && schema.len() <= 63 && !schema.starts_with("pg_") {
        Ok(())
    } else {
        Err(config_error(format!(
            "invalid schema {:?}: use [a-z_][a-z0-9_]*, at most 63 bytes, not pg_...",
            schema.chars().take(64).collect::<String>()
        )))
    }
}

/// How long a connection may sit idle before TCP keepalive probes start,
/// and how long sent data may go unacknowledged before the kernel gives the
/// connection up (`tcp_user_timeout`, Linux): a server gone without a word
/// (a partition, a NAT that forgot the flow) fails the calls on that
/// connection within about a minute, not after the operating system's two
/// hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Between keepalive probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered keepalive probes before the connection is given up.
const KEEPALIVE_RETRIES: u32 = 3;
/// See [`KEEPALIVE_IDLE`].
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the connection string `url` sets the parameter `name`
/// (`name=` in a URL's query or a `key=value` string).
fn url_sets(url: &str, name: &str) -> bool {
    url.contains(&format!("{name}="))
}

/// The store's keepalive and TCP user timeout defaults, for every one of
/// them the connection string leaves unset.
fn network_defaults(config: &mut tokio_postgres::Config, url: &str) {
    if !url_sets(url, "keepalives_idle") {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if !url_sets(url, "keepalives_interval") {
        config.keepalives_interval(KEEPALIVE_INTERVAL);
    }
    if !url_sets(url, "keepalives_retries") {
        config.keepalives_retries(KEEPALIVE_RETRIES);
    }
    if !url_sets(url, "tcp_user_timeout") {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
}

/// Appends `-c name=value` to the server options of `config`.
fn add_server_option(config: &mut tokio_postgres::Config, name: &str, value: &str) {
    let mut server_options = config.get_options().unwrap_or("").to_owned();
    if !server_options.is_empty() {
        server_options.push(' ');
    }
    server_options.push_str("-c ");
    server_options.push_str(name);
    server_options.push('=');
    server_options.push_str(value);
    config.options(&server_options);
}

/// Awaits `fut` for at most `limit`: past it, [`Error::TimedOut`].
async fn within<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        None => fut.await,
        Some(after) => tokio::time::timeout(after, fut)
            .await
            .unwrap_or(Err(Error::TimedOut {
                backend: BACKEND,
                after,
            })),
    }
}

/// The SQL of every statement, for one table prefix (in one schema).
#[derive(Debug)]
struct Sql {
    /// The table prefix as configured.
    prefix: String,
    /// The schema, if the names are qualified.
    schema: Option<String>,
    /// The prefix as it goes into SQL: qualified with the quoted schema
    /// when there is one (`"app".P`), so `{p}_objects` names the table.
    p: String,
    texts: [String; STATEMENTS],
}

const STATEMENTS: usize = 12;
const PUT_CREATE: usize = 0;
const PUT_OVERWRITE: usize = 1;
const PUT_UPDATE: usize = 2;
const INSERT_CHUNK: usize = 3;
const GET: usize = 4;
const GET_RANGE: usize = 5;
const HEAD: usize = 6;
const DELETE: usize = 7;
const LIST_BOUNDED: usize = 8;
const LIST_OPEN: usize = 9;
const LOCK_PARTS: usize = 10;
const COPY_PART: usize = 11;

impl Sql {
    fn new(prefix: &str, schema: Option<&str>) -> Self {
        let qualified = match schema {
            Some(schema) => format!("\"{schema}\".{prefix}"),
            None => prefix.to_owned(),
        };
        let p = qualified.as_str();
        // The chunk insert after a compare-and-swap: only when it succeeded
        // (a row in `cas`) and the value is not empty.
        let ins = format!(
            "ins AS (INSERT INTO {p}_chunks (object, start, data)
                     SELECT version, 0, $3::bytea FROM cas WHERE octet_length($3::bytea) > 0)"
        );
        let ins_update = ins.replace("$3", "$4");
        let texts = [
            // PUT_CREATE ($1 key, $2 size, $3 first chunk)
            format!(
                "WITH cas AS (INSERT INTO {p}_objects (key, version, size)
                              VALUES ($1::text, nextval('{p}_versions'), $2::bigint)
                              ON CONFLICT (key) DO NOTHING RETURNING version),
                 {ins}
                 SELECT version FROM cas"
            ),
            // PUT_OVERWRITE ($1 key, $2 size, $3 first chunk)
            format!(
                "WITH cas AS (INSERT INTO {p}_objects (key, version, size)
                              VALUES ($1::text, nextval('{p}_versions'), $2::bigint)
                              ON CONFLICT (key) DO UPDATE
                              SET version = excluded.version, size = excluded.size
                              RETURNING version),
                 {ins}
                 SELECT version FROM cas"
            ),
            // PUT_UPDATE ($1 key, $2 expected version, $3 size, $4 first chunk)
            format!(
                "WITH cas AS (UPDATE {p}_objects
                              SET version = nextval('{p}_versions'), size = $3::bigint
                              WHERE key = $1::text AND version = $2::bigint
                              RETURNING version),
                 {ins_update}
                 SELECT version FROM cas"
            ),
            // INSERT_CHUNK ($1 object, $2 start, $3 data)
            format!(
                "INSERT INTO {p}_chunks (object, start, data)
                 VALUES ($1::bigint, $2::bigint, $3::bytea)"
            ),
            // GET ($1 key): one row per chunk, in order (one row of NULLs
            // for an empty value).
            format!(
                "SELECT o.version, o.size, c.start, c.data
                 FROM {p}_objects o LEFT JOIN {p}_chunks c ON c.object = o.version
                 WHERE o.key = $1::text ORDER BY c.start"
            ),
            // GET_RANGE ($1 key, $2 start, $3 end or NULL, $4 suffix or
            // NULL): the pieces of the chunks that cover the range, found
            // from the last chunk starting at or before it.
            format!(
                "WITH o AS (
                   SELECT version, size,
                     CASE WHEN $4::bigint IS NULL THEN $2::bigint
                          ELSE greatest(size - $4::bigint, 0) END AS rs,
                     CASE WHEN $4::bigint IS NULL THEN least(coalesce($3::bigint, size), size)
                          ELSE size END AS re
                   FROM {p}_objects WHERE key = $1::text)
                 SELECT o.version, o.size, c.start,
                   substring(c.data FROM (greatest(o.rs - c.start, 0) + 1)::int
                             FOR (least(o.re, c.start + octet_length(c.data))
                                  - greatest(o.rs, c.start))::int)
                 FROM o LEFT JOIN {p}_chunks c ON c.object = o.version AND o.rs < o.re
                   AND c.start < o.re AND c.start + octet_length(c.data) > o.rs
                   AND c.start >= coalesce((SELECT max(s.start) FROM {p}_chunks s
                                            WHERE s.object = o.version AND s.start <= o.rs), 0)
                 ORDER BY c.start"
            ),
            // HEAD ($1 key)
            format!("SELECT version, size FROM {p}_objects WHERE key = $1::text"),
            // DELETE ($1 key); the trigger drops the chunks.
            format!("DELETE FROM {p}_objects WHERE key = $1::text"),
            // LIST_BOUNDED ($1 prefix, $2 start_after or '', $3 end of the
            // prefix's range, $4 limit)
            format!(
                "SELECT key, version, size FROM {p}_objects
                 WHERE key >= $1::text AND key > $2::text AND key < $3::text
                 ORDER BY key LIMIT $4::bigint"
            ),
            // LIST_OPEN ($1 prefix, $2 start_after or '', $3 limit)
            format!(
                "SELECT key, version, size FROM {p}_objects
                 WHERE key >= $1::text AND key > $2::text
                 ORDER BY key LIMIT $3::bigint"
            ),
            // LOCK_PARTS ($1 keys): the parts of a compose, locked against
            // change until it commits.
            format!(
                "SELECT key, version, size FROM {p}_objects
                 WHERE key = ANY($1::text[]) ORDER BY key FOR SHARE"
            ),
            // COPY_PART ($1 target object, $2 offset in the target, $3
            // source object, $4 start, $5 end in the source): copies the
            // covered pieces server-side; answers the bytes copied.
            format!(
                "WITH ins AS (
                   INSERT INTO {p}_chunks (object, start, data)
                   SELECT $1::bigint, $2::bigint + greatest(c.start, $4::bigint) - $4::bigint,
                     substring(c.data FROM (greatest($4::bigint - c.start, 0) + 1)::int
                               FOR (least($5::bigint, c.start + octet_length(c.data))
                                    - greatest($4::bigint, c.start))::int)
                   FROM {p}_chunks c
                   WHERE c.object = $3::bigint AND c.start < $5::bigint
                     AND c.start + octet_length(c.data) > $4::bigint
                     AND c.start >= coalesce((SELECT max(s.start) FROM {p}_chunks s
                                              WHERE s.object = $3::bigint
                                                AND s.start <= $4::bigint), 0)
                   RETURNING octet_length(data) AS n)
                 SELECT coalesce(sum(n), 0)::bigint FROM ins"
            ),
        ];
        Sql {
            prefix: prefix.to_owned(),
            schema: schema.map(str::to_owned),
            p: qualified.clone(),
            texts,
        }
    }

    /// Creates schema version 1 (inside the migration transaction). In a
    /// schema of its own, the trigger function runs with a fixed
    /// `search_path` (its table names are qualified).
    fn create_schema(&self) -> String {
        let p = &self.p;
        let raw = &self.prefix;
        let pinned = if self.schema.is_some() {
            "SET search_path = pg_catalog, pg_temp"
        } else {
            ""
        };
        format!(
            "CREATE SEQUENCE {p}_versions AS bigint;
             CREATE TABLE {p}_objects (
                 key text COLLATE \"C\" PRIMARY KEY,
                 version bigint NOT NULL,
                 size bigint NOT NULL
             );
             CREATE TABLE {p}_chunks (
                 object bigint NOT NULL,
                 start bigint NOT NULL,
                 data bytea NOT NULL,
                 PRIMARY KEY (object, start)
             );
             CREATE FUNCTION {p}_drop_chunks() RETURNS trigger LANGUAGE plpgsql {pinned} AS $$
             BEGIN
                 DELETE FROM {p}_chunks WHERE object = OLD.version;
                 RETURN NULL;
             END $$;
             CREATE CONSTRAINT TRIGGER {raw}_objects_drop_chunks
                 AFTER UPDATE OF version OR DELETE ON {p}_objects
                 DEFERRABLE INITIALLY DEFERRED
                 FOR EACH ROW EXECUTE FUNCTION {p}_drop_chunks();"
        )
    }
}

/// One connection with every statement prepared on it.
struct Conn {
    client: Client,
    statements: Vec<Statement>,
}

impl Conn {
    fn st(&self, which: usize) -> &Statement {
        &self.statements[which]
    }
}

/// A small pool: at most `size` connections (a semaphore), idle ones kept
/// in a list; a closed connection is dropped instead of going back.
struct Pool {
    config: tokio_postgres::Config,
    sql: Sql,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
    /// [`PostgresOptions::call_timeout`].
    call_timeout: Option<Duration>,
}

/// A connection lent by the pool; back to it when dropped after its call
/// finished (`done`), unless closed. A lease dropped mid-call (a call
/// timeout, a panic) closes its connection: whatever it was waiting for
/// must not reach the next call.
struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
    done: bool,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self
            .conn
            .take()
            .filter(|c| self.done && !c.client.is_closed())
        {
            self.pool.idle().push(conn);
        }
    }
}

impl Pool {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        // Nothing panics while the lock is held; a poisoned list is still a list.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a connection, its I/O driven by a task on the current runtime.
    async fn connect_raw(&self) -> Result<Client> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(err)?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes; the
            // client then reports itself closed.
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn prepare(&self, client: Client) -> Result<Conn> {
        let statements =
            futures_util::future::try_join_all(self.sql.texts.iter().map(|t| client.prepare(t)))
                .await
                .map_err(err)?;
        Ok(Conn { client, statements })
    }

    /// A connection: an idle one, or a new one while under the limit.
    async fn get(&self) -> Result<Lease<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::backend(BACKEND, e))?;
        let idle = loop {
            let Some(c) = self.idle().pop() else {
                break None;
            };
            if !c.client.is_closed() {
                break Some(c);
            }
        };
        let conn = if let Some(c) = idle {
            c
        } else {
            let client = self.connect_raw().await?;
            self.prepare(client).await?
        };
        Ok(Lease {
            pool: self,
            conn: Some(conn),
            done: false,
            _permit: permit,
        })
    }

    /// Creates the tables or checks their schema version, under an advisory
    /// lock so that stores opening at once do not race.
    async fn migrate(&self, client: &mut Client) -> Result<()> {
        let p = &self.sql.p;
        let txn = client.transaction().await.map_err(err)?;
        txn.execute("SELECT pg_advisory_xact_lock($1::bigint)", &[&lock_id(p)])
            .await
            .map_err(err)?;
        if let Some(schema) = &self.sql.schema {
            // Look first: a role that may use the schema but not create
            // one opens a store in an existing schema.
            let exists: bool = txn
                .query_one(
                    "SELECT to_regnamespace($1::text) IS NOT NULL",
                    &[&format!("\"{schema}\"")],
                )
                .await
                .map_err(err)?
                .try_get(0)
                .map_err(err)?;
            if !exists {
                txn.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .await
                    .map_err(err)?;
            }
        }
        // Look before creating: a role that may use the tables but not
        // create any opens an existing store.
        let exists: bool = txn
            .query_one(
                "SELECT to_regclass($1::text) IS NOT NULL",
                &[&format!("{p}_meta")],
            )
            .await
            .map_err(err)?
            .try_get(0)
            .map_err(err)?;
        if !exists {
            txn.batch_execute(&format!(
                "CREATE TABLE {p}_meta (name text PRIMARY KEY, value bigint NOT NULL)"
            ))
            .await
            .map_err(err)?;
        }
        let schema: Option<i64> = txn
            .query_opt(
                &format!("SELECT value FROM {p}_meta WHERE name = 'schema'"),
                &[],
            )
            .await
            .map_err(err)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(err)?;
        match schema {
            None => {
                txn.batch_execute(&self.sql.create_schema())
                    .await
                    .map_err(err)?;
                txn.execute(
                    &format!("INSERT INTO {p}_meta (name, value) VALUES ('schema', $1::bigint)"),
                    &[&SCHEMA],
                )
                .await
                .map_err(err)?;
            }
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(corrupt(
                    &format!("{p}_meta/schema"),
                    format!("schema {other}, this build reads {SCHEMA}"),
                ));
            }
        }
        txn.commit().await.map_err(err)
    }
}

/// The advisory lock of one table prefix's schema changes (FNV-1a).
fn lock_id(prefix: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "blocksmith-store:".bytes().chain(prefix.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// The runtime a store owns: a current-thread Tokio runtime driven by one
/// thread of its own, so a call's task and its connection's I/O run on one
/// thread (no hand-offs between workers). Dropping it tells the thread to
/// stop, without waiting for it, so dropping the store inside another
/// runtime is fine.
struct OwnedRuntime(Option<tokio::sync::oneshot::Sender<()>>);

impl OwnedRuntime {
    fn start() -> std::io::Result<(Handle, OwnedRuntime)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("blocksmith-postgres".into())
            .spawn(move || {
                // Until the store goes (the sender is dropped); then the
                // runtime and its tasks (idle connections) go with it.
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok((handle, OwnedRuntime(Some(stop))))
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        drop(self.0.take());
    }
}

/// A store in PostgreSQL tables: durable, compare-and-swap across every
/// process and machine that shares the database, values in 1 MiB chunk rows
/// (a ranged get reads only the chunks it covers), `compose` copied on the
/// server (no byte comes through the client).
///
/// Like [`crate::ObjectStoreAdapter`], the store runs every call on a Tokio
/// runtime, its own ([`PostgresStore::open`]: a current-thread runtime on
/// one thread of its own) or one you pass
/// ([`PostgresStore::open_with_handle`]), and awaits the task: its futures
/// can be awaited from any executor or driven by [`crate::block_on`], and
/// never block the thread that polls them. A call in flight finishes on the
/// runtime even when its future is dropped, so no transaction is left half
/// done by a cancelled caller.
///
/// Failures of the connection or the server (closed, refused, reset,
/// shutting down, `statement_timeout`, serialization or deadlock) are
/// [`Error::Backend`] with [`Error::is_temporary`] true; other SQL errors are
/// backend errors that are not. After a temporary error the pool drops the
/// broken connection and opens a new one for the next call. Connections
/// use TCP keepalives after 30 s idle and a 30 s `tcp_user_timeout` unless
/// the connection string sets them, so a server gone without a word fails
/// the calls on it within about a minute; [`PostgresOptions::call_timeout`]
/// bounds every call ([`Error::TimedOut`]). Table names resolve through the
/// connections' `search_path` unless [`PostgresOptions::schema`] qualifies
/// them.
///
/// ```no_run
/// use blocksmith_store::{Key, PostgresOptions, PostgresStore, StoreExt, block_on};
/// let options = PostgresOptions::new("postgres://app@127.0.0.1:5432/app").with_table_prefix("app");
/// let store = block_on(PostgresStore::open(options))?;
/// let key = Key::new("config/app")?;
/// store.blocking().put(&key, "{}")?;
/// assert_eq!(store.blocking().list_all("config/")?.len(), 1);
/// # Ok::<(), blocksmith_store::Error>(())
/// ```
pub struct PostgresStore {
    pool: Arc<Pool>,
    handle: Handle,
    runtime: Option<OwnedRuntime>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table_prefix", &self.pool.sql.prefix)
            .field("pool_size", &self.pool.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the server in `options`, creating the store's tables (or
    /// checking their schema version), and starts a private Tokio runtime
    /// (current-thread, on one thread of its own) for the store's I/O.
    ///
    /// # Errors
    /// [`Error::Backend`] when the connection string or the table prefix is
    /// invalid, the server cannot be reached (temporary: refused, timed out,
    /// starting up) or refuses the login or the `CREATE`s;
    /// [`Error::Corrupt`] when the tables hold a newer schema than this build
    /// reads; [`Error::Io`] when the runtime cannot be started.
    pub async fn open(options: PostgresOptions) -> Result<Self> {
        let (handle, runtime) =
            OwnedRuntime::start().map_err(|e| Error::io("start the store's runtime", e))?;
        let mut store = Self::open_with_handle(options, handle).await?;
        store.runtime = Some(runtime);
        Ok(store)
    }

    /// Connects as [`PostgresStore::open`] does, running the store's I/O on
    /// an existing runtime (which must have its I/O and time drivers
    /// enabled, as `#[tokio::main]` and `Builder::enable_all` do).
    ///
    /// Await the store's futures inside that runtime, or drive them with
    /// [`crate::block_on`] (`.blocking()`) from a thread that is not one of
    /// its workers: on a current-thread runtime, blocking its only thread on
    /// the store leaves nobody to run the query, and the call hangs.
    ///
    /// # Errors
    /// As [`PostgresStore::open`], except [`Error::Io`].
    pub async fn open_with_handle(options: PostgresOptions, handle: Handle) -> Result<Self> {
        validate_prefix(&options.table_prefix)?;
        if let Some(schema) = &options.schema {
            validate_schema(schema)?;
        }
        let mut config: tokio_postgres::Config = options
            .url
            .parse()
            .map_err(|e| config_error(format!("invalid PostgreSQL connection string: {e}")))?;
        config
            .application_name(&options.application_name)
            .connect_timeout(options.connect_timeout);
        network_defaults(&mut config, &options.url);
        if let Some(t) = options.statement_timeout {
            add_server_option(
                &mut config,
                "statement_timeout",
                &t.as_millis().max(1).to_string(),
            );
        }
        if let Some(schema) = &options.schema {
            add_server_option(&mut config, "search_path", &format!("pg_catalog,{schema}"));
        }
        let pool = Arc::new(Pool {
            config,
            sql: Sql::new(&options.table_prefix, options.schema.as_deref()),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(options.pool_size.max(1)),
            call_timeout: options.call_timeout,
        });
        let p = pool.clone();
        handle
            .spawn(async move {
                let mut client = p.connect_raw().await?;
                p.migrate(&mut client).await?;
                let conn = p.prepare(client).await?;
                p.idle().push(conn);
                Ok::<_, Error>(())
            })
            .await
            .map_err(|e| Error::backend(BACKEND, e))??;
        Ok(PostgresStore {
            pool,
            handle,
            runtime: None,
        })
    }

    /// Runs `f` with a pooled connection, in a task on the store's runtime.
    /// After a temporary error the connection is dropped rather than pooled:
    /// it may be closing (the client may not know it yet) or mid-way through
    /// something the server gave up on.
    ///
    /// The whole call, waiting for the connection included, is limited by
    /// [`PostgresOptions::call_timeout`]; past it the lease is dropped
    /// mid-call, which closes its connection.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.run_limited(true, f).await
    }

    /// [`PostgresStore::run`], with the call timeout applied to the whole
    /// call (`whole`) or only to waiting for the connection (the call then
    /// limits its own round trips with [`within`]).
    async fn run_limited<T, F>(&self, whole: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let pool = self.pool.clone();
        let limit = pool.call_timeout;
        self.handle
            .spawn(async move {
                let call = async {
                    let mut lease = within(limit, pool.get()).await?;
                    let r = f(&mut lease).await;
                    if r.as_ref().is_err_and(Error::is_temporary) {
                        lease.conn = None;
                    }
                    lease.done = true;
                    r
                };
                within(if whole { limit } else { None }, call).await
            })
            .await
            .map_err(|e| Error::backend(BACKEND, e))?
    }
}

/// The compare-and-swap statement of `mode` and its parameters after the
/// key: `(statement, expected version)`; `Err` when an expected version is
/// not one this store made (the condition fails without a round trip).
fn cas_statement(key: &str, mode: &PutMode) -> Result<(usize, Option<i64>)> {
    match mode {
        PutMode::Overwrite => Ok((PUT_OVERWRITE, None)),
        PutMode::Create => Ok((PUT_CREATE, None)),
        PutMode::Update(v) => match parse_version(v) {
            Some(n) => Ok((PUT_UPDATE, Some(n))),
            None => Err(Error::PreconditionFailed {
                key: key.to_string(),
            }),
        },
    }
}

/// Runs the compare-and-swap of `mode` with `first` as the chunk at offset
/// 0 (empty: none) and `size` as the object's size; the new version, or the
/// failed condition's error.
async fn cas(
    db: &impl GenericClient,
    statements: &[Statement],
    key: &str,
    mode: &PutMode,
    size: i64,
    first: &[u8],
) -> Result<i64> {
    let (which, expected) = cas_statement(key, mode)?;
    let row = match expected {
        Some(v) => db
            .query_opt(&statements[which], &[&key, &v, &size, &first])
            .await
            .map_err(err)?,
        None => db
            .query_opt(&statements[which], &[&key, &size, &first])
            .await
            .map_err(err)?,
    };
    match row {
        Some(row) => row.try_get(0).map_err(err),
        None if which == PUT_CREATE => Err(Error::AlreadyExists {
            key: key.to_string(),
        }),
        None => Err(Error::PreconditionFailed {
            key: key.to_string(),
        }),
    }
}

/// Reads a `GET` or `GET_RANGE` answer: the version and size of the first
/// row, then the pieces in order, each starting where the last one ended.
async fn read_pieces(
    key: &str,
    rows: tokio_postgres::RowStream,
    range: Option<&ByteRange>,
) -> Result<Option<(Version, u64, std::ops::Range<u64>, Bytes)>> {
    let mut rows = std::pin::pin!(rows);
    let Some(first) = rows.next().await.transpose().map_err(err)? else {
        return Ok(None);
    };
    let version = version_of(key, first.try_get(0).map_err(err)?)?;
    let size = size_of(key, first.try_get(1).map_err(err)?)?;
    let want = match range {
        Some(r) => r.resolve(&Key::new(key)?, size)?,
        None => 0..size,
    };
    let len = want.end - want.start;
    // Grown as pieces arrive (at most doubling what arrived, never past the
    // expected length): a row whose size lies costs what its chunks hold,
    // not a reservation of its claimed size.
    let mut out = BytesMut::new();
    let mut single: Option<Bytes> = None;
    let mut pos = want.start;
    let mut row = Some(first);
    while let Some(r) = row {
        let start: Option<i64> = r.try_get(2).map_err(err)?;
        let piece: Option<&[u8]> = r.try_get(3).map_err(err)?;
        if let (Some(start), Some(piece)) = (start, piece) {
            // Each piece begins where the last one ended.
            let begin = size_of(key, start)?.max(want.start);
            if begin != pos {
                return Err(corrupt(
                    key,
                    format!("a chunk begins at {begin}, not at {pos}"),
                ));
            }
            pos += piece.len() as u64;
            if pos > want.end {
                return Err(corrupt(key, format!("chunks run past {}", want.end)));
            }
            if piece.len() as u64 == len {
                // The common case, one piece (anything after it ran past
                // the end above): no second copy.
                single = Some(Bytes::copy_from_slice(piece));
            } else {
                if out.capacity() - out.len() < piece.len() {
                    let left = usize::try_from(len).unwrap_or(usize::MAX) - out.len();
                    out.reserve(left.min(out.len().max(piece.len())).max(piece.len()));
                }
                out.extend_from_slice(piece);
            }
        }
        row = rows.next().await.transpose().map_err(err)?;
    }
    let data = single.unwrap_or_else(|| out.freeze());
    if data.len() as u64 != len {
        return Err(corrupt(
            key,
            format!(
                "chunks hold {} bytes of the {len} expected at {want:?}",
                data.len()
            ),
        ));
    }
    Ok(Some((version, size, want, data)))
}

fn not_found(key: &str) -> Error {
    Error::NotFound {
        key: key.to_string(),
    }
}

fn params<'a>(
    p: &'a [&'a (dyn ToSql + Sync)],
) -> impl ExactSizeIterator<Item = &'a (dyn ToSql + Sync)> + 'a {
    p.iter().copied()
}

impl Store for PostgresStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        let k = key.as_str().to_owned();
        let range = options.range;
        let (version, size, range, data) = self
            .run(move |conn| {
                Box::pin(async move {
                    let found = match &range {
                        None => {
                            let rows = conn
                                .client
                                .query_raw(conn.st(GET), params(&[&k]))
                                .await
                                .map_err(err)?;
                            read_pieces(&k, rows, None).await?
                        }
                        Some(r) => {
                            let (start, end, suffix): (Option<i64>, Option<i64>, Option<i64>) =
                                match r {
                                    ByteRange::Bounded(b) => {
                                        (Some(to_i64(b.start)), Some(to_i64(b.end)), None)
                                    }
                                    ByteRange::From(s) => (Some(to_i64(*s)), None, None),
                                    ByteRange::Suffix(n) => (None, None, Some(to_i64(*n))),
                                };
                            let rows = conn
                                .client
                                .query_raw(conn.st(GET_RANGE), params(&[&k, &start, &end, &suffix]))
                                .await
                                .map_err(err)?;
                            read_pieces(&k, rows, Some(r)).await?
                        }
                    };
                    found.ok_or_else(|| not_found(&k))
                })
            })
            .await?;
        Ok(GetResult {
            meta: ObjectMeta {
                key: key.clone(),
                size,
                version,
            },
            range,
            data,
        })
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let k = key.as_str().to_owned();
        let (version, size) = self
            .run(move |conn| {
                Box::pin(async move {
                    let row = conn
                        .client
                        .query_opt(conn.st(HEAD), &[&k])
                        .await
                        .map_err(err)?
                        .ok_or_else(|| not_found(&k))?;
                    Ok((
                        version_of(&k, row.try_get(0).map_err(err)?)?,
                        size_of(&k, row.try_get(1).map_err(err)?)?,
                    ))
                })
            })
            .await?;
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            version,
        })
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let k = key.as_str().to_owned();
        let mode = options.mode;
        let version = self
            .run(move |conn| {
                Box::pin(async move {
                    let size = i64::try_from(value.len()).map_err(|_| Error::Unsupported {
                        backend: BACKEND,
                        operation: "values over 2^63 bytes",
                    })?;
                    let Conn { client, statements } = conn;
                    if value.len() <= CHUNK {
                        // One statement: the condition and the bytes commit together.
                        return cas(client, statements, &k, &mode, size, &value).await;
                    }
                    let txn = client.transaction().await.map_err(err)?;
                    let version = cas(&txn, statements, &k, &mode, size, &[]).await?;
                    let insert = &statements[INSERT_CHUNK];
                    let txn_ref = &txn;
                    stream::iter((0..value.len()).step_by(CHUNK).map(|start| {
                        let data = &value[start..(start + CHUNK).min(value.len())];
                        let start = start as i64;
                        async move {
                            txn_ref
                                .execute(insert, &[&version, &start, &data])
                                .await
                                .map_err(err)
                        }
                    }))
                    .buffered(CHUNKS_IN_FLIGHT)
                    .try_for_each(|_| async { Ok(()) })
                    .await?;
                    txn.commit().await.map_err(err)?;
                    Ok(version)
                })
            })
            .await?;
        Ok(PutResult {
            version: version_of(key.as_str(), version)?,
        })
    }

    /// One transaction: the condition first (which takes the key's row
    /// lock), then the body's chunks as they arrive (fed to the store's
    /// runtime through a channel of two chunks), then the size; readers see
    /// the old value until the commit. Memory use is one chunk; a body that
    /// fails rolls everything back.
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        // `None` ends the body; a channel closed without it (the caller's
        // future dropped mid-body) rolls the transaction back.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<Result<Bytes>>>(2);
        let k = key.as_str().to_owned();
        let mode = options.mode;
        let set_size = format!(
            "UPDATE {p}_objects SET size = $3::bigint WHERE key = $1::text AND version = $2::bigint",
            p = self.pool.sql.p
        );
        // Each round trip is limited, not the body's arrival.
        let limit = self.pool.call_timeout;
        let job = self.run_limited(false, move |conn| {
            Box::pin(async move {
                let Conn { client, statements } = conn;
                let txn = within(limit, async { client.transaction().await.map_err(err) }).await?;
                let version = within(limit, cas(&txn, statements, &k, &mode, 0, &[])).await?;
                let insert = &statements[INSERT_CHUNK];
                let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
                let mut at: i64 = 0;
                loop {
                    let chunk = match rx.recv().await {
                        Some(Some(item)) => item?,
                        Some(None) => break,
                        None => return Err(crate::stream::cancelled_body()),
                    };
                    let mut rest = &chunk[..];
                    while !rest.is_empty() {
                        let take = rest.len().min(CHUNK - buf.len());
                        buf.extend_from_slice(&rest[..take]);
                        rest = &rest[take..];
                        if buf.len() == CHUNK {
                            within(limit, async {
                                txn.execute(insert, &[&version, &at, &&buf[..]])
                                    .await
                                    .map_err(err)
                            })
                            .await?;
                            at += CHUNK as i64;
                            buf.clear();
                        }
                    }
                }
                if !buf.is_empty() {
                    within(limit, async {
                        txn.execute(insert, &[&version, &at, &&buf[..]])
                            .await
                            .map_err(err)
                    })
                    .await?;
                    at += buf.len() as i64;
                }
                if at > 0 {
                    within(limit, async {
                        txn.execute(&set_size, &[&k, &version, &at])
                            .await
                            .map_err(err)
                    })
                    .await?;
                }
                within(limit, async { txn.commit().await.map_err(err) }).await?;
                Ok(version)
            })
        });
        let feed = async move {
            while let Some(item) = next(&mut body).await {
                let failed = item.is_err();
                // A closed channel: the transaction ended early (its error
                // is the answer).
                if tx.send(Some(item)).await.is_err() || failed {
                    return;
                }
            }
            let _ = tx.send(None).await;
        };
        let version = futures_util::future::join(job, feed).await.0?;
        Ok(PutResult {
            version: version_of(key.as_str(), version)?,
        })
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let k = key.as_str().to_owned();
        self.run(move |conn| {
            Box::pin(async move {
                conn.client
                    .execute(conn.st(DELETE), &[&k])
                    .await
                    .map_err(err)?;
                Ok(())
            })
        })
        .await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let limit = options.limit;
        let prefix = options.prefix.clone();
        // The rows as the server sent them; the keys are checked and the
        // metadata built on the caller's thread, which also frees them.
        let rows: Vec<(String, i64, i64)> = self
            .run(move |conn| {
                Box::pin(async move {
                    let prefix = options.prefix.as_str();
                    let after = options.start_after.as_ref().map_or("", Key::as_str);
                    // One more than the page: it tells the page that more follow.
                    let n = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
                    let end = prefix_end(prefix);
                    let rows = match &end {
                        Some(end) => {
                            conn.client
                                .query_raw(
                                    conn.st(LIST_BOUNDED),
                                    params(&[&prefix, &after, end, &n]),
                                )
                                .await
                        }
                        None => {
                            conn.client
                                .query_raw(conn.st(LIST_OPEN), params(&[&prefix, &after, &n]))
                                .await
                        }
                    }
                    .map_err(err)?;
                    let mut rows = std::pin::pin!(rows);
                    let mut out = Vec::with_capacity(limit.min(1024) + 1);
                    while let Some(row) = rows.next().await.transpose().map_err(err)? {
                        out.push((
                            row.try_get(0).map_err(err)?,
                            row.try_get(1).map_err(err)?,
                            row.try_get(2).map_err(err)?,
                        ));
                    }
                    Ok(out)
                })
            })
            .await?;
        let mut objects = Vec::with_capacity(rows.len());
        for (k, version, size) in rows {
            if !k.starts_with(prefix.as_str()) {
                break;
            }
            objects.push(ObjectMeta {
                version: version_of(&k, version)?,
                size: size_of(&k, size)?,
                key: Key::new(k)?,
            });
        }
        Ok(ListPage::from_sorted(objects, limit))
    }

    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        let target_key = target.as_str().to_owned();
        let parts: Vec<ComposePart> = parts.to_vec();
        let mode = options.mode;
        let version = self
            .run(move |conn| {
                Box::pin(async move {
                    let Conn {
                        client,
                        statements: stmts,
                    } = conn;
                    let txn = client.transaction().await.map_err(err)?;
                    // The parts, locked until commit so that none changes or
                    // goes (with its chunks) while it is copied.
                    let mut names: Vec<&str> = parts.iter().map(|p| p.key.as_str()).collect();
                    names.sort_unstable();
                    names.dedup();
                    let mut found: HashMap<String, (i64, u64)> = HashMap::new();
                    for row in txn
                        .query(&stmts[LOCK_PARTS], &[&names])
                        .await
                        .map_err(err)?
                    {
                        let key: String = row.try_get(0).map_err(err)?;
                        let version: i64 = row.try_get(1).map_err(err)?;
                        let size = size_of(&key, row.try_get(2).map_err(err)?)?;
                        found.insert(key, (version, size));
                    }
                    let mut copies = Vec::with_capacity(parts.len());
                    let mut total = 0u64;
                    for p in &parts {
                        let (version, size) = *found
                            .get(p.key.as_str())
                            .ok_or_else(|| not_found(p.key.as_str()))?;
                        let r = match &p.range {
                            Some(r) => r.resolve(&p.key, size)?,
                            None => 0..size,
                        };
                        if r.start < r.end {
                            copies.push((to_i64(total), version, r.clone()));
                        }
                        total = total.checked_add(r.end - r.start).ok_or_else(|| {
                            corrupt(&target_key, "the parts' sizes add up past 2^64 bytes")
                        })?;
                    }
                    let new = cas(&txn, stmts, &target_key, &mode, to_i64(total), &[]).await?;
                    for (offset, source, r) in copies {
                        let (start, end) = (to_i64(r.start), to_i64(r.end));
                        let copied: i64 = txn
                            .query_one(&stmts[COPY_PART], &[&new, &offset, &source, &start, &end])
                            .await
                            .map_err(err)?
                            .try_get(0)
                            .map_err(err)?;
                        if copied != end - start {
                            return Err(corrupt(
                                &target_key,
                                format!(
                                    "a part's chunks held {copied} of the {} bytes of {r:?}",
                                    end - start
                                ),
                            ));
                        }
                    }
                    txn.commit().await.map_err(err)?;
                    Ok(new)
                })
            })
            .await?;
        Ok(PutResult {
            version: version_of(target.as_str(), version)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_bound_exactly_the_keys_under_the_prefix() {
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("a/b").as_deref(), Some("a/c"));
        assert_eq!(prefix_end("a%").as_deref(), Some("a&"));
        // Past the surrogates, and past the last character.
        assert_eq!(prefix_end("x\u{d7ff}").as_deref(), Some("x\u{e000}"));
        assert_eq!(prefix_end("x\u{10ffff}").as_deref(), Some("y"));
        assert_eq!(prefix_end("\u{10ffff}\u{10ffff}"), None);
        for (prefix, inside, outside) in [
            ("a/b", "a/b\u{10ffff}\u{10ffff}", "a/c"),
            ("\u{7ff}", "\u{7ff}\u{10ffff}", "\u{800}"),
            ("k\u{ffff}", "k\u{ffff}zz", "k\u{10000}"),
        ] {
            let end = prefix_end(prefix).unwrap();
            assert!(
                inside < end.as_str() && outside >= end.as_str(),
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn table_prefixes_are_identifiers() {
        for good in [
            "blocksmith",
            "_x",
            "a1_b2",
            &"a".repeat(MAX_TABLE_PREFIX_LEN),
        ] {
            assert!(validate_prefix(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "a\"b",
            "é",
            &"a".repeat(MAX_TABLE_PREFIX_LEN + 1),
        ] {
            assert!(validate_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_versions_this_store_made_parse() {
        assert_eq!(parse_version(&Version::from_u64(0x2a)), Some(0x2a));
        assert_eq!(parse_version(&Version::new("002a")), None);
        assert_eq!(parse_version(&Version::new("2A")), None);
        assert_eq!(parse_version(&Version::new("\"etag\"")), None);
        assert_eq!(parse_version(&Version::from_u64(u64::MAX)), None);
    }

    #[test]
    fn network_defaults_apply_unless_the_connection_string_sets_them() {
        let url = "postgres://app@db/app";
        let mut c: tokio_postgres::Config = url.parse().unwrap();
        network_defaults(&mut c, url);
        assert_eq!(c.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(c.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
        assert_eq!(c.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        assert_eq!(c.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        for url in [
            "postgres://app@db/app?keepalives_idle=300&keepalives_interval=20\
             &keepalives_retries=7&tcp_user_timeout=0",
            "host=db user=app keepalives_idle=300 keepalives_interval=20 \
             keepalives_retries=7 tcp_user_timeout=0",
        ] {
            let mut c: tokio_postgres::Config = url.parse().unwrap();
            network_defaults(&mut c, url);
            assert_eq!(c.get_keepalives_idle(), Duration::from_secs(300), "{url}");
            assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(20)));
            assert_eq!(c.get_keepalives_retries(), Some(7));
            // 0: the system's default, as the string asks.
            assert_eq!(c.get_tcp_user_timeout(), None);
        }
    }

    #[test]
    fn schemas_are_identifiers_and_qualify_every_name() {
        for good in ["app", "_x", "a1_b2", &"s".repeat(63)] {
            assert!(validate_schema(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "1a",
            "App",
            "a-b",
            "a\"b",
            "pg_catalog",
            &"s".repeat(64),
        ] {
            assert!(validate_schema(bad).is_err(), "{bad:?}");
        }
        let sql = Sql::new("bs", Some("app"));
        for text in sql.texts.iter().chain([&sql.create_schema()]) {
            for name in ["bs_objects", "bs_chunks", "bs_versions", "bs_drop_chunks"] {
                let bare = text.match_indices(name).filter(|(i, _)| {
                    !text[..*i].ends_with("\"app\".")
                        && !text[..*i].ends_with("CONSTRAINT TRIGGER ")
                });
                assert_eq!(bare.count(), 0, "{name} unqualified in {text}");
            }
        }
        assert!(
            sql.create_schema()
                .contains("SET search_path = pg_catalog, pg_temp")
        );
        assert!(!Sql::new("bs", None).create_schema().contains("search_path"));
    }

    #[test]
    fn descriptions_leave_the_password_out() {
        let d = describe("postgres://app:hunter2@db.local:6543/appdb");
        assert_eq!(d, "app@db.local:6543/appdb");
        assert!(!describe("host=db user=u password=hunter2").contains("hunter2"));
        assert_eq!(describe("not a url="), "<not a valid connection string>");
    }
}
