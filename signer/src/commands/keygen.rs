//! `promoseal keygen`.

use std::path::PathBuf;

use anyhow::Result;
use promoseal_evaluator::codes;
use promoseal_evaluator::seal::{KeySpec, SigningIdentity};

use crate::support;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub id: String,
    /// Roles for the root entry: root, release, edge, shop (signs customer claims), or an approving role (marketing, …).
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    #[arg(long, default_value = "keys")]
    pub out: PathBuf,
}

/// Writes `<out>/<id>.key` (mode 0600) and `<out>/<id>.pub.json`, and prints the public entry.
pub fn run(args: &Args) -> Result<()> {
    let Args { id, roles, out } = args;
    let seed = support::random32()?;
    let key_file = support::KeyFile {
        key_id: id.to_string(),
        seed: codes::encode_hex(&seed),
    };
    let secret_path = out.join(format!("{id}.key"));
    support::write_secret(&secret_path, &serde_json::to_vec_pretty(&key_file)?)?;
    let public = KeySpec {
        id: id.to_string(),
        public_key: SigningIdentity::from_seed(id, seed).public_key(),
        roles: roles.to_vec(),
        not_after: None,
        limits: None,
    };
    let json = serde_json::to_string_pretty(&public)?;
    support::write(
        &out.join(format!("{id}.pub.json")),
        format!("{json}\n").as_bytes(),
    )?;
    eprintln!("secret key: {} (mode 0600)", secret_path.display());
    println!("{json}");
    Ok(())
}
