//! Workspaces, members, teams and API tokens.

use cairn_domain::{Principal, Role, TeamId, TokenId, UserId, WorkspaceId, validate};
use cairn_store::{StoreError, Team, User, Workspace};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::hash_password;
use crate::secret::{generate_password, generate_secret, hash_secret};
use crate::{Catalog, CatalogError, Operator, Result, require_admin};

/// A member as admins see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub teams: Vec<String>,
    pub created_at: i64,
}

/// A new member. Without a password, one is generated and returned once.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    pub role: Role,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

/// Changes to a member.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

/// A team with its members' ids.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    pub members: Vec<i64>,
}

/// An API token; `token` is present only in the answer that created it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A request for a new API token.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[serde(default)]
    pub name: Option<String>,
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeView {
    pub user: MeUser,
    pub workspace: MeWorkspace,
    pub role: Role,
    pub teams: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeUser {
    pub id: i64,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeWorkspace {
    pub id: i64,
    pub name: String,
    pub region: Option<String>,
}

fn display_name(email: &str) -> String {
    email.split('@').next().unwrap_or(email).to_string()
}

/// Operator commands (CLI): no principal, the operator owns the machine.
impl Operator<'_> {
    /// Creates a workspace (CLI).
    pub async fn create_workspace(&self, name: &str, region: Option<&str>) -> Result<Workspace> {
        let name = validate::label("name", name)?;
        let region = region
            .map(|region| validate::label("region", region))
            .transpose()?;
        match self
            .catalog
            .store()
            .create_workspace(&name, region.as_deref())
            .await
        {
            Err(StoreError::Conflict(_)) => Err(CatalogError::Conflict(format!(
                "a workspace named {name:?} already exists"
            ))),
            other => Ok(other?),
        }
    }

    /// A workspace by name, or a clear error naming it.
    pub async fn workspace_named(&self, name: &str) -> Result<Workspace> {
        self.catalog
            .store()
            .workspace_by_name(name)
            .await?
            .ok_or_else(|| {
                CatalogError::invalid("workspace", format!("no workspace named {name:?}"))
            })
    }

    /// Creates a team in a workspace (CLI and admins).
    pub async fn add_team(&self, workspace: WorkspaceId, name: &str) -> Result<Team> {
        let name = validate::label("name", name)?;
        match self.catalog.store().create_team(workspace, &name).await {
            Err(StoreError::Conflict(_)) => Err(CatalogError::Conflict(format!(
                "a team named {name:?} already exists"
            ))),
            other => Ok(other?),
        }
    }

    /// Adds a member to a workspace (CLI and admins). Returns the member and, when none was
    /// given, the generated password.
    pub async fn add_user(
        &self,
        workspace: WorkspaceId,
        new: NewUser,
    ) -> Result<(UserView, Option<String>)> {
        let email = validate::email("email", &new.email)?;
        let name = match &new.name {
            Some(name) => validate::name("name", name)?,
            None => display_name(&email),
        };
        let teams = self.catalog.teams_named(workspace, &new.teams).await?;
        let (password, generated) = match new.password {
            Some(password) => (password, None),
            None => {
                let password = generate_password();
                (SecretString::from(password.clone()), Some(password))
            }
        };
        validate::password("password", password.expose_secret())?;
        let hash = hash_password(password).await?;
        let team_ids: Vec<TeamId> = teams.iter().map(|team| team.id).collect();
        // The member and their teams in one transaction: a failure leaves no one half-added.
        let user = match self
            .catalog
            .store()
            .create_member(workspace, &team_ids, &email, &name, new.role, Some(&hash))
            .await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(CatalogError::Conflict(format!(
                    "{email} is already a member of this workspace"
                )));
            }
            other => other?,
        };
        Ok((self.catalog.user_view(user).await?, generated))
    }

    /// Creates an API token for a member (CLI); the secret is returned once.
    pub async fn issue_token(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        name: Option<&str>,
    ) -> Result<TokenView> {
        let name = match name {
            Some(name) => validate::label("name", name)?,
            None => "api token".to_string(),
        };
        let secret = generate_secret("cairn_");
        let row = self
            .catalog
            .store()
            .create_token(workspace, user, &name, &hash_secret(&secret))
            .await?;
        Ok(TokenView {
            id: row.id.0,
            name: row.name,
            created_at: row.created_at,
            last_used_at: None,
            token: Some(secret),
        })
    }

    /// Deletes a workspace by name and everything in it (the operator, from the CLI).
    pub async fn delete_workspace(&self, name: &str) -> Result<()> {
        let workspace = self.workspace_named(name).await?;
        self.catalog.erase_workspace(workspace.id).await
    }
}

