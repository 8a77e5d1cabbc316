//! The MySQL/MariaDB crawler: information_schema, a handful of set-based queries.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::error::{ConnectError, Redactor};
use crate::model::{
    CrawledCatalog, CrawledObject, Found, ObjectKind, RelationKind, clean_description,
};

const SYSTEM_DATABASES: &str = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/// Which databases a crawl covers: the URL's, or every non-system one.
#[derive(Clone, Copy)]
enum Scope {
    Current,
    AllUserDatabases,
}

impl Scope {
    /// A filter on `column` (a schema-name column). Only constant SQL, no user input.
    fn filter(self, column: &str) -> String {
        match self {
            Scope::Current => format!("{column} = DATABASE()"),
            Scope::AllUserDatabases => format!("{column} NOT IN {SYSTEM_DATABASES}"),
        }
    }
}

fn text(row: &MySqlRow, index: usize) -> Result<Option<String>, sqlx::Error> {
    // information_schema's text columns vary in type and collation between MySQL and MariaDB
    // versions; every one of them is UTF-8 text once converted.
    row.try_get_unchecked::<Option<String>, _>(index)
}

fn required_text(row: &MySqlRow, index: usize) -> Result<String, sqlx::Error> {
    Ok(text(row, index)?.unwrap_or_default())
}

pub(crate) async fn crawl(url: &str, redactor: &Redactor) -> Result<CrawledCatalog, ConnectError> {
    let options = MySqlConnectOptions::from_str(url)
        .map_err(|error| crate::classify_sqlx_error(&error, redactor))?;
    let mut connection: MySqlConnection =
        crate::connect_with_timeout(MySqlConnection::connect_with(&options), redactor).await?;
    let result = crawl_connected(&mut connection, redactor).await;
    let _ = connection.close().await;
    result
}

async fn crawl_connected(
    connection: &mut MySqlConnection,
    redactor: &Redactor,
) -> Result<CrawledCatalog, ConnectError> {
    let failed = crate::classifier(redactor);
    let (server_version, scope) = read_version(connection, redactor).await?;
    sqlx::raw_sql("START TRANSACTION READ ONLY")
        .execute(&mut *connection)
        .await
        .map_err(failed)?;
    let mut found = Found::default();
    let crawl = Crawl { redactor, scope };
    crawl.read_databases(connection, &mut found).await?;
    let relation_index = crawl.read_tables(connection, &mut found).await?;
    crawl
        .read_views(connection, &relation_index, &mut found)
        .await?;
    let column_index = crawl
        .read_columns(connection, &relation_index, &mut found)
        .await?;
    crawl
        .read_keys(connection, &column_index, &mut found)
        .await?;
    apply_popularity(connection, scope, &relation_index, &mut found).await;
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
    Ok(found.finish(server_version))
}

/// The server's version (refused when too old) and what the crawl covers: the URL's database,
/// or every user database when it names none.
async fn read_version(
    connection: &mut MySqlConnection,
    redactor: &Redactor,
) -> Result<(String, Scope), ConnectError> {
    let failed = crate::classifier(redactor);
    let row =
        sqlx::query("SELECT CONVERT(VERSION() USING utf8mb4), CONVERT(DATABASE() USING utf8mb4)")
            .fetch_one(&mut *connection)
            .await
            .map_err(failed)?;
    let version = required_text(&row, 0).map_err(failed)?;
    let current_database = text(&row, 1).map_err(failed)?;
    let server_version = check_version(&version)?;
    let scope = if current_database.is_some() {
        Scope::Current
    } else {
        Scope::AllUserDatabases
    };
    Ok((server_version, scope))
}

/// (database, table) -> index into the objects found.
type RelationIndex = HashMap<(String, String), usize>;

/// The information_schema reads of one crawl.
struct Crawl<'a> {
    redactor: &'a Redactor,
    scope: Scope,
}

