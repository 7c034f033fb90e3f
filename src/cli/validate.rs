//! `svalbard validate`: check a config before a DAG runs it.

use std::path::PathBuf;

use clap::Args;

use super::OK;
use crate::config::Config;
use crate::error::Result;

#[derive(Args, Debug)]
#[command(
    about = "Check a configuration file and print it with every default filled in",
    after_help = "Example:\n  svalbard validate svalbard.toml"
)]
pub struct ValidateArgs {
    /// The TOML configuration to check; without it, print the defaults.
    pub config: Option<PathBuf>,
}

pub fn run(a: ValidateArgs) -> Result<i32> {
    let config = Config::load_or_default(a.config.as_deref())?;
    let scorer = config.checked_scorer()?;
    eprintln!("svalbard: config is valid: signals {}; {} rules", scorer.signal_ids().join(", "), scorer.rules().len());
    print!("{}", config.to_toml());
    Ok(OK)
}
