//! IBM Cloud IAM bearer tokens: an API key exchanged at `<iam>/identity/token` (form
//! `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=<key>`, JSON answer with
//! `access_token` and `expiration` in unix seconds), cached as a ready header value and
//! refreshed shortly before it expires, one exchange at a time for all concurrent calls.
//! The key is never printed; errors say what IAM answered, never what was sent.

use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::metadata::{Ascii, MetadataValue};
use zeroize::Zeroizing;

/// IBM's public IAM service.
pub const DEFAULT_IAM_ENDPOINT: &str = "https://iam.cloud.ibm.com";

/// How long before expiry a token is replaced, at most: a minute, or a tenth of its
/// lifetime when that is shorter, so that a call never leaves with a token about to lapse.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// After a failed refresh while the old token is still valid, the wait before trying again,
/// so that an IAM outage costs one request per interval rather than one per call.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// IAM answers are a few kilobytes; anything far larger is not an answer.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why no token could be had. Each is an authentication problem, never a PKCS #11 one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The IAM endpoint is not an `http://` or `https://` URL.
    #[error("IAM endpoint {url:?} is not a valid URL: {reason}")]
    BadUrl {
        /// The IAM endpoint as given, or its token URL.
        url: String,
        /// Why it cannot be used: not a URL, or plain `http://` to another machine, which
        /// would send the API key in clear.
        reason: String,
    },
    /// No HTTP answer: refused connection, name resolution, TLS failure.
    #[error("cannot reach the IAM endpoint {url}: {reason}")]
    Unreachable {
        /// The token URL the request went to.
        url: String,
        /// The HTTP client's error chain, in one line.
        reason: String,
    },
    /// No answer within the deadline.
    #[error("the IAM endpoint {url} did not answer within {timeout:?}")]
    Timeout {
        /// The token URL the request went to.
        url: String,
        /// The bound given to [`IamToken::new`].
        timeout: Duration,
    },
    /// IAM answered with an error status (a wrong or revoked API key is HTTP 400).
    #[error("IAM refused the API key exchange (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status code.
        status: u16,
        /// IAM's `errorCode` and `errorMessage`, or the start of its body when it has
        /// neither.
        message: String,
    },
    /// IAM answered 200 with something that is not a usable token.
    #[error("the IAM answer is not a token: {reason}")]
    BadAnswer {
        /// What is wrong with the answer: not the expected JSON, or an `access_token` that
        /// is empty or cannot be a header value.
        reason: String,
    },
}

/// The token as the `authorization` header value, and when to replace it.
#[derive(Clone)]
struct Cached {
    header: MetadataValue<Ascii>,
    refresh_at: Instant,
    expires_at: Instant,
}

