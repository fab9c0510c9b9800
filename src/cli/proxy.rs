//! `grep11-harness proxy`: forward an application's GREP11 calls to an endpoint (the
//! upstream flags are `run`'s, with `--upstream` for the URL) and, with `--record DIR`,
//! write what passed through as DIR/suite.yaml and DIR/workload.yaml when it stops
//! (Ctrl-C, SIGTERM, `--max-calls` or `--duration`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::proxy::{self, Proxy, Recording, render};

/// What `--redact` replaces.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Redact {
    /// Message data (data, plain, ciphered, signature, ...): written as fresh random
    /// values of the recorded lengths.
    Data,
}

#[derive(clap::Args)]
#[command(mut_arg("endpoint", |a| a
    .long("upstream")
    .value_name("URL")
    .required(true)
    .help("The GREP11 endpoint to forward to: http://HOST:PORT (h2c) or https://HOST[:PORT] (TLS)")))]
pub struct ProxyArgs {
    /// Address to listen on (h2c), HOST:PORT; port 0 picks a free one. Loopback unless
    /// told otherwise: anyone who reaches the port uses the upstream with these credentials.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9877")]
    listen: String,
    #[command(flatten)]
    upstream: super::endpoint::EndpointArgs,
    /// The longest any one forwarded call may take (the application's own deadline,
    /// grpc-timeout, is forwarded and applies too).
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration, default_value = "300s")]
    timeout: Duration,
    /// Write DIR/suite.yaml and DIR/workload.yaml from the calls seen, when the proxy stops.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Leave recorded values out of the files, keeping their lengths.
    #[arg(long, value_enum, requires = "record")]
    redact: Option<Redact>,
    /// Stop after this many calls have completed.
    #[arg(long, value_name = "N", value_parser = super::args::positive_count)]
    max_calls: Option<usize>,
    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration)]
    duration: Option<Duration>,
}

pub async fn proxy(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let usage = |message: String| {
        super::complain(message);
        Ok(ExitCode::from(super::EXIT_USAGE))
    };
    let upstream = match args.upstream.endpoint(args.timeout) {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => return usage("--upstream is required".into()),
        Err(e) => return usage(e.replace("--endpoint", "--upstream")),
    };
    if let Some(dir) = &args.record
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return usage(format!("--record {}: {e}", dir.display()));
    }
    let listen = match tokio::net::lookup_host(args.listen.as_str()).await.map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) => return usage(format!("--listen {}: the name has no address", args.listen)),
        Err(e) => {
            return usage(format!("--listen {}: {e} (write HOST:PORT, e.g. 127.0.0.1:9877)", args.listen));
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => return usage(format!("--listen {}: cannot listen on {listen}: {e}", args.listen)),
    };
    let channel = match upstream.channel().await {
        Ok(channel) => channel,
        Err(e) => {
            super::complain(format!("--upstream: {e}"));
            return Ok(ExitCode::from(super::EXIT_FAILED));
        }
    };
    let local = listener.local_addr()?;
    let recording = args.record.as_ref().map(|_| Recording::new(args.max_calls));
    let counting = match (&recording, args.max_calls) {
        (None, Some(n)) => Some(Recording::new(Some(n))),
        _ => None,
    };
    let what = match &args.record {
        Some(dir) => format!(", recording into {}", dir.display()),
        None => String::new(),
    };
    // One line, as `serve` prints: a caller may read it for the URL and close the pipe.
    let exposed = if local.ip().is_loopback() { "" } else { " (not loopback: reachable from the network)" };
    eprintln!("grep11-harness: proxy on http://{local}{exposed} forwarding to {}{what}", upstream.url());
    let full = recording.clone().or(counting.clone());
    let stop = async move {
        let bound = async {
            match args.duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let enough = async {
            match &full {
                Some(r) => r.full().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = super::serve::shutdown() => {}
            _ = bound => {}
            _ = enough => {}
        }
    };
    let url = upstream.url().to_owned();
    // Without --record, --max-calls still counts (a recording that is thrown away).
    Proxy::new(channel, upstream, recording.clone().or(counting)).serve(listener, stop).await;
    let (Some(dir), Some(recording)) = (&args.record, recording) else {
        let _ = writeln!(std::io::stderr(), "grep11-harness: proxy stopped");
        return Ok(ExitCode::SUCCESS);
    };
    let exchanges = recording.take();
    let transcript = proxy::transcript(&exchanges, args.redact == Some(Redact::Data));
    let origin = render::Origin { upstream: &url, calls: exchanges.len(), redacted: args.redact.is_some() };
    let suite = dir.join("suite.yaml");
    let workload = dir.join("workload.yaml");
    std::fs::write(&suite, render::suite(&transcript, &origin))
        .with_context(|| suite.display().to_string())?;
    std::fs::write(&workload, render::workload(&transcript, &origin))
        .with_context(|| workload.display().to_string())?;
    // The caller may have closed stderr after the first line: no panic for that.
    let _ = writeln!(
        std::io::stderr(),
        "grep11-harness: proxy stopped: {} call(s) recorded ({} left out) into {} and {}",
        exchanges.len(),
        transcript.left_out,
        suite.display(),
        workload.display()
    );
    Ok(ExitCode::SUCCESS)
}
