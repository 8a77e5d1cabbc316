//! dbt project docs: descriptions, column docs, tags, owners and lineage from `manifest.json`
//! (schema v7 to v12), optionally completed by `catalog.json` (column types and comments).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

const SUPPORTED_MANIFEST_VERSIONS: std::ops::RangeInclusive<u32> = 7..=12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbtError {
    #[error("not a dbt manifest: {0}")]
    NotAManifest(String),
    #[error("unsupported dbt manifest version v{0}: cairn reads v7 to v12 (dbt 1.0 and newer)")]
    UnsupportedManifestVersion(u32),
    #[error("not a dbt catalog: {0}")]
    NotACatalog(String),
}

impl DbtError {
    /// A stable, machine-readable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            DbtError::NotAManifest(_) => "not_a_manifest",
            DbtError::UnsupportedManifestVersion(_) => "unsupported_manifest_version",
            DbtError::NotACatalog(_) => "not_a_catalog",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbtResourceType {
    Model,
    Seed,
    Snapshot,
    Source,
}

/// Where a dbt node lives in the warehouse, lower-cased for matching against crawled paths.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DbtRelation {
    pub database: Option<String>,
    pub schema: String,
    /// The alias (models, seeds, snapshots) or identifier (sources).
    pub name: String,
}

impl DbtRelation {
    /// `database.schema.name` (or `schema.name`).
    pub fn qualified_name(&self) -> String {
        match &self.database {
            Some(database) => format!("{database}.{}.{}", self.schema, self.name),
            None => format!("{}.{}", self.schema, self.name),
        }
    }

