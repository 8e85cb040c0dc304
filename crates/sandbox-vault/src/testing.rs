//! Test support (feature `testing`): a P-256 key pair that signs tokens
//! shaped like a Kubernetes projected service account token, so Vault's jwt
//! login can be tested for real (its public key configured as
//! `jwt_validation_pubkeys`) and the kubernetes login gets a token it can
//! parse before asking the TokenReview API.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point:
/// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) }.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The issuer Kubernetes puts in its service account tokens.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// A service account signing key, as a cluster's API server holds one.
pub struct ServiceAccountKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Default for ServiceAccountKey {
    fn default() -> Self {
        Self::generate()
    }
}

impl ServiceAccountKey {
    /// A fresh key pair.
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("load the generated key");
        ServiceAccountKey { pair, rng }
    }

    /// The public key as a PEM `PUBLIC KEY` block (what
    /// `jwt_validation_pubkeys` takes).
    pub fn public_pem(&self) -> String {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        let b64 = STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// A projected service account token for `namespace/name` with
    /// `audience`, valid for ten minutes: the claims Kubernetes 1.30 writes
    /// (`sub` = `system:serviceaccount:<ns>:<name>`, the `kubernetes.io`
    /// object with namespace, service account and pod).
    pub fn projected_token(&self, namespace: &str, name: &str, audience: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": "sandbox-test-key" });
        let claims = json!({
            "aud": [audience],
            "exp": now + 600,
            "iat": now,
            "nbf": now,
            "iss": ISSUER,
            "jti": format!("{now}-{name}"),
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
            "kubernetes.io": {
                "namespace": namespace,
                "node": { "name": "node-1", "uid": "5b1c2c9e-1111-4d4f-9a53-000000000001" },
                "pod": { "name": format!("{name}-pod"), "uid": "5b1c2c9e-2222-4d4f-9a53-000000000002" },
                "serviceaccount": { "name": name, "uid": service_account_uid(name) }
            }
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&self.rng, signing_input.as_bytes())
            .expect("sign the token");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}

/// The uid the test cluster gives service account `name` (stable, so a
/// TokenReview double can answer with the same one the token carries).
pub fn service_account_uid(name: &str) -> String {
    let n = name
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    format!("00000000-0000-4000-8000-{:012x}", n & 0xffff_ffff_ffff)
}
