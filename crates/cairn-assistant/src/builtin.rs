//! Cairn's offline assistant: answers from retrieval with templates, no model, nothing leaves.
//!
//! It says that it is offline, cites what it used, and writes simple SQL (count, list, top N) on an
//! integration the user may query.

use cairn_domain::{IntegrationId, ResourceId, ResourceKind};

use crate::gate::MetadataItem;

const INTRO: &str = "Cairn's offline assistant (no language model is connected; this answer comes \
from the catalog's metadata).";

/// The offline assistant's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinAnswer {
    pub text: String,
    /// The resources the answer names, in order.
    pub citations: Vec<ResourceId>,
    /// A statement to run for the user, on an integration they may query.
    pub sql: Option<(IntegrationId, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Sql(SqlIntent),
    Owner,
    Tags,
    Popular,
    Join,
    Meaning,
    Where,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqlIntent {
    Count,
    List(usize),
    Top(usize),
}

/// Answers `question` from the `retrieved` metadata, best match first.
pub fn answer(
    question: &str,
    retrieved: &[MetadataItem],
    sql_integrations: &[IntegrationId],
) -> BuiltinAnswer {
    let lower = question.to_lowercase();
    let words = words_of(&lower);
    if retrieved.is_empty() {
        return BuiltinAnswer {
            text: format!(
                "{INTRO}\nNothing in the catalog matches your question. Try other words, or the \
                 name of a table, column or glossary term."
            ),
            citations: Vec::new(),
            sql: None,
        };
    }
    let mut citations = Vec::new();
    let mut sql = None;
    let body = match intent(&lower, &words) {
        Intent::Sql(sql_intent) => match best_queryable(&words, retrieved, sql_integrations) {
            Some(table) => {
                let statement = build_sql(sql_intent, table, &words);
                citations.push(table.id);
                let integration = table.integration.unwrap_or(IntegrationId(0));
                let text = format!(
                    "A query on {} (integration {}):\n```sql\n{}\n```\nIts results are shown to \
                     you only.",
                    table.path, integration, statement
                );
                sql = Some((integration, statement));
                text
            }
            None => {
                let mut text = "I can't write SQL for this: none of the matching tables is in an \
                                integration you may query."
                    .to_string();
                text.push_str("\n\n");
                text.push_str(&where_answer(question, retrieved, &mut citations));
                text
            }
        },
        Intent::Owner => per_item(retrieved, &mut citations, |item| {
            if item.owners.is_empty() {
                "no owner is recorded".to_string()
            } else {
                format!("owned by {}", item.owners.join(", "))
            }
        }),
        Intent::Tags => per_item(retrieved, &mut citations, |item| {
            if item.tags.is_empty() {
                "no tags".to_string()
            } else {
                format!("tagged {}", item.tags.join(", "))
            }
        }),
        Intent::Popular => popular_answer(retrieved, &mut citations),
        Intent::Join => join_answer(retrieved, &mut citations),
        Intent::Meaning => meaning_answer(retrieved, &mut citations),
        Intent::Where => where_answer(question, retrieved, &mut citations),
    };
    BuiltinAnswer {
        text: format!("{INTRO}\n{body}"),
        citations,
        sql,
    }
}

fn words_of(lower: &str) -> Vec<String> {
    lower
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

fn has_word(words: &[String], word: &str) -> bool {
    words.iter().any(|w| w == word)
}

fn number_word(word: &str) -> Option<usize> {
    const NAMES: [&str; 20] = [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    word.parse::<usize>()
        .ok()
        .or_else(|| NAMES.iter().position(|name| *name == word).map(|i| i + 1))
        .map(|n| n.clamp(1, 1000))
}

/// The number right after `marker` (`top 5`, `first ten`).
fn number_after(words: &[String], marker: &str) -> Option<usize> {
    words
        .windows(2)
        .find(|pair| pair[0] == marker)
        .and_then(|pair| number_word(&pair[1]))
}

/// Questions about the catalog itself ("how many tables hold ...") are not asking for data.
fn about_catalog(words: &[String]) -> bool {
    const NOUNS: [&str; 10] = [
        "table", "tables", "column", "columns", "view", "views", "schema", "schemas", "dataset",
        "datasets",
    ];
    let asks_for_rows = ["row", "rows", "record", "records"]
        .iter()
        .any(|word| has_word(words, word));
    !asks_for_rows && NOUNS.iter().any(|noun| has_word(words, noun))
}

fn sql_intent(lower: &str, words: &[String]) -> Option<SqlIntent> {
    if about_catalog(words) {
        return None;
    }
    if lower.contains("how many") || has_word(words, "count") || lower.contains("number of") {
        return Some(SqlIntent::Count);
    }
    if let Some(n) = number_after(words, "top") {
        return Some(SqlIntent::Top(n));
    }
    let first = number_after(words, "first").or_else(|| number_after(words, "list"));
    let listing = has_word(words, "list")
        || lower.contains("show me all")
        || lower.contains("show all")
        || first.is_some();
    listing.then(|| SqlIntent::List(first.unwrap_or(100)))
}

fn intent(lower: &str, words: &[String]) -> Intent {
    if let Some(sql) = sql_intent(lower, words) {
        return Intent::Sql(sql);
    }
    let any = |needles: &[&str]| needles.iter().any(|needle| lower.contains(needle));
    if any(&[
        "who owns",
        "owner",
        "owned",
        "responsible for",
        "who maintains",
    ]) {
        Intent::Owner
    } else if any(&["tag", "label", "classif"]) {
        Intent::Tags
    } else if any(&[
        "popular",
        "most used",
        "most-used",
        "most queried",
        "widely used",
    ]) {
        Intent::Popular
    } else if any(&[
        "join",
        "relate",
        "relation",
        "connect",
        "link",
        "foreign key",
    ]) {
        Intent::Join
    } else if any(&[
        "what is",
        "what's",
        "what are",
        "what does",
        "mean",
        "defin",
        "explain",
    ]) {
        Intent::Meaning
    } else {
        Intent::Where
    }
}

fn describe(item: &MetadataItem) -> String {
    let mut line = format!("- {} ({})", item.path, item.kind.as_str());
    if let Some(description) = item.description.as_deref().map(str::trim)
        && !description.is_empty()
    {
        line.push_str(": ");
        line.push_str(&first_sentence(description, 200));
    }
    line
}

fn first_sentence(text: &str, max_chars: usize) -> String {
    let sentence = match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    };
    let mut out: String = sentence.chars().take(max_chars).collect();
    if sentence.chars().count() > max_chars {
        out.push('…');
    }
    out.replace('\n', " ")
}

fn where_answer(question: &str, items: &[MetadataItem], citations: &mut Vec<ResourceId>) -> String {
    let mut text = format!(
        "These resources match \"{}\":",
        first_sentence(question.trim(), 120)
    );
    for item in items.iter().take(5) {
        text.push('\n');
        text.push_str(&describe(item));
        citations.push(item.id);
    }
    text
}

fn per_item(
    items: &[MetadataItem],
    citations: &mut Vec<ResourceId>,
    fact: impl Fn(&MetadataItem) -> String,
) -> String {
    let mut lines = Vec::new();
    for item in items.iter().take(3) {
        lines.push(format!(
            "- {} ({}): {}",
            item.path,
            item.kind.as_str(),
            fact(item)
        ));
        citations.push(item.id);
    }
    lines.join("\n")
}

fn popular_answer(items: &[MetadataItem], citations: &mut Vec<ResourceId>) -> String {
    let mut ranked: Vec<&MetadataItem> = items.iter().collect();
    ranked.sort_by(|a, b| {
        let a = a.popularity.unwrap_or(0.0);
        let b = b.popularity.unwrap_or(0.0);
        b.total_cmp(&a)
    });
    let mut text = "The most used of the matching resources:".to_string();
    for item in ranked.into_iter().take(5) {
        text.push('\n');
        match item.popularity {
            Some(popularity) => text.push_str(&format!(
                "- {} ({}), popularity {popularity:.2}",
                item.path,
                item.kind.as_str()
            )),
            None => text.push_str(&format!(
                "- {} ({}), no popularity recorded",
                item.path,
                item.kind.as_str()
            )),
        }
        citations.push(item.id);
    }
    text
}

fn is_table(item: &MetadataItem) -> bool {
    matches!(item.kind, ResourceKind::Table | ResourceKind::View)
}

fn join_answer(items: &[MetadataItem], citations: &mut Vec<ResourceId>) -> String {
    let tables: Vec<&MetadataItem> = items.iter().filter(|item| is_table(item)).take(2).collect();
    if let [first, second] = tables[..] {
        let mentions =
            |relation: &str, item: &MetadataItem| relation.contains(&format!("{}.", item.path));
        let joins: Vec<&String> = first
            .relations
            .iter()
            .filter(|relation| mentions(relation, second))
            .chain(
                second
                    .relations
                    .iter()
                    .filter(|relation| mentions(relation, first)),
            )
            .collect();
        citations.push(first.id);
        citations.push(second.id);
        if joins.is_empty() {
            return format!(
                "The catalog records no join between {} and {}.",
                first.path, second.path
            );
        }
        let mut text = format!("{} and {} join on:", first.path, second.path);
        for relation in joins {
            text.push_str(&format!("\n- {relation}"));
        }
        return text;
    }
    let related: Vec<&MetadataItem> = items
        .iter()
        .filter(|item| !item.relations.is_empty())
        .take(3)
        .collect();
    if related.is_empty() {
        return "The catalog records no relations for the matching resources.".to_string();
    }
    let mut text = "Recorded relations of the matching resources:".to_string();
    for item in related {
        citations.push(item.id);
        for relation in item.relations.iter().take(10) {
            text.push_str(&format!("\n- {relation}"));
        }
    }
    text
}

fn meaning_answer(items: &[MetadataItem], citations: &mut Vec<ResourceId>) -> String {
    let best = items
        .iter()
        .find(|item| item.kind == ResourceKind::Term)
        .unwrap_or(&items[0]);
    citations.push(best.id);
    let mut text = format!("{} ({})", best.path, best.kind.as_str());
    match best.description.as_deref().map(str::trim) {
        Some(description) if !description.is_empty() => {
            text.push_str(": ");
            text.push_str(description);
        }
        _ => text.push_str(" has no description yet."),
    }
    if let Some(definition) = &best.definition {
        text.push_str("\nDefined as: ");
        text.push_str(&first_sentence(definition, 500));
    }
    if !best.columns.is_empty() {
        let names: Vec<&str> = best
            .columns
            .iter()
            .take(12)
            .map(|c| c.name.as_str())
            .collect();
        text.push_str(&format!("\nColumns: {}", names.join(", ")));
    }
    text
}

/// SQL quoting of one engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}

impl Engine {
    fn parse(name: &str) -> Option<Engine> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            "sqlite" => Some(Engine::Sqlite),
            _ => None,
        }
    }

    fn quote(self, identifier: &str) -> String {
        match self {
            Engine::Mysql => format!("`{}`", identifier.replace('`', "``")),
            Engine::Postgres | Engine::Sqlite => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    /// The table's qualified name: `schema.table` (postgres), `database.table` (mysql) or
    /// `table` (sqlite), from the last parts of the catalog path.
    fn table_name(self, item: &MetadataItem) -> String {
        let parts: Vec<&str> = item.path.split('.').filter(|p| !p.is_empty()).collect();
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

fn singular(word: &str) -> &str {
    word.strip_suffix('s').unwrap_or(word)
}

fn best_queryable<'a>(
    words: &[String],
    items: &'a [MetadataItem],
    sql_integrations: &[IntegrationId],
) -> Option<&'a MetadataItem> {
    let eligible: Vec<&MetadataItem> = items
        .iter()
        .filter(|item| is_table(item))
        .filter(|item| {
            item.integration
                .is_some_and(|id| sql_integrations.contains(&id))
        })
        .filter(|item| item.engine.as_deref().and_then(Engine::parse).is_some())
        .collect();
    let named = eligible.iter().copied().find(|item| {
        let name = item.name.to_lowercase();
        words.iter().any(|word| singular(word) == singular(&name))
    });
    named.or_else(|| eligible.first().copied())
}

/// The table's column named by a question word (`revenue` finds `total_revenue`).
fn column_named<'a>(item: &'a MetadataItem, word: &str) -> Option<&'a str> {
    let exact = item.columns.iter().find(|c| {
        c.name.eq_ignore_ascii_case(word) || singular(&c.name.to_lowercase()) == singular(word)
    });
    let partial = || {
        item.columns.iter().find(|c| {
            c.name
                .to_lowercase()
                .split('_')
                .any(|part| part == word || singular(part) == singular(word))
        })
    };
    exact.or_else(partial).map(|c| c.name.as_str())
}

