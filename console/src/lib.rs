//! The promotions console (`console`): marketing and finance create, review, approve and
//! publish promotions in the browser. Its routes decode a request, make one call to the
//! folder, the core or the database, and encode the answer:
//!
//! - [`folder`]: the project folder the CLI uses too, the one source of truth for terms,
//!   approvals and releases;
//! - [`flow`]: what each action does to it (save, submit, approve, publish, pause), with the
//!   checks the core makes (`promoseal_authoring::review`, `seal::judge_approval`);
//! - [`auth`]: sign-in with the person's own key, sessions, CSRF, roles from the trust root;
//! - [`audit`]: the hash-chained log of every action;
//! - [`codes`]: the code inventory;
//! - [`publish`]: release signing with the server's release key and the push to the ledger and
//!   the edge;
//! - [`api`] and [`pages`]: the JSON API and the server-rendered pages.

pub mod api;
pub mod audit;
pub mod auth;
pub mod codes;
pub mod error;
pub mod flow;
pub mod folder;
pub mod pages;
pub mod publish;
pub mod settings;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use promoseal_authoring::review::{ReviewInput, Sample};
use promoseal_evaluator::seal::{SigningIdentity, TrustRoot};
use promoseal_evaluator::time::Instant;
use promoseal_signer::codeset::CodeSetFile;
use promoseal_signer::support;
use serde_json::Value;

pub use settings::Settings;

use crate::error::{ApiError, ApiResult};
use crate::folder::Folder;

pub type Shared = Arc<State>;

/// The console's migrations, per backend.
pub static SCHEMA: promoseal_db::Schema = promoseal_db::Schema {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// Where the time comes from: the system clock, or a fixed instant (tests).
pub enum Clock {
    System,
    Fixed(AtomicI64),
}

impl Clock {
    pub fn now(&self) -> Instant {
        match self {
            Clock::System => Instant(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            ),
            Clock::Fixed(t) => Instant(t.load(Ordering::SeqCst)),
        }
    }
}

pub struct State {
    pub settings: Settings,
    pub db: promoseal_db::Db,
    /// The project folder. Its lock serializes the console's writes (each is a check of the
    /// tag an edit started from, then the write): two people saving at once cannot both win.
    pub folder: tokio::sync::Mutex<Folder>,
    /// One release at a time: a publish, pause, resume or rollback changes the folder, signs,
    /// pushes and logs as a whole. Two that interleave could sign a rollback with another
    /// action's pause inside it, push an older version after a newer one, or log them out of
    /// order. Taken before `folder`, never while holding it.
    pub releasing: tokio::sync::Mutex<()>,
    /// Read-only access to the same folder (reads need no lock: every write is a rename).
    pub reader: Folder,
    pub clock: Clock,
    pub sign_in_limit: auth::SignInLimit,
    /// The release key, held by the server only.
    pub release_key: Option<SigningIdentity>,
    pub http: reqwest::Client,
}

impl State {
    pub fn new(settings: Settings, db: promoseal_db::Db, clock: Clock) -> Result<State> {
        let release_key = match &settings.release_key {
            Some(path) => Some(support::load_key(path)?),
            None => None,
        };
        // The code secret is read where it is used; a file that cannot serve is said at start
        // (unreadable, not a secret, or readable by others), not at every code request.
        if let Some(path) = &settings.code_secret {
            support::load_code_secret(path)?;
        }
        let dir = settings.project.clone();
        // Refuse to start on a folder the CLI could not read.
        let reader = Folder::new(dir.clone());
        reader
            .project()
            .with_context(|| format!("the project `{}`", dir.display()))?;
        reader.root()?;
        Ok(State {
            sign_in_limit: auth::SignInLimit::new(settings.sign_in_per_minute),
            folder: tokio::sync::Mutex::new(Folder::new(dir)),
            releasing: tokio::sync::Mutex::new(()),
            reader,
            settings,
            db,
            clock,
            release_key,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
        })
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The trust root as the project holds it now (verified on every read).
    pub fn root(&self) -> ApiResult<Arc<TrustRoot>> {
        self.reader.root().map_err(ApiError::from)
    }

    /// A person's roles in the root now; `None` when the root lists no live key of that id.
    pub fn roles_of(&self, key_id: &str) -> ApiResult<Option<Vec<String>>> {
        let root = self.root()?;
        let now = self.now();
        Ok(root
            .payload()
            .keys
            .iter()
            .find(|k| k.id == key_id && k.not_after.is_none_or(|t| now < t))
            .map(|k| k.roles.clone()))
    }

    /// What a review of `draft` looks at: the shop's settings, its approved promotions, its
    /// code sets, the root's rules, the lint policy and the sample carts. The page gets the
    /// same (`GET /api/context`) and runs the same review as wasm.
    pub fn review_input(&self, draft: Value) -> ApiResult<ReviewInput> {
        let project = self.reader.project()?;
        let root = self.root()?;
        let policy_path = project.dir.join("policy.toml");
        let policy = if policy_path.exists() {
            promoseal_signer::lint::policy_from_toml(&support::read_text(&policy_path)?)?
        } else {
            Default::default()
        };
        Ok(ReviewInput {
            draft,
            currency: project.config.currency.clone(),
            time_zone: project.config.time_zone.clone(),
            pricing: project.config.pricing.clone(),
            promotions: project.promotions.clone(),
            code_sets: Some(
                CodeSetFile::load_all(&project.dir)?
                    .iter()
                    .map(|c| c.spec().id)
                    .collect(),
            ),
            root: root.payload().clone(),
            policy,
            samples: promoseal_signer::project::samples(&project.dir.join("samples"))?
                .into_iter()
                .map(|(name, input)| Sample { name, input })
                .collect(),
        })
    }

    /// What the page's review (wasm) needs besides the draft: the same input the server's
    /// review takes (`GET /api/context`), the policy as `policy.toml` writes it.
    pub fn context(&self) -> ApiResult<Value> {
        let input = self.review_input(Value::Null)?;
        let path = self.reader.dir.join("policy.toml");
        let policy = if path.exists() {
            toml::from_str::<Value>(&support::read_text(&path)?)
                .map_err(|e| ApiError::internal(format!("policy.toml: {e}")))?
        } else {
            serde_json::json!({})
        };
        let samples: Vec<Value> = input
            .samples
            .iter()
            .map(|s| serde_json::json!({ "name": s.name, "input": s.input }))
            .collect();
        Ok(serde_json::json!({
            "currency": input.currency,
            "timeZone": input.time_zone,
            "pricing": input.pricing,
            "promotions": input.promotions,
            "codeSets": input.code_sets,
            "root": input.root,
            "policy": policy,
            "samples": samples,
        }))
    }
}
