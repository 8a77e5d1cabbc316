//! Sign-in, sessions, API tokens and the sign-in rate limiter.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use cairn_domain::{Principal, TokenId, UserId, WorkspaceId, validate};
use cairn_store::now_ms;

use crate::secret::{generate_secret, hash_secret};
use crate::{Catalog, CatalogError, Result};

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id on a blocking thread.
pub(crate) async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| CatalogError::Internal(format!("password hashing failed: {error}")))
    })
    .await
    .map_err(|error| CatalogError::Internal(error.to_string()))?
}

/// A hash to verify against when the account does not exist, so timing tells nothing.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hasher()
            .hash_password(b"cairn dummy password for absent accounts")
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        let matches =
            PasswordVerifier::<str>::verify_password(&hasher(), password.as_bytes(), &hash).is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// How many failed sign-ins are tolerated within a window before answering 429.
#[derive(Debug, Clone)]
pub struct SignInLimits {
    pub per_account: usize,
    pub per_address: usize,
    pub window: Duration,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Failed sign-ins per account and per client address, forgotten after the window: an owner
/// locked out by someone else's guesses gets back in once the window has passed.
pub(crate) struct SignInLimiter {
    limits: SignInLimits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SignInLimiter {
    pub(crate) fn new(limits: SignInLimits) -> SignInLimiter {
        SignInLimiter {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(&self, email: &str, address: &str) -> [(String, usize); 2] {
        [
            (format!("account:{email}"), self.limits.per_account),
            (format!("address:{address}"), self.limits.per_address),
        ]
    }

    /// Seconds to wait when either key has used up its failures, else `None`.
    fn blocked(&self, email: &str, address: &str) -> Option<u64> {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait: Option<Duration> = None;
        for (key, limit) in self.keys(email, address) {
            let Some(times) = failures.get_mut(&key) else {
                continue;
            };
            while times
                .front()
                .is_some_and(|first| now.duration_since(*first) >= self.limits.window)
            {
                times.pop_front();
            }
            if times.len() >= limit {
                let oldest = times.front().copied().unwrap_or(now);
                let remaining = self
                    .limits
                    .window
                    .saturating_sub(now.duration_since(oldest));
                wait = Some(wait.map_or(remaining, |current| current.max(remaining)));
            }
        }
        failures.retain(|_, times| !times.is_empty());
        wait.map(|remaining| remaining.as_secs().max(1))
    }

    fn record_failure(&self, email: &str, address: &str) {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, _) in self.keys(email, address) {
            failures.entry(key).or_default().push_back(now);
        }
    }

    fn record_success(&self, email: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&format!("account:{email}"));
    }
}

/// A sign-in request.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub email: String,
    pub password: String,
    /// Needed when the address belongs to members of several workspaces.
    pub workspace: Option<String>,
    /// The client's address, for rate limiting.
    pub client_address: String,
    /// The session this browser had before, ended at sign-in (sessions rotate).
    pub previous_session: Option<String>,
}

/// A new session: the secret for the cookie and the token for CSRF headers.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub session_token: String,
    pub csrf_token: String,
}

/// How a request authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    Session { csrf_token: String },
    Token { id: TokenId },
}

