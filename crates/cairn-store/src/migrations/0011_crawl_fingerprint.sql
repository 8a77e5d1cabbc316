-- A fingerprint of the last crawl applied to each integration (every item's content hash and
-- every relation): a re-sync whose crawl matches it has nothing to compare or write.
ALTER TABLE integrations ADD COLUMN crawl_fingerprint BIGINT;
