//! Reading the jaffle_shop dbt projects shipped in ../shared/data/dbt.

use cairn_connect::dbt::{DbtRelation, DbtResourceType, parse};
use cairn_testkit::shared_data;
use serde_json::Value;

fn load(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn relation(database: &str, schema: &str, name: &str) -> DbtRelation {
    DbtRelation {
        database: Some(database.to_owned()),
        schema: schema.to_owned(),
        name: name.to_owned(),
    }
}

#[test]
fn jaffle_shop_v12_with_catalog() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("dbt/jaffle_shop_dbt1.12_duckdb");
    let manifest = load(&dir.join("manifest.json"));
    let catalog = load(&dir.join("catalog.json"));
    let docs = parse(&manifest, Some(&catalog)).unwrap();
    assert_eq!(docs.manifest_version, 12);
    let count = |kind| {
        docs.nodes
            .iter()
            .filter(|node| node.resource_type == kind)
            .count()
    };
    assert_eq!(count(DbtResourceType::Model), 13);
    assert_eq!(count(DbtResourceType::Seed), 6);
    assert_eq!(count(DbtResourceType::Source), 6);

    let customers = docs
        .node_for(&relation("jaffle_shop", "main", "customers"))
        .unwrap();
    assert_eq!(customers.unique_id, "model.jaffle_shop.customers");
    assert_eq!(customers.materialized.as_deref(), Some("table"));
    assert!(customers.description.is_some());
    let customer_id = customers
        .columns
        .iter()
        .find(|column| column.name == "customer_id")
        .unwrap();
    assert!(customer_id.description.is_some());
    // the type comes from catalog.json
    assert_eq!(customer_id.data_type.as_deref(), Some("VARCHAR"));

    let source = docs
        .nodes
        .iter()
        .find(|node| node.unique_id == "source.jaffle_shop.ecom.raw_customers")
        .unwrap();
    assert_eq!(
        source.relation,
        relation("jaffle_shop", "raw", "raw_customers")
    );
    assert_eq!(source.name, "ecom.raw_customers");

    for (from, to) in [
        ("stg_customers", "customers"),
        ("orders", "customers"),
        ("stg_orders", "orders"),
    ] {
        assert!(
            docs.lineage
                .iter()
                .any(|edge| edge.from == relation("jaffle_shop", "main", from)
                    && edge.to == relation("jaffle_shop", "main", to)),
            "{from} -> {to}"
        );
    }
    assert!(docs.lineage.iter().any(|edge| edge.from
        == relation("jaffle_shop", "raw", "raw_customers")
        && edge.to == relation("jaffle_shop", "main", "stg_customers")));
    assert!(customers.relation.matches_path(&[
        "JAFFLE_SHOP".to_owned(),
        "main".to_owned(),
        "Customers".to_owned()
    ]));
}

#[test]
fn jaffle_shop_v8_without_catalog() {
    let Some(data) = shared_data() else { return };
    let manifest = load(&data.join("dbt/jaffle_shop_dbt1.4_bigquery/manifest.json"));
    let docs = parse(&manifest, None).unwrap();
    assert_eq!(docs.manifest_version, 8);
    assert!(docs.dbt_version.as_deref().unwrap().starts_with("1.4"));
    let customers = docs
        .node_for(&relation("dbt-dev-dan", "jaffle_shop", "customers"))
        .unwrap();
    let first_name = customers
        .columns
        .iter()
        .find(|column| column.name == "first_name")
        .unwrap();
    assert_eq!(
        first_name.description.as_deref(),
        Some("Customer's first name. PII.")
    );
    for upstream in ["stg_customers", "stg_orders", "stg_payments"] {
        assert!(docs.lineage.iter().any(|edge| edge.from
            == relation("dbt-dev-dan", "jaffle_shop", upstream)
            && edge.to == customers.relation));
    }
    // a catalog is not a manifest
    let catalog = load(&data.join("dbt/jaffle_shop_dbt1.12_duckdb/catalog.json"));
    assert_eq!(parse(&catalog, None).unwrap_err().code(), "not_a_manifest");
}
