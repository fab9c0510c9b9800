//! The fault-injecting `Crypto` service: every RPC goes to the real [`CryptoService`]
//! unchanged unless a fault in the set bends its request or its answer. Like `service.rs`
//! this file knows tonic; the engine below it does not.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prost::encoding;
use tonic::{Request, Response, Status};

use super::{Fault, FaultSet};
use crate::emulator::service::CryptoService;
use crate::pkcs11::*;
use crate::proto::crypto_server::Crypto;
use crate::proto::{self, attribute_value::OneAttr};
use crate::rpc::{Rpc, rpc_table};
use crate::status::{CallFailure, Grep11Failure, from_status, to_status};

type Reply<T> = Result<Response<T>, Status>;

/// One call in this many is refused by `transient-unavailable`.
const TRANSIENT_EVERY: u64 = 5;
/// The most refused requests remembered, so that a long run does not grow the set without
/// bound (after a clear, an old request could be refused once more).
const TRANSIENT_MEMORY: usize = 4096;
/// The upper bound of the `latency` fault's delay.
const MAX_LATENCY_MICROS: u64 = 5_000;

/// The real service with faults injected around it.
pub struct FaultyService {
    inner: CryptoService,
    faults: FaultSet,
    /// Calls seen, for `transient-unavailable`'s every-Nth rule.
    calls: AtomicU64,
    /// Fingerprints of requests `transient-unavailable` has refused (each is refused once).
    refused: Mutex<HashSet<u64>>,
    /// `wrap-returns-clear`: each clear value handed out as "wrapped", and the real wrapped
    /// bytes UnwrapKey gets in its place, so the round trip still works.
    clear_wraps: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

impl FaultyService {
    pub(crate) fn new(inner: CryptoService, faults: FaultSet) -> FaultyService {
        FaultyService {
            inner,
            faults,
            calls: AtomicU64::new(0),
            refused: Mutex::new(HashSet::new()),
            clear_wraps: Mutex::new(HashMap::new()),
        }
    }

    fn on(&self, fault: Fault) -> bool {
        self.faults.contains(fault)
    }

    /// The benign faults, before the real call: a delay, or a refusal that asks for a retry.
    async fn before<T: prost::Message>(&self, rpc: Rpc, request: &Request<T>) -> Result<(), Status> {
        if self.on(Fault::Latency) {
            let micros = rand::random_range(0..=MAX_LATENCY_MICROS);
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
        if self.on(Fault::TransientUnavailable) {
            self.transient(rpc, request.get_ref())?;
        }
        Ok(())
    }

    /// Refuses every `TRANSIENT_EVERY`th call, but never the same request twice: a client
    /// that retries as told always gets through on its second attempt, however calls from
    /// other cases interleave (identical requests from different cases included), so the
    /// fault is deterministic for a retrying client.
    fn transient<T: prost::Message>(&self, rpc: Rpc, message: &T) -> Result<(), Status> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if !n.is_multiple_of(TRANSIENT_EVERY) {
            return Ok(());
        }
        let fingerprint = fingerprint(rpc, &message.encode_to_vec());
        // A poisoned lock only means another call panicked mid-insert; the set is still a set.
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if refused.contains(&fingerprint) {
            return Ok(());
        }
        if refused.len() >= TRANSIENT_MEMORY {
            refused.clear();
        }
        refused.insert(fingerprint);
        Err(to_status(&Grep11Failure {
            rv: CKR_DEVICE_ERROR,
            detail: "injected fault transient-unavailable: busy, try again".into(),
            retry: true,
        }))
    }

