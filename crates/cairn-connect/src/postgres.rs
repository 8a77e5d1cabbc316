//! The PostgreSQL crawler: six set-based catalog queries, whatever the number of tables.

use std::collections::HashMap;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, Row};

use crate::error::{ConnectError, Redactor};
use crate::model::{
    CrawledCatalog, CrawledObject, CrawledRelation, ObjectKind, RelationKind, clean_description,
    normalise_popularity,
};

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

const RELATIONS_QUERY: &str = concat!(
    "SELECT c.oid::int8, c.relnamespace::int8, c.relname::text, c.relkind::text, d.description, \
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END, \
       CASE WHEN c.relkind IN ('r', 'p', 'm', 'f') \
         THEN (COALESCE(s.seq_scan, 0) + COALESCE(s.idx_scan, 0))::float8 END \
     FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_description d ON d.objoid = c.oid \
       AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0 \
     LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
     WHERE c.relkind IN ",
    crawled_relkinds!(),
    " AND ",
    user_schemas!()
);

const COLUMNS_QUERY: &str = concat!(
    "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), \
       NOT a.attnotnull, a.attnum::int8, d.description \
     FROM pg_attribute a \
     JOIN pg_class c ON c.oid = a.attrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_description d ON d.objoid = a.attrelid \
       AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum \
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ",
    crawled_relkinds!(),
    " AND ",
    user_schemas!()
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

struct Relation {
    schema: String,
    name: String,
}

pub(crate) async fn crawl(url: &str, redactor: &Redactor) -> Result<CrawledCatalog, ConnectError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|error| crate::classify_sqlx_error(&error, redactor))?
        .application_name("cairn-crawler");
    let mut connection: PgConnection =
        crate::connect_with_timeout(PgConnection::connect_with(&options), redactor).await?;
    let result = crawl_connected(&mut connection, redactor).await;
    let _ = connection.close().await;
    result
}

async fn crawl_connected(
    connection: &mut PgConnection,
    redactor: &Redactor,
) -> Result<CrawledCatalog, ConnectError> {
    let failed = |error: sqlx::Error| crate::classify_sqlx_error(&error, redactor);

    let version_row = sqlx::query(VERSION_QUERY)
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;
    let version_num: i32 = version_row.try_get(0).map_err(failed)?;
    let version: String = version_row.try_get(1).map_err(failed)?;
    let database: String = version_row.try_get(2).map_err(failed)?;
    let server_version = check_version(version_num, &version)?;

    sqlx::raw_sql("BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = '300s'")
        .execute(&mut *connection)
        .await
        .map_err(failed)?;

    let mut objects = Vec::new();
    let mut relations = Vec::new();
    let mut database_object = CrawledObject::new(ObjectKind::Database, vec![database.clone()]);
    database_object.description = clean_description(version_row.try_get(3).map_err(failed)?);
    objects.push(database_object);

    let mut schemas: HashMap<i64, String> = HashMap::new();
    for row in sqlx::query(SCHEMAS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?
    {
        let oid: i64 = row.try_get(0).map_err(failed)?;
        let name: String = row.try_get(1).map_err(failed)?;
        let mut object =
            CrawledObject::new(ObjectKind::Schema, vec![database.clone(), name.clone()]);
        object.description = clean_description(row.try_get(2).map_err(failed)?);
        objects.push(object);
        schemas.insert(oid, name);
    }

    let relation_rows = sqlx::query(RELATIONS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?;
    let mut by_oid: HashMap<i64, Relation> = HashMap::with_capacity(relation_rows.len());
    let mut usage: Vec<(usize, f64)> = Vec::new();
    for row in &relation_rows {
        let (oid, relation, object, scans) = relation_from_row(row, &database, &schemas)
            .map_err(failed)?
            .ok_or_else(|| {
                ConnectError::CrawlFailed("a relation's schema vanished during the crawl".into())
            })?;
        if let Some(scans) = scans {
            usage.push((objects.len(), scans));
        }
        objects.push(object);
        by_oid.insert(oid, relation);
    }
    drop(relation_rows);
    let most_used = usage.iter().map(|(_, scans)| *scans).fold(0.0, f64::max);
    for (index, scans) in usage {
        objects[index].popularity = Some(normalise_popularity(scans, most_used));
    }

    let column_path = |relation: &Relation, column: String| {
        vec![
            database.clone(),
            relation.schema.clone(),
            relation.name.clone(),
            column,
        ]
    };

    let column_rows = sqlx::query(COLUMNS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?;
    // (relation oid, attribute number) -> index into objects
    let mut column_index: HashMap<(i64, i64), usize> = HashMap::with_capacity(column_rows.len());
    objects.reserve(column_rows.len());
    for row in &column_rows {
        let relation_oid: i64 = row.try_get(0).map_err(failed)?;
        let Some(relation) = by_oid.get(&relation_oid) else {
            continue;
        };
        let name: String = row.try_get(1).map_err(failed)?;
        let mut object =
            CrawledObject::new(ObjectKind::Column, column_path(relation, name.clone()));
        object.data_type = row.try_get(2).map_err(failed)?;
        object.nullable = Some(row.try_get(3).map_err(failed)?);
        object.position = Some(row.try_get(4).map_err(failed)?);
        object.description = clean_description(row.try_get(5).map_err(failed)?);
        column_index.insert(
            (relation_oid, object.position.unwrap_or_default()),
            objects.len(),
        );
        objects.push(object);
    }
    drop(column_rows);

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
                    objects[index].primary_key = true;
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
                relations.push(CrawledRelation {
                    kind: RelationKind::ForeignKey,
                    from: objects[from].path.clone(),
                    to: objects[to].path.clone(),
                });
            }
        }
    }

    for row in sqlx::query(VIEW_DEPENDENCIES_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?
    {
        let view_oid: i64 = row.try_get(0).map_err(failed)?;
        let read_oid: i64 = row.try_get(1).map_err(failed)?;
        if let (Some(view), Some(read)) = (by_oid.get(&view_oid), by_oid.get(&read_oid)) {
            relations.push(CrawledRelation {
                kind: RelationKind::ViewDependency,
                from: vec![database.clone(), view.schema.clone(), view.name.clone()],
                to: vec![database.clone(), read.schema.clone(), read.name.clone()],
            });
        }
    }

    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
    Ok(CrawledCatalog::finish(objects, relations, server_version))
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

type RelationParts = (i64, Relation, CrawledObject, Option<f64>);

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
    let scans: Option<f64> = row.try_get(6)?;
    Ok(Some((
        oid,
        Relation {
            schema: schema.clone(),
            name,
        },
        object,
        scans,
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
