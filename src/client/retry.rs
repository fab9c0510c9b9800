//! Sending a call again, inside its one deadline, in two cases.
//!
//! A refusal the endpoint says may be retried: only a status whose `Grep11Error` detail
//! has `Retry` true (a busy or briefly unavailable crypto unit), at most [`MAX_ATTEMPTS`]
//! attempts, with a short backoff. Retry is judged too: on a refusal that follows from the
//! request alone, or on a refusal that is still the same after the last attempt, it fails
//! the call. A status without the detail, or with `Retry` false, is answered at once.
//!
//! A call whose connection closed under it, or whose stream the endpoint refused, before
//! an answer ([`failure::connection_lost`]): sent again at once, at most [`MAX_RESENDS`]
//! times, on a transport that reconnects. An endpoint that recycles its connections (a
//! maximum connection age, a graceful restart, a load balancer draining) does this to the
//! calls in flight as a matter of course, and HTTP/2 leaves a race at every such close: a
//! request can be written just as the endpoint's GOAWAY and the closing socket arrive.
//! gRPC clients re-send unasked only what the endpoint cannot have started; here anything
//! is, because every GREP11 function is stateless on the server (states and keys travel
//! with the request), so sending the same request again changes nothing. Reports count
//! these apart from retries, so that an unstable connection still shows, and an endpoint
//! that drops every call still fails it.

use std::time::{Duration, Instant};

use super::failure;
use crate::pkcs11::{
    CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED, CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED,
    CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_SESSION_COUNT, CKR_TOKEN_NOT_PRESENT, CKR_VENDOR_DEFINED, CkRv,
};
use crate::status::{CallFailure, from_status};

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// Re-sends per call after a lost connection. A call re-sent on a new connection can meet
/// the next close too: with connections recycled every 20 ms, 4% of re-sent calls did.
pub const MAX_RESENDS: u32 = 5;

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
    /// Wait, then send the request again: the endpoint refused with Retry.
    Retry(Duration),
    /// Send the request again now: its connection closed under it.
    Resend,
    /// The answer is final.
    Final,
    /// The endpoint misused Retry, which fails the call: it marked a refusal that cannot
    /// succeed on a retry as retryable, or a retried refusal came back unchanged.
    Misused(String),
}

/// One call's attempts so far.
#[derive(Debug)]
pub struct Attempts {
    /// Whether a lost connection is worth sending again on: the transport reconnects.
    reconnects: bool,
    /// Retries made on the endpoint's request.
    pub retries: u32,
    /// The refusal that caused the last of them.
    retried: Option<CkRv>,
    /// Requests sent again after their connection closed.
    pub resent: u32,
}

impl Attempts {
    /// A call's first attempt, on a transport that `reconnects` after a lost connection
    /// or not.
    pub fn new(reconnects: bool) -> Attempts {
        Attempts { reconnects, retries: 0, retried: None, resent: 0 }
    }

    /// Whether the next attempt is not the first.
    pub fn repeating(&self) -> bool {
        self.retries + self.resent > 0
    }