    /// The error-code faults: a plausible but wrong `CK_RV` in place of the right one.
    /// `retry-every-refusal` marks the refusal Retry as well.
    fn recode(&self, status: Status) -> Status {
        let recoding =
            [Fault::KeyTypeAsMechanismInvalid, Fault::DataLenCodesSwapped, Fault::RetryEveryRefusal];
        if !recoding.iter().any(|f| self.on(*f)) {
            return status;
        }
        let CallFailure::Pkcs11(mut failure) = from_status(&status) else { return status };
        let rv = match failure.rv {
            CKR_KEY_TYPE_INCONSISTENT if self.on(Fault::KeyTypeAsMechanismInvalid) => CKR_MECHANISM_INVALID,
            CKR_DATA_LEN_RANGE if self.on(Fault::DataLenCodesSwapped) => CKR_ENCRYPTED_DATA_LEN_RANGE,
            CKR_ENCRYPTED_DATA_LEN_RANGE if self.on(Fault::DataLenCodesSwapped) => CKR_DATA_LEN_RANGE,
            other => other,
        };
        let retry = failure.retry || self.on(Fault::RetryEveryRefusal);
        if (rv, retry) == (failure.rv, failure.retry) {
            return status;
        }
        failure.rv = rv;
        failure.retry = retry;
        to_status(&failure)
    }

    /// `keys-in-bytes-only` and `keys-in-keyblob-only`: one wire generation's key fields
    /// of a response left empty.
    fn key_fields(&self, bytes: &mut Vec<u8>, blob: &mut Option<proto::KeyBlob>) {
        if self.on(Fault::KeysInBytesOnly) {
            *blob = None;
        }
        if self.on(Fault::KeysInKeyBlobOnly) {
            bytes.clear();
        }
    }

    fn answer<T>(&self, reply: Reply<T>) -> Reply<T> {
        reply.map_err(|s| self.recode(s))
    }

    /// `verify-accepts-corrupt`: CKR_SIGNATURE_INVALID becomes success.
    fn verdict<T: Default>(&self, reply: Reply<T>) -> Reply<T> {
        match reply {
            Err(status)
                if self.on(Fault::VerifyAcceptsCorrupt) && rv(&status) == Some(CKR_SIGNATURE_INVALID) =>
            {
                Ok(Response::new(T::default()))
            }
            other => self.answer(other),
        }
    }

    fn corrupt(&self, fault: Fault, bytes: &mut [u8]) {
        if self.on(fault) {
            flip(bytes);
        }
    }

