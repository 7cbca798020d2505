//! `promoseal eval`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use promoseal_evaluator::seal::open_held;
use promoseal_evaluator::{evaluate, parse_input, Bundle};

use crate::support::{self, instant, load_root, read, refused};
use crate::AudienceArg;

#[derive(clap::Args)]
pub struct Args {
    /// The signed bundle (or, with `--unsigned`, a bare payload).
    #[arg(long)]
    pub bundle: PathBuf,
    /// The evaluation input: `{"cart": …, "customer": …, "context": …}`.
    #[arg(long)]
    pub cart: PathBuf,
    /// The trust root to verify the bundle with.
    #[arg(long, required_unless_present = "unsigned")]
    pub root: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "edge")]
    pub audience: AudienceArg,
    /// The code secret, to check hashed and generated codes as the edge does.
    #[arg(long)]
    pub code_secret: Option<PathBuf>,
    /// Evaluate at this instant (RFC 3339) instead of the input's `context.now`.
    #[arg(long)]
    pub now: Option<String>,
    /// Read a bare, unsigned payload (development only).
    #[arg(long, conflicts_with = "root")]
    pub unsigned: bool,
    #[arg(long)]
    pub pretty: bool,
}

/// Prices the cart against the bundle (verified with `--root`, or bare with `--unsigned`) and
/// prints the evaluation as JSON.
pub fn run(args: &Args) -> Result<()> {
    let Args {
        bundle,
        cart,
        root,
        audience,
        code_secret,
        now,
        unsigned: _,
        pretty,
    } = args;
    let bundle_path = bundle;
    let mut input = parse_input(&read(cart)?).with_context(|| format!("`{}`", cart.display()))?;
    if let Some(now) = now {
        input.context.now = instant(now, "--now")?;
    }
    let secret = code_secret
        .as_deref()
        .map(support::load_code_secret)
        .transpose()?;
    let bundle = match root {
        None => {
            let mut b = Bundle::from_json(&read(bundle)?)
                .with_context(|| format!("`{}`", bundle.display()))?;
            if let Some(s) = &secret {
                b.set_code_secret(s.clone());
            }
            b
        }
        Some(root) => {
            let root = Arc::new(load_root(root, &[])?);
            let at = input.context.now;
            open_held(
                &read(bundle)?,
                &root,
                (*audience).into(),
                at,
                secret.as_ref(),
                |_| None,
            )
            .map_err(|e| refused(&e))?
        }
    };
    // A problem of the input found while pricing (a currency that is not the bundle's, a
    // quantity beyond the limit) names the cart's file, as one found while reading does.
    let evaluation = evaluate(&bundle, &input).map_err(|e| match e {
        promoseal_evaluator::Error::Input(_) => {
            anyhow::Error::new(e).context(format!("`{}`", cart.display()))
        }
        promoseal_evaluator::Error::Evaluation(_) => anyhow::Error::new(e).context(format!(
            "`{}` against `{}`",
            cart.display(),
            bundle_path.display()
        )),
        e => e.into(),
    })?;
    let json = if *pretty {
        serde_json::to_string_pretty(&evaluation)?
    } else {
        serde_json::to_string(&evaluation)?
    };
    out!("{json}")?;
    Ok(())
}
