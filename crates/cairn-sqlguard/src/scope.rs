//! Relation resolution shared by the dialect walkers: CTE scopes and the catalog.

use crate::{Refusal, RelationResolver, TableRef};

/// A relation as a statement writes it.
pub(crate) struct RelationRef<'a> {
    pub(crate) schema: Option<&'a str>,
    pub(crate) name: &'a str,
    /// As written, for messages.
    pub(crate) written: &'a str,
    pub(crate) alias: Option<&'a str>,
    /// The alias renames the relation's columns (`AS o(a, b)`).
    pub(crate) alias_columns: bool,
}

/// How names of common table expressions compare to relation names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CteNames {
    /// Exactly (PostgreSQL after the parser's case folding; MySQL with case-sensitive names).
    Exact,
    /// ASCII case-insensitively (SQLite).
    AsciiCaseInsensitive,
}

/// A relation the catalog resolved, with what the column checks need to know about it.
struct Resolved {
    /// The caller may not see these columns (lower case).
    hidden: Vec<String>,
    /// Names a reference to the whole row could use: the relation's name and its alias (lower
    /// case).
    names: Vec<String>,
}

/// What a statement does with columns, collected during the walk and checked against the
/// resolved relations' hidden columns once every relation is known (a subquery may name a
/// column of a relation that appears later in the text).
#[derive(Default)]
struct ColumnUses {
    /// Every identifier that may name a column (each part of `t.c`, USING lists).
    names: Vec<String>,
    /// Identifiers that may stand for a whole row (PostgreSQL's `t`, `to_json(t)`, `(t).c`).
    whole_rows: Vec<String>,
    /// `*` or `t.*`.
    wildcard: bool,
    /// A NATURAL join or a column alias list on a join: columns matched or renamed by position.
    positional: bool,
}

/// Resolves every relation of a statement, keeping track of which CTE names are in scope.
///
/// A name taken for a CTE that the database would take for a table would let a table through
/// unchecked, so scopes follow the databases' rules: a CTE of a plain `WITH` sees only the CTEs
/// before it, one of `WITH RECURSIVE` sees them all, and the main query sees them all.
pub(crate) struct Resolver<'a> {
    catalog: &'a dyn RelationResolver,
    cte_names: CteNames,
    scopes: Vec<Vec<String>>,
    tables: Vec<TableRef>,
    resolved: Vec<Resolved>,
    columns: ColumnUses,
    /// Column references recorded, for the walkers' cross-checks.
    pub(crate) column_refs_seen: usize,
    /// Relations handled (catalog or CTE), for the walkers' cross-checks.
    pub(crate) relations_seen: usize,
    /// Function calls checked against an allowlist, for the walkers' cross-checks.
    pub(crate) functions_seen: usize,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(catalog: &'a dyn RelationResolver, cte_names: CteNames) -> Self {
        Resolver {
            catalog,
            cte_names,
            scopes: Vec::new(),
            tables: Vec::new(),
            resolved: Vec::new(),
            columns: ColumnUses::default(),
            column_refs_seen: 0,
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
    /// a forbidden relation and an unknown one get the same refusal. `alias` is the name the
    /// statement gives it; `alias_columns` whether that alias renames its columns (`AS o(a, b)`).
    pub(crate) fn relation(
        &mut self,
        reference: RelationRef<'_>,
        forbidden: bool,
    ) -> Result<(), Refusal> {
        let RelationRef {
            schema,
            name,
            written,
            alias,
            alias_columns,
        } = reference;
        self.relations_seen += 1;
        if schema.is_none() && self.is_cte(name) {
            return Ok(());
        }
        if forbidden {
            return Err(Refusal::relation_not_visible(written));
        }
        let Some(table) = self.catalog.resolve(schema, name) else {
            return Err(Refusal::relation_not_visible(written));
        };
        let hidden: Vec<String> = self
            .catalog
            .hidden_columns(&table)
            .iter()
            .map(|column| column.to_lowercase())
            .collect();
        if alias_columns && !hidden.is_empty() {
            return Err(Refusal::new(format!(
                "a column alias list on \"{written}\" is not allowed: it has columns you may not see; name the columns you need instead"
            )));
        }
        let mut names = vec![name.to_lowercase(), table.name.to_lowercase()];
        names.extend(alias.map(str::to_lowercase));
        self.resolved.push(Resolved { hidden, names });
        self.tables.push(table);
        Ok(())
    }

    /// An identifier that may name a column; `whole_row` when it may also stand for a row.
    pub(crate) fn column_name(&mut self, name: &str, whole_row: bool) {
        let lower = name.to_lowercase();
        if whole_row {
            self.columns.whole_rows.push(lower.clone());
        }
        self.columns.names.push(lower);
    }

    /// `*` or `t.*`.
    pub(crate) fn wildcard(&mut self) {
        self.columns.wildcard = true;
    }

    /// A NATURAL join, or column aliases on a join: columns taken by position or by name
    /// without being written.
    pub(crate) fn positional_columns(&mut self) {
        self.columns.positional = true;
    }

    /// Refuses the statement when it names, or would return without naming, a column the
    /// caller may not see. Conservative: a name is refused when any relation of the statement
    /// hides a column of that name, whichever relation it was meant for.
    pub(crate) fn check_columns(&self) -> Result<(), Refusal> {
        let hides = |name: &str| {
            self.resolved
                .iter()
                .any(|relation| relation.hidden.iter().any(|hidden| hidden == name))
        };
        if self
            .resolved
            .iter()
            .all(|relation| relation.hidden.is_empty())
        {
            return Ok(());
        }
        if self.columns.wildcard {
            return Err(Refusal::new(
                "* is not allowed here: the statement reads a relation with columns you may not see; name the columns you need",
            ));
        }
        if self.columns.positional {
            return Err(Refusal::new(
                "NATURAL joins and column alias lists on joins are not allowed here: the statement reads a relation with columns you may not see; join with ON and name the columns you need",
            ));
        }
        if let Some(name) = self.columns.names.iter().find(|name| hides(name)) {
            return Err(Refusal::new(format!(
                "column \"{name}\" does not exist or is not visible"
            )));
        }
        let whole_row = self.columns.whole_rows.iter().find(|candidate| {
            self.resolved
                .iter()
                .any(|relation| !relation.hidden.is_empty() && relation.names.contains(candidate))
        });
        if let Some(name) = whole_row {
            return Err(Refusal::new(format!(
                "\"{name}\" as a whole row is not allowed: it has columns you may not see; name the columns you need"
            )));
        }
        Ok(())
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
