//! `promoseal`: the release engineer's tool. Exit codes: 0 ok, 1 failure (bad input, I/O),
//! 2 usage (from clap), 3 verification failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use promoseal_evaluator::codes::{self, Campaign};
use promoseal_evaluator::model::{Audience, BundlePayload};
use promoseal_evaluator::seal::{
    approval_digest, open_bundle, uncovered, Envelope, EnvelopeType, KeySpec, RootPayload,
    SigningIdentity, TrustRoot, VerifyError, VerifyOptions,
};
use promoseal_evaluator::{evaluate, normalize_code, parse_input, time::Instant, Bundle};

use crate::codeset::CodeSetFile;
use crate::project::{read, Project};

mod codeset;
mod describe;
mod import;
mod lint;
mod project;
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
    /// Create a signing key: `<out>/<id>.key` (secret, mode 0600) and `<out>/<id>.pub.json`
    /// (the key entry for the trust root, also printed).
    Keygen {
        #[arg(long)]
        id: String,
        /// Roles for the root entry: root, release, edge, or an approving role (marketing, …).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long, default_value = "keys")]
        out: PathBuf,
    },
    /// Create or rotate the trust root.
    #[command(subcommand)]
    Root(RootCommand),
    /// Add signatures to a signed root or bundle (co-signing up to a threshold).
    Cosign {
        file: PathBuf,
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
    },
    /// Check promotions against a policy of limits, with projected cost over sample carts.
    Lint {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Policy file (TOML); default `<project>/policy.toml`.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Folder of sample carts (evaluation inputs); default `<project>/samples`.
        #[arg(long)]
        samples: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Approve one promotion with a role key, after reading it in plain words.
    Approve {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        promotion: String,
        #[arg(long)]
        key: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Build, check and sign the edge and storefront bundles of a project.
    Sign {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// Issue time (RFC 3339) instead of the clock.
        #[arg(long)]
        now: Option<String>,
    },
    /// Verify a signed bundle against a trust root; exit 3 when it is refused.
    Verify {
        #[arg(long)]
        root: PathBuf,
        /// Newer roots to rotate to, in order.
        #[arg(long = "rotation")]
        rotations: Vec<PathBuf>,
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long, value_enum, default_value = "edge")]
        audience: AudienceArg,
        #[arg(long)]
        now: Option<String>,
        /// Refuse versions below this one (the highest a host accepted).
        #[arg(long)]
        min_version: Option<u64>,
    },
    /// Describe a signed bundle or root in plain words.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        now: Option<String>,
    },
    /// Evaluate a cart against a signed bundle (or an unsigned payload) and print JSON.
    Eval {
        /// The signed bundle (or, with `--unsigned`, a bare payload).
        #[arg(long)]
        bundle: PathBuf,
        /// The evaluation input: `{"cart": …, "customer": …, "context": …}`.
        #[arg(long)]
        cart: PathBuf,
        /// The trust root to verify the bundle with.
        #[arg(long, required_unless_present = "unsigned")]
        root: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "edge")]
        audience: AudienceArg,
        /// The code secret, to check hashed and generated codes as the edge does.
        #[arg(long)]
        code_secret: Option<PathBuf>,
        /// Evaluate at this instant (RFC 3339) instead of the input's `context.now`.
        #[arg(long)]
        now: Option<String>,
        /// Read a bare, unsigned payload (development only).
        #[arg(long, conflicts_with = "root")]
        unsigned: bool,
        #[arg(long)]
        pretty: bool,
    },
    /// Issue a customer claim: the shop's signed word for who a shopper is (tier, segments,
    /// first order, region), which the edge and the ledger price with. Signed by a `shop` key.
    Claim {
        /// The shop key (`keygen --role shop`).
        #[arg(long)]
        key: PathBuf,
        /// The customer as an evaluation input gives it: `{"id": "…", "tier": "gold", …}`.
        #[arg(long)]
        customer: String,
        /// Lifetime in seconds (at most an hour).
        #[arg(long, default_value_t = 900)]
        ttl: i64,
        /// Issue time (RFC 3339) instead of the clock.
        #[arg(long)]
        now: Option<String>,
    },
    /// Generate, import, export, deactivate and reactivate codes.
    #[command(subcommand)]
    Codes(CodesCommand),
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum AudienceArg {
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

#[derive(Subcommand)]
enum RootCommand {
    /// Sign a first root from its payload (JSON or TOML) with its `root` keys.
    Create {
        #[arg(long)]
        from: PathBuf,
        /// Key entries (`keygen`'s `<id>.pub.json`) to add to the payload's `keys`.
        #[arg(long = "public")]
        publics: Vec<PathBuf>,
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign the next root: version one above `--current`, signed by a threshold of the old
    /// root keys and of the new ones (add missing signatures with `cosign`).
    Rotate {
        #[arg(long)]
        current: PathBuf,
        #[arg(long)]
        from: PathBuf,
        /// Key entries (`keygen`'s `<id>.pub.json`) to add to the payload's `keys`.
        #[arg(long = "public")]
        publics: Vec<PathBuf>,
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum CodesCommand {
    /// Create the code secret (edge and ledger hold it; mode 0600).
    Secret {
        #[arg(long)]
        out: PathBuf,
    },
    /// Create a campaign of self-verifying codes and write them to a CSV for distribution.
    Generate {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        /// Campaign name (part of every code's key); default: the set id.
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value = "")]
        suffix: String,
        /// Characters between prefix and suffix (serial + tag).
        #[arg(long, default_value_t = 12)]
        length: u32,
        #[arg(long)]
        secret: PathBuf,
        /// Where to write the codes (CSV, mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Add codes from a CSV/XLSX list (any layout) or the command line, as keyed hashes.
    Import {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long)]
        file: Option<PathBuf>,
        /// Column holding the codes: header name or 1-based index.
        #[arg(long)]
        column: Option<String>,
        /// Worksheet of an XLSX/ODS file.
        #[arg(long)]
        sheet: Option<String>,
        /// A code to add (repeatable), e.g. a named public code.
        #[arg(long = "code")]
        codes: Vec<String>,
        #[arg(long)]
        secret: PathBuf,
    },
    /// Write a set as CSV: every generated code with its status, or a listed set's hashes.
    Export {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long)]
        secret: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Deactivate codes (or, without `--code`, the whole set) from the next bundle version.
    Deactivate {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long = "code")]
        codes: Vec<String>,
        #[arg(long)]
        secret: PathBuf,
    },
    /// Reactivate codes (or, without `--code`, the whole set) from the next bundle version.
    Reactivate {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long = "code")]
        codes: Vec<String>,
        #[arg(long)]
        secret: PathBuf,
    },
}

