//! `promoseal`: the release engineer's tool. Exit codes: 0 ok, 1 failure (bad input, I/O),
//! 2 usage (from clap), 3 verification failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use promoseal_evaluator::{evaluate, parse_input, time::Instant, Bundle};

mod windows;

#[derive(Parser)]
#[command(
    name = "promoseal",
    version,
    about = "Author, sign, verify and dry-run promotion bundles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a cart against a bundle and print the evaluation as JSON.
    Eval {
        /// The bundle payload (JSON).
        #[arg(long)]
        bundle: PathBuf,
        /// The evaluation input: `{"cart": …, "customer": …, "context": …}`.
        #[arg(long)]
        cart: PathBuf,
        /// Evaluate at this instant (RFC 3339) instead of the input's `context.now`.
        #[arg(long)]
        now: Option<String>,
        /// Accept an unsigned payload (until signed bundles land, the only kind there is).
        #[arg(long)]
        unsigned: bool,
        /// Pretty-print the JSON.
        #[arg(long)]
        pretty: bool,
    },
    /// Expand a recurring window in a named time zone into the UTC `intervals` of a promotion.
    Windows {
        /// IANA time zone, e.g. `Europe/Paris`.
        #[arg(long)]
        zone: String,
        /// Comma-separated weekdays (`mon,tue,…`); every day when omitted.
        #[arg(long, default_value = "")]
        days: String,
        /// Opening wall-clock time, `HH:MM`.
        #[arg(long)]
        from: String,
        /// Closing wall-clock time, `HH:MM` (at or before `--from`: the next day).
        #[arg(long)]
        to: String,
        /// Start of the range to expand (RFC 3339), e.g. the promotion's start.
        #[arg(long)]
        start: String,
        /// End of the range (RFC 3339), e.g. the bundle's expiry.
        #[arg(long)]
        until: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

fn eval(bundle: &Path, cart: &Path, now: Option<&str>, unsigned: bool, pretty: bool) -> Result<()> {
    if !unsigned {
        bail!(
            "`{}`: only unsigned payloads can be read yet; pass `--unsigned` to evaluate one",
            bundle.display()
        );
    }
    let bundle = Bundle::from_json(&read(bundle)?)?;
    let mut input = parse_input(&read(cart)?)?;
    if let Some(now) = now {
        input.context.now = Instant::parse(now).map_err(|m| anyhow::anyhow!("--now: {m}"))?;
    }
    let evaluation = evaluate(&bundle, &input)?;
    let json = if pretty {
        serde_json::to_string_pretty(&evaluation)?
    } else {
        serde_json::to_string(&evaluation)?
    };
    println!("{json}");
    Ok(())
}

fn expand_windows(
    zone: &str,
    days: &str,
    from: &str,
    to: &str,
    start: &str,
    until: &str,
) -> Result<()> {
    let recurring = windows::Recurring::parse(zone, days, from, to)?;
    let instant = |s: &str, what: &str| -> Result<jiff::Timestamp> {
        s.parse()
            .with_context(|| format!("--{what}: `{s}` is not an RFC 3339 instant"))
    };
    let intervals = recurring.expand(instant(start, "start")?, instant(until, "until")?)?;
    println!("{}", serde_json::to_string_pretty(&intervals)?);
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Eval {
            bundle,
            cart,
            now,
            unsigned,
            pretty,
        } => eval(bundle, cart, now.as_deref(), *unsigned, *pretty),
        Command::Windows {
            zone,
            days,
            from,
            to,
            start,
            until,
        } => expand_windows(zone, days, from, to, start, until),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("promoseal: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
