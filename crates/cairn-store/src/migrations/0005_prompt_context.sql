-- What a thread of the offline assistant remembers between turns: the tables it was about and
-- its last query, as JSON (names and ids only, never values read from a database's rows).
ALTER TABLE prompts ADD COLUMN context TEXT;
