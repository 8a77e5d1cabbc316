//! The SQLite crawler. Paths start at `main` (SQLite's name for the file's own schema), so they
//! stay the same when the file is moved or renamed: `["main", table, column]`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::error::{ConnectError, Redactor, percent_decode};
use crate::model::{
    CrawledCatalog, CrawledObject, CrawledRelation, ObjectKind, RelationKind, clean_description,
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

async fn crawl_connected(
    connection: &mut SqliteConnection,
    redactor: &Redactor,
) -> Result<CrawledCatalog, ConnectError> {
    let failed = |error: sqlx::Error| crate::classify_sqlx_error(&error, redactor);
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;

    let relation_rows = sqlx::query(RELATIONS_QUERY)
        .fetch_all(&mut *connection)
        .await
        .map_err(failed)?;
    // name -> (kind, CREATE statement)
    let mut relations_by_name: Vec<(String, ObjectKind, Option<String>)> = Vec::new();
    for row in &relation_rows {
        let kind: String = row.try_get(0).map_err(failed)?;
        let kind = if kind == "view" {
            ObjectKind::View
        } else {
            ObjectKind::Table
        };
        relations_by_name.push((
            row.try_get(1).map_err(failed)?,
            kind,
            row.try_get(2).map_err(failed)?,
        ));
    }
    let real_name: HashMap<String, String> = relations_by_name
        .iter()
        .map(|(name, _, _)| (name.to_lowercase(), name.clone()))
        .collect();

    let columns = read_columns(connection, &relations_by_name, redactor).await?;

    let mut objects = vec![CrawledObject::new(
        ObjectKind::Database,
        vec![SQLITE_ROOT.to_owned()],
    )];
    let mut relations = Vec::new();
    for (name, kind, sql) in &relations_by_name {
        let mut object = CrawledObject::new(*kind, vec![SQLITE_ROOT.to_owned(), name.clone()]);
        let sql = sql.as_deref().unwrap_or_default();
        let column_descriptions = match kind {
            ObjectKind::View => {
                let (description, body) = sqlite_comments::view_parts(sql);
                object.description = clean_description(description);
                object.definition = body.or_else(|| Some(sql.to_owned()));
                let mut seen = Vec::new();
                for referenced in sqlite_comments::referenced_relations(sql) {
                    if let Some(target) = real_name.get(&referenced.to_lowercase())
                        && target != name
                        && !seen.contains(target)
                    {
                        seen.push(target.clone());
                        relations.push(CrawledRelation {
                            kind: RelationKind::ViewDependency,
                            from: vec![SQLITE_ROOT.to_owned(), name.clone()],
                            to: vec![SQLITE_ROOT.to_owned(), target.clone()],
                        });
                    }
                }
                HashMap::new()
            }
            _ => {
                let (description, column_descriptions) = sqlite_comments::table_comments(sql);
                object.description = clean_description(description);
                column_descriptions
            }
        };
        objects.push(object);
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
            objects.push(object);
        }
    }

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
            let referenced_columns = columns.get(referenced);
            let to = match to {
                Some(to) => referenced_columns
                    .and_then(|list| {
                        list.iter()
                            .find(|column| column.name.eq_ignore_ascii_case(&to))
                    })
                    .map_or(to, |column| column.name.clone()),
                // no column named: the referenced table's primary key, in key order
                None => {
                    let mut key: Vec<&Column> = referenced_columns
                        .into_iter()
                        .flatten()
                        .filter(|column| column.primary_key > 0)
                        .collect();
                    key.sort_by_key(|column| column.primary_key);
                    match key.get(usize::try_from(seq).unwrap_or(usize::MAX)) {
                        Some(column) => column.name.clone(),
                        None => continue,
                    }
                }
            };
            let from = columns
                .get(&table)
                .and_then(|list| {
                    list.iter()
                        .find(|column| column.name.eq_ignore_ascii_case(&from))
                })
                .map_or(from, |column| column.name.clone());
            relations.push(CrawledRelation {
                kind: RelationKind::ForeignKey,
                from: vec![SQLITE_ROOT.to_owned(), table.clone(), from],
                to: vec![SQLITE_ROOT.to_owned(), referenced.clone(), to],
            });
        }
    }

    Ok(CrawledCatalog::finish(
        objects,
        relations,
        format!("SQLite {version}"),
    ))
}

/// Every relation's columns, in one query; relation by relation when one of them cannot be read
/// (e.g. a virtual table whose module is not loaded), skipping those.
async fn read_columns(
    connection: &mut SqliteConnection,
    relations: &[(String, ObjectKind, Option<String>)],
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
