//! `cairn bench assistant`: the assistant's own overhead per question at catalog sizes, with a
//! stand-in model that answers at once, beside a baseline measured in the same run (a bare
//! round trip to the stand-in), so the figure excludes model time.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::response::IntoResponse;
use cairn_catalog::{
    AiSettingsInput, AskInput, Catalog, CatalogConfig, NewUser, Principal, ProviderSetting, Role,
    UserId, UserView,
};
use cairn_domain::{IntegrationId, ResourceKind};
use cairn_store::{CrawlItem, SyncCounts, Team, Workspace};
use serde_json::json;

const WORDS: &[&str] = &[
    "order",
    "customer",
    "invoice",
    "payment",
    "refund",
    "product",
    "supplier",
    "inventory",
    "shipment",
    "account",
    "ledger",
    "employee",
    "salary",
    "department",
    "campaign",
    "lead",
    "opportunity",
    "contract",
    "subscription",
    "plan",
    "region",
    "store",
    "warehouse",
    "return",
    "discount",
    "coupon",
    "tax",
    "currency",
    "exchange",
    "budget",
    "forecast",
    "expense",
    "vendor",
    "ticket",
    "session",
    "event",
    "click",
    "visit",
    "device",
    "channel",
    "partner",
    "reseller",
    "license",
    "renewal",
    "churn",
    "cohort",
    "margin",
    "revenue",
    "cost",
    "price",
];

fn word(seed: usize) -> &'static str {
    WORDS[seed % WORDS.len()]
}

/// Tables of ten columns, `resources` crawled resources in all, under one schema.
fn catalog_items(integration: &str, resources: usize) -> Vec<CrawlItem> {
    let columns_per_table = 9;
    let tables = (resources / (columns_per_table + 1)).max(1);
    let database = format!("{integration}.db");
    let schema = format!("{database}.public");
    let mut items = vec![
        item(ResourceKind::Database, "db", &database, None, None),
        item(
            ResourceKind::Schema,
            "public",
            &schema,
            Some(&database),
            None,
        ),
    ];
    for table in 0..tables {
        let name = format!("{}_{}_{table}", word(table), word(table / WORDS.len() + 7));
        let path = format!("{schema}.{name}");
        let description = format!(
            "{} of each {} by {}",
            word(table + 3),
            word(table + 11),
            word(table + 19)
        );
        items.push(item(
            ResourceKind::Table,
            &name,
            &path,
            Some(&schema),
            Some(description),
        ));
        for column in 0..columns_per_table {
            let column_name = format!(
                "{}_{}",
                word(table + column * 5),
                if column == 0 { "id" } else { "value" }
            );
            let mut entry = item(
                ResourceKind::Column,
                &column_name,
                &format!("{path}.{column_name}_{column}"),
                Some(&path),
                None,
            );
            entry.data_type = Some(if column == 0 {
                "bigint".into()
            } else {
                "text".into()
            });
            items.push(entry);
        }
    }
    items
}

fn item(
    kind: ResourceKind,
    name: &str,
    path: &str,
    parent: Option<&str>,
    description: Option<String>,
) -> CrawlItem {
    CrawlItem {
        kind,
        name: name.to_string(),
        path: path.to_string(),
        parent_path: parent.map(str::to_string),
        source_description: description,
        data_type: None,
        definition: None,
        popularity: None,
        attributes: "{}".to_string(),
    }
}

async fn stand_in() -> Result<String> {
    async fn reply() -> axum::response::Response {
        let chunk = json!({"id": "b", "object": "chat.completion.chunk", "model": "bench",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "The catalog lists it."}, "finish_reason": "stop"}]});
        (
            [("content-type", "text/event-stream")],
            format!("data: {chunk}\n\ndata: [DONE]\n\n"),
        )
            .into_response()
    }
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(reply));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    Ok(base)
}

/// A figure from /proc/self/status in kB (Linux only).
pub(crate) fn memory_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak resident set size (VmHWM) to the current size (Linux only).
pub(crate) fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
    samples[index.min(samples.len() - 1)]
}

/// The median and the 99th percentile.
fn p50_p99(samples: &mut [Duration]) -> (Duration, Duration) {
    (percentile(samples, 0.5), percentile(samples, 0.99))
}

/// A benchmark's workspace: its team `analytics` and one member in it.
pub struct BenchMember {
    pub workspace: Workspace,
    pub team: Team,
    pub user: UserView,
}

