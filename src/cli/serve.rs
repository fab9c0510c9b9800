use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use grep11_harness::emulator::{Config, Emulator, WRAPPING_KEY_ENV};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; loopback unless told otherwise.
    #[arg(long, default_value = "127.0.0.1:9876")]
    listen: SocketAddr,
    /// The 32-byte wrapping key in hex, so blobs survive restarts (default: random per
    /// process). Prefer the environment variable: command lines are visible to other users.
    #[arg(long, env = WRAPPING_KEY_ENV, hide_env_values = true)]
    wrapping_key: Option<String>,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.wrapping_key {
        Some(hex) => Config::from_hex_key(hex).context("--wrapping-key")?,
        None => Config { wrapping_key: None },
    };
    let emulator = Emulator::new(config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    eprintln!("grep11-harness: serving the GREP11 emulator on http://{} (h2c)", listener.local_addr()?);
    tonic::transport::Server::builder()
        .add_service(emulator.service())
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown())
        .await
        .context("serving")?;
    eprintln!("grep11-harness: stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
