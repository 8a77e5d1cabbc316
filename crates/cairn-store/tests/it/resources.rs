//! Resources, their teams and labels; reads by id, scope and parent.

use cairn_domain::{ResourceId, ResourceKind, Scope, TeamId};
use cairn_store::{LabelSource, NewResource, ResourceFilter, ResourcePatch, StoreError};

use crate::common::TestStore;

store_tests!(
    a_created_resource_reads_back_with_its_teams_and_labels,
    people_s_labels_come_first_and_each_value_once,
    new_teams_reach_the_resource_and_everything_below,
    a_team_scope_sees_only_its_teams_resources,
    browse_filters_by_kind_tag_and_owner_with_keyset_pages,
    reads_by_id_keep_the_order_asked_and_skip_unknown_ids,
    a_resource_of_another_workspace_is_not_found,
    resources_with_their_columns_read_as_by_id_and_by_parent,
    labels_with_commas_colons_and_backslashes_read_back_whole,
);

/// Labels come aggregated in a resource's own row: whatever a value holds reads back as it
/// was written, by every read, and as the feed reads it.
async fn labels_with_commas_colons_and_backslashes_read_back_whole(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let before = store.last_change_seq().await.unwrap();
    let tags: Vec<String> = ["a,b", "c\\d", "e:f", "g\\,", ",", "\\", "tag:owner", "h i"]
        .map(String::from)
        .to_vec();
    let owners = vec!["ops,team@example.com".to_string(), "x\\y:z".to_string()];
    let id = store
        .create_resource(acme.id, &table("odd", &[]), LabelSource::User)
        .await
        .unwrap();
    let patch = ResourcePatch {
        tags: Some(tags.clone()),
        owners: Some(owners.clone()),
        ..ResourcePatch::default()
    };
    store.update_resource(acme.id, id, &patch).await.unwrap();
    let sorted = |mut values: Vec<String>| {
        values.sort();
        values
    };
    let read = store.resource(acme.id, id).await.unwrap().unwrap();
    assert_eq!(sorted(read.tags.clone()), sorted(tags.clone()));
    assert_eq!(sorted(read.owners.clone()), sorted(owners.clone()));
    let many = store.resources_with_columns(acme.id, &[id]).await.unwrap();
    assert_eq!(many.resources.len(), 1);
    assert_eq!(many.resources[0], read);
    let feed = store.feed_after(before, 100).await.unwrap();
    let fed = feed
        .resources
        .iter()
        .find(|resource| resource.id == id)
        .unwrap();
    assert_eq!(
        fed.tags, read.tags,
        "the feed reads the labels in the same order"
    );
    assert_eq!(fed.owners, read.owners);
}

/// The one-statement read of resources and their columns gives exactly what reading them by
/// id and their columns by parent gives: labels and teams included, a schema's tables not
/// taken for columns, a column asked for itself listed in both.
async fn resources_with_their_columns_read_as_by_id_and_by_parent(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let integration = store.new_integration(acme.id, &[data.id]).await;
    store
        .crawl(
            acme.id,
            integration,
            &crate::common::small_crawl(),
            &[
                crate::common::foreign_key("s.a.b_id", "s.b.id"),
                cairn_store::CrawlRelation {
                    kind: cairn_domain::RelationKind::ViewDependency,
                    ..crate::common::foreign_key("s.a", "s.b")
                },
            ],
        )
        .await;
    let by_path = |path: &str| {
        let store = &store;
        let path = path.to_string();
        async move {
            store
                .integration_resources(acme.id, integration, true)
                .await
                .unwrap()
                .into_iter()
                .find(|resource| resource.path == path)
                .unwrap()
                .id
        }
    };
    let (schema, a, a_id, b) = (
        by_path("s").await,
        by_path("s.a").await,
        by_path("s.a.id").await,
        by_path("s.b").await,
    );
    let tagged = ResourcePatch {
        tags: Some(vec!["pii".to_string()]),
        ..ResourcePatch::default()
    };
    store.update_resource(acme.id, a_id, &tagged).await.unwrap();
    let asked = [b, schema, a, a_id, ResourceId(999_999)];
    let read = store.resources_with_columns(acme.id, &asked).await.unwrap();
    let (resources, columns) = (read.resources, read.columns);
    assert_eq!(
        resources,
        store.resources_by_ids(acme.id, &asked).await.unwrap()
    );
    let mut expected: Vec<_> = store
        .children_of(acme.id, &asked)
        .await
        .unwrap()
        .into_iter()
        .filter(|child| child.kind == ResourceKind::Column)
        .collect();
    expected.sort_by_key(|column| column.id);
    assert_eq!(columns, expected);
    let names: Vec<&str> = columns.iter().map(|column| column.name.as_str()).collect();
    assert_eq!(names, ["id", "b_id", "id"]);
    let tagged = columns.iter().find(|column| column.id == a_id).unwrap();
    assert_eq!(tagged.tags, ["pii"]);
    assert_eq!(tagged.teams, [data.id]);
    assert_eq!(tagged.team_names, ["data"]);
    // Each resource and column read comes with its relations, either way, as a read of
    // relations gives them.
    assert!(
        !read.relations.is_empty(),
        "the small crawl has a foreign key"
    );
    for resource in resources.iter().chain(&columns) {
        let mut expected = store
            .relations_of_many(acme.id, &[resource.id])
            .await
            .unwrap();
        let mut got = read
            .relations
            .get(&resource.id)
            .cloned()
            .unwrap_or_default();
        let order = |relation: &cairn_store::RelationRow| {
            (relation.kind.as_str(), relation.from, relation.to)
        };
        expected.sort_by(|left, right| order(left).cmp(&order(right)));
        got.sort_by(|left, right| order(left).cmp(&order(right)));
        assert_eq!(got, expected, "{}", resource.path);
    }
}

