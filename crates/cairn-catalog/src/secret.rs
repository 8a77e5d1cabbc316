//! Random secrets and their stored form.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe, with a prefix that says what the secret is.
pub fn generate_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random password people can type: 20 characters from an unambiguous alphabet (~114 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect()
}

/// SHA-256 of a text, hex: how a secret is stored (secrets are 256-bit random, so no salt is
/// needed) and how audit entries are chained.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let first = generate_secret("cairn_");
        let second = generate_secret("cairn_");
        assert_ne!(first, second);
        assert!(first.starts_with("cairn_"));
        assert_eq!(first.len(), "cairn_".len() + 43);
        assert_eq!(hash_secret(&first).len(), 64);
        assert_ne!(hash_secret(&first), hash_secret(&second));
    }
}
