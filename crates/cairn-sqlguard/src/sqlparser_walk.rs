//! MySQL and SQLite: parsed by `sqlparser` with the matching dialect, then the AST is walked.
//!
//! The walk matches node kinds explicitly and refuses everything else. Allowed structs are
//! destructured with all fields named, so new parser fields do not slip through unnoticed. A
//! second pass with `sqlparser`'s own `Visitor` counts relations and function calls; if the walk
//! saw fewer, the statement is refused.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Cte, Distinct, Expr, Fetch, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArgumentList, FunctionArguments, GroupByExpr,
    GroupByWithModifier, InTarget, Join, JoinConstraint, JoinOperator, LimitClause,
    NamedWindowDefinition, NamedWindowExpr, ObjectName, ObjectNamePart, Offset, OrderBy,
    OrderByExpr, OrderByKind, Query, Select, SelectFlavor, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, TableAlias, TableFactor, TableWithJoins,
    UnaryOperator, Value, Values, Visit, Visitor, WildcardAdditionalOptions, WindowFrameBound,
    WindowSpec, WindowType, With,
};
use sqlparser::derive_dialect;
use sqlparser::dialect::{MySqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::scope::{CteNames, RelationRef, Resolver};
use crate::{Dialect, Refusal, RelationResolver, TableRef, allowlist};

// MySQL runs the text of `/*! … */` comments and `sqlparser`'s MySQL dialect expands them into
// tokens too. This dialect keeps them as comments so the guard can see, and refuse, them.
derive_dialect!(
    MySqlKeepingComments,
    MySqlDialect,
    preserve_type_id = true,
    overrides = { supports_multiline_comment_hints = false }
);

/// How deep the parser may nest before it gives up (the walk recurses as deep as the AST).
const RECURSION_LIMIT: usize = 50;

pub(crate) fn check(
    dialect: Dialect,
    sql: &str,
    catalog: &dyn RelationResolver,
) -> Result<Vec<TableRef>, Refusal> {
    let mysql = MySqlKeepingComments::new();
    let sqlite = SQLiteDialect {};
    let parser_dialect: &dyn sqlparser::dialect::Dialect = match dialect {
        Dialect::Mysql => &mysql,
        Dialect::Sqlite => &sqlite,
        Dialect::Postgres => return Err(Refusal::new("wrong parser for postgres")),
    };
    let tokens = Tokenizer::new(parser_dialect, sql)
        .tokenize_with_location()
        .map_err(|error| Refusal::new(format!("statement could not be parsed: {error}")))?;
    refuse_tokens(dialect, &tokens)?;
    let statements = Parser::new(parser_dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|error| Refusal::new(format!("statement could not be parsed: {error}")))?;
    if statements.len() != 1 {
        return Err(Refusal::new(format!(
            "exactly one statement is allowed, found {}",
            statements.len()
        )));
    }
    let statement = &statements[0];
    let Statement::Query(query) = statement else {
        return Err(Refusal::new(format!(
            "{} is not allowed: only a read-only query is",
            statement_name(statement)
        )));
    };
    let cte_names = match dialect {
        Dialect::Sqlite => CteNames::AsciiCaseInsensitive,
        _ => CteNames::Exact,
    };
    let mut walker = Walker {
        dialect,
        resolver: Resolver::new(catalog, cte_names),
    };
    walker.query(query)?;
    cross_check(statement, &walker.resolver)?;
    walker.resolver.check_columns()?;
    Ok(walker.resolver.into_tables())
}

/// Token-level refusals: executable comments and optimizer hints (MySQL), Unicode escapes.
fn refuse_tokens(dialect: Dialect, tokens: &[TokenWithSpan]) -> Result<(), Refusal> {
    for token in tokens {
        match &token.token {
            // MySQL runs the text of `/*! … */`, MariaDB also that of `/*M! … */`, and both
            // read `/*+ … */` as optimizer hints; which prefixes a given server version honours
            // is not the guard's to guess, so no block comment passes in this dialect.
            Token::Whitespace(Whitespace::MultiLineComment(_)) if dialect == Dialect::Mysql => {
                return Err(Refusal::new(
                    "block comments (/* … */) are not allowed in MySQL SQL: MySQL and MariaDB run the text of some of them (/*! … */, /*M! … */); use -- comments instead",
                ));
            }
            Token::UnicodeStringLiteral(_) => {
                return Err(Refusal::new("Unicode-escaped strings are not allowed"));
            }
            Token::Placeholder(_) => {
                return Err(Refusal::new(
                    "parameters and variables are not allowed: write the values into the query",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

struct Counter {
    relations: usize,
    functions: usize,
    column_refs: usize,
}

impl Visitor for Counter {
    type Break = ();

    fn pre_visit_relation(&mut self, _relation: &ObjectName) -> ControlFlow<()> {
        self.relations += 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(_) => self.functions += 1,
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => self.column_refs += 1,
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn cross_check(statement: &Statement, resolver: &Resolver<'_>) -> Result<(), Refusal> {
    let mut counter = Counter {
        relations: 0,
        functions: 0,
        column_refs: 0,
    };
    let _ = statement.visit(&mut counter);
    if counter.relations != resolver.relations_seen
        || counter.functions != resolver.functions_seen
        || counter.column_refs != resolver.column_refs_seen
    {
        return Err(Refusal::new(
            "statement uses a construct the guard cannot inspect",
        ));
    }
    Ok(())
}

struct Walker<'a> {
    dialect: Dialect,
    resolver: Resolver<'a>,
}

fn refuse<T>(what: &str) -> Result<T, Refusal> {
    Err(Refusal::new(format!("{what} is not allowed")))
}

impl Walker<'_> {
    fn query(&mut self, query: &Query) -> Result<(), Refusal> {
        let Query {
            with,
            body,
            order_by,
            limit_clause,
            fetch,
            locks,
            for_clause,
            settings,
            format_clause,
            pipe_operators,
        } = query;
        if !locks.is_empty() {
            return refuse("a locking clause (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE)");
        }
        if for_clause.is_some() {
            return refuse("a FOR XML/JSON clause");
        }
        if settings.is_some() || format_clause.is_some() {
            return refuse("a SETTINGS or FORMAT clause");
        }
        if !pipe_operators.is_empty() {
            return refuse("a pipe operator");
        }
        match with {
            Some(with) => {
                self.resolver.push_scope();
                let walked = self
                    .with(with)
                    .and_then(|()| self.query_rest(body, order_by, limit_clause, fetch));
                self.resolver.pop_scope();
                walked
            }
            None => self.query_rest(body, order_by, limit_clause, fetch),
        }
    }

    fn query_rest(
        &mut self,
        body: &SetExpr,
        order_by: &Option<OrderBy>,
        limit_clause: &Option<LimitClause>,
        fetch: &Option<Fetch>,
    ) -> Result<(), Refusal> {
        self.set_expr(body)?;
        if let Some(OrderBy { kind, interpolate }) = order_by {
            if interpolate.is_some() {
                return refuse("INTERPOLATE");
            }
            match kind {
                OrderByKind::All(_) => {}
                OrderByKind::Expressions(exprs) => self.order_by_exprs(exprs)?,
            }
        }
        match limit_clause {
            None => {}
            Some(LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return refuse("LIMIT BY");
                }
                if let Some(limit) = limit {
                    self.expr(limit)?;
                }
                if let Some(Offset { value, rows: _ }) = offset {
                    self.expr(value)?;
                }
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                self.expr(offset)?;
                self.expr(limit)?;
            }
        }
        if let Some(Fetch {
            with_ties: _,
            percent: _,
            quantity,
        }) = fetch
            && let Some(quantity) = quantity
        {
            self.expr(quantity)?;
        }
        Ok(())
    }

    fn with(&mut self, with: &With) -> Result<(), Refusal> {
        let With {
            with_token: _,
            recursive,
            cte_tables,
        } = with;
        // A CTE sees the ones before it, and itself when RECURSIVE (MySQL's rule; for an engine
        // that also sees later ones, this can only refuse more).
        for cte in cte_tables {
            let Cte {
                alias,
                query,
                from,
                materialized: _,
                closing_paren_token: _,
            } = cte;
            if from.is_some() {
                return refuse("WITH … FROM");
            }
            if *recursive {
                self.resolver.add_cte(&alias.name.value);
            }
            self.query(query)?;
            if !*recursive {
                self.resolver.add_cte(&alias.name.value);
            }
        }
        Ok(())
    }

    fn set_expr(&mut self, body: &SetExpr) -> Result<(), Refusal> {
        match body {
            SetExpr::Select(select) => self.select(select),
            SetExpr::Query(query) => self.query(query),
            SetExpr::SetOperation {
                left,
                op: _,
                set_quantifier: _,
                right,
            } => {
                self.set_expr(left)?;
                self.set_expr(right)
            }
            SetExpr::Values(Values {
                explicit_row: _,
                value_keyword: _,
                rows,
            }) => {
                for row in rows {
                    self.exprs(&row.content)?;
                }
                Ok(())
            }
            SetExpr::Insert(_) => refuse("INSERT"),
            SetExpr::Update(_) => refuse("UPDATE"),
            SetExpr::Delete(_) => refuse("DELETE"),
            SetExpr::Merge(_) => refuse("MERGE"),
            SetExpr::Table(_) => refuse("TABLE"),
        }
    }

    fn select(&mut self, select: &Select) -> Result<(), Refusal> {
        refuse_unsupported_clauses(select)?;
        let Select {
            distinct,
            projection,
            from,
            selection,
            group_by,
            having,
            named_window,
            ..
        } = select;
        match distinct {
            None | Some(Distinct::All | Distinct::Distinct) => {}
            Some(Distinct::On(exprs)) => self.exprs(exprs)?,
        }
        for table in from {
            self.table_with_joins(table)?;
        }
        for item in projection {
            self.select_item(item)?;
        }
        if let Some(selection) = selection {
            self.expr(selection)?;
        }
        match group_by {
            GroupByExpr::All(modifiers) => self.group_by_modifiers(modifiers)?,
            GroupByExpr::Expressions(exprs, modifiers) => {
                self.exprs(exprs)?;
                self.group_by_modifiers(modifiers)?;
            }
        }
        if let Some(having) = having {
            self.expr(having)?;
        }
        for NamedWindowDefinition(_, window) in named_window {
            match window {
                NamedWindowExpr::NamedWindow(_) => {}
                NamedWindowExpr::WindowSpec(spec) => self.window_spec(spec)?,
            }
        }
        Ok(())
    }

    fn group_by_modifiers(&mut self, modifiers: &[GroupByWithModifier]) -> Result<(), Refusal> {
        for modifier in modifiers {
            match modifier {
                GroupByWithModifier::Rollup | GroupByWithModifier::Cube => {}
                GroupByWithModifier::Totals => return refuse("WITH TOTALS"),
                GroupByWithModifier::GroupingSets(expr) => self.expr(expr)?,
            }
        }
        Ok(())
    }

    fn select_item(&mut self, item: &SelectItem) -> Result<(), Refusal> {
        match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, alias: _ } => {
                self.expr(expr)
            }
            SelectItem::ExprWithAliases { .. } => refuse("several aliases for one expression"),
            SelectItem::QualifiedWildcard(kind, options) => {
                plain_wildcard(options)?;
                self.resolver.wildcard();
                match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(_) => Ok(()),
                    SelectItemQualifiedWildcardKind::Expr(_) => refuse("expr.*"),
                }
            }
            SelectItem::Wildcard(options) => {
                self.resolver.wildcard();
                plain_wildcard(options)
            }
        }
    }

    fn table_with_joins(&mut self, table: &TableWithJoins) -> Result<(), Refusal> {
        let TableWithJoins { relation, joins } = table;
        self.table_factor(relation)?;
        for join in joins {
            let Join {
                relation,
                global,
                join_operator,
            } = join;
            if *global {
                return refuse("GLOBAL JOIN");
            }
            self.table_factor(relation)?;
            let constraint = match join_operator {
                JoinOperator::Join(constraint)
                | JoinOperator::Inner(constraint)
                | JoinOperator::Left(constraint)
                | JoinOperator::LeftOuter(constraint)
                | JoinOperator::Right(constraint)
                | JoinOperator::RightOuter(constraint)
                | JoinOperator::FullOuter(constraint)
                | JoinOperator::CrossJoin(constraint)
                | JoinOperator::StraightJoin(constraint) => constraint,
                _ => return refuse("this kind of join"),
            };
            match constraint {
                JoinConstraint::On(expr) => self.expr(expr)?,
                JoinConstraint::Using(columns) => {
                    for column in columns {
                        let parts = identifiers(column)
                            .ok_or_else(|| Refusal::new("unexpected USING list"))?;
                        for part in parts {
                            self.resolver.column_name(part, false);
                        }
                    }
                }
                JoinConstraint::Natural => self.resolver.positional_columns(),
                JoinConstraint::None => {}
                JoinConstraint::UsingAlias(..) => return refuse("USING … AS"),
            }
        }
        Ok(())
    }

    fn table_factor(&mut self, factor: &TableFactor) -> Result<(), Refusal> {
        match factor {
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_directives: _,
                inheritance,
            } => {
                if args.is_some() {
                    return refuse("a table-valued function");
                }
                if !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || inheritance.is_some()
                {
                    return refuse("this table modifier");
                }
                self.relation(name, alias.as_ref())
            }
            TableFactor::Derived {
                lateral: _,
                subquery,
                alias: _,
                sample,
            } => {
                if sample.is_some() {
                    return refuse("TABLESAMPLE");
                }
                self.query(subquery)
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if alias
                    .as_ref()
                    .is_some_and(|alias| !alias.columns.is_empty())
                {
                    self.resolver.positional_columns();
                }
                self.table_with_joins(table_with_joins)
            }
            TableFactor::Function { .. }
            | TableFactor::TableFunction { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::JsonTable { .. }
            | TableFactor::OpenJsonTable { .. } => refuse("a table function in FROM"),
            _ => refuse("this FROM item"),
        }
    }

    fn relation(&mut self, name: &ObjectName, alias: Option<&TableAlias>) -> Result<(), Refusal> {
        let parts = identifiers(name).ok_or_else(|| Refusal::new("unexpected relation name"))?;
        let written = parts.join(".");
        if self.dialect == Dialect::Mysql
            && let [only] = parts.as_slice()
            && only.eq_ignore_ascii_case("dual")
        {
            // MySQL's `FROM DUAL` names no table.
            return self.resolver.pseudo_relation();
        }
        let (schema, relation, forbidden) = match parts.as_slice() {
            [relation] => (None, *relation, false),
            [schema, relation] => (Some(*schema), *relation, false),
            _ => (None, written.as_str(), true),
        };
        let forbidden = forbidden || self.is_system_relation(schema, relation);
        let reference = RelationRef {
            schema,
            name: relation,
            written: &written,
            alias: alias.map(|alias| alias.name.value.as_str()),
            alias_columns: alias.is_some_and(|alias| !alias.columns.is_empty()),
        };
        self.resolver.relation(reference, forbidden)
    }

    fn is_system_relation(&self, schema: Option<&str>, name: &str) -> bool {
        match self.dialect {
            Dialect::Mysql => schema.is_some_and(|schema| {
                ["mysql", "information_schema", "performance_schema", "sys"]
                    .iter()
                    .any(|system| schema.eq_ignore_ascii_case(system))
            }),
            Dialect::Sqlite => {
                let lower = name.to_ascii_lowercase();
                lower.starts_with("sqlite_") || lower.starts_with("pragma_")
            }
            Dialect::Postgres => true,
        }
    }

    fn exprs(&mut self, exprs: &[Expr]) -> Result<(), Refusal> {
        for expr in exprs {
            self.expr(expr)?;
        }
        Ok(())
    }

    fn order_by_exprs(&mut self, exprs: &[OrderByExpr]) -> Result<(), Refusal> {
        for OrderByExpr {
            expr,
            options: _,
            with_fill,
        } in exprs
        {
            if with_fill.is_some() {
                return refuse("WITH FILL");
            }
            self.expr(expr)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    fn expr(&mut self, expr: &Expr) -> Result<(), Refusal> {
        match expr {
            Expr::Identifier(ident) => {
                self.resolver.column_refs_seen += 1;
                self.identifier(&ident.value)?;
                self.resolver.column_name(&ident.value, false);
                Ok(())
            }
            Expr::CompoundIdentifier(idents) => {
                self.resolver.column_refs_seen += 1;
                for ident in idents {
                    self.identifier(&ident.value)?;
                    self.resolver.column_name(&ident.value, false);
                }
                Ok(())
            }
            Expr::IsFalse(inner)
            | Expr::IsNotFalse(inner)
            | Expr::IsTrue(inner)
            | Expr::IsNotTrue(inner)
            | Expr::IsNull(inner)
            | Expr::IsNotNull(inner)
            | Expr::IsUnknown(inner)
            | Expr::IsNotUnknown(inner)
            | Expr::Nested(inner) => self.expr(inner),
            Expr::IsDistinctFrom(left, right) | Expr::IsNotDistinctFrom(left, right) => {
                self.expr(left)?;
                self.expr(right)
            }
            Expr::In {
                expr,
                target,
                negated: _,
                global,
            } => {
                if *global {
                    return refuse("GLOBAL IN");
                }
                self.expr(expr)?;
                match target {
                    InTarget::List(list) => self.exprs(list),
                    InTarget::Subquery(query) => self.query(query),
                    _ => refuse("this IN form"),
                }
            }
            Expr::Between {
                expr,
                negated: _,
                low,
                high,
            } => {
                self.expr(expr)?;
                self.expr(low)?;
                self.expr(high)
            }
            Expr::BinaryOp { left, op, right } => {
                self.binary_operator(op)?;
                self.expr(left)?;
                self.expr(right)
            }
            Expr::Like {
                negated: _,
                any,
                expr,
                pattern,
                escape_char,
            }
            | Expr::ILike {
                negated: _,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if *any {
                    return refuse("LIKE ANY");
                }
                self.expr(expr)?;
                self.expr(pattern)?;
                if let Some(escape) = escape_char {
                    self.expr(escape)?;
                }
                Ok(())
            }
            Expr::SimilarTo {
                negated: _,
                expr,
                pattern,
                escape_char,
            } => {
                self.expr(expr)?;
                self.expr(pattern)?;
                if let Some(escape) = escape_char {
                    self.expr(escape)?;
                }
                Ok(())
            }
            Expr::RLike {
                negated: _,
                expr,
                pattern,
                regexp: _,
            } => {
                self.expr(expr)?;
                self.expr(pattern)
            }
            Expr::AnyOp {
                left,
                compare_op,
                right,
                is_some: _,
            }
            | Expr::AllOp {
                left,
                compare_op,
                right,
            } => {
                self.binary_operator(compare_op)?;
                self.expr(left)?;
                self.expr(right)
            }
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Plus
                | UnaryOperator::Minus
                | UnaryOperator::Not
                | UnaryOperator::BitwiseNot => self.expr(expr),
                _ => refuse("this unary operator"),
            },
            Expr::Convert {
                is_try: _,
                expr,
                data_type: _,
                charset: _,
                target_before_value: _,
                styles,
            } => {
                self.expr(expr)?;
                self.exprs(styles)
            }
            Expr::Cast {
                kind: _,
                expr,
                data_type: _,
                format,
            } => {
                if format.is_some() {
                    return refuse("CAST … FORMAT");
                }
                self.expr(expr)
            }
            Expr::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                self.expr(timestamp)?;
                self.expr(time_zone)
            }
            Expr::Extract {
                field: _,
                syntax: _,
                expr,
            }
            | Expr::Ceil { expr, field: _ }
            | Expr::Floor { expr, field: _ } => self.expr(expr),
            Expr::Position { expr, r#in } => {
                self.expr(expr)?;
                self.expr(r#in)
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                special: _,
                shorthand: _,
            } => {
                self.expr(expr)?;
                for part in [substring_from, substring_for].into_iter().flatten() {
                    self.expr(part)?;
                }
                Ok(())
            }
            Expr::Trim {
                trim_where: _,
                trim_what,
                expr,
                trim_characters,
            } => {
                self.expr(expr)?;
                if let Some(what) = trim_what {
                    self.expr(what)?;
                }
                if let Some(characters) = trim_characters {
                    self.exprs(characters)?;
                }
                Ok(())
            }
            Expr::Overlay {
                expr,
                overlay_what,
                overlay_from,
                overlay_for,
            } => {
                self.expr(expr)?;
                self.expr(overlay_what)?;
                self.expr(overlay_from)?;
                if let Some(length) = overlay_for {
                    self.expr(length)?;
                }
                Ok(())
            }
            Expr::Collate { expr, collation: _ } => self.expr(expr),
            Expr::Value(value) => self.value(&value.value),
            Expr::Prefixed { prefix: _, value } => self.expr(value),
            Expr::TypedString(typed) => self.value(&typed.value.value),
            Expr::Function(function) => self.function(function),
            Expr::Case {
                case_token: _,
                end_token: _,
                operand,
                conditions,
                else_result,
            } => {
                if let Some(operand) = operand {
                    self.expr(operand)?;
                }
                for when in conditions {
                    self.expr(&when.condition)?;
                    self.expr(&when.result)?;
                }
                if let Some(otherwise) = else_result {
                    self.expr(otherwise)?;
                }
                Ok(())
            }
            Expr::Exists {
                subquery,
                negated: _,
            } => self.query(subquery),
            Expr::Subquery(query) => self.query(query),
            Expr::GroupingSets(sets) | Expr::Cube(sets) | Expr::Rollup(sets) => {
                for set in sets {
                    self.exprs(set)?;
                }
                Ok(())
            }
            Expr::Tuple(exprs) => self.exprs(exprs),
            Expr::Interval(interval) => self.expr(&interval.value),
            _ => refuse("this expression"),
        }
    }

    /// Session and system variables (`@v`, `@@global.x`) are not columns.
    fn identifier(&self, name: &str) -> Result<(), Refusal> {
        if self.dialect == Dialect::Mysql && name.starts_with('@') {
            return refuse("a session or system variable");
        }
        Ok(())
    }

    fn value(&self, value: &Value) -> Result<(), Refusal> {
        match value {
            Value::Number(..)
            | Value::SingleQuotedString(_)
            | Value::DoubleQuotedString(_)
            | Value::NationalStringLiteral(_)
            | Value::HexStringLiteral(_)
            | Value::SingleQuotedByteStringLiteral(_)
            | Value::Boolean(_)
            | Value::Null => Ok(()),
            Value::Placeholder(_) => refuse("a parameter or variable"),
            Value::UnicodeStringLiteral(_) => refuse("a Unicode-escaped string"),
            _ => refuse("this kind of literal"),
        }
    }

    fn binary_operator(&self, op: &BinaryOperator) -> Result<(), Refusal> {
        let common = matches!(
            op,
            BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Divide
                | BinaryOperator::Modulo
                | BinaryOperator::StringConcat
                | BinaryOperator::Gt
                | BinaryOperator::Lt
                | BinaryOperator::GtEq
                | BinaryOperator::LtEq
                | BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::And
                | BinaryOperator::Or
                | BinaryOperator::BitwiseOr
                | BinaryOperator::BitwiseAnd
                | BinaryOperator::Arrow
                | BinaryOperator::LongArrow
        );
        let dialect_specific = match self.dialect {
            Dialect::Mysql => matches!(
                op,
                BinaryOperator::Spaceship
                    | BinaryOperator::Xor
                    | BinaryOperator::BitwiseXor
                    | BinaryOperator::MyIntegerDivide
                    | BinaryOperator::PGBitwiseShiftLeft
                    | BinaryOperator::PGBitwiseShiftRight
                    | BinaryOperator::Regexp
            ),
            Dialect::Sqlite => matches!(
                op,
                BinaryOperator::Glob
                    | BinaryOperator::PGBitwiseShiftLeft
                    | BinaryOperator::PGBitwiseShiftRight
            ),
            Dialect::Postgres => false,
        };
        if common || dialect_specific {
            Ok(())
        } else {
            Err(Refusal::new(format!("operator {op} is not allowed")))
        }
    }

    fn function(&mut self, function: &Function) -> Result<(), Refusal> {
        let Function {
            name,
            uses_odbc_syntax: _,
            parameters,
            args,
            within_group,
            filter,
            null_treatment: _,
            over,
        } = function;
        self.resolver.functions_seen += 1;
        let parts = identifiers(name).ok_or_else(|| Refusal::new("unexpected function name"))?;
        let [bare] = parts.as_slice() else {
            return Err(Refusal::new(format!(
                "function {}() is not allowed",
                parts.join(".")
            )));
        };
        let lower = bare.to_ascii_lowercase();
        let allowed = match self.dialect {
            Dialect::Mysql => allowlist::mysql_function(&lower),
            Dialect::Sqlite => allowlist::sqlite_function(&lower),
            Dialect::Postgres => false,
        };
        if !allowed {
            return Err(Refusal::new(format!("function {lower}() is not allowed")));
        }
        if !matches!(parameters, FunctionArguments::None) {
            return refuse("function parameters");
        }
        match args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(_) => return refuse("a subquery as function arguments"),
            FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: _,
                args,
                clauses,
            }) => {
                for arg in args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => self.expr(expr)?,
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => {}
                        _ => return refuse("this function argument"),
                    }
                }
                for clause in clauses {
                    match clause {
                        FunctionArgumentClause::IgnoreOrRespectNulls(_)
                        | FunctionArgumentClause::Separator(_) => {}
                        FunctionArgumentClause::OrderBy(exprs) => self.order_by_exprs(exprs)?,
                        _ => return refuse("this function argument clause"),
                    }
                }
            }
        }
        self.order_by_exprs(within_group)?;
        if let Some(filter) = filter {
            self.expr(filter)?;
        }
        match over {
            None | Some(WindowType::NamedWindow(_)) => Ok(()),
            Some(WindowType::WindowSpec(spec)) => self.window_spec(spec),
        }
    }

    fn window_spec(&mut self, spec: &WindowSpec) -> Result<(), Refusal> {
        let WindowSpec {
            window_name: _,
            partition_by,
            order_by,
            window_frame,
        } = spec;
        self.exprs(partition_by)?;
        self.order_by_exprs(order_by)?;
        if let Some(frame) = window_frame {
            for bound in std::iter::once(&frame.start_bound).chain(frame.end_bound.as_ref()) {
                match bound {
                    WindowFrameBound::CurrentRow => {}
                    WindowFrameBound::Preceding(offset) | WindowFrameBound::Following(offset) => {
                        if let Some(offset) = offset {
                            self.expr(offset)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Refuses the clauses of a SELECT that are not allowed, naming the first one found. Every field
/// of [`Select`] is named here, so a new one must be decided on before this compiles.
fn refuse_unsupported_clauses(select: &Select) -> Result<(), Refusal> {
    let Select {
        select_token: _,
        optimizer_hints,
        distinct: _,
        select_modifiers,
        top,
        top_before_distinct: _,
        projection: _,
        exclude,
        into,
        from: _,
        lateral_views,
        prewhere,
        selection: _,
        connect_by,
        group_by: _,
        cluster_by,
        distribute_by,
        sort_by,
        having: _,
        named_window: _,
        qualify,
        window_before_qualify: _,
        value_table_mode,
        flavor,
    } = select;
    if into.is_some() {
        return refuse("SELECT … INTO");
    }
    if !optimizer_hints.is_empty() {
        return refuse("an optimizer hint");
    }
    if select_modifiers.is_some() {
        return refuse("a SELECT modifier (HIGH_PRIORITY, SQL_NO_CACHE, …)");
    }
    if top.is_some() || exclude.is_some() || value_table_mode.is_some() {
        return refuse("TOP, EXCLUDE or AS VALUE");
    }
    if !lateral_views.is_empty()
        || prewhere.is_some()
        || !connect_by.is_empty()
        || !cluster_by.is_empty()
        || !distribute_by.is_empty()
        || !sort_by.is_empty()
        || qualify.is_some()
    {
        return refuse("this clause");
    }
    if !matches!(flavor, SelectFlavor::Standard) {
        return refuse("FROM-first SELECT");
    }
    Ok(())
}

fn plain_wildcard(options: &WildcardAdditionalOptions) -> Result<(), Refusal> {
    let WildcardAdditionalOptions {
        wildcard_token: _,
        opt_ilike,
        opt_exclude,
        opt_except,
        opt_replace,
        opt_rename,
        opt_alias,
    } = options;
    if opt_ilike.is_some()
        || opt_exclude.is_some()
        || opt_except.is_some()
        || opt_replace.is_some()
        || opt_rename.is_some()
        || opt_alias.is_some()
    {
        return refuse("wildcard options");
    }
    Ok(())
}

fn identifiers(name: &ObjectName) -> Option<Vec<&str>> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(ident.value.as_str()),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// A statement kind as a reader knows it: the first words of its SQL form.
fn statement_name(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(1).collect();
    let upper: Vec<String> = words
        .iter()
        .map(|word| word.to_ascii_uppercase())
        .filter(|word| word.chars().all(|c| c.is_ascii_alphabetic() || c == '_'))
        .collect();
    if upper.is_empty() {
        "this statement".to_owned()
    } else {
        format!("{} statement", upper.join(" "))
    }
}