/// A failure that is a verification verdict (exit 3), not a usage or I/O problem.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn instant(s: &str, what: &str) -> Result<Instant> {
    Instant::parse(s).map_err(|m| anyhow!("{what}: {m}"))
}

/// `--now`, or the clock.
fn now_or_clock(now: Option<&str>) -> Result<Instant> {
    match now {
        Some(s) => instant(s, "--now"),
        None => Ok(Instant(jiff::Timestamp::now().as_second())),
    }
}

fn refused(e: &VerifyError) -> anyhow::Error {
    anyhow::Error::new(Refused(format!("{e}: {}", e.refusal())))
}

fn load_root(path: &Path, rotations: &[PathBuf]) -> Result<TrustRoot> {
    let mut root = TrustRoot::from_envelope(&read(path)?).map_err(|e| refused(&e))?;
    for r in rotations {
        root = root.rotate(&read(r)?).map_err(|e| refused(&e))?;
    }
    Ok(root)
}

fn keygen(id: &str, roles: &[String], out: &Path) -> Result<()> {
    let seed = project::random32()?;
    let key_file = project::KeyFile {
        key_id: id.to_string(),
        seed: codes::encode_hex(&seed),
    };
    let secret_path = out.join(format!("{id}.key"));
    project::write_secret(&secret_path, &serde_json::to_vec_pretty(&key_file)?)?;
    let public = KeySpec {
        id: id.to_string(),
        public_key: SigningIdentity::from_seed(id, seed).public_key(),
        roles: roles.to_vec(),
        not_after: None,
        limits: None,
    };
    let json = serde_json::to_string_pretty(&public)?;
    project::write(
        &out.join(format!("{id}.pub.json")),
        format!("{json}\n").as_bytes(),
    )?;
    eprintln!("secret key: {} (mode 0600)", secret_path.display());
    println!("{json}");
    Ok(())
}

