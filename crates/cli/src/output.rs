//! Output and error conventions shared by every subcommand: how results are
//! printed, when colour is used, and the one table of exit codes.

use anstyle::{AnsiColor, Style};
use std::fmt;
use std::fmt::Write as _;
use std::io::IsTerminal as _;

/// How results are printed.
#[allow(clippy::struct_excessive_bools)] // independent switches
pub(crate) struct Output {
    /// One line of JSON on stdout instead of text (`--json`).
    pub(crate) json: bool,
    /// No progress bars (`--quiet`).
    pub(crate) quiet: bool,
    /// Colour in what goes to stdout (a terminal, `NO_COLOR` unset, or `--color always`).
    pub(crate) color_out: bool,
    /// Colour in error messages on stderr.
    pub(crate) color_err: bool,
}

/// `--color`: when to colour diffs and error messages.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ColorArg {
    /// On a terminal, unless `NO_COLOR` (or `CLICOLOR=0`) is set.
    #[default]
    Auto,
    /// Always, even into a pipe and whatever `NO_COLOR` says.
    Always,
    /// Never.
    Never,
}

impl Output {
    /// An `Output` for the given switches; colour is decided once per stream
    /// (<https://no-color.org>: an explicit `--color always` wins over `NO_COLOR`).
    pub(crate) fn new(json: bool, quiet: bool, color: ColorArg) -> Self {
        let decide = |auto: fn() -> bool| match color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => auto(),
        };
        Output {
            json,
            quiet,
            color_out: !json && decide(|| auto_color(&std::io::stdout())),
            color_err: !json && decide(|| auto_color(&std::io::stderr())),
        }
    }

    /// Whether progress bars may be drawn: not with `--json` or `--quiet`, and
    /// only on a terminal (checked again by [`crate::progress`]).
    pub(crate) fn progress(&self) -> bool {
        !self.json && !self.quiet && std::io::stderr().is_terminal()
    }

    /// `text` in `style` if stdout is coloured, else `text` unchanged.
    pub(crate) fn paint(&self, style: Style, text: &str) -> String {
        paint(self.color_out, style, text)
    }

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
            let label = paint(self.color_err, AnsiColor::Red.on_default().bold(), "error");
            eprintln!("blocksmith: {label}: {e}");
        }
    }
}

/// What `auto` means for `stream`: no colour if `NO_COLOR` is set and not
/// empty; else `anstream`'s decision (`CLICOLOR`, `CLICOLOR_FORCE`,
/// `TERM=dumb`, and whether the stream is a terminal).
fn auto_color<S: anstream::stream::RawStream>(stream: &S) -> bool {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

/// `text` wrapped in `style`'s escape codes when `on`.
pub(crate) fn paint(on: bool, style: Style, text: &str) -> String {
    if on {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// The exit codes of `blocksmith`: `(code, error kind in --json, meaning)`.
/// [`CliError::code`] and the `--help` text are built from this table.
pub(crate) const EXIT_CODES: &[(u8, &str, &str)] = &[
    (
        0,
        "-",
        "success (diff: no differences, patch applied, merge clean)",
    ),
    (
        1,
        "internal",
        "I/O, store or internal failure; diff: differences, rejected hunks, conflicts or drift",
    ),
    (
        2,
        "usage, bad_input",
        "usage error, malformed input, or a request the current state does not allow",
    ),
    (
        3,
        "not_found",
        "not found: a key, item, index, job or input file",
    ),
    (
        4,
        "conflict",
        "conflict: create-only or compare-and-swap failed, name taken, already done",
    ),
    (
        5,
        "verification_failed",
        "verification failed: wrong password, API key rejected, a render or round trip off",
    ),
];

/// The exit-code table as `--help` shows it.
pub(crate) fn exit_codes_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, _, meaning) in EXIT_CODES {
        let _ = writeln!(s, "  {code}  {meaning}");
    }
    s.push_str(
        "\nEnvironment:\n  BLOCKSMITH_STORE  the store directory when --store is not given\n  \
         NO_COLOR          set and not empty: no colour (unless --color always)\n\n\
         A FILE argument of `-` is standard input (or standard output, for an output).",
    );
    s
}

/// An error classified by whose fault it is; the variant decides the exit code.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The input was wrong (exit 2).
    BadInput(String),
    /// The thing asked for does not exist (exit 3).
    NotFound(String),
    /// A write condition failed (exit 4).
    Conflict(String),
    /// A check failed: credentials, a key, a verification (exit 5).
    Verify(String),
    /// Anything else (exit 1).
    Internal(String),
}

impl CliError {
    /// The process exit code, from [`EXIT_CODES`].
    pub(crate) fn code(&self) -> u8 {
        let kind = self.kind_name();
        EXIT_CODES
            .iter()
            .find(|(_, kinds, _)| kinds.split(", ").any(|k| k == kind))
            .map_or(1, |(code, _, _)| *code)
    }

    /// The `kind` of the JSON error object.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            CliError::Internal(_) => "internal",
            CliError::BadInput(_) => "bad_input",
            CliError::NotFound(_) => "not_found",
            CliError::Conflict(_) => "conflict",
            CliError::Verify(_) => "verification_failed",
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::BadInput(m)
            | CliError::NotFound(m)
            | CliError::Conflict(m)
            | CliError::Verify(m)
            | CliError::Internal(m) => f.write_str(m),
        }
    }
}

/// An error with its causes, outermost first, joined by `: ` (what
/// anyhow prints with `{:#}`): library errors do not repeat their
/// `source()` in their own message, so the command line walks the chain.
pub(crate) fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // Transparent wrappers and messages that already quote their cause.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

impl From<blocksmith_store::Error> for CliError {
    fn from(e: blocksmith_store::Error) -> Self {
        use blocksmith_store::Error as E;
        let msg = crate::output::report(&e);
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
        CliError::Internal(crate::output::report(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_has_its_row() {
        let cases = [
            (CliError::Internal(String::new()), 1),
            (CliError::BadInput(String::new()), 2),
            (CliError::NotFound(String::new()), 3),
            (CliError::Conflict(String::new()), 4),
            (CliError::Verify(String::new()), 5),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{}", e.kind_name());
        }
        let help = exit_codes_help();
        for (code, _, _) in EXIT_CODES {
            assert!(help.contains(&format!("\n  {code}  ")), "{help}");
        }
    }

    #[test]
    fn paint_only_when_on() {
        let red = AnsiColor::Red.on_default();
        assert_eq!(paint(false, red, "x"), "x");
        let on = paint(true, red, "x");
        assert!(
            on.starts_with('\u{1b}') && on.contains('x') && on.ends_with('m'),
            "{on:?}"
        );
    }
}
