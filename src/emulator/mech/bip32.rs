//! Hierarchical deterministic key derivation for CKM_IBM_BTC_DERIVE: BIP-32 on secp256k1
//! and SLIP-0010 on secp256k1, NIST P-256 and Ed25519.
//!
//! The HMAC-SHA512 is [`super::hmac`]; the scalar and point arithmetic is the RustCrypto
//! curve crates' (k256, p256), so this module only arranges the steps of the two documents.
//! Private keys are 32-byte big-endian scalars (Ed25519: the RFC 8032 seed, which is what
//! SLIP-0010 derives), public keys the points of [`super::ec`].
//!
//! BIP-32 and SLIP-0010 differ only where a derived value is not a valid key (a chance of
//! about 2^-127 on secp256k1, 2^-32 on P-256): BIP-32 gives up (the caller moves to the next
//! index, or picks another seed), SLIP-0010 hashes again.

use ecdsa::elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use ecdsa::elliptic_curve::{
    AffinePoint, CurveArithmetic, CurveGroup, Field, FieldBytes, FieldBytesSize, Group, PrimeField,
    PublicKey, Scalar, SecretKey,
};
use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::hmac;
use crate::emulator::error::{Error, Result};
use crate::pkcs11::Curve;
use crate::pkcs11::ibm::CKM_IBM_BTC_DERIVE;

/// Child indexes from here on are hardened.
pub const HARDENED: u32 = 0x8000_0000;

/// BIP-32 and SLIP-0010 allow seeds of 128 to 512 bits.
pub const SEED_MIN: usize = 16;
pub const SEED_MAX: usize = 64;

/// Length of a chain code.
pub const CHAIN_CODE_LEN: usize = 32;

/// Which document the derivation follows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scheme {
    Bip32,
    Slip10,
}

/// What one derivation step makes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    /// Master key and chain code from a seed.
    Master,
    PrivateToPrivate,
    /// The public half of the private child (N(CKDpriv) in BIP-32's words).
    PrivateToPublic,
    PublicToPublic,
}

/// The scheme and step a `BTCDeriveParm.Type` value names (the wire's enum numbers);
/// `None` for 0 (unused) and unknown values.
pub fn kind(value: u64) -> Option<(Scheme, Step)> {
    let step = match value {
        1 | 5 => Step::PrivateToPrivate,
        2 | 6 => Step::PrivateToPublic,
        3 | 7 => Step::PublicToPublic,
        4 | 8 => Step::Master,
        _ => return None,
    };
    Some((if value <= 4 { Scheme::Bip32 } else { Scheme::Slip10 }, step))
}

/// A curve with HD derivation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HdCurve {
    Secp256k1,
    P256,
    Ed25519,
}

impl HdCurve {
    /// The curve `scheme` derives on: BIP-32 is defined on secp256k1 alone.
    pub fn of(curve: Curve, scheme: Scheme) -> Result<HdCurve> {
        let hd = match curve {
            Curve::SECP256K1 => HdCurve::Secp256k1,
            Curve::P256 if scheme == Scheme::Slip10 => HdCurve::P256,
            Curve::ED25519 if scheme == Scheme::Slip10 => HdCurve::Ed25519,
            _ if scheme == Scheme::Bip32 => {
                return Err(Error::TemplateInconsistent {
                    attr: crate::pkcs11::CKA_EC_PARAMS,
                    reason: "BIP-32 derives secp256k1 keys only",
                });
            }
            _ => return Err(Error::CurveNotSupported),
        };
        Ok(hd)
    }

    /// The HMAC key of master key generation (SLIP-0010, "Master key generation").
    fn seed_key(self) -> &'static [u8] {
        match self {
            HdCurve::Secp256k1 => b"Bitcoin seed",
            HdCurve::P256 => b"Nist256p1 seed",
            HdCurve::Ed25519 => b"ed25519 seed",
        }
    }
}

/// A private key and its chain code.
pub struct ExtendedPrivate {
    pub key: Zeroizing<Vec<u8>>,
    pub chain_code: Vec<u8>,
}

/// A public key (uncompressed SEC1 point) and its chain code.
pub struct ExtendedPublic {
    pub point: Vec<u8>,
    pub chain_code: Vec<u8>,
}