fn root_payload_bytes(from: &Path, publics: &[PathBuf]) -> Result<Vec<u8>> {
    let mut payload: RootPayload = project::parse_file(from)?;
    for p in publics {
        payload.keys.push(project::parse_file(p)?);
    }
    TrustRoot::from_payload(payload.clone(), [0; 32])
        .map_err(|r| anyhow!("`{}`: {r}", from.display()))?;
    let mut bytes = serde_json::to_vec_pretty(&payload)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn root_create(from: &Path, publics: &[PathBuf], keys: &[PathBuf], out: &Path) -> Result<()> {
    let keys = project::load_keys(keys)?;
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let sealed = Envelope::seal(
        EnvelopeType::Root,
        &root_payload_bytes(from, publics)?,
        &refs,
    );
    let root = TrustRoot::from_envelope(&sealed).map_err(|e| refused(&e))?;
    project::write(out, &sealed)?;
    println!(
        "trust root v{} written to {} (sha256 {})",
        root.version(),
        out.display(),
        root.digest_hex()
    );
    Ok(())
}

fn root_rotate(
    current: &Path,
    from: &Path,
    publics: &[PathBuf],
    keys: &[PathBuf],
    out: &Path,
) -> Result<()> {
    let old = load_root(current, &[])?;
    let keys = project::load_keys(keys)?;
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let sealed = Envelope::seal(
        EnvelopeType::Root,
        &root_payload_bytes(from, publics)?,
        &refs,
    );
    project::write(out, &sealed)?;
    match old.rotate(&sealed) {
        Ok(next) => println!(
            "trust root v{} written to {}: accepted as the successor of v{}",
            next.version(),
            out.display(),
            old.version()
        ),
        Err(e) => println!(
            "trust root written to {}, not yet accepted: {}; add signatures with `promoseal cosign`",
            out.display(),
            e.refusal()
        ),
    }
    Ok(())
}

fn cosign(file: &Path, keys: &[PathBuf]) -> Result<()> {
    let keys = project::load_keys(keys)?;
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let signed = Envelope::add_signatures(&read(file)?, &refs)
        .map_err(|m| anyhow!("`{}`: {m}", file.display()))?;
    project::write(file, &signed)?;
    let env = Envelope::parse(&signed).map_err(|m| anyhow!("{m}"))?;
    let ids: Vec<&str> = env.signatures.iter().map(|s| s.key_id.as_str()).collect();
    println!("{} now signed by: {}", file.display(), ids.join(", "));
    Ok(())
}

fn approve(project_dir: &Path, promotion: &str, key: &Path, yes: bool) -> Result<()> {
    let project = Project::load(project_dir)?;
    let p = project.promotion(promotion)?;
    let key = project::load_key(key)?;
    let currency = &project.config.currency;
    let digest = codes::encode_hex(&approval_digest(currency, p));
    println!("You are approving, as key `{}`, in {currency}:", key.id);
    for line in describe::promotion(p, currency) {
        println!("  {line}");
    }
    println!("  content digest: {digest}");
    if !yes {
        use std::io::BufRead as _;
        eprint!("Approve this promotion? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not approved");
        }
    }
    let record = project::ApprovalRecord {
        approval: key.approve(currency, p),
        digest,
        approved_at: jiff::Timestamp::now().to_string(),
    };
    let path = project.approval_path(promotion, &key.id);
    let mut bytes = serde_json::to_vec_pretty(&record)?;
    bytes.push(b'\n');
    project::write(&path, &bytes)?;
    println!("approval written to {}", path.display());
    Ok(())
}