impl Catalog {
    async fn teams_named(&self, workspace: WorkspaceId, names: &[String]) -> Result<Vec<Team>> {
        let names = validate::labels("teams", names)?;
        let known = self.store().list_teams(workspace).await?;
        names
            .iter()
            .map(|name| {
                known
                    .iter()
                    .find(|team| &team.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        CatalogError::invalid("teams", format!("no team named {name:?}"))
                    })
            })
            .collect()
    }

    /// Team names by id, for views.
    pub(crate) async fn team_names(
        &self,
        workspace: WorkspaceId,
        ids: &[TeamId],
    ) -> Result<Vec<String>> {
        let teams = self.store().list_teams(workspace).await?;
        Ok(ids
            .iter()
            .filter_map(|id| teams.iter().find(|team| team.id == *id))
            .map(|team| team.name.clone())
            .collect())
    }

    pub(crate) async fn team_ids_named(
        &self,
        workspace: WorkspaceId,
        names: &[String],
    ) -> Result<Vec<TeamId>> {
        Ok(self
            .teams_named(workspace, names)
            .await?
            .into_iter()
            .map(|team| team.id)
            .collect())
    }

    async fn user_view(&self, user: User) -> Result<UserView> {
        let teams = self.store().teams_of_user(user.workspace, user.id).await?;
        Ok(UserView {
            id: user.id.0,
            email: user.email,
            name: user.name,
            role: user.role,
            teams: teams.into_iter().map(|team| team.name).collect(),
            created_at: user.created_at,
        })
    }

    // ---- the caller ---------------------------------------------------------------------------

    pub async fn me(&self, principal: &Principal) -> Result<MeView> {
        let user = self
            .store()
            .user(principal.workspace, principal.user)
            .await?
            .ok_or(CatalogError::Unauthenticated)?;
        let workspace = self.store().workspace(principal.workspace).await?;
        Ok(MeView {
            user: MeUser {
                id: user.id.0,
                email: user.email,
                name: user.name,
            },
            workspace: MeWorkspace {
                id: workspace.id.0,
                name: workspace.name,
                region: workspace.region,
            },
            role: principal.role,
            teams: self
                .team_names(principal.workspace, &principal.teams)
                .await?,
        })
    }

    pub async fn create_own_token(
        &self,
        principal: &Principal,
        new: NewToken,
    ) -> Result<TokenView> {
        let token = self
            .operator()
            .issue_token(principal.workspace, principal.user, new.name.as_deref())
            .await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "token.created",
            json!({"token": token.id, "name": token.name}),
        )
        .await?;
        Ok(token)
    }

    pub async fn list_own_tokens(&self, principal: &Principal) -> Result<Vec<TokenView>> {
        self.token_views(principal.workspace, principal.user).await
    }

    pub async fn revoke_own_token(&self, principal: &Principal, id: TokenId) -> Result<()> {
        self.revoke_token(principal, principal.user, id, json!({"token": id.0}))
            .await
    }

    /// A member's API tokens, without their secrets.
    async fn token_views(&self, workspace: WorkspaceId, user: UserId) -> Result<Vec<TokenView>> {
        let rows = self.store().list_tokens(workspace, user).await?;
        Ok(rows
            .into_iter()
            .map(|row| TokenView {
                id: row.id.0,
                name: row.name,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
                token: None,
            })
            .collect())
    }

    /// Revokes `user`'s token `id` in the caller's workspace; the audit entry gets `details`.
    async fn revoke_token(
        &self,
        principal: &Principal,
        user: UserId,
        id: TokenId,
        details: serde_json::Value,
    ) -> Result<()> {
        if !self
            .store()
            .delete_token(principal.workspace, user, id)
            .await?
        {
            return Err(CatalogError::NotFound);
        }
        self.audit(
            principal.workspace,
            Some(principal.user),
            "token.revoked",
            details,
        )
        .await
    }

    // ---- administration -----------------------------------------------------------------------

    /// Deletes the caller's workspace and everything in it (admins); `confirm` must repeat
    /// the workspace's name.
    pub async fn delete_workspace(&self, principal: &Principal, confirm: &str) -> Result<()> {
        require_admin(principal, "may do this")?;
        let workspace = self.store().workspace(principal.workspace).await?;
        if confirm != workspace.name {
            return Err(CatalogError::invalid(
                "name",
                "must repeat the workspace's name to confirm",
            ));
        }
        self.erase_workspace(workspace.id).await
    }

    async fn erase_workspace(&self, workspace: WorkspaceId) -> Result<()> {
        self.store().delete_workspace(workspace).await?;
        // Its audit log went with it; the node's log keeps that it happened.
        tracing::warn!(workspace = %workspace, "workspace deleted with everything in it");
        self.follow_changes().await
    }

    /// A member's API tokens, without their secrets (admins).
    pub async fn list_user_tokens(
        &self,
        principal: &Principal,
        user: UserId,
    ) -> Result<Vec<TokenView>> {
        require_admin(principal, "may do this")?;
        self.store()
            .user(principal.workspace, user)
            .await?
            .ok_or(CatalogError::NotFound)?;
        self.token_views(principal.workspace, user).await
    }

    /// Revokes one of a member's API tokens (admins).
    pub async fn revoke_user_token(
        &self,
        principal: &Principal,
        user: UserId,
        id: TokenId,
    ) -> Result<()> {
        require_admin(principal, "may do this")?;
        let details = json!({"token": id.0, "user": user.0});
        self.revoke_token(principal, user, id, details).await
    }

    pub async fn list_users(&self, principal: &Principal) -> Result<Vec<UserView>> {
        require_admin(principal, "may do this")?;
        let mut views = Vec::new();
        for user in self.store().list_users(principal.workspace).await? {
            views.push(self.user_view(user).await?);
        }
        Ok(views)
    }

    pub async fn create_user(
        &self,
        principal: &Principal,
        new: NewUser,
    ) -> Result<(UserView, Option<String>)> {
        require_admin(principal, "may do this")?;
        let (user, password) = self.operator().add_user(principal.workspace, new).await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "user.created",
            // No e-mail: the audit log outlives an erasure, and the id says who it was.
            json!({"user": user.id, "role": user.role}),
        )
        .await?;
        Ok((user, password))
    }

    pub async fn update_user(
        &self,
        principal: &Principal,
        id: UserId,
        patch: UserPatch,
    ) -> Result<UserView> {
        require_admin(principal, "may do this")?;
        let user = self
            .store()
            .user(principal.workspace, id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let name = patch
            .name
            .as_deref()
            .map(|name| validate::name("name", name))
            .transpose()?;
        if id == principal.user && patch.role.is_some_and(|role| role != Role::Admin) {
            self.ensure_another_admin(principal.workspace, id).await?;
        }
        let hash = match patch.password {
            Some(password) => {
                validate::password("password", password.expose_secret())?;
                Some(hash_password(password).await?)
            }
            None => None,
        };
        self.store()
            .update_user(
                principal.workspace,
                user.id,
                name.as_deref(),
                patch.role,
                hash.as_deref(),
            )
            .await?;
        let mut detail = json!({"user": id.0});
        if let Some(role) = patch.role.filter(|role| *role != user.role) {
            detail["role"] = json!({"before": user.role.as_str(), "after": role.as_str()});
        }
        if name.as_deref().is_some_and(|name| name != user.name) {
            detail["name_changed"] = json!(true);
        }
        if hash.is_some() {
            // The store ended the person's sessions with the old password.
            detail["password_reset"] = json!(true);
        }
        self.audit(
            principal.workspace,
            Some(principal.user),
            "user.updated",
            detail,
        )
        .await?;
        let user = self
            .store()
            .user(principal.workspace, id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        self.user_view(user).await
    }

    async fn ensure_another_admin(&self, workspace: WorkspaceId, leaving: UserId) -> Result<()> {
        let admins = self
            .store()
            .list_users(workspace)
            .await?
            .into_iter()
            .filter(|user| user.role == Role::Admin && user.id != leaving)
            .count();
        if admins == 0 {
            return Err(CatalogError::Conflict(
                "a workspace needs at least one admin".to_string(),
            ));
        }
        Ok(())
    }

    /// Removes a member and erases what Cairn holds about them: sessions end at once.
    pub async fn delete_user(&self, principal: &Principal, id: UserId) -> Result<()> {
        require_admin(principal, "may do this")?;
        let user = self
            .store()
            .user(principal.workspace, id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        if user.role == Role::Admin {
            self.ensure_another_admin(principal.workspace, id).await?;
        }
        self.store().delete_user(principal.workspace, id).await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "user.deleted",
            json!({"user": id.0}),
        )
        .await?;
        tracing::info!(workspace = %principal.workspace, user = %id, "member removed");
        Ok(())
    }

    pub async fn list_teams(&self, principal: &Principal) -> Result<Vec<TeamView>> {
        require_admin(principal, "may do this")?;
        let mut views = Vec::new();
        for team in self.store().list_teams(principal.workspace).await? {
            let members = self
                .store()
                .team_members(principal.workspace, team.id)
                .await?;
            views.push(TeamView {
                id: team.id.0,
                name: team.name,
                members: members.into_iter().map(|user| user.0).collect(),
            });
        }
        Ok(views)
    }

    pub async fn create_team(&self, principal: &Principal, name: &str) -> Result<TeamView> {
        require_admin(principal, "may do this")?;
        let team = self.operator().add_team(principal.workspace, name).await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "team.created",
            json!({"team": team.id.0, "name": team.name}),
        )
        .await?;
        Ok(TeamView {
            id: team.id.0,
            name: team.name,
            members: Vec::new(),
        })
    }

    pub async fn add_team_member(
        &self,
        principal: &Principal,
        team: TeamId,
        user: UserId,
    ) -> Result<()> {
        require_admin(principal, "may do this")?;
        let workspace = principal.workspace;
        if self.store().team(workspace, team).await?.is_none()
            || self.store().user(workspace, user).await?.is_none()
        {
            return Err(CatalogError::NotFound);
        }
        self.store().add_team_member(workspace, team, user).await?;
        self.audit(
            workspace,
            Some(principal.user),
            "team.member_added",
            json!({"team": team.0, "user": user.0}),
        )
        .await?;
        Ok(())
    }

    pub async fn remove_team_member(
        &self,
        principal: &Principal,
        team: TeamId,
        user: UserId,
    ) -> Result<()> {
        require_admin(principal, "may do this")?;
        if self
            .store()
            .remove_team_member(principal.workspace, team, user)
            .await?
        {
            self.audit(
                principal.workspace,
                Some(principal.user),
                "team.member_removed",
                json!({"team": team.0, "user": user.0}),
            )
            .await?;
            Ok(())
        } else {
            Err(CatalogError::NotFound)
        }
    }
}