fn param_invalid(reason: &'static str) -> Error {
    Error::MechanismParamInvalid { mech: CKM_IBM_BTC_DERIVE, reason }
}

/// BIP-32's answer when a derived value is not a key: the caller must use the next index.
fn no_key_at_index() -> Error {
    param_invalid("BIP-32: this child index yields no valid key; use the next index")
}

fn chain_code(chain: &[u8]) -> Result<&[u8]> {
    if chain.len() == CHAIN_CODE_LEN { Ok(chain) } else { Err(param_invalid("ChainCode must be 32 bytes")) }
}

/// I = HMAC-SHA512(key, data), split into its halves.
fn hmac_halves(key: &[u8], data: &[u8]) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut i = hmac::mac(HashAlg::Sha512, key, data)?;
    let right = i.split_off(32);
    Ok((Zeroizing::new(i), right))
}

/// The master key of `seed` (a seed outside 16..64 bytes is CKR_KEY_SIZE_RANGE).
pub fn master(curve: HdCurve, scheme: Scheme, seed: &[u8]) -> Result<ExtendedPrivate> {
    if !(SEED_MIN..=SEED_MAX).contains(&seed.len()) {
        return Err(Error::KeySizeRange(seed.len() as u64));
    }
    let retry = scheme == Scheme::Slip10;
    match curve {
        HdCurve::Secp256k1 => master_weierstrass::<k256::Secp256k1>(curve.seed_key(), seed, retry),
        HdCurve::P256 => master_weierstrass::<p256::NistP256>(curve.seed_key(), seed, retry),
        HdCurve::Ed25519 => {
            // Every 32-byte string is an Ed25519 private key.
            let (key, chain_code) = hmac_halves(curve.seed_key(), seed)?;
            Ok(ExtendedPrivate { key, chain_code })
        }
    }
}

/// CKDpriv: the private child `index` of a private parent.
pub fn private_child(
    curve: HdCurve,
    scheme: Scheme,
    parent: &[u8],
    chain: &[u8],
    index: u32,
) -> Result<ExtendedPrivate> {
    let chain = chain_code(chain)?;
    let retry = scheme == Scheme::Slip10;
    match curve {
        HdCurve::Secp256k1 => private_child_weierstrass::<k256::Secp256k1>(parent, chain, index, retry),
        HdCurve::P256 => private_child_weierstrass::<p256::NistP256>(parent, chain, index, retry),
        HdCurve::Ed25519 if index < HARDENED => {
            Err(param_invalid("SLIP-0010 derives only hardened Ed25519 children"))
        }
        HdCurve::Ed25519 => {
            let data = Zeroizing::new([&[0u8][..], parent, &index.to_be_bytes()].concat());
            let (key, chain_code) = hmac_halves(chain, &data)?;
            Ok(ExtendedPrivate { key, chain_code })
        }
    }
}

/// CKDpub: the public child `index` of a public parent; hardened children and Ed25519
/// have none.
pub fn public_child(
    curve: HdCurve,
    scheme: Scheme,
    parent: &[u8],
    chain: &[u8],
    index: u32,
) -> Result<ExtendedPublic> {
    let chain = chain_code(chain)?;
    if index >= HARDENED {
        return Err(param_invalid("a public key has no hardened children"));
    }
    let retry = scheme == Scheme::Slip10;
    match curve {
        HdCurve::Secp256k1 => public_child_weierstrass::<k256::Secp256k1>(parent, chain, index, retry),
        HdCurve::P256 => public_child_weierstrass::<p256::NistP256>(parent, chain, index, retry),
        HdCurve::Ed25519 => Err(param_invalid("SLIP-0010 has no public derivation for Ed25519")),
    }
}

/// parse256(IL) as a scalar, if it is below the group order.
fn scalar<C: CurveArithmetic>(bytes: &[u8]) -> Option<Scalar<C>> {
    let repr = FieldBytes::<C>::try_from(bytes).ok()?;
    Option::from(Scalar::<C>::from_repr(repr))
}

