/// What can go wrong in the store. "Row not found" is `NotFound`, a unique violation `Conflict`,
/// a store that cannot be reached (or is shutting down) `Unavailable`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("store configuration: {0}")]
    Config(String),
    #[error("store unreachable: {0}")]
    Unavailable(sqlx::Error),
    #[error("store: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(database) if database.is_unique_violation() => {
                StoreError::Conflict(database.message().to_string())
            }
            _ if is_unreachable(&error) => StoreError::Unavailable(error),
            _ => StoreError::Database(error),
        }
    }
}

/// Whether `error` says the database cannot be reached now rather than that a statement failed:
/// no connection within the pool's acquire timeout, a broken connection, or PostgreSQL refusing
/// connections or shutting down (SQLSTATE class 08, 57P01–57P03, 53300).
fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}
