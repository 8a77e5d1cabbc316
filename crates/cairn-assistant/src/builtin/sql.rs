//! The SQL a query spec becomes, in the dialect of the table's engine.

use std::collections::HashMap;

use cairn_domain::ResourceId;

use super::columns::{key_column, label_columns};
use super::graph::Graph;
use super::spec::{Aggregate, ColumnRef, Condition, Group, Literal, Period, QuerySpec, Schema};
use crate::gate::MetadataItem;

pub(super) fn literal_sql(literal: &Literal) -> String {
    match literal {
        Literal::Text(text) => format!("'{}'", text.replace('\'', "''")),
        Literal::Number(number) => format_number_sql(*number),
        Literal::Bool(flag) => if *flag { "TRUE" } else { "FALSE" }.to_string(),
        Literal::Null => "NULL".to_string(),
        Literal::NotNull => "NOT NULL".to_string(),
    }
}

pub(super) fn format_number_sql(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    }
}

/// The statement a query spec becomes: the subject as `t0`, other tables joined along the
/// shortest relation path; `Err` says what is missing.
pub(super) fn to_sql(
    schema: &Schema,
    graph: &Graph<'_>,
    spec: &QuerySpec,
    engine: Engine,
) -> Result<String, String> {
    let subject = graph.index_of[&ResourceId(spec.table)];
    let mut joins = Joins {
        schema,
        graph,
        engine,
        subject,
        aliases: HashMap::from([(subject, "t0".to_string())]),
        joins: Vec::new(),
    };
    // Tables are joined in the order they are first needed: conditions, measure, grouping.
    let wheres = conditions_sql(&mut joins, &spec.conditions)?;
    let mut measure = spec
        .measure
        .as_ref()
        .map(|measure| joins.column(measure))
        .transpose()?;
    // A line's price times its quantity: two columns of the measure's table.
    if let (Some(sql), Some(reference), Some(times)) = (&measure, &spec.measure, &spec.times) {
        let other = joins.column(&ColumnRef {
            table: reference.table,
            column: times.clone(),
        })?;
        measure = Some(format!("{sql} * {other}"));
    }
    let (mut select, group_by) = match &spec.group {
        Some(group) => grouping_sql(&mut joins, group)?,
        None => (Vec::new(), Vec::new()),
    };
    let order = selection_sql(schema, spec, engine, subject, measure, &mut select);
    let mut sql = format!(
        "SELECT {} FROM {} t0",
        select.join(", "),
        engine.table_name(&schema.tables[subject])
    );
    for join in &joins.joins {
        sql.push(' ');
        sql.push_str(join);
    }
    if !wheres.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&wheres.join(" AND "));
    }
    if !group_by.is_empty() {
        sql.push_str(" GROUP BY ");
        sql.push_str(&group_by.join(", "));
    }
    sql.push_str(&order_sql(spec, engine, order, &group_by));
    Ok(sql)
}

/// The tables a statement reads, each under its alias, joined as they are first needed.
struct Joins<'a> {
    schema: &'a Schema,
    graph: &'a Graph<'a>,
    engine: Engine,
    subject: usize,
    aliases: HashMap<usize, String>,
    joins: Vec<String>,
}

impl Joins<'_> {
    /// The alias of a table (by index), joining the path to it first.
    fn alias(&mut self, target: usize) -> Result<String, String> {
        if let Some(alias) = self.aliases.get(&target) {
            return Ok(alias.clone());
        }
        let tables = &self.schema.tables;
        let path = self.graph.path(self.subject, target).ok_or_else(|| {
            format!(
                "I found no relation path from {} to {} through tables you may see",
                tables[self.subject].path, tables[target].path
            )
        })?;
        for step in path {
            if self.aliases.contains_key(&step.to) {
                continue;
            }
            let alias = format!("t{}", self.aliases.len());
            let from_alias = self.aliases[&step.from].clone();
            self.joins.push(format!(
                "JOIN {} {alias} ON {alias}.{} = {from_alias}.{}",
                self.engine.table_name(&tables[step.to]),
                self.engine.quote(&step.to_column),
                self.engine.quote(&step.from_column)
            ));
            self.aliases.insert(step.to, alias);
        }
        Ok(self.aliases[&target].clone())
    }

    /// A table's index by its id.
    fn index_of(&self, id: i64) -> Result<usize, String> {
        self.graph
            .index_of
            .get(&ResourceId(id))
            .copied()
            .ok_or_else(|| "a table it needs is not visible to you".to_string())
    }

    /// A column as `alias.column`.
    fn column(&mut self, reference: &ColumnRef) -> Result<String, String> {
        let table = self.index_of(reference.table)?;
        let alias = self.alias(table)?;
        Ok(format!("{alias}.{}", self.engine.quote(&reference.column)))
    }
}

/// The WHERE clause's terms.
fn conditions_sql(joins: &mut Joins<'_>, conditions: &[Condition]) -> Result<Vec<String>, String> {
    let mut wheres = Vec::new();
    for condition in conditions {
        let column = joins.column(&condition.column)?;
        if matches!(condition.value, Literal::Null | Literal::NotNull) {
            wheres.push(format!("{column} IS {}", literal_sql(&condition.value)));
            continue;
        }
        wheres.push(format!(
            "{column} {} {}",
            condition.comparison.sql(),
            literal_sql(&condition.value)
        ));
    }
    Ok(wheres)
}