/// Bearer tokens for one API key; share it (in an `Arc`) across every connection.
pub struct IamToken {
    url: http::Uri,
    api_key: Zeroizing<String>,
    http: HttpClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    cached: RwLock<Option<Cached>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for IamToken {
    /// Never prints the key or the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamToken").field("url", &self.url).finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Answer {
    access_token: String,
    expiration: i64,
}

/// IAM's error body: `{"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could
/// not be found.", ...}`.
#[derive(serde::Deserialize)]
struct IamError {
    #[serde(rename = "errorCode")]
    code: Option<String>,
    #[serde(rename = "errorMessage")]
    message: Option<String>,
}

impl IamToken {
    /// Tokens for `api_key` from the IAM service at `iam_endpoint` (`https://` for IBM's,
    /// `http://` for a local one); each exchange gets `timeout`. Needs a tokio runtime only
    /// when a token is first asked for.
    pub fn new(iam_endpoint: &str, api_key: &str, timeout: Duration) -> Result<IamToken, TokenError> {
        let bad =
            |reason: &str| TokenError::BadUrl { url: iam_endpoint.to_owned(), reason: reason.to_owned() };
        if !(iam_endpoint.starts_with("https://") || iam_endpoint.starts_with("http://")) {
            return Err(bad("expected an http:// or https:// URL"));
        }
        let url: http::Uri = format!("{}/identity/token", iam_endpoint.trim_end_matches('/'))
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        // The key travels in the request body: in clear text only to this machine (a local
        // token server in tests).
        let loopback = matches!(url.host(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if url.scheme_str() == Some("http") && !loopback {
            return Err(bad(
                "plain http:// would send the API key in clear; use https:// (http:// is for a local token server only)",
            ));
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&format!("TLS: {e}")))?
        .with_root_certificates(super::tls::system_roots())
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(IamToken {
            url,
            api_key: Zeroizing::new(api_key.to_owned()),
            http: HttpClient::builder(TokioExecutor::new()).build(connector),
            timeout,
            cached: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    fn cached(&self) -> Option<Cached> {
        // A poisoned lock only means a writer panicked mid-assignment of a whole value.
        self.cached.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn store(&self, cached: Cached) {
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(cached);
    }

    /// The `authorization` header value (`Bearer <token>`): the cached one while it is
    /// fresh (a read lock and a reference-count increment), else a new one from IAM.
    pub async fn authorization(&self) -> Result<MetadataValue<Ascii>, TokenError> {
        if let Some(c) = self.cached().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.header);
        }
        // One exchange at a time: calls that queue here find the new token on waking.
        let _one = self.refreshing.lock().await;
        let now = Instant::now();
        let old = self.cached();
        if let Some(c) = old.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(c.header.clone());
        }
        match (self.exchange().await, old) {
            (Ok(fresh), _) => {
                self.store(fresh.clone());
                Ok(fresh.header)
            }
            // The old token is still good: use it, and try again a little later.
            (Err(_), Some(mut c)) if now < c.expires_at => {
                c.refresh_at = (now + RETRY_AFTER).min(c.expires_at);
                self.store(c.clone());
                Ok(c.header)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// One POST to IAM, bounded by the timeout.
    async fn exchange(&self) -> Result<Cached, TokenError> {
        let url = self.url.to_string();
        let body = Zeroizing::new(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "urn:ibm:params:oauth:grant-type:apikey")
                .append_pair("apikey", &self.api_key)
                .finish(),
        );
        let request = http::Request::post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(|e| TokenError::BadUrl { url: url.clone(), reason: e.to_string() })?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| TokenError::Unreachable {
                url: url.clone(),
                reason: super::transport::error_chain(&e),
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| TokenError::Unreachable {
                    url: url.clone(),
                    reason: format!("reading the answer: {e}"),
                })?
                .to_bytes();
            Ok::<_, TokenError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| TokenError::Timeout { url: url.clone(), timeout: self.timeout })??;
        if !status.is_success() {
            return Err(TokenError::Refused { status: status.as_u16(), message: refusal(&body) });
        }
        parse_answer(&body, SystemTime::now(), Instant::now())
    }
}

/// What IAM said when it refused: its error code and message, or the start of the body.
fn refusal(body: &[u8]) -> String {
    match serde_json::from_slice::<IamError>(body) {
        Ok(IamError { code: Some(code), message: Some(message) }) => format!("{code}: {message}"),
        Ok(IamError { code: None, message: Some(message) }) => message,
        Ok(IamError { code: Some(code), message: None }) => code,
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(200).filter(|c| !c.is_control()).collect();
            if text.is_empty() { "(empty answer)".into() } else { text }
        }
    }
}

/// A successful answer as a cached header, timed against `now`.
fn parse_answer(body: &[u8], now_wall: SystemTime, now: Instant) -> Result<Cached, TokenError> {
    let bad = |reason: String| TokenError::BadAnswer { reason };
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| bad(format!("not the expected JSON: {e}")))?;
    if answer.access_token.is_empty() {
        return Err(bad("access_token is empty".into()));
    }
    let header: MetadataValue<Ascii> = format!("Bearer {}", answer.access_token)
        .parse()
        .map_err(|_| bad("access_token has characters a header cannot carry".into()))?;
    let now_unix = now_wall.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    // An expiration in the past (clock skew) still lets this one call try the token; the
    // next call asks again.
    let lifetime = Duration::from_secs(answer.expiration.saturating_sub(now_unix).max(0) as u64);
    let margin = REFRESH_MARGIN.min(lifetime / 10);
    Ok(Cached { header, refresh_at: now + lifetime - margin, expires_at: now + lifetime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_refreshed_a_minute_or_a_tenth_of_its_life_early() {
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let now = Instant::now();
        let hour = parse_answer(br#"{"access_token":"abc","expiration":1003600}"#, wall, now).unwrap();
        assert_eq!(hour.header, "Bearer abc");
        assert_eq!(hour.expires_at - now, Duration::from_secs(3600));
        assert_eq!(hour.refresh_at - now, Duration::from_secs(3540));
        let short = parse_answer(br#"{"access_token":"abc","expiration":1000100}"#, wall, now).unwrap();
        assert_eq!(short.refresh_at - now, Duration::from_secs(90));
    }

    #[test]
    fn an_expired_or_odd_answer_is_handled() {
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let now = Instant::now();
        let past = parse_answer(br#"{"access_token":"abc","expiration":5}"#, wall, now).unwrap();
        assert_eq!(past.refresh_at, now);
        for (body, want) in [
            (&br#"{"expiration":5}"#[..], "not the expected JSON"),
            (br#"{"access_token":"","expiration":5}"#, "empty"),
            (b"{\"access_token\":\"a\\nb\",\"expiration\":5}", "characters"),
            (b"<html>", "not the expected JSON"),
        ] {
            let err = parse_answer(body, wall, now).err().unwrap();
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn a_refusal_quotes_iam_code_and_message() {
        let body = br#"{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found.","context":{}}"#;
        assert_eq!(refusal(body), "BXNIM0415E: Provided API key could not be found.");
        assert_eq!(refusal(b"Bad Gateway\r\n"), "Bad Gateway");
        assert_eq!(refusal(b""), "(empty answer)");
    }

    #[test]
    fn the_iam_url_must_be_http_or_https() {
        assert!(matches!(
            IamToken::new("iam.cloud.ibm.com", "k", Duration::from_secs(1)),
            Err(TokenError::BadUrl { .. })
        ));
        let ok =
            IamToken::new("https://iam.cloud.ibm.com/", "key-that-must-not-show", Duration::from_secs(1))
                .unwrap();
        assert_eq!(ok.url.to_string(), "https://iam.cloud.ibm.com/identity/token");
        assert!(!format!("{ok:?}").contains("must-not-show"));
        let clear = IamToken::new("http://iam.example.com", "k", Duration::from_secs(1)).err().unwrap();
        assert!(clear.to_string().contains("in clear"), "{clear}");
        assert!(IamToken::new("http://127.0.0.1:8080", "k", Duration::from_secs(1)).is_ok());
        assert!(IamToken::new("http://[::1]:8080/", "k", Duration::from_secs(1)).is_ok());
    }
}