    /// The state a `*Update` was given, kept when `state-does-not-advance` is on.
    fn stale_state(&self, state: &[u8]) -> Option<Vec<u8>> {
        self.on(Fault::StateDoesNotAdvance).then(|| state.to_vec())
    }
}

/// A request's identity for `transient-unavailable`, the same however its map fields are
/// ordered: protobuf encodes a map as one top-level record per entry in whatever order the
/// sender's hash map iterates, so the records' hashes are summed rather than chained. (Maps
/// nested inside a submessage keep their order; the requests' maps are all top-level.)
fn fingerprint(rpc: Rpc, encoded: &[u8]) -> u64 {
    let hash = |bytes: &[u8]| {
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        hasher.finish()
    };
    let mut sum = hash(rpc.name().as_bytes());
    let mut rest = encoded;
    while !rest.is_empty() {
        match record_len(rest) {
            Some(len) => {
                sum = sum.wrapping_add(hash(&rest[..len]));
                rest = &rest[len..];
            }
            // Not a record (truncated, or a malformed key): the rest in one piece.
            None => return sum.wrapping_add(hash(rest)),
        }
    }
    sum
}

/// The length of the protobuf record (key and value) at the start of `bytes`, by prost's
/// own decoding of the key and skipping of the value.
fn record_len(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes;
    let (tag, wire_type) = encoding::decode_key(&mut rest).ok()?;
    encoding::skip_field(wire_type, tag, &mut rest, encoding::DecodeContext::default()).ok()?;
    Some(bytes.len() - rest.len())
}

fn rv(status: &Status) -> Option<CkRv> {
    match from_status(status) {
        CallFailure::Pkcs11(f) => Some(f.rv),
        _ => None,
    }
}

/// Flips the lowest bit of the first byte (nothing to flip in an empty answer).
fn flip(bytes: &mut [u8]) {
    if let Some(b) = bytes.first_mut() {
        *b ^= 1;
    }
}

/// `cbc-pad-zero-padding`: the request rewritten to the unpadded mechanism over data padded
/// with zero bytes to the next whole block (a whole block of them when already aligned).
fn zero_padded(request: &mut proto::EncryptSingleRequest) {
    let Some(mech) = request.mech.as_mut() else { return };
    let (unpadded, block) = match CkMechanismType(mech.mechanism) {
        CKM_AES_CBC_PAD => (CKM_AES_CBC, 16),
        CKM_DES3_CBC_PAD => (CKM_DES3_CBC, 8),
        _ => return,
    };
    mech.mechanism = unpadded.0;
    let padded = (request.plain.len() / block + 1) * block;
    request.plain.resize(padded, 0);
}

/// The fault wrapper from the interface table: every RPC first meets the benign faults
/// (`before`), then goes to its function below if some fault bends it, else to the real
/// service unchanged.
macro_rules! faulty {
    ($($name:ident $method:ident ($req:ident -> $resp:ident) seed $seed:literal { $($row:tt)* })*) => {
        #[tonic::async_trait]
        impl Crypto for FaultyService {
            $(async fn $method(&self, r: Request<proto::$req>) -> Reply<proto::$resp> {
                self.before(Rpc::$name, &r).await?;
                route!($name self r $method)
            })*
        }
    };
}

/// The RPCs some fault bends, each by the function of its name below; the rest pass through.
macro_rules! route {
    (GenerateRandom $($call:tt)*) => { bent!($($call)*) };
    (Digest $($call:tt)*) => { bent!($($call)*) };
    (DigestUpdate $($call:tt)*) => { bent!($($call)*) };
    (DigestFinal $($call:tt)*) => { bent!($($call)*) };
    (DigestSingle $($call:tt)*) => { bent!($($call)*) };
    (EncryptUpdate $($call:tt)*) => { bent!($($call)*) };
    (DecryptUpdate $($call:tt)*) => { bent!($($call)*) };
    (Encrypt $($call:tt)*) => { bent!($($call)*) };
    (EncryptFinal $($call:tt)*) => { bent!($($call)*) };
    (EncryptSingle $($call:tt)*) => { bent!($($call)*) };
    (SignUpdate $($call:tt)*) => { bent!($($call)*) };
    (VerifyUpdate $($call:tt)*) => { bent!($($call)*) };
    (SignFinal $($call:tt)*) => { bent!($($call)*) };
    (VerifyFinal $($call:tt)*) => { bent!($($call)*) };
    (Sign $($call:tt)*) => { bent!($($call)*) };
    (Verify $($call:tt)*) => { bent!($($call)*) };
    (SignSingle $($call:tt)*) => { bent!($($call)*) };
    (VerifySingle $($call:tt)*) => { bent!($($call)*) };
    (GenerateKey $($call:tt)*) => { bent!($($call)*) };
    (GenerateKeyPair $($call:tt)*) => { bent!($($call)*) };
    (WrapKey $($call:tt)*) => { bent!($($call)*) };
    (UnwrapKey $($call:tt)*) => { bent!($($call)*) };
    (DeriveKey $($call:tt)*) => { bent!($($call)*) };
    (GetMechanismList $($call:tt)*) => { bent!($($call)*) };
    (GetMechanismInfo $($call:tt)*) => { bent!($($call)*) };
    (GetAttributeValue $($call:tt)*) => { bent!($($call)*) };
    (SetAttributeValue $($call:tt)*) => { bent!($($call)*) };
    ($other:ident $s:ident $r:ident $method:ident) => { $s.answer($s.inner.$method($r).await) };
}

macro_rules! bent {
    ($s:ident $r:ident $method:ident) => {
        $method($s, $r).await
    };
}

rpc_table!(faulty);

async fn generate_random(
    s: &FaultyService,
    r: Request<proto::GenerateRandomRequest>,
) -> Reply<proto::GenerateRandomResponse> {
    let mut out = s.answer(s.inner.generate_random(r).await)?;
    if s.on(Fault::RandomTruncated) {
        out.get_mut().rnd.pop();
    }
    if s.on(Fault::RandomDegenerate) {
        let rnd = &mut out.get_mut().rnd;
        for i in 16..rnd.len() {
            rnd[i] = rnd[i % 16];
        }
    }
    Ok(out)
}

async fn digest(s: &FaultyService, r: Request<proto::DigestRequest>) -> Reply<proto::DigestResponse> {
    let mut out = s.answer(s.inner.digest(r).await)?;
    s.corrupt(Fault::WrongDigest, &mut out.get_mut().digest);
    Ok(out)
}

async fn digest_update(
    s: &FaultyService,
    r: Request<proto::DigestUpdateRequest>,
) -> Reply<proto::DigestUpdateResponse> {
    let stale = s.stale_state(&r.get_ref().state);
    let mut out = s.answer(s.inner.digest_update(r).await)?;
    if let Some(state) = stale {
        out.get_mut().state = state;
    }
    Ok(out)
}

async fn digest_final(
    s: &FaultyService,
    r: Request<proto::DigestFinalRequest>,
) -> Reply<proto::DigestFinalResponse> {
    let mut out = s.answer(s.inner.digest_final(r).await)?;
    s.corrupt(Fault::WrongDigest, &mut out.get_mut().digest);
    Ok(out)
}

async fn digest_single(
    s: &FaultyService,
    r: Request<proto::DigestSingleRequest>,
) -> Reply<proto::DigestSingleResponse> {
    let mut out = s.answer(s.inner.digest_single(r).await)?;
    s.corrupt(Fault::WrongDigest, &mut out.get_mut().digest);
    Ok(out)
}

async fn encrypt_update(
    s: &FaultyService,
    r: Request<proto::EncryptUpdateRequest>,
) -> Reply<proto::EncryptUpdateResponse> {
    let stale = s.stale_state(&r.get_ref().state);
    let mut out = s.answer(s.inner.encrypt_update(r).await)?;
    if let Some(state) = stale {
        out.get_mut().state = state;
    }
    s.corrupt(Fault::CiphertextFlip, &mut out.get_mut().ciphered);
    Ok(out)
}

async fn decrypt_update(
    s: &FaultyService,
    r: Request<proto::DecryptUpdateRequest>,
) -> Reply<proto::DecryptUpdateResponse> {
    let stale = s.stale_state(&r.get_ref().state);
    let mut out = s.answer(s.inner.decrypt_update(r).await)?;
    if let Some(state) = stale {
        out.get_mut().state = state;
    }
    Ok(out)
}

async fn encrypt(s: &FaultyService, r: Request<proto::EncryptRequest>) -> Reply<proto::EncryptResponse> {
    let mut out = s.answer(s.inner.encrypt(r).await)?;
    s.corrupt(Fault::CiphertextFlip, &mut out.get_mut().ciphered);
    Ok(out)
}

async fn encrypt_final(
    s: &FaultyService,
    r: Request<proto::EncryptFinalRequest>,
) -> Reply<proto::EncryptFinalResponse> {
    let mut out = s.answer(s.inner.encrypt_final(r).await)?;
    s.corrupt(Fault::CiphertextFlip, &mut out.get_mut().ciphered);
    Ok(out)
}

async fn encrypt_single(
    s: &FaultyService,
    mut r: Request<proto::EncryptSingleRequest>,
) -> Reply<proto::EncryptSingleResponse> {
    if s.on(Fault::CbcPadZeroPadding) {
        zero_padded(r.get_mut());
    }
    let mut out = s.answer(s.inner.encrypt_single(r).await)?;
    s.corrupt(Fault::CiphertextFlip, &mut out.get_mut().ciphered);
    Ok(out)
}

async fn sign_update(
    s: &FaultyService,
    r: Request<proto::SignUpdateRequest>,
) -> Reply<proto::SignUpdateResponse> {
    let stale = s.stale_state(&r.get_ref().state);
    let mut out = s.answer(s.inner.sign_update(r).await)?;
    if let Some(state) = stale {
        out.get_mut().state = state;
    }
    Ok(out)
}

async fn verify_update(
    s: &FaultyService,
    r: Request<proto::VerifyUpdateRequest>,
) -> Reply<proto::VerifyUpdateResponse> {
    let stale = s.stale_state(&r.get_ref().state);
    let mut out = s.answer(s.inner.verify_update(r).await)?;
    if let Some(state) = stale {
        out.get_mut().state = state;
    }
    Ok(out)
}

async fn sign_final(
    s: &FaultyService,
    r: Request<proto::SignFinalRequest>,
) -> Reply<proto::SignFinalResponse> {
    let mut out = s.answer(s.inner.sign_final(r).await)?;
    s.corrupt(Fault::BadSignature, &mut out.get_mut().signature);
    Ok(out)
}

async fn verify_final(
    s: &FaultyService,
    r: Request<proto::VerifyFinalRequest>,
) -> Reply<proto::VerifyFinalResponse> {
    s.verdict(s.inner.verify_final(r).await)
}

async fn sign(s: &FaultyService, r: Request<proto::SignRequest>) -> Reply<proto::SignResponse> {
    let mut out = s.answer(s.inner.sign(r).await)?;
    s.corrupt(Fault::BadSignature, &mut out.get_mut().signature);
    Ok(out)
}

async fn verify(s: &FaultyService, r: Request<proto::VerifyRequest>) -> Reply<proto::VerifyResponse> {
    s.verdict(s.inner.verify(r).await)
}

async fn sign_single(
    s: &FaultyService,
    r: Request<proto::SignSingleRequest>,
) -> Reply<proto::SignSingleResponse> {
    let mut out = s.answer(s.inner.sign_single(r).await)?;
    s.corrupt(Fault::BadSignature, &mut out.get_mut().signature);
    Ok(out)
}

async fn verify_single(
    s: &FaultyService,
    r: Request<proto::VerifySingleRequest>,
) -> Reply<proto::VerifySingleResponse> {
    s.verdict(s.inner.verify_single(r).await)
}

async fn generate_key(
    s: &FaultyService,
    r: Request<proto::GenerateKeyRequest>,
) -> Reply<proto::GenerateKeyResponse> {
    let mut out = s.answer(s.inner.generate_key(r).await)?;
    s.corrupt(Fault::WrongChecksum, &mut out.get_mut().check_sum);
    let o = out.get_mut();
    s.key_fields(&mut o.key_bytes, &mut o.key);
    Ok(out)
}

async fn generate_key_pair(
    s: &FaultyService,
    r: Request<proto::GenerateKeyPairRequest>,
) -> Reply<proto::GenerateKeyPairResponse> {
    let mut out = s.answer(s.inner.generate_key_pair(r).await)?;
    let o = out.get_mut();
    s.key_fields(&mut o.pub_key_bytes, &mut o.pub_key);
    s.key_fields(&mut o.priv_key_bytes, &mut o.priv_key);
    Ok(out)
}

async fn wrap_key(s: &FaultyService, r: Request<proto::WrapKeyRequest>) -> Reply<proto::WrapKeyResponse> {
    // Either wire generation's field, as the service reads them.
    let key = s.on(Fault::WrapReturnsClear).then(|| {
        let req = r.get_ref();
        req.key.as_ref().and_then(|k| k.key_blobs.first().cloned()).unwrap_or_else(|| req.legacy_key.clone())
    });
    let mut out = s.answer(s.inner.wrap_key(r).await)?;
    if let Some(key) = key {
        // The key's value, where the key has one that can be read (a secret key).
        let read = s
            .inner
            .get_attribute_value(Request::new(proto::GetAttributeValueRequest {
                object: key,
                attributes_bytes: HashMap::from([(CKA_VALUE.0, Vec::new())]),
                attributes: HashMap::new(),
            }))
            .await;
        let value = read.ok().and_then(|a| a.into_inner().attributes_bytes.remove(&CKA_VALUE.0));
        if let Some(value) = value {
            let wrapped = std::mem::replace(&mut out.get_mut().wrapped, value.clone());
            s.clear_wraps.lock().unwrap_or_else(|p| p.into_inner()).insert(value, wrapped);
        }
    }
    Ok(out)
}

async fn unwrap_key(
    s: &FaultyService,
    mut r: Request<proto::UnwrapKeyRequest>,
) -> Reply<proto::UnwrapKeyResponse> {
    if s.on(Fault::WrapReturnsClear) {
        let known =
            s.clear_wraps.lock().unwrap_or_else(|p| p.into_inner()).get(&r.get_ref().wrapped).cloned();
        if let Some(wrapped) = known {
            r.get_mut().wrapped = wrapped;
        }
    }
    if s.on(Fault::UnwrapIgnoresTemplate) {
        r.get_mut().template.retain(|_, v| !matches!(v.one_attr, Some(OneAttr::AttributeTf(_))));
    }
    let mut out = s.answer(s.inner.unwrap_key(r).await)?;
    s.corrupt(Fault::WrongChecksum, &mut out.get_mut().check_sum);
    let o = out.get_mut();
    s.key_fields(&mut o.unwrapped_bytes, &mut o.unwrapped);
    Ok(out)
}

async fn derive_key(
    s: &FaultyService,
    mut r: Request<proto::DeriveKeyRequest>,
) -> Reply<proto::DeriveKeyResponse> {
    if s.on(Fault::EcdhKdfIgnoresSharedData) {
        let parameter = r.get_mut().mech.as_mut().and_then(|m| m.parameter.as_mut());
        if let Some(proto::mechanism::Parameter::Ecdh1DeriveParameter(p)) = parameter {
            p.shared_data.clear();
        }
    }
    let mut out = s.answer(s.inner.derive_key(r).await)?;
    s.corrupt(Fault::WrongChecksum, &mut out.get_mut().check_sum);
    let o = out.get_mut();
    s.key_fields(&mut o.new_key_bytes, &mut o.new_key);
    Ok(out)
}

async fn get_mechanism_list(
    s: &FaultyService,
    r: Request<proto::GetMechanismListRequest>,
) -> Reply<proto::GetMechanismListResponse> {
    let mut out = s.answer(s.inner.get_mechanism_list(r).await)?;
    if s.on(Fault::MechanismListDrops) {
        out.get_mut().mechs.retain(|&m| m != CKM_SHA256.0);
    }
    Ok(out)
}

async fn get_mechanism_info(
    s: &FaultyService,
    r: Request<proto::GetMechanismInfoRequest>,
) -> Reply<proto::GetMechanismInfoResponse> {
    let mut out = s.answer(s.inner.get_mechanism_info(r).await)?;
    if let (true, Some(info)) = (s.on(Fault::MechanismInfoSwapped), out.get_mut().mech_info.as_mut()) {
        std::mem::swap(&mut info.min_key_size, &mut info.max_key_size);
    }
    Ok(out)
}

async fn get_attribute_value(
    s: &FaultyService,
    r: Request<proto::GetAttributeValueRequest>,
) -> Reply<proto::GetAttributeValueResponse> {
    let mut out = s.answer(s.inner.get_attribute_value(r).await)?;
    if s.on(Fault::EcPointDisagrees) {
        let answer = out.get_mut();
        let last = |point: &mut Vec<u8>| {
            if let Some(b) = point.last_mut() {
                *b ^= 1;
            }
        };
        if let Some(point) = answer.attributes_bytes.get_mut(&CKA_EC_POINT.0) {
            last(point);
        }
        if let Some(proto::AttributeValue { one_attr: Some(OneAttr::AttributeB(point)) }) =
            answer.attributes.get_mut(&CKA_EC_POINT.0)
        {
            last(point);
        }
    }
    Ok(out)
}

async fn set_attribute_value(
    s: &FaultyService,
    r: Request<proto::SetAttributeValueRequest>,
) -> Reply<proto::SetAttributeValueResponse> {
    let given = s.on(Fault::SetAttributeIgnored).then(|| r.get_ref().object.clone());
    let mut out = s.answer(s.inner.set_attribute_value(r).await)?;
    if let Some(object) = given {
        out.get_mut().object = object;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::emulator::engine::Engine;

    fn service(faults: &[Fault]) -> FaultyService {
        let inner = CryptoService::new(Arc::new(Engine::new(&[5; 32])));
        FaultyService::new(inner, faults.iter().copied().collect())
    }

    fn random(len: u64) -> Request<proto::GenerateRandomRequest> {
        Request::new(proto::GenerateRandomRequest { len })
    }

    #[tokio::test]
    async fn transient_refuses_every_fifth_call_but_never_one_request_twice() {
        let s = service(&[Fault::TransientUnavailable]);
        for n in 1..=4 {
            assert!(s.generate_random(random(n)).await.is_ok(), "call {n}");
        }
        let refused = s.generate_random(random(5)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable);
        match from_status(&refused) {
            CallFailure::Pkcs11(f) => assert!(f.retry && f.rv == CKR_DEVICE_ERROR, "{f:?}"),
            other => panic!("no Grep11Error: {other:?}"),
        }
        for n in 6..=9 {
            assert!(s.generate_random(random(n)).await.is_ok(), "call {n}");
        }
        // Call 10 is due a refusal, but it repeats the request refused at call 5.
        assert!(s.generate_random(random(5)).await.is_ok());
        for n in 11..=14 {
            assert!(s.generate_random(random(n)).await.is_ok(), "call {n}");
        }
        assert!(s.generate_random(random(15)).await.is_err(), "a new request at call 15");
    }

    #[test]
    fn fingerprints_ignore_map_order_but_not_content() {
        use prost::Message;
        let template = |pairs: &[(u64, bool)]| {
            let mut map = std::collections::HashMap::new();
            for &(a, b) in pairs {
                map.insert(a, proto::AttributeValue { one_attr: Some(OneAttr::AttributeTf(b)) });
            }
            proto::UnwrapKeyRequest { wrapped: vec![1, 2, 3], template: map, ..Default::default() }
        };
        let pairs: Vec<(u64, bool)> = (0..32).map(|a| (a, a % 3 == 0)).collect();
        let reversed: Vec<(u64, bool)> = pairs.iter().rev().copied().collect();
        let a = fingerprint(Rpc::UnwrapKey, &template(&pairs).encode_to_vec());
        // Each HashMap has its own random iteration order; the fingerprint must not care.
        for _ in 0..8 {
            assert_eq!(a, fingerprint(Rpc::UnwrapKey, &template(&reversed).encode_to_vec()));
        }
        let mut changed = pairs.clone();
        changed[5].1 = !changed[5].1;
        assert_ne!(a, fingerprint(Rpc::UnwrapKey, &template(&changed).encode_to_vec()));
        assert_ne!(a, fingerprint(Rpc::GenerateKey, &template(&pairs).encode_to_vec()));
        // Truncated or odd input still gives an answer, never a panic.
        let bytes = template(&pairs).encode_to_vec();
        for cut in 0..bytes.len() {
            fingerprint(Rpc::UnwrapKey, &bytes[..cut]);
        }
        fingerprint(Rpc::UnwrapKey, &[0x0b, 0xff, 0xff]);
    }

    #[tokio::test]
    async fn error_codes_are_recoded_only_for_their_fault() {
        let s = service(&[Fault::DataLenCodesSwapped]);
        let status =
            to_status(&Grep11Failure { rv: CKR_DATA_LEN_RANGE, detail: String::new(), retry: false });
        assert_eq!(rv(&s.recode(status)), Some(CKR_ENCRYPTED_DATA_LEN_RANGE));
        let status =
            to_status(&Grep11Failure { rv: CKR_KEY_TYPE_INCONSISTENT, detail: String::new(), retry: false });
        assert_eq!(rv(&s.recode(status)), Some(CKR_KEY_TYPE_INCONSISTENT));
    }

    #[tokio::test]
    async fn truncation_and_padding_faults_change_the_answer() {
        let s = service(&[Fault::RandomTruncated]);
        assert_eq!(s.generate_random(random(32)).await.unwrap().into_inner().rnd.len(), 31);
        let mut request = proto::EncryptSingleRequest {
            mech: Some(proto::Mechanism { mechanism: CKM_AES_CBC_PAD.0, parameter: None }),
            plain: vec![7; 16],
            ..Default::default()
        };
        zero_padded(&mut request);
        assert_eq!(request.mech.map(|m| m.mechanism), Some(CKM_AES_CBC.0));
        assert_eq!(request.plain, [[7; 16], [0; 16]].concat());
    }
}
