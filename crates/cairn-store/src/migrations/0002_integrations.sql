-- Integrations: connected databases. The connection URL is stored encrypted (AES-256-GCM);
-- the store never sees it in clear. Teams live on the integration's root resource.
CREATE TABLE integrations (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    connection_secret TEXT NOT NULL,
    sync_interval_secs BIGINT NOT NULL,
    last_sync_at BIGINT,
    last_sync_status TEXT,
    sync_lease_until BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

-- Foreign keys, view dependencies and dbt lineage between resources.
CREATE TABLE resource_relations (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    from_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    to_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE
);
CREATE INDEX resource_relations_from ON resource_relations (from_id);
CREATE INDEX resource_relations_to ON resource_relations (to_id);
CREATE INDEX resource_relations_integration ON resource_relations (integration_id);

-- Descriptions imported from dbt, kept apart from crawled comments and people's words.
ALTER TABLE resources ADD COLUMN imported_description TEXT;
