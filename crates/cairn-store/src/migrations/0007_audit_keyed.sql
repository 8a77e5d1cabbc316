-- The audit chain is keyed: entries written from now on carry an HMAC under a key derived from
-- the server's secret key (`keyed` = 1); older entries keep their plain SHA-256 (`keyed` = 0)
-- and must all come before the first keyed one.
ALTER TABLE audit_log ADD COLUMN keyed BIGINT NOT NULL DEFAULT 0;
-- The last sequence number handed out per workspace: deleting the newest entries never lets a
-- number be used again, so a cut tail shows as a gap.
CREATE TABLE audit_sequence (
    workspace_id BIGINT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL
);
INSERT INTO audit_sequence (workspace_id, last_seq)
    SELECT workspace_id, MAX(seq) FROM audit_log GROUP BY workspace_id;
