//! Encryption of stored secrets (integration tokens, provider API keys).
//!
//! AES-256-GCM with a random 96-bit nonce per value, stored as
//! base64(nonce ‖ ciphertext ‖ tag). The key material comes from
//! `TFTSR_ENCRYPTION_KEY` or a generated `<data dir>/.enckey` (0600) and is
//! never used directly: HKDF-SHA256 derives one key for encryption and a
//! separate one for fingerprints, so neither leaks anything about the other.
//! There is no built-in default key.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{Result, StorageError};
use crate::keyfile;

/// Environment variable with the secret-store key material.
pub const ENCRYPTION_KEY_ENV: &str = "TFTSR_ENCRYPTION_KEY";
/// File name of the generated secret-store key.
pub const ENC_KEY_FILE: &str = ".enckey";

/// Domain-separation salt: a fixed, public value that ties derived keys to
/// this use, so the same material used elsewhere yields unrelated keys.
const HKDF_SALT: &[u8] = b"tftsr/secret-store/v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts and decrypts stored secrets.
pub struct SecretBox {
    cipher: Aes256Gcm,
    fingerprint_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// Derives the keys from arbitrary key material.
    pub fn from_material(material: &[u8]) -> Result<Self> {
        if material.is_empty() {
            return Err(StorageError::Crypto(
                "the encryption key must not be empty".into(),
            ));
        }
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), material);
        let mut enc = [0u8; 32];
        let mut fp = [0u8; 32];
        hk.expand(b"aes-256-gcm credentials", &mut enc)
            .and_then(|()| hk.expand(b"hmac-sha256 fingerprints", &mut fp))
            .map_err(|e| StorageError::Crypto(format!("key derivation failed: {e}")))?;
        let cipher = Aes256Gcm::new_from_slice(&enc)
            .map_err(|e| StorageError::Crypto(format!("bad key length: {e}")))?;
        Ok(Self {
            cipher,
            fingerprint_key: fp,
        })
    }

    /// `TFTSR_ENCRYPTION_KEY` if set (given explicitly as `env_key`), else the
    /// data directory's `.enckey`, generated on first use.
    pub fn open(data_dir: &Path, env_key: Option<String>) -> Result<Self> {
        match env_key.filter(|k| !k.is_empty()) {
            Some(k) => Self::from_material(k.as_bytes()),
            None => {
                keyfile::ensure_dir(data_dir)?;
                let key = keyfile::read_or_create(&data_dir.join(ENC_KEY_FILE))?;
                Self::from_material(&key)
            }
        }
    }

    /// Encrypts a secret to base64(nonce ‖ ciphertext ‖ tag).
    pub fn encrypt(&self, plaintext: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| StorageError::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    /// Decrypts what [`SecretBox::encrypt`] produced; any change to the stored
    /// text, or another key, is an error.
    pub fn decrypt(&self, stored: &str) -> Result<String> {
        let raw = B64
            .decode(stored.trim())
            .map_err(|_| StorageError::Crypto("stored secret is not valid base64".into()))?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(StorageError::Crypto("stored secret is too short".into()));
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| {
                StorageError::Crypto(
                    "stored secret failed authentication: it was altered, or the encryption key changed".into(),
                )
            })?;
        String::from_utf8(plain)
            .map_err(|_| StorageError::Crypto("stored secret is not UTF-8".into()))
    }

    /// A keyed fingerprint (HMAC-SHA256, hex) of a secret, for audit records:
    /// it identifies a token without letting anyone test guesses offline.
    pub fn fingerprint(&self, secret: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        match <Hmac<Sha256> as Mac>::new_from_slice(&self.fingerprint_key) {
            Ok(mut mac) => {
                mac.update(secret.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonces() {
        let b = SecretBox::from_material(b"test material").unwrap();
        let a1 = b.encrypt("s3cret-token").unwrap();
        let a2 = b.encrypt("s3cret-token").unwrap();
        assert_ne!(a1, a2, "each encryption uses a new nonce");
        assert_eq!(b.decrypt(&a1).unwrap(), "s3cret-token");
        let raw = B64.decode(&a1).unwrap();
        assert_eq!(raw.len(), NONCE_LEN + "s3cret-token".len() + TAG_LEN);
    }

    #[test]
    fn tamper_and_wrong_key_fail() {
        let b = SecretBox::from_material(b"k1").unwrap();
        let sealed = b.encrypt("token").unwrap();
        let mut raw = B64.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(matches!(
            b.decrypt(&B64.encode(&raw)),
            Err(StorageError::Crypto(_))
        ));
        raw[last] ^= 1;
        raw[NONCE_LEN] ^= 0x80;
        assert!(matches!(
            b.decrypt(&B64.encode(&raw)),
            Err(StorageError::Crypto(_))
        ));
        let other = SecretBox::from_material(b"k2").unwrap();
        assert!(matches!(
            other.decrypt(&sealed),
            Err(StorageError::Crypto(_))
        ));
        assert!(matches!(b.decrypt("%%%"), Err(StorageError::Crypto(_))));
        assert_ne!(b.fingerprint("token"), other.fingerprint("token"));
        assert_eq!(b.fingerprint("token").len(), 64);
    }
}
