//! Sign-in, sessions, API tokens and the sign-in rate limiter.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use cairn_domain::{Principal, TokenId, UserId, WorkspaceId, validate};
use cairn_store::{User, now_ms};
use secrecy::{ExposeSecret, SecretString};

use crate::secret::{generate_secret, hash_secret};
use crate::{Catalog, CatalogError, Result};

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id on a blocking thread.
pub(crate) async fn hash_password(password: SecretString) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.expose_secret().as_bytes())
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

async fn verify_password(password: SecretString, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        let matches = PasswordVerifier::<str>::verify_password(
            &hasher(),
            password.expose_secret().as_bytes(),
            &hash,
        )
        .is_ok();
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
    /// window is oldest are forgotten first, so strangers cannot grow the store without bound.
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

/// A limiter key: the hex SHA-256 of `account:<e-mail>` or `address:<ip>`, so every entry has
/// the same small size whatever a caller sends.
fn limiter_key(kind: &str, value: &str) -> String {
    hash_secret(&format!("{kind}:{value}"))
}

/// The attempts counted for one sign-in, to give back when it succeeds.
struct Counted {
    account: (String, i64),
    address: (String, i64),
}

/// Sign-in attempts per account and per client address, counted in the store before the
/// password is checked: parallel guesses each take a distinct count, and every node sharing a
/// PostgreSQL store sees the same counts. A window's attempts are forgotten once it has passed,
/// so an owner locked out by someone else's guesses gets back in. Keys are fixed-size hashes,
/// expired windows are pruned (at most a few times per window, by whichever node signs in) and
/// at most `max_entries` windows are kept, the oldest forgotten first.
pub(crate) struct SignInLimiter {
    limits: SignInLimits,
    last_prune: Mutex<Instant>,
}

impl SignInLimiter {
    pub(crate) fn new(limits: SignInLimits) -> SignInLimiter {
        SignInLimiter {
            limits,
            last_prune: Mutex::new(Instant::now()),
        }
    }

    fn window_ms(&self) -> i64 {
        millis(self.limits.window).max(1)
    }

    async fn prune_now_and_then(&self, catalog: &Catalog, now: i64) -> Result<()> {
        let due = {
            let mut last = self
                .last_prune
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let every = (self.limits.window / 4).max(Duration::from_millis(1));
            let due = last.elapsed() >= every;
            if due {
                *last = Instant::now();
            }
            due
        };
        if due {
            let max_rows = i64::try_from(self.limits.max_entries).unwrap_or(i64::MAX);
            catalog
                .store()
                .prune_sign_in_attempts(now - self.window_ms(), max_rows)
                .await?;
        }
        Ok(())
    }

    /// Counts this attempt against the account and the address; refuses it when either has
    /// used up its attempts in the current window.
    async fn attempt(&self, catalog: &Catalog, email: &str, address: &str) -> Result<Counted> {
        let now = now_ms();
        self.prune_now_and_then(catalog, now).await?;
        let window = self.window_ms();
        let mut counted = Vec::with_capacity(2);
        for (key, limit) in [
            (limiter_key("account", email), self.limits.per_account),
            (limiter_key("address", address), self.limits.per_address),
        ] {
            let (attempts, start) = catalog
                .store()
                .count_sign_in_attempt(&key, now, window)
                .await?;
            if attempts > i64::try_from(limit).unwrap_or(i64::MAX) {
                let remaining_ms = (start + window - now).max(0);
                let retry_after_secs =
                    u64::try_from(((remaining_ms + 999) / 1000).max(1)).unwrap_or(1);
                return Err(CatalogError::RateLimited { retry_after_secs });
            }
            counted.push((key, start));
        }
        let address = counted.pop().expect("two keys counted");
        let account = counted.pop().expect("two keys counted");
        Ok(Counted { account, address })
    }

    /// A right password: the account's failures are forgotten and the address gets its
    /// attempt back, so colleagues behind one address are not limited by signing in.
    async fn succeeded(&self, catalog: &Catalog, counted: Counted) -> Result<()> {
        catalog
            .store()
            .clear_sign_in_attempts(&counted.account.0)
            .await?;
        catalog
            .store()
            .refund_sign_in_attempt(&counted.address.0, counted.address.1)
            .await?;
        Ok(())
    }
}

/// A sign-in request.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub email: String,
    pub password: SecretString,
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
        if request.password.expose_secret().len() > validate::PASSWORD_MAX {
            return Err(CatalogError::invalid("password", "is too long"));
        }
        let limiter = &self.inner.limiter;
        // Counted before the password is checked, so parallel guesses cannot outrun the limit.
        let counted = limiter
            .attempt(self, &email, &request.client_address)
            .await?;
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
                    return Err(CatalogError::Unauthenticated);
                }
                limiter.succeeded(self, counted).await?;
                return Err(CatalogError::invalid(
                    "workspace",
                    "this address belongs to several workspaces; name the workspace",
                ));
            }
            None => members.into_iter().next(),
        };
        let hash = member.as_ref().and_then(|user| user.password_hash.clone());
        let verified = verify_password(request.password, hash).await;
        let member = match member {
            Some(member) if verified => member,
            refused => {
                if let Some(member) = &refused {
                    // A wrong password for a real member is on their workspace's record; a guess at
                    // an address that is no member's has no workspace to be recorded in.
                    self.audit(
                        member.workspace,
                        None,
                        "session.refused",
                        serde_json::json!({"user": member.id.0, "address": request.client_address,
                        "reason": "wrong password"}),
                    )
                    .await?;
                }
                return Err(CatalogError::Unauthenticated);
            }
        };
        limiter.succeeded(self, counted).await?;
        self.start_session(
            member,
            &request.client_address,
            request.previous_session.as_deref(),
        )
        .await
    }

    /// A new session for a member who signed in, ending the one their browser had before.
    async fn start_session(
        &self,
        member: User,
        client_address: &str,
        previous_session: Option<&str>,
    ) -> Result<Authenticated> {
        if let Some(previous) = previous_session {
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
        self.audit(
            member.workspace,
            Some(member.id),
            "session.created",
            serde_json::json!({"address": client_address}),
        )
        .await?;
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
        let Some((row, role, teams)) = self.store().token_principal(&hash_secret(token)).await?
        else {
            return Err(CatalogError::Unauthenticated);
        };
        let now = now_ms();
        if row.last_used_at.is_none_or(|last| now - last > 60_000) {
            self.store().touch_token(row.id, now).await?;
        }
        let principal = Principal {
            user: row.user,
            workspace: row.workspace,
            role,
            teams,
        };
        Ok((principal, Credential::Token { id: row.id }))
    }

    /// Ends a session.
    pub async fn sign_out(&self, session_token: &str) -> Result<()> {
        let hash = hash_secret(session_token);
        let session = self.store().session_by_hash(&hash).await?;
        self.store().delete_session(&hash).await?;
        if let Some(session) = session {
            self.audit(
                session.workspace,
                Some(session.user),
                "session.ended",
                serde_json::json!({}),
            )
            .await?;
        }
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
        let hash = hash_password(password.into()).await?;
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
