//! Output and error conventions shared by every subcommand.

use std::fmt;

/// How results are printed.
pub(crate) struct Output {
    pub(crate) json: bool,
}

impl Output {
    /// Prints a result: `human` as text, or `value` as one line of JSON.
    pub(crate) fn emit(&self, value: &serde_json::Value, human: impl FnOnce() -> String) {
        // A closed pipe (`| head`) ends the output quietly, not in a panic.
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(stdout, "{value}");
        } else {
            let text = human();
            if !text.is_empty() {
                let _ = writeln!(stdout, "{text}");
            }
        }
    }

    /// Prints an error to stderr (as JSON with `--json`).
    pub(crate) fn error(&self, e: &CliError) {
        if self.json {
            eprintln!(
                "{}",
                serde_json::json!({"error": e.to_string(), "kind": e.kind_name(), "exit_code": e.code()})
            );
        } else {
            eprintln!("blocksmith: {e}");
        }
    }
}

/// An error classified by whose fault it is.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The input was wrong (exit 2).
    BadInput(String),
    /// The thing asked for does not exist (exit 3).
    NotFound(String),
    /// A write condition failed (exit 4).
    Conflict(String),
    /// Anything else (exit 1).
    Internal(String),
}

impl CliError {
    pub(crate) fn code(&self) -> u8 {
        match self {
            CliError::Internal(_) => 1,
            CliError::BadInput(_) => 2,
            CliError::NotFound(_) => 3,
            CliError::Conflict(_) => 4,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            CliError::Internal(_) => "internal",
            CliError::BadInput(_) => "bad_input",
            CliError::NotFound(_) => "not_found",
            CliError::Conflict(_) => "conflict",
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::BadInput(m)
            | CliError::NotFound(m)
            | CliError::Conflict(m)
            | CliError::Internal(m) => f.write_str(m),
        }
    }
}

impl From<blocksmith_store::Error> for CliError {
    fn from(e: blocksmith_store::Error) -> Self {
        use blocksmith_store::Error as E;
        let msg = e.to_string();
        match e {
            E::NotFound { .. } => CliError::NotFound(msg),
            E::AlreadyExists { .. } | E::PreconditionFailed { .. } => CliError::Conflict(msg),
            E::InvalidKey { .. } | E::InvalidRange { .. } => CliError::BadInput(msg),
            _ => CliError::Internal(msg),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Internal(e.to_string())
    }
}
