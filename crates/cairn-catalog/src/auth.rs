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
    /// At most this many accounts and addresses are tracked at once; the ones whose last failure
    /// is oldest are forgotten first, so strangers cannot grow the server's memory.
    pub max_entries: usize,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
            max_entries: 100_000,
        }
    }
}

/// A limiter key: the SHA-256 of `account:<e-mail>` or `address:<ip>`, so every entry has the
/// same small size whatever a caller sends.
type LimiterKey = [u8; 32];

fn limiter_key(kind: &str, value: &str) -> LimiterKey {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update(b":");
    hasher.update(value.as_bytes());
    hasher.finalize().into()
}

struct LimiterState {
    failures: HashMap<LimiterKey, VecDeque<Instant>>,
    last_prune: Instant,
}

impl LimiterState {
    /// Forgets failures older than the window, and entries left with none.
    fn prune(&mut self, now: Instant, window: Duration) {
        self.failures.retain(|_, times| {
            while times
                .front()
                .is_some_and(|first| now.duration_since(*first) >= window)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        self.last_prune = now;
    }
}

/// Failed sign-ins per account and per client address, forgotten after the window: an owner
/// locked out by someone else's guesses gets back in once the window has passed. Memory is
/// bounded: keys are fixed-size hashes, each keeps at most its limit of failure times, expired
/// entries are pruned (all of them at least once per window, amortised over calls) and at most
/// `max_entries` are kept, evicting the one whose last failure is oldest.
pub(crate) struct SignInLimiter {
    limits: SignInLimits,
    state: Mutex<LimiterState>,
}

impl SignInLimiter {
    pub(crate) fn new(limits: SignInLimits) -> SignInLimiter {
        SignInLimiter {
            limits,
            state: Mutex::new(LimiterState {
                failures: HashMap::new(),
                last_prune: Instant::now(),
            }),
        }
    }

    fn keys(&self, email: &str, address: &str) -> [(LimiterKey, usize); 2] {
        [
            (limiter_key("account", email), self.limits.per_account),
            (limiter_key("address", address), self.limits.per_address),
        ]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        // A full sweep at most a few times per window keeps the amortised cost per call small.
        let every = (self.limits.window / 4).max(Duration::from_millis(1));
        if now.duration_since(state.last_prune) >= every {
            state.prune(now, self.limits.window);
        }
        state
    }

    /// How many accounts and addresses are tracked now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().failures.len()
    }

    /// Seconds to wait when either key has used up its failures, else `None`.
    fn blocked(&self, email: &str, address: &str) -> Option<u64> {
        let now = Instant::now();
        let mut state = self.lock();
        let mut wait: Option<Duration> = None;
        for (key, limit) in self.keys(email, address) {
            let Some(times) = state.failures.get_mut(&key) else {
                continue;
            };
            while times
                .front()
                .is_some_and(|first| now.duration_since(*first) >= self.limits.window)
            {
                times.pop_front();
            }
            if times.is_empty() {
                state.failures.remove(&key);
                continue;
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
        wait.map(|remaining| remaining.as_secs().max(1))
    }

    fn record_failure(&self, email: &str, address: &str) {
        let now = Instant::now();
        let mut state = self.lock();
        for (key, limit) in self.keys(email, address) {
            if !state.failures.contains_key(&key) && state.failures.len() >= self.limits.max_entries
            {
                state.prune(now, self.limits.window);
                if state.failures.len() >= self.limits.max_entries {
                    let oldest = state
                        .failures
                        .iter()
                        .min_by_key(|(_, times)| times.back().copied())
                        .map(|(key, _)| *key);
                    if let Some(oldest) = oldest {
                        state.failures.remove(&oldest);
                    }
                }
            }
            let times = state.failures.entry(key).or_default();
            times.push_back(now);
            // Only the latest `limit` failures decide a block; older ones need not be kept.
            while times.len() > limit.max(1) {
                times.pop_front();
            }
        }
    }

    fn record_success(&self, email: &str) {
        self.lock().failures.remove(&limiter_key("account", email));
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
        // Checked before anything else: nothing a stranger sends is kept or looked up unchecked.
        let email = validate::email("email", &request.email)?;
        if request.password.len() > validate::PASSWORD_MAX {
            return Err(CatalogError::invalid("password", "is too long"));
        }
        let limiter = &self.inner.limiter;
        if let Some(retry_after_secs) = limiter.blocked(&email, &request.client_address) {
            return Err(CatalogError::RateLimited { retry_after_secs });
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
            max_entries: 100,
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
    fn limiter_memory_is_bounded_whatever_strangers_send() {
        let limiter = SignInLimiter::new(SignInLimits {
            per_account: 3,
            per_address: 3,
            window: Duration::from_secs(3600),
            max_entries: 64,
        });
        let long = "x".repeat(100_000);
        for n in 0..1_000 {
            let email = format!("{n}{long}@example.com");
            limiter.record_failure(&email, &format!("10.0.{}.{}", n / 256, n % 256));
            assert!(limiter.len() <= 64, "{} entries", limiter.len());
        }
        let state = limiter.lock();
        assert!(
            state.failures.values().all(|times| times.len() <= 3),
            "each entry keeps at most its limit of failure times"
        );
        drop(state);
        // The latest failures are still counted: eviction forgets the oldest first.
        limiter.record_failure("late@x", "9.9.9.9");
        limiter.record_failure("late@x", "9.9.9.9");
        limiter.record_failure("late@x", "9.9.9.9");
        assert!(limiter.blocked("late@x", "8.8.8.8").is_some());
    }

    #[test]
    fn limiter_prunes_expired_entries_without_being_asked_about_them() {
        let limiter = SignInLimiter::new(SignInLimits {
            per_account: 3,
            per_address: 3,
            window: Duration::from_millis(100),
            max_entries: 10_000,
        });
        for n in 0..500 {
            limiter.record_failure(&format!("user{n}@example.com"), "1.2.3.4");
        }
        assert!(limiter.len() > 1);
        std::thread::sleep(Duration::from_millis(150));
        // Another caller's sign-in sweeps everyone else's expired failures away.
        assert!(limiter.blocked("other@example.com", "5.6.7.8").is_none());
        assert_eq!(limiter.len(), 0);
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
