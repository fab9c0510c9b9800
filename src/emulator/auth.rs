//! The bearer token `serve --bearer-token` requires: every call must carry
//! `authorization: Bearer <token>`, as IBM's service requires an IAM token. The check is
//! plain Rust over the header's bytes; `service.rs` applies it to every call before the
//! call reaches the engine, and turns a refusal into UNAUTHENTICATED.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The one `authorization` value accepted. Never printed.
pub struct BearerToken {
    expected: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Why a call was refused. The messages never repeat what the caller sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// The call carried no `authorization` header.
    #[error("this endpoint requires `authorization: Bearer <token>`; the call had no authorization header")]
    Missing,
    /// The value does not start with the `Bearer ` scheme.
    #[error(
        "this endpoint requires `authorization: Bearer <token>`; the call's authorization is not a bearer token"
    )]
    NotBearer,
    /// A bearer token, but not the configured one.
    #[error("the bearer token is not one this endpoint accepts")]
    Wrong,
}

impl BearerToken {
    /// `None` for an empty token, which would admit anyone sending `Bearer `.
    pub fn new(token: &str) -> Option<BearerToken> {
        let token = token.trim();
        (!token.is_empty()).then(|| BearerToken { expected: Zeroizing::new(token.as_bytes().to_vec()) })
    }

    /// Checks a call's `authorization` header value.
    pub(crate) fn admits(&self, authorization: Option<&[u8]>) -> Result<(), Refusal> {
        let value = authorization.ok_or(Refusal::Missing)?;
        // RFC 6750: the scheme name is case-insensitive, one space before the token.
        let token = match value.split_at_checked(7) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case(b"Bearer ") => token,
            _ => return Err(Refusal::NotBearer),
        };
        // Constant time, so that timing does not reveal how much of a guess was right.
        if bool::from(token.ct_eq(&self.expected)) { Ok(()) } else { Err(Refusal::Wrong) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_bearer_token_is_admitted() {
        let check = BearerToken::new("s3cret").unwrap();
        assert_eq!(check.admits(Some(b"Bearer s3cret")), Ok(()));
        assert_eq!(check.admits(Some(b"bearer s3cret")), Ok(()));
        assert_eq!(check.admits(None), Err(Refusal::Missing));
        assert_eq!(check.admits(Some(b"Basic s3cret")), Err(Refusal::NotBearer));
        assert_eq!(check.admits(Some(b"Bearer")), Err(Refusal::NotBearer));
        assert_eq!(check.admits(Some(b"Bearer s3cre")), Err(Refusal::Wrong));
        assert_eq!(check.admits(Some(b"Bearer s3crett")), Err(Refusal::Wrong));
        assert_eq!(check.admits(Some(b"Bearer ")), Err(Refusal::Wrong));
        assert!(BearerToken::new("  ").is_none());
        assert!(!format!("{check:?}").contains("s3cret"));
    }
}