    /// Judges a non-OK answer, counting the retry or re-send it calls for.
    pub fn next(&mut self, status: &tonic::Status, deadline: Instant) -> Next {
        if self.reconnects
            && self.resent < MAX_RESENDS
            && Instant::now() < deadline
            && failure::connection_lost(status)
        {
            self.resent += 1;
            return Next::Resend;
        }
        let CallFailure::Pkcs11(failure) = from_status(status) else { return Next::Final };
        let rv = failure.rv;
        if failure.retry && !may_pass(rv) {
            return Next::Misused(format!(
                "the endpoint marked {} as Retry, but it answers the request itself: sending it again cannot succeed",
                rv.describe()
            ));
        }
        let wait = backoff(self.retries);
        let again = failure.retry && self.retries + 1 < MAX_ATTEMPTS && Instant::now() + wait < deadline;
        if again {
            self.retries += 1;
            self.retried = Some(rv);
            return Next::Retry(wait);
        }
        if self.retries > 0 && self.retried == Some(rv) {
            return Next::Misused(format!(
                "{} on all {} attempts after the endpoint asked for a retry: a refusal that does not pass is not retryable",
                rv.describe(),
                self.retries + 1
            ));
        }
        Next::Final
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::CKR_SIGNATURE_INVALID;
    use crate::status::{Grep11Failure, to_status};

    fn status(rv: CkRv, retry: bool) -> tonic::Status {
        to_status(&Grep11Failure { rv, detail: "busy".into(), retry })
    }

    fn fresh() -> Attempts {
        Attempts::new(true)
    }

    fn after(retries: u32, retried: CkRv) -> Attempts {
        Attempts { retries, retried: Some(retried), ..fresh() }
    }

    #[test]
    fn only_a_grep11error_asking_for_it_is_retried_and_only_so_often() {
        let later = Instant::now() + Duration::from_secs(10);
        let busy = status(CKR_DEVICE_ERROR, true);
        let mut attempts = fresh();
        assert_eq!(attempts.next(&busy, later), Next::Retry(Duration::from_millis(10)));
        assert_eq!(attempts.next(&busy, later), Next::Retry(Duration::from_millis(40)));
        assert_eq!((attempts.retries, attempts.resent), (2, 0));
        assert_eq!(fresh().next(&status(CKR_DEVICE_ERROR, false), later), Next::Final);
        assert_eq!(fresh().next(&status(CKR_SIGNATURE_INVALID, false), later), Next::Final);
        // UNAVAILABLE without the detail is a transport failure: not ours to retry.
        assert_eq!(fresh().next(&tonic::Status::unavailable("down"), later), Next::Final);
        // A retry that ends in another answer is that answer.
        assert_eq!(after(1, CKR_DEVICE_ERROR).next(&status(CKR_GENERAL_ERROR, false), later), Next::Final);
    }

    #[test]
    fn a_refusal_that_cannot_pass_or_does_not_pass_misuses_retry() {
        let later = Instant::now() + Duration::from_secs(10);
        let Next::Misused(why) = fresh().next(&status(CKR_SIGNATURE_INVALID, true), later) else {
            panic!("CKR_SIGNATURE_INVALID with Retry was accepted")
        };
        assert!(why.contains("CKR_SIGNATURE_INVALID"), "{why}");
        // The same refusal after the last attempt, with or without Retry.
        let busy = status(CKR_DEVICE_ERROR, true);
        assert!(matches!(after(2, CKR_DEVICE_ERROR).next(&busy, later), Next::Misused(_)));
        let final_busy = status(CKR_DEVICE_ERROR, false);
        assert!(matches!(after(1, CKR_DEVICE_ERROR).next(&final_busy, later), Next::Misused(_)));
        // Vendor codes cannot be judged.
        let vendor = status(CkRv(0x8000_0101), true);
        assert!(matches!(fresh().next(&vendor, later), Next::Retry(..)));
    }

    #[test]
    fn no_retry_waits_past_the_deadline() {
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(fresh().next(&status(CKR_DEVICE_ERROR, true), soon), Next::Final);
    }

    #[test]
    fn a_call_whose_connection_closed_is_sent_again_at_once_and_not_as_a_retry() {
        let later = Instant::now() + Duration::from_secs(10);
        let closed = || {
            let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
            tonic::Status::from_error(Box::new(io))
        };
        let mut attempts = fresh();
        for _ in 0..MAX_RESENDS {
            assert_eq!(attempts.next(&closed(), later), Next::Resend);
        }
        assert_eq!(attempts.next(&closed(), later), Next::Final);
        assert_eq!((attempts.retries, attempts.resent), (0, MAX_RESENDS));
        // Not on a transport that does not reconnect, nor past the deadline, nor for a
        // connection never made.
        assert_eq!(Attempts::new(false).next(&closed(), later), Next::Final);
        assert_eq!(fresh().next(&closed(), Instant::now()), Next::Final);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(fresh().next(&tonic::Status::from_error(Box::new(refused)), later), Next::Final);
    }
}
