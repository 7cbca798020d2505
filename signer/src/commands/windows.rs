//! `promoseal windows`: the window and the range from the command line, expanded by
//! [`promoseal_authoring::windows`] (the console's page runs the same as wasm), printed as JSON.

use anyhow::Result;
use promoseal_authoring::{windows, WindowsInput};

#[derive(clap::Args)]
pub struct Args {
    /// IANA time zone, e.g. `Europe/Paris`.
    #[arg(long)]
    pub zone: String,
    /// Comma-separated weekdays (`mon,tue,…`); every day when omitted.
    #[arg(long, default_value = "")]
    pub days: String,
    /// Opening wall-clock time, `HH:MM` (or `HH:MM:SS`).
    #[arg(long)]
    pub from: String,
    /// Closing wall-clock time, `HH:MM` or `HH:MM:SS` (at or before `--from`: the next day).
    #[arg(long)]
    pub to: String,
    /// Start of the range to expand (RFC 3339), e.g. the promotion's start.
    #[arg(long)]
    pub start: String,
    /// End of the range (RFC 3339), e.g. the bundle's expiry.
    #[arg(long)]
    pub until: String,
}

pub fn run(args: &Args) -> Result<()> {
    let Args {
        zone,
        days,
        from,
        to,
        start,
        until,
    } = args;
    let input = WindowsInput {
        zone: zone.clone(),
        days: days
            .split(',')
            .filter(|d| !d.trim().is_empty())
            .map(str::to_string)
            .collect(),
        from: from.clone(),
        to: to.clone(),
        start: start.clone(),
        until: until.clone(),
    };
    let intervals = windows(&input)?;
    out!("{}", serde_json::to_string_pretty(&intervals)?)?;
    Ok(())
}
