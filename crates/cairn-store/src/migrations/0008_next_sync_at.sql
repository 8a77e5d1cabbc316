-- When each integration is next due, stored per integration: the scheduler compares it with the
-- time and does no arithmetic on what workspaces stored. NULL: due now (never synced). An
-- interval beyond a year (stored before intervals were bounded) is never due on its own.
ALTER TABLE integrations ADD COLUMN next_sync_at BIGINT;
UPDATE integrations SET next_sync_at = CASE
        WHEN sync_interval_secs BETWEEN 0 AND 31536000
            THEN COALESCE(last_sync_at, 0) + sync_interval_secs * 1000
        ELSE 9223372036854775807
    END
    WHERE last_sync_at IS NOT NULL OR sync_interval_secs NOT BETWEEN 0 AND 31536000;
CREATE INDEX integrations_next_sync ON integrations (next_sync_at);
