//! `promoseal`: parses the command line, runs the command (the library, `promoseal_signer`) and
//! maps the outcome to an exit code: 0 ok, 1 failure (bad input, I/O), 2 usage (from clap),
//! 3 verification refused, 4 lint findings.

use std::process::ExitCode;

use clap::Parser;
use promoseal_signer::commands::{
    approve, claim, codes, cosign, eval, inspect, keygen, lint, root, sign, verify, windows,
};
use promoseal_signer::support::shown;
use promoseal_signer::{Cli, Command, Output, Refused};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Root(cmd) => root::run(cmd),
        Command::Cosign(args) => cosign::run(args),
        Command::Lint(args) => match lint::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(4),
            Err(e) => Err(e),
        },
        Command::Approve(args) => approve::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Claim(args) => claim::run(args),
        Command::Codes(cmd) => codes::run(cmd),
        Command::Windows(args) => windows::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`promoseal inspect … | head`): nothing more to say to anyone.
        Err(e)
            if e.downcast_ref::<Output>()
                .is_some_and(|o| o.0.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::FAILURE
        }
        Err(e) if e.is::<Refused>() => {
            eprintln!("promoseal: {}", shown(&e.to_string()));
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("promoseal: error: {}", shown(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
