-- Cairn store, first schema. Written once for both backends: `ID` is replaced by each
-- backend's auto-increment primary key, `DOUBLE` by its double type. Times are unix milliseconds.
CREATE TABLE workspaces (
    id ID,
    name TEXT NOT NULL UNIQUE,
    region TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, email)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE teams (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE team_members (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    team_id BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE sessions (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE resources (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    parent_id BIGINT REFERENCES resources(id) ON DELETE CASCADE,
    integration_id BIGINT,
    description TEXT,
    source_description TEXT,
    data_type TEXT,
    definition TEXT,
    popularity DOUBLE,
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, kind, path)
);
CREATE INDEX resources_parent ON resources (parent_id);
CREATE INDEX resources_integration ON resources (integration_id);

CREATE TABLE resource_teams (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    resource_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    team_id BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (resource_id, team_id)
);
CREATE INDEX resource_teams_team ON resource_teams (team_id);

-- Tags and owners. `source` keeps what people wrote ('user') apart from what was crawled or
-- imported ('crawl'), so a re-sync never overwrites people's work.
CREATE TABLE resource_labels (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    resource_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (resource_id, label, value, source)
);
CREATE INDEX resource_labels_value ON resource_labels (workspace_id, label, value);

-- The change feed: one row per change of a resource, in commit order. Search indexes follow it.
CREATE TABLE changes (
    seq ID,
    workspace_id BIGINT NOT NULL,
    resource_id BIGINT NOT NULL,
    at BIGINT NOT NULL
);
