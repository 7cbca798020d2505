//! The steps and the order they run in. Each is a list of commands; what a step needs, it asks
//! for (`setup` first, then the artifacts through their freshness rule).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::artifact::Artifact;

pub type Result<T = ()> = std::result::Result<T, String>;

/// The repository: the parent of this crate.
pub fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

static SET_UP: AtomicBool = AtomicBool::new(false);

/// A command run at the repository with the project's tools first on PATH.
fn cmd(program: &str, args: &[&str]) -> Command {
    let root = repo();
    let home = std::env::var("HOME").unwrap_or_default();
    let path = std::env::var("PATH").unwrap_or_default();
    let mut c = Command::new(program);
    c.args(args).current_dir(&root).env(
        "PATH",
        format!(
            "{}/node_modules/.bin:{home}/.cargo/bin:{path}",
            root.display()
        ),
    );
    if std::env::var_os("CARGO_BUILD_JOBS").is_none() {
        c.env("CARGO_BUILD_JOBS", "2");
    }
    if SET_UP.load(Ordering::Relaxed) {
        // The scripts a step runs (the walkthrough, the API test) do not install again.
        c.env("PROMOSEAL_SETUP_DONE", "1");
    }
    c
}

fn run(c: &mut Command) -> Result {
    let shown = format!(
        "{} {}",
        c.get_program().to_string_lossy(),
        c.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("$ {shown}");
    let status = c.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown}: {status}"))
    }
}

fn sh(program: &str, args: &[&str]) -> Result {
    run(&mut cmd(program, args))
}

fn cargo(args: &[&str]) -> Result {
    sh("cargo", args)
}

fn title(s: &str) {
    eprintln!("\n== {s}");
}

/// Runs `f` as a named, timed part of a tier.
fn part(name: &str, f: impl FnOnce() -> Result) -> Result {
    title(name);
    let t = Instant::now();
    let r = f();
    eprintln!("== {name}: {:.0} s", t.elapsed().as_secs_f64());
    r
}

