//! The flags that say how to reach an endpoint, shared by `run` and `load`: URL, connect
//! timeout, TLS files, extra headers and IAM credentials. Turning them into a
//! [`Endpoint`] reads every file and parses every header before anything is sent, so a
//! mistake is a usage error (exit 2) that names the flag or file.
//!
//! `run --compare` takes a second set for the second endpoint, every flag prefixed with
//! `--compare-` (the URL itself is `--compare`). Clap cannot prefix a flattened struct, so
//! [`endpoint_args!`] defines both sets from one list, and both go through one
//! [`Flags::endpoint`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::client::auth::DEFAULT_IAM_ENDPOINT;
use crate::client::{Endpoint, EndpointError, Header, IamToken, Metadata, TlsOptions};

/// Defines a struct of endpoint flags: `$long` prefixes every long flag but the URL's
/// (`$url`), `$id` every argument id (two flattened sets may not share ids), `$env` names
/// the variable that may hold the API key, and `$of` ends each help line (which endpoint).
macro_rules! endpoint_args {
    ($(#[$meta:meta])* $name:ident, url: $url:literal, url_help: $url_help:expr,
     long: $long:literal, id: $id:literal, env: $env:literal, of: $of:literal) => {
        $(#[$meta])*
        /// No `Debug`: it holds the API key.
        #[derive(clap::Args)]
        pub struct $name {
            #[arg(long = $url, id = concat!($id, "endpoint"), value_name = "URL", help = $url_help)]
            pub endpoint: Option<String>,
            #[arg(long = concat!($long, "connect-timeout"), id = concat!($id, "connect_timeout"),
                value_name = "DURATION", value_parser = super::args::positive_duration, default_value = "5s",
                help = concat!("How long to wait for a connection (TCP, TLS and the server's HTTP/2 preface together)", $of, "."))]
            pub connect_timeout: Duration,
            #[arg(long = concat!($long, "ca-cert"), id = concat!($id, "ca_cert"), value_name = "FILE",
                requires = concat!($id, "endpoint"),
                help = concat!("Also trust the CA certificates in this PEM file (besides the system's)", $of, "."))]
            ca_cert: Option<PathBuf>,
            #[arg(long = concat!($long, "client-cert"), id = concat!($id, "client_cert"), value_name = "FILE",
                requires_all = [concat!($id, "endpoint"), concat!($id, "client_key")],
                help = concat!("Mutual TLS: the client certificate chain (PEM)", $of, "."))]
            client_cert: Option<PathBuf>,
            #[arg(long = concat!($long, "client-key"), id = concat!($id, "client_key"), value_name = "FILE",
                requires = concat!($id, "client_cert"),
                help = concat!("Mutual TLS: the client certificate's private key (PEM)", $of, "."))]
            client_key: Option<PathBuf>,
            #[arg(long = concat!($long, "tls-server-name"), id = concat!($id, "tls_server_name"), value_name = "NAME",
                requires = concat!($id, "endpoint"),
                help = concat!("Verify the server's certificate for this name instead of the URL's host", $of, "."))]
            tls_server_name: Option<String>,
            #[arg(long = concat!($long, "header"), id = concat!($id, "headers"), value_name = "'NAME: VALUE'",
                requires = concat!($id, "endpoint"),
                help = concat!("Metadata for every call, `'name: value'`; repeatable", $of, "."))]
            headers: Vec<String>,
            #[arg(long = concat!($long, "api-key"), id = concat!($id, "api_key"), value_name = "KEY", env = $env, hide_env_values = true,
                help = concat!("An IBM Cloud API key, exchanged at the IAM endpoint for the bearer token every call carries",
                    $of, ". Prefer the environment variable: command lines are visible to other users."))]
            api_key: Option<String>,
            #[arg(long = concat!($long, "iam-endpoint"), id = concat!($id, "iam_endpoint"), value_name = "URL",
                default_value = DEFAULT_IAM_ENDPOINT,
                help = concat!("The IAM service that exchanges the API key", $of, "."))]
            iam_endpoint: String,
            #[arg(long = concat!($long, "instance-id"), id = concat!($id, "instance_id"), value_name = "ID",
                requires = concat!($id, "endpoint"),
                help = concat!("The service instance, sent as `bluemix-instance` with every call", $of, "."))]
            instance_id: Option<String>,
        }

        impl $name {
            /// The endpoint these flags describe (`None`: the embedded emulator), or a
            /// usage error. An API key without the URL (say, from the environment) is not
            /// used.
            pub fn endpoint(&self, timeout: Duration) -> Result<Option<Endpoint>, String> {
                Flags {
                    long: $long,
                    url_flag: concat!("--", $url),
                    url: self.endpoint.as_deref(),
                    connect_timeout: self.connect_timeout,
                    tls: TlsOptions {
                        ca_cert: self.ca_cert.clone(),
                        client_cert: self.client_cert.clone(),
                        client_key: self.client_key.clone(),
                        server_name: self.tls_server_name.clone(),
                    },
                    headers: &self.headers,
                    api_key: self.api_key.as_deref(),
                    iam_endpoint: &self.iam_endpoint,
                    instance_id: self.instance_id.as_deref(),
                }
                .endpoint(timeout)
            }
        }
    };
}

