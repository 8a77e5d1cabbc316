//! The PostgreSQL crawler: six set-based catalog queries, whatever the number of tables.

use std::collections::HashMap;
use std::str::FromStr;

use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, Row};

use crate::Crawl;
use crate::error::{ConnectError, Redactor};
use crate::model::{
    CrawledObject, Found, ObjectKind, RelationKind, clean_description, popularity_of_step,
};

/// Columns expected per table, to size the maps a crawl fills before it knows how many come.
const COLUMNS_PER_RELATION: usize = 16;

/// The oldest supported server (`server_version_num`).
const MINIMUM_VERSION_NUM: i32 = 110_000;

/// Non-system schemas, for `n` = `pg_namespace`.
macro_rules! user_schemas {
    () => {
        "n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
    };
}

/// The relation kinds crawled: tables, partitioned tables, foreign tables, views, materialized
/// views.
macro_rules! crawled_relkinds {
    () => {
        "('r', 'p', 'f', 'v', 'm')"
    };
}

const VERSION_QUERY: &str = "SELECT current_setting('server_version_num')::int4, \
     current_setting('server_version'), current_database()::text, \
     shobj_description(d.oid, 'pg_database') \
     FROM pg_database d WHERE d.datname = current_database()";

const SCHEMAS_QUERY: &str = concat!(
    "SELECT n.oid::int8, n.nspname::text, d.description \
     FROM pg_namespace n \
     LEFT JOIN pg_description d ON d.objoid = n.oid \
       AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0 \
     WHERE ",
    user_schemas!()
);

/// Tables and views, with their popularity as a step from 0 (unused) to 20 (the most used):
/// `ln(1 + scans) / ln(1 + the most scans)` in twentieths, computed here so that the digest of
/// this query's rows changes exactly when a crawl's popularity would (the raw scan counts grow
/// with every query a warehouse answers; the steps rarely move).
///
/// A table's scans are its sequential scans and its indexes' scans, what `pg_stat_user_tables`
/// reports as `seq_scan` and `idx_scan`, read with the two statistics functions that view
/// calls instead of the view itself, which computes some twenty figures a table.
const RELATIONS_QUERY: &str = concat!(
    "SELECT oid, relnamespace, relname, relkind, description, definition, \
       CASE WHEN scans IS NULL THEN NULL \
         WHEN scans <= 0 OR most <= 0 THEN 0 \
         ELSE round(least(ln(1 + scans) / ln(1 + most), 1) * 20)::int4 END \
     FROM (SELECT c.oid::int8 AS oid, c.relnamespace::int8 AS relnamespace, \
       c.relname::text AS relname, c.relkind::text AS relkind, d.description, \
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition, \
       s.scans, max(s.scans) OVER () AS most \
     FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_description d ON d.objoid = c.oid \
       AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0 \
     LEFT JOIN LATERAL (SELECT (pg_stat_get_numscans(c.oid) + COALESCE((SELECT \
         sum(pg_stat_get_numscans(i.indexrelid)) FROM pg_index i WHERE i.indrelid = c.oid), 0) \
       )::float8 AS scans WHERE c.relkind IN ('r', 'p', 'm', 'f')) s ON true \
     WHERE c.relkind IN ",
    crawled_relkinds!(),
    " AND ",
    user_schemas!(),
    ") r"
);

/// The crawled columns (`a`) with their comments (`d`): what the columns query reads and the
/// digest covers, so both name the same rows.
macro_rules! crawled_columns {
    () => {
        concat!(
            "FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_description d ON d.objoid = a.attrelid \
               AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ",
            crawled_relkinds!(),
            " AND ",
            user_schemas!()
        )
    };
}

const COLUMNS_QUERY: &str = concat!(
    "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), \
       NOT a.attnotnull, a.attnum::int8, d.description ",
    crawled_columns!()
);

/// Primary keys (`p`) and foreign keys (`f`) as attribute-number arrays; the crawler maps the
/// numbers to the columns it already read (no join on pg_attribute).
const CONSTRAINTS_QUERY: &str = concat!(
    "SELECT con.contype::text, con.conrelid::int8, con.conkey, con.confrelid::int8, con.confkey \
     FROM pg_constraint con \
     JOIN pg_namespace n ON n.oid = con.connamespace \
     WHERE con.contype IN ('p', 'f') AND con.conrelid <> 0 AND ",
    user_schemas!()
);