/// Installs what is missing (scripts/setup.sh, idempotent), once per process tree.
pub fn setup() -> Result {
    if SET_UP.load(Ordering::Relaxed) || std::env::var_os("PROMOSEAL_SETUP_DONE").is_some() {
        SET_UP.store(true, Ordering::Relaxed);
        return Ok(());
    }
    sh("bash", &["scripts/setup.sh"])?;
    SET_UP.store(true, Ordering::Relaxed);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// gen: what the hosts read, written by this build

/// The native answers to every corpus case and signing vector
/// (`target/tmp/conformance/native.jsonl`, which the wasm package's tests compare with), the
/// edge Worker's fixtures (`target/tmp/edge/fixtures.json`: signed bundles, claims and the
/// native answer of every corpus case), and the fuzz seeds. The two writers are Rust tests:
/// they assert what they write, so a fixture is never written from a failing build.
pub fn gen() -> Result {
    cargo(&[
        "test",
        "--locked",
        "-q",
        "-p",
        "promoseal-evaluator",
        "--test",
        "integration",
        "--",
        "conformance",
    ])?;
    cargo(&[
        "test",
        "--locked",
        "-q",
        "-p",
        "promoseal-edge-worker",
        "--test",
        "fixtures",
    ])?;
    fuzz_seeds()
}

/// `fuzz/seeds/verify`: every signing vector and the example bundle and cart, each behind the
/// selector byte that sends it to its entry point (fuzz/fuzz_targets/verify.rs): 0 a bundle
/// envelope, 1 a trust root, 3 a bare payload, 4 an evaluation input.
fn fuzz_seeds() -> Result {
    let root = repo();
    let dir = root.join("fuzz/seeds/verify");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut seeds: Vec<(u8, PathBuf)> = vec![
        (3, root.join("examples/bundle.json")),
        (4, root.join("examples/cart.json")),
    ];
    let vectors = root.join("tests/vectors");
    let entries = fs::read_dir(&vectors).map_err(|e| format!("{}: {e}", vectors.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".env") {
            seeds.push((u8::from(name.starts_with("root-")), path));
        }
    }
    for (selector, path) in &seeds {
        let mut bytes = vec![*selector];
        bytes.extend(fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
        let name = path.file_name().unwrap_or_default();
        fs::write(dir.join(name), bytes).map_err(|e| e.to_string())?;
    }
    eprintln!("xtask: {} fuzz seeds in {}", seeds.len(), dir.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// build

/// The wasm package `@promoseal/evaluator` (evaluator-wasm/npm/dist/{web,node}).
const WASM: Artifact = Artifact {
    name: "wasm",
    inputs: &[
        "Cargo.toml",
        "Cargo.lock",
        "evaluator",
        "evaluator-wasm/Cargo.toml",
        "evaluator-wasm/src",
        "evaluator-wasm/npm/size-budget.json",
        "evaluator-wasm/npm/size.mjs",
        "evaluator-wasm/npm/freed.js",
    ],
    outputs: &[
        "evaluator-wasm/npm/dist/web/promoseal_evaluator_bg.wasm",
        "evaluator-wasm/npm/dist/node/promoseal_evaluator_bg.wasm",
    ],
};

/// The console's build of the same crate with the authoring API (feature `authoring`), for
/// browsers only (evaluator-wasm/npm/dist/authoring); the storefront's package is unchanged.
const CONSOLE_WASM: Artifact = Artifact {
    name: "console-wasm",
    inputs: &[
        "Cargo.toml",
        "Cargo.lock",
        "evaluator",
        "authoring",
        "evaluator-wasm/Cargo.toml",
        "evaluator-wasm/src",
        "evaluator-wasm/npm/freed.js",
    ],
    outputs: &["evaluator-wasm/npm/dist/authoring/promoseal_evaluator_bg.wasm"],
};

/// The edge Worker (edge-worker/build), which `wrangler dev` serves.
const EDGE: Artifact = Artifact {
    name: "edge",
    inputs: &[
        "Cargo.toml",
        "Cargo.lock",
        "evaluator",
        "wire",
        "edge-worker/Cargo.toml",
        "edge-worker/src",
    ],
    outputs: &["edge-worker/build/index.js"],
};

pub fn build(what: &str) -> Result {
    match what {
        "wasm" => build_wasm(),
        "console-wasm" => build_console_wasm(),
        "edge" => build_edge(),
        "all" => {
            build_wasm()?;
            build_console_wasm()?;
            build_edge()
        }
        other => Err(format!(
            "no artifact {other:?} (wasm, console-wasm, edge, all)"
        )),
    }
}

/// The features rustc's wasm32 target emits by default; wasm-opt must accept exactly these.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// Appended to every build's glue: an `Engine` used after `free()` answers, never throws.
const FREED_JS: &str = include_str!("../../evaluator-wasm/npm/freed.js");

/// One wasm-pack build of evaluator-wasm into `dir`, optimized by npm's wasm-opt (wasm-pack's
/// own would be downloaded from GitHub; Debian's emits modules that fail at load).
fn wasm_pack(target: &str, dir: &Path, features: &[&str]) -> Result {
    let out = dir.to_string_lossy().into_owned();
    let mut args = vec![
        "--log-level",
        "warn",
        "build",
        "evaluator-wasm",
        "--profile",
        "wasm",
        "--target",
        target,
        "--out-dir",
        &out,
        "--out-name",
        "promoseal_evaluator",
        "--no-pack",
        "--no-opt",
        "--weak-refs",
        "--",
        "--locked",
    ];
    args.extend_from_slice(features);
    sh("wasm-pack", &args)?;
    let wasm = dir.join("promoseal_evaluator_bg.wasm");
    let wasm = wasm.to_string_lossy().into_owned();
    let level = std::env::var("WASM_OPT_LEVEL").unwrap_or_else(|_| "-O3".into());
    let mut opt = vec![level.as_str()];
    opt.extend_from_slice(WASM_FEATURES);
    opt.extend_from_slice(&["--strip-debug", "--strip-producers", &wasm, "-o", &wasm]);
    sh("wasm-opt", &opt)?;
    let _ = fs::remove_file(dir.join(".gitignore"));
    // A freed Engine answers instead of throwing (the snippet says how).
    let glue = dir.join("promoseal_evaluator.js");
    let mut js = fs::read_to_string(&glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    js.push_str(FREED_JS);
    fs::write(&glue, js).map_err(|e| format!("{}: {e}", glue.display()))
}

fn build_wasm() -> Result {
    setup()?;
    WASM.ensure(|| {
        let dist = repo().join("evaluator-wasm/npm/dist");
        for (target, dir, scope) in [("web", "web", "module"), ("nodejs", "node", "commonjs")] {
            let dir = dist.join(dir);
            let _ = fs::remove_dir_all(&dir);
            wasm_pack(target, &dir, &[])?;
            // Module scopes: the web build is an ES module, the Node build CommonJS.
            fs::write(
                dir.join("package.json"),
                format!("{{ \"type\": \"{scope}\" }}\n"),
            )
            .map_err(|e| e.to_string())?;
        }
        sh("node", &["evaluator-wasm/npm/size.mjs"])
    })
}

/// The console's server (release build) and its pages' evaluator.
fn build_console() -> Result {
    build_console_wasm()?;
    cargo(&[
        "build",
        "--release",
        "--locked",
        "-q",
        "-p",
        "promoseal-console",
    ])
}

fn build_console_wasm() -> Result {
    setup()?;
    CONSOLE_WASM.ensure(|| {
        let dir = repo().join("evaluator-wasm/npm/dist/authoring");
        let _ = fs::remove_dir_all(&dir);
        wasm_pack("web", &dir, &["--features", "authoring"])?;
        fs::write(dir.join("package.json"), "{ \"type\": \"module\" }\n").map_err(|e| e.to_string())
    })
}

/// worker-build runs cargo for wasm32, wasm-bindgen (at the crate's exact version, from
/// setup), npm's wasm-opt and esbuild; it ignores PATH for its tools, hence the variables.
/// The profile is the wasm package's (`wasm` in Cargo.toml: dependencies for size, the
/// evaluator, the curve arithmetic and hashing at full speed), so both modules keep one size
/// discipline and share their compiled dependencies.
fn build_edge() -> Result {
    setup()?;
    EDGE.ensure(|| {
        let root = repo();
        let bin = |name: &str| -> Result<String> {
            let home = std::env::var("HOME").unwrap_or_default();
            let p = Path::new(&home).join(".cargo/bin").join(name);
            if p.exists() {
                Ok(p.to_string_lossy().into_owned())
            } else {
                Err(format!("{} is missing: run cargo xtask setup", p.display()))
            }
        };
        let mut c = cmd(&bin("worker-build")?, &["--profile", "wasm"]);
        c.current_dir(root.join("edge-worker"))
            .env("WASM_BINDGEN_BIN", bin("wasm-bindgen")?)
            .env("WASM_OPT_BIN", root.join("node_modules/.bin/wasm-opt"))
            .env(
                "ESBUILD_BIN",
                root.join("node_modules/@esbuild/linux-x64/bin/esbuild"),
            );
        run(&mut c)?;
        // The size that counts against the Workers plan limit (3 MB compressed, free plan).
        if let Some(wasm) = first_wasm(&root.join("edge-worker/build")) {
            let bytes = fs::read(&wasm).map_err(|e| e.to_string())?;
            eprintln!("edge worker: {} bytes ({})", bytes.len(), wasm.display());
        }
        Ok(())
    })
}

fn first_wasm(dir: &Path) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if let Some(w) = first_wasm(&p) {
                return Some(w);
            }
        } else if p.extension().is_some_and(|e| e == "wasm") {
            return Some(p);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// test

pub fn test(tier: &str) -> Result {
    let t = Instant::now();
    match tier {
        "fast" => fast()?,
        "hosts" => hosts()?,
        "fuzz" => fuzz()?,
        "all" => {
            setup()?;
            fast()?;
            hosts()?;
            fuzz()?;
        }
        other => return Err(format!("no tier {other:?} (fast, hosts, fuzz, all)")),
    }
    eprintln!(
        "\nxtask: test {tier} passed in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// No service, no Node, no browser: what `cargo test` after a clone runs, plus formatting,
/// lints and the core's purity.
fn fast() -> Result {
    part("cargo fmt --check", || {
        cargo(&["fmt", "--all", "--", "--check"])
    })?;
    part("cargo clippy (native, all targets)", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ])
    })?;
    part(
        "cargo clippy for wasm32: the core, its JavaScript API (with the console's authoring \
         API), the edge Worker",
        || {
            setup()?;
            for args in [
                &["-p", "promoseal-evaluator"][..],
                &["-p", "promoseal-authoring"],
                &["-p", "promoseal-evaluator-wasm"],
                &["-p", "promoseal-evaluator-wasm", "--features", "authoring"],
                &["-p", "promoseal-edge-worker", "--all-targets"],
            ] {
                let mut a = vec!["clippy", "--target", "wasm32-unknown-unknown", "--locked"];
                a.extend_from_slice(args);
                a.extend_from_slice(&["--", "-D", "warnings"]);
                cargo(&a)?;
            }
            Ok(())
        },
    )?;
    part("the pure core depends on no host runtime", purity)?;
    part(
        "cargo test (the PostgreSQL half of the database tests is the hosts tier's)",
        || cargo(&["test", "--workspace", "--locked"]),
    )
}

/// The core may not depend on a clock, randomness, I/O or a host runtime.
fn purity() -> Result {
    const FORBIDDEN: &[&str] = &[
        "worker",
        "js-sys",
        "web-sys",
        "wasm-bindgen",
        "tokio",
        "getrandom",
        "rand",
        "chrono",
        "time",
        "axum",
        "sqlx",
    ];
    for krate in ["promoseal-evaluator", "promoseal-authoring"] {
        let out = cmd(
            "cargo",
            &[
                "tree", "-p", krate, "-e", "normal", "--prefix", "none", "--locked",
            ],
        )
        .output()
        .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("cargo tree -p {krate}: {}", out.status));
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        let bad: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split(' ').next())
            .filter(|name| FORBIDDEN.contains(name))
            .collect();
        if !bad.is_empty() {
            return Err(format!(
                "{krate} must stay pure (no runtime, clock or randomness crates): {}",
                bad.join(", ")
            ));
        }
    }
    Ok(())
}

/// What needs PostgreSQL, Node, Chromium or workerd.
fn hosts() -> Result {
    setup()?;
    part("PostgreSQL (started when none is running)", || {
        sh("bash", &["scripts/postgres.sh"])
    })?;
    part(
        "the ledger's and the console's suites on PostgreSQL",
        || {
            // The cases `cargo test` lists as ignored: each database test's PostgreSQL half.
            cargo(&[
                "test",
                "--locked",
                "-p",
                "promoseal-ledger",
                "-p",
                "promoseal-console",
                "--test",
                "it",
                "--",
                "--ignored",
            ])
        },
    )?;
    part(
        "the ledger's API against ledger/openapi.yaml: schemathesis (SQLite, PostgreSQL)",
        || sh("bash", &["scripts/test-api.sh"]),
    )?;
    gen()?;
    part(
        "the wasm package: byte-identical to native in Node and Chromium",
        || {
            // evaluator-wasm/npm/types.d.ts must be what the Rust types generate (ts-rs).
            cargo(&[
                "test",
                "--locked",
                "-q",
                "-p",
                "promoseal-evaluator-wasm",
                "--",
                "declarations",
            ])?;
            build_wasm()?;
            sh("tsc", &["-p", "evaluator-wasm/npm/example"])?;
            let native = repo().join("target/tmp/conformance/native.jsonl");
            let mut c = cmd(
                "sh",
                &[
                    "-c",
                    "node --test --test-reporter=spec evaluator-wasm/npm/test/*.test.mjs",
                ],
            );
            c.env("PROMOSEAL_NATIVE_RESULTS", native);
            run(&mut c)
        },
    )?;
    part(
        "the edge Worker in workerd (wrangler) against the real ledger",
        || {
            cargo(&[
                "build",
                "--release",
                "--locked",
                "-q",
                "-p",
                "promoseal-ledger",
            ])?;
            build_edge()?;
            sh(
                "sh",
                &[
                    "-c",
                    "node --test --test-concurrency=1 edge-worker/test/*.test.mjs",
                ],
            )
        },
    )?;
    part(
        "the storefront in Chromium against the whole stack (ledger, edge, storefront)",
        || {
            let work = walkthrough("web-test")?;
            let mut c = cmd(
                "sh",
                &[
                    "-c",
                    "node --test --test-concurrency=1 web-demo/test/*.test.mjs",
                ],
            );
            c.env("PROMOSEAL_WORK", &work);
            run(&mut c)
        },
    )?;
    part(
        "the promotions console in Chromium against the whole stack (after the storefront: it \
         changes the signed project)",
        || {
            build_console()?;
            let mut c = cmd(
                "sh",
                &[
                    "-c",
                    "node --test --test-concurrency=1 console/test/*.test.mjs",
                ],
            );
            c.env("PROMOSEAL_WORK", repo().join("target/web-test"));
            run(&mut c)
        },
    )
}

/// Verification and parsing never panic (`FUZZ_SECONDS`, default 60): libFuzzer on stable Rust
/// without a sanitizer (the code is `unsafe`-free; what is hunted is panics, overflows and
/// runaway time). Crashes land in fuzz/artifacts/verify/ and fail the run.
fn fuzz() -> Result {
    setup()?;
    fuzz_seeds()?;
    let seconds = std::env::var("FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    part(
        &format!("fuzz: verification and parsing ({seconds} s)"),
        || {
            let corpus = repo().join("fuzz/corpus/verify");
            fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
            let max_time = format!("-max_total_time={seconds}");
            let mut c = cmd(
                "cargo",
                &[
                    "fuzz",
                    "run",
                    "--sanitizer",
                    "none",
                    "verify",
                    "corpus/verify",
                    "seeds/verify",
                    "--",
                    &max_time,
                    "-max_len=65536",
                    "-timeout=10",
                    "-print_final_stats=1",
                ],
            );
            c.current_dir(repo().join("fuzz"));
            run(&mut c)
        },
    )
}

// ---------------------------------------------------------------------------------------------
// demo

/// Signs examples/shop with throw-away keys into `target/<name>` (scripts/walkthrough.sh, its
/// output in `target/<name>.log`): the keys, the signed project and its codes the stack serves.
fn walkthrough(name: &str) -> Result<PathBuf> {
    let target = repo().join("target");
    let work = target.join(name);
    let log = target.join(format!("{name}.log"));
    fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    let out = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut walk = cmd("bash", &["scripts/walkthrough.sh"]);
    walk.env("PROMOSEAL_WORK", &work).stdout(out).stderr(err);
    if run(&mut walk).is_err() {
        return Err(format!("the walkthrough failed: see {}", log.display()));
    }
    Ok(work)
}

/// Signs examples/shop with throw-away keys (the walkthrough), builds the storefront's wasm and
/// the edge Worker, and runs the ledger (SQLite), the edge Worker (workerd) and the storefront
/// (web-demo/demo.mjs) until Ctrl-C.
pub fn demo() -> Result {
    setup()?;
    title("signing examples/shop with throw-away keys (the walkthrough: target/demo.log)");
    let work = walkthrough("demo")?;
    if let Ok(text) = fs::read_to_string(repo().join("target/demo.log")) {
        for line in text
            .lines()
            .filter(|l| l.starts_with("edge bundle v") || l.starts_with("storefront bundle v"))
        {
            eprintln!("{line}");
        }
    }
    title("building the storefront's evaluator (wasm), the console's, and the edge Worker");
    build("all")?;
    build_console()?;
    title(
        "starting the ledger (SQLite), the edge Worker (workerd), the storefront and the console",
    );
    let mut c = cmd("node", &["web-demo/demo.mjs"]);
    c.env("PROMOSEAL_WORK", &work);
    run(&mut c)
}
