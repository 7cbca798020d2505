#![doc = include_str!("../README.md")]

use clap::{Parser, Subcommand};
use promoseal_evaluator::model::Audience;

/// Writes to standard output like `println!` (`out!`) or `print!` (`out!(raw …)`), answering
/// an error instead of panicking when it cannot: a pipe closed early (`promoseal lint | head`)
/// or a full disk. `main` ends quietly on the first, and names the second. What it writes
/// shows control and text-direction characters as escapes ([`support::shown`]): a name in
/// the terms must not hide the terms on the approver's screen.
macro_rules! out {
    (raw $($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        write!(std::io::stdout().lock(), "{}", $crate::support::shown(&text))
            .map_err($crate::support::Output)
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        writeln!(std::io::stdout().lock(), "{}", $crate::support::shown(&text))
            .map_err($crate::support::Output)
    }};
}

/// Writes a line to standard error like `eprintln!`, with control and text-direction
/// characters shown as escapes, as [`out!`] does: warnings and refusals name ids, files and
/// codes that came from files.
macro_rules! say {
    ($($arg:tt)*) => {{
        eprintln!("{}", $crate::support::shown(&format!($($arg)*)))
    }};
}

pub mod commands;

pub mod codeset;
pub mod import;
pub mod lint;
pub mod project;
pub mod support;

pub use support::{Output, Refused};

// The command line. `Cli` and the commands' `Args` have no doc comments, which clap would print
// in `--help`; the doc comments of `Command`'s variants are the commands' help.
#[derive(Parser)]
#[command(
    name = "promoseal",
    version,
    about = "Author, sign, verify and dry-run promotion bundles"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a signing key: `<out>/<id>.key` (secret, mode 0600) and `<out>/<id>.pub.json`
    /// (the key entry for the trust root, also printed).
    Keygen(commands::keygen::Args),
    /// Create or rotate the trust root.
    #[command(subcommand)]
    Root(commands::root::RootCommand),
    /// Add signatures to a signed root or bundle (co-signing up to a threshold).
    Cosign(commands::cosign::Args),
    /// Check promotions against a policy of limits, with projected cost over sample carts.
    Lint(commands::lint::Args),
    /// Approve promotions with a role key (one signature over all of them), after reading them
    /// in plain words; nothing is signed that would not count.
    Approve(commands::approve::Args),
    /// Build, check and sign the edge and storefront bundles of a project.
    Sign(commands::sign::Args),
    /// Verify a signed bundle against a trust root; exit 3 when it is refused.
    Verify(commands::verify::Args),
    /// Describe a signed bundle or root in plain words.
    Inspect(commands::inspect::Args),
    /// Evaluate a cart against a signed bundle (or an unsigned payload) and print JSON.
    Eval(commands::eval::Args),
    /// Issue a customer claim: the shop's signed word for who a shopper is (tier, segments,
    /// first order, region), which the edge and the ledger price with. Signed by a `shop` key.
    Claim(commands::claim::Args),
    /// Generate, import, export, deactivate and reactivate codes.
    #[command(subcommand)]
    Codes(commands::codes::CodesCommand),
    /// Expand a recurring window in a named time zone into the UTC `intervals` of a promotion.
    Windows(commands::windows::Args),
}

/// `--audience` of `verify` and `eval`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AudienceArg {
    Edge,
    Storefront,
}

impl From<AudienceArg> for Audience {
    fn from(a: AudienceArg) -> Audience {
        match a {
            AudienceArg::Edge => Audience::Edge,
            AudienceArg::Storefront => Audience::Storefront,
        }
    }
}
