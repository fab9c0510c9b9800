//! A client that knows only the published GREP11 field numbers: its messages are written
//! here by hand, independent of `proto/` and of the generated types, and it talks to the
//! emulator over a loopback socket. If the emulator drifted from the wire, this breaks.

use std::collections::BTreeMap;

use grep11_harness::emulator::{Config, Emulator};
use prost::Message;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, Message)]
struct Mech {
    #[prost(uint64, tag = "1")]
    mechanism: u64,
    #[prost(bytes = "vec", optional, tag = "2")]
    parameter_b: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct Attr {
    #[prost(bool, optional, tag = "2")]
    tf: Option<bool>,
    #[prost(int64, optional, tag = "3")]
    int: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
struct Blob {
    #[prost(bytes = "vec", repeated, tag = "5")]
    blobs: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct DigestSingleRequest {
    #[prost(message, optional, tag = "1")]
    mech: Option<Mech>,
    #[prost(bytes = "vec", tag = "2")]
    data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct DigestSingleResponse {
    #[prost(bytes = "vec", tag = "3")]
    digest: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct GenerateKeyRequest {
    #[prost(message, optional, tag = "1")]
    mech: Option<Mech>,
    #[prost(btree_map = "uint64, message", tag = "6")]
    template: BTreeMap<u64, Attr>,
}

#[derive(Clone, PartialEq, Message)]
struct GenerateKeyResponse {
    #[prost(bytes = "vec", tag = "4")]
    key_bytes: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    check_sum: Vec<u8>,
    #[prost(message, optional, tag = "7")]
    key: Option<Blob>,
}

#[derive(Clone, PartialEq, Message)]
struct EncryptSingleRequest {
    #[prost(message, optional, tag = "2")]
    mech: Option<Mech>,
    #[prost(bytes = "vec", tag = "3")]
    plain: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    key: Option<Blob>,
}

#[derive(Clone, PartialEq, Message)]
struct EncryptSingleResponse {
    #[prost(bytes = "vec", tag = "4")]
    ciphered: Vec<u8>,
}

/// DecryptSingle in the earlier generation: the key as raw bytes at field 1.
#[derive(Clone, PartialEq, Message)]
struct LegacyDecryptSingleRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    mech: Option<Mech>,
    #[prost(bytes = "vec", tag = "3")]
    ciphered: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct DecryptSingleResponse {
    #[prost(bytes = "vec", tag = "4")]
    plain: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

#[derive(Clone, PartialEq, Message)]
struct Grep11Error {
    #[prost(uint64, tag = "1")]
    code: u64,
}

// Published values (PKCS #11 headers), typed here on purpose: this client shares nothing.
const CKM_SHA256: u64 = 0x250;
const CKM_AES_KEY_GEN: u64 = 0x1080;
const CKM_AES_CBC_PAD: u64 = 0x1085;
const CKA_ENCRYPT: u64 = 0x104;
const CKA_DECRYPT: u64 = 0x105;
const CKA_VALUE_LEN: u64 = 0x161;
const CKR_MECHANISM_INVALID: u64 = 0x70;

async fn call<Req, Resp>(
    channel: &tonic::transport::Channel,
    method: &'static str,
    req: Req,
) -> Result<Resp, tonic::Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::from_static(method);
    grpc.unary(tonic::Request::new(req), path, ProstCodec::<Req, Resp>::default())
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_client_built_from_field_numbers_alone_uses_the_served_emulator() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let emulator = Emulator::new(Config::default());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(emulator.service())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();

    let digest: DigestSingleResponse = call(
        &channel,
        "/grep11.Crypto/DigestSingle",
        DigestSingleRequest {
            mech: Some(Mech { mechanism: CKM_SHA256, parameter_b: None }),
            data: b"abc".to_vec(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        hex::encode(digest.digest),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    let template = BTreeMap::from([
        (CKA_VALUE_LEN, Attr { tf: None, int: Some(32) }),
        (CKA_ENCRYPT, Attr { tf: Some(true), int: None }),
        (CKA_DECRYPT, Attr { tf: Some(true), int: None }),
    ]);
    let key: GenerateKeyResponse = call(
        &channel,
        "/grep11.Crypto/GenerateKey",
        GenerateKeyRequest { mech: Some(Mech { mechanism: CKM_AES_KEY_GEN, parameter_b: None }), template },
    )
    .await
    .unwrap();
    assert_eq!(key.key.as_ref().unwrap().blobs[0], key.key_bytes, "both key fields carry the same blob");
    assert!(key.check_sum.len() >= 3);

    let cbc_pad = Some(Mech { mechanism: CKM_AES_CBC_PAD, parameter_b: Some(vec![7; 16]) });
    let enc: EncryptSingleResponse = call(
        &channel,
        "/grep11.Crypto/EncryptSingle",
        EncryptSingleRequest { mech: cbc_pad.clone(), plain: b"third party".to_vec(), key: key.key.clone() },
    )
    .await
    .unwrap();
    assert_eq!(enc.ciphered.len(), 16);
    let dec: DecryptSingleResponse = call(
        &channel,
        "/grep11.Crypto/DecryptSingle",
        LegacyDecryptSingleRequest { key: key.key_bytes.clone(), mech: cbc_pad, ciphered: enc.ciphered },
    )
    .await
    .unwrap();
    assert_eq!(dec.plain, b"third party");

    let refused = call::<_, DigestSingleResponse>(
        &channel,
        "/grep11.Crypto/DigestSingle",
        DigestSingleRequest {
            mech: Some(Mech { mechanism: CKM_AES_KEY_GEN, parameter_b: None }),
            data: vec![0],
        },
    )
    .await
    .unwrap_err();
    let status = RpcStatus::decode(refused.details()).unwrap();
    assert_eq!(status.details.len(), 1);
    assert_eq!(status.details[0].type_url, "type.googleapis.com/grep11.Grep11Error");
    assert_eq!(Grep11Error::decode(status.details[0].value.as_slice()).unwrap().code, CKR_MECHANISM_INVALID);
    server.abort();
}
