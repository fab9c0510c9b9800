//! Real-endpoint paths on loopback: TLS and mutual TLS against certificates made at test
//! time (rcgen), the handshake's failures reported as such, per-call headers, the bearer
//! check of `serve`, and the IAM API-key exchange against a fake token server that counts
//! its requests. The binary is driven where it is the user's path (`serve`, `run`); the
//! library directly where that is simpler.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use grep11_harness::client::{
    Args, AuthFailure, CallError, Client, ConnectError, Endpoint, EndpointError, Header, IamToken, Metadata,
    TlsFileError, TlsOptions, TokenError, Wire,
};
use grep11_harness::emulator::BearerToken;
use grep11_harness::emulator::{Config, Emulator};
use grep11_harness::rpc::Rpc;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{harness, show};

fn temp_dir(name: &str) -> PathBuf {
    crate::support::temp_dir("tls", name)
}

// ---------------------------------------------------------------------------------------
// Certificates

/// A CA, a server certificate for `localhost` and 127.0.0.1 and a client certificate both
/// signed by it, and an unrelated CA; all as PEM files.
struct Pki {
    ca: PathBuf,
    other_ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn ca(common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.distinguished_name.push(DnType::CommonName, common_name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    dir: &Path,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

fn pki(name: &str) -> Pki {
    let dir = temp_dir(name);
    let issuer = ca("grep11-harness test CA");
    let other = ca("an unrelated CA");
    let (ca, other_ca) = (dir.join("ca.pem"), dir.join("other-ca.pem"));
    std::fs::write(&ca, issuer.pem()).unwrap();
    std::fs::write(&other_ca, other.pem()).unwrap();
    let (server_cert, server_key) =
        leaf(&dir, "server", &["localhost", "127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth, &issuer);
    let (client_cert, client_key) = leaf(&dir, "client", &[], ExtendedKeyUsagePurpose::ClientAuth, &issuer);
    Pki { ca, other_ca, server_cert, server_key, client_cert, client_key }
}

fn flags(pairs: [(&'static str, &PathBuf); 3]) -> Vec<String> {
    pairs.into_iter().flat_map(|(flag, path)| [flag.to_owned(), path.to_str().unwrap().to_owned()]).collect()
}

impl Pki {
    /// `serve`'s flags for mutual TLS: its certificate and key, and the CA of its clients.
    fn server_flags(&self) -> Vec<String> {
        flags([("--tls-cert", &self.server_cert), ("--tls-key", &self.server_key), ("--client-ca", &self.ca)])
    }

    /// A client's flags for mutual TLS: the CA to trust, its certificate and key.
    fn client_flags(&self) -> Vec<String> {
        flags([
            ("--ca-cert", &self.ca),
            ("--client-cert", &self.client_cert),
            ("--client-key", &self.client_key),
        ])
    }
}

/// `String`s as the `&str`s the helpers take.
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------
// In-process servers

/// The emulator served on an ephemeral loopback port; stopped on drop.
struct Served {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Metadata seen by the server, one map per call.
type Seen = Arc<Mutex<Vec<tonic::metadata::MetadataMap>>>;

#[derive(Default)]
struct ServeOptions<'a> {
    tls: Option<&'a Pki>,
    client_ca: bool,
    bearer: Option<&'a str>,
    seen: Option<Seen>,
}

async fn serve(options: ServeOptions<'_>) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = tonic::transport::Server::builder();
    let scheme = match options.tls {
        Some(pki) => {
            let ca = options.client_ca.then_some(pki.ca.as_path());
            let tls =
                grep11_harness::client::tls::server_config(&pki.server_cert, &pki.server_key, ca).unwrap();
            builder = builder.tls_config(tls).unwrap();
            "https"
        }
        None => "http",
    };
    let seen = options.seen.unwrap_or_default();
    let record = move |request: tonic::Request<()>| {
        seen.lock().unwrap().push(request.metadata().clone());
        Ok(request)
    };
    let routes = Emulator::new(Config::default()).routes(options.bearer.and_then(BearerToken::new));
    let router = builder.layer(tonic::service::InterceptorLayer::new(record)).add_routes(routes);
    let task = tokio::spawn(async move {
        let _ = router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)).await;
    });
    Served { url: format!("{scheme}://{addr}"), task }
}

fn endpoint(url: &str, tls: TlsOptions, metadata: Metadata) -> Endpoint {
    Endpoint::new(url, &tls, metadata, Duration::from_secs(5), Duration::from_secs(3)).unwrap()
}

fn trusting(pki: &Pki) -> TlsOptions {
    TlsOptions { ca_cert: Some(pki.ca.clone()), ..Default::default() }
}

/// One cheap call; its mechanism list proves the emulator answered.
async fn list(client: &Client) -> Result<usize, CallError> {
    let fields = client.call(Rpc::GetMechanismList, &Args(BTreeMap::new())).await?;
    match fields.get("Mechs") {
        Some(grep11_harness::client::Value::Mechanisms(m)) => Ok(m.len()),
        other => panic!("no mechanism list: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn tls_with_the_ca_file_reaches_the_emulator() {
    let pki = pki("tls-ok");
    let served = serve(ServeOptions { tls: Some(&pki), ..Default::default() }).await;
    assert!(served.url.starts_with("https://127.0.0.1:"));
    let client = Client::connect(&endpoint(&served.url, trusting(&pki), Metadata::default()), Wire::Keyblob)
        .await
        .expect("TLS connection");
    assert!(list(&client).await.unwrap() > 10);
    // The name override: the certificate also names localhost.
    let by_name = TlsOptions { server_name: Some("localhost".into()), ..trusting(&pki) };
    let client =
        Client::connect(&endpoint(&served.url, by_name, Metadata::default()), Wire::Keyblob).await.unwrap();
    assert!(list(&client).await.unwrap() > 10);
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_refused_and_says_so() {
    let pki = pki("tls-untrusted");
    let served = serve(ServeOptions { tls: Some(&pki), ..Default::default() }).await;
    let other = TlsOptions { ca_cert: Some(pki.other_ca.clone()), ..Default::default() };
    let err = Client::connect(&endpoint(&served.url, other, Metadata::default()), Wire::Keyblob)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("TLS handshake with https://127.0.0.1"), "{text}");
    assert!(text.contains("not signed by a trusted CA"), "{text}");
}

#[tokio::test]
async fn a_server_name_the_certificate_does_not_carry_is_refused() {
    let pki = pki("tls-name");
    let served = serve(ServeOptions { tls: Some(&pki), ..Default::default() }).await;
    let wrong = TlsOptions { server_name: Some("grep11.example.com".into()), ..trusting(&pki) };
    let err = Client::connect(&endpoint(&served.url, wrong, Metadata::default()), Wire::Keyblob)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("not valid for the name"), "{err}");
}

#[tokio::test]
async fn mutual_tls_admits_a_client_certificate_and_refuses_its_absence() {
    let pki = pki("mtls");
    let served = serve(ServeOptions { tls: Some(&pki), client_ca: true, ..Default::default() }).await;
    let with_cert = TlsOptions {
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
        ..trusting(&pki)
    };
    let client =
        Client::connect(&endpoint(&served.url, with_cert, Metadata::default()), Wire::Keyblob).await.unwrap();
    assert!(list(&client).await.unwrap() > 10);

    // Under TLS 1.3 the client's side of the handshake ends before the server has judged
    // the (missing) certificate, so the refusal may arrive at connect or at the first call.
    let failure =
        match Client::connect(&endpoint(&served.url, trusting(&pki), Metadata::default()), Wire::Keyblob)
            .await
        {
            Err(e) => e.to_string(),
            Ok(client) => match list(&client).await {
                Err(e) => format!("{e:?}"),
                Ok(_) => panic!("a call without a client certificate succeeded"),
            },
        };
    assert!(failure.contains("requires a client certificate"), "{failure}");
}

#[tokio::test]
async fn a_server_that_never_completes_the_handshake_fails_within_the_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    // Accepts, holds the socket and says nothing.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let pki = pki("tls-silent");
    let target = Endpoint::new(
        &url,
        &trusting(&pki),
        Metadata::default(),
        Duration::from_secs(5),
        Duration::from_millis(700),
    )
    .unwrap();
    let started = Instant::now();
    let err = Client::connect(&target, Wire::Keyblob).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(matches!(err, ConnectError::Timeout { .. }), "{err:?}");
    holder.abort();
}

/// A service that accepts every call and never answers.
#[derive(Clone)]
struct Stall<S>(S);

impl<S, B> tower::Service<http::Request<B>> for Stall<S>
where
    S: tower::Service<http::Request<B>>,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn the_per_call_deadline_holds_over_tls() {
    let pki = pki("tls-deadline");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let tls = grep11_harness::client::tls::server_config(&pki.server_cert, &pki.server_key, None).unwrap();
    let router = tonic::transport::Server::builder()
        .tls_config(tls)
        .unwrap()
        .layer(tower::layer::layer_fn(Stall))
        .add_service(Emulator::new(Config::default()).service());
    let task = tokio::spawn(async move {
        let _ = router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)).await;
    });
    let target = Endpoint::new(
        &url,
        &trusting(&pki),
        Metadata::default(),
        Duration::from_millis(600),
        Duration::from_secs(3),
    )
    .unwrap();
    let client = Client::connect(&target, Wire::Keyblob).await.expect("the handshake completes");
    let started = Instant::now();
    let err = list(&client).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let CallError::NoAnswer(no_answer) = &err else { panic!("not a call without an answer: {err:?}") };
    assert_eq!(no_answer.kind, grep11_harness::client::NoAnswerKind::DeadlineExceeded, "{err:?}");
    assert!(no_answer.detail.contains("no answer within 600ms"), "{err:?}");
    task.abort();
}

#[test]
fn unusable_tls_files_are_named() {
    let dir = temp_dir("tls-files");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
        .unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    let missing = dir.join("missing.pem");
    let url = "https://127.0.0.1:1";
    let attempt = |tls: TlsOptions| {
        Endpoint::new(url, &tls, Metadata::default(), Duration::from_secs(1), Duration::from_secs(1))
    };
    for (file, want) in [
        (&garbage, "not a valid PEM certificate"),
        (&empty, "holds no PEM certificate"),
        (&missing, "cannot read"),
    ] {
        let err = attempt(TlsOptions { ca_cert: Some(file.clone()), ..Default::default() }).err().unwrap();
        let text = err.to_string();
        assert!(text.contains(&file.display().to_string()) && text.contains(want), "{text}");
    }
    let pki = pki("tls-files-key");
    let err = attempt(TlsOptions {
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(empty.clone()),
        ..trusting(&pki)
    })
    .err()
    .unwrap();
    assert!(matches!(err, EndpointError::Tls(TlsFileError::BadKey { .. })), "{err:?}");
    assert!(err.to_string().contains("empty.pem"), "{err}");
    let err = Endpoint::new(
        "http://127.0.0.1:1",
        &trusting(&pki),
        Metadata::default(),
        Duration::from_secs(1),
        Duration::from_secs(1),
    )
    .err()
    .unwrap();
    assert!(matches!(err, EndpointError::TlsOnPlainUrl { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// Headers and the bearer check

#[tokio::test]
async fn every_call_carries_the_headers() {
    let seen = Seen::default();
    let served = serve(ServeOptions { seen: Some(seen.clone()), ..Default::default() }).await;
    let headers = vec![
        "x-request-source: ci".parse::<Header>().unwrap(),
        Header::new("bluemix-instance", "instance-7").unwrap(),
    ];
    let client = Client::connect(
        &endpoint(&served.url, TlsOptions::default(), Metadata::new(headers, None)),
        Wire::Keyblob,
    )
    .await
    .unwrap();
    list(&client).await.unwrap();
    list(&client).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for metadata in seen.iter() {
        assert_eq!(metadata.get("x-request-source").unwrap(), "ci");
        assert_eq!(metadata.get("bluemix-instance").unwrap(), "instance-7");
        assert!(metadata.get("authorization").is_none());
    }
}

#[tokio::test]
async fn the_bearer_check_admits_the_token_and_refuses_others_as_an_auth_failure() {
    let served = serve(ServeOptions { bearer: Some("right-token"), ..Default::default() }).await;
    let with = |header: Option<&str>| {
        let headers = header.map(|h| vec![h.parse::<Header>().unwrap()]).unwrap_or_default();
        endpoint(&served.url, TlsOptions::default(), Metadata::new(headers, None))
    };
    let client =
        Client::connect(&with(Some("authorization: Bearer right-token")), Wire::Keyblob).await.unwrap();
    assert!(list(&client).await.unwrap() > 10);
    for (header, why) in [
        (Some("authorization: Bearer wrong-token"), "not one this endpoint accepts"),
        (None, "no authorization header"),
    ] {
        let client = Client::connect(&with(header), Wire::Keyblob).await.unwrap();
        let err = list(&client).await.err().unwrap();
        let CallError::Auth(AuthFailure::Refused { code, .. }) = &err else {
            panic!("not an auth failure: {err:?}")
        };
        assert_eq!(*code, tonic::Code::Unauthenticated);
        let text = err.to_string();
        assert!(text.starts_with("the endpoint refused the credentials (UNAUTHENTICATED): "), "{text}");
        assert!(text.contains(why), "{text}");
        assert!(!text.contains("CKR_") && !text.contains("wrong-token"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// IAM

/// What the fake IAM answers.
#[derive(Clone, Copy)]
enum Iam {
    /// `tok-N` for the Nth request, valid for this many seconds, after a pause that lets
    /// concurrent callers pile up.
    Tokens { lifetime: i64, pause: Duration },
    /// IAM's answer to an unknown API key.
    Refuse,
    /// 200 with a body that is not a token.
    Garbage,
}

/// A token server on loopback speaking just enough HTTP/1.1; counts requests and keeps
/// their bodies.
struct FakeIam {
    url: String,
    requests: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeIam {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake_iam(mode: Iam) -> FakeIam {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (count, kept) = (requests.clone(), bodies.clone());
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (count, kept) = (count.clone(), kept.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_len, body_len) = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        assert!(head.starts_with("post /identity/token "), "{head}");
                        assert!(head.contains("content-type: application/x-www-form-urlencoded"), "{head}");
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (end + 4, len);
                    }
                };
                while buf.len() < head_len + body_len {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[head_len..head_len + body_len]).into_owned());
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let (status, body) = match mode {
                    Iam::Tokens { lifetime, pause } => {
                        tokio::time::sleep(pause).await;
                        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
                        let body = format!(
                            r#"{{"access_token":"tok-{n}","refresh_token":"not-supported","token_type":"Bearer","expires_in":{lifetime},"expiration":{}}}"#,
                            now + lifetime
                        );
                        ("200 OK", body)
                    }
                    Iam::Refuse => (
                        "400 Bad Request",
                        r#"{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found.","context":{"requestId":"x"}}"#.to_owned(),
                    ),
                    Iam::Garbage => ("200 OK", "<html>maintenance</html>".to_owned()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    FakeIam { url, requests, bodies, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_is_exchanged_once_for_all_concurrent_callers() {
    let iam = fake_iam(Iam::Tokens { lifetime: 3600, pause: Duration::from_millis(150) }).await;
    let token = Arc::new(IamToken::new(&iam.url, "my key&=1", Duration::from_secs(5)).unwrap());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let token = token.clone();
        calls.spawn(async move { token.authorization().await });
    }
    while let Some(got) = calls.join_next().await {
        assert_eq!(got.unwrap().unwrap(), "Bearer tok-1");
    }
    assert_eq!(token.authorization().await.unwrap(), "Bearer tok-1");
    assert_eq!(iam.requests.load(Ordering::SeqCst), 1);
    // The form, with the key URL-encoded.
    let body = iam.bodies.lock().unwrap()[0].clone();
    let mut pairs: Vec<(String, String)> = form_pairs(&body);
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("apikey".to_owned(), "my key&=1".to_owned()),
            ("grant_type".to_owned(), "urn:ibm:params:oauth:grant-type:apikey".to_owned())
        ]
    );
}

fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                let mut out = Vec::new();
                let bytes = s.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                String::from_utf8(out).unwrap()
            };
            (decode(k), decode(v))
        })
        .collect()
}

#[tokio::test]
async fn a_token_is_refreshed_shortly_before_it_expires() {
    let iam = fake_iam(Iam::Tokens { lifetime: 2, pause: Duration::ZERO }).await;
    let token = IamToken::new(&iam.url, "k", Duration::from_secs(5)).unwrap();
    assert_eq!(token.authorization().await.unwrap(), "Bearer tok-1");
    assert_eq!(token.authorization().await.unwrap(), "Bearer tok-1");
    assert_eq!(iam.requests.load(Ordering::SeqCst), 1);
    // A two-second token is replaced a tenth of its life early, so by 2.1 s at the latest.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(token.authorization().await.unwrap(), "Bearer tok-2");
    assert_eq!(iam.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn token_exchange_failures_are_auth_failures_with_iams_words() {
    let refused = fake_iam(Iam::Refuse).await;
    let err = IamToken::new(&refused.url, "k", Duration::from_secs(5))
        .unwrap()
        .authorization()
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        TokenError::Refused {
            status: 400,
            message: "BXNIM0415E: Provided API key could not be found.".into()
        }
    );
    let garbage = fake_iam(Iam::Garbage).await;
    let err = IamToken::new(&garbage.url, "k", Duration::from_secs(5))
        .unwrap()
        .authorization()
        .await
        .err()
        .unwrap();
    assert!(matches!(err, TokenError::BadAnswer { .. }), "{err:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = IamToken::new(&format!("http://127.0.0.1:{port}"), "k", Duration::from_secs(5))
        .unwrap()
        .authorization()
        .await
        .err()
        .unwrap();
    assert!(matches!(err, TokenError::Unreachable { .. }), "{err:?}");

    // Through a client: the call is not sent, and the failure is an auth failure.
    let served = serve(ServeOptions::default()).await;
    let token = Arc::new(IamToken::new(&refused.url, "k", Duration::from_secs(5)).unwrap());
    let client = Client::connect(
        &endpoint(&served.url, TlsOptions::default(), Metadata::new(vec![], Some(token))),
        Wire::Keyblob,
    )
    .await
    .unwrap();
    let err = list(&client).await.err().unwrap();
    assert!(matches!(err, CallError::Auth(AuthFailure::Token(TokenError::Refused { .. }))), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("no bearer token: IAM refused the API key exchange (HTTP 400): BXNIM0415E"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// The binary

/// `serve` with extra flags, and the bearer token it requires from the environment.
fn serve_binary(args: &[&str], bearer: Option<&str>) -> crate::support::Served {
    let mut command = harness();
    command.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    if let Some(token) = bearer {
        command.env("GREP11_BEARER_TOKEN", token);
    }
    let served = crate::support::start(&mut command);
    assert!(!bearer.is_some_and(|t| served.banner.contains(t)), "serve printed its token: {}", served.banner);
    served
}

/// `run` of two small cases against `url` with extra flags.
fn run(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    harness()
        .args(["run", "suites/random.yaml", "--filter", "random/generate-3", "--endpoint", url])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn run_against_serve_over_mutual_tls_with_a_bearer_token() {
    let pki = pki("cli-mtls");
    let served = serve_binary(&strs(&pki.server_flags()), Some("s3cret"));
    assert!(served.url.starts_with("https://"), "{}", served.url);
    let client_flags = pki.client_flags();
    let tls = strs(&client_flags);

    let out = run(&served.url, &[&tls[..], &["--header", "authorization: Bearer s3cret"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pass        random/generate-32"),
        "{}",
        show(&out)
    );

    let out = run(&served.url, &[&tls[..], &["--header", "authorization: Bearer guess"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = show(&out);
    assert!(text.contains("the endpoint refused the credentials (UNAUTHENTICATED)"), "{text}");
    assert!(!text.contains("CKR_") && !text.contains("s3cret"), "{text}");
}

#[test]
fn run_with_an_api_key_sends_the_iam_token_and_the_instance_id() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let iam = runtime.block_on(fake_iam(Iam::Tokens { lifetime: 3600, pause: Duration::ZERO }));
    // The first token the fake IAM hands out is `tok-1`; serve requires exactly that.
    let served = serve_binary(&[], Some("tok-1"));
    let flags = ["--iam-endpoint", iam.url.as_str(), "--instance-id", "inst-1"];
    let out = run(&served.url, &flags, &[("GREP11_APIKEY", "the-api-key")]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!show(&out).contains("the-api-key"));
    // Discovery and every case share one token.
    assert_eq!(iam.requests.load(Ordering::SeqCst), 1);
    assert!(iam.bodies.lock().unwrap()[0].contains("apikey=the-api-key"));

    let refusing = runtime.block_on(fake_iam(Iam::Refuse));
    let out =
        run(&served.url, &["--iam-endpoint", refusing.url.as_str()], &[("GREP11_APIKEY", "the-api-key")]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains("no bearer token: IAM refused the API key exchange (HTTP 400): BXNIM0415E"),
        "{text}"
    );
    assert!(!text.contains("CKR_") && !text.contains("the-api-key"), "{text}");
}

#[test]
fn bad_connection_flags_are_usage_errors_naming_the_flag_or_file() {
    let out = harness()
        .args(["run", "--endpoint", "http://127.0.0.1:1", "--header", "no colon here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("--header #1"), "{}", show(&out));

    let out = harness()
        .args(["run", "--endpoint", "http://127.0.0.1:1", "--header", "x-ok: 1", "--header", "bad name: 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("--header #2: header \"bad name\""), "{}", show(&out));

    let out = harness()
        .args(["load", "--endpoint", "https://127.0.0.1:1", "--ca-cert", "/nonexistent/ca.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("cannot read /nonexistent/ca.pem"), "{}", show(&out));

    let dir = temp_dir("cli-bad-pem");
    let not_pem = dir.join("server.pem");
    std::fs::write(&not_pem, "this is not PEM\n").unwrap();
    let out = harness()
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&not_pem)
        .args(["--tls-key", "/nonexistent/server.key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = show(&out);
    assert!(text.contains(&format!("{} holds no PEM certificate", not_pem.display())), "{text}");

    let out = harness().args(["run", "--endpoint", "grpc://127.0.0.1:1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("not a valid endpoint URL"), "{}", show(&out));
}

#[test]
fn load_over_tls_carries_the_headers_too() {
    let pki = pki("cli-load");
    let (cert, key, ca) =
        (pki.server_cert.to_str().unwrap(), pki.server_key.to_str().unwrap(), pki.ca.to_str().unwrap());
    let served = serve_binary(&["--tls-cert", cert, "--tls-key", key], Some("load-token"));
    let load = |token: &str| {
        harness()
            .args(["load", "--endpoint", &served.url, "--ca-cert", ca, "--connections", "2"])
            .args(["--workload", "random-32", "--requests", "50", "--warmup", "0s", "--duration", "5s"])
            .args(["--header", &format!("authorization: Bearer {token}"), "--threshold", "errors<=0"])
            .output()
            .unwrap()
    };
    let out = load("load-token");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("random-32"), "{}", show(&out));
    // Every call refused: the threshold on errors says so, by the gRPC code.
    let out = load("other");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(show(&out).contains("UNAUTHENTICATED"), "{}", show(&out));
}

// ---------------------------------------------------------------------------------------
// No delayed-ACK stall

/// `serve` answers a 1 KiB EncryptSingle, and the first call on a fresh connection, without
/// waiting for the client's delayed ACK: with Nagle on the accepted socket, a response
/// whose DATA frame and trailers leave in two writes waits ~40 ms per call. Twenty calls in
/// a row on one fresh connection, and the first call on each of five fresh connections,
/// would then take at least 20 x 40 ms and 5 x 40 ms; the bounds are half of that, which a
/// loaded machine still meets by far (a call takes well under a millisecond).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_without_a_delayed_ack_stall() {
    let pki = pki("nodelay");
    let (cert, key) = (pki.server_cert.to_str().unwrap(), pki.server_key.to_str().unwrap());
    for (label, args, tls) in [
        ("h2c", vec![], TlsOptions::default()),
        ("TLS", vec!["--tls-cert", cert, "--tls-key", key], trusting(&pki)),
    ] {
        let served = serve_binary(&args, None);
        let endpoint = endpoint(&served.url, tls, Metadata::default());
        let workloads = grep11_harness::load::workload::catalogue().unwrap();
        let encrypt = workloads.iter().find(|w| w.name == "encrypt-aes256-cbc-pad-1k").unwrap();
        let setup_client = Client::connect(&endpoint, Wire::Keyblob).await.unwrap();
        let ready = encrypt.setup(&setup_client).await.unwrap();

        let client = Client::connect(&endpoint, Wire::Keyblob).await.unwrap();
        let mut env = ready.env();
        let started = Instant::now();
        for _ in 0..20 {
            let outcome = ready.iterate(&client, &mut env, false).await;
            assert_eq!(outcome, grep11_harness::load::workload::Outcome::Ok { checked: false });
        }
        let twenty = started.elapsed();
        assert!(twenty < Duration::from_millis(400), "{label}: 20 EncryptSingle 1 KiB took {twenty:?}");

        let mut firsts = Duration::ZERO;
        for _ in 0..5 {
            let fresh = Client::connect(&endpoint, Wire::Keyblob).await.unwrap();
            let started = Instant::now();
            let outcome = ready.iterate(&fresh, &mut env, false).await;
            assert_eq!(outcome, grep11_harness::load::workload::Outcome::Ok { checked: false });
            firsts += started.elapsed();
        }
        assert!(firsts < Duration::from_millis(100), "{label}: 5 first calls took {firsts:?}");
    }
}

/// `proxy` reaches a mutual-TLS upstream with `run`'s TLS flags, and the application
/// talks h2c to it.
#[test]
fn the_proxy_forwards_to_a_mutual_tls_upstream() {
    let pki = pki("proxy");
    let served = serve_binary(&strs(&pki.server_flags()), None);
    let proxy = crate::support::proxy(&served.url, &strs(&pki.client_flags()));
    let out = run(&proxy.url, &[], &[]);
    drop(proxy);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    // Without the client certificate the upstream refuses the proxy's calls (under TLS
    // 1.3 after the handshake), and the application sees them fail.
    let proxy = crate::support::proxy(&served.url, &["--ca-cert", pki.ca.to_str().unwrap()]);
    let out = run(&proxy.url, &[], &[]);
    drop(proxy);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}