fn sign(project_dir: &Path, keys: &[PathBuf], now: Option<&str>) -> Result<()> {
    let project = Project::load(project_dir)?;
    let root = Arc::new(load_root(&project.root_path(), &[])?);
    let keys = project::load_keys(keys)?;
    let now = now_or_clock(now)?;
    let (approvals, stale) = project.approvals()?;
    for s in &stale {
        eprintln!("warning: ignoring stale approval {s}");
    }
    let state_path = project.dir.join("published/state.json");
    let state: project::PublishState = if state_path.exists() {
        project::parse_file(&state_path)?
    } else {
        project::PublishState::default()
    };
    let version = state.version + 1;
    let cfg = &project.config;
    let payload = BundlePayload {
        format: promoseal_evaluator::model::FORMAT_VERSION,
        bundle_id: cfg.bundle_id.clone(),
        audience: Audience::Edge,
        version,
        issued_at: now,
        expires_at: Instant(now.0 + i64::from(cfg.valid_days) * 86_400),
        currency: cfg.currency.clone(),
        time_zone: cfg.time_zone.clone(),
        pricing: cfg.pricing.clone(),
        code_sets: CodeSetFile::load_all(&project.dir)?
            .iter()
            .map(CodeSetFile::spec)
            .collect(),
        promotions: project.promotions.clone(),
        approvals,
    };
    let missing = uncovered(&root, &payload, now);
    if !missing.is_empty() {
        for u in &missing {
            eprintln!(
                "promotion `{}` needs {} `{}` approval(s) covering it, has {}",
                u.promotion, u.required, u.role, u.valid
            );
        }
        bail!(
            "refusing to sign: {} promotion(s) lack approvals (promoseal approve)",
            missing.len()
        );
    }
    Bundle::compile(&payload)?;
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let out = project.dir.join("published");
    let mut digests = Vec::new();
    for (name, p) in [
        ("edge", payload.clone()),
        ("storefront", payload.storefront()),
    ] {
        let bytes = serde_json::to_vec(&p)?;
        let sealed = Envelope::seal(EnvelopeType::Bundle, &bytes, &refs);
        let opts = VerifyOptions::new(p.audience, now);
        match open_bundle(&sealed, &root, &opts) {
            Ok(_) => {}
            Err(e) if e.refusal().code() == "belowThreshold" => eprintln!(
                "note: {name} bundle needs more `release` signatures ({}): promoseal cosign",
                e.refusal()
            ),
            Err(e) => return Err(refused(&e)),
        }
        let file = out.join(format!("{name}-v{version}.bundle"));
        project::write(&file, &sealed)?;
        project::write(&out.join(format!("{name}.bundle")), &sealed)?;
        let env = Envelope::parse(&sealed).map_err(|m| anyhow!("{m}"))?;
        digests.push(codes::encode_hex(&env.digest));
        println!(
            "{name} bundle v{version}: {} ({} promotions, {} bytes)",
            file.display(),
            p.promotions.len(),
            sealed.len()
        );
    }
    let state = project::PublishState {
        version,
        edge_digest: digests.first().cloned().unwrap_or_default(),
        storefront_digest: digests.get(1).cloned().unwrap_or_default(),
        signed_at: now.to_string(),
    };
    let mut bytes = serde_json::to_vec_pretty(&state)?;
    bytes.push(b'\n');
    project::write(&state_path, &bytes)
}

fn verify(
    root: &Path,
    rotations: &[PathBuf],
    bundle: &Path,
    audience: Audience,
    now: Option<&str>,
    min_version: Option<u64>,
) -> Result<()> {
    let root = Arc::new(load_root(root, rotations)?);
    let opts = VerifyOptions::new(audience, now_or_clock(now)?);
    let b = open_bundle(&read(bundle)?, &root, &opts).map_err(|e| refused(&e))?;
    if let Some(floor) = min_version.filter(|v| b.version() < *v) {
        return Err(anyhow::Error::new(Refused(format!(
            "invalid bundle: rollback: version {} is below {floor}",
            b.version()
        ))));
    }
    println!(
        "valid: bundle `{}` version {} for {:?}, {} promotions, expires {}; trust root v{}",
        b.id(),
        b.version(),
        b.audience(),
        b.promotion_count(),
        b.expires_at(),
        root.version()
    );
    Ok(())
}