endpoint_args!(
    EndpointArgs,
    url: "endpoint",
    url_help: "A GREP11 endpoint: http://HOST:PORT (h2c) or https://HOST[:PORT] (TLS); default: the embedded emulator.",
    long: "", id: "", env: "GREP11_APIKEY", of: ""
);

endpoint_args!(
    /// The second endpoint of `run --compare`.
    CompareArgs,
    url: "compare",
    url_help: "Also run every case against this endpoint (a URL as for --endpoint, or `embedded` for a second \
               embedded emulator) and report where the two answer differently; the --compare-* flags say how to \
               reach it.",
    long: "compare-", id: "compare_", env: "GREP11_COMPARE_APIKEY", of: " (of the --compare endpoint)"
);

/// What `--compare` takes for a second embedded emulator.
pub const EMBEDDED: &str = "embedded";

/// One set of endpoint flags, whichever prefix they had; `long` prefixes flag names in
/// messages.
struct Flags<'a> {
    long: &'static str,
    url_flag: &'static str,
    url: Option<&'a str>,
    connect_timeout: Duration,
    tls: TlsOptions,
    headers: &'a [String],
    api_key: Option<&'a str>,
    iam_endpoint: &'a str,
    instance_id: Option<&'a str>,
}

impl Flags<'_> {
    fn endpoint(self, timeout: Duration) -> Result<Option<Endpoint>, String> {
        let long = self.long;
        let Some(url) = self.url.filter(|u| *u != EMBEDDED || long.is_empty()) else { return Ok(None) };
        let mut headers = Vec::new();
        for (index, text) in self.headers.iter().enumerate() {
            let header: Header = text.parse().map_err(|e| format!("--{long}header #{}: {e}", index + 1))?;
            if header.name() == "authorization" && self.api_key.is_some() {
                return Err(format!(
                    "--{long}header authorization conflicts with --{long}api-key, which sets it"
                ));
            }
            headers.push(header);
        }
        if let Some(id) = self.instance_id {
            headers
                .push(Header::new("bluemix-instance", id).map_err(|e| format!("--{long}instance-id: {e}"))?);
        }
        let token = match self.api_key {
            Some(key) => Some(Arc::new(
                IamToken::new(self.iam_endpoint, key, timeout)
                    .map_err(|e| format!("--{long}iam-endpoint: {e}"))?,
            )),
            None => None,
        };
        Endpoint::new(url, &self.tls, Metadata::new(headers, token), timeout, self.connect_timeout)
            .map(Some)
            .map_err(|e| match e {
                // A TLS file's problem names the file.
                EndpointError::Tls(_) => e.to_string(),
                _ => format!("{}: {e}", self.url_flag),
            })
    }
}
