//! Integration credentials at rest: AES-256-GCM under the operator's key (`CAIRN_SECRET_KEY`)
//! or a key generated into the data directory (0600). Ciphertexts are bound to their workspace.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_domain::WorkspaceId;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::{CatalogError, Result};

const VERSION: &str = "v1:";

/// The key that opens integration credentials. `Debug` prints neither it, nor the cipher built
/// from it, nor the audit key derived from it.
pub(crate) struct Vault {
    cipher: Aes256Gcm,
    fingerprint: String,
    /// Derived from the secret key: keys the audit chain and its checkpoints.
    audit_key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

/// The operator's key (`CAIRN_SECRET_KEY`): 32 bytes, as base64 or 64 hex digits.
fn parse_operator_key(text: &SecretString) -> Result<[u8; 32]> {
    parse_key(text.expose_secret()).ok_or_else(|| {
        CatalogError::Internal(
            "CAIRN_SECRET_KEY must be 32 bytes, as base64 or 64 hex digits".into(),
        )
    })
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|index| u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        STANDARD.decode(text).ok()?
    };
    bytes.try_into().ok()
}

/// SHA-256 of a fixed label keyed by the secret key, in hex.
fn fingerprint(key: &[u8; 32]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(key)
        .chain_update(b"cairn secret key fingerprint v1")
        .finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The fingerprint of the key a node on `data_dir` would use (the operator's key if given, else
/// the data directory's key file), without creating a key file; `None` when there is no key yet.
/// A store records the fingerprint of the key its credentials are sealed with: equal
/// fingerprints, same key.
pub fn secret_key_fingerprint(
    operator_key: Option<&SecretString>,
    data_dir: &Path,
) -> Result<Option<String>> {
    let key = match operator_key {
        Some(text) => parse_operator_key(text)?,
        None => {
            let path = data_dir.join("secret.key");
            match std::fs::read_to_string(&path) {
                Ok(text) => parse_key(&text).ok_or_else(|| {
                    CatalogError::Internal(format!(
                        "secret key file {} is not a key",
                        path.display()
                    ))
                })?,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(error) => {
                    return Err(CatalogError::Internal(format!(
                        "secret key file {}: {error}",
                        path.display()
                    )));
                }
            }
        }
    };
    Ok(Some(fingerprint(&key)))
}

impl Vault {
    /// The operator's key if given, else the data directory's key file, created on first use.
    pub(crate) fn open(operator_key: Option<&SecretString>, data_dir: &Path) -> Result<Vault> {
        let key = match operator_key {
            Some(text) => parse_operator_key(text)?,
            None => Self::key_file(&data_dir.join("secret.key"))?,
        };
        let cipher = Aes256Gcm::new_from_slice(&key)
            .map_err(|_| CatalogError::Internal("invalid secret key".into()))?;
        Ok(Vault {
            cipher,
            fingerprint: fingerprint(&key),
            audit_key: SecretBox::new(Box::new(hmac_sha256(&key, b"cairn audit chain key v1"))),
        })
    }

    /// HMAC-SHA256 of `message` under the audit key, in hex. Without the secret key (which
    /// lives outside the store) nobody can compute it.
    pub(crate) fn audit_mac(&self, message: &[u8]) -> String {
        hmac_sha256(self.audit_key.expose_secret(), message)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Names the key without revealing it: equal keys have equal fingerprints.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn key_file(path: &Path) -> Result<[u8; 32]> {
        let failed = |error: std::io::Error| {
            CatalogError::Internal(format!("secret key file {}: {error}", path.display()))
        };
        if let Ok(text) = std::fs::read_to_string(path) {
            return parse_key(&text).ok_or_else(|| {
                CatalogError::Internal(format!("secret key file {} is not a key", path.display()))
            });
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|error| CatalogError::Internal(error.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write;
        let mut file = options.open(path).map_err(failed)?;
        file.write_all(STANDARD.encode(key).as_bytes())
            .map_err(failed)?;
        Ok(key)
    }

    fn context(workspace: WorkspaceId) -> Vec<u8> {
        format!("cairn integration secret, workspace {workspace}").into_bytes()
    }

    pub(crate) fn seal(&self, workspace: WorkspaceId, plaintext: &str) -> Result<String> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|error| CatalogError::Internal(error.to_string()))?;
        let aad = Self::context(workspace);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| CatalogError::Internal("encryption failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{VERSION}{}", STANDARD.encode(bytes)))
    }

    pub(crate) fn open_secret(&self, workspace: WorkspaceId, sealed: &str) -> Result<String> {
        let broken = || {
            CatalogError::Internal(
                "cannot decrypt an integration's connection: wrong CAIRN_SECRET_KEY?".into(),
            )
        };
        let encoded = sealed.strip_prefix(VERSION).ok_or_else(broken)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| broken())?;
        if bytes.len() < 12 {
            return Err(broken());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| broken())?;
        let aad = Self::context(workspace);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_workspace_and_hide_the_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(None, dir.path()).unwrap();
        let sealed = vault
            .seal(WorkspaceId(1), "postgres://u:hunter2@db/x")
            .unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            vault.open_secret(WorkspaceId(1), &sealed).unwrap(),
            "postgres://u:hunter2@db/x"
        );
        assert!(vault.open_secret(WorkspaceId(2), &sealed).is_err());
        // The generated key file is private and reused.
        let again = Vault::open(None, dir.path()).unwrap();
        assert!(again.open_secret(WorkspaceId(1), &sealed).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            secret_key_fingerprint(None, dir.path()).unwrap().as_deref(),
            Some(vault.fingerprint())
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(secret_key_fingerprint(None, empty.path()).unwrap(), None);
        assert!(!empty.path().join("secret.key").exists());
        let other = Vault::open(Some(&"ab".repeat(32).into()), dir.path()).unwrap();
        assert_eq!(
            secret_key_fingerprint(Some(&"ab".repeat(32).into()), empty.path())
                .unwrap()
                .as_deref(),
            Some(other.fingerprint())
        );
        assert!(other.open_secret(WorkspaceId(1), &sealed).is_err());
        assert!(Vault::open(Some(&"short".into()), dir.path()).is_err());
    }
}
