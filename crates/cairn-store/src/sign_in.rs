//! Sign-in attempt counters, shared by every node on the store.

use sqlx::Row;

use crate::{Result, Store};

impl Store {
    /// Counts one attempt for `key_hash` and returns `(attempts, window_start)` of its window.
    /// A window older than `window_ms` starts again at `now`. One statement, so concurrent
    /// attempts each see a distinct count (the row is locked on PostgreSQL, the database on
    /// SQLite).
    pub async fn count_sign_in_attempt(
        &self,
        key_hash: &str,
        now: i64,
        window_ms: i64,
    ) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "INSERT INTO sign_in_attempts (key_hash, window_start, attempts) VALUES ($1, $2, 1)
             ON CONFLICT (key_hash) DO UPDATE SET
                 attempts = CASE WHEN sign_in_attempts.window_start <= $3 THEN 1
                                 ELSE sign_in_attempts.attempts + 1 END,
                 window_start = CASE WHEN sign_in_attempts.window_start <= $3 THEN $2
                                     ELSE sign_in_attempts.window_start END
             RETURNING attempts, window_start",
        )
        .bind(key_hash)
        .bind(now)
        .bind(now - window_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get(0), row.get(1)))
    }

    /// Takes back one attempt of the window that started at `window_start`.
    pub async fn refund_sign_in_attempt(&self, key_hash: &str, window_start: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sign_in_attempts SET attempts = attempts - 1
             WHERE key_hash = $1 AND window_start = $2 AND attempts > 0",
        )
        .bind(key_hash)
        .bind(window_start)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets every attempt of a key.
    pub async fn clear_sign_in_attempts(&self, key_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_attempts WHERE key_hash = $1")
            .bind(key_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets windows that started at or before `before`, then the oldest windows beyond
    /// `max_rows`, so strangers cannot grow the table without bound.
    pub async fn prune_sign_in_attempts(&self, before: i64, max_rows: i64) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_attempts WHERE window_start <= $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM sign_in_attempts")
            .fetch_one(&self.pool)
            .await?
            .get(0);
        if count > max_rows {
            sqlx::query(
                "DELETE FROM sign_in_attempts WHERE key_hash IN (
                     SELECT key_hash FROM sign_in_attempts
                     ORDER BY window_start LIMIT $1)",
            )
            .bind(count - max_rows)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}
