//! The console's settings: flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Parser, Clone, Debug)]
#[command(
    name = "console",
    version,
    about = "The Promoseal promotions console: create, review, approve and publish promotions"
)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "CONSOLE_LISTEN", default_value = "127.0.0.1:8790")]
    pub listen: SocketAddr,

    /// The promotions project (the folder `promoseal` works on: promoseal.toml, root.env,
    /// policy.toml, promotions/, approvals/, codes/, published/). The console's drafts go to
    /// drafts/ in it.
    #[arg(long, env = "CONSOLE_PROJECT")]
    pub project: PathBuf,

    /// Users, sessions, review states and the audit log: `sqlite://PATH` (embedded, the
    /// default) or `postgres://…`.
    #[arg(
        long,
        env = "CONSOLE_DATABASE_URL",
        default_value = "sqlite://console.db"
    )]
    pub database_url: String,

    /// The origin the console is served from (`https://promos.example.com`), as browsers send
    /// it in `Origin`: writes from any other origin are refused, and sign-in challenges name it.
    #[arg(long, env = "CONSOLE_ORIGIN", default_value = "http://127.0.0.1:8790")]
    pub origin: String,

    /// The release key (`promoseal keygen --role release`): the console's server signs
    /// releases with it. It never reaches a browser. Without it, nothing can be published.
    #[arg(long, env = "CONSOLE_RELEASE_KEY")]
    pub release_key: Option<PathBuf>,

    /// The code secret (`promoseal codes secret`), the one the edge and the ledger hold: the
    /// code inventory generates, imports, exports, looks up and deactivates codes with it.
    #[arg(long, env = "CONSOLE_CODE_SECRET")]
    pub code_secret: Option<PathBuf>,

    /// The origin ledger (`POST /v1/bundles` on every release).
    #[arg(long, env = "CONSOLE_LEDGER_URL")]
    pub ledger_url: Option<String>,

    /// The ledger's API token, when it has one.
    #[arg(long, env = "CONSOLE_LEDGER_TOKEN", hide_env_values = true)]
    pub ledger_token: Option<String>,

    /// Where releases go at the edge: `local:DIR` (the local workerd's KV persistence, written
    /// with `wrangler kv bulk put --local`), or `cloudflare:ACCOUNT_ID/NAMESPACE_ID` (the
    /// Cloudflare API, with `CLOUDFLARE_API_TOKEN`).
    #[arg(long, env = "CONSOLE_EDGE_KV")]
    pub edge_kv: Option<String>,

    /// wrangler, for `--edge-kv local:DIR`.
    #[arg(long, env = "CONSOLE_WRANGLER", default_value = "wrangler")]
    pub wrangler: PathBuf,

    /// The edge Worker's wrangler.toml (its KV binding `BUNDLES`), for `--edge-kv local:DIR`.
    #[arg(
        long,
        env = "CONSOLE_WRANGLER_CONFIG",
        default_value = "edge-worker/wrangler.toml"
    )]
    pub wrangler_config: PathBuf,

    /// The edge Worker's public URL: after a release, the console measures how long until the
    /// edge serves the new version (`GET /v1/storefront/bundle`).
    #[arg(long, env = "CONSOLE_EDGE_URL")]
    pub edge_url: Option<String>,

    /// Folder of the console's build of the evaluator (`cargo xtask build console-wasm`).
    #[arg(
        long,
        env = "CONSOLE_WASM_DIR",
        default_value = "evaluator-wasm/npm/dist/authoring"
    )]
    pub wasm_dir: PathBuf,

    /// How long a session lasts, in minutes.
    #[arg(long, env = "CONSOLE_SESSION_MINUTES", default_value_t = 480)]
    pub session_minutes: u32,

    /// Sign-in attempts allowed per client address per minute.
    #[arg(long, env = "CONSOLE_SIGN_IN_PER_MINUTE", default_value_t = 10)]
    pub sign_in_per_minute: u32,
}