impl Crawl<'_> {
    async fn rows(
        &self,
        connection: &mut MySqlConnection,
        sql: String,
    ) -> Result<Vec<MySqlRow>, ConnectError> {
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *connection)
            .await
            .map_err(crate::classifier(self.redactor))
    }

    async fn read_databases(
        &self,
        connection: &mut MySqlConnection,
        found: &mut Found,
    ) -> Result<(), ConnectError> {
        let failed = crate::classifier(self.redactor);
        let sql = format!(
            "SELECT CONVERT(SCHEMA_NAME USING utf8mb4) FROM information_schema.SCHEMATA \
             WHERE {}",
            self.scope.filter("SCHEMA_NAME")
        );
        for row in self.rows(connection, sql).await? {
            let path = vec![required_text(&row, 0).map_err(failed)?];
            found.push(CrawledObject::new(ObjectKind::Database, path));
        }
        Ok(())
    }

    async fn read_tables(
        &self,
        connection: &mut MySqlConnection,
        found: &mut Found,
    ) -> Result<RelationIndex, ConnectError> {
        let failed = crate::classifier(self.redactor);
        let sql = format!(
            "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4), CONVERT(TABLE_NAME USING utf8mb4), \
               CONVERT(TABLE_TYPE USING utf8mb4), CONVERT(TABLE_COMMENT USING utf8mb4) \
             FROM information_schema.TABLES \
             WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW') AND {}",
            self.scope.filter("TABLE_SCHEMA")
        );
        let mut relation_index = RelationIndex::new();
        for row in self.rows(connection, sql).await? {
            let database = required_text(&row, 0).map_err(failed)?;
            let table = required_text(&row, 1).map_err(failed)?;
            let is_view = required_text(&row, 2).map_err(failed)? == "VIEW";
            let kind = if is_view {
                ObjectKind::View
            } else {
                ObjectKind::Table
            };
            let mut object = CrawledObject::new(kind, vec![database.clone(), table.clone()]);
            // MySQL reports the comment of every view as "VIEW"
            object.description =
                clean_description(text(&row, 3).map_err(failed)?).filter(|_| !is_view);
            relation_index.insert((database, table), found.push(object));
        }
        Ok(relation_index)
    }

    /// Each view's definition, and the tables and views it names.
    async fn read_views(
        &self,
        connection: &mut MySqlConnection,
        relation_index: &RelationIndex,
        found: &mut Found,
    ) -> Result<(), ConnectError> {
        let failed = crate::classifier(self.redactor);
        let sql = format!(
            "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4), CONVERT(TABLE_NAME USING utf8mb4), \
               CONVERT(VIEW_DEFINITION USING utf8mb4) \
             FROM information_schema.VIEWS WHERE {}",
            self.scope.filter("TABLE_SCHEMA")
        );
        for row in self.rows(connection, sql).await? {
            let database = required_text(&row, 0).map_err(failed)?;
            let view = required_text(&row, 1).map_err(failed)?;
            let definition = clean_description(text(&row, 2).map_err(failed)?);
            for read in definition
                .as_deref()
                .map(qualified_names)
                .unwrap_or_default()
            {
                if relation_index.contains_key(&read) && read != (database.clone(), view.clone()) {
                    found.relate(
                        RelationKind::ViewDependency,
                        vec![database.clone(), view.clone()],
                        vec![read.0, read.1],
                    );
                }
            }
            if let Some(&index) = relation_index.get(&(database, view)) {
                found.objects[index].definition = definition;
            }
        }
        Ok(())
    }

    /// The columns of the relations read; returns their indexes in `found` by path.
    async fn read_columns(
        &self,
        connection: &mut MySqlConnection,
        relation_index: &RelationIndex,
        found: &mut Found,
    ) -> Result<HashMap<Vec<String>, usize>, ConnectError> {
        let failed = crate::classifier(self.redactor);
        let sql = format!(
            "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4), CONVERT(TABLE_NAME USING utf8mb4), \
               CONVERT(COLUMN_NAME USING utf8mb4), CONVERT(COLUMN_TYPE USING utf8mb4), \
               CONVERT(IS_NULLABLE USING utf8mb4), CAST(ORDINAL_POSITION AS SIGNED), \
               CONVERT(COLUMN_COMMENT USING utf8mb4) \
             FROM information_schema.COLUMNS WHERE {}",
            self.scope.filter("TABLE_SCHEMA")
        );
        let mut column_index: HashMap<Vec<String>, usize> = HashMap::new();
        for row in self.rows(connection, sql).await? {
            let database = required_text(&row, 0).map_err(failed)?;
            let table = required_text(&row, 1).map_err(failed)?;
            if !relation_index.contains_key(&(database.clone(), table.clone())) {
                continue;
            }
            let path = vec![database, table, required_text(&row, 2).map_err(failed)?];
            let mut object = CrawledObject::new(ObjectKind::Column, path.clone());
            object.data_type = text(&row, 3).map_err(failed)?;
            object.nullable = Some(required_text(&row, 4).map_err(failed)? == "YES");
            object.position = Some(row.try_get::<i64, _>(5).map_err(failed)?);
            object.description = clean_description(text(&row, 6).map_err(failed)?);
            column_index.insert(path, found.push(object));
        }
        Ok(column_index)
    }

    /// Primary keys mark their columns; each foreign key column pair becomes a relation.
    async fn read_keys(
        &self,
        connection: &mut MySqlConnection,
        column_index: &HashMap<Vec<String>, usize>,
        found: &mut Found,
    ) -> Result<(), ConnectError> {
        let failed = crate::classifier(self.redactor);
        let sql = format!(
            "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4), CONVERT(TABLE_NAME USING utf8mb4), \
               CONVERT(COLUMN_NAME USING utf8mb4), CONVERT(CONSTRAINT_NAME USING utf8mb4), \
               CONVERT(REFERENCED_TABLE_SCHEMA USING utf8mb4), \
               CONVERT(REFERENCED_TABLE_NAME USING utf8mb4), \
               CONVERT(REFERENCED_COLUMN_NAME USING utf8mb4) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) AND {}",
            self.scope.filter("TABLE_SCHEMA")
        );
        let texts = |row: &MySqlRow, columns: [usize; 3]| -> Result<Vec<String>, ConnectError> {
            columns
                .iter()
                .map(|&index| required_text(row, index).map_err(failed))
                .collect()
        };
        for row in self.rows(connection, sql).await? {
            let from = texts(&row, [0, 1, 2])?;
            if required_text(&row, 3).map_err(failed)? == "PRIMARY" {
                if let Some(&index) = column_index.get(&from) {
                    found.objects[index].primary_key = true;
                }
                continue;
            }
            let to = texts(&row, [4, 5, 6])?;
            if column_index.contains_key(&from) {
                found.relate(RelationKind::ForeignKey, from, to);
            }
        }
        Ok(())
    }
}