impl Catalog {
    /// Signs a person in to one workspace and starts a new session.
    pub async fn sign_in(&self, request: SignIn) -> Result<Authenticated> {
        let email = request.email.trim().to_lowercase();
        let limiter = &self.inner.limiter;
        if let Some(retry_after_secs) = limiter.blocked(&email, &request.client_address) {
            return Err(CatalogError::RateLimited { retry_after_secs });
        }
        if request.password.len() > validate::PASSWORD_MAX {
            return Err(CatalogError::invalid("password", "is too long"));
        }
        let members = self.store().users_by_email(&email).await?;
        let member = match request.workspace.as_deref() {
            Some(name) => match self.store().workspace_by_name(name).await? {
                Some(workspace) => members
                    .into_iter()
                    .find(|user| user.workspace == workspace.id),
                None => None,
            },
            None if members.len() > 1 => {
                // Check the password first so the answer reveals nothing to a guesser.
                let any_matches = verify_password(
                    request.password.clone(),
                    members.first().and_then(|user| user.password_hash.clone()),
                )
                .await;
                if !any_matches {
                    limiter.record_failure(&email, &request.client_address);
                    return Err(CatalogError::Unauthenticated);
                }
                return Err(CatalogError::invalid(
                    "workspace",
                    "this address belongs to several workspaces; name the workspace",
                ));
            }
            None => members.into_iter().next(),
        };
        let hash = member.as_ref().and_then(|user| user.password_hash.clone());
        let verified = verify_password(request.password, hash).await;
        let Some(member) = member.filter(|_| verified) else {
            limiter.record_failure(&email, &request.client_address);
            return Err(CatalogError::Unauthenticated);
        };
        limiter.record_success(&email);
        if let Some(previous) = &request.previous_session {
            self.store().delete_session(&hash_secret(previous)).await?;
        }
        let session_token = generate_secret("cs_");
        let csrf_token = generate_secret("");
        self.store()
            .create_session(
                member.workspace,
                member.id,
                &hash_secret(&session_token),
                &csrf_token,
            )
            .await?;
        let principal = self.principal(member.workspace, member.id).await?;
        tracing::info!(workspace = %member.workspace, user = %member.id, "signed in");
        Ok(Authenticated {
            principal,
            session_token,
            csrf_token,
        })
    }

    /// Resolves a session cookie to its principal, ending sessions past their idle or absolute limit.
    pub async fn authenticate_session(&self, token: &str) -> Result<(Principal, Credential)> {
        let Some(session) = self.store().session_by_hash(&hash_secret(token)).await? else {
            return Err(CatalogError::Unauthenticated);
        };
        let now = now_ms();
        let idle = millis(self.config().session_idle);
        let absolute = millis(self.config().session_absolute);
        if now - session.last_seen_at > idle || now - session.created_at > absolute {
            self.store().delete_session_by_id(session.id).await?;
            return Err(CatalogError::Unauthenticated);
        }
        if now - session.last_seen_at > 60_000 {
            self.store().touch_session(session.id, now).await?;
        }
        let principal = self.principal(session.workspace, session.user).await?;
        Ok((
            principal,
            Credential::Session {
                csrf_token: session.csrf_token,
            },
        ))
    }

    /// Resolves an API token to its principal.
    pub async fn authenticate_token(&self, token: &str) -> Result<(Principal, Credential)> {
        let Some(row) = self.store().token_by_hash(&hash_secret(token)).await? else {
            return Err(CatalogError::Unauthenticated);
        };
        let now = now_ms();
        if row.last_used_at.is_none_or(|last| now - last > 60_000) {
            self.store().touch_token(row.id, now).await?;
        }
        let principal = self.principal(row.workspace, row.user).await?;
        Ok((principal, Credential::Token { id: row.id }))
    }

    /// Ends a session.
    pub async fn sign_out(&self, session_token: &str) -> Result<()> {
        self.store()
            .delete_session(&hash_secret(session_token))
            .await?;
        Ok(())
    }

    /// Sets a member's password (CLI and admins).
    pub async fn set_password(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        password: &str,
    ) -> Result<()> {
        validate::password("password", password)?;
        let hash = hash_password(password.to_string()).await?;
        self.store()
            .update_user(workspace, user, None, None, Some(&hash))
            .await?;
        Ok(())
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_failures_and_forgets_after_the_window() {
        let limiter = SignInLimiter::new(SignInLimits {
            per_account: 2,
            per_address: 3,
            window: Duration::from_millis(200),
        });
        assert!(limiter.blocked("a@x", "1.1.1.1").is_none());
        limiter.record_failure("a@x", "1.1.1.1");
        limiter.record_failure("a@x", "1.1.1.1");
        assert!(limiter.blocked("a@x", "2.2.2.2").is_some(), "per account");
        limiter.record_failure("b@x", "1.1.1.1");
        assert!(limiter.blocked("c@x", "1.1.1.1").is_some(), "per address");
        std::thread::sleep(Duration::from_millis(250));
        assert!(limiter.blocked("a@x", "1.1.1.1").is_none());
    }

    #[test]
    fn argon2id_uses_owasp_minimum_parameters() {
        let hash = hasher()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }
}
