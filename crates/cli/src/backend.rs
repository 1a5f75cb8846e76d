//! The store that persisting commands use, chosen by `--store`: a directory
//! holding the embedded default (`DIR/blocksmith.redb`), `sqlite:PATH`, one
//! SQLite database file that several processes may share, or
//! `postgres://user@host:port/db`, tables in a PostgreSQL server that several
//! processes and machines may share.

use crate::output::CliError;
use blocksmith_store::{
    DynStore, PostgresOptions, PostgresStore, RedbStore, SqliteStore, block_on,
};
use std::path::Path;
use std::sync::Arc;

/// The store every persisting command works on.
pub(crate) type CliStore = Arc<dyn DynStore>;

/// The connection string of a `postgres://` or `postgresql://` store.
fn postgres_url(arg: &Path) -> Option<&str> {
    arg.to_str()
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// Whether the store that `--store` names exists (reading commands never
/// create one). A server store counts as existing: opening it only creates
/// its (empty) tables.
pub(crate) fn exists(arg: &Path) -> bool {
    if postgres_url(arg).is_some() {
        return true;
    }
    match arg.to_str().and_then(|s| s.strip_prefix("sqlite:")) {
        Some(path) => Path::new(path).exists(),
        None => arg.join("blocksmith.redb").exists(),
    }
}

/// Splits the CLI's own `table_prefix=NAME` parameter off a PostgreSQL URL
/// (the rest goes to the driver as it is).
fn postgres_options(url: &str) -> PostgresOptions {
    let Some((base, query)) = url.split_once('?') else {
        return PostgresOptions::new(url);
    };
    let mut prefix = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("table_prefix=") {
            Some(p) => {
                prefix = Some(p.to_owned());
                false
            }
            None => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let options = PostgresOptions::new(url);
    match prefix {
        Some(p) => options.with_table_prefix(p),
        None => options,
    }
}

/// Opens the store that `--store` names (creating it when missing).
pub(crate) fn open(arg: &Path) -> Result<CliStore, CliError> {
    if let Some(url) = postgres_url(arg) {
        return Ok(Arc::new(block_on(PostgresStore::open(postgres_options(
            url,
        )))?));
    }
    if let Some(path) = arg.to_str().and_then(|s| s.strip_prefix("sqlite:")) {
        if path.is_empty() {
            return Err(CliError::BadInput(
                "--store sqlite:PATH needs a file path".into(),
            ));
        }
        let path = Path::new(path);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        return Ok(Arc::new(SqliteStore::open(path)?));
    }
    std::fs::create_dir_all(arg)?;
    Ok(Arc::new(RedbStore::open(arg.join("blocksmith.redb"))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_prefix_parameter_is_the_clis() {
        let o = postgres_options("postgres://u@h:1/db?table_prefix=app&connect_timeout=3");
        assert_eq!(
            (o.url.as_str(), o.table_prefix.as_str()),
            ("postgres://u@h:1/db?connect_timeout=3", "app")
        );
        let o = postgres_options("postgres://u@h/db?table_prefix=x");
        assert_eq!(
            (o.url.as_str(), o.table_prefix.as_str()),
            ("postgres://u@h/db", "x")
        );
        let o = postgres_options("postgresql://u@h/db");
        assert_eq!(o.table_prefix, "blocksmith");
        assert!(postgres_url(Path::new("postgres://u@h/db")).is_some());
        assert!(postgres_url(Path::new("dir/postgres://")).is_none());
    }
}
