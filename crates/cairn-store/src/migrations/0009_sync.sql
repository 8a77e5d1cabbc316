-- A hash of each crawled resource's crawled fields: a re-sync compares hashes and writes only
-- the resources whose hash changed. NULL (resources synced before this column) counts as changed.
ALTER TABLE resources ADD COLUMN crawl_hash BIGINT;

-- Each sync, running or done: what phase it is in and what it did, for progress and history.
CREATE TABLE syncs (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id BIGINT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    added BIGINT,
    changed BIGINT,
    removed BIGINT,
    error TEXT
);
CREATE INDEX syncs_integration ON syncs (integration_id, id);
