//! The access rule. Every read, list, search, citation and tool call in Cairn goes through here.
//!
//! A resource belongs to one or more teams. Admins see every resource of their workspace; other
//! members see a resource when they belong to at least one of its teams. A resource without teams
//! is visible to admins only. Workspaces never mix: the workspace comes from the principal.

use crate::ids::{TeamId, UserId, WorkspaceId};
use crate::resource::{ResourceKind, Role};

/// Who is asking: resolved from the session or token before any other work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    pub workspace: WorkspaceId,
    pub role: Role,
    pub teams: Vec<TeamId>,
}

/// The part of a workspace a principal may see, in the form stores and indexes filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every resource of the workspace.
    Workspace(WorkspaceId),
    /// Resources of the workspace that belong to one of these teams.
    Teams(WorkspaceId, Vec<TeamId>),
}

impl Scope {
    pub fn workspace(&self) -> WorkspaceId {
        match self {
            Scope::Workspace(workspace) | Scope::Teams(workspace, _) => *workspace,
        }
    }

    /// Whether a resource of `workspace` owned by `teams` lies within this scope: the filter
    /// the store and the index apply, for what is held in memory (vectors, ranking facts).
    pub fn admits(&self, workspace: WorkspaceId, teams: &[TeamId]) -> bool {
        match self {
            Scope::Workspace(own) => workspace == *own,
            Scope::Teams(own, allowed) => {
                workspace == *own && teams.iter().any(|team| allowed.contains(team))
            }
        }
    }
}

/// Whether a principal may run SQL on an integration, and if not, which half is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlAccess {
    Allowed,
    RunSqlDisabled,
    NoPermission,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// What this principal may see, for filters in the store and the search index.
    pub fn scope(&self) -> Scope {
        if self.is_admin() {
            Scope::Workspace(self.workspace)
        } else {
            Scope::Teams(self.workspace, self.teams.clone())
        }
    }

    /// The rule itself: may this principal see a resource of `workspace` owned by `teams`?
    pub fn can_see(&self, workspace: WorkspaceId, teams: &[TeamId]) -> bool {
        if workspace != self.workspace {
            return false;
        }
        self.is_admin() || teams.iter().any(|team| self.teams.contains(team))
    }

    /// Editors and admins document what they can see: description, owners, tags.
    pub fn can_edit_metadata(&self, workspace: WorkspaceId, teams: &[TeamId]) -> bool {
        self.role != Role::Viewer && self.can_see(workspace, teams)
    }

    /// Only admins move resources between teams.
    pub fn can_change_teams(&self) -> bool {
        self.is_admin()
    }

    /// Editors create glossary terms and documents for teams they belong to; admins for any team.
    pub fn can_create(&self, kind: ResourceKind, teams: &[TeamId]) -> bool {
        if !kind.is_authored() || self.role == Role::Viewer || teams.is_empty() {
            return false;
        }
        self.is_admin() || teams.iter().all(|team| self.teams.contains(team))
    }

    /// Running SQL on an integration needs both the workspace's "Run SQL" setting and a query
    /// permission granted to the caller or one of their teams. Admins grant permissions; they
    /// need one themselves like everyone else.
    pub fn can_query(
        &self,
        run_sql_enabled: bool,
        granted_users: &[UserId],
        granted_teams: &[TeamId],
    ) -> SqlAccess {
        if !run_sql_enabled {
            return SqlAccess::RunSqlDisabled;
        }
        let granted = granted_users.contains(&self.user)
            || granted_teams.iter().any(|team| self.teams.contains(team));
        if granted {
            SqlAccess::Allowed
        } else {
            SqlAccess::NoPermission
        }
    }

    /// Workspace administration: people, teams, settings, integrations.
    pub fn can_administer(&self) -> bool {
        self.is_admin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, teams: &[i64]) -> Principal {
        Principal {
            user: UserId(1),
            workspace: WorkspaceId(1),
            role,
            teams: teams.iter().copied().map(TeamId).collect(),
        }
    }

    #[test]
    fn members_see_only_their_teams_resources() {
        let viewer = principal(Role::Viewer, &[1]);
        assert!(viewer.can_see(WorkspaceId(1), &[TeamId(1), TeamId(2)]));
        assert!(!viewer.can_see(WorkspaceId(1), &[TeamId(2)]));
        assert!(!viewer.can_see(WorkspaceId(1), &[]));
    }

    #[test]
    fn admins_see_everything_in_their_workspace_only() {
        let admin = principal(Role::Admin, &[]);
        assert!(admin.can_see(WorkspaceId(1), &[TeamId(9)]));
        assert!(admin.can_see(WorkspaceId(1), &[]));
        assert!(!admin.can_see(WorkspaceId(2), &[TeamId(9)]));
    }

    #[test]
    fn a_scope_admits_what_its_principal_may_see() {
        for who in [principal(Role::Viewer, &[1]), principal(Role::Admin, &[])] {
            let scope = who.scope();
            for (workspace, teams) in [
                (1, vec![TeamId(1)]),
                (1, vec![TeamId(2)]),
                (1, vec![]),
                (2, vec![TeamId(1)]),
            ] {
                assert_eq!(
                    scope.admits(WorkspaceId(workspace), &teams),
                    who.can_see(WorkspaceId(workspace), &teams),
                    "{scope:?} {workspace} {teams:?}"
                );
            }
        }
    }

    #[test]
    fn sql_needs_the_setting_and_a_permission() {
        let viewer = principal(Role::Viewer, &[1]);
        assert_eq!(
            viewer.can_query(false, &[UserId(1)], &[]),
            SqlAccess::RunSqlDisabled
        );
        assert_eq!(
            viewer.can_query(true, &[], &[TeamId(2)]),
            SqlAccess::NoPermission
        );
        assert_eq!(
            viewer.can_query(true, &[UserId(1)], &[]),
            SqlAccess::Allowed
        );
        assert_eq!(
            viewer.can_query(true, &[], &[TeamId(1)]),
            SqlAccess::Allowed
        );
        let admin = principal(Role::Admin, &[]);
        assert_eq!(
            admin.can_query(true, &[], &[TeamId(1)]),
            SqlAccess::NoPermission
        );
    }

    #[test]
    fn viewers_never_edit_and_editors_create_only_for_their_teams() {
        let viewer = principal(Role::Viewer, &[1]);
        assert!(!viewer.can_edit_metadata(WorkspaceId(1), &[TeamId(1)]));
        assert!(!viewer.can_create(ResourceKind::Term, &[TeamId(1)]));
        let editor = principal(Role::Editor, &[1]);
        assert!(editor.can_edit_metadata(WorkspaceId(1), &[TeamId(1)]));
        assert!(editor.can_create(ResourceKind::Document, &[TeamId(1)]));
        assert!(!editor.can_create(ResourceKind::Document, &[TeamId(1), TeamId(2)]));
        assert!(!editor.can_create(ResourceKind::Table, &[TeamId(1)]));
        assert!(!editor.can_change_teams());
    }
}
