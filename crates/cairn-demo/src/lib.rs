//! The demo database: a fictional company ("Northwind Lantern Co.") in one SQLite file, with
//! sales, finance, hr and product tables, `--` comments the crawler turns into descriptions,
//! primary and foreign keys, views and deterministic rows.
//!
//! Each area has one clearly sensitive table holding a canary value ([`CANARIES`]) that tests can
//! look for where it must never appear (e.g. in requests to a language model).

mod finance;
mod hr;
mod product;
mod rows;
mod sales;
mod schema;

use std::path::Path;

/// A value planted in a sensitive table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoCanary {
    pub team: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    pub value: &'static str,
}

/// One canary per area, each in that area's sensitive table.
pub const CANARIES: [DemoCanary; 4] = [
    DemoCanary {
        team: "sales",
        table: "customer_contacts",
        column: "email",
        value: "margarethe.quillfeather@example.com",
    },
    DemoCanary {
        team: "finance",
        table: "bank_accounts",
        column: "iban",
        value: "DE44500105175407324931",
    },
    DemoCanary {
        team: "hr",
        table: "salaries",
        column: "bank_reference",
        value: "SAL-REF-QX7734-VELLICHOR",
    },
    DemoCanary {
        team: "product",
        table: "unreleased_products",
        column: "codename",
        value: "Project Vellichor Lantern",
    },
];

/// Every table and view of the demo database with its team.
pub const DEMO_RELATIONS: [(&str, &str); 25] = [
    ("regions", "sales"),
    ("sales_reps", "sales"),
    ("customers", "sales"),
    ("customer_contacts", "sales"),
    ("orders", "sales"),
    ("order_items", "sales"),
    ("sales_monthly_revenue", "sales"),
    ("invoices", "finance"),
    ("payments", "finance"),
    ("refunds", "finance"),
    ("expenses", "finance"),
    ("bank_accounts", "finance"),
    ("finance_outstanding_invoices", "finance"),
    ("departments", "hr"),
    ("employees", "hr"),
    ("salaries", "hr"),
    ("performance_reviews", "hr"),
    ("time_off_requests", "hr"),
    ("hr_headcount_by_department", "hr"),
    ("product_categories", "product"),
    ("suppliers", "product"),
    ("products", "product"),
    ("inventory_levels", "product"),
    ("unreleased_products", "product"),
    ("product_stock_alerts", "product"),
];

/// The team owning a demo table or view: `sales`, `finance`, `hr` or `product`.
pub fn demo_team_of(table: &str) -> Option<&'static str> {
    DEMO_RELATIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(table))
        .map(|(_, team)| *team)
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write the demo database: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the demo database: {0}")]
    Sqlite(#[from] sqlx::Error),
}

/// Writes the demo database to `path` (replacing any file there, atomically: it is built beside
/// it and renamed). Blocks; safe to call from inside or outside a tokio runtime.
pub fn write_demo_database(path: &Path) -> Result<(), DemoError> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(write_demo_database_async(&path))
    })
    .join()
    .unwrap_or_else(|_| {
        Err(DemoError::Io(std::io::Error::other(
            "the demo writer panicked",
        )))
    })
}

async fn write_demo_database_async(path: &Path) -> Result<(), DemoError> {
    use sqlx::Connection;
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path has no file name"))?;
    let mut building_name = file_name.to_owned();
    building_name.push(".building");
    let building = path.with_file_name(building_name);
    match std::fs::remove_file(&building) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&building)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete)
        .foreign_keys(true);
    let mut connection = sqlx::sqlite::SqliteConnection::connect_with(&options).await?;
    let script = demo_sql();
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    std::fs::rename(&building, path)?;
    Ok(())
}

/// The SQL script that builds the demo database (schema, rows, views) in one transaction.
pub fn demo_sql() -> String {
    let mut sql = String::with_capacity(256 * 1024);
    sql.push_str("BEGIN;\n");
    sql.push_str(schema::SCHEMA);
    rows::write_rows(&mut sql);
    sql.push_str(schema::VIEWS);
    sql.push_str("COMMIT;\n");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_relation_has_a_team_and_the_script_is_deterministic() {
        assert_eq!(demo_team_of("salaries"), Some("hr"));
        assert_eq!(demo_team_of("ORDERS"), Some("sales"));
        assert_eq!(demo_team_of("nope"), None);
        let script = demo_sql();
        assert_eq!(script, demo_sql());
        for (relation, _) in DEMO_RELATIONS {
            assert!(
                script.contains(&format!("CREATE TABLE {relation} ("))
                    || script.contains(&format!("CREATE VIEW {relation} AS")),
                "{relation}"
            );
        }
        for canary in CANARIES {
            assert_eq!(script.matches(canary.value).count(), 1, "{}", canary.value);
            assert_eq!(demo_team_of(canary.table), Some(canary.team));
        }
    }

    /// The rows come from one generator drawn in a fixed order: the last table written (the
    /// bank accounts' balances are the last draws) and the script's length pin that order, so a
    /// refactoring that changes it fails here before it changes the file people see.
    #[test]
    fn the_script_is_the_one_people_know() {
        let script = demo_sql();
        assert_eq!(script.len(), 163_503);
        assert!(script.contains(
            "INSERT INTO bank_accounts (id, bank_name, iban, currency, balance) VALUES\n  \
             (1, 'Rabobank', 'DE44500105175407324931', 'EUR', 4381864.62),\n  \
             (2, 'ING', 'NL02INGB0004128735', 'EUR', 1102681.99),"
        ));
        assert!(script.contains("  (2, 8, '2022-06-10', 1808.61, 'wrong item'),"));
    }
}
