//! `blocksmith`: a thin command-line shell over every Blocksmith crate.
//!
//! `blocksmith <crate> <verb> ...`, human output by default and `--json` for
//! machines. The exit codes are one table, [`output::EXIT_CODES`], shown by
//! `--help`; `-` stands for standard input or output wherever a file is taken.

#![forbid(unsafe_code)]

mod backend;
mod codes_cmd;
mod diff_cmd;
mod dispute_cmd;
mod feed_cmd;
mod files;
mod flow_cmd;
mod geo_cmd;
mod ocr_cmd;
mod output;
mod progress;
mod receipts_cmd;
mod sketch_cmd;
mod spell_cmd;
mod store_cmd;
mod tsz_cmd;
mod upload_cmd;
mod vault_cmd;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use output::{ColorArg, Output};
use std::path::PathBuf;
use std::process::ExitCode;

/// Blocksmith: embeddable engines for common backend features.
#[derive(Parser, Debug)]
#[command(name = "blocksmith", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text (where a command has
    /// `--format`, the same as `--format json`).
    #[arg(long, global = true)]
    json: bool,
    /// Draw no progress bars (they are drawn only on a terminal anyway).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Colour diffs and error messages: auto (a terminal, and `NO_COLOR` unset
    /// or empty), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    color: ColorArg,
    /// The store that persisting commands use: a directory for the embedded
    /// store (`DIR/blocksmith.redb`), `sqlite:PATH` for one SQLite file that
    /// several processes may share, or `postgres://USER@HOST:PORT/DB` for
    /// tables in a PostgreSQL server (`?table_prefix=NAME` picks the tables,
    /// default `blocksmith`).
    ///
    /// A URL with a password belongs in `BLOCKSMITH_STORE`, not on the command
    /// line, where `ps`, `/proc` and shell history show it. PostgreSQL
    /// connections have no TLS: use a loopback address, a Unix socket or a
    /// trusted network (`sslmode=prefer`, the default, connects in plaintext;
    /// `sslmode=require` refuses to connect).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "BLOCKSMITH_STORE",
        hide_env_values = true,
        default_value = ".blocksmith"
    )]
    store: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read and write the embedded blob store.
    #[command(subcommand)]
    Store(store_cmd::StoreCmd),
    /// Time-series compression: measure, compress, decompress.
    #[command(subcommand)]
    Tsz(tsz_cmd::TszCmd),
    /// Diff, patch and merge text and JSON/YAML/TOML; config history and drift.
    /// Exit code 1 means "differences found" (as diff(1) does).
    Diff(diff_cmd::DiffArgs),
    /// Moving entities: load positions, nearby queries, geofences.
    #[command(subcommand)]
    Geo(geo_cmd::GeoCmd),
    /// Feed ranking and delivery: simulate a social graph, timelines.
    #[command(subcommand)]
    Feed(feed_cmd::FeedCmd),
    /// resumable chunked uploads: put, status, CDC plans.
    #[command(subcommand)]
    Upload(upload_cmd::UploadCmd),
    /// mergeable sketches, windowed aggregation, experiment statistics.
    #[command(subcommand)]
    Sketch(sketch_cmd::SketchCmd),
    /// autocorrect: correct words and running text.
    #[command(subcommand)]
    Spell(spell_cmd::SpellCmd),
    /// QR and barcodes: encode, decode images, GS1 data, campaigns.
    #[command(subcommand)]
    Codes(codes_cmd::CodesCmd),
    /// OCR document images: text, JSON tree or hOCR
    Ocr(ocr_cmd::OcrArgs),
    /// Zero-knowledge vault: init, add, get, list, share, rotate.
    #[command(subcommand)]
    Vault(vault_cmd::VaultCmd),
    /// API keys: new, verify, rotate (with a grace period), revoke, list.
    #[command(subcommand)]
    Apikey(vault_cmd::ApiKeyCmd),
    /// Durable workflows: list, show (state and history), signal, tick.
    #[command(subcommand)]
    Flow(flow_cmd::FlowCmd),
    /// Tenants: create (with rollback on failure), show, list, suspend,
    /// resume, delete, purge, plan.
    #[command(subcommand)]
    Tenant(flow_cmd::TenantCmd),
    /// Payment disputes: open, evidence, submit, accept, event, due,
    /// ledger, show, stats, reconcile.
    #[command(subcommand)]
    Dispute(dispute_cmd::DisputeCmd),
    /// Delivery and read receipts: simulate a chat workload, read, status
    /// ("read by N of M"), unread badges.
    #[command(subcommand)]
    Receipts(receipts_cmd::ReceiptsCmd),
    /// Print a shell completion script, e.g.
    /// `blocksmith completions bash > ~/.local/share/bash-completion/completions/blocksmith`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The command line, with the exit-code table in `--help`.
fn command() -> clap::Command {
    Cli::command().after_help(output::exit_codes_help())
}

/// Parses the command line. A usage error exits 2, as clap's own do, and is
/// a JSON object on stderr under `--json`.
fn parse() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let result = command()
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m));
    match result {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let informational = matches!(e.kind(), K::DisplayHelp | K::DisplayVersion)
                || e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand;
            if !informational && args.iter().skip(1).any(|a| a == "--json") {
                let message = e.render().to_string();
                let first = message
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                eprintln!(
                    "{}",
                    serde_json::json!({"error": first, "kind": "usage", "exit_code": 2})
                );
                std::process::exit(2);
            }
            e.exit()
        }
    }
}

fn main() -> ExitCode {
    let cli = parse();
    let json = cli.json || matches!(&cli.command, Command::Ocr(a) if a.wants_json());
    let out = Output::new(json, cli.quiet, cli.color);
    let result = match cli.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut command(), "blocksmith", &mut buf);
            files::write(std::path::Path::new("-"), &buf)
        }
        Command::Store(cmd) => store_cmd::run(cmd, &cli.store, &out),
        Command::Tsz(cmd) => tsz_cmd::run(cmd, &out),
        Command::Diff(args) => match diff_cmd::run(args, &cli.store, &out) {
            Ok(diff_cmd::Outcome::Different) => return ExitCode::from(1),
            other => other.map(drop),
        },
        Command::Geo(cmd) => geo_cmd::run(cmd, &cli.store, &out),
        Command::Feed(cmd) => feed_cmd::run(cmd, &cli.store, &out),
        Command::Upload(cmd) => upload_cmd::run(cmd, &cli.store, &out),
        Command::Sketch(cmd) => sketch_cmd::run(cmd, &cli.store, &out),
        Command::Spell(cmd) => spell_cmd::run(cmd, &cli.store, &out),
        Command::Codes(cmd) => codes_cmd::run(cmd, &cli.store, &out),
        Command::Ocr(cmd) => ocr_cmd::run(cmd, &cli.store, &out),
        Command::Vault(cmd) => vault_cmd::run(cmd, &cli.store, &out),
        Command::Apikey(cmd) => vault_cmd::run_apikey(cmd, &cli.store, &out),
        Command::Flow(cmd) => flow_cmd::run_flow(cmd, &cli.store, &out),
        Command::Tenant(cmd) => flow_cmd::run_tenant(cmd, &cli.store, &out),
        Command::Dispute(cmd) => dispute_cmd::run(cmd, &cli.store, &out),
        Command::Receipts(cmd) => receipts_cmd::run(cmd, &cli.store, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(e.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = command().render_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("BLOCKSMITH_STORE"), "{help}");
    }
}
