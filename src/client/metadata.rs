//! Per-call metadata: fixed headers (`--header`, `bluemix-instance`) parsed once into
//! ready keys and values, plus an IAM bearer token when an API key was given. Adding them to
//! a call copies reference-counted values; nothing is parsed or formatted per call.

use std::str::FromStr;
use std::sync::Arc;

use tonic::metadata::{Ascii, MetadataKey, MetadataMap, MetadataValue};

use super::auth::{IamToken, TokenError};

/// One fixed header.
#[derive(Clone)]
pub struct Header {
    key: MetadataKey<Ascii>,
    value: MetadataValue<Ascii>,
}

impl std::fmt::Debug for Header {
    /// The name only: values are often credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Header({}: <redacted>)", self.key)
    }
}

/// A header that cannot be sent. Names it, never repeats the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Text given as a header has no colon between name and value.
    #[error("header {text:?} is not `name: value` (no colon)")]
    NoColon {
        /// Only the text's length (`<12 characters>`): without a colon it may be a bare
        /// credential.
        text: String,
    },
    #[error(
        "header {name:?}: not a valid gRPC metadata name (lower-case letters, digits, -, _ and .; not ending in -bin)"
    )]
    /// The name is not valid gRPC ASCII metadata.
    BadName {
        /// The name as given.
        name: String,
    },
    #[error(
        "header {name:?}: the value has characters a header cannot carry (visible ASCII and spaces only)"
    )]
    /// The value has characters other than visible ASCII and spaces.
    BadValue {
        /// The header's name, lowercased; the value is never repeated.
        name: String,
    },
    #[error("header {name:?} is reserved by HTTP/2 or gRPC")]
    /// A name HTTP/2 or gRPC sets itself (pseudo-headers, `grpc-*`, `content-type`, `te`,
    /// ...).
    Reserved {
        /// The name, lowercased.
        name: String,
    },
}

/// Names the transport itself sets; a user value would be ignored or break the call.
const RESERVED: &[&str] = &[
    "content-type",
    "te",
    "user-agent",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "host",
    "connection",
];

impl Header {
    /// A header from its name (any case; sent lowercased) and value (trimmed), checked to
    /// be sendable.
    pub fn new(name: &str, value: &str) -> Result<Header, HeaderError> {
        let lower = name.trim().to_ascii_lowercase();
        if lower.starts_with(':') || lower.starts_with("grpc-") || RESERVED.contains(&lower.as_str()) {
            return Err(HeaderError::Reserved { name: lower });
        }
        let key =
            MetadataKey::from_str(&lower).map_err(|_| HeaderError::BadName { name: name.to_owned() })?;
        let value = value.trim();
        // gRPC's ASCII metadata is printable ASCII; HTTP would pass other bytes along.
        if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(HeaderError::BadValue { name: lower });
        }
        let value = MetadataValue::try_from(value).map_err(|_| HeaderError::BadValue { name: lower })?;
        Ok(Header { key, value })
    }

    /// The header's name, lowercased.
    pub fn name(&self) -> &str {
        self.key.as_str()
    }
}

impl FromStr for Header {
    type Err = HeaderError;

    /// `name: value`, split at the first colon.
    fn from_str(text: &str) -> Result<Header, HeaderError> {
        let Some((name, value)) = text.split_once(':') else {
            // Without a colon the text may be a bare credential: show only its length.
            return Err(HeaderError::NoColon { text: format!("<{} characters>", text.chars().count()) });
        };
        Header::new(name, value)
    }
}

/// What every call carries besides its message. Clones share everything.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    headers: Arc<[Header]>,
    token: Option<Arc<IamToken>>,
}

impl Metadata {
    /// `headers` on every call, and with `token` a bearer token from IAM.
    pub fn new(headers: Vec<Header>, token: Option<Arc<IamToken>>) -> Metadata {
        Metadata { headers: headers.into(), token }
    }

    /// Adds the headers and, with an API key, `authorization: Bearer <token>`.
    pub(super) async fn apply(&self, map: &mut MetadataMap) -> Result<(), TokenError> {
        self.apply_fixed(map);
        if let Some(token) = &self.token {
            map.insert("authorization", token.authorization().await?);
        }
        Ok(())
    }

    /// Adds the headers that are the same on every call: all but the bearer token.
    pub(super) fn apply_fixed(&self, map: &mut MetadataMap) {
        for h in self.headers.iter() {
            map.append(h.key.clone(), h.value.clone());
        }
    }

    /// True when calls carry a bearer token, which is refreshed as it nears expiry.
    pub(super) fn has_token(&self) -> bool {
        self.token.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_name_colon_value() {
        let h: Header = "X-Request-Source:  ci ".parse().unwrap();
        assert_eq!(h.name(), "x-request-source");
        assert_eq!(h.value, "ci");
        let h: Header = "authorization: Bearer a:b".parse().unwrap();
        assert_eq!(h.value, "Bearer a:b");
        assert!(!format!("{h:?}").contains("a:b"));
    }

    #[test]
    fn bad_headers_are_named_and_their_values_are_not_shown() {
        let e = "secret-token".parse::<Header>().unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(matches!("bad name: x".parse::<Header>(), Err(HeaderError::BadName { .. })));
        assert!(matches!("x-bin: x".parse::<Header>(), Err(HeaderError::BadName { .. })));
        let e = "x-token: caf\u{e9}-secret".parse::<Header>().unwrap_err();
        assert_eq!(e, HeaderError::BadValue { name: "x-token".into() });
        assert!(!e.to_string().contains("secret"));
        assert!(matches!("grpc-timeout: 1S".parse::<Header>(), Err(HeaderError::Reserved { .. })));
        assert!(":path: /".parse::<Header>().is_err());
    }

    #[tokio::test]
    async fn every_header_is_added_and_repeats_are_kept() {
        let m = Metadata::new(
            vec!["a: 1".parse().unwrap(), "a: 2".parse().unwrap(), "b: 3".parse().unwrap()],
            None,
        );
        let mut map = MetadataMap::new();
        m.apply(&mut map).await.unwrap();
        let a: Vec<_> = map.get_all("a").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        assert_eq!(a, ["1", "2"]);
        assert_eq!(map.get("b").unwrap(), "3");
    }
}
