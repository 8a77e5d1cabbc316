//! The SQLite crawler. Paths start at `main` (SQLite's name for the file's own schema), so they
//! stay the same when the file is moved or renamed: `["main", table, column]`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::error::{ConnectError, Redactor, percent_decode};
use crate::model::{
    CrawledCatalog, CrawledObject, Found, ObjectKind, RelationKind, clean_description,
};
use crate::sqlite_comments;

/// The root of every SQLite path.
pub const SQLITE_ROOT: &str = "main";

const HEADER: &[u8; 16] = b"SQLite format 3\0";

const RELATIONS_QUERY: &str = "SELECT type, name, sql FROM sqlite_master \
     WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

const COLUMNS_QUERY: &str = "SELECT m.name, p.cid, p.name, p.type, p.\"notnull\", p.pk \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

const FOREIGN_KEYS_QUERY: &str = "SELECT m.name, f.id, f.seq, f.\"table\", f.\"from\", f.\"to\" \
     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

/// The file a `sqlite:` URL names: `sqlite:///absolute/path` or `sqlite:/absolute/path`
/// (options after `?` are ignored: the file is always opened read-only).
pub(crate) fn path_of_url(url: &str) -> Result<PathBuf, ConnectError> {
    let rest = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("sqlite:"))
        .map(|_| &url[7..])
        .ok_or_else(|| ConnectError::InvalidUrl("the url must start with sqlite:///".into()))?;
    let without_query = rest.split(['?', '#']).next().unwrap_or_default();
    let path = without_query.strip_prefix("//").unwrap_or(without_query);
    let path = percent_decode(path);
    if path.is_empty() || path.contains(":memory:") {
        return Err(ConnectError::InvalidUrl(
            "a sqlite url must name a database file: sqlite:///absolute/path".into(),
        ));
    }
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return Err(ConnectError::InvalidUrl(
            "a sqlite url must name an absolute path: sqlite:///absolute/path".into(),
        ));
    }
    Ok(path)
}

fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || "?".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// Refuses anything that is not an existing SQLite 3 file, without letting SQLite touch it.
fn check_file(path: &Path) -> Result<(), ConnectError> {
    let label = file_label(path);
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConnectError::DatabaseNotFound(format!(
                "no file named {label}"
            )));
        }
        Err(error) => {
            return Err(ConnectError::Unreachable(format!(
                "cannot read {label}: {error}"
            )));
        }
    };
    if !metadata.is_file() {
        return Err(ConnectError::NotSqlite(format!("{label} is not a file")));
    }
    let mut header = [0_u8; 16];
    let read = std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut header));
    match read {
        Ok(()) if &header == HEADER => Ok(()),
        Ok(()) => Err(ConnectError::NotSqlite(format!(
            "{label} does not start with the sqlite 3 header"
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Err(
            ConnectError::NotSqlite(format!("{label} is too short to be a sqlite database")),
        ),
        Err(error) => Err(ConnectError::Unreachable(format!(
            "cannot read {label}: {error}"
        ))),
    }
}

pub(crate) async fn crawl(url: &str, redactor: &Redactor) -> Result<CrawledCatalog, ConnectError> {
    let path = path_of_url(url)?;
    check_file(&path)?;
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true)
        .create_if_missing(false);
    let mut connection: SqliteConnection =
        crate::connect_with_timeout(SqliteConnection::connect_with(&options), redactor).await?;
    let result = crawl_connected(&mut connection, redactor).await;
    let _ = connection.close().await;
    result
}

/// One column pair of a foreign key: (seq, referenced table, from column, to column).
type ForeignKeyPair = (i64, String, String, Option<String>);

struct Column {
    name: String,
    data_type: Option<String>,
    nullable: bool,
    position: i64,
    /// 1-based position in the primary key, 0 when not part of it.
    primary_key: i64,
}

/// A table or view as `sqlite_master` lists it: name, kind, CREATE statement.
type MasterEntry = (String, ObjectKind, Option<String>);

async fn crawl_connected(
    connection: &mut SqliteConnection,
    redactor: &Redactor,
) -> Result<CrawledCatalog, ConnectError> {
    let failed = crate::classifier(redactor);
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;
    let entries = read_master(connection, redactor).await?;
    // lower-case name -> name as created
    let real_name: HashMap<String, String> = entries
        .iter()
        .map(|(name, _, _)| (name.to_lowercase(), name.clone()))
        .collect();
    let columns = read_columns(connection, &entries, redactor).await?;
    let mut found = Found::default();
    found.push(CrawledObject::new(
        ObjectKind::Database,
        vec![SQLITE_ROOT.to_owned()],
    ));
    for entry in &entries {
        push_relation(&mut found, entry, &columns, &real_name);
    }
    read_foreign_keys(connection, redactor, &columns, &real_name, &mut found).await?;
    Ok(found.finish(format!("SQLite {version}")))
}

/// The tables and views of `sqlite_master`.
async fn read_master(
    connection: &mut SqliteConnection,
    redactor: &Redactor,
) -> Result<Vec<MasterEntry>, ConnectError> {
    let failed = crate::classifier(redactor);
    let mut entries = Vec::new();
    for row in sqlx::query(RELATIONS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?
    {
        let kind: String = row.try_get(0).map_err(failed)?;
        let kind = if kind == "view" {
            ObjectKind::View
        } else {
            ObjectKind::Table
        };
        entries.push((
            row.try_get(1).map_err(failed)?,
            kind,
            row.try_get(2).map_err(failed)?,
        ));
    }
    Ok(entries)
}

/// A table or view with its columns; the descriptions come from the `--` comments of its CREATE
/// statement, and a view's dependencies from the relations its body names.
fn push_relation(
    found: &mut Found,
    (name, kind, sql): &MasterEntry,
    columns: &HashMap<String, Vec<Column>>,
    real_name: &HashMap<String, String>,
) {
    let mut object = CrawledObject::new(*kind, vec![SQLITE_ROOT.to_owned(), name.clone()]);
    let sql = sql.as_deref().unwrap_or_default();
    let column_descriptions = if *kind == ObjectKind::View {
        let (description, body) = sqlite_comments::view_parts(sql);
        object.description = clean_description(description);
        object.definition = body.or_else(|| Some(sql.to_owned()));
        push_view_dependencies(found, name, sql, real_name);
        HashMap::new()
    } else {
        let (description, column_descriptions) = sqlite_comments::table_comments(sql);
        object.description = clean_description(description);
        column_descriptions
    };
    found.push(object);
    for column in columns.get(name).into_iter().flatten() {
        let mut object = CrawledObject::new(
            ObjectKind::Column,
            vec![SQLITE_ROOT.to_owned(), name.clone(), column.name.clone()],
        );
        object.data_type = column.data_type.clone();
        object.nullable = Some(column.nullable);
        object.position = Some(column.position);
        object.primary_key = column.primary_key > 0;
        object.description = clean_description(
            column_descriptions
                .get(&column.name.to_lowercase())
                .cloned(),
        );
        found.push(object);
    }
}

/// The relations the view `name` reads, once each, as named in its `sql`.
fn push_view_dependencies(
    found: &mut Found,
    name: &str,
    sql: &str,
    real_name: &HashMap<String, String>,
) {
    let mut seen = Vec::new();
    for referenced in sqlite_comments::referenced_relations(sql) {
        if let Some(target) = real_name.get(&referenced.to_lowercase())
            && target != name
            && !seen.contains(target)
        {
            seen.push(target.clone());
            found.relate(
                RelationKind::ViewDependency,
                vec![SQLITE_ROOT.to_owned(), name.to_owned()],
                vec![SQLITE_ROOT.to_owned(), target.clone()],
            );
        }
    }
}

/// Every foreign key's column pairs as relations, between the columns as they were created.
async fn read_foreign_keys(
    connection: &mut SqliteConnection,
    redactor: &Redactor,
    columns: &HashMap<String, Vec<Column>>,
    real_name: &HashMap<String, String>,
    found: &mut Found,
) -> Result<(), ConnectError> {
    let failed = crate::classifier(redactor);
    let foreign_key_rows = match sqlx::query(FOREIGN_KEYS_QUERY)
        .fetch_all(&mut *connection)
        .await
    {
        Ok(rows) => rows,
        Err(error) => {
            tracing::debug!(%error, "cannot list sqlite foreign keys");
            Vec::new()
        }
    };
    // (table, constraint id) -> its column pairs
    let mut foreign_keys: HashMap<(String, i64), Vec<ForeignKeyPair>> = HashMap::new();
    for row in &foreign_key_rows {
        let table: String = row.try_get(0).map_err(failed)?;
        let id: i64 = row.try_get(1).map_err(failed)?;
        let seq: i64 = row.try_get(2).map_err(failed)?;
        let referenced: String = row.try_get(3).map_err(failed)?;
        let from: String = row.try_get(4).map_err(failed)?;
        let to: Option<String> = row.try_get(5).map_err(failed)?;
        foreign_keys
            .entry((table, id))
            .or_default()
            .push((seq, referenced, from, to));
    }
    for ((table, _), mut pairs) in foreign_keys {
        pairs.sort_by_key(|pair| pair.0);
        for (seq, referenced, from, to) in pairs {
            let Some(referenced) = real_name.get(&referenced.to_lowercase()) else {
                continue;
            };
            let Some(to) = referenced_column(columns.get(referenced), seq, to) else {
                continue;
            };
            let from = column_as_created(columns.get(&table), from);
            found.relate(
                RelationKind::ForeignKey,
                vec![SQLITE_ROOT.to_owned(), table.clone(), from],
                vec![SQLITE_ROOT.to_owned(), referenced.clone(), to],
            );
        }
    }
    Ok(())
}

/// The column `name` of a table (any case) as it was created; `name` itself when not found.
fn column_as_created(columns: Option<&Vec<Column>>, name: String) -> String {
    columns
        .and_then(|list| {
            list.iter()
                .find(|column| column.name.eq_ignore_ascii_case(&name))
        })
        .map_or(name, |column| column.name.clone())
}

/// The column a foreign key's pair number `seq` references: the one named, or when none is
/// named, the referenced table's primary key column at that place in key order.
fn referenced_column(
    referenced_columns: Option<&Vec<Column>>,
    seq: i64,
    to: Option<String>,
) -> Option<String> {
    if let Some(to) = to {
        return Some(column_as_created(referenced_columns, to));
    }
    let mut key: Vec<&Column> = referenced_columns
        .into_iter()
        .flatten()
        .filter(|column| column.primary_key > 0)
        .collect();
    key.sort_by_key(|column| column.primary_key);
    key.get(usize::try_from(seq).unwrap_or(usize::MAX))
        .map(|column| column.name.clone())
}

/// Every relation's columns, in one query; relation by relation when one of them cannot be read
/// (e.g. a virtual table whose module is not loaded), skipping those.
async fn read_columns(
    connection: &mut SqliteConnection,
    relations: &[MasterEntry],
    redactor: &Redactor,
) -> Result<HashMap<String, Vec<Column>>, ConnectError> {
    let failed = |error: sqlx::Error| crate::classify_sqlx_error(&error, redactor);
    let mut columns: HashMap<String, Vec<Column>> = HashMap::new();
    match sqlx::query(COLUMNS_QUERY).fetch_all(&mut *connection).await {
        Ok(rows) => {
            for row in &rows {
                let (relation, column) = column_from_row(row, true).map_err(failed)?;
                columns.entry(relation).or_default().push(column);
            }
        }
        Err(error) => {
            tracing::debug!(%error, "reading sqlite columns relation by relation");
            for (name, _, _) in relations {
                let sql = "SELECT cid, name, type, \"notnull\", pk FROM pragma_table_info(?1)";
                match sqlx::query(AssertSqlSafe(sql))
                    .bind(name)
                    .fetch_all(&mut *connection)
                    .await
                {
                    Ok(rows) => {
                        for row in &rows {
                            let (_, column) = column_from_row(row, false).map_err(failed)?;
                            columns.entry(name.clone()).or_default().push(column);
                        }
                    }
                    Err(error) => {
                        tracing::debug!(relation = %name, %error, "skipping unreadable relation");
                    }
                }
            }
        }
    }
    for list in columns.values_mut() {
        list.sort_by_key(|column| column.position);
    }
    Ok(columns)
}

fn column_from_row(row: &SqliteRow, with_relation: bool) -> Result<(String, Column), sqlx::Error> {
    let offset = usize::from(with_relation);
    let relation = if with_relation {
        row.try_get(0)?
    } else {
        String::new()
    };
    let cid: i64 = row.try_get(offset)?;
    let data_type: Option<String> = row.try_get(offset + 2)?;
    let not_null: i64 = row.try_get(offset + 3)?;
    let primary_key: i64 = row.try_get(offset + 4)?;
    Ok((
        relation,
        Column {
            name: row.try_get(offset + 1)?,
            data_type: data_type.filter(|data_type| !data_type.trim().is_empty()),
            // SQLite lets NULL into most key columns, but a key is not meant to hold one
            nullable: not_null == 0 && primary_key == 0,
            position: cid + 1,
            primary_key,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_absolute_files() {
        assert_eq!(
            path_of_url("sqlite:///var/data/demo.db").unwrap(),
            PathBuf::from("/var/data/demo.db")
        );
        assert_eq!(
            path_of_url("sqlite:/var/data/my%20demo.db?mode=rwc").unwrap(),
            PathBuf::from("/var/data/my demo.db")
        );
        assert_eq!(
            path_of_url("sqlite://relative.db").unwrap_err().code(),
            "invalid_url"
        );
        assert_eq!(
            path_of_url("sqlite::memory:").unwrap_err().code(),
            "invalid_url"
        );
        assert_eq!(path_of_url("sqlite:").unwrap_err().code(), "invalid_url");
    }
}
