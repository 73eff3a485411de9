//! `driftwatch api token`: a new analyst-API bearer token and its `[[api.token]]` entry.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use driftwatch::config::ConfigError;

#[derive(Subcommand)]
pub enum ApiCommand {
    /// Make a new bearer token: prints the token (give it to its holder; it is not kept)
    /// and the `[[api.token]]` entry with its SHA-256 for the configuration.
    Token {
        /// Who holds it (shown in the audit log).
        #[arg(long)]
        name: String,
        /// auditor (reads), analyst (reads, records dispositions) or admin (reads, manages).
        #[arg(long)]
        role: String,
    },
}

pub fn run(command: ApiCommand) -> Result<()> {
    let ApiCommand::Token { name, role } = command;
    let role: driftwatch::api::Role =
        serde_json::from_value(serde_json::Value::String(role.clone())).map_err(|_| {
            anyhow::Error::from(ConfigError::Invalid {
                path: PathBuf::from("--role"),
                errors: vec![format!("{role:?}: auditor, analyst or admin")],
            })
        })?;
    let (token, sha256) = driftwatch::api::new_token().context("reading randomness")?;
    eprintln!("token for {name} (shown once; driftwatch keeps only its SHA-256):");
    println!("{token}");
    eprintln!(
        "\n[[api.token]]\nname = {}\nrole = \"{}\"\nsha256 = \"{sha256}\"",
        toml::Value::String(name.clone()),
        role.as_str()
    );
    Ok(())
}