fn eval(
    bundle: &Path,
    cart: &Path,
    root: Option<&Path>,
    audience: Audience,
    code_secret: Option<&Path>,
    now: Option<&str>,
    pretty: bool,
) -> Result<()> {
    let mut input = parse_input(&read(cart)?)?;
    if let Some(now) = now {
        input.context.now = instant(now, "--now")?;
    }
    let mut bundle = match root {
        None => Bundle::from_json(&read(bundle)?)?,
        Some(root) => {
            let root = Arc::new(load_root(root, &[])?);
            let opts = VerifyOptions::new(audience, input.context.now);
            open_bundle(&read(bundle)?, &root, &opts).map_err(|e| refused(&e))?
        }
    };
    if let Some(path) = code_secret {
        bundle.set_code_secret(project::load_code_secret(path)?);
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

fn inspect(file: &Path, now: Option<&str>) -> Result<()> {
    let bytes = read(file)?;
    let env = Envelope::parse(&bytes).map_err(|m| anyhow!("`{}`: {m}", file.display()))?;
    let signers: Vec<&str> = env.signatures.iter().map(|s| s.key_id.as_str()).collect();
    println!(
        "{}: a signed {} ({} bytes, payload sha256 {})",
        file.display(),
        env.kind.as_str(),
        bytes.len(),
        codes::encode_hex(&env.digest)
    );
    println!(
        "signed by: {} (not verified here: use `promoseal verify`)",
        signers.join(", ")
    );
    if env.kind == EnvelopeType::Root {
        let root: RootPayload = serde_json::from_slice(env.payload)?;
        println!(
            "trust root version {}{}",
            root.version,
            root.expires_at
                .map_or(String::new(), |t| format!(", expires {t}"))
        );
        for k in &root.keys {
            let until = k
                .not_after
                .map_or(String::new(), |t| format!(", valid until {t}"));
            let limits = k.limits.as_ref().map_or(String::new(), |l| {
                format!(", limits {}", serde_json::to_string(l).unwrap_or_default())
            });
            println!("  key {}: {}{until}{limits}", k.id, k.roles.join(", "));
        }
        for (role, n) in &root.thresholds {
            println!("  threshold: {n} `{role}` signatures");
        }
        println!(
            "  every promotion needs: {}",
            if root.approvals.required.is_empty() {
                "no approval".to_string()
            } else {
                root.approvals.required.join(", ")
            }
        );
        for r in &root.approvals.rules {
            println!(
                "  `{}` approval when: {}",
                r.role,
                serde_json::to_string(r).unwrap_or_default()
            );
        }
        return Ok(());
    }
    let p: BundlePayload = promoseal_evaluator::parse_payload(env.payload)?;
    let now = now_or_clock(now)?;
    let days = (p.expires_at.0 - now.0) as f64 / 86_400.0;
    let expiry = if days > 0.0 {
        format!("expires {} (in {days:.1} days)", p.expires_at)
    } else {
        format!("EXPIRED at {}", p.expires_at)
    };
    println!(
        "bundle `{}` version {} for the {:?}, {}, issued {}, {expiry}",
        p.bundle_id, p.version, p.audience, p.currency, p.issued_at
    );
    for cs in &p.code_sets {
        let what = match (&cs.generated, &cs.hashes) {
            (Some(g), _) => format!(
                "generated campaign `{}`: {} codes, {} revoked",
                g.campaign,
                g.count,
                g.revoked.len()
            ),
            (None, Some(h)) => {
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, h)
                    .map_or(0, |b| b.len());
                format!(
                    "{} listed codes as keyed hashes",
                    bytes / promoseal_evaluator::codes::HASH_LEN
                )
            }
            (None, None) => format!("{} PLAINTEXT codes", cs.codes.len()),
        };
        println!(
            "code set {}: {what}{}",
            cs.id,
            if cs.active { "" } else { " (deactivated)" }
        );
    }
    println!("{} promotions:", p.promotions.len());
    for promo in &p.promotions {
        let mut lines = describe::promotion(promo, &p.currency).into_iter();
        println!("- {}", lines.next().unwrap_or_default());
        for l in lines {
            println!("    {l}");
        }
        let by: Vec<&str> = p
            .approvals
            .iter()
            .filter(|a| a.promotion == promo.id)
            .map(|a| a.key_id.as_str())
            .collect();
        println!(
            "    approved by: {}",
            if by.is_empty() {
                "nobody".to_string()
            } else {
                by.join(", ")
            }
        );
    }
    Ok(())
}

fn lint_cmd(
    project_dir: &Path,
    policy: Option<&Path>,
    samples: Option<&Path>,
    json: bool,
) -> Result<bool> {
    let project = Project::load(project_dir)?;
    let policy_path = policy.map_or_else(|| project.dir.join("policy.toml"), Path::to_path_buf);
    let policy = lint::Policy::from_toml(&project::read_text(&policy_path)?)
        .with_context(|| format!("`{}`", policy_path.display()))?;
    let samples_dir = samples.map_or_else(|| project.dir.join("samples"), Path::to_path_buf);
    let mut samples = Vec::new();
    if samples_dir.exists() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&samples_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let input =
                parse_input(&read(&path)?).with_context(|| format!("`{}`", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            samples.push((name, input));
        }
    }
    let report = lint::lint(
        &lint::LintInput {
            currency: &project.config.currency,
            pricing: &project.config.pricing,
            promotions: &project.promotions,
            samples: &samples,
        },
        &policy,
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(report.violations() == 0)
}

fn codes_cmd(cmd: &CodesCommand) -> Result<()> {
    match cmd {
        CodesCommand::Secret { out } => {
            project::new_code_secret(out)?;
            println!(
                "code secret written to {} (mode 0600): give it to the edge and the ledger only",
                out.display()
            );
        }
        CodesCommand::Generate {
            project,
            set,
            campaign,
            count,
            prefix,
            suffix,
            length,
            secret,
            out,
        } => {
            let secret = project::load_code_secret(secret)?;
            if codeset::path(project, set).exists() {
                bail!("code set `{set}` exists already");
            }
            let campaign = Campaign::new(
                campaign.as_deref().unwrap_or(set),
                prefix,
                suffix,
                *count,
                *length,
            )
            .map_err(|m| anyhow!("{m}"))?;
            let mut csv =
                String::with_capacity((campaign.len() + 1) * (*count as usize).min(10_000_000) + 5);
            csv.push_str("code\n");
            for code in secret.generate_all(&campaign) {
                csv.push_str(&code);
                csv.push('\n');
            }
            project::write_secret(out, csv.as_bytes())?;
            CodeSetFile::new_generated(set, &campaign).save(project)?;
            println!("{count} codes of campaign `{}` written to {} (mode 0600); the bundle carries none of them", campaign.campaign, out.display());
        }
        CodesCommand::Import {
            project,
            set,
            file,
            column,
            sheet,
            codes,
            secret,
        } => {
            let secret = project::load_code_secret(secret)?;
            let mut list: Vec<String> = codes.iter().map(|c| normalize_code(c)).collect();
            if let Some(file) = file {
                let imported = import::read_codes(
                    file,
                    &import::ImportOptions {
                        column: column.clone(),
                        sheet: sheet.clone(),
                    },
                )?;
                for (row, why) in imported.skipped.iter().take(20) {
                    eprintln!("skipped row {row}: {why}");
                }
                eprintln!(
                    "{} codes read, {} duplicates, {} rows skipped",
                    imported.codes.len(),
                    imported.duplicates,
                    imported.skipped.len()
                );
                list.extend(imported.codes);
            }
            if list.is_empty() {
                bail!("no codes to import: give --file or --code");
            }
            let mut f = if codeset::path(project, set).exists() {
                CodeSetFile::load(project, set)?
            } else {
                CodeSetFile::new_listed(set)
            };
            let added = f.import(&secret, &list)?;
            f.save(project)?;
            println!("{}; {added} new", f.summary());
        }
        CodesCommand::Export {
            project,
            set,
            secret,
            out,
        } => {
            let secret = project::load_code_secret(secret)?;
            let f = CodeSetFile::load(project, set)?;
            let mut buf = Vec::new();
            f.export(&secret, &mut buf)?;
            match out {
                Some(path) => {
                    project::write_secret(path, &buf)?;
                    println!("{} written to {}", f.summary(), path.display());
                }
                None => std::io::Write::write_all(&mut std::io::stdout(), &buf)?,
            }
        }
        CodesCommand::Deactivate {
            project,
            set,
            codes,
            secret,
        }
        | CodesCommand::Reactivate {
            project,
            set,
            codes,
            secret,
        } => {
            let on = matches!(cmd, CodesCommand::Reactivate { .. });
            let secret = project::load_code_secret(secret)?;
            let mut f = CodeSetFile::load(project, set)?;
            f.set_active(&secret, codes, on)?;
            f.save(project)?;
            println!("{} (effective from the next signed bundle)", f.summary());
        }
    }
    Ok(())
}

fn claim(key: &Path, customer: &str, ttl: i64, now: Option<&str>) -> Result<()> {
    use promoseal_evaluator::seal::{CustomerClaims, MAX_CLAIM_LIFETIME};
    if !(1..=MAX_CLAIM_LIFETIME).contains(&ttl) {
        bail!("--ttl: {ttl} is outside 1..={MAX_CLAIM_LIFETIME} seconds");
    }
    let customer: promoseal_evaluator::model::CustomerSpec =
        serde_json::from_str(customer).map_err(|e| anyhow!("--customer: {e}"))?;
    let key = project::load_key(key)?;
    let issued_at = now_or_clock(now)?;
    let token = key.issue_customer_claim(&CustomerClaims {
        customer,
        issued_at,
        expires_at: Instant(issued_at.seconds().saturating_add(ttl)),
    });
    println!("{token}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Keygen { id, roles, out } => keygen(id, roles, out),
        Command::Root(RootCommand::Create {
            from,
            publics,
            keys,
            out,
        }) => root_create(from, publics, keys, out),
        Command::Root(RootCommand::Rotate {
            current,
            from,
            publics,
            keys,
            out,
        }) => root_rotate(current, from, publics, keys, out),
        Command::Cosign { file, keys } => cosign(file, keys),
        Command::Lint {
            project,
            policy,
            samples,
            json,
        } => match lint_cmd(project, policy.as_deref(), samples.as_deref(), *json) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(4),
            Err(e) => Err(e),
        },
        Command::Approve {
            project,
            promotion,
            key,
            yes,
        } => approve(project, promotion, key, *yes),
        Command::Sign { project, keys, now } => sign(project, keys, now.as_deref()),
        Command::Verify {
            root,
            rotations,
            bundle,
            audience,
            now,
            min_version,
        } => verify(
            root,
            rotations,
            bundle,
            (*audience).into(),
            now.as_deref(),
            *min_version,
        ),
        Command::Inspect { file, now } => inspect(file, now.as_deref()),
        Command::Eval {
            bundle,
            cart,
            root,
            audience,
            code_secret,
            now,
            unsigned: _,
            pretty,
        } => eval(
            bundle,
            cart,
            root.as_deref(),
            (*audience).into(),
            code_secret.as_deref(),
            now.as_deref(),
            *pretty,
        ),
        Command::Claim {
            key,
            customer,
            ttl,
            now,
        } => claim(key, customer, *ttl, now.as_deref()),
        Command::Codes(cmd) => codes_cmd(cmd),
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
        Err(e) if e.is::<Refused>() => {
            eprintln!("promoseal: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("promoseal: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
