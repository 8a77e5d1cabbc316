//! PostgreSQL: parsed by PostgreSQL's own parser (`pg_query`), then the raw parse tree is walked.
//!
//! Every node kind the walker allows is destructured with all of its fields named, so a field
//! added by a new parser version does not compile until someone decides about it. Any node kind
//! not matched explicitly is refused.

use pg_query::protobuf::{
    self, AExpr, CommonTableExpr, FuncCall, JoinExpr, RangeFunction, RangeSubselect, RangeVar,
    SelectStmt, SetOperation, SubLinkType, Token, TypeName, WindowDef, WithClause, node::Node as N,
};

use crate::scope::{CteNames, RelationRef, Resolver};
use crate::{Refusal, RelationResolver, TableRef, allowlist};

pub(crate) fn check(sql: &str, catalog: &dyn RelationResolver) -> Result<Vec<TableRef>, Refusal> {
    refuse_unicode_escapes(sql)?;
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT)
        .map_err(|error| Refusal::new(format!("statement could not be parsed: {error}")))?;
    let statements = &parsed.protobuf.stmts;
    if statements.len() != 1 {
        return Err(Refusal::new(format!(
            "exactly one statement is allowed, found {}",
            statements.len()
        )));
    }
    let statement = statements[0]
        .stmt
        .as_deref()
        .and_then(|node| node.node.as_ref())
        .ok_or_else(|| Refusal::new("empty statement"))?;
    let N::SelectStmt(select) = statement else {
        return Err(Refusal::new(format!(
            "{} is not allowed: only a read-only query is",
            statement_name(statement)
        )));
    };
    let mut walker = Walker {
        resolver: Resolver::new(catalog, CteNames::Exact),
    };
    walker.select(select)?;
    cross_check(&parsed.protobuf, &walker.resolver)?;
    walker.resolver.check_columns()?;
    Ok(walker.resolver.into_tables())
}

/// `U&"…"`, `U&'…'` and `UESCAPE` are refused: names and strings spelled through escapes are a
/// classic way past filters, and no honest query needs them. Decided on PostgreSQL's own tokens.
fn refuse_unicode_escapes(sql: &str) -> Result<(), Refusal> {
    let scanned = pg_query::scan(sql)
        .map_err(|error| Refusal::new(format!("statement could not be parsed: {error}")))?;
    let escaped = scanned.tokens.iter().any(|token| {
        matches!(
            Token::try_from(token.token),
            Ok(Token::Uident | Token::Usconst | Token::Uescape)
        )
    });
    if escaped {
        return Err(Refusal::new(
            "Unicode-escaped identifiers and strings (U&\"…\", U&'…', UESCAPE) are not allowed",
        ));
    }
    Ok(())
}

/// Second, independent count of relations and function calls over the serialised tree. If the
/// typed walk saw fewer than there are, some field was not walked: refuse rather than trust it.
fn cross_check(tree: &protobuf::ParseResult, resolver: &Resolver<'_>) -> Result<(), Refusal> {
    let value = serde_json::to_value(tree)
        .map_err(|error| Refusal::new(format!("statement could not be inspected: {error}")))?;
    let mut counts = KeyCounts::default();
    count_keys(&value, &mut counts);
    if counts.relations != resolver.relations_seen
        || counts.functions != resolver.functions_seen
        || counts.column_refs != resolver.column_refs_seen
    {
        return Err(Refusal::new(
            "statement uses a construct the guard cannot inspect",
        ));
    }
    Ok(())
}

#[derive(Default)]
struct KeyCounts {
    relations: usize,
    functions: usize,
    column_refs: usize,
}

fn count_keys(value: &serde_json::Value, counts: &mut KeyCounts) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match key.as_str() {
                    "RangeVar" => counts.relations += 1,
                    "FuncCall" => counts.functions += 1,
                    "ColumnRef" => counts.column_refs += 1,
                    _ => {}
                }
                count_keys(inner, counts);
            }
        }
        serde_json::Value::Array(items) => {
            for inner in items {
                count_keys(inner, counts);
            }
        }
        _ => {}
    }
}