fn master_weierstrass<C>(key: &[u8], seed: &[u8], retry: bool) -> Result<ExtendedPrivate>
where
    C: CurveArithmetic,
{
    let mut data = Zeroizing::new(seed.to_vec());
    loop {
        let (il, ir) = hmac_halves(key, &data)?;
        match scalar::<C>(&il).filter(|s| !bool::from(s.is_zero())) {
            Some(_) => return Ok(ExtendedPrivate { key: il, chain_code: ir }),
            // SLIP-0010: repeat with S := I.
            None if retry => data = Zeroizing::new([&il[..], &ir[..]].concat()),
            None => return Err(Error::General("the seed yields no valid BIP-32 master key")),
        }
    }
}

fn private_child_weierstrass<C>(
    parent: &[u8],
    chain: &[u8],
    index: u32,
    retry: bool,
) -> Result<ExtendedPrivate>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let parent = SecretKey::<C>::from_slice(parent).map_err(|_| Error::KeyHandleInvalid)?;
    let index_bytes = index.to_be_bytes();
    let mut data = Zeroizing::new(if index >= HARDENED {
        [&[0u8][..], &parent.to_bytes(), &index_bytes].concat()
    } else {
        [parent.public_key().as_affine().to_sec1_point(true).as_bytes(), &index_bytes].concat()
    });
    let k = parent.to_nonzero_scalar();
    loop {
        let (il, ir) = hmac_halves(chain, &data)?;
        let child = scalar::<C>(&il).map(|il| il + *k).filter(|s| !bool::from(s.is_zero()));
        match child {
            Some(s) => {
                return Ok(ExtendedPrivate { key: Zeroizing::new(s.to_repr().to_vec()), chain_code: ir });
            }
            // SLIP-0010: I = HMAC(c, 0x01 || IR || ser32(i)) and try again.
            None if retry => data = Zeroizing::new([&[1u8][..], &ir, &index_bytes].concat()),
            None => return Err(no_key_at_index()),
        }
    }
}