/// Which relations each view (or materialized view) reads, through its rewrite rule.
const VIEW_DEPENDENCIES_QUERY: &str = concat!(
    "SELECT DISTINCT r.ev_class::int8, dep.refobjid::int8 \
     FROM pg_rewrite r \
     JOIN pg_class v ON v.oid = r.ev_class \
     JOIN pg_namespace n ON n.oid = v.relnamespace \
     JOIN pg_depend dep ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = r.oid \
       AND dep.refclassid = 'pg_class'::regclass AND dep.refobjid <> r.ev_class \
     WHERE v.relkind IN ('v', 'm') AND ",
    user_schemas!()
);

/// The catalog queries a PostgreSQL crawl runs, in order, each once (for benchmarks that compare
/// the crawl with the raw queries).
pub const CATALOG_QUERIES: &[&str] = &[
    VERSION_QUERY,
    SCHEMAS_QUERY,
    RELATIONS_QUERY,
    COLUMNS_QUERY,
    CONSTRAINTS_QUERY,
    VIEW_DEPENDENCIES_QUERY,
];

/// Part of every digest: raised when what a crawl makes of the same catalog changes, or what
/// the digest covers, so that a digest an older Cairn kept never matches.
const DIGEST_VERSION: &str = "cairn postgres catalog 2";

/// The setting `format_type` depends on: a type outside the search path is named with its
/// schema.
const SETTINGS_QUERY: &str = "SELECT current_setting('search_path')";

/// Each crawled column as the versions (`xmin`) of the catalog rows its fields come from: its
/// `pg_attribute` row (name, type, nullability, position) and its comment's row. A change to any
/// of them writes a new row version, so these change whenever the columns query's rows would,
/// for a fraction of what hashing those rows costs: with tens of thousands of tables, the
/// columns dominate a digest.
const COLUMN_VERSIONS_QUERY: &str = concat!(
    "SELECT a.attrelid, a.attnum, a.xmin, d.xmin ",
    crawled_columns!()
);

/// The versions of the types created in this database (from `FirstNormalObjectId` on): a
/// column's type is named after its `pg_type` row, which a rename or a move to another schema
/// rewrites without touching the column's own row. Built-in types change only with the server's
/// version, which the digest holds.
const TYPE_VERSIONS_QUERY: &str = "SELECT t.oid, t.xmin FROM pg_type t WHERE t.oid >= 16384";

/// What the digest hashes: the crawl's own queries, except that the columns are covered by the
/// versions of the rows they are read from.
const DIGEST_QUERIES: &[&str] = &[
    VERSION_QUERY,
    SETTINGS_QUERY,
    SCHEMAS_QUERY,
    RELATIONS_QUERY,
    COLUMN_VERSIONS_QUERY,
    TYPE_VERSIONS_QUERY,
    CONSTRAINTS_QUERY,
    VIEW_DEPENDENCIES_QUERY,
];

/// One statement giving a digest of the catalog a crawl reads, computed by the server: the same
/// digest in the same database, the same crawl. Each query's rows are hashed one by one with
/// the server's own 64-bit hash (of the row itself from PostgreSQL 14, which has
/// `hash_record_extended`; of its text before) and summed, beside their count, so the order a
/// plan happens to give the rows in does not matter; the summaries are hashed with SHA-256.
/// Nothing crosses the wire but the digest, and it costs the server less than sending the rows.
///
/// The row hash is no cryptographic one: it tells changes apart, which is all a digest is for
/// (whoever can change the database's catalog decides what it holds anyway). A change that
/// writes a column's catalog rows again without changing what a crawl reads of them (a `GRANT`
/// on a column, say) changes the digest too; that costs one crawl that finds nothing to write,
/// as would a server upgrade that hashed differently.
fn digest_query(version_num: i32) -> String {
    let row_hash = if version_num >= 140_000 {
        "hash_record_extended(q, 0)"
    } else {
        "hashtextextended(q::text, 0)"
    };
    let summaries: Vec<String> = DIGEST_QUERIES
        .iter()
        .map(|query| {
            format!("(SELECT count(*) || ':' || COALESCE(sum({row_hash}), 0) FROM ({query}) q)")
        })
        .collect();
    format!(
        "SELECT encode(sha256(convert_to(concat_ws(' ', '{DIGEST_VERSION}', {}), 'UTF8')), 'hex')",
        summaries.join(", ")
    )
}