struct Walker<'a> {
    resolver: Resolver<'a>,
}

impl Walker<'_> {
    fn select(&mut self, select: &SelectStmt) -> Result<(), Refusal> {
        // Named in full so that a field added by a new parser version is a compile error here;
        // the fields bound to `_` are walked by `select_body`.
        let SelectStmt {
            distinct_clause: _,
            into_clause,
            target_list: _,
            from_clause: _,
            where_clause: _,
            group_clause: _,
            group_distinct: _,
            having_clause: _,
            window_clause: _,
            values_lists: _,
            sort_clause: _,
            limit_offset: _,
            limit_count: _,
            limit_option: _,
            locking_clause,
            with_clause,
            op,
            all: _,
            larg: _,
            rarg: _,
        } = select;
        if into_clause.is_some() {
            return Err(Refusal::new("SELECT … INTO is not allowed"));
        }
        if !locking_clause.is_empty() {
            return Err(Refusal::new(
                "locking clauses (FOR UPDATE, FOR SHARE, …) are not allowed",
            ));
        }
        match SetOperation::try_from(*op) {
            Ok(
                SetOperation::SetopNone
                | SetOperation::SetopUnion
                | SetOperation::SetopIntersect
                | SetOperation::SetopExcept,
            ) => {}
            _ => return Err(Refusal::new("unknown set operation")),
        }
        if let Some(with) = with_clause {
            self.resolver.push_scope();
            let walked = self.with(with).and_then(|()| self.select_body(select));
            self.resolver.pop_scope();
            walked
        } else {
            self.select_body(select)
        }
    }

    /// Everything of a SELECT but its WITH clause, whose names are in scope by now.
    fn select_body(&mut self, select: &SelectStmt) -> Result<(), Refusal> {
        for item in &select.from_clause {
            self.range_item(item)?;
        }
        for side in [&select.larg, &select.rarg].into_iter().flatten() {
            self.select(side)?;
        }
        for list in [
            &select.distinct_clause,
            &select.target_list,
            &select.group_clause,
            &select.window_clause,
            &select.values_lists,
            &select.sort_clause,
        ] {
            self.exprs(list)?;
        }
        for expr in [
            &select.where_clause,
            &select.having_clause,
            &select.limit_offset,
            &select.limit_count,
        ]
        .into_iter()
        .flatten()
        {
            self.expr(expr)?;
        }
        Ok(())
    }

    fn with(&mut self, with: &WithClause) -> Result<(), Refusal> {
        let WithClause {
            ctes,
            recursive,
            location: _,
        } = with;
        let mut parts = Vec::with_capacity(ctes.len());
        for cte in ctes {
            match &cte.node {
                Some(N::CommonTableExpr(cte)) => parts.push(cte.as_ref()),
                other => {
                    return Err(Refusal::new(format!(
                        "{} in WITH is not allowed",
                        node_name(other.as_ref())
                    )));
                }
            }
        }
        // A CTE sees the ones before it, and itself when RECURSIVE. PostgreSQL would also let a
        // recursive CTE see later ones; treating those names as tables instead can only refuse
        // more, never let a table through unchecked.
        for cte in parts {
            if *recursive {
                self.resolver.add_cte(&cte.ctename);
            }
            self.cte(cte)?;
            if !*recursive {
                self.resolver.add_cte(&cte.ctename);
            }
        }
        Ok(())
    }

    fn cte(&mut self, cte: &CommonTableExpr) -> Result<(), Refusal> {
        let CommonTableExpr {
            ctename: _,
            aliascolnames,
            ctematerialized: _,
            ctequery,
            search_clause,
            cycle_clause,
            location: _,
            cterecursive: _,
            cterefcount: _,
            ctecolnames,
            ctecoltypes,
            ctecoltypmods,
            ctecolcollations,
        } = cte;
        if search_clause.is_some() || cycle_clause.is_some() {
            return Err(Refusal::new(
                "SEARCH and CYCLE clauses in WITH are not allowed",
            ));
        }
        for list in [
            aliascolnames,
            ctecolnames,
            ctecoltypes,
            ctecoltypmods,
            ctecolcollations,
        ] {
            self.exprs(list)?;
        }
        match ctequery.as_deref().and_then(|node| node.node.as_ref()) {
            Some(N::SelectStmt(select)) => self.select(select),
            Some(other) => Err(Refusal::new(format!(
                "data-modifying statement in WITH ({}) is not allowed",
                statement_name(other)
            ))),
            None => Err(Refusal::new("empty WITH query")),
        }
    }

    fn range_item(&mut self, item: &protobuf::Node) -> Result<(), Refusal> {
        match &item.node {
            Some(N::RangeVar(range_var)) => self.relation(range_var),
            Some(N::JoinExpr(join)) => {
                let JoinExpr {
                    jointype: _,
                    is_natural,
                    larg,
                    rarg,
                    using_clause,
                    join_using_alias: _,
                    quals,
                    alias,
                    rtindex: _,
                } = join.as_ref();
                if *is_natural
                    || alias
                        .as_ref()
                        .is_some_and(|alias| !alias.colnames.is_empty())
                {
                    self.resolver.positional_columns();
                }
                for side in [larg, rarg].into_iter().flatten() {
                    self.range_item(side)?;
                }
                let using = string_parts(using_clause)
                    .ok_or_else(|| Refusal::new("unexpected USING list"))?;
                for column in using {
                    self.resolver.column_name(column, false);
                }
                self.opt_expr(quals.as_deref())
            }
            Some(N::RangeSubselect(subselect)) => {
                let RangeSubselect {
                    lateral: _,
                    subquery,
                    alias: _,
                } = subselect.as_ref();
                self.subquery(subquery.as_deref())
            }
            Some(N::RangeFunction(function)) => self.range_function(function),
            other => Err(Refusal::new(format!(
                "{} in FROM is not allowed",
                node_name(other.as_ref())
            ))),
        }
    }

    fn relation(&mut self, range_var: &RangeVar) -> Result<(), Refusal> {
        let RangeVar {
            catalogname,
            schemaname,
            relname,
            inh: _,
            relpersistence: _,
            alias,
            location: _,
        } = range_var;
        let written = [catalogname, schemaname, relname]
            .into_iter()
            .filter(|part| !part.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(".");
        let schema = (!schemaname.is_empty()).then_some(schemaname.as_str());
        let forbidden = !catalogname.is_empty() || is_system_relation(schema, relname);
        let reference = RelationRef {
            schema,
            name: relname,
            written: &written,
            alias: alias.as_ref().map(|alias| alias.aliasname.as_str()),
            alias_columns: alias
                .as_ref()
                .is_some_and(|alias| !alias.colnames.is_empty()),
        };
        self.resolver.relation(reference, forbidden)
    }

    fn range_function(&mut self, function: &RangeFunction) -> Result<(), Refusal> {
        let RangeFunction {
            lateral: _,
            ordinality: _,
            is_rowsfrom: _,
            functions,
            alias: _,
            coldeflist,
        } = function;
        if !coldeflist.is_empty() {
            return Err(Refusal::new(
                "column definition lists in FROM are not allowed",
            ));
        }
        for item in functions {
            // Each item is a two-element list: the call and its (optional) column definitions.
            let Some(N::List(list)) = &item.node else {
                return Err(Refusal::new("unexpected function form in FROM"));
            };
            let mut items = list.items.iter();
            match items.next().and_then(|node| node.node.as_ref()) {
                Some(N::FuncCall(call)) => {
                    let name = function_name(&call.funcname)?;
                    if !allowlist::postgres_table_function(&name) {
                        return Err(Refusal::new(format!(
                            "function {name}() is not allowed in FROM"
                        )));
                    }
                    self.func_call(call)?;
                }
                other => {
                    return Err(Refusal::new(format!(
                        "{} in FROM is not allowed",
                        node_name(other)
                    )));
                }
            }
            for rest in items {
                match &rest.node {
                    None => {}
                    Some(N::List(defs)) if defs.items.is_empty() => {}
                    Some(_) => {
                        return Err(Refusal::new(
                            "column definition lists in FROM are not allowed",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn subquery(&mut self, node: Option<&protobuf::Node>) -> Result<(), Refusal> {
        match node.and_then(|node| node.node.as_ref()) {
            Some(N::SelectStmt(select)) => self.select(select),
            other => Err(Refusal::new(format!(
                "{} as a subquery is not allowed",
                node_name(other)
            ))),
        }
    }

    fn exprs(&mut self, nodes: &[protobuf::Node]) -> Result<(), Refusal> {
        for node in nodes {
            self.expr(node)?;
        }
        Ok(())
    }

    fn opt_expr(&mut self, node: Option<&protobuf::Node>) -> Result<(), Refusal> {
        match node {
            Some(node) => self.expr(node),
            None => Ok(()),
        }
    }

    #[allow(clippy::too_many_lines)]
    fn expr(&mut self, node: &protobuf::Node) -> Result<(), Refusal> {
        let Some(kind) = &node.node else {
            // An empty node holds nothing (e.g. the marker in `SELECT DISTINCT`).
            return Ok(());
        };
        match kind {
            N::String(_) | N::Integer(_) | N::Float(_) | N::Boolean(_) | N::BitString(_) => Ok(()),
            N::AStar(_) => {
                self.resolver.wildcard();
                Ok(())
            }
            N::AConst(_) => Ok(()),
            N::SqlvalueFunction(function) => {
                let protobuf::SqlValueFunction {
                    xpr,
                    op: _,
                    r#type: _,
                    typmod: _,
                    location: _,
                } = function.as_ref();
                self.opt_expr(xpr.as_deref())
            }
            N::ColumnRef(column) => {
                let protobuf::ColumnRef {
                    fields,
                    location: _,
                } = column;
                self.resolver.column_refs_seen += 1;
                for (index, field) in fields.iter().enumerate() {
                    match &field.node {
                        // The last name may also stand for a whole row: `t`, `schema.t`.
                        Some(N::String(name)) => self
                            .resolver
                            .column_name(&name.sval, index + 1 == fields.len()),
                        Some(N::AStar(_)) => self.resolver.wildcard(),
                        other => {
                            return Err(Refusal::new(format!(
                                "{} in a column reference is not allowed",
                                node_name(other.as_ref())
                            )));
                        }
                    }
                }
                Ok(())
            }
            N::ResTarget(target) => {
                let protobuf::ResTarget {
                    name: _,
                    indirection,
                    val,
                    location: _,
                } = target.as_ref();
                self.exprs(indirection)?;
                self.opt_expr(val.as_deref())
            }
            N::AExpr(expr) => self.a_expr(expr),
            N::BoolExpr(expr) => {
                let protobuf::BoolExpr {
                    xpr,
                    boolop: _,
                    args,
                    location: _,
                } = expr.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.exprs(args)
            }
            N::FuncCall(call) => self.func_call(call),
            N::TypeCast(cast) => {
                let protobuf::TypeCast {
                    arg,
                    type_name,
                    location: _,
                } = cast.as_ref();
                match type_name {
                    Some(type_name) => self.type_name(type_name)?,
                    None => return Err(Refusal::new("cast without a type")),
                }
                self.opt_expr(arg.as_deref())
            }
            N::SubLink(link) => {
                let protobuf::SubLink {
                    xpr,
                    sub_link_type,
                    sub_link_id: _,
                    testexpr,
                    oper_name,
                    subselect,
                    location: _,
                } = link.as_ref();
                match SubLinkType::try_from(*sub_link_type) {
                    Ok(
                        SubLinkType::ExistsSublink
                        | SubLinkType::AllSublink
                        | SubLinkType::AnySublink
                        | SubLinkType::RowcompareSublink
                        | SubLinkType::ExprSublink
                        | SubLinkType::ArraySublink,
                    ) => {}
                    _ => return Err(Refusal::new("this kind of subquery is not allowed")),
                }
                self.operator_name(oper_name)?;
                self.opt_expr(xpr.as_deref())?;
                self.opt_expr(testexpr.as_deref())?;
                self.subquery(subselect.as_deref())
            }
            N::CaseExpr(case) => {
                let protobuf::CaseExpr {
                    xpr,
                    casetype: _,
                    casecollid: _,
                    arg,
                    args,
                    defresult,
                    location: _,
                } = case.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.opt_expr(arg.as_deref())?;
                self.exprs(args)?;
                self.opt_expr(defresult.as_deref())
            }
            N::CaseWhen(when) => {
                let protobuf::CaseWhen {
                    xpr,
                    expr,
                    result,
                    location: _,
                } = when.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.opt_expr(expr.as_deref())?;
                self.opt_expr(result.as_deref())
            }
            N::CoalesceExpr(coalesce) => {
                let protobuf::CoalesceExpr {
                    xpr,
                    coalescetype: _,
                    coalescecollid: _,
                    args,
                    location: _,
                } = coalesce.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.exprs(args)
            }
            N::MinMaxExpr(min_max) => {
                let protobuf::MinMaxExpr {
                    xpr,
                    minmaxtype: _,
                    minmaxcollid: _,
                    inputcollid: _,
                    op: _,
                    args,
                    location: _,
                } = min_max.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.exprs(args)
            }
            N::NullTest(test) => {
                let protobuf::NullTest {
                    xpr,
                    arg,
                    nulltesttype: _,
                    argisrow: _,
                    location: _,
                } = test.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.opt_expr(arg.as_deref())
            }
            N::BooleanTest(test) => {
                let protobuf::BooleanTest {
                    xpr,
                    arg,
                    booltesttype: _,
                    location: _,
                } = test.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.opt_expr(arg.as_deref())
            }
            N::AIndirection(indirection) => {
                let protobuf::AIndirection {
                    arg,
                    indirection: steps,
                } = indirection.as_ref();
                self.opt_expr(arg.as_deref())?;
                self.exprs(steps)
            }
            N::AIndices(indices) => {
                let protobuf::AIndices {
                    is_slice: _,
                    lidx,
                    uidx,
                } = indices.as_ref();
                self.opt_expr(lidx.as_deref())?;
                self.opt_expr(uidx.as_deref())
            }
            N::AArrayExpr(array) => {
                let protobuf::AArrayExpr {
                    elements,
                    list_start: _,
                    list_end: _,
                    location: _,
                } = array;
                self.exprs(elements)
            }
            N::RowExpr(row) => {
                let protobuf::RowExpr {
                    xpr,
                    args,
                    row_typeid: _,
                    row_format: _,
                    colnames,
                    location: _,
                } = row.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.exprs(args)?;
                self.exprs(colnames)
            }
            N::List(list) => self.exprs(&list.items),
            N::CollateClause(collate) => {
                let protobuf::CollateClause {
                    arg,
                    collname,
                    location: _,
                } = collate.as_ref();
                self.exprs(collname)?;
                self.opt_expr(arg.as_deref())
            }
            N::GroupingSet(set) => {
                let protobuf::GroupingSet {
                    kind: _,
                    content,
                    location: _,
                } = set;
                self.exprs(content)
            }
            N::GroupingFunc(grouping) => {
                let protobuf::GroupingFunc {
                    xpr,
                    args,
                    refs,
                    agglevelsup: _,
                    location: _,
                } = grouping.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.exprs(args)?;
                self.exprs(refs)
            }
            N::NamedArgExpr(named) => {
                let protobuf::NamedArgExpr {
                    xpr,
                    arg,
                    name: _,
                    argnumber: _,
                    location: _,
                } = named.as_ref();
                self.opt_expr(xpr.as_deref())?;
                self.opt_expr(arg.as_deref())
            }
            N::SortBy(sort) => {
                let protobuf::SortBy {
                    node,
                    sortby_dir: _,
                    sortby_nulls: _,
                    use_op,
                    location: _,
                } = sort.as_ref();
                self.operator_name(use_op)?;
                self.opt_expr(node.as_deref())
            }
            N::WindowDef(window) => self.window_def(window),
            other => Err(Refusal::new(format!(
                "{} is not allowed",
                node_name(Some(other))
            ))),
        }
    }

    fn a_expr(&mut self, expr: &AExpr) -> Result<(), Refusal> {
        let AExpr {
            kind: _,
            name,
            lexpr,
            rexpr,
            rexpr_list_start: _,
            rexpr_list_end: _,
            location: _,
        } = expr;
        self.operator_name(name)?;
        self.opt_expr(lexpr.as_deref())?;
        self.opt_expr(rexpr.as_deref())
    }

    /// An operator is a list of names: the operator, optionally qualified by `pg_catalog`.
    fn operator_name(&mut self, name: &[protobuf::Node]) -> Result<(), Refusal> {
        if name.is_empty() {
            return Ok(());
        }
        let parts = string_parts(name).ok_or_else(|| Refusal::new("unexpected operator form"))?;
        let allowed = match parts.as_slice() {
            [operator] => allowlist::postgres_operator(operator),
            [schema, operator] => *schema == "pg_catalog" && allowlist::postgres_operator(operator),
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal::new(format!(
                "operator {} is not allowed",
                parts.join(".")
            )))
        }
    }

    fn func_call(&mut self, call: &FuncCall) -> Result<(), Refusal> {
        let FuncCall {
            funcname,
            args,
            agg_order,
            agg_filter,
            over,
            agg_within_group: _,
            agg_star: _,
            agg_distinct: _,
            func_variadic: _,
            funcformat: _,
            location: _,
        } = call;
        self.resolver.functions_seen += 1;
        let name = function_name(funcname)?;
        if !allowlist::postgres_function(&name) {
            return Err(Refusal::new(format!("function {name}() is not allowed")));
        }
        self.exprs(args)?;
        self.exprs(agg_order)?;
        self.opt_expr(agg_filter.as_deref())?;
        if let Some(window) = over {
            self.window_def(window)?;
        }
        Ok(())
    }

    fn window_def(&mut self, window: &WindowDef) -> Result<(), Refusal> {
        let WindowDef {
            name: _,
            refname: _,
            partition_clause,
            order_clause,
            frame_options: _,
            start_offset,
            end_offset,
            location: _,
        } = window;
        self.exprs(partition_clause)?;
        self.exprs(order_clause)?;
        self.opt_expr(start_offset.as_deref())?;
        self.opt_expr(end_offset.as_deref())
    }

    fn type_name(&mut self, type_name: &TypeName) -> Result<(), Refusal> {
        let TypeName {
            names,
            type_oid: _,
            setof,
            pct_type,
            typmods,
            typemod: _,
            array_bounds,
            location: _,
        } = type_name;
        let parts = string_parts(names).ok_or_else(|| Refusal::new("unexpected type name"))?;
        let allowed = !*setof
            && !*pct_type
            && match parts.as_slice() {
                [name] => allowlist::postgres_type(name),
                [schema, name] => *schema == "pg_catalog" && allowlist::postgres_type(name),
                _ => false,
            };
        if !allowed {
            return Err(Refusal::new(format!(
                "type {} is not allowed",
                parts.join(".")
            )));
        }
        self.exprs(typmods)?;
        self.exprs(array_bounds)
    }
}

/// A function's name, allowed only unqualified or qualified by `pg_catalog` (the parser itself
/// writes `pg_catalog.` before functions behind SQL syntax such as `EXTRACT` or `TRIM`).
fn function_name(funcname: &[protobuf::Node]) -> Result<String, Refusal> {
    let parts = string_parts(funcname).ok_or_else(|| Refusal::new("unexpected function name"))?;
    match parts.as_slice() {
        [name] => Ok((*name).to_owned()),
        ["pg_catalog", name] => Ok((*name).to_owned()),
        _ => Err(Refusal::new(format!(
            "function {}() is not allowed",
            parts.join(".")
        ))),
    }
}

fn string_parts(nodes: &[protobuf::Node]) -> Option<Vec<&str>> {
    nodes
        .iter()
        .map(|node| match &node.node {
            Some(N::String(string)) => Some(string.sval.as_str()),
            _ => None,
        })
        .collect()
}

/// PostgreSQL's own catalogs: `pg_catalog`, `information_schema`, any `pg_*` schema (toast,
/// temp) and any `pg_*` relation (unqualified, those resolve to `pg_catalog` first).
fn is_system_relation(schema: Option<&str>, name: &str) -> bool {
    match schema {
        Some(schema) => schema == "information_schema" || schema.starts_with("pg_"),
        None => name.starts_with("pg_"),
    }
}

/// The node kind's name, e.g. `InsertStmt`, from its debug form.
fn node_name(node: Option<&N>) -> String {
    match node {
        None => "an empty node".to_owned(),
        Some(node) => {
            let debug = format!("{node:?}");
            debug
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .next()
                .unwrap_or("unknown")
                .to_owned()
        }
    }
}

/// A statement kind as a reader knows it.
fn statement_name(node: &N) -> String {
    let friendly = match node {
        N::InsertStmt(_) => "INSERT",
        N::UpdateStmt(_) => "UPDATE",
        N::DeleteStmt(_) => "DELETE",
        N::MergeStmt(_) => "MERGE",
        N::CopyStmt(_) => "COPY",
        N::TransactionStmt(_) => "transaction control (BEGIN, COMMIT, ROLLBACK, …)",
        N::VariableSetStmt(_) => "SET or RESET",
        N::VariableShowStmt(_) => "SHOW",
        N::LockStmt(_) => "LOCK",
        N::ExplainStmt(_) => "EXPLAIN",
        N::DoStmt(_) => "DO",
        N::CallStmt(_) => "CALL",
        N::CreateStmt(_) | N::CreateTableAsStmt(_) => "CREATE TABLE",
        N::DropStmt(_) => "DROP",
        N::TruncateStmt(_) => "TRUNCATE",
        N::AlterTableStmt(_) => "ALTER TABLE",
        N::GrantStmt(_) | N::GrantRoleStmt(_) => "GRANT or REVOKE",
        N::CreateFunctionStmt(_) => "CREATE FUNCTION",
        N::CreateExtensionStmt(_) => "CREATE EXTENSION",
        N::PrepareStmt(_) | N::ExecuteStmt(_) | N::DeallocateStmt(_) => {
            "PREPARE, EXECUTE or DEALLOCATE"
        }
        N::NotifyStmt(_) | N::ListenStmt(_) | N::UnlistenStmt(_) => "NOTIFY, LISTEN or UNLISTEN",
        N::LoadStmt(_) => "LOAD",
        N::VacuumStmt(_) => "VACUUM or ANALYZE",
        N::DeclareCursorStmt(_) | N::FetchStmt(_) | N::ClosePortalStmt(_) => {
            "DECLARE, FETCH or CLOSE"
        }
        N::DiscardStmt(_) => "DISCARD",
        N::CheckPointStmt(_) => "CHECKPOINT",
        _ => return format!("{} statement", node_name(Some(node))),
    };
    format!("{friendly} statement")
}