/// Creates workspace `name` with the team `analytics` and a member `email` of `role` in it.
pub async fn bench_member(
    catalog: &Catalog,
    name: &str,
    email: &str,
    role: Role,
) -> Result<BenchMember> {
    let operator = catalog.operator();
    let workspace = operator.create_workspace(name, None).await?;
    let team = operator.add_team(workspace.id, "analytics").await?;
    let (user, _) = operator
        .add_user(
            workspace.id,
            NewUser {
                email: email.into(),
                name: None,
                role,
                teams: vec![team.name.clone()],
                password: None,
            },
        )
        .await?;
    Ok(BenchMember {
        workspace,
        team,
        user,
    })
}

/// A stand-in integration of the team's (its connection reaches nothing) and a generated
/// crawl of `size` resources written through it.
async fn stand_in_crawl(
    catalog: &Catalog,
    member: &BenchMember,
    size: usize,
) -> Result<(IntegrationId, SyncCounts)> {
    let store = catalog.operator().store();
    let workspace = member.workspace.id;
    let integration = store
        .create_integration(
            workspace,
            "bench",
            "postgres",
            "v1:unused",
            86_400,
            &[member.team.id],
        )
        .await?;
    // The items are handed over, not copied: a million of them are hundreds of megabytes.
    let applied = store
        .apply_crawl_timed(workspace, integration.id, catalog_items("bench", size), &[])
        .await?;
    Ok((integration.id, applied.counts))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A benchmark catalog of `size` resources, the bench member and an admin acting for them.
struct SizedCatalog {
    catalog: Catalog,
    admin: Principal,
    principal: Principal,
    /// Writing the crawl to the store, and indexing it.
    stored: Duration,
    indexed: Duration,
}

/// Runs the benchmark at each size and prints figures.
pub async fn assistant(sizes: &[usize], questions: usize) -> Result<()> {
    let base = stand_in().await?;
    cairn_assistant::install_tls_provider();
    let client = reqwest::Client::new();
    println!(
        "assistant overhead per question (stand-in model answering at once), {questions} questions per size"
    );
    for &size in sizes {
        let dir = tempfile::tempdir()?;
        let sized = sized_catalog(dir.path(), size).await?;
        set_provider(
            &sized,
            ProviderSetting::Openai {
                base_url: base.clone(),
                model: "bench".into(),
                region: None,
                api_key: None,
            },
        )
        .await?;
        ask_stand_in(&sized, &client, &base, size, questions).await?;
        // The built-in offline assistant: the question engine with no model at all.
        set_provider(&sized, ProviderSetting::Builtin).await?;
        ask_offline(&sized, size, questions).await?;
        sized.catalog.operator().close().await;
    }
    Ok(())
}

async fn sized_catalog(dir: &std::path::Path, size: usize) -> Result<SizedCatalog> {
    let config = CatalogConfig {
        scheduled_sync: false,
        ..CatalogConfig::new(dir.to_path_buf())
    };
    let catalog = Catalog::open(
        &format!("sqlite://{}", dir.join("bench.db").display()),
        config,
    )
    .await?;
    let member = bench_member(&catalog, "bench", "bench@example.com", Role::Viewer).await?;
    let started = Instant::now();
    stand_in_crawl(&catalog, &member, size).await?;
    let stored = started.elapsed();
    let started = Instant::now();
    catalog.follow_changes().await?;
    let indexed = started.elapsed();
    let (workspace, user) = (member.workspace.id, UserId(member.user.id));
    let admin = Principal {
        user,
        workspace,
        role: Role::Admin,
        teams: vec![member.team.id],
    };
    let principal = catalog.principal(workspace, user).await?;
    Ok(SizedCatalog {
        catalog,
        admin,
        principal,
        stored,
        indexed,
    })
}

async fn set_provider(sized: &SizedCatalog, provider: ProviderSetting) -> Result<()> {
    sized
        .catalog
        .update_ai_settings(
            &sized.admin,
            AiSettingsInput {
                provider: Some(provider),
                ..AiSettingsInput::default()
            },
        )
        .await?;
    Ok(())
}

/// Questions to the stand-in model, against a search alone and the bare round trip.
async fn ask_stand_in(
    sized: &SizedCatalog,
    client: &reqwest::Client,
    base: &str,
    size: usize,
    questions: usize,
) -> Result<()> {
    let catalog = &sized.catalog;
    let mut asks = Vec::with_capacity(questions);
    let mut round_trips = Vec::with_capacity(questions);
    let mut searches = Vec::with_capacity(questions);
    for index in 0..questions {
        let question = format!(
            "which table holds the {} of each {}?",
            word(index * 7 + 3),
            word(index * 13 + 11)
        );
        let started = Instant::now();
        let query = cairn_catalog::ResourceQuery {
            q: Some(question.clone()),
            limit: Some(8),
            ..Default::default()
        };
        catalog.list_resources(&sized.principal, query).await?;
        searches.push(started.elapsed());
        let started = Instant::now();
        let answer = catalog
            .ask(
                &sized.principal,
                AskInput {
                    question,
                    thread_id: None,
                },
            )
            .await?;
        asks.push(started.elapsed());
        anyhow::ensure!(!answer.answer.is_empty(), "empty answer");
        let started = Instant::now();
        client
            .post(format!("{base}/chat/completions"))
            .json(&json!({"model": "bench", "messages": [{"role": "user", "content": "x"}], "stream": true}))
            .send()
            .await?
            .text()
            .await?;
        round_trips.push(started.elapsed());
    }
    let (ask_50, ask_99) = p50_p99(&mut asks);
    let (trip_50, trip_99) = p50_p99(&mut round_trips);
    let (search_50, search_99) = p50_p99(&mut searches);
    println!(
        "{size:>9} resources: a catalog search alone p50 {:.2} ms p99 {:.2} ms",
        ms(search_50),
        ms(search_99)
    );
    println!(
        "{size:>9} resources: store {:.1} s, index {:.1} s | ask p50 {:.2} ms p99 {:.2} ms | bare stand-in round trip p50 {:.2} ms p99 {:.2} ms | overhead p50 {:.2} ms p99 {:.2} ms ({:.1}x the round trip at p99)",
        sized.stored.as_secs_f64(),
        sized.indexed.as_secs_f64(),
        ms(ask_50),
        ms(ask_99),
        ms(trip_50),
        ms(trip_99),
        ms(ask_50.saturating_sub(trip_50)),
        ms(ask_99.saturating_sub(trip_99)),
        ms(ask_99) / ms(trip_99).max(0.001),
    );
    Ok(())
}

/// Questions of five shapes to the built-in offline assistant; the slowest three shown.
async fn ask_offline(sized: &SizedCatalog, size: usize, questions: usize) -> Result<()> {
    let mut offline = Vec::with_capacity(questions);
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    for index in 0..questions {
        let (first, second) = (word(index * 7 + 3), word(index * 13 + 11));
        let question = match index % 5 {
            0 => format!("which table holds the {first} of each {second}?"),
            1 => format!("how many {first} {second} are there?"),
            2 => format!("total {first} value per {second}"),
            3 => format!("how does {first} relate to {second}?"),
            _ => format!("what columns does the {first} table have?"),
        };
        let started = Instant::now();
        let answer = sized
            .catalog
            .ask(
                &sized.principal,
                AskInput {
                    question: question.clone(),
                    thread_id: None,
                },
            )
            .await?;
        offline.push(started.elapsed());
        slowest.push((started.elapsed(), question));
        anyhow::ensure!(!answer.answer.is_empty(), "empty answer");
    }
    let (offline_50, offline_99) = p50_p99(&mut offline);
    println!(
        "{size:>9} resources: built-in offline assistant ask p50 {:.2} ms p99 {:.2} ms",
        ms(offline_50),
        ms(offline_99)
    );
    slowest.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    for (took, question) in slowest.iter().take(3) {
        println!("           slowest: {:>8.2} ms  {question}", ms(*took));
    }
    Ok(())
}

/// `10000,1_000_000` → sizes.
pub fn parse_sizes(text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .map(|part| {
            part.trim()
                .replace('_', "")
                .parse::<usize>()
                .with_context(|| format!("not a size: {part}"))
        })
        .collect()
}

/// What `cairn bench seed` created.
pub struct Seeded {
    pub workspace: String,
    pub email: String,
    pub first_id: i64,
    pub last_id: i64,
}

/// Fills the store with a generated catalog of about `resources` resources (databases, schemas,
/// tables of ten columns) in a new workspace `workspace`, crawled by an integration `bench`
/// whose team `analytics` holds one viewer; the server's index follows it from the change feed.
pub async fn seed(catalog: &Catalog, workspace: &str, resources: usize) -> Result<Seeded> {
    let email = format!("viewer@{workspace}.example");
    let member = bench_member(catalog, workspace, &email, Role::Viewer).await?;
    let (integration, counts) = stand_in_crawl(catalog, &member, resources).await?;
    let created = &member.workspace;
    // Recorded as the integration's last sync, so the scheduler leaves it (its connection is a
    // stand-in) for a day.
    let status = json!({"state": "ok", "added": counts.added, "changed": 0, "removed": 0,
        "finished_at": cairn_store::now_ms()});
    catalog
        .operator()
        .store()
        .finish_sync(created.id, integration, &status.to_string())
        .await?;
    let (first_id, last_id): (i64, i64) =
        sqlx::query_as("SELECT MIN(id), MAX(id) FROM resources WHERE workspace_id = $1")
            .bind(created.id.0)
            .fetch_one(catalog.operator().store().pool())
            .await
            .context("reading the generated ids")?;
    Ok(Seeded {
        workspace: created.name.clone(),
        email,
        first_id,
        last_id,
    })
}