/// Table I/O counts from performance_schema, when it is enabled; tables keep `None` otherwise.
async fn apply_popularity(
    connection: &mut MySqlConnection,
    scope: Scope,
    relation_index: &RelationIndex,
    found: &mut Found,
) {
    let usage_sql = format!(
        "SELECT CONVERT(OBJECT_SCHEMA USING utf8mb4), CONVERT(OBJECT_NAME USING utf8mb4), \
           CAST(COUNT_STAR AS SIGNED) \
         FROM performance_schema.table_io_waits_summary_by_table \
         WHERE OBJECT_TYPE = 'TABLE' AND {}",
        scope.filter("OBJECT_SCHEMA")
    );
    let rows = match sqlx::query(AssertSqlSafe(usage_sql))
        .fetch_all(&mut *connection)
        .await
    {
        Ok(rows) if !rows.is_empty() => rows,
        Ok(_) => return,
        Err(error) => {
            tracing::debug!(%error, "no table statistics from performance_schema");
            return;
        }
    };
    let mut counts: HashMap<usize, f64> = HashMap::new();
    for row in &rows {
        let (Ok(database), Ok(table), Ok(count)) = (
            required_text(row, 0),
            required_text(row, 1),
            row.try_get::<i64, _>(2),
        ) else {
            continue;
        };
        if let Some(&index) = relation_index.get(&(database, table)) {
            counts.insert(index, count.max(0) as f64);
        }
    }
    let usage: Vec<(usize, f64)> = relation_index
        .values()
        .filter(|&&index| found.objects[index].kind == ObjectKind::Table)
        .map(|&index| (index, counts.get(&index).copied().unwrap_or(0.0)))
        .collect();
    found.set_popularity(&usage);
}

