//! The database engines an integration may point at, decoded by one rule: `FromStr`.

/// The database engines Cairn can crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    Postgres,
    Mysql,
    Sqlite,
}

impl EngineKind {
    /// `postgres`, `mysql` or `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Mysql => "mysql",
            EngineKind::Sqlite => "sqlite",
        }
    }

    /// The engine a URL's scheme names (`postgres://`, `postgresql://`, `mysql://`,
    /// `mariadb://`, `sqlite:`), if any.
    pub fn from_url(url: &str) -> Option<EngineKind> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(EngineKind::Postgres),
            "mysql" | "mariadb" => Some(EngineKind::Mysql),
            "sqlite" => Some(EngineKind::Sqlite),
            _ => None,
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The engine name was none of `postgres`, `mysql`, `sqlite`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine {0:?}: expected postgres, mysql or sqlite")]
pub struct UnknownEngine(pub String);

impl std::str::FromStr for EngineKind {
    type Err = UnknownEngine;

    /// Accepts `postgres` (or `postgresql`), `mysql` (or `mariadb`) and `sqlite`, in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(EngineKind::Postgres),
            "mysql" | "mariadb" => Ok(EngineKind::Mysql),
            "sqlite" => Ok(EngineKind::Sqlite),
            _ => Err(UnknownEngine(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_reads_every_spelling_of_an_engine() {
        for (text, engine) in [
            ("postgres", EngineKind::Postgres),
            ("PostgreSQL", EngineKind::Postgres),
            (" mysql ", EngineKind::Mysql),
            ("MariaDB", EngineKind::Mysql),
            ("sqlite", EngineKind::Sqlite),
        ] {
            assert_eq!(text.parse::<EngineKind>(), Ok(engine), "{text}");
        }
        for engine in [EngineKind::Postgres, EngineKind::Mysql, EngineKind::Sqlite] {
            assert_eq!(engine.as_str().parse::<EngineKind>(), Ok(engine));
        }
        assert_eq!(
            "oracle".parse::<EngineKind>(),
            Err(UnknownEngine("oracle".into()))
        );
    }
}
