//! Requests shaped as IBM's public GREP11 clients (Go and JS) send them, sent over a loopback
//! socket to the served emulator through the generated gRPC client: integer public
//! exponents, CKA_TOKEN/CKA_PRIVATE in every template, CKA_EXTRACTABLE on public keys, the
//! "256-bit DES3 key", HMAC under AES keys, ECDH with the peer's raw point as ParameterB,
//! and ReencryptSingle. Every answer with cryptographic output is checked with the harness's
//! reference cryptography (RustCrypto), never with the emulator's own.

use std::collections::HashMap;

use grep11_harness::emulator::{Config, Emulator};
use grep11_harness::pkcs11::*;
use grep11_harness::proto::{
    self, attribute_value::OneAttr, crypto_client::CryptoClient, mechanism::Parameter,
};
use grep11_harness::runner::reference;
use grep11_harness::status::{CallFailure, from_status};
use tonic::transport::Channel;

type Template = HashMap<u64, proto::AttributeValue>;

fn t(rows: &[(CkAttributeType, OneAttr)]) -> Template {
    rows.iter().map(|(a, v)| (a.0, proto::AttributeValue { one_attr: Some(v.clone()) })).collect()
}

fn yes(b: bool) -> OneAttr {
    OneAttr::AttributeTf(b)
}

fn int(i: i64) -> OneAttr {
    OneAttr::AttributeI(i)
}

fn bytes(b: &[u8]) -> OneAttr {
    OneAttr::AttributeB(b.to_vec())
}

fn mech(m: CkMechanismType, param: Option<&[u8]>) -> Option<proto::Mechanism> {
    Some(proto::Mechanism { mechanism: m.0, parameter: param.map(|p| Parameter::ParameterB(p.to_vec())) })
}

/// Serves a fresh emulator on 127.0.0.1 and connects the generated client to it.
async fn connect() -> (CryptoClient<Channel>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let emulator = Emulator::new(Config::default());
    let server = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(emulator.service())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    (CryptoClient::new(channel), server)
}

async fn value_of(c: &mut CryptoClient<Channel>, blob: &[u8], attr: CkAttributeType) -> Vec<u8> {
    let req = proto::GetAttributeValueRequest {
        object: blob.to_vec(),
        attributes_bytes: HashMap::from([(attr.0, vec![])]),
        ..Default::default()
    };
    c.get_attribute_value(req).await.unwrap().into_inner().attributes_bytes.remove(&attr.0).unwrap()
}