fn column_after<'a>(item: &'a MetadataItem, words: &[String], markers: &[&str]) -> Option<&'a str> {
    words
        .windows(2)
        .find(|pair| markers.contains(&pair[0].as_str()) && column_named(item, &pair[1]).is_some())
        .and_then(|pair| column_named(item, &pair[1]))
}

fn build_sql(intent: SqlIntent, item: &MetadataItem, words: &[String]) -> String {
    let engine = item
        .engine
        .as_deref()
        .and_then(Engine::parse)
        .unwrap_or(Engine::Postgres);
    let table = engine.table_name(item);
    match intent {
        SqlIntent::Count => match column_after(item, words, &["per", "by", "each"]) {
            Some(column) => {
                let column = engine.quote(column);
                format!(
                    "SELECT {column}, count(*) AS count FROM {table} GROUP BY {column} ORDER BY \
                     count DESC"
                )
            }
            None => format!("SELECT count(*) FROM {table}"),
        },
        SqlIntent::Top(n) => match column_after(item, words, &["by"]) {
            Some(column) => format!(
                "SELECT * FROM {table} ORDER BY {} DESC LIMIT {n}",
                engine.quote(column)
            ),
            None => format!("SELECT * FROM {table} LIMIT {n}"),
        },
        SqlIntent::List(n) => {
            let mut columns: Vec<String> = Vec::new();
            for column in &item.columns {
                let name = column.name.to_lowercase();
                if name != singular(&item.name.to_lowercase()) && words.contains(&name) {
                    columns.push(engine.quote(&column.name));
                }
            }
            let selected = if columns.is_empty() {
                "*".to_string()
            } else {
                columns.join(", ")
            };
            format!("SELECT {selected} FROM {table} LIMIT {n}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::ColumnMeta;

    fn column(name: &str) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            data_type: None,
            description: None,
            primary_key: false,
        }
    }

    fn table(id: i64, path: &str, engine: &str, integration: i64) -> MetadataItem {
        let name = path.rsplit('.').next().unwrap();
        let mut item = MetadataItem::new(ResourceId(id), ResourceKind::Table, name, path);
        item.engine = Some(engine.into());
        item.integration = Some(IntegrationId(integration));
        item
    }

    fn catalog() -> Vec<MetadataItem> {
        let mut orders = table(1, "shop.public.orders", "postgres", 7);
        orders.description = Some("One row per order. Refunds are in refunds.".into());
        orders.owners = vec!["alice@shop.example".into()];
        orders.tags = vec!["finance".into(), "pii".into()];
        orders.popularity = Some(0.4);
        orders.columns = vec![column("id"), column("customer_id"), column("total_amount")];
        orders.relations =
            vec!["shop.public.orders.customer_id -> shop.public.customers.id".into()];
        let mut customers = table(2, "shop.public.customers", "postgres", 7);
        customers.popularity = Some(0.9);
        customers.columns = vec![column("id"), column("email"), column("country")];
        let mut term =
            MetadataItem::new(ResourceId(3), ResourceKind::Term, "churn", "glossary.churn");
        term.description = Some("Customers who cancelled within the period.".into());
        vec![orders, customers, term]
    }

    #[test]
    fn is_honest_about_being_offline() {
        let answer = answer("anything", &[], &[]);
        assert!(answer.text.starts_with("Cairn's offline assistant"));
        assert!(answer.citations.is_empty());
    }

    #[test]
    fn counts_with_postgres_quoting() {
        let answer = answer(
            "How many orders are there?",
            &catalog(),
            &[IntegrationId(7)],
        );
        assert_eq!(
            answer.sql,
            Some((
                IntegrationId(7),
                r#"SELECT count(*) FROM "public"."orders""#.into()
            ))
        );
        assert_eq!(answer.citations, vec![ResourceId(1)]);
    }

    #[test]
    fn picks_the_named_table_and_groups_by_a_column() {
        let answer = answer(
            "count customers per country",
            &catalog(),
            &[IntegrationId(7)],
        );
        assert_eq!(
            answer.sql.unwrap().1,
            r#"SELECT "country", count(*) AS count FROM "public"."customers" GROUP BY "country" ORDER BY count DESC"#
        );
    }

    #[test]
    fn quotes_for_mysql_and_sqlite() {
        let mut items = vec![table(1, "shop.sales.or`ders", "mysql", 1)];
        items[0].columns = vec![column("total")];
        let answer_mysql = answer("top 5 or`ders by total", &items, &[IntegrationId(1)]);
        assert_eq!(
            answer_mysql.sql.unwrap().1,
            "SELECT * FROM `sales`.`or``ders` ORDER BY `total` DESC LIMIT 5"
        );
        let items = vec![table(1, "local.main.events", "sqlite", 1)];
        let answer_sqlite = answer("list the first ten events", &items, &[IntegrationId(1)]);
        assert_eq!(
            answer_sqlite.sql.unwrap().1,
            r#"SELECT * FROM "events" LIMIT 10"#
        );
    }

    #[test]
    fn writes_no_sql_without_permission() {
        let answer = answer("how many orders", &catalog(), &[IntegrationId(8)]);
        assert_eq!(answer.sql, None);
        assert!(answer.text.contains("can't write SQL"));
        assert!(answer.text.contains("shop.public.orders"));
    }

    #[test]
    fn answers_owners_tags_popularity_joins_and_meanings() {
        let items = catalog();
        let owners = answer("who owns orders?", &items, &[]);
        assert!(
            owners
                .text
                .contains("shop.public.orders (table): owned by alice@shop.example")
        );
        let tags = answer("how is orders tagged", &items, &[]);
        assert!(tags.text.contains("tagged finance, pii"));
        let popular = answer("most popular tables", &items, &[]);
        let customers_at = popular.text.find("shop.public.customers").unwrap();
        let orders_at = popular.text.find("shop.public.orders").unwrap();
        assert!(customers_at < orders_at);
        let join = answer("how do orders join customers", &items, &[]);
        assert!(
            join.text
                .contains("shop.public.orders.customer_id -> shop.public.customers.id")
        );
        assert_eq!(join.citations, vec![ResourceId(1), ResourceId(2)]);
        let meaning = answer("what does churn mean", &items, &[]);
        assert!(meaning.text.contains("cancelled within the period"));
        assert_eq!(meaning.citations, vec![ResourceId(3)]);
        let catalog_count = answer("how many tables hold orders?", &items, &[IntegrationId(7)]);
        assert_eq!(catalog_count.sql, None);
        assert!(catalog_count.text.contains("shop.public.orders"));
        let place = answer("where are refunds", &items, &[]);
        assert!(
            place
                .text
                .contains("- shop.public.orders (table): One row per order.")
        );
    }
}
