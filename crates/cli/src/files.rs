//! File arguments: `-` is standard input (for an input) or standard output
//! (for an output), and every read error maps to the same exit code.

use crate::output::CliError;
use std::io::{BufRead, BufReader, Read as _, Write};
use std::path::Path;

/// Whether `path` is `-`.
pub(crate) fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How `path` is named in messages.
pub(crate) fn name(path: &Path) -> String {
    if is_std(path) {
        "(stdin)".to_string()
    } else {
        path.display().to_string()
    }
}

fn read_error(path: &Path, e: &std::io::Error) -> CliError {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            CliError::NotFound(format!("{}: no such file", path.display()))
        }
        _ => CliError::BadInput(format!("read {}: {e}", name(path))),
    }
}

/// Refuses more than one `-` among `paths`: standard input can be read once.
pub(crate) fn one_stdin<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), CliError> {
    if paths.into_iter().filter(|p| is_std(p)).count() > 1 {
        return Err(CliError::BadInput(
            "`-` (standard input) can be given only once".into(),
        ));
    }
    Ok(())
}

/// The whole of `path` (standard input for `-`).
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    if is_std(path) {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| read_error(path, &e))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| read_error(path, &e))
}

/// `path` as a buffered stream (standard input for `-`), with its length
/// when it is a regular file.
pub(crate) fn reader(path: &Path) -> Result<(Box<dyn BufRead>, Option<u64>), CliError> {
    if is_std(path) {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let f = std::fs::File::open(path).map_err(|e| read_error(path, &e))?;
    let len = f
        .metadata()
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len());
    Ok((Box::new(BufReader::with_capacity(1 << 16, f)), len))
}

/// A buffered stream into `path` (standard output for `-`).
pub(crate) fn writer(path: &Path) -> Result<Box<dyn Write>, CliError> {
    if is_std(path) {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout().lock())));
    }
    let f = std::fs::File::create(path)
        .map_err(|e| CliError::Internal(format!("write {}: {e}", path.display())))?;
    Ok(Box::new(std::io::BufWriter::with_capacity(1 << 16, f)))
}

/// Writes `bytes` to `path` (standard output for `-`).
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut w = writer(path)?;
    w.write_all(bytes)
        .and_then(|()| w.flush())
        .or_else(quiet_pipe)
        .map_err(|e| CliError::Internal(format!("write {}: {e}", path.display())))
}

/// A closed pipe (`| head`) is the reader's choice, not a failure.
pub(crate) fn quiet_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}