fn table(name: &str, teams: &[TeamId]) -> NewResource {
    NewResource {
        kind: Some(ResourceKind::Table),
        name: name.to_string(),
        path: format!("public.{name}"),
        teams: teams.to_vec(),
        ..NewResource::default()
    }
}

async fn a_created_resource_reads_back_with_its_teams_and_labels(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let new = NewResource {
        description: Some("Orders placed".to_string()),
        source_description: Some("orders".to_string()),
        popularity: Some(3.5),
        tags: vec!["sales".to_string()],
        owners: vec!["ana".to_string()],
        ..table("orders", &[data.id])
    };
    let id = store
        .create_resource(acme.id, &new, LabelSource::User)
        .await
        .unwrap();
    let orders = store.resource(acme.id, id).await.unwrap().unwrap();
    assert_eq!(orders.kind, ResourceKind::Table);
    assert_eq!(
        (orders.name.as_str(), orders.path.as_str()),
        ("orders", "public.orders")
    );
    assert_eq!(orders.teams, [data.id]);
    assert_eq!(orders.tags, ["sales"]);
    assert_eq!(orders.owners, ["ana"]);
    assert_eq!(orders.popularity, Some(3.5));
    assert_eq!(orders.effective_description(), Some("Orders placed"));
    assert_eq!(store.owner_names(acme.id).await.unwrap(), ["ana"]);
    let without_kind = NewResource {
        kind: None,
        ..table("x", &[])
    };
    assert!(matches!(
        store
            .create_resource(acme.id, &without_kind, LabelSource::User)
            .await,
        Err(StoreError::Config(_))
    ));
}