fn check_version(version: &str) -> Result<String, ConnectError> {
    let is_mariadb = version.to_ascii_lowercase().contains("mariadb");
    let (engine, minimum) = if is_mariadb {
        ("MariaDB", (10, 3))
    } else {
        ("MySQL", (5, 7))
    };
    match crate::leading_version(version) {
        Some(found) if found >= minimum => Ok(format!("{engine} {version}")),
        _ => Err(ConnectError::UnsupportedVersion(format!(
            "{} {version} is too old: cairn needs {} {}.{} or newer",
            engine.to_ascii_lowercase(),
            engine.to_ascii_lowercase(),
            minimum.0,
            minimum.1
        ))),
    }
}

/// Every `` `a`.`b` `` pair in a view definition as MySQL stores it (fully qualified, quoted).
fn qualified_names(definition: &str) -> HashSet<(String, String)> {
    let mut identifiers: Vec<(usize, usize, String)> = Vec::new(); // (start, end, name)
    let bytes = definition.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'`' => {
                let start = index;
                let mut name = String::new();
                index += 1;
                let mut content_start = index;
                loop {
                    match definition[index..].find('`') {
                        Some(offset) => {
                            name.push_str(&definition[content_start..index + offset]);
                            index += offset + 1;
                            if bytes.get(index) == Some(&b'`') {
                                name.push('`');
                                index += 1;
                                content_start = index;
                            } else {
                                break;
                            }
                        }
                        None => {
                            index = bytes.len();
                            break;
                        }
                    }
                }
                identifiers.push((start, index, name));
            }
            b'\'' | b'"' => {
                let quote = bytes[index];
                index += 1;
                while index < bytes.len() && bytes[index] != quote {
                    if bytes[index] == b'\\' {
                        index += 1;
                    }
                    index += 1;
                }
                index += 1;
            }
            _ => index += 1,
        }
    }
    let mut pairs = HashSet::new();
    for window in identifiers.windows(2) {
        let (_, first_end, first) = &window[0];
        let (second_start, _, second) = &window[1];
        if *second_start == first_end + 1 && bytes.get(*first_end) == Some(&b'.') {
            pairs.insert((first.clone(), second.clone()));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_are_found_in_view_definitions() {
        let definition = "select `sakila`.`a`.`actor_id` AS `actor_id`, 'x`.`y' from \
                          `sakila`.`actor` `a` join `other``db`.`t`";
        let names = qualified_names(definition);
        assert!(names.contains(&("sakila".to_owned(), "actor".to_owned())));
        assert!(names.contains(&("sakila".to_owned(), "a".to_owned())));
        assert!(names.contains(&("other`db".to_owned(), "t".to_owned())));
        assert!(!names.contains(&("x".to_owned(), "y".to_owned())));
    }

    #[test]
    fn old_versions_are_refused() {
        assert!(check_version("10.11.19-MariaDB-0+deb12u1").is_ok());
        assert!(check_version("8.0.36").is_ok());
        assert_eq!(
            check_version("10.2.44-MariaDB").unwrap_err().code(),
            "unsupported_version"
        );
        assert_eq!(
            check_version("5.6.51").unwrap_err().code(),
            "unsupported_version"
        );
    }
}
