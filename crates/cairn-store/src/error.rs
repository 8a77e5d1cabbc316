/// What can go wrong in the store. "Row not found" is `NotFound`, a unique violation `Conflict`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("store configuration: {0}")]
    Config(String),
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
            _ => StoreError::Database(error),
        }
    }
}
