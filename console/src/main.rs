//! `console`: the promotions console's server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use promoseal_console::{api, Clock, Settings, State, SCHEMA};
use promoseal_db::{Db, Sync};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let settings = Settings::parse();
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("console: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 8, Sync::Full, &SCHEMA).await?;
    let listen = settings.listen;
    let state = Arc::new(State::new(settings, db, Clock::System)?);
    let app = api::router(state);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!("console on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
