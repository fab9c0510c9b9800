//! The flags that say how to reach an endpoint, shared by `run` and `load`: URL, connect
//! timeout, TLS files, extra headers and IAM credentials. Turning them into a
//! [`Endpoint`] reads every file and parses every header before anything is sent, so a
//! mistake is a usage error (exit 2) that names the flag or file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use grep11_harness::client::auth::DEFAULT_IAM_ENDPOINT;
use grep11_harness::client::{Endpoint, EndpointError, Header, IamToken, Metadata, TlsOptions};

/// The environment variable that may hold the IAM API key.
const API_KEY_ENV: &str = "GREP11_APIKEY";

/// No `Debug`: it holds the API key.
#[derive(clap::Args)]
pub struct EndpointArgs {
    /// A GREP11 endpoint: http://HOST:PORT (h2c) or https://HOST[:PORT] (TLS); default: the
    /// embedded emulator.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// How long to wait for a connection (TCP, TLS and the server's HTTP/2 preface together).
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration, default_value = "5s")]
    pub connect_timeout: Duration,
    /// Also trust the CA certificates in this PEM file (besides the system's).
    #[arg(long, value_name = "FILE", requires = "endpoint")]
    ca_cert: Option<PathBuf>,
    /// Mutual TLS: the client certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["endpoint", "client_key"])]
    client_cert: Option<PathBuf>,
    /// Mutual TLS: the client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Verify the server's certificate for this name instead of the URL's host.
    #[arg(long, value_name = "NAME", requires = "endpoint")]
    tls_server_name: Option<String>,
    /// Metadata for every call, `'name: value'`; repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'", requires = "endpoint")]
    headers: Vec<String>,
    /// An IBM Cloud API key, exchanged at --iam-endpoint for the bearer token every call
    /// carries. Prefer the environment variable: command lines are visible to other users.
    #[arg(long, env = API_KEY_ENV, hide_env_values = true)]
    api_key: Option<String>,
    /// The IAM service that exchanges the API key.
    #[arg(long, value_name = "URL", default_value = DEFAULT_IAM_ENDPOINT)]
    iam_endpoint: String,
    /// The service instance, sent as `bluemix-instance` with every call.
    #[arg(long, value_name = "ID", requires = "endpoint")]
    instance_id: Option<String>,
}

impl EndpointArgs {
    /// The endpoint these flags describe (`None`: the embedded emulator), or a usage error.
    /// An API key without `--endpoint` (say, from the environment) is not used.
    pub fn endpoint(&self, timeout: Duration) -> Result<Option<Endpoint>, String> {
        let Some(url) = &self.endpoint else { return Ok(None) };
        let mut headers = Vec::new();
        for (index, text) in self.headers.iter().enumerate() {
            let header: Header = text.parse().map_err(|e| format!("--header #{}: {e}", index + 1))?;
            if header.name() == "authorization" && self.api_key.is_some() {
                return Err("--header authorization conflicts with --api-key, which sets it".into());
            }
            headers.push(header);
        }
        if let Some(id) = &self.instance_id {
            headers.push(Header::new("bluemix-instance", id).map_err(|e| format!("--instance-id: {e}"))?);
        }
        let token = match &self.api_key {
            Some(key) => Some(Arc::new(
                IamToken::new(&self.iam_endpoint, key, timeout)
                    .map_err(|e| format!("--iam-endpoint: {e}"))?,
            )),
            None => None,
        };
        let tls = TlsOptions {
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            server_name: self.tls_server_name.clone(),
        };
        Endpoint::new(url, &tls, Metadata::new(headers, token), timeout, self.connect_timeout)
            .map(Some)
            .map_err(|e| match e {
                // A TLS file's problem names the file.
                EndpointError::Tls(_) => e.to_string(),
                _ => format!("--endpoint: {e}"),
            })
    }
}
