-- Who may run SQL on an integration: users or teams, granted by admins.
CREATE TABLE integration_permissions (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id BIGINT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    team_id BIGINT REFERENCES teams(id) ON DELETE CASCADE
);
CREATE INDEX integration_permissions_integration ON integration_permissions (integration_id);

-- The append-only audit log: each entry's hash covers the previous entry's hash.
CREATE TABLE audit_log (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor BIGINT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (workspace_id, seq)
);