/// An AES key of known bytes, imported as the Go examples import one: EncryptSingle under a
/// fresh KEK with AES-CBC-PAD, then UnwrapKey (here with CKA_TOKEN and CKA_PRIVATE too).
async fn import_aes(
    c: &mut CryptoClient<Channel>,
    value: &[u8],
    usage: &[(CkAttributeType, OneAttr)],
) -> Vec<u8> {
    let kek = c
        .generate_key(proto::GenerateKeyRequest {
            mech: mech(CKM_AES_KEY_GEN, None),
            template: t(&[(CKA_VALUE_LEN, int(32)), (CKA_UNWRAP, yes(true)), (CKA_TOKEN, yes(true))]),
        })
        .await
        .unwrap()
        .into_inner();
    let iv = [0x33; 16];
    let wrapped = c
        .encrypt_single(proto::EncryptSingleRequest {
            mech: mech(CKM_AES_CBC_PAD, Some(&iv)),
            plain: value.to_vec(),
            key: kek.key.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ciphered;
    let mut template = t(&[
        (CKA_CLASS, int(CKO_SECRET_KEY.0 as i64)),
        (CKA_KEY_TYPE, int(CKK_AES.0 as i64)),
        (CKA_VALUE_LEN, int(value.len() as i64)),
        (CKA_TOKEN, yes(true)),
        (CKA_PRIVATE, yes(true)),
    ]);
    template.extend(t(usage));
    let unwrapped = c
        .unwrap_key(proto::UnwrapKeyRequest {
            wrapped,
            mech: mech(CKM_AES_CBC_PAD, Some(&iv)),
            template,
            ke_k: kek.key,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    unwrapped.unwrapped_bytes
}

#[tokio::test]
async fn rsa_keys_from_integer_exponents_sign_for_an_independent_verifier() {
    let (mut c, server) = connect().await;
    // The Go examples' 65537 and the JS examples' 17 as AttributeI, and 65537 as bytes.
    for (exponent, shown) in
        [(int(65537), vec![1, 0, 1]), (int(17), vec![17]), (bytes(&[1, 0, 1]), vec![1, 0, 1])]
    {
        let pair = c
            .generate_key_pair(proto::GenerateKeyPairRequest {
                mech: mech(CKM_RSA_PKCS_KEY_PAIR_GEN, None),
                pub_key_template: t(&[
                    (CKA_MODULUS_BITS, int(1024)),
                    (CKA_PUBLIC_EXPONENT, exponent),
                    (CKA_VERIFY, yes(true)),
                    (CKA_ENCRYPT, yes(true)),
                    (CKA_EXTRACTABLE, yes(false)),
                ]),
                priv_key_template: t(&[
                    (CKA_PRIVATE, yes(true)),
                    (CKA_SENSITIVE, yes(true)),
                    (CKA_SIGN, yes(true)),
                    (CKA_EXTRACTABLE, yes(false)),
                ]),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(value_of(&mut c, &pair.pub_key_bytes, CKA_PUBLIC_EXPONENT).await, shown);
        let sig = c
            .sign_single(proto::SignSingleRequest {
                mech: mech(CKM_SHA256_RSA_PKCS, None),
                data: b"integer exponent".to_vec(),
                priv_key: pair.priv_key.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .signature;
        reference::verify(CKM_SHA256_RSA_PKCS, &pair.pub_key_bytes, b"integer exponent", &sig, None).unwrap();
        assert!(
            reference::verify(CKM_SHA256_RSA_PKCS, &pair.pub_key_bytes, b"integer exponenT", &sig, None)
                .is_err()
        );
    }
    server.abort();
}

#[tokio::test]
async fn a_256_bit_des3_key_is_an_ordinary_des3_key() {
    let (mut c, server) = connect().await;
    for len in [32, 24, 16] {
        let key = c
            .generate_key(proto::GenerateKeyRequest {
                mech: mech(CKM_DES3_KEY_GEN, None),
                template: t(&[
                    (CKA_VALUE_LEN, int(len)),
                    (CKA_WRAP, yes(true)),
                    (CKA_UNWRAP, yes(true)),
                    (CKA_ENCRYPT, yes(true)),
                    (CKA_DECRYPT, yes(true)),
                    (CKA_EXTRACTABLE, yes(true)),
                    (CKA_TOKEN, yes(true)),
                ]),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(value_of(&mut c, &key.key_bytes, CKA_VALUE_LEN).await, 24u64.to_be_bytes());
        let value = value_of(&mut c, &key.key_bytes, CKA_VALUE).await;
        assert_eq!(value.len(), 24);
        let iv = [5; 8];
        let ct = c
            .encrypt_single(proto::EncryptSingleRequest {
                mech: mech(CKM_DES3_CBC_PAD, Some(&iv)),
                plain: b"DES3 from a 256-bit request".to_vec(),
                key: key.key,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .ciphered;
        let plain = reference::cipher(CKM_DES3_CBC_PAD, &value, Some(&iv), &ct, false).unwrap();
        assert_eq!(plain, b"DES3 from a 256-bit request");
    }
    server.abort();
}

#[tokio::test]
async fn hmac_under_an_aes_key_matches_an_independent_hmac() {
    let (mut c, server) = connect().await;
    let value = [0x5a; 32];
    let key = import_aes(&mut c, &value, &[(CKA_SIGN, yes(true)), (CKA_VERIFY, yes(true))]).await;
    let data = b"This data needs to be signed";
    let want = reference::hmac(CKM_SHA256_HMAC, &value, data).unwrap();
    let single = c
        .sign_single(proto::SignSingleRequest {
            mech: mech(CKM_SHA256_HMAC, None),
            data: data.to_vec(),
            legacy_priv_key: key.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .signature;
    assert_eq!(single, want);
    let mut state = c
        .sign_init(proto::SignInitRequest {
            mech: mech(CKM_SHA256_HMAC, None),
            legacy_priv_key: key.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .state;
    for part in [&data[..9], &data[9..]] {
        state = c
            .sign_update(proto::SignUpdateRequest { state, data: part.to_vec() })
            .await
            .unwrap()
            .into_inner()
            .state;
    }
    let multi = c.sign_final(proto::SignFinalRequest { state }).await.unwrap().into_inner().signature;
    assert_eq!(multi, want);
    let mut bad = want.clone();
    bad[0] ^= 1;
    let refused = c
        .verify_single(proto::VerifySingleRequest {
            mech: mech(CKM_SHA256_HMAC, None),
            data: data.to_vec(),
            signature: bad,
            legacy_pub_key: key,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let CallFailure::Pkcs11(failure) = from_status(&refused) else { panic!("{refused:?}") };
    assert_eq!(failure.rv, CKR_SIGNATURE_INVALID);
    // Go clients print the status text, JS clients the Detail: both say the same.
    assert_eq!(refused.message(), failure.detail);
    assert!(failure.detail.starts_with("CKR_SIGNATURE_INVALID"), "{}", failure.detail);
    server.abort();
}

#[tokio::test]
async fn ecdh_with_the_peers_raw_point_agrees_with_an_independent_ecdh() {
    let (mut c, server) = connect().await;
    let params = Curve::P256.ec_params();
    let pair = c
        .generate_key_pair(proto::GenerateKeyPairRequest {
            mech: mech(CKM_EC_KEY_PAIR_GEN, None),
            pub_key_template: t(&[(CKA_EC_PARAMS, bytes(&params)), (CKA_EXTRACTABLE, yes(false))]),
            priv_key_template: t(&[
                (CKA_DERIVE, yes(true)),
                (CKA_EXTRACTABLE, yes(false)),
                (CKA_PRIVATE, yes(true)),
            ]),
        })
        .await
        .unwrap()
        .into_inner();
    let peer = reference::keypair(&params).unwrap();
    let derived = c
        .derive_key(proto::DeriveKeyRequest {
            mech: mech(CKM_ECDH1_DERIVE, Some(&peer.point)),
            template: t(&[
                (CKA_CLASS, int(CKO_SECRET_KEY.0 as i64)),
                (CKA_KEY_TYPE, int(CKK_AES.0 as i64)),
                (CKA_VALUE_LEN, int(16)),
                (CKA_ENCRYPT, yes(true)),
                (CKA_DECRYPT, yes(true)),
            ]),
            base_key: pair.priv_key,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let z = reference::ecdh(&peer.pkcs8, &pair.pub_key_bytes).unwrap();
    // The emulator's documented choice: the last CKA_VALUE_LEN bytes of Z.
    assert_eq!(value_of(&mut c, &derived.new_key_bytes, CKA_VALUE).await, z[z.len() - 16..]);
    server.abort();
}

#[tokio::test]
async fn reencrypt_single_moves_a_ciphertext_to_another_key() {
    let (mut c, server) = connect().await;
    let (a, b) = ([0x11; 32], [0x22; 16]);
    let key_a = import_aes(&mut c, &a, &[(CKA_DECRYPT, yes(true)), (CKA_ENCRYPT, yes(false))]).await;
    let key_b = import_aes(&mut c, &b, &[(CKA_ENCRYPT, yes(true))]).await;
    let (iv_a, iv_b) = ([1; 16], [2; 16]);
    let plain = b"Hello, this is a very long and creative message";
    let ct = reference::cipher(CKM_AES_CBC_PAD, &a, Some(&iv_a), plain, true).unwrap();
    let blob = |b: &[u8]| Some(proto::KeyBlob { key_blobs: vec![b.to_vec()], ..Default::default() });
    let re = c
        .reencrypt_single(proto::ReencryptSingleRequest {
            dec_mech: mech(CKM_AES_CBC_PAD, Some(&iv_a)),
            enc_mech: mech(CKM_AES_CBC_PAD, Some(&iv_b)),
            ciphered: ct,
            dec_key: blob(&key_a),
            enc_key: blob(&key_b),
        })
        .await
        .unwrap()
        .into_inner()
        .reciphered;
    assert_eq!(reference::cipher(CKM_AES_CBC_PAD, &b, Some(&iv_b), &re, false).unwrap(), plain);
    // Key "A" may decrypt but not encrypt: the encrypting half is refused for its usage.
    let refused = c
        .reencrypt_single(proto::ReencryptSingleRequest {
            dec_mech: mech(CKM_AES_CBC_PAD, Some(&iv_b)),
            enc_mech: mech(CKM_AES_CBC_PAD, Some(&iv_a)),
            ciphered: re,
            dec_key: blob(&key_b),
            enc_key: blob(&key_a),
        })
        .await
        .unwrap_err();
    let CallFailure::Pkcs11(failure) = from_status(&refused) else { panic!("{refused:?}") };
    assert_eq!(failure.rv, CKR_KEY_FUNCTION_NOT_PERMITTED, "{}", failure.detail);
    server.abort();
}
