use cairn_domain::ResourceKind;

use super::data::measure_at_its_grain;
use super::graph::Graph;
use super::grounding::{MAX_LOOKUPS, value_forms};
use super::sql::{Engine, to_sql};

use super::*;
use crate::gate::ColumnMeta;

fn column(name: &str, data_type: &str, description: Option<&str>) -> ColumnMeta {
    ColumnMeta {
        name: name.into(),
        data_type: Some(data_type.into()),
        description: description.map(str::to_string),
        primary_key: name == "id",
    }
}

fn table(id: i64, name: &str, columns: Vec<ColumnMeta>) -> MetadataItem {
    let mut item = MetadataItem::new(
        ResourceId(id),
        ResourceKind::Table,
        name,
        format!("shop.main.{name}"),
    );
    item.engine = Some("sqlite".into());
    item.integration = Some(IntegrationId(7));
    item.columns = columns;
    item
}

fn foreign_key(from: i64, from_column: &str, to: i64) -> TableEdge {
    TableEdge {
        kind: EdgeKind::ForeignKey,
        from: ResourceId(from),
        to: ResourceId(to),
        from_column: Some(from_column.into()),
        to_column: Some("id".into()),
    }
}

fn schema() -> Schema {
    let regions = table(
        1,
        "regions",
        vec![column("id", "INTEGER", None), column("name", "TEXT", None)],
    );
    let customers = table(
        2,
        "customers",
        vec![
            column("id", "INTEGER", None),
            column("name", "TEXT", None),
            column(
                "segment",
                "TEXT",
                Some("enterprise, mid-market or small business"),
            ),
            column("region_id", "INTEGER", None),
        ],
    );
    let orders = table(
        3,
        "orders",
        vec![
            column("id", "INTEGER", None),
            column("customer_id", "INTEGER", None),
            column("ordered_on", "TEXT", Some("Order date")),
            column(
                "status",
                "TEXT",
                Some("placed, shipped, delivered or cancelled"),
            ),
            column("total_eur", "REAL", Some("Order total in euros")),
            column("rush", "INTEGER", Some("1 when shipped overnight")),
        ],
    );
    let mut revenue = table(4, "monthly_revenue", vec![column("month", "TEXT", None)]);
    revenue.kind = ResourceKind::View;
    Schema {
        found: Vec::new(),
        tables: vec![regions, customers, orders, revenue],
        edges: vec![
            foreign_key(2, "region_id", 1),
            foreign_key(3, "customer_id", 2),
            TableEdge {
                kind: EdgeKind::ViewDependency,
                from: ResourceId(4),
                to: ResourceId(3),
                from_column: None,
                to_column: None,
            },
        ],
        popular: Vec::new(),
    }
}

const TODAY: Day = Day {
    year: 2024,
    month: 5,
    day: 17,
};

fn sql(question: &str, context: &ThreadContext) -> (Option<String>, Plan) {
    let plan = plan(
        question,
        &schema(),
        context,
        TODAY,
        &[],
        &[IntegrationId(7)],
    );
    (plan.sql.as_ref().map(|(_, sql)| sql.clone()), plan)
}

