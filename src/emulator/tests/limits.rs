//! The emulator's documented maxima: each is refused with its `CK_RV` before the server
//! allocates for it. The crate's unit-test binary gets an allocator (below) that records the
//! largest single allocation made on the current thread while a check is armed, so "does
//! not allocate" is measured, not assumed; other tests' threads are never armed, and pay
//! one thread-local read per allocation. Engine calls are synchronous, so all their work is
//! on this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::emulator::attrs::{Template, WireValue};
use crate::emulator::blob::Operation;
use crate::emulator::engine::Engine;
use crate::emulator::mech::digest::HashAlg;
use crate::emulator::mech::random::RANDOM_MAX;
use crate::emulator::mech::rsa::{MAX_BITS, PKCS8_MAX};
use crate::emulator::mech::sign::{HMAC_BUFFER_MAX, SignScheme, SignState};
use crate::emulator::mech::{GENERIC_SECRET_MAX, MechParam, Mechanism};
use crate::pkcs11::*;

/// Records allocation sizes on armed threads.
struct Tracking;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}
/// Allocations seen while armed, on any thread: proves the tracker is live.
static SEEN: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    // `try_with`: thread-locals may be gone while a thread exits; nothing to record then.
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        SEEN.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; recording touches only
// const-initialised thread-locals and an atomic, neither of which allocates.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` armed; returns its result and the largest single allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (out, LARGEST.with(Cell::get))
}

/// Well under every limit below; what decoding a template or opening a small blob takes.
const SMALL: usize = 64 << 10;

fn engine() -> Engine {
    Engine::new(&[0x42; 32])
}

fn mech(mech: CkMechanismType) -> Mechanism {
    Mechanism { mech, param: MechParam::None }
}

fn template(rows: &[(CkAttributeType, WireValue)]) -> Template {
    rows.iter().cloned().collect()
}

fn rv<T>(result: Result<T, crate::emulator::Error>) -> CkRv {
    result.err().map_or(CKR_OK, |e| e.rv())
}

#[test]
fn the_tracker_sees_allocations() {
    let (v, largest) = largest_allocation(|| vec![1u8; 3 << 20]);
    assert_eq!(v.len(), 3 << 20);
    assert!(largest >= 3 << 20, "{largest}");
    assert!(SEEN.load(Ordering::Relaxed) > 0);
}

#[test]
fn generate_random_is_capped_at_one_mib() {
    let e = engine();
    let (got, largest) = largest_allocation(|| e.generate_random(RANDOM_MAX));
    assert_eq!(got.unwrap().len(), RANDOM_MAX as usize);
    assert!(largest >= RANDOM_MAX as usize);
    for len in [RANDOM_MAX + 1, 1 << 40, u64::MAX] {
        let (got, largest) = largest_allocation(|| rv(e.generate_random(len)));
        assert_eq!(got, CKR_ARGUMENTS_BAD, "{len}");
        assert!(largest < SMALL, "GenerateRandom({len}) allocated {largest} bytes before refusing");
    }
}

#[test]
fn a_secret_key_length_is_checked_before_the_key_is_made() {
    let e = engine();
    for (mech_type, len) in [
        (CKM_GENERIC_SECRET_KEY_GEN, GENERIC_SECRET_MAX + 1),
        (CKM_GENERIC_SECRET_KEY_GEN, u64::MAX >> 1),
        (CKM_AES_KEY_GEN, 1 << 40),
    ] {
        let t = template(&[(CKA_VALUE_LEN, WireValue::Int(len as i64))]);
        let (got, largest) = largest_allocation(|| rv(e.generate_key(&mech(mech_type), &t)));
        assert_eq!(got, CKR_KEY_SIZE_RANGE, "{mech_type} {len}");
        assert!(largest < SMALL, "{mech_type} CKA_VALUE_LEN {len} allocated {largest} bytes");
    }
    let t = template(&[(CKA_VALUE_LEN, WireValue::Int(GENERIC_SECRET_MAX as i64))]);
    assert_eq!(rv(e.generate_key(&mech(CKM_GENERIC_SECRET_KEY_GEN), &t)), CKR_OK);
}

