//! `promoseal windows`: parses the window and the range, runs `crate::windows` and prints the
//! intervals as JSON.

use anyhow::{Context, Result};

use crate::windows::Recurring;

#[derive(clap::Args)]
pub struct Args {
    /// IANA time zone, e.g. `Europe/Paris`.
    #[arg(long)]
    pub zone: String,
    /// Comma-separated weekdays (`mon,tue,…`); every day when omitted.
    #[arg(long, default_value = "")]
    pub days: String,
    /// Opening wall-clock time, `HH:MM`.
    #[arg(long)]
    pub from: String,
    /// Closing wall-clock time, `HH:MM` (at or before `--from`: the next day).
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
    let recurring = Recurring::parse(zone, days, from, to)?;
    let instant = |s: &str, what: &str| -> Result<jiff::Timestamp> {
        s.parse()
            .with_context(|| format!("--{what}: `{s}` is not an RFC 3339 instant"))
    };
    let intervals = recurring.expand(instant(start, "start")?, instant(until, "until")?)?;
    println!("{}", serde_json::to_string_pretty(&intervals)?);
    Ok(())
}
