//! The command line: a thin clap layer. Each subcommand parses its flags, validates them into a plan,
//! and calls the library.

mod bench;
mod calibrate;
mod filter;
mod lm;
mod merge_stats;
mod rules;
mod validate;
mod vault;

use clap::{Parser, Subcommand};

use crate::error::exit_code;

/// `--help`'s epilogue: the exit codes (from [`exit_code::TABLE`]) and where output goes.
fn after_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in exit_code::TABLE {
        s.push_str(&format!("  {code:<10} {meaning}\n"));
    }
    s + "\nLogs go to stderr (SVALBARD_LOG=debug for more); machine-readable results are in the output directory."
}

#[derive(Parser, Debug)]
#[command(name = "svalbard", version, about = "Find machine-generated text in web-scale corpora and filter it out.", after_help = after_help())]
pub struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Filter(filter::FilterArgs),
    Validate(validate::ValidateArgs),
    Calibrate(Box<calibrate::CalibrateArgs>),
    Bench(bench::BenchArgs),
    Lm(lm::LmArgs),
    MergeStats(merge_stats::MergeStatsArgs),
    Rules(rules::RulesArgs),
    Manifest(vault::ManifestArgs),
    Keygen(vault::KeygenArgs),
    Sign(vault::SignArgs),
    Verify(vault::VerifyArgs),
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SVALBARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("svalbard={default},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Parse the command line, run it, and return the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Filter(a) => filter::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Calibrate(a) => calibrate::run(*a),
        Command::Bench(a) => bench::run(a),
        Command::Lm(a) => lm::run(a),
        Command::MergeStats(a) => merge_stats::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Manifest(a) => vault::manifest(a),
        Command::Keygen(a) => vault::keygen(a),
        Command::Sign(a) => vault::sign(a),
        Command::Verify(a) => vault::verify(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Exactly one line, whatever the error carries.
            let msg: Vec<String> =
                e.to_string().lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
            eprintln!("svalbard: error: {}", msg.join(" "));
            e.exit_code()
        }
    }
}

pub(crate) const OK: i32 = exit_code::OK;
