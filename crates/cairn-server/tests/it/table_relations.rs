//! Tables carry their relations at table level in `GET /resources/{id}`: foreign keys lifted
//! from their columns with the column pairs, view dependencies, only to tables the caller sees.

use crate::common;

use common::Backend;
use reqwest::StatusCode;
use serde_json::Value;

/// (kind, direction, other table's name, column pairs)
type Relation = (String, String, String, Vec<(String, String)>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_show_their_relations_to_visible_tables() {
    let Some(app) = common::spawn_app(Backend::Sqlite).await else {
        return;
    };
    let seed = app.seed_demo().await;
    let mut members = Vec::new();
    for email in ["admin@acme.example", "viewer@acme.example"] {
        members.push(app.demo_member(seed.workspace, email, String::new()).await);
    }
    let (admin, viewer) = (&members[0], &members[1]);
    let relations = |body: &Value| -> Vec<Relation> {
        body["table_relations"]
            .as_array()
            .expect("table_relations on a table")
            .iter()
            .map(|relation| {
                (
                    relation["kind"].as_str().unwrap().to_string(),
                    relation["direction"].as_str().unwrap().to_string(),
                    relation["name"].as_str().unwrap().to_string(),
                    relation["columns"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|pair| {
                            (
                                pair["from"].as_str().unwrap().to_string(),
                                pair["to"].as_str().unwrap().to_string(),
                            )
                        })
                        .collect(),
                )
            })
            .collect()
    };
    let id_of = common::id_named;

    let (_, found) = app
        .get(admin, "/api/v1/resources?q=expenses&kind=table")
        .await;
    let (status, expenses) = app
        .get(
            admin,
            &format!("/api/v1/resources/{}", id_of(&found, "expenses")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{expenses}");
    let expense_relations = relations(&expenses);
    assert!(
        expense_relations.contains(&(
            "foreign_key".into(),
            "out".into(),
            "departments".into(),
            vec![("department_id".into(), "id".into())]
        )),
        "{expense_relations:?}"
    );

    let (_, found) = app
        .get(
            admin,
            "/api/v1/resources?q=hr_headcount_by_department&kind=view",
        )
        .await;
    let (_, view) = app
        .get(
            admin,
            &format!(
                "/api/v1/resources/{}",
                id_of(&found, "hr_headcount_by_department")
            ),
        )
        .await;
    let view_relations = relations(&view);
    for table in ["departments", "employees"] {
        assert!(
            view_relations
                .iter()
                .any(|(kind, direction, name, _)| kind == "view_dependency"
                    && direction == "out"
                    && name == table),
            "{view_relations:?}"
        );
    }

    // The sales viewer sees orders' sales relations, never the finance invoices that read it.
    let (_, found) = app
        .get(viewer, "/api/v1/resources?q=orders&kind=table")
        .await;
    let (_, orders) = app
        .get(
            viewer,
            &format!("/api/v1/resources/{}", id_of(&found, "orders")),
        )
        .await;
    let order_relations = relations(&orders);
    assert!(
        order_relations
            .iter()
            .any(|(kind, direction, name, columns)| kind == "foreign_key"
                && direction == "out"
                && name == "customers"
                && columns == &vec![("customer_id".to_string(), "id".to_string())]),
        "{order_relations:?}"
    );
    assert!(
        order_relations
            .iter()
            .all(|(_, _, name, _)| name != "invoices" && name != "finance_outstanding_invoices"),
        "{order_relations:?}"
    );
    let (_, as_admin) = app
        .get(
            admin,
            &format!("/api/v1/resources/{}", id_of(&found, "orders")),
        )
        .await;
    assert!(
        relations(&as_admin)
            .iter()
            .any(|(kind, direction, name, _)| kind == "foreign_key"
                && direction == "in"
                && name == "invoices"),
        "{as_admin}"
    );
}
