//! `blocksmith`: a thin command-line shell over every Blocksmith crate.
//!
//! `blocksmith <crate> <verb> ...`, human output by default and `--json` for
//! machines. Exit codes: 0 success, 1 internal failure, 2 bad input (usage,
//! invalid key or range), 3 not found, 4 a write condition failed.

#![forbid(unsafe_code)]

mod codes_cmd;
mod diff_cmd;
mod dispute_cmd;
mod feed_cmd;
mod flow_cmd;
mod geo_cmd;
mod ocr_cmd;
mod output;
mod sketch_cmd;
mod spell_cmd;
mod store_cmd;
mod tsz_cmd;
mod upload_cmd;
mod vault_cmd;

use clap::{Parser, Subcommand};
use output::Output;
use std::path::PathBuf;
use std::process::ExitCode;

/// Blocksmith: embeddable engines for common backend features.
#[derive(Parser, Debug)]
#[command(name = "blocksmith", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Directory of the embedded store that persisting commands use.
    #[arg(long, global = true, value_name = "DIR", default_value = ".blocksmith")]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output { json: cli.json };
    let result = match cli.command {
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
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