/// What a grouping selects and groups by: a column, a period of a date, or a table's key and
/// the columns naming its rows.
fn grouping_sql(
    joins: &mut Joins<'_>,
    group: &Group,
) -> Result<(Vec<String>, Vec<String>), String> {
    let engine = joins.engine;
    let mut select: Vec<String> = Vec::new();
    let mut group_by: Vec<String> = Vec::new();
    match group {
        Group::Column(column) => {
            let column = joins.column(column)?;
            select.push(column.clone());
            group_by.push(column);
        }
        Group::Period(column, period) => {
            let column = joins.column(column)?;
            let expression = engine.period(&column, *period);
            select.push(format!("{expression} AS {}", engine.quote(period.words())));
            group_by.push(expression);
        }
        Group::Table(id) => {
            let table = joins.index_of(*id)?;
            let alias = joins.alias(table)?;
            let item = &joins.schema.tables[table];
            if let Some(key) = key_column(item) {
                group_by.push(format!("{alias}.{}", engine.quote(&item.columns[key].name)));
            }
            let labels = label_columns(item);
            for label in &labels {
                let column = format!("{alias}.{}", engine.quote(&item.columns[*label].name));
                select.push(column.clone());
                if !group_by.contains(&column) {
                    group_by.push(column);
                }
            }
            if labels.is_empty()
                && let Some(key) = group_by.first()
            {
                select.push(key.clone());
            }
        }
    }
    Ok((select, group_by))
}

/// The aggregate or the rows selected after the grouping's columns; returns what the rows are
/// ordered by, when anything.
fn selection_sql(
    schema: &Schema,
    spec: &QuerySpec,
    engine: Engine,
    subject: usize,
    measure: Option<String>,
    select: &mut Vec<String>,
) -> Option<String> {
    let aggregate_sql = |kind: Aggregate| match (kind, &measure) {
        (Aggregate::Count, _) | (_, None) => "count(*)".to_string(),
        (Aggregate::Distinct, Some(measure)) => format!("count(DISTINCT {measure})"),
        (kind, Some(measure)) => match spec.divide_by {
            Some(divisor) => format!("{}({measure}) / {divisor:.1}", kind.sql()),
            None => format!("{}({measure})", kind.sql()),
        },
    };
    match (spec.aggregate, &spec.group) {
        (Some(kind), Some(_)) => {
            let value = aggregate_sql(kind);
            select.push(format!("{value} AS {}", engine.quote(kind.sql())));
            Some(value)
        }
        (Some(kind), None) => {
            select.push(aggregate_sql(kind));
            None
        }
        (None, _) if spec.rank.is_some() => {
            let item = &schema.tables[subject];
            for label in label_columns(item) {
                select.push(format!("t0.{}", engine.quote(&item.columns[label].name)));
            }
            if let Some(measure) = &measure
                && !select.contains(measure)
            {
                select.push(measure.clone());
            }
            measure
        }
        (None, _) => {
            select.push("t0.*".to_string());
            None
        }
    }
}

/// ORDER BY and LIMIT: a ranking's, a period's in time order, else groups largest first.
fn order_sql(
    spec: &QuerySpec,
    engine: Engine,
    order: Option<String>,
    group_by: &[String],
) -> String {
    match (&spec.rank, order) {
        (Some(rank), Some(order)) => {
            let direction = if rank.ascending { "ASC" } else { "DESC" };
            let nulls = match engine {
                Engine::Postgres => " NULLS LAST",
                Engine::Mysql | Engine::Sqlite => "",
            };
            format!(" ORDER BY {order} {direction}{nulls} LIMIT {}", rank.limit)
        }
        (None, Some(_)) if matches!(spec.group, Some(Group::Period(..))) => {
            format!(" ORDER BY {}", group_by.join(", "))
        }
        (None, Some(order)) if spec.group.is_some() => format!(" ORDER BY {order} DESC"),
        _ => String::new(),
    }
}

/// SQL quoting of one engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}

impl Engine {
    pub(super) fn parse(name: &str) -> Option<Engine> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            "sqlite" => Some(Engine::Sqlite),
            _ => None,
        }
    }

    /// A date column's year (`2024`) or month (`2024-03`) as text.
    pub(super) fn period(self, column: &str, period: Period) -> String {
        match (self, period) {
            (Engine::Sqlite, Period::Year) => format!("strftime('%Y', {column})"),
            (Engine::Sqlite, Period::Month) => format!("strftime('%Y-%m', {column})"),
            (Engine::Postgres, Period::Year) => format!("to_char({column}, 'YYYY')"),
            (Engine::Postgres, Period::Month) => format!("to_char({column}, 'YYYY-MM')"),
            (Engine::Mysql, Period::Year) => format!("date_format({column}, '%Y')"),
            (Engine::Mysql, Period::Month) => format!("date_format({column}, '%Y-%m')"),
        }
    }

    pub(super) fn quote(self, identifier: &str) -> String {
        match self {
            Engine::Mysql => format!("`{}`", identifier.replace('`', "``")),
            Engine::Postgres | Engine::Sqlite => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    /// The table's qualified name: `schema.table` (postgres), `database.table` (mysql) or
    /// `table` (sqlite), from the last parts of the catalog path.
    pub(super) fn table_name(self, item: &MetadataItem) -> String {
        let path = cairn_domain::ResourcePath::parse(&item.path);
        let parts: Vec<&str> = path
            .segments()
            .iter()
            .map(String::as_str)
            .filter(|p| !p.is_empty())
            .collect();
        let keep = match self {
            Engine::Sqlite => 1,
            Engine::Postgres | Engine::Mysql => 2,
        };
        let parts = if parts.is_empty() {
            vec![item.name.as_str()]
        } else {
            parts[parts.len().saturating_sub(keep)..].to_vec()
        };
        parts
            .iter()
            .map(|part| self.quote(part))
            .collect::<Vec<_>>()
            .join(".")
    }
}
