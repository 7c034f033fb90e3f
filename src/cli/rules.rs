//! `svalbard rules`: every rule a configuration applies, with its stable code, its action after the config's
//! overrides and what it checks, from the same definitions the scorer runs.

use std::path::PathBuf;

use clap::Args;

use super::OK;
use crate::config::Config;
use crate::error::Result;

#[derive(Args, Debug)]
#[command(
    about = "List the rules a configuration applies: code, action and what each checks",
    after_help = "Examples:\n  svalbard rules\n  svalbard rules --config svalbard.toml --json\n\n\
                  Override a rule's action in the config's [rules] table, e.g. \"c4.too_few_sentences\" = \"flag\"."
)]
pub struct RulesArgs {
    /// TOML configuration; without it, the defaults (the rules of the signals it enables are listed).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// One JSON object per line ({"code", "action", "description"}), for machines.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: RulesArgs) -> Result<i32> {
    let config = Config::load_or_default(a.config.as_deref())?;
    let scorer = config.checked_scorer()?;
    let rows: Vec<(&str, &str, &str)> = scorer
        .rules()
        .iter()
        .zip(scorer.rule_actions())
        .map(|(r, a)| (r.code.as_str(), a.name(), r.description.as_str()))
        .collect();
    if a.json {
        for (code, action, description) in rows {
            println!("{}", serde_json::json!({"code": code, "action": action, "description": description}));
        }
    } else {
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        for (code, action, description) in rows {
            println!("{code:<width$}  {action:<6}  {description}");
        }
    }
    Ok(OK)
}
