//! Relation resolution shared by the dialect walkers: CTE scopes and the catalog.

use crate::{Catalog, Refusal, TableRef};

/// How names of common table expressions compare to relation names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CteNames {
    /// Exactly (PostgreSQL after the parser's case folding; MySQL with case-sensitive names).
    Exact,
    /// ASCII case-insensitively (SQLite).
    AsciiCaseInsensitive,
}

/// Resolves every relation of a statement, keeping track of which CTE names are in scope.
///
/// A name taken for a CTE that the database would take for a table would let a table through
/// unchecked, so scopes follow the databases' rules: a CTE of a plain `WITH` sees only the CTEs
/// before it, one of `WITH RECURSIVE` sees them all, and the main query sees them all.
pub(crate) struct Resolver<'a> {
    catalog: &'a dyn Catalog,
    cte_names: CteNames,
    scopes: Vec<Vec<String>>,
    tables: Vec<TableRef>,
    /// Relations handled (catalog or CTE), for the walkers' cross-checks.
    pub(crate) relations_seen: usize,
    /// Function calls checked against an allowlist, for the walkers' cross-checks.
    pub(crate) functions_seen: usize,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(catalog: &'a dyn Catalog, cte_names: CteNames) -> Self {
        Resolver {
            catalog,
            cte_names,
            scopes: Vec::new(),
            tables: Vec::new(),
            relations_seen: 0,
            functions_seen: 0,
        }
    }

    pub(crate) fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    pub(crate) fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// Makes a CTE name visible in the innermost scope.
    pub(crate) fn add_cte(&mut self, name: &str) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(name.to_owned());
        }
    }

    fn is_cte(&self, name: &str) -> bool {
        self.scopes
            .iter()
            .flatten()
            .any(|cte| match self.cte_names {
                CteNames::Exact => cte == name,
                CteNames::AsciiCaseInsensitive => cte.eq_ignore_ascii_case(name),
            })
    }

    /// Resolves a relation reference. `forbidden` is the dialect's verdict on system relations;
    /// a forbidden relation and an unknown one get the same refusal.
    pub(crate) fn relation(
        &mut self,
        schema: Option<&str>,
        name: &str,
        written: &str,
        forbidden: bool,
    ) -> Result<(), Refusal> {
        self.relations_seen += 1;
        if schema.is_none() && self.is_cte(name) {
            return Ok(());
        }
        if forbidden {
            return Err(Refusal::relation_not_visible(written));
        }
        match self.catalog.resolve(schema, name) {
            Some(table) => {
                self.tables.push(table);
                Ok(())
            }
            None => Err(Refusal::relation_not_visible(written)),
        }
    }

    /// A relation that reads no table (MySQL's `DUAL`).
    pub(crate) fn pseudo_relation(&mut self) -> Result<(), Refusal> {
        self.relations_seen += 1;
        Ok(())
    }

    pub(crate) fn into_tables(self) -> Vec<TableRef> {
        self.tables
    }
}
