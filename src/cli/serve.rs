use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use grep11_harness::emulator::fault::{Fault, Kind};
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
    /// Commit a defect on purpose, to check that a client or a suite notices (repeatable;
    /// `--list-faults` names them).
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<Fault>,
    /// Print the fault catalogue and exit.
    #[arg(long)]
    list_faults: bool,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.list_faults {
        for fault in Fault::all() {
            let kind = if fault.kind() == Kind::Benign { "benign" } else { "correctness" };
            println!("{:<30} {kind:<12} {}", fault.name(), fault.description());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = match &args.wrapping_key {
        Some(hex) => Config::from_hex_key(hex).context("--wrapping-key")?,
        None => Config::default(),
    };
    config.faults = args.faults.iter().copied().collect();
    let emulator = Emulator::new(config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    // One line, faults included: a caller that reads the first line for the URL and then
    // closes the pipe must not make a later eprintln! fail.
    let faults = match args.faults.as_slice() {
        [] => String::new(),
        faults => {
            format!(", injecting {}", faults.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "))
        }
    };
    eprintln!(
        "grep11-harness: serving the GREP11 emulator on http://{} (h2c){faults}",
        listener.local_addr()?
    );
    tonic::transport::Server::builder()
        .add_routes(emulator.routes())
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