struct Relation {
    schema: String,
    name: String,
}

impl Relation {
    /// `[database, schema, relation]`, or a column's path below it.
    fn path(&self, database: &str, column: Option<String>) -> Vec<String> {
        let mut path = vec![database.to_owned(), self.schema.clone(), self.name.clone()];
        path.extend(column);
        path
    }
}

pub(crate) async fn crawl(
    url: &str,
    redactor: &Redactor,
    known: Option<&str>,
) -> Result<Crawl, ConnectError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|error| crate::classify_sqlx_error(&error, redactor))?
        .application_name("cairn-crawler");
    let mut connection: PgConnection =
        crate::connect_with_timeout(PgConnection::connect_with(&options), redactor).await?;
    let result = crawl_connected(&mut connection, redactor, known).await;
    let _ = connection.close().await;
    result
}

/// Reads everything in one snapshot (repeatable read), the digest first: a crawl that finds the
/// digest it was given stops there, and one that does not returns the digest of what it read.
async fn crawl_connected(
    connection: &mut PgConnection,
    redactor: &Redactor,
    known: Option<&str>,
) -> Result<Crawl, ConnectError> {
    let failed = crate::classifier(redactor);
    sqlx::raw_sql(
        "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; \
         SET LOCAL statement_timeout = '300s'",
    )
    .execute(&mut *connection)
    .await
    .map_err(failed)?;
    let (version_num, server_version, database_object) = read_version(connection, redactor).await?;
    let digest: String = sqlx::query_scalar(sqlx::AssertSqlSafe(digest_query(version_num)))
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;
    if known == Some(digest.as_str()) {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
        return Ok(Crawl::Unchanged);
    }
    let database = database_object.name().to_owned();
    let mut found = Found::default();
    found.push(database_object);
    let schemas = read_schemas(connection, redactor, &database, &mut found).await?;
    let by_oid = read_relations(connection, redactor, &database, &schemas, &mut found).await?;
    let column_index = read_columns(connection, redactor, &database, &by_oid, &mut found).await?;
    read_keys(connection, redactor, &column_index, &mut found).await?;
    read_view_dependencies(connection, redactor, &database, &by_oid, &mut found).await?;
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
    Ok(Crawl::Crawled {
        catalog: found.finish(server_version),
        digest: Some(digest),
    })
}

/// The server's version number and name (refused when too old) and the connected database,
/// with its comment.
async fn read_version(
    connection: &mut PgConnection,
    redactor: &Redactor,
) -> Result<(i32, String, CrawledObject), ConnectError> {
    let failed = crate::classifier(redactor);
    let row = sqlx::query(VERSION_QUERY)
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;
    let version_num: i32 = row.try_get(0).map_err(failed)?;
    let version: String = row.try_get(1).map_err(failed)?;
    let database: String = row.try_get(2).map_err(failed)?;
    let server_version = check_version(version_num, &version)?;
    let mut database_object = CrawledObject::new(ObjectKind::Database, vec![database]);
    database_object.description = clean_description(row.try_get(3).map_err(failed)?);
    Ok((version_num, server_version, database_object))
}

