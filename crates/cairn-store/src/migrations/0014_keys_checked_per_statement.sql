-- PostgreSQL checks a foreign key row by row, running a query per row written. A sync writes a
-- resource and a team row per crawled object, and the four keys of those two rows (a resource's
-- workspace and parent, a team row's resource and team) took most of a sync's time: written
-- without them, the 210,000 rows of each took about a third as long.
--
-- On PostgreSQL the four keys are kept by triggers instead, which see a statement's rows at
-- once (transition tables) and check them in one query each, with the same guarantees:
-- - a row written cannot name a workspace, parent, resource or team that does not exist;
-- - what it names is locked against deletion (FOR KEY SHARE) until the writer commits, like a
--   key's own check, except rows the writer created in this transaction: no one else sees
--   them, so no one else can delete them;
-- - deleting a workspace, a resource or a team deletes what hangs from it (ON DELETE CASCADE),
--   a statement's deletions at once;
-- - the ids the keys name never change.
-- SQLite checks keys in-process, where they cost little: it keeps them.
--@postgres begin
ALTER TABLE resources
    DROP CONSTRAINT resources_workspace_id_fkey,
    DROP CONSTRAINT resources_parent_id_fkey;
ALTER TABLE resource_teams
    DROP CONSTRAINT resource_teams_resource_id_fkey,
    DROP CONSTRAINT resource_teams_team_id_fkey;

-- The checks look rows up by key, a statement's distinct keys at once (`= ANY`), so a statement
-- costs what it writes. Left to itself, a planner working from statistics taken before a large
-- sync would scan the whole table once per statement instead, and compile the scan (JIT).

-- Whether every resource in `named` exists; those that others created are locked against
-- deletion until this transaction ends (whether they were deleted before it is known when the
-- lock is granted).
CREATE FUNCTION cairn_resources_exist(named bigint[]) RETURNS boolean LANGUAGE plpgsql
SET jit = off SET enable_seqscan = off AS $$
DECLARE
    found bigint;
    others bigint[];
BEGIN
    SELECT count(*), coalesce(array_agg(id) FILTER (WHERE xmin <> pg_current_xact_id()::xid), '{}')
    INTO found, others
    FROM resources WHERE id = ANY (named);
    IF found < cardinality(named) THEN
        RETURN false;
    END IF;
    RETURN cardinality(others) = 0
        OR (SELECT count(*) FROM (SELECT FROM resources WHERE id = ANY (others) FOR KEY SHARE) AS kept)
           = cardinality(others);
END
$$;

CREATE FUNCTION cairn_resources_written() RETURNS trigger LANGUAGE plpgsql
SET jit = off SET enable_seqscan = off AS $$
DECLARE
    named bigint[];
BEGIN
    named := ARRAY(SELECT DISTINCT workspace_id FROM written);
    IF (SELECT count(*) FROM (SELECT FROM workspaces WHERE id = ANY (named) FOR KEY SHARE) AS kept)
       < cardinality(named) THEN
        RAISE EXCEPTION 'a resource names a workspace that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'resources',
                  CONSTRAINT = 'resources_workspace_id_fkey';
    END IF;
    named := ARRAY(SELECT DISTINCT parent_id FROM written WHERE parent_id IS NOT NULL);
    IF NOT cairn_resources_exist(named) THEN
        RAISE EXCEPTION 'a resource names a parent that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'resources',
                  CONSTRAINT = 'resources_parent_id_fkey';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER resources_inserted AFTER INSERT ON resources
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_resources_written();
CREATE TRIGGER resources_updated AFTER UPDATE ON resources
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_resources_written();

CREATE FUNCTION cairn_resource_teams_written() RETURNS trigger LANGUAGE plpgsql
SET jit = off SET enable_seqscan = off AS $$
DECLARE
    named bigint[];
BEGIN
    named := ARRAY(SELECT DISTINCT team_id FROM written);
    IF (SELECT count(*) FROM (SELECT FROM teams WHERE id = ANY (named) FOR KEY SHARE) AS kept)
       < cardinality(named) THEN
        RAISE EXCEPTION 'a resource''s team row names a team that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'resource_teams',
                  CONSTRAINT = 'resource_teams_team_id_fkey';
    END IF;
    IF NOT cairn_resources_exist(ARRAY(SELECT DISTINCT resource_id FROM written)) THEN
        RAISE EXCEPTION 'a resource''s team row names a resource that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'resource_teams',
                  CONSTRAINT = 'resource_teams_resource_id_fkey';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER resource_teams_inserted AFTER INSERT ON resource_teams
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_resource_teams_written();
CREATE TRIGGER resource_teams_updated AFTER UPDATE ON resource_teams
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_resource_teams_written();

CREATE FUNCTION cairn_workspaces_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM resources WHERE workspace_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER workspaces_deleted AFTER DELETE ON workspaces
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_workspaces_deleted();

-- Deleting children deletes theirs in turn, one level of the tree a statement; a statement that
-- deleted nothing ends it.
CREATE FUNCTION cairn_resources_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone) THEN
        DELETE FROM resource_teams WHERE resource_id IN (SELECT id FROM gone);
        DELETE FROM resources WHERE parent_id IN (SELECT id FROM gone);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER resources_deleted AFTER DELETE ON resources
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_resources_deleted();

CREATE FUNCTION cairn_teams_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM resource_teams WHERE team_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER teams_deleted AFTER DELETE ON teams
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_teams_deleted();

CREATE FUNCTION cairn_id_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the id of a row in % never changes', TG_TABLE_NAME
        USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
END
$$;
CREATE TRIGGER workspaces_id_kept BEFORE UPDATE OF id ON workspaces
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION cairn_id_kept();
CREATE TRIGGER teams_id_kept BEFORE UPDATE OF id ON teams
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION cairn_id_kept();
CREATE TRIGGER resources_id_kept BEFORE UPDATE OF id ON resources
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION cairn_id_kept();
--@postgres end
