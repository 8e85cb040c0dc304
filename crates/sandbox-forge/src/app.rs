//! Authenticating as a GitHub App: the app's private key (PEM, PKCS#1 as
//! GitHub issues it, or PKCS#8) signs an RS256 JWT (`iss` = app id, `iat`
//! 60 s in the past for clock drift, `exp` 9 minutes ahead: GitHub refuses
//! more than 10), which buys an installation token (`POST
//! /app/installations/{id}/access_tokens`, valid one hour). The token is
//! kept and bought again when less than five minutes are left, so a long
//! run never sends an expired one.
//!
//! The JWT is signed with ring, and the PEM read by rustls-pki-types: both
//! already in the tree through rustls, so this adds no crate. Two base64url
//! segments and one RSASSA-PKCS1-v1_5 SHA-256 signature do not need a JWT
//! library: jsonwebtoken 12 needs a crypto backend feature, either
//! `aws_lc_rs` (aws-lc-sys, a C and CMake build) or `rust_crypto` (rsa,
//! sha2, hmac, p256, p384, ed25519-dalek), plus `pem` and `simple_asn1`
//! for PEM keys.

use crate::{ForgeError, GitHub, Limits};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// How far back `iat` is set: GitHub's recommendation against clock drift.
const IAT_SKEW: Duration = Duration::from_secs(60);
/// The JWT's lifetime from `iat`; GitHub accepts at most 10 minutes.
const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60 + 60);
/// A token with less than this left is replaced before use.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// A GitHub App's private key, parsed and checked.
pub struct AppKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKey(<redacted>)")
    }
}

impl AppKey {
    /// Parse a PEM private key: `RSA PRIVATE KEY` (PKCS#1, the form GitHub
    /// issues) or `PRIVATE KEY` (PKCS#8, e.g. after `openssl pkcs8`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, ForgeError> {
        let bad = |why: &str| ForgeError::Config {
            message: format!(
                "the GitHub App key is not usable: {why} (give the PEM file GitHub issued, \
                 -----BEGIN RSA PRIVATE KEY-----, or its PKCS#8 form)"
            ),
        };
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| bad("no PEM private key"))?;
        let pair = match &der {
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            _ => return Err(bad("not an RSA key")),
        }
        .map_err(|e| bad(&format!("rejected: {e}")))?;
        Ok(AppKey { pair })
    }

    /// The public key (PKCS#1 `RSAPublicKey` DER), for checks.
    pub fn public_key_der(&self) -> &[u8] {
        use ring::signature::KeyPair;
        self.pair.public_key().as_ref()
    }

    /// The RS256 JWT GitHub takes as the app's identity at `now`.
    pub fn jwt(&self, app_id: u64, now: SystemTime) -> Result<String, ForgeError> {
        let iat = now
            .checked_sub(IAT_SKEW)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let exp = iat + JWT_LIFETIME.as_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"iat":{iat},"exp":{exp},"iss":"{app_id}"}}"#));
        let signing_input = format!("{header}.{claims}");
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| ForgeError::Config {
                message: "cannot sign the GitHub App JWT with this key".into(),
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// An installation token and when it expires.
#[derive(Debug, Clone)]
struct Token {
    client: GitHub,
    expires_at: SystemTime,
}

/// A GitHub App installation: hands out clients authenticated with a
/// current installation token.
#[derive(Debug)]
pub struct AppInstallation {
    api: String,
    app_id: u64,
    installation_id: u64,
    key: AppKey,
    limits: Limits,
    token: Mutex<Option<Token>>,
    /// Tokens bought so far (for logs and tests).
    bought: std::sync::atomic::AtomicU32,
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: String,
}

impl AppInstallation {
    /// The installation `installation_id` of app `app_id`, on `api_base`.
    pub fn new(
        api_base: &str,
        app_id: u64,
        installation_id: u64,
        key: AppKey,
        limits: Limits,
    ) -> Self {
        AppInstallation {
            api: api_base.trim_end_matches('/').to_string(),
            app_id,
            installation_id,
            key,
            limits,
            token: Mutex::new(None),
            bought: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// How many installation tokens were bought.
    pub fn tokens_bought(&self) -> u32 {
        self.bought.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A client with an installation token valid for at least five more
    /// minutes, buying one if needed.
    pub async fn client(&self) -> Result<GitHub, ForgeError> {
        self.client_at(SystemTime::now()).await
    }

    /// [`AppInstallation::client`] at a given time (tests).
    pub async fn client_at(&self, now: SystemTime) -> Result<GitHub, ForgeError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && token.expires_at > now + REFRESH_BEFORE
        {
            return Ok(token.client.clone());
        }
        let jwt = self.key.jwt(self.app_id, now)?;
        let as_app = GitHub::new(&self.api, Some(&jwt), self.limits)?;
        let url = format!(
            "{}/app/installations/{}/access_tokens",
            self.api, self.installation_id
        );
        let answer: AccessToken = as_app.send_json(Method::POST, &url, None::<&()>).await?;
        // A token whose expiry cannot be read is used once, never kept.
        let expires_at = parse_utc(&answer.expires_at).unwrap_or(now);
        let client = GitHub::new(&self.api, Some(&answer.token), self.limits)?;
        self.bought
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(
            installation = self.installation_id,
            expires_at = %answer.expires_at,
            "GitHub App installation token"
        );
        *slot = Some(Token {
            client: client.clone(),
            expires_at,
        });
        Ok(client)
    }
}

/// `2016-07-11T22:14:10Z` (GitHub's `expires_at`, always UTC) as a time.
pub(crate) fn parse_utc(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, sec) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = sandbox_core::time::days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_round_trip() {
        let t = parse_utc("2016-07-11T22:14:10Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_468_275_250
        );
        assert_eq!(sandbox_core::time::rfc3339(t), "2016-07-11T22:14:10Z");
        assert_eq!(
            sandbox_core::time::rfc3339(UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
        let leap = parse_utc("2024-02-29T00:00:00Z").unwrap();
        assert_eq!(sandbox_core::time::rfc3339(leap), "2024-02-29T00:00:00Z");
        assert!(parse_utc("2016-07-11 22:14:10").is_none());
        assert!(parse_utc("2016-13-11T22:14:10Z").is_none());
    }

    #[test]
    fn a_key_that_is_not_pem_says_what_to_give() {
        let err = AppKey::from_pem(b"ghp_not_a_key").unwrap_err();
        assert!(err.to_string().contains("BEGIN RSA PRIVATE KEY"), "{err}");
    }
}
