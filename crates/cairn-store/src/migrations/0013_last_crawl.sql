-- What each integration's last applied crawl found, with the source's digest of its catalog
-- (kept by the catalog as JSON, written in the crawl's own transaction): a re-sync whose source
-- gives the same digest need not crawl at all.
ALTER TABLE integrations ADD COLUMN last_crawl TEXT;