#[test]
fn an_rsa_modulus_is_capped_at_4096_bits() {
    let e = engine();
    for bits in [MAX_BITS + 1, 1 << 32, i64::MAX as u64] {
        let public = template(&[(CKA_MODULUS_BITS, WireValue::Int(bits as i64))]);
        let (got, largest) = largest_allocation(|| {
            rv(e.generate_key_pair(&mech(CKM_RSA_PKCS_KEY_PAIR_GEN), &public, &Template::new()))
        });
        assert_eq!(got, CKR_KEY_SIZE_RANGE, "{bits}");
        assert!(largest < SMALL, "{bits} bits allocated {largest} bytes");
    }
}

/// Regression (found by tests/integration/emulator_props.rs): the salt is allocated by the rsa crate.
#[test]
fn a_pss_salt_is_capped_by_the_largest_modulus() {
    let e = engine();
    let public = template(&[(CKA_MODULUS_BITS, WireValue::Int(512))]);
    let (private, _) =
        e.generate_key_pair(&mech(CKM_RSA_PKCS_KEY_PAIR_GEN), &public, &Template::new()).unwrap();
    for salt_len in [MAX_BITS / 8 + 1, 1 << 62] {
        // MGF1-SHA256 is 2 on the wire.
        let m = Mechanism {
            mech: CKM_SHA256_RSA_PKCS_PSS,
            param: MechParam::Pss { hash: CKM_SHA256, mgf: 2, salt_len },
        };
        let (got, largest) = largest_allocation(|| rv(e.sign_single(&m, &private.blob, b"data")));
        assert_eq!(got, CKR_MECHANISM_PARAM_INVALID, "{salt_len}");
        assert!(largest < SMALL, "salt {salt_len} allocated {largest} bytes");
    }
}

/// Multi-part HMAC buffers the data in its state, up to 8 MiB: the update that would pass
/// the cap is refused without growing the buffer (which would double it to 16 MiB). Checked
/// on the state itself: through the engine the 8 MiB state is sealed and opened per call,
/// which takes seconds in a debug build (postcard and AES-GCM unoptimised).
#[test]
fn a_multi_part_mac_state_is_capped_at_8_mib() {
    let mut state = SignState::new(Operation::Sign, SignScheme::Hmac(HashAlg::Sha256), vec![7; 32]);
    state.update(&vec![0x5a; HMAC_BUFFER_MAX - 10]).unwrap();
    let (got, largest) = largest_allocation(|| rv(state.update(&[0; 11])));
    assert_eq!(got, CKR_DATA_LEN_RANGE);
    assert!(largest < SMALL, "the refused update allocated {largest} bytes");
    assert_eq!(rv(state.update(&[0; 10])), CKR_OK);
    assert_eq!(rv(state.update(&[0])), CKR_DATA_LEN_RANGE);
}

/// A wrapped RSA private key larger than any supported key is refused before parsing.
#[test]
fn a_private_key_import_is_capped() {
    let e = engine();
    let t = template(&[(CKA_VALUE_LEN, WireValue::Int(32))]);
    let kek = e.generate_key(&mech(CKM_AES_KEY_GEN), &t).unwrap();
    let pad = Mechanism { mech: CKM_AES_CBC_PAD, param: MechParam::Bytes(vec![7; 16]) };
    let wrapped = e.cipher_single(Operation::Encrypt, &pad, &kek.blob, &vec![0x30; PKCS8_MAX + 1]).unwrap();
    let private = template(&[
        (CKA_CLASS, WireValue::Int(CKO_PRIVATE_KEY.0 as i64)),
        (CKA_KEY_TYPE, WireValue::Int(CKK_RSA.0 as i64)),
    ]);
    assert_eq!(rv(e.unwrap_key(&pad, &kek.blob, &wrapped, &private)), CKR_WRAPPED_KEY_INVALID);
}