/// The non-system schemas; returns their names by oid.
async fn read_schemas(
    connection: &mut PgConnection,
    redactor: &Redactor,
    database: &str,
    found: &mut Found,
) -> Result<HashMap<i64, String>, ConnectError> {
    let failed = crate::classifier(redactor);
    let mut schemas: HashMap<i64, String> = HashMap::new();
    for row in sqlx::query(SCHEMAS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?
    {
        let oid: i64 = row.try_get(0).map_err(failed)?;
        let name: String = row.try_get(1).map_err(failed)?;
        let mut object =
            CrawledObject::new(ObjectKind::Schema, vec![database.to_owned(), name.clone()]);
        object.description = clean_description(row.try_get(2).map_err(failed)?);
        found.push(object);
        schemas.insert(oid, name);
    }
    Ok(schemas)
}

/// Tables and views with their popularity (from the scan counts); returns them by oid.
async fn read_relations(
    connection: &mut PgConnection,
    redactor: &Redactor,
    database: &str,
    schemas: &HashMap<i64, String>,
    found: &mut Found,
) -> Result<HashMap<i64, Relation>, ConnectError> {
    let failed = crate::classifier(redactor);
    let relation_rows = sqlx::query(RELATIONS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?;
    let mut by_oid: HashMap<i64, Relation> = HashMap::with_capacity(relation_rows.len());
    for row in &relation_rows {
        let (oid, relation, object) = relation_from_row(row, database, schemas)
            .map_err(failed)?
            .ok_or_else(|| {
                ConnectError::CrawlFailed("a relation's schema vanished during the crawl".into())
            })?;
        found.push(object);
        by_oid.insert(oid, relation);
    }
    Ok(by_oid)
}

/// The columns of the relations read; returns their indexes in `found` by (relation oid,
/// attribute number).
async fn read_columns(
    connection: &mut PgConnection,
    redactor: &Redactor,
    database: &str,
    by_oid: &HashMap<i64, Relation>,
    found: &mut Found,
) -> Result<HashMap<(i64, i64), usize>, ConnectError> {
    let failed = crate::classifier(redactor);
    // Each row is mapped as it arrives, while the server sends the next ones, and none is kept.
    let mut column_rows = sqlx::query(COLUMNS_QUERY).fetch(&mut *connection);
    let mut column_index: HashMap<(i64, i64), usize> =
        HashMap::with_capacity(by_oid.len() * COLUMNS_PER_RELATION);
    found.objects.reserve(by_oid.len() * COLUMNS_PER_RELATION);
    while let Some(row) = column_rows.try_next().await.map_err(failed)? {
        let relation_oid: i64 = row.try_get(0).map_err(failed)?;
        let Some(relation) = by_oid.get(&relation_oid) else {
            continue;
        };
        let name: String = row.try_get(1).map_err(failed)?;
        let path = relation.path(database, Some(name));
        let mut object = CrawledObject::new(ObjectKind::Column, path);
        object.data_type = row.try_get(2).map_err(failed)?;
        object.nullable = Some(row.try_get(3).map_err(failed)?);
        object.position = Some(row.try_get(4).map_err(failed)?);
        object.description = clean_description(row.try_get(5).map_err(failed)?);
        let position = object.position.unwrap_or_default();
        column_index.insert((relation_oid, position), found.push(object));
    }
    Ok(column_index)
}

/// Primary keys mark their columns; each foreign key column pair becomes a relation.
async fn read_keys(
    connection: &mut PgConnection,
    redactor: &Redactor,
    column_index: &HashMap<(i64, i64), usize>,
    found: &mut Found,
) -> Result<(), ConnectError> {
    let failed = crate::classifier(redactor);
    for row in sqlx::query(CONSTRAINTS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?
    {
        let kind: String = row.try_get(0).map_err(failed)?;
        let relation_oid: i64 = row.try_get(1).map_err(failed)?;
        let columns: Vec<i16> = row.try_get(2).map_err(failed)?;
        if kind == "p" {
            for column in columns {
                if let Some(&index) = column_index.get(&(relation_oid, i64::from(column))) {
                    found.objects[index].primary_key = true;
                }
            }
            continue;
        }
        let referenced_oid: i64 = row.try_get(3).map_err(failed)?;
        let referenced_columns: Vec<i16> = row.try_get(4).map_err(failed)?;
        for (column, referenced_column) in columns.into_iter().zip(referenced_columns) {
            let from = column_index.get(&(relation_oid, i64::from(column)));
            let to = column_index.get(&(referenced_oid, i64::from(referenced_column)));
            if let (Some(&from), Some(&to)) = (from, to) {
                let (from, to) = (
                    found.objects[from].path.clone(),
                    found.objects[to].path.clone(),
                );
                found.relate(RelationKind::ForeignKey, from, to);
            }
        }
    }
    Ok(())
}

/// Which relations each view reads.
async fn read_view_dependencies(
    connection: &mut PgConnection,
    redactor: &Redactor,
    database: &str,
    by_oid: &HashMap<i64, Relation>,
    found: &mut Found,
) -> Result<(), ConnectError> {
    let failed = crate::classifier(redactor);
    for row in sqlx::query(VIEW_DEPENDENCIES_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?
    {
        let view_oid: i64 = row.try_get(0).map_err(failed)?;
        let read_oid: i64 = row.try_get(1).map_err(failed)?;
        if let (Some(view), Some(read)) = (by_oid.get(&view_oid), by_oid.get(&read_oid)) {
            found.relate(
                RelationKind::ViewDependency,
                view.path(database, None),
                read.path(database, None),
            );
        }
    }
    Ok(())
}

/// `PostgreSQL VERSION` for supported servers (11 and newer).
fn check_version(version_num: i32, version: &str) -> Result<String, ConnectError> {
    if version_num < MINIMUM_VERSION_NUM {
        return Err(ConnectError::UnsupportedVersion(format!(
            "postgresql {version} is too old: cairn needs postgresql 11 or newer"
        )));
    }
    Ok(format!("PostgreSQL {version}"))
}

type RelationParts = (i64, Relation, CrawledObject);

fn relation_from_row(
    row: &PgRow,
    database: &str,
    schemas: &HashMap<i64, String>,
) -> Result<Option<RelationParts>, sqlx::Error> {
    let oid: i64 = row.try_get(0)?;
    let schema_oid: i64 = row.try_get(1)?;
    let Some(schema) = schemas.get(&schema_oid) else {
        return Ok(None);
    };
    let name: String = row.try_get(2)?;
    let relkind: String = row.try_get(3)?;
    let kind = if relkind == "v" || relkind == "m" {
        ObjectKind::View
    } else {
        ObjectKind::Table
    };
    let mut object = CrawledObject::new(
        kind,
        vec![database.to_owned(), schema.clone(), name.clone()],
    );
    object.description = clean_description(row.try_get(4)?);
    object.definition = row
        .try_get::<Option<String>, _>(5)?
        .map(|definition| definition.trim().to_owned());
    object.popularity = row.try_get::<Option<i32>, _>(6)?.map(popularity_of_step);
    Ok(Some((
        oid,
        Relation {
            schema: schema.clone(),
            name,
        },
        object,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_older_than_11_are_refused() {
        assert_eq!(check_version(150_018, "15.18").unwrap(), "PostgreSQL 15.18");
        assert!(check_version(110_000, "11.0").is_ok());
        let error = check_version(100_023, "10.23").unwrap_err();
        assert_eq!(error.code(), "unsupported_version");
        assert_eq!(
            error.to_string(),
            "unsupported server version: postgresql 10.23 is too old: cairn needs postgresql 11 or newer"
        );
    }

    /// Both spellings of the digest (from PostgreSQL 14, and before) run on the test server:
    /// each is a 64-digit hex string, the same twice over, different after a change.
    #[tokio::test]
    async fn both_digests_are_stable_and_see_changes() {
        let Some(server) = cairn_testkit::postgres() else {
            return;
        };
        let db = server.create_database_named("digests");
        server.psql(&db, "CREATE TABLE t (id int)").unwrap();
        let options = PgConnectOptions::from_str(&server.url(&db)).unwrap();
        let mut connection = PgConnection::connect_with(&options).await.unwrap();
        for version_num in [130_000, 150_000] {
            let query = || sqlx::query_scalar(sqlx::AssertSqlSafe(digest_query(version_num)));
            let first: String = query().fetch_one(&mut connection).await.unwrap();
            assert_eq!(first.len(), 64, "{first}");
            assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
            let again: String = query().fetch_one(&mut connection).await.unwrap();
            assert_eq!(first, again, "{version_num}");
            server
                .psql(
                    &db,
                    &format!("ALTER TABLE t ADD COLUMN c{version_num} text"),
                )
                .unwrap();
            let after: String = query().fetch_one(&mut connection).await.unwrap();
            assert_ne!(first, after, "{version_num}");
        }
    }

    #[test]
    fn every_catalog_query_skips_the_system_schemas() {
        for query in &CATALOG_QUERIES[1..] {
            assert!(
                query.contains("NOT IN ('pg_catalog', 'information_schema')"),
                "{query}"
            );
        }
    }
}
