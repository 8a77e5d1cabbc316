//! A generated PostgreSQL warehouse for benchmarks: many tables with comments, foreign keys and
//! views, built by the server itself in a few DO blocks.

/// Schemas the tables are spread over.
pub const SCHEMAS: usize = 5;

/// A script creating `tables` tables of `columns` columns (at least 3): table `t{i}` in schema
/// `s{i % 5}`, with `id` as primary key, text columns `c2…` and `parent_id` (a foreign key to
/// `t{i-1}` on every 5th table); every 3rd table and every 4th table's `c3` carry a comment;
/// every 100th table gets a view. Ends by analysing the catalog tables.
pub fn generation_script(tables: usize, columns: usize) -> String {
    let mut script = String::new();
    for schema in 0..SCHEMAS {
        script.push_str(&format!("CREATE SCHEMA s{schema};\n"));
    }
    let text_columns: Vec<String> = (2..columns.max(3))
        .map(|column| format!("c{column} text"))
        .collect();
    let text_columns = text_columns.join(", ");
    let batch = 1_000;
    let mut start = 1;
    while start <= tables {
        let end = (start + batch - 1).min(tables);
        script.push_str(&format!(
            "DO $$
DECLARE i int; s text;
BEGIN
  FOR i IN {start}..{end} LOOP
    s := 's' || (i % {SCHEMAS});
    EXECUTE format('CREATE TABLE %I.%I (id bigint PRIMARY KEY, {text_columns}, parent_id bigint)', s, 't' || i);
    IF i % 5 = 0 AND i > 1 THEN
      EXECUTE format('ALTER TABLE %I.%I ADD FOREIGN KEY (parent_id) REFERENCES %I.%I (id)',
                     s, 't' || i, 's' || ((i - 1) % {SCHEMAS}), 't' || (i - 1));
    END IF;
    IF i % 3 = 0 THEN
      EXECUTE format('COMMENT ON TABLE %I.%I IS %L', s, 't' || i, 'generated table number ' || i);
    END IF;
    IF i % 4 = 0 THEN
      EXECUTE format('COMMENT ON COLUMN %I.%I.c3 IS %L', s, 't' || i, 'third column of table ' || i);
    END IF;
    IF i % 100 = 0 THEN
      EXECUTE format('CREATE VIEW %I.%I AS SELECT id, c2, c3 FROM %I.%I', s, 'v' || i, s, 't' || i);
    END IF;
  END LOOP;
END $$;
"
        ));
        start = end + 1;
    }
    script.push_str(
        "VACUUM ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_constraint, \
         pg_catalog.pg_depend, pg_catalog.pg_description, pg_catalog.pg_namespace, \
         pg_catalog.pg_rewrite, pg_catalog.pg_type;\n",
    );
    script
}
