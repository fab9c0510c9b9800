//! Retrying a call the endpoint says may be retried: only a status whose `Grep11Error`
//! detail has `Retry` true (a busy or briefly unavailable crypto unit), at most
//! [`MAX_ATTEMPTS`] attempts, with a short backoff, and never past the call's deadline.
//! Every GREP11 function is stateless on the server (states and keys travel with the
//! request), so sending the same request again is safe. A status without the detail, or
//! with `Retry` false, is answered at once.

use std::time::{Duration, Instant};

use crate::status::{CallFailure, from_status};

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// The wait before retry `n` (0-based): 10 ms, then 40 ms.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(10 << (2 * n.min(4)))
}

/// How long to wait before the next attempt, or `None` when the failure is final: not
/// retryable, out of attempts, or the wait would end past `deadline`. `retries` is the
/// number of retries made so far.
pub fn next_wait(status: &tonic::Status, retries: u32, deadline: Instant) -> Option<Duration> {
    if retries + 1 >= MAX_ATTEMPTS {
        return None;
    }
    let CallFailure::Pkcs11(failure) = from_status(status) else { return None };
    if !failure.retry {
        return None;
    }
    let wait = backoff(retries);
    (Instant::now() + wait < deadline).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::{CKR_DEVICE_ERROR, CKR_SIGNATURE_INVALID};
    use crate::status::{Grep11Failure, to_status};

    fn status(retry: bool) -> tonic::Status {
        to_status(&Grep11Failure { rv: CKR_DEVICE_ERROR, detail: "busy".into(), retry })
    }

    #[test]
    fn only_a_grep11error_asking_for_it_is_retried_and_only_so_often() {
        let later = Instant::now() + Duration::from_secs(10);
        assert_eq!(next_wait(&status(true), 0, later), Some(Duration::from_millis(10)));
        assert_eq!(next_wait(&status(true), 1, later), Some(Duration::from_millis(40)));
        assert_eq!(next_wait(&status(true), 2, later), None);
        assert_eq!(next_wait(&status(false), 0, later), None);
        let final_answer =
            to_status(&Grep11Failure { rv: CKR_SIGNATURE_INVALID, detail: String::new(), retry: false });
        assert_eq!(next_wait(&final_answer, 0, later), None);
        // UNAVAILABLE without the detail is a transport failure: not ours to retry.
        assert_eq!(next_wait(&tonic::Status::unavailable("down"), 0, later), None);
    }

    #[test]
    fn no_retry_waits_past_the_deadline() {
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(next_wait(&status(true), 0, soon), None);
    }
}