#[test]
fn a_sum_counts_each_row_of_its_measure_once() {
    // Orders' totals, grouped by the products of their lines, would repeat once per line:
    // the sum moves to the lines' price times quantity.
    let mut schema = schema();
    schema.tables.push(table(
        5,
        "products",
        vec![column("id", "INTEGER", None), column("name", "TEXT", None)],
    ));
    schema.tables.push(table(
        6,
        "order_lines",
        vec![
            column("id", "INTEGER", None),
            column("order_id", "INTEGER", None),
            column("product_id", "INTEGER", None),
            column("unit_price", "REAL", None),
            column("quantity", "INTEGER", None),
        ],
    ));
    schema.edges.push(foreign_key(6, "order_id", 3));
    schema.edges.push(foreign_key(6, "product_id", 5));
    let graph = Graph::new(&schema);
    let mut spec = QuerySpec {
        table: 3,
        aggregate: Some(Aggregate::Sum),
        measure: Some(ColumnRef {
            table: 3,
            column: "total_eur".into(),
        }),
        group: Some(Group::Table(5)),
        conditions: Vec::new(),
        rank: None,
        divide_by: None,
        times: None,
    };
    measure_at_its_grain(&schema, &graph, &mut spec);
    assert_eq!(
        spec.measure,
        Some(ColumnRef {
            table: 6,
            column: "unit_price".into()
        })
    );
    assert_eq!(spec.times.as_deref(), Some("quantity"));
    let sql = to_sql(&schema, &graph, &spec, Engine::Sqlite).unwrap();
    assert!(
        sql.contains(r#"sum(t1."unit_price" * t1."quantity")"#),
        "{sql}"
    );
    // Grouped by the order's own customer, each order is counted once: unchanged.
    let mut spec = QuerySpec {
        group: Some(Group::Table(2)),
        measure: Some(ColumnRef {
            table: 3,
            column: "total_eur".into(),
        }),
        times: None,
        ..spec
    };
    measure_at_its_grain(&schema, &graph, &mut spec);
    assert_eq!(spec.measure.unwrap().column, "total_eur");
    assert_eq!(spec.times, None);
}

#[test]
fn days_round_trip() {
    for days in [-1000, 0, 19_000, 20_000, 20_500] {
        assert_eq!(Day::from_unix_days(days).unix_days(), days);
    }
    assert_eq!(Day::from_unix_days(19_860).iso(), "2024-05-17");
}

#[test]
fn counts_with_values_flags_and_dates() {
    let none = ThreadContext::default();
    assert_eq!(
        sql("How many orders were cancelled?", &none).0.unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."status" = 'cancelled'"#
    );
    assert_eq!(
        sql("how many rush orders in March 2024?", &none).0.unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."rush" = 1 AND t0."ordered_on" >= '2024-03-01' AND t0."ordered_on" < '2024-04-01'"#
    );
    assert_eq!(
        sql("how many orders last month", &none).0.unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2024-04-01' AND t0."ordered_on" < '2024-05-01'"#
    );
    // A value of a related table joins it along the references.
    assert_eq!(
        sql("how many orders from enterprise customers", &none)
            .0
            .unwrap(),
        r#"SELECT count(*) FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" WHERE t1."segment" = 'enterprise'"#
    );
}

#[test]
fn groups_ranks_and_aggregates() {
    let none = ThreadContext::default();
    assert_eq!(
        sql("total order value per region", &none).0.unwrap(),
        r#"SELECT t2."name", sum(t0."total_eur") AS "sum" FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" JOIN "regions" t2 ON t2."id" = t1."region_id" GROUP BY t2."id", t2."name" ORDER BY sum(t0."total_eur") DESC"#
    );
    assert_eq!(
        sql("which region has the most customers?", &none)
            .0
            .unwrap(),
        r#"SELECT t1."name", count(*) AS "count" FROM "customers" t0 JOIN "regions" t1 ON t1."id" = t0."region_id" GROUP BY t1."id", t1."name" ORDER BY count(*) DESC LIMIT 1"#
    );
    assert_eq!(
        sql("average order total", &none).0.unwrap(),
        r#"SELECT avg(t0."total_eur") FROM "orders" t0"#
    );
    assert_eq!(
        sql("number of customers by segment", &none).0.unwrap(),
        r#"SELECT t0."segment", count(*) AS "count" FROM "customers" t0 GROUP BY t0."segment" ORDER BY count(*) DESC"#
    );
}

#[test]
fn follow_ups_refine_the_last_query() {
    let (_, first) = sql("how many orders were delivered?", &ThreadContext::default());
    let (refined, second) = sql("only for 2023", &first.context);
    assert_eq!(
        refined.unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."status" = 'delivered' AND t0."ordered_on" >= '2023-01-01' AND t0."ordered_on" < '2024-01-01'"#
    );
    let (_, third) = sql("what columns does it have?", &second.context);
    assert!(third.text.contains("total_eur"), "{}", third.text);
}

#[test]
fn joins_lineage_and_honest_refusals() {
    let none = ThreadContext::default();
    let (_, join) = sql("how do orders relate to regions?", &none);
    assert!(
        join.text.contains(
            "shop.main.orders.customer_id → shop.main.customers.id\n- shop.main.customers.region_id → shop.main.regions.id"
        ),
        "{}",
        join.text
    );
    let (_, lineage) = sql("what does monthly_revenue read from?", &none);
    assert!(
        lineage
            .text
            .contains("shop.main.orders (table, view definition)"),
        "{}",
        lineage.text
    );
    let (_, down) = sql("what uses the orders table?", &none);
    assert!(
        down.text.contains("shop.main.monthly_revenue"),
        "{}",
        down.text
    );
    // Without the right to run SQL the answer says so and states no number.
    let plan = plan("how many orders", &schema(), &none, TODAY, &[], &[]);
    assert_eq!(plan.sql, None);
    assert!(plan.text.contains("no permission"), "{}", plan.text);
    // No table matched: it says what it understood, not a number about another table.
    let (sql_text, unmatched) = sql("how many unicorns are there?", &none);
    assert_eq!(sql_text, None, "{}", unmatched.text);
}

#[test]
fn rolling_windows_and_periods() {
    let none = ThreadContext::default();
    // Calendar months back, as SQL's date('now', '-N months') counts them.
    assert_eq!(TODAY.minus_months(24).iso(), "2022-05-17");
    let march = Day {
        year: 2024,
        month: 3,
        day: 31,
    };
    assert_eq!(march.minus_months(1).iso(), "2024-02-29");
    assert_eq!(
        sql("how many orders in the past 2 years?", &none)
            .0
            .unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2022-05-17'"#
    );
    assert_eq!(
        sql("total order value over the last thirty days", &none)
            .0
            .unwrap(),
        r#"SELECT sum(t0."total_eur") FROM "orders" t0 WHERE t0."ordered_on" >= '2024-04-17'"#
    );
    assert_eq!(
        sql("order totals per year", &none).0.unwrap(),
        r#"SELECT strftime('%Y', t0."ordered_on") AS "year", sum(t0."total_eur") AS "sum" FROM "orders" t0 GROUP BY strftime('%Y', t0."ordered_on") ORDER BY strftime('%Y', t0."ordered_on")"#
    );
}

#[test]
fn values_by_their_forms_and_numbers_by_their_verbs() {
    let none = ThreadContext::default();
    let found = [FoundValues {
        table: ResourceId(2),
        column: "segment".into(),
        values: vec!["Remote".into()],
    }];
    let plan = plan(
        "how many customers work remotely?",
        &schema(),
        &none,
        TODAY,
        &found,
        &[IntegrationId(7)],
    );
    assert_eq!(
        plan.sql.unwrap().1,
        r#"SELECT count(*) FROM "customers" t0 WHERE t0."segment" = 'Remote'"#
    );
    assert_eq!(value_forms("euros"), vec!["euros", "euro", "eur"]);
    assert_eq!(
        sql("how many orders totaling 99.5?", &none).0.unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."total_eur" = 99.5"#
    );
}

#[test]
fn intent_follows_what_the_question_names() {
    let none = ThreadContext::default();
    // Lineage: the direction from where the named thing stands.
    let (_, up) = sql(
        "which tables does monthly_revenue pull its data from?",
        &none,
    );
    assert!(up.text.contains("shop.main.orders"), "{}", up.text);
    let (_, down) = sql("Is anything built on top of orders?", &none);
    assert!(
        down.text.contains("shop.main.monthly_revenue"),
        "{}",
        down.text
    );
    // Names and general words only: a question about the tables, not their rows.
    let (sql_text, columns) = sql("what do we keep in orders?", &none);
    assert_eq!(sql_text, None);
    assert!(columns.text.contains("total_eur"), "{}", columns.text);
    let (sql_text, join) = sql("how do customers and regions fit together?", &none);
    assert_eq!(sql_text, None);
    assert!(join.text.contains("customers.region_id"), "{}", join.text);
    // "customer orders": the second name is the head of the phrase.
    let (_, find) = sql("which table holds customer orders?", &none);
    assert_eq!(find.context.tables.first(), Some(&3), "{}", find.text);
    // Money verbs rank by amounts, not by rows.
    assert_eq!(
        sql("which customer spent the most on orders?", &none)
            .0
            .unwrap(),
        r#"SELECT t1."name", sum(t0."total_eur") AS "sum" FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" GROUP BY t1."id", t1."name" ORDER BY sum(t0."total_eur") DESC LIMIT 1"#
    );
}

#[test]
fn distinct_counts_spans_and_quarters() {
    let none = ThreadContext::default();
    assert_eq!(
        sql("how many different segments do customers have?", &none)
            .0
            .unwrap(),
        r#"SELECT count(DISTINCT t0."segment") FROM "customers" t0"#
    );
    assert_eq!(
        sql("how many orders between 2021 and 2022?", &none)
            .0
            .unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2021-01-01' AND t0."ordered_on" < '2023-01-01'"#
    );
    assert_eq!(
        sql("how many orders in Q2 2023?", &none).0.unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2023-04-01' AND t0."ordered_on" < '2023-07-01'"#
    );
}

#[test]
fn missing_values_and_ranked_column_values() {
    let none = ThreadContext::default();
    assert_eq!(
        sql("how many orders have no status?", &none).0.unwrap(),
        r#"SELECT count(*) FROM "orders" t0 WHERE t0."status" IS NULL"#
    );
    assert_eq!(
        sql("top 2 segments by order total", &none).0.unwrap(),
        r#"SELECT t1."segment", sum(t0."total_eur") AS "sum" FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" GROUP BY t1."segment" ORDER BY sum(t0."total_eur") DESC LIMIT 2"#
    );
    // Nothing to rank by: it says so rather than list every row.
    let (sql_text, plan) = sql("top 3 regions", &none);
    assert_eq!(sql_text, None, "{}", plan.text);
    assert!(plan.text.contains("by what"), "{}", plan.text);
}

#[test]
fn unexplained_things_refuse_but_verbs_do_not() {
    let none = ThreadContext::default();
    // A thing nothing in the catalog holds: no number.
    for question in [
        "what is the average weight of orders?",
        "how many unicorns did customers order last year?",
        "how many orders were shipped via Zeppelin?",
    ] {
        let (sql_text, plan) = sql(question, &none);
        assert_eq!(sql_text, None, "{question}: {}", plan.text);
        assert!(plan.text.contains("could not match"), "{}", plan.text);
    }
    // Verbs and general words around what is named still get an answer.
    for question in [
        "how many orders were booked in 2023?",
        "what's the single biggest order total we've ever had?",
        "how many orders came in last month?",
    ] {
        let (sql_text, plan) = sql(question, &none);
        assert!(sql_text.is_some(), "{question}: {}", plan.text);
    }
    // A ranking by date.
    assert_eq!(
        sql("what was the most recent order?", &none).0.unwrap(),
        r#"SELECT t0."id", t0."ordered_on" FROM "orders" t0 ORDER BY t0."ordered_on" DESC LIMIT 1"#
    );
}

#[test]
fn after_a_superlative_by_names_what_ranks() {
    let none = ThreadContext::default();
    assert_eq!(
        {
            let (sql_text, plan) = sql("who is our best customer by order total?", &none);
            sql_text.unwrap_or(plan.text)
        },
        r#"SELECT t0."name", sum(t1."total_eur") AS "sum" FROM "customers" t0 JOIN "orders" t1 ON t1."customer_id" = t0."id" GROUP BY t0."id", t0."name" ORDER BY sum(t1."total_eur") DESC LIMIT 1"#
    );
}

/// Words that steer the reading (dates, numbers, ranks, units, conditions, follow-ups).
const STEERING_WORDS: &[&str] = &[
    "how",
    "many",
    "orders",
    "between",
    "and",
    "in",
    "from",
    "to",
    "past",
    "last",
    "q2",
    "2023",
    "march",
    "top",
    "3",
    "by",
    "per",
    "year",
    "no",
    "have",
    "a",
    "status",
    "most",
    "which",
    "customers",
    "minutes",
    "cents",
    "cost",
    "at",
    "the",
    "show",
    "them",
    "Queen",
    "feed",
    "built",
    "on",
    "of",
    "only",
    "different",
    "oldest",
    "?",
];

#[test]
fn no_question_makes_it_panic() {
    // Every short sequence of words that steer the reading, at the start, middle and end of
    // questions: an answer each.
    let schema = schema();
    let (_, first) = sql("how many orders were delivered?", &ThreadContext::default());
    let contexts = [ThreadContext::default(), first.context];
    let mut asked = 0;
    for a in STEERING_WORDS {
        for b in STEERING_WORDS {
            for c in STEERING_WORDS {
                let question = format!("{a} {b} {c}");
                for context in &contexts {
                    let plan = plan(&question, &schema, context, TODAY, &[], &[IntegrationId(7)]);
                    assert!(!plan.text.is_empty(), "{question}");
                    asked += 1;
                }
            }
        }
    }
    for word in STEERING_WORDS {
        for question in [
            word.to_string(),
            format!("how many orders {word}"),
            format!("{word} {word} {word} {word}"),
        ] {
            let lookups = lookups(
                &question,
                &schema,
                &ThreadContext::default(),
                TODAY,
                &[IntegrationId(7)],
            );
            assert!(lookups.len() <= MAX_LOOKUPS, "{question}");
        }
    }
    assert!(asked > 100_000);
}

#[test]
fn says_counts_and_tables_in_words() {
    let (_, plan) = sql("How many orders were cancelled?", &ThreadContext::default());
    let columns = vec!["count(*)".to_string()];
    let rows = vec![vec![serde_json::json!(42)]];
    let text = say(
        &plan,
        Some(Ok(Rows {
            columns: &columns,
            rows: &rows,
            truncated: false,
        })),
    );
    assert!(
        text.contains("There are 42 orders where status is cancelled."),
        "{text}"
    );
    assert!(text.contains("```sql"), "{text}");
}
