-- The assistant's memory: threads of prompts and answers, per person.
CREATE TABLE threads (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX threads_user ON threads (workspace_id, user_id);

CREATE TABLE prompts (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    thread_id BIGINT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    sql_text TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX prompts_user ON prompts (workspace_id, user_id, id);
CREATE INDEX prompts_thread ON prompts (thread_id, id);

-- Every request sent to a model provider: what, where, for whom.
CREATE TABLE egress_ledger (
    id ID,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id BIGINT,
    at BIGINT NOT NULL,
    provider TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    region TEXT,
    model TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    body_sha256 TEXT NOT NULL,
    body TEXT NOT NULL,
    resources TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX egress_ledger_workspace ON egress_ledger (workspace_id, id);
