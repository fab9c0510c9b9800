//! `grep11-harness serve`: the emulator on a socket (loopback unless told otherwise), over
//! h2c or TLS, optionally requiring client certificates (mutual TLS) and a bearer token,
//! until Ctrl-C or SIGTERM. It prints its URL on stderr; it never prints a key or token.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::emulator::auth::BearerToken;
use crate::emulator::fault::{Fault, Kind};
use crate::emulator::{Config, Emulator, WRAPPING_KEY_ENV};

/// The environment variable that may hold the bearer token `serve` requires.
const BEARER_TOKEN_ENV: &str = "GREP11_BEARER_TOKEN";

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (a name such as localhost:9876, or an IP address;
    /// port 0 picks a free one); loopback unless told otherwise.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9876")]
    listen: String,
    /// The 32-byte wrapping key in hex, so blobs survive restarts (default: random per
    /// process). Prefer the environment variable: command lines are visible to other users.
    #[arg(long, env = WRAPPING_KEY_ENV, hide_env_values = true)]
    wrapping_key: Option<String>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by a CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Refuse (UNAUTHENTICATED) every call without `authorization: Bearer TOKEN`. Prefer the
    /// environment variable: command lines are visible to other users.
    #[arg(long, value_name = "TOKEN", env = BEARER_TOKEN_ENV, hide_env_values = true)]
    bearer_token: Option<String>,
    /// End each connection gracefully (GOAWAY, calls in flight answered) this long after
    /// it opened, as a load balancer or a service with a maximum connection age does;
    /// clients must reconnect.
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration)]
    max_connection_age: Option<std::time::Duration>,
    /// Streams a client may have open at once on a connection (HTTP/2
    /// SETTINGS_MAX_CONCURRENT_STREAMS); clients queue the rest. Default: no limit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_streams: Option<u32>,
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
            let line = format!("{:<30} {kind:<12} {}", fault.name(), fault.description());
            if writeln!(std::io::stdout(), "{line}").is_err() {
                break;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let usage = |message: String| {
        super::complain(message);
        Ok(ExitCode::from(super::EXIT_USAGE))
    };
    let mut config = match &args.wrapping_key {
        Some(hex) => match Config::from_hex_key(hex) {
            Ok(config) => config,
            Err(e) => return usage(format!("{}: {e}", source("--wrapping-key", WRAPPING_KEY_ENV, hex))),
        },
        None => Config::default(),
    };
    let bearer = match &args.bearer_token {
        Some(token) => match BearerToken::new(token) {
            Some(token) => Some(token),
            None => return usage(format!("{} is empty", source("--bearer-token", BEARER_TOKEN_ENV, token))),
        },
        None => None,
    };
    let listen = match tokio::net::lookup_host(args.listen.as_str()).await.map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) => return usage(format!("--listen {}: the name has no address", args.listen)),
        Err(e) => {
            return usage(format!("--listen {}: {e} (write HOST:PORT, e.g. 127.0.0.1:9876)", args.listen));
        }
    };
    let mut server = crate::serving::server();
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let tls =
            crate::client::tls::server_config(cert, key, args.client_ca.as_deref()).context("serve TLS")?;
        server = server.tls_config(tls).context("serve TLS")?;
    }
    if let Some(age) = args.max_connection_age {
        server = server.max_connection_age(age);
    }
    server = server.max_concurrent_streams(args.max_concurrent_streams);
    config.faults = args.faults.iter().copied().collect();
    let emulator = Emulator::new(config);
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => return usage(format!("--listen {}: cannot listen on {listen}: {e}", args.listen)),
    };
    let (scheme, mode) = match (&args.tls_cert, &args.client_ca) {
        (None, _) => ("http", "h2c"),
        (Some(_), None) => ("https", "TLS"),
        (Some(_), Some(_)) => ("https", "TLS, client certificates required"),
    };
    // What a client must cope with, in the banner.
    let mut settings = vec![mode.to_owned()];
    if bearer.is_some() {
        settings.push("bearer token required".into());
    }
    if let Some(age) = args.max_connection_age {
        settings.push(format!("connections ended after {}", humantime::format_duration(age)));
    }
    if let Some(n) = args.max_concurrent_streams {
        settings.push(format!("{n} stream(s) at once per connection"));
    }
    // One line, faults included: a caller that reads the first line for the URL and then
    // closes the pipe must not make a later eprintln! fail.
    let faults = match args.faults.as_slice() {
        [] => String::new(),
        faults => {
            format!(", injecting {}", faults.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "))
        }
    };
    let local = listener.local_addr()?;
    let settings = settings.join(", ");
    eprintln!("grep11-harness: serving the GREP11 emulator on {scheme}://{local} ({settings}){faults}");
    // TCP_NODELAY on every accepted socket: without it a response whose DATA frame and
    // trailers go out in two writes waits ~40 ms for the client's delayed ACK (Nagle). The
    // builder's own `tcp_nodelay` only applies when tonic binds the socket itself.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    server
        .add_routes(emulator.routes(bearer))
        .serve_with_incoming_shutdown(incoming, shutdown())
        .await
        .context("serving")?;
    eprintln!("grep11-harness: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Which of a flag and its environment variable gave a value, for a message about it: the
/// variable when it holds exactly this value and the flag is not on the command line.
fn source(flag: &'static str, env: &'static str, value: &str) -> &'static str {
    let on_command_line = std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
    if !on_command_line && std::env::var(env).is_ok_and(|v| v == value) { env } else { flag }
}

pub(super) async fn shutdown() {
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
