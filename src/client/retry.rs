//! Retrying a call the endpoint says may be retried: only a status whose `Grep11Error`
//! detail has `Retry` true (a busy or briefly unavailable crypto unit), at most
//! [`MAX_ATTEMPTS`] attempts, with a short backoff, and never past the call's deadline.
//! Retry is judged too: on a refusal that follows from the request alone, or on a refusal
//! that is still the same after the last attempt, it fails the call.
//! Every GREP11 function is stateless on the server (states and keys travel with the
//! request), so sending the same request again is safe. A status without the detail, or
//! with `Retry` false, is answered at once.

use std::time::{Duration, Instant};

use crate::pkcs11::{
    CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED, CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED,
    CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_SESSION_COUNT, CKR_TOKEN_NOT_PRESENT, CKR_VENDOR_DEFINED, CkRv,
};
use crate::status::{CallFailure, from_status};

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// The wait before retry `n` (0-based): 10 ms, then 40 ms.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(10 << (2 * n.min(4)))
}

/// Whether a refusal can be a passing condition of the service rather than an answer to
/// the request: the device, memory or token states PKCS #11 names, and vendor codes (whose
/// meaning the harness cannot know). Every other code (CKR_SIGNATURE_INVALID,
/// CKR_MECHANISM_INVALID, CKR_KEY_HANDLE_INVALID, ...) follows from the request alone, so
/// sending the same request again cannot change it.
fn may_pass(rv: CkRv) -> bool {
    [
        CKR_HOST_MEMORY,
        CKR_GENERAL_ERROR,
        CKR_FUNCTION_FAILED,
        CKR_DEVICE_ERROR,
        CKR_DEVICE_MEMORY,
        CKR_DEVICE_REMOVED,
        CKR_FUNCTION_CANCELED,
        CKR_SESSION_COUNT,
        CKR_TOKEN_NOT_PRESENT,
    ]
    .contains(&rv)
        || rv.0 >= CKR_VENDOR_DEFINED.0
}

/// What to do after a non-OK answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait, then send the request again: the endpoint refused with `CkRv` and Retry.
    Retry(Duration, CkRv),
    /// The answer is final.
    Final,
    /// The endpoint misused Retry, which fails the call: it marked a refusal that cannot
    /// succeed on a retry as retryable, or a retried refusal came back unchanged.
    Misused(String),
}

/// Judges a non-OK answer. `retries` is the number of retries made so far, `retried` the
/// code of the refusal that caused the last one.
pub fn next(status: &tonic::Status, retries: u32, deadline: Instant, retried: Option<CkRv>) -> Next {
    let CallFailure::Pkcs11(failure) = from_status(status) else { return Next::Final };
    let rv = failure.rv;
    if failure.retry && !may_pass(rv) {
        return Next::Misused(format!(
            "the endpoint marked {} as Retry, but it answers the request itself: sending it again cannot succeed",
            rv.describe()
        ));
    }
    let wait = backoff(retries);
    let again = failure.retry && retries + 1 < MAX_ATTEMPTS && Instant::now() + wait < deadline;
    if again {
        return Next::Retry(wait, rv);
    }
    if retries > 0 && retried == Some(rv) {
        return Next::Misused(format!(
            "{} on all {} attempts after the endpoint asked for a retry: a refusal that does not pass is not retryable",
            rv.describe(),
            retries + 1
        ));
    }
    Next::Final
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::CKR_SIGNATURE_INVALID;
    use crate::status::{Grep11Failure, to_status};

    fn status(rv: CkRv, retry: bool) -> tonic::Status {
        to_status(&Grep11Failure { rv, detail: "busy".into(), retry })
    }

    #[test]
    fn only_a_grep11error_asking_for_it_is_retried_and_only_so_often() {
        let later = Instant::now() + Duration::from_secs(10);
        let busy = status(CKR_DEVICE_ERROR, true);
        assert_eq!(next(&busy, 0, later, None), Next::Retry(Duration::from_millis(10), CKR_DEVICE_ERROR));
        assert_eq!(next(&busy, 1, later, None), Next::Retry(Duration::from_millis(40), CKR_DEVICE_ERROR));
        assert_eq!(next(&status(CKR_DEVICE_ERROR, false), 0, later, None), Next::Final);
        assert_eq!(next(&status(CKR_SIGNATURE_INVALID, false), 0, later, None), Next::Final);
        // UNAVAILABLE without the detail is a transport failure: not ours to retry.
        assert_eq!(next(&tonic::Status::unavailable("down"), 0, later, None), Next::Final);
        // A retry that ends in another answer is that answer.
        assert_eq!(next(&status(CKR_GENERAL_ERROR, false), 1, later, Some(CKR_DEVICE_ERROR)), Next::Final);
    }

    #[test]
    fn a_refusal_that_cannot_pass_or_does_not_pass_misuses_retry() {
        let later = Instant::now() + Duration::from_secs(10);
        let Next::Misused(why) = next(&status(CKR_SIGNATURE_INVALID, true), 0, later, None) else {
            panic!("CKR_SIGNATURE_INVALID with Retry was accepted")
        };
        assert!(why.contains("CKR_SIGNATURE_INVALID"), "{why}");
        // The same refusal after the last attempt, with or without Retry.
        let busy = status(CKR_DEVICE_ERROR, true);
        assert!(matches!(next(&busy, 2, later, Some(CKR_DEVICE_ERROR)), Next::Misused(_)));
        let final_busy = status(CKR_DEVICE_ERROR, false);
        assert!(matches!(next(&final_busy, 1, later, Some(CKR_DEVICE_ERROR)), Next::Misused(_)));
        // Vendor codes cannot be judged.
        assert!(matches!(next(&status(CkRv(0x8000_0101), true), 0, later, None), Next::Retry(..)));
    }

    #[test]
    fn no_retry_waits_past_the_deadline() {
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(next(&status(CKR_DEVICE_ERROR, true), 0, soon, None), Next::Final);
    }
}