    /// Whether a crawled path ends with this relation: `[.., schema, name]` for PostgreSQL
    /// paths (`[database, schema, name]`), or `[schema, name]` for MySQL, whose databases play
    /// the role of dbt schemas. Compares case-insensitively.
    pub fn matches_path(&self, path: &[String]) -> bool {
        let lower: Vec<String> = path.iter().map(|part| part.to_lowercase()).collect();
        match lower.as_slice() {
            [database, schema, name] => {
                *schema == self.schema
                    && *name == self.name
                    && self.database.as_ref().is_none_or(|own| own == database)
            }
            [schema, name] => *schema == self.schema && *name == self.name,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbtColumn {
    /// Lower-cased.
    pub name: String,
    pub description: Option<String>,
    /// From the catalog, or the manifest's `data_type` when declared.
    pub data_type: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbtNode {
    /// e.g. `model.jaffle_shop.customers`.
    pub unique_id: String,
    pub resource_type: DbtResourceType,
    /// The dbt name (`customers`, or `source_name.table` for sources).
    pub name: String,
    pub relation: DbtRelation,
    pub description: Option<String>,
    /// Sorted by name.
    pub columns: Vec<DbtColumn>,
    /// Sorted, without duplicates.
    pub tags: Vec<String>,
    /// `meta.owner`, else `config.meta.owner`, else the owner of the node's group.
    pub owner: Option<String>,
    /// `table`, `view`, `incremental`, ... (not for sources).
    pub materialized: Option<String>,
}

/// `from` feeds `to` (`to` depends on `from`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DbtLineage {
    pub from: DbtRelation,
    pub to: DbtRelation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbtDocs {
    /// The manifest schema version, 7 to 12.
    pub manifest_version: u32,
    pub dbt_version: Option<String>,
    pub project_name: Option<String>,
    /// Models, seeds, snapshots and sources, sorted by `unique_id`. Ephemeral models have no
    /// relation in the warehouse and are left out.
    pub nodes: Vec<DbtNode>,
    /// Sorted, without duplicates.
    pub lineage: Vec<DbtLineage>,
}

impl DbtDocs {
    /// The node documenting a relation, if any.
    pub fn node_for(&self, relation: &DbtRelation) -> Option<&DbtNode> {
        self.nodes.iter().find(|node| &node.relation == relation)
    }
}

/// The manifest schema version from `metadata.dbt_schema_version`
/// (`https://schemas.getdbt.com/dbt/manifest/v12.json` gives 12).
fn manifest_version(manifest: &Value) -> Result<u32, DbtError> {
    let Some(schema) = manifest
        .pointer("/metadata/dbt_schema_version")
        .and_then(Value::as_str)
    else {
        return Err(DbtError::NotAManifest(
            "metadata.dbt_schema_version is missing".into(),
        ));
    };
    let Some(rest) = schema.split("/manifest/v").nth(1) else {
        return Err(DbtError::NotAManifest(format!(
            "its schema is {schema}, not a manifest schema"
        )));
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let version: u32 = digits
        .parse()
        .map_err(|_| DbtError::NotAManifest(format!("cannot read the version of {schema}")))?;
    if !SUPPORTED_MANIFEST_VERSIONS.contains(&version) {
        return Err(DbtError::UnsupportedManifestVersion(version));
    }
    if !manifest.get("nodes").is_some_and(Value::is_object) {
        return Err(DbtError::NotAManifest("it has no nodes".into()));
    }
    Ok(version)
}

fn string_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn tags_of(node: &Value) -> Vec<String> {
    let mut tags = BTreeSet::new();
    for pointer in ["/tags", "/config/tags"] {
        match node.pointer(pointer) {
            Some(Value::Array(list)) => {
                tags.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            Some(Value::String(tag)) => {
                tags.insert(tag.clone());
            }
            _ => {}
        }
    }
    tags.into_iter().filter(|tag| !tag.is_empty()).collect()
}

/// An owner given as a string, or as `{email, name}` (email preferred), or a list of those
/// (joined with `, `).
fn owner_text(value: &Value) -> Option<String> {
    match value {
        Value::String(owner) => Some(owner.trim().to_owned()).filter(|owner| !owner.is_empty()),
        Value::Object(_) => string_at(value, "/email")
            .or_else(|| string_at(value, "/name"))
            .map(str::to_owned),
        Value::Array(list) => {
            let owners: Vec<String> = list.iter().filter_map(owner_text).collect();
            (!owners.is_empty()).then(|| owners.join(", "))
        }
        _ => None,
    }
}

fn owner_of(node: &Value, groups: &BTreeMap<String, String>) -> Option<String> {
    node.pointer("/meta/owner")
        .and_then(owner_text)
        .or_else(|| node.pointer("/config/meta/owner").and_then(owner_text))
        .or_else(|| {
            let group = string_at(node, "/group").or_else(|| string_at(node, "/config/group"))?;
            groups.get(group).cloned()
        })
}

/// Group name -> owner, from `groups` (v10 and newer).
fn group_owners(manifest: &Value) -> BTreeMap<String, String> {
    manifest
        .get("groups")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(_, group)| {
            let name = string_at(group, "/name")?;
            let owner = group.get("owner").and_then(owner_text)?;
            Some((name.to_owned(), owner))
        })
        .collect()
}

fn lower(text: Option<&str>) -> Option<String> {
    text.map(str::to_lowercase)
}

fn node_from_json(
    unique_id: &str,
    node: &Value,
    groups: &BTreeMap<String, String>,
) -> Option<DbtNode> {
    let resource_type = match node.get("resource_type").and_then(Value::as_str)? {
        "model" => DbtResourceType::Model,
        "seed" => DbtResourceType::Seed,
        "snapshot" => DbtResourceType::Snapshot,
        "source" => DbtResourceType::Source,
        _ => return None,
    };
    let materialized = string_at(node, "/config/materialized").map(str::to_owned);
    if materialized.as_deref() == Some("ephemeral") {
        return None;
    }
    let relation_name = if resource_type == DbtResourceType::Source {
        string_at(node, "/identifier").or_else(|| string_at(node, "/name"))
    } else {
        string_at(node, "/alias").or_else(|| string_at(node, "/name"))
    }?;
    let relation = DbtRelation {
        database: lower(string_at(node, "/database")),
        schema: string_at(node, "/schema")?.to_lowercase(),
        name: relation_name.to_lowercase(),
    };
    let name = match resource_type {
        DbtResourceType::Source => format!(
            "{}.{}",
            string_at(node, "/source_name").unwrap_or_default(),
            string_at(node, "/name").unwrap_or_default()
        ),
        _ => string_at(node, "/name").unwrap_or(relation_name).to_owned(),
    };
    let mut columns: Vec<DbtColumn> = node
        .get("columns")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, column)| DbtColumn {
            name: string_at(column, "/name").unwrap_or(key).to_lowercase(),
            description: string_at(column, "/description").map(str::to_owned),
            data_type: string_at(column, "/data_type").map(str::to_owned),
            tags: tags_of(column),
        })
        .collect();
    columns.sort_by(|left, right| left.name.cmp(&right.name));
    Some(DbtNode {
        unique_id: unique_id.to_owned(),
        resource_type,
        name,
        relation,
        description: string_at(node, "/description").map(str::to_owned),
        columns,
        tags: tags_of(node),
        owner: owner_of(node, groups),
        materialized: (resource_type != DbtResourceType::Source)
            .then_some(materialized)
            .flatten(),
    })
}

/// Adds column types, missing columns and table comments from `catalog.json`.
fn merge_catalog(nodes: &mut BTreeMap<String, DbtNode>, catalog: &Value) -> Result<(), DbtError> {
    let schema = string_at(catalog, "/metadata/dbt_schema_version").unwrap_or_default();
    if !schema.contains("/catalog/") {
        return Err(DbtError::NotACatalog(if schema.is_empty() {
            "metadata.dbt_schema_version is missing".to_owned()
        } else {
            format!("its schema is {schema}, not a catalog schema")
        }));
    }
    for section in ["nodes", "sources"] {
        let Some(entries) = catalog.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (unique_id, entry) in entries {
            let Some(node) = nodes.get_mut(unique_id) else {
                continue;
            };
            if node.description.is_none() {
                node.description = string_at(entry, "/metadata/comment").map(str::to_owned);
            }
            if node.owner.is_none() {
                node.owner = string_at(entry, "/metadata/owner").map(str::to_owned);
            }
            for (key, column) in entry
                .get("columns")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let name = string_at(column, "/name").unwrap_or(key).to_lowercase();
                let data_type = string_at(column, "/type").map(str::to_owned);
                let comment = string_at(column, "/comment").map(str::to_owned);
                match node.columns.iter_mut().find(|known| known.name == name) {
                    Some(known) => {
                        if data_type.is_some() {
                            known.data_type = data_type;
                        }
                        if known.description.is_none() {
                            known.description = comment;
                        }
                    }
                    None => node.columns.push(DbtColumn {
                        name,
                        description: comment,
                        data_type,
                        tags: Vec::new(),
                    }),
                }
            }
            node.columns
                .sort_by(|left, right| left.name.cmp(&right.name));
        }
    }
    Ok(())
}

/// Reads a dbt `manifest.json` (v7–v12) and, optionally, its `catalog.json`.
pub fn parse(manifest: &Value, catalog: Option<&Value>) -> Result<DbtDocs, DbtError> {
    let manifest_version = manifest_version(manifest)?;
    let groups = group_owners(manifest);
    let mut nodes: BTreeMap<String, DbtNode> = BTreeMap::new();
    let mut dependencies: Vec<(String, Vec<String>)> = Vec::new();
    for section in ["nodes", "sources"] {
        for (unique_id, node) in manifest
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(parsed) = node_from_json(unique_id, node, &groups) else {
                continue;
            };
            let upstream: Vec<String> = node
                .pointer("/depends_on/nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            dependencies.push((unique_id.clone(), upstream));
            nodes.insert(unique_id.clone(), parsed);
        }
    }
    if let Some(catalog) = catalog {
        merge_catalog(&mut nodes, catalog)?;
    }
    let mut lineage = BTreeSet::new();
    for (downstream, upstream) in &dependencies {
        let Some(to) = nodes.get(downstream) else {
            continue;
        };
        for upstream in upstream {
            if let Some(from) = nodes.get(upstream)
                && from.relation != to.relation
            {
                lineage.insert(DbtLineage {
                    from: from.relation.clone(),
                    to: to.relation.clone(),
                });
            }
        }
    }
    Ok(DbtDocs {
        manifest_version,
        dbt_version: string_at(manifest, "/metadata/dbt_version").map(str::to_owned),
        project_name: string_at(manifest, "/metadata/project_name").map(str::to_owned),
        nodes: nodes.into_values().collect(),
        lineage: lineage.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(version: u32, nodes: Value) -> Value {
        json!({
            "metadata": {
                "dbt_schema_version": format!("https://schemas.getdbt.com/dbt/manifest/v{version}.json"),
                "dbt_version": "1.8.0"
            },
            "nodes": nodes,
            "sources": {},
            "groups": {"group.p.finance": {"name": "finance", "owner": {"email": "fin@example.com"}}}
        })
    }

    #[test]
    fn versions_outside_v7_to_v12_are_refused() {
        assert_eq!(
            parse(&manifest(6, json!({})), None).unwrap_err(),
            DbtError::UnsupportedManifestVersion(6)
        );
        assert_eq!(
            parse(&manifest(13, json!({})), None).unwrap_err().code(),
            "unsupported_manifest_version"
        );
        assert_eq!(
            parse(&json!({"a": 1}), None).unwrap_err().code(),
            "not_a_manifest"
        );
        let catalog = json!({"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json"}, "nodes": {}});
        assert_eq!(parse(&catalog, None).unwrap_err().code(), "not_a_manifest");
        assert_eq!(
            parse(&manifest(12, json!({})), Some(&json!({})))
                .unwrap_err()
                .code(),
            "not_a_catalog"
        );
    }

    #[test]
    fn owners_come_from_meta_then_config_then_group() {
        let nodes = json!({
            "model.p.a": {"resource_type": "model", "name": "a", "alias": "A", "schema": "S",
                          "database": "D", "meta": {"owner": "ann@example.com"},
                          "config": {"materialized": "table", "tags": ["x"]}, "tags": ["x", "pii"],
                          "columns": {}, "depends_on": {"nodes": []}},
            "model.p.b": {"resource_type": "model", "name": "b", "schema": "s", "database": "d",
                          "config": {"meta": {"owner": ["bob", "cy"]}}, "columns": {},
                          "depends_on": {"nodes": ["model.p.a", "model.p.e"]}},
            "model.p.c": {"resource_type": "model", "name": "c", "schema": "s", "database": "d",
                          "group": "finance", "config": {}, "columns": {},
                          "depends_on": {"nodes": ["model.p.b"]}},
            "model.p.e": {"resource_type": "model", "name": "e", "schema": "s", "database": "d",
                          "config": {"materialized": "ephemeral"}, "columns": {}}
        });
        let docs = parse(&manifest(11, nodes), None).unwrap();
        assert_eq!(docs.nodes.len(), 3);
        assert_eq!(docs.nodes[0].owner.as_deref(), Some("ann@example.com"));
        assert_eq!(docs.nodes[0].relation.qualified_name(), "d.s.a");
        assert_eq!(docs.nodes[0].tags, vec!["pii", "x"]);
        assert_eq!(docs.nodes[1].owner.as_deref(), Some("bob, cy"));
        assert_eq!(docs.nodes[2].owner.as_deref(), Some("fin@example.com"));
        assert_eq!(docs.lineage.len(), 2);
        assert!(
            docs.nodes[0]
                .relation
                .matches_path(&["D".into(), "s".into(), "A".into()])
        );
    }
}