async fn people_s_labels_come_first_and_each_value_once(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let crawled = NewResource {
        tags: vec!["pii".to_string(), "raw".to_string()],
        ..table("users", &[])
    };
    let id = store
        .create_resource(acme.id, &crawled, LabelSource::Crawl)
        .await
        .unwrap();
    let patch = ResourcePatch {
        tags: Some(vec!["zeta".to_string(), "pii".to_string()]),
        description: Some("People".to_string()),
        ..ResourcePatch::default()
    };
    store.update_resource(acme.id, id, &patch).await.unwrap();
    let users = store.resource(acme.id, id).await.unwrap().unwrap();
    assert_eq!(users.tags, ["pii", "zeta", "raw"]);
    assert_eq!(users.description.as_deref(), Some("People"));
    // A patch without a description keeps the one there.
    store
        .update_resource(acme.id, id, &ResourcePatch::default())
        .await
        .unwrap();
    let users = store.resource(acme.id, id).await.unwrap().unwrap();
    assert_eq!(users.description.as_deref(), Some("People"));
    assert!(matches!(
        store
            .update_resource(acme.id, ResourceId(id.0 + 1000), &patch)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn new_teams_reach_the_resource_and_everything_below(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let ops = store.create_team(acme.id, "ops").await.unwrap();
    let orders = store
        .create_resource(acme.id, &table("orders", &[data.id]), LabelSource::User)
        .await
        .unwrap();
    let column = NewResource {
        kind: Some(ResourceKind::Column),
        name: "id".to_string(),
        path: "public.orders.id".to_string(),
        parent: Some(orders),
        teams: vec![data.id],
        ..NewResource::default()
    };
    let id = store
        .create_resource(acme.id, &column, LabelSource::User)
        .await
        .unwrap();
    let other = store
        .create_resource(acme.id, &table("other", &[data.id]), LabelSource::User)
        .await
        .unwrap();
    let patch = ResourcePatch {
        teams: Some(vec![ops.id]),
        ..ResourcePatch::default()
    };
    store
        .update_resource(acme.id, orders, &patch)
        .await
        .unwrap();
    let read = store
        .resources_by_ids(acme.id, &[orders, id, other])
        .await
        .unwrap();
    let teams: Vec<&[TeamId]> = read
        .iter()
        .map(|resource| resource.teams.as_slice())
        .collect();
    assert_eq!(teams, [&[ops.id][..], &[ops.id], &[data.id]]);
    let children = store.children(acme.id, orders).await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].id, id);
    let of_many = store.children_of(acme.id, &[orders, other]).await.unwrap();
    assert_eq!(
        of_many.iter().map(|child| child.id).collect::<Vec<_>>(),
        [id]
    );
}

async fn a_team_scope_sees_only_its_teams_resources(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let ops = store.create_team(acme.id, "ops").await.unwrap();
    let mut ids = Vec::new();
    for (name, teams) in [("a", vec![data.id]), ("b", vec![ops.id]), ("c", vec![])] {
        let id = store
            .create_resource(acme.id, &table(name, &teams), LabelSource::User)
            .await
            .unwrap();
        ids.push(id);
    }
    let everything = ResourceFilter {
        limit: 100,
        ..ResourceFilter::default()
    };
    let names = |resources: Vec<cairn_store::Resource>| -> Vec<String> {
        resources
            .into_iter()
            .map(|resource| resource.name)
            .collect()
    };
    let all = store
        .list_resources(&Scope::Workspace(acme.id), &everything)
        .await
        .unwrap();
    assert_eq!(names(all), ["a", "b", "c"]);
    let data_only = store
        .list_resources(&Scope::Teams(acme.id, vec![data.id]), &everything)
        .await
        .unwrap();
    assert_eq!(names(data_only), ["a"]);
    let none = store
        .list_resources(&Scope::Teams(acme.id, vec![]), &everything)
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn browse_filters_by_kind_tag_and_owner_with_keyset_pages(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    for (name, tag, owner) in [("a", "x", "ana"), ("b", "y", "ana"), ("c", "x", "bo")] {
        let new = NewResource {
            tags: vec![tag.to_string()],
            owners: vec![owner.to_string()],
            ..table(name, &[])
        };
        store
            .create_resource(acme.id, &new, LabelSource::User)
            .await
            .unwrap();
    }
    let scope = Scope::Workspace(acme.id);
    let list = |filter: ResourceFilter| {
        let store = &store;
        let scope = scope.clone();
        async move {
            store
                .list_resources(&scope, &filter)
                .await
                .unwrap()
                .into_iter()
                .map(|resource| resource.name)
                .collect::<Vec<_>>()
        }
    };
    let filter = ResourceFilter {
        limit: 10,
        ..ResourceFilter::default()
    };
    let tagged = ResourceFilter {
        tag: Some("x".to_string()),
        ..filter.clone()
    };
    assert_eq!(list(tagged).await, ["a", "c"]);
    let owned = ResourceFilter {
        owner: Some("ana".to_string()),
        ..filter.clone()
    };
    assert_eq!(list(owned).await, ["a", "b"]);
    let columns = ResourceFilter {
        kind: Some(ResourceKind::Column),
        ..filter.clone()
    };
    assert!(list(columns).await.is_empty());
    let first = ResourceFilter {
        limit: 2,
        ..filter.clone()
    };
    let page = store.list_resources(&scope, &first).await.unwrap();
    assert_eq!(page.len(), 2);
    let rest = ResourceFilter {
        after: Some(page[1].id),
        ..filter
    };
    assert_eq!(list(rest).await, ["c"]);
}

async fn reads_by_id_keep_the_order_asked_and_skip_unknown_ids(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let new = NewResource {
            popularity: Some(f64::from(ids.len() as u32)),
            ..table(name, &[])
        };
        ids.push(
            store
                .create_resource(acme.id, &new, LabelSource::User)
                .await
                .unwrap(),
        );
    }
    let asked = [ids[2], ResourceId(ids[2].0 + 999), ids[0]];
    let read: Vec<ResourceId> = store
        .resources_by_ids(acme.id, &asked)
        .await
        .unwrap()
        .iter()
        .map(|resource| resource.id)
        .collect();
    assert_eq!(read, [ids[2], ids[0]]);
    let ranked = store.ranking_resources(acme.id, &ids).await.unwrap();
    assert_eq!(ranked.len(), 3);
    let popular: Vec<String> = store
        .most_popular(acme.id, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|resource| resource.name)
        .collect();
    assert_eq!(popular, ["c", "b"]);
}

async fn a_resource_of_another_workspace_is_not_found(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let (other, _) = store.new_workspace("other").await;
    let id = store
        .create_resource(acme.id, &table("secret", &[]), LabelSource::User)
        .await
        .unwrap();
    assert_eq!(store.resource(other.id, id).await.unwrap(), None);
    assert!(
        store
            .resources_by_ids(other.id, &[id])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.children(other.id, id).await.unwrap().is_empty());
    assert!(matches!(
        store
            .update_resource(other.id, id, &ResourcePatch::default())
            .await,
        Err(StoreError::NotFound)
    ));
}