fn public_child_weierstrass<C>(parent: &[u8], chain: &[u8], index: u32, retry: bool) -> Result<ExtendedPublic>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let parent = PublicKey::<C>::from_sec1_bytes(parent).map_err(|_| Error::KeyHandleInvalid)?;
    let index_bytes = index.to_be_bytes();
    let mut data = [parent.as_affine().to_sec1_point(true).as_bytes(), &index_bytes].concat();
    loop {
        let (il, ir) = hmac_halves(chain, &data)?;
        let child = scalar::<C>(&il).and_then(|il| {
            let point = C::ProjectivePoint::generator() * il + parent.to_projective();
            PublicKey::<C>::from_affine(point.to_affine()).ok()
        });
        match child {
            Some(pk) => {
                let point = pk.as_affine().to_sec1_point(false).as_bytes().to_vec();
                return Ok(ExtendedPublic { point, chain_code: ir });
            }
            None if retry => data = [&[1u8][..], &ir, &index_bytes].concat(),
            None => return Err(no_key_at_index()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::mech::ec::{self, CurveOps};

    /// One node of a published vector: chain code, private key, compressed public key
    /// (SLIP-0010 prints Ed25519 public keys with a 0x00 prefix).
    struct Node {
        path: &'static [u32],
        chain: &'static str,
        private: &'static str,
        public: &'static str,
    }

    const H: u32 = HARDENED;

    fn ops(curve: HdCurve) -> &'static dyn CurveOps {
        let c = match curve {
            HdCurve::Secp256k1 => Curve::SECP256K1,
            HdCurve::P256 => Curve::P256,
            HdCurve::Ed25519 => Curve::ED25519,
        };
        ec::by_params(&c.ec_params()).unwrap()
    }

    fn compressed(curve: HdCurve, point: &[u8]) -> String {
        match curve {
            HdCurve::Ed25519 => format!("00{}", hex::encode(point)),
            HdCurve::Secp256k1 => {
                let pk = k256::PublicKey::from_sec1_bytes(point).unwrap();
                hex::encode(pk.as_affine().to_sec1_point(true).as_bytes())
            }
            HdCurve::P256 => {
                let pk = p256::PublicKey::from_sec1_bytes(point).unwrap();
                hex::encode(pk.as_affine().to_sec1_point(true).as_bytes())
            }
        }
    }

    /// Walks every node's path from the seed, privately, and where the step is not
    /// hardened also publicly from the parent's public key; all must agree with the vector.
    fn check(curve: HdCurve, scheme: Scheme, seed: &str, nodes: &[Node]) {
        let ops = ops(curve);
        let seed = hex::decode(seed).unwrap();
        for node in nodes {
            let mut x = master(curve, scheme, &seed).unwrap();
            let mut public_walk = None;
            for &i in node.path {
                let parent_point = ops.public_point(&x.key).unwrap();
                if i < HARDENED && curve != HdCurve::Ed25519 {
                    public_walk = Some(public_child(curve, scheme, &parent_point, &x.chain_code, i).unwrap());
                }
                x = private_child(curve, scheme, &x.key, &x.chain_code, i).unwrap();
            }
            assert_eq!(hex::encode(&x.chain_code), node.chain, "{curve:?} {:?} chain code", node.path);
            assert_eq!(hex::encode(&*x.key), node.private, "{curve:?} {:?} private", node.path);
            let point = ops.public_point(&x.key).unwrap();
            assert_eq!(compressed(curve, &point), node.public, "{curve:?} {:?} public", node.path);
            if let Some(p) = public_walk.filter(|_| node.path.last().is_some_and(|&i| i < H)) {
                assert_eq!((p.point, hex::encode(p.chain_code)), (point, node.chain.to_owned()));
            }
        }
    }

    /// BIP-32 test vector 1 (= SLIP-0010 test vector 1 for secp256k1).
    #[test]
    fn bip32_test_vector_1() {
        check(
            HdCurve::Secp256k1,
            Scheme::Bip32,
            "000102030405060708090a0b0c0d0e0f",
            &[
                Node {
                    path: &[],
                    chain: "873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508",
                    private: "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35",
                    public: "0339a36013301597daef41fbe593a02cc513d0b55527ec2df1050e2e8ff49c85c2",
                },
                Node {
                    path: &[H],
                    chain: "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141",
                    private: "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea",
                    public: "035a784662a4a20a65bf6aab9ae98a6c068a81c52e4b032c0fb5400c706cfccc56",
                },
                Node {
                    path: &[H, 1],
                    chain: "2a7857631386ba23dacac34180dd1983734e444fdbf774041578e9b6adb37c19",
                    private: "3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368",
                    public: "03501e454bf00751f24b1b489aa925215d66af2234e3891c3b21a52bedb3cd711c",
                },
                Node {
                    path: &[H, 1, H + 2],
                    chain: "04466b9cc8e161e966409ca52986c584f07e9dc81f735db683c3ff6ec7b1503f",
                    private: "cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca",
                    public: "0357bfe1e341d01c69fe5654309956cbea516822fba8a601743a012a7896ee8dc2",
                },
                Node {
                    path: &[H, 1, H + 2, 2],
                    chain: "cfb71883f01676f587d023cc53a35bc7f88f724b1f8c2892ac1275ac822a3edd",
                    private: "0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4",
                    public: "02e8445082a72f29b75ca48748a914df60622a609cacfce8ed0e35804560741d29",
                },
                Node {
                    path: &[H, 1, H + 2, 2, 1_000_000_000],
                    chain: "c783e67b921d2beb8f6b389cc646d7263b4145701dadd2161548a8b078e65e9e",
                    private: "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8",
                    public: "022a471424da5e657499d1ff51cb43c47481a03b1e77f951fe64cec9f5a48f7011",
                },
            ],
        );
    }

    /// BIP-32 test vector 2 (= SLIP-0010 test vector 2 for secp256k1).
    #[test]
    fn bip32_test_vector_2() {
        let seed = concat!(
            "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a2",
            "9f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542"
        );
        check(
            HdCurve::Secp256k1,
            Scheme::Bip32,
            seed,
            &[
                Node {
                    path: &[],
                    chain: "60499f801b896d83179a4374aeb7822aaeaceaa0db1f85ee3e904c4defbd9689",
                    private: "4b03d6fc340455b363f51020ad3ecca4f0850280cf436c70c727923f6db46c3e",
                    public: "03cbcaa9c98c877a26977d00825c956a238e8dddfbd322cce4f74b0b5bd6ace4a7",
                },
                Node {
                    path: &[0],
                    chain: "f0909affaa7ee7abe5dd4e100598d4dc53cd709d5a5c2cac40e7412f232f7c9c",
                    private: "abe74a98f6c7eabee0428f53798f0ab8aa1bd37873999041703c742f15ac7e1e",
                    public: "02fc9e5af0ac8d9b3cecfe2a888e2117ba3d089d8585886c9c826b6b22a98d12ea",
                },
                Node {
                    path: &[0, H + 2_147_483_647],
                    chain: "be17a268474a6bb9c61e1d720cf6215e2a88c5406c4aee7b38547f585c9a37d9",
                    private: "877c779ad9687164e9c2f4f0f4ff0340814392330693ce95a58fe18fd52e6e93",
                    public: "03c01e7425647bdefa82b12d9bad5e3e6865bee0502694b94ca58b666abc0a5c3b",
                },
                Node {
                    path: &[0, H + 2_147_483_647, 1],
                    chain: "f366f48f1ea9f2d1d3fe958c95ca84ea18e4c4ddb9366c336c927eb246fb38cb",
                    private: "704addf544a06e5ee4bea37098463c23613da32020d604506da8c0518e1da4b7",
                    public: "03a7d1d856deb74c508e05031f9895dab54626251b3806e16b4bd12e781a7df5b9",
                },
                Node {
                    path: &[0, H + 2_147_483_647, 1, H + 2_147_483_646],
                    chain: "637807030d55d01f9a0cb3a7839515d796bd07706386a6eddf06cc29a65a0e29",
                    private: "f1c7c871a54a804afe328b4c83a1c33b8e5ff48f5087273f04efa83b247d6a2d",
                    public: "02d2b36900396c9282fa14628566582f206a5dd0bcc8d5e892611806cafb0301f0",
                },
                Node {
                    path: &[0, H + 2_147_483_647, 1, H + 2_147_483_646, 2],
                    chain: "9452b549be8cea3ecb7a84bec10dcfd94afe4d129ebfd3b3cb58eedf394ed271",
                    private: "bb7d39bdb83ecf58f2fd82b6d918341cbef428661ef01ab97c28a4842125ac23",
                    public: "024d902e1a2fc7a8755ab5b694c575fce742c48d9ff192e63df5193e4c7afe1f9c",
                },
            ],
        );
    }

    /// BIP-32 test vector 3 (retention of leading zeros): the chain code and key fields of
    /// its published extended keys for m and m/0H, decoded from Base58Check.
    #[test]
    fn bip32_test_vector_3() {
        let seed = concat!(
            "4b381541583be4423346c643850da4b320e46a87ae3d2a4e6da11eba819cd4ac",
            "ba45d239319ac14f863b8d5ab5a0d0c64d2e8a1e7d1457df2e5a3c51c73235be"
        );
        check(
            HdCurve::Secp256k1,
            Scheme::Bip32,
            seed,
            &[
                Node {
                    path: &[],
                    chain: "01d28a3e53cffa419ec122c968b3259e16b65076495494d97cae10bbfec3c36f",
                    private: "00ddb80b067e0d4993197fe10f2657a844a384589847602d56f0c629c81aae32",
                    public: "03683af1ba5743bdfc798cf814efeeab2735ec52d95eced528e692b8e34c4e5669",
                },
                Node {
                    path: &[H],
                    chain: "e5fea12a97b927fc9dc3d2cb0d1ea1cf50aa5a1fdc1f933e8906bb38df3377bd",
                    private: "491f7a2eebc7b57028e0d3faa0acda02e75c33b03c48fb288c41e2ea44e1daef",
                    public: "026557fdda1d5d43d79611f784780471f086d58e8126b8c40acb82272a7712e7f2",
                },
            ],
        );
    }

    /// SLIP-0010 test vector 1 for nist256p1.
    #[test]
    fn slip10_test_vector_1_nist256p1() {
        check(
            HdCurve::P256,
            Scheme::Slip10,
            "000102030405060708090a0b0c0d0e0f",
            &[
                Node {
                    path: &[],
                    chain: "beeb672fe4621673f722f38529c07392fecaa61015c80c34f29ce8b41b3cb6ea",
                    private: "612091aaa12e22dd2abef664f8a01a82cae99ad7441b7ef8110424915c268bc2",
                    public: "0266874dc6ade47b3ecd096745ca09bcd29638dd52c2c12117b11ed3e458cfa9e8",
                },
                Node {
                    path: &[H],
                    chain: "3460cea53e6a6bb5fb391eeef3237ffd8724bf0a40e94943c98b83825342ee11",
                    private: "6939694369114c67917a182c59ddb8cafc3004e63ca5d3b84403ba8613debc0c",
                    public: "0384610f5ecffe8fda089363a41f56a5c7ffc1d81b59a612d0d649b2d22355590c",
                },
                Node {
                    path: &[H, 1],
                    chain: "4187afff1aafa8445010097fb99d23aee9f599450c7bd140b6826ac22ba21d0c",
                    private: "284e9d38d07d21e4e281b645089a94f4cf5a5a81369acf151a1c3a57f18b2129",
                    public: "03526c63f8d0b4bbbf9c80df553fe66742df4676b241dabefdef67733e070f6844",
                },
                Node {
                    path: &[H, 1, H + 2],
                    chain: "98c7514f562e64e74170cc3cf304ee1ce54d6b6da4f880f313e8204c2a185318",
                    private: "694596e8a54f252c960eb771a3c41e7e32496d03b954aeb90f61635b8e092aa7",
                    public: "0359cf160040778a4b14c5f4d7b76e327ccc8c4a6086dd9451b7482b5a4972dda0",
                },
                Node {
                    path: &[H, 1, H + 2, 2],
                    chain: "ba96f776a5c3907d7fd48bde5620ee374d4acfd540378476019eab70790c63a0",
                    private: "5996c37fd3dd2679039b23ed6f70b506c6b56b3cb5e424681fb0fa64caf82aaa",
                    public: "029f871f4cb9e1c97f9f4de9ccd0d4a2f2a171110c61178f84430062230833ff20",
                },
                Node {
                    path: &[H, 1, H + 2, 2, 1_000_000_000],
                    chain: "b9b7b82d326bb9cb5b5b121066feea4eb93d5241103c9e7a18aad40f1dde8059",
                    private: "21c4f269ef0a5fd1badf47eeacebeeaa3de22eb8e5b0adcd0f27dd99d34d0119",
                    public: "02216cd26d31147f72427a453c443ed2cde8a1e53c9cc44e5ddf739725413fe3f4",
                },
            ],
        );
    }

    /// SLIP-0010 test vector 1 for ed25519.
    #[test]
    fn slip10_test_vector_1_ed25519() {
        check(
            HdCurve::Ed25519,
            Scheme::Slip10,
            "000102030405060708090a0b0c0d0e0f",
            &[
                Node {
                    path: &[],
                    chain: "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb",
                    private: "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
                    public: "00a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed",
                },
                Node {
                    path: &[H],
                    chain: "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69",
                    private: "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3",
                    public: "008c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c",
                },
                Node {
                    path: &[H, H + 1],
                    chain: "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14",
                    private: "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2",
                    public: "001932a5270f335bed617d5b935c80aedb1a35bd9fc1e31acafd5372c30f5c1187",
                },
                Node {
                    path: &[H, H + 1, H + 2],
                    chain: "2e69929e00b5ab250f49c3fb1c12f252de4fed2c1db88387094a0f8c4c9ccd6c",
                    private: "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9",
                    public: "00ae98736566d30ed0e9d2f4486a64bc95740d89c7db33f52121f8ea8f76ff0fc1",
                },
                Node {
                    path: &[H, H + 1, H + 2, H + 2],
                    chain: "8f6d87f93d750e0efccda017d662a1b31a266e4a6f5993b15f5c1f07f74dd5cc",
                    private: "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662",
                    public: "008abae2d66361c879b900d204ad2cc4984fa2aa344dd7ddc46007329ac76c429c",
                },
                Node {
                    path: &[H, H + 1, H + 2, H + 2, H + 1_000_000_000],
                    chain: "68789923a0cac2cd5a29172a475fe9e0fb14cd6adb5ad98a3fa70333e7afa230",
                    private: "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
                    public: "003c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a",
                },
            ],
        );
    }

    /// SLIP-0010 "Test derivation retry for nist256p1": m/28578H/33941 needs the 0x01 retry.
    #[test]
    fn slip10_derivation_retry_nist256p1() {
        check(
            HdCurve::P256,
            Scheme::Slip10,
            "000102030405060708090a0b0c0d0e0f",
            &[
                Node {
                    path: &[H + 28578],
                    chain: "e94c8ebe30c2250a14713212f6449b20f3329105ea15b652ca5bdfc68f6c65c2",
                    private: "06f0db126f023755d0b8d86d4591718a5210dd8d024e3e14b6159d63f53aa669",
                    public: "02519b5554a4872e8c9c1c847115363051ec43e93400e030ba3c36b52a3e70a5b7",
                },
                Node {
                    path: &[H + 28578, 33941],
                    chain: "9e87fe95031f14736774cd82f25fd885065cb7c358c1edf813c72af535e83071",
                    private: "092154eed4af83e078ff9b84322015aefe5769e31270f62c3f66c33888335f3a",
                    public: "0235bfee614c0d5b2cae260000bb1d0d84b270099ad790022c1ae0b2e782efe120",
                },
            ],
        );
    }

    /// SLIP-0010 "Test seed retry for nist256p1": the first master key candidate is invalid.
    #[test]
    fn slip10_seed_retry_nist256p1() {
        check(
            HdCurve::P256,
            Scheme::Slip10,
            "a7305bc8df8d0951f0cb224c0e95d7707cbdf2c6ce7e8d481fec69c7ff5e9446",
            &[Node {
                path: &[],
                chain: "7762f9729fed06121fd13f326884c82f59aa95c57ac492ce8c9654e60efd130c",
                private: "3b8c18469a4634517d6d0b65448f8e6c62091b45540a1743c5846be55d47d88f",
                public: "0383619fadcde31063d8c5cb00dbfe1713f3e6fa169d8541a798752a1c1ca0cb20",
            }],
        );
    }

    #[test]
    fn refusals() {
        let rv = |r: Result<ExtendedPrivate>| r.err().map(|e| e.rv());
        let seed = [7u8; 32];
        assert_eq!(
            rv(master(HdCurve::Secp256k1, Scheme::Bip32, &seed[..15])),
            Some(crate::pkcs11::CKR_KEY_SIZE_RANGE)
        );
        assert_eq!(
            rv(master(HdCurve::Secp256k1, Scheme::Bip32, &[7; 65])),
            Some(crate::pkcs11::CKR_KEY_SIZE_RANGE)
        );
        let m = master(HdCurve::Ed25519, Scheme::Slip10, &seed).unwrap();
        let param = Some(crate::pkcs11::CKR_MECHANISM_PARAM_INVALID);
        assert_eq!(rv(private_child(HdCurve::Ed25519, Scheme::Slip10, &m.key, &m.chain_code, 1)), param);
        assert_eq!(
            rv(private_child(HdCurve::Ed25519, Scheme::Slip10, &m.key, &m.chain_code[..31], H)),
            param
        );
        let m = master(HdCurve::Secp256k1, Scheme::Bip32, &seed).unwrap();
        let point = ops(HdCurve::Secp256k1).public_point(&m.key).unwrap();
        let hardened = public_child(HdCurve::Secp256k1, Scheme::Bip32, &point, &m.chain_code, H);
        assert_eq!(hardened.err().map(|e| e.rv()), param);
        assert_eq!(
            HdCurve::of(Curve::P256, Scheme::Bip32).err().map(|e| e.rv()),
            Some(crate::pkcs11::CKR_TEMPLATE_INCONSISTENT)
        );
        assert_eq!(
            HdCurve::of(Curve::P384, Scheme::Slip10).err().map(|e| e.rv()),
            Some(crate::pkcs11::CKR_CURVE_NOT_SUPPORTED)
        );
        assert_eq!(kind(0), None);
        assert_eq!(kind(9), None);
        assert_eq!(kind(4), Some((Scheme::Bip32, Step::Master)));
        assert_eq!(kind(6), Some((Scheme::Slip10, Step::PrivateToPublic)));
    }
}
