//! The store that persisting commands use, chosen by `--store`: a directory
//! holding the embedded default (`DIR/blocksmith.redb`), or `sqlite:PATH`, one
//! SQLite database file that several processes may share.

use crate::output::CliError;
use blocksmith_store::{DynStore, RedbStore, SqliteStore};
use std::path::Path;
use std::sync::Arc;

/// The store every persisting command works on.
pub(crate) type CliStore = Arc<dyn DynStore>;

/// Whether the store that `--store` names exists (reading commands never
/// create one).
pub(crate) fn exists(arg: &Path) -> bool {
    match arg.to_str().and_then(|s| s.strip_prefix("sqlite:")) {
        Some(path) => Path::new(path).exists(),
        None => arg.join("blocksmith.redb").exists(),
    }
}

/// Opens the store that `--store` names (creating it when missing).
pub(crate) fn open(arg: &Path) -> Result<CliStore, CliError> {
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
