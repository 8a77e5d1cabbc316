//! Semantic retrieval: one vector per table and view, made by the local embedding model
//! (`cairn model install`) from its metadata: name, path, description and column names. Nothing
//! here leaves the process. Vectors follow the change feed like the search index, in the
//! background, and are kept in a file beside the index; a search is filtered by workspace and
//! teams before anything is ranked, exactly like the index's.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use cairn_domain::{ResourceId, ResourceKind, Scope, TeamId, WorkspaceId};
use cairn_embed::Embedder;
use cairn_store::{FeedResource, Resource};

use crate::{Catalog, CatalogError, Result};

/// Tables embedded per store round trip; the model itself takes them in [`EMBED_BATCH`]es.
const WORK_BATCH: usize = 256;
/// Texts per forward pass: padded to the longest, so similar lengths go together.
const EMBED_BATCH: usize = 32;
/// Column names written into a table's text, at most (the model reads 256 tokens).
const MAX_COLUMNS: usize = 60;
const FILE_MAGIC: &[u8; 8] = b"CAIRNVEC";
const FILE_VERSION: u32 = 1;

struct Entry {
    workspace: WorkspaceId,
    kind: ResourceKind,
    teams: Vec<TeamId>,
    /// Of the text embedded: an unchanged text is not embedded again.
    text_hash: u64,
    vector: Vec<f32>,
}

/// The model, the vectors and the tables waiting for one.
pub(crate) struct Semantic {
    embedder: Arc<Embedder>,
    vectors: RwLock<HashMap<ResourceId, Entry>>,
    dirty: Mutex<BTreeSet<(WorkspaceId, ResourceId)>>,
    /// Held by the one task embedding at a time; waiting on it waits for the vectors.
    worker: tokio::sync::Mutex<()>,
    file: PathBuf,
}

impl Semantic {
    /// Loads the model from `model_dir` and the vectors kept in `index_dir`. A model directory
    /// that is absent gives `None`; one that fails its checks too, with a warning: search
    /// stays lexical rather than the server refusing to start.
    pub(crate) fn open(model_dir: &Path, index_dir: &Path) -> Option<Semantic> {
        if !model_dir.join("model.safetensors").exists() {
            return None;
        }
        let embedder = match Embedder::load(model_dir) {
            Ok(embedder) => embedder,
            Err(error) => {
                tracing::warn!(%error, "embedding model not loaded; search stays lexical");
                return None;
            }
        };
        let file = index_dir.join("vectors.bin");
        let vectors = match read_vectors(&file, embedder.dimension()) {
            Ok(vectors) => vectors,
            Err(error) => {
                if file.exists() {
                    tracing::warn!(%error, "vector file unreadable; tables are embedded again");
                }
                HashMap::new()
            }
        };
        Some(Semantic {
            embedder: Arc::new(embedder),
            vectors: RwLock::new(vectors),
            dirty: Mutex::new(BTreeSet::new()),
            worker: tokio::sync::Mutex::new(()),
            file,
        })
    }

    pub(crate) fn vector_count(&self) -> usize {
        self.vectors.read().map_or(0, |vectors| vectors.len())
    }

    /// Notes what a batch of the feed changed: tables and views to embed again (a column's
    /// change changes its table's text), removed ones to drop.
    pub(crate) fn note_changes(
        &self,
        upserted: &[FeedResource],
        removed: &[(WorkspaceId, ResourceId)],
    ) {
        let mut dirty = self
            .dirty
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        dirty.extend(upserted.iter().filter_map(Self::to_embed));
        if !removed.is_empty() {
            let mut vectors = self
                .vectors
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for (workspace, id) in removed {
                vectors.remove(id);
                dirty.remove(&(*workspace, *id));
            }
        }
    }

    /// The table or view a changed resource makes to embed again, if any: itself, or a
    /// column's table.
    pub(crate) fn to_embed(resource: &FeedResource) -> Option<(WorkspaceId, ResourceId)> {
        match resource.kind {
            ResourceKind::Table | ResourceKind::View => Some((resource.workspace, resource.id)),
            ResourceKind::Column => resource.parent.map(|parent| (resource.workspace, parent)),
            _ => None,
        }
    }

    /// Notes tables and views to embed again ([`Semantic::to_embed`] of what changed).
    pub(crate) fn note_to_embed(&self, keys: impl IntoIterator<Item = (WorkspaceId, ResourceId)>) {
        self.dirty
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(keys);
    }

    /// Forgets every vector (the index is being rebuilt from the feed's beginning).
    pub(crate) fn clear(&self) {
        self.vectors
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    fn take_dirty(&self) -> Vec<(WorkspaceId, ResourceId)> {
        let mut dirty = self
            .dirty
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let taken: Vec<_> = dirty.iter().take(WORK_BATCH).copied().collect();
        for key in &taken {
            dirty.remove(key);
        }
        taken
    }

    fn has_dirty(&self) -> bool {
        !self
            .dirty
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_empty()
    }

    fn nearest(
        &self,
        question: &[f32],
        scope: &Scope,
        kinds: &[ResourceKind],
        limit: usize,
    ) -> Vec<(ResourceId, f32)> {
        let vectors = self
            .vectors
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        nearest(&vectors, question, scope, kinds, limit)
    }

    fn save(&self) -> std::io::Result<()> {
        let vectors = self
            .vectors
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        write_vectors(&self.file, self.embedder.dimension(), &vectors)
    }
}

/// The `limit` tables and views of `scope` nearest to `question`, best first, with their
/// similarity. Only vectors of the scope's workspace and, for a member, of their teams are
/// ranked at all.
fn nearest(
    vectors: &HashMap<ResourceId, Entry>,
    question: &[f32],
    scope: &Scope,
    kinds: &[ResourceKind],
    limit: usize,
) -> Vec<(ResourceId, f32)> {
    let mut scored: Vec<(ResourceId, f32)> = vectors
        .iter()
        .filter(|(_, entry)| {
            kinds.contains(&entry.kind) && scope.admits(entry.workspace, &entry.teams)
        })
        .map(|(id, entry)| (*id, cairn_embed::similarity(question, &entry.vector)))
        .collect();
    // Equal scores in id order, so the order never depends on the map's.
    scored.sort_by(|(left_id, left), (right_id, right)| {
        right.total_cmp(left).then_with(|| left_id.cmp(right_id))
    });
    scored.truncate(limit);
    scored
}

/// What the model reads of a table: its name and path as words, its description and its
/// columns' names. Metadata only.
fn table_text(table: &Resource, columns: &[&Resource]) -> String {
    let mut text = cairn_search::split_identifier_words(&table.name);
    // Where it lives (database, schema), without the name again: the model reads 64 tokens.
    let place = table
        .path
        .strip_suffix(table.name.as_str())
        .unwrap_or(&table.path)
        .replace(['.', '/'], " ");
    let place = cairn_search::split_identifier_words(place.trim());
    if !place.is_empty() {
        text.push_str(" in ");
        text.push_str(&place);
    }
    if let Some(description) = table
        .effective_description()
        .map(str::trim)
        .filter(|description| !description.is_empty())
    {
        text.push_str(": ");
        text.push_str(description);
    }
    if !columns.is_empty() {
        text.push_str(". Columns: ");
        let names: Vec<String> = columns
            .iter()
            .take(MAX_COLUMNS)
            .map(|column| cairn_search::split_identifier_words(&column.name))
            .collect();
        text.push_str(&names.join(", "));
    }
    text
}

fn text_hash(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl Catalog {
    /// Whether searches rank by meaning too (a model is installed and loaded).
    pub fn semantic_enabled(&self) -> bool {
        self.inner.semantic.is_some()
    }

    /// Embeds the tables the feed changed, in the background: a sync's catalog is searchable
    /// lexically at once and by meaning as soon as its vectors are made.
    pub(crate) fn embed_in_background(&self) {
        let Some(semantic) = &self.inner.semantic else {
            return;
        };
        if !semantic.has_dirty() {
            return;
        }
        let catalog = self.clone();
        tokio::spawn(async move {
            if let Err(error) = catalog.embed_pending().await {
                tracing::warn!(%error, "embedding tables failed; they are retried on the next change");
            }
        });
    }

    /// At start: every table and view without a vector (a model installed into a catalog that
    /// already has tables, or a vector file lost) is queued, and embedded in the background.
    pub(crate) async fn embed_missing(&self) -> Result<()> {
        let Some(semantic) = &self.inner.semantic else {
            return Ok(());
        };
        let all = self.store().table_and_view_ids().await?;
        {
            let vectors = semantic
                .vectors
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut dirty = semantic
                .dirty
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            dirty.extend(all.into_iter().filter(|(_, id)| !vectors.contains_key(id)));
        }
        self.embed_in_background();
        Ok(())
    }

    /// Embeds every table waiting for a vector, and returns when none is left (including work
    /// another task had started). Benchmarks and tests wait on it; searches never do.
    pub async fn embed_pending(&self) -> Result<()> {
        let Some(semantic) = &self.inner.semantic else {
            return Ok(());
        };
        let _one_at_a_time = semantic.worker.lock().await;
        let mut embedded = 0usize;
        loop {
            let batch = semantic.take_dirty();
            if batch.is_empty() {
                break;
            }
            let mut by_workspace: HashMap<WorkspaceId, Vec<ResourceId>> = HashMap::new();
            for (workspace, id) in batch {
                by_workspace.entry(workspace).or_default().push(id);
            }
            for (workspace, ids) in by_workspace {
                embedded += self.embed_tables(semantic, workspace, &ids).await?;
            }
        }
        if embedded > 0 {
            let semantic_file = Arc::clone(&self.inner);
            tokio::task::spawn_blocking(move || {
                semantic_file
                    .semantic
                    .as_ref()
                    .map_or(Ok(()), |semantic| semantic.save())
            })
            .await
            .map_err(|error| CatalogError::Internal(error.to_string()))?
            .map_err(|error| CatalogError::Internal(format!("writing vectors: {error}")))?;
        }
        Ok(())
    }

    async fn embed_tables(
        &self,
        semantic: &Semantic,
        workspace: WorkspaceId,
        ids: &[ResourceId],
    ) -> Result<usize> {
        let tables: Vec<Resource> = self
            .store()
            .resources_by_ids(workspace, ids)
            .await?
            .into_iter()
            .filter(|resource| matches!(resource.kind, ResourceKind::Table | ResourceKind::View))
            .collect();
        let table_ids: Vec<ResourceId> = tables.iter().map(|table| table.id).collect();
        let children = self.store().children_of(workspace, &table_ids).await?;
        let mut columns: HashMap<ResourceId, Vec<&Resource>> = HashMap::new();
        for child in &children {
            if let (Some(parent), ResourceKind::Column) = (child.parent, child.kind) {
                columns.entry(parent).or_default().push(child);
            }
        }
        let mut work: Vec<(Resource, String, u64)> = Vec::new();
        {
            let mut vectors = semantic
                .vectors
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for table in tables {
                let text = table_text(&table, columns.get(&table.id).map_or(&[], Vec::as_slice));
                let hash = text_hash(&text);
                match vectors.get_mut(&table.id) {
                    // Same text: only who may see it can have changed.
                    Some(entry) if entry.text_hash == hash => {
                        entry.teams = table.teams.clone();
                        entry.workspace = table.workspace;
                    }
                    _ => work.push((table, text, hash)),
                }
            }
        }
        let embedder = Arc::clone(&semantic.embedder);
        let texts: Vec<String> = work.iter().map(|(_, text, _)| text.clone()).collect();
        let made = tokio::task::spawn_blocking(move || -> cairn_embed::Result<Vec<Vec<f32>>> {
            let mut order: Vec<usize> = (0..texts.len()).collect();
            // Similar lengths together: each pass pads to its longest text.
            order.sort_by_key(|&index| texts[index].len());
            let mut vectors = vec![Vec::new(); texts.len()];
            for chunk in order.chunks(EMBED_BATCH) {
                let batch: Vec<&str> = chunk.iter().map(|&index| texts[index].as_str()).collect();
                for (&index, vector) in chunk.iter().zip(embedder.embed(&batch)?) {
                    vectors[index] = vector;
                }
            }
            Ok(vectors)
        })
        .await
        .map_err(|error| CatalogError::Internal(error.to_string()))?
        .map_err(|error| CatalogError::Internal(error.to_string()))?;
        let count = made.len();
        let mut vectors = semantic
            .vectors
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for ((table, _, hash), vector) in work.into_iter().zip(made) {
            vectors.insert(
                table.id,
                Entry {
                    workspace: table.workspace,
                    kind: table.kind,
                    teams: table.teams,
                    text_hash: hash,
                    vector,
                },
            );
        }
        Ok(count)
    }

    /// The tables and views of `scope` nearest in meaning to `text`, best first; `None` without
    /// a model.
    pub(crate) async fn semantic_ids(
        &self,
        scope: &Scope,
        text: &str,
        kinds: &[ResourceKind],
        limit: usize,
    ) -> Result<Option<Vec<(ResourceId, f32)>>> {
        let Some(semantic) = &self.inner.semantic else {
            return Ok(None);
        };
        let embedder = Arc::clone(&semantic.embedder);
        let question = text.to_string();
        let vector = tokio::task::spawn_blocking(move || embedder.embed(&[question.as_str()]))
            .await
            .map_err(|error| CatalogError::Internal(error.to_string()))?
            .map_err(|error| CatalogError::Internal(error.to_string()))?;
        let Some(vector) = vector.first() else {
            return Ok(Some(Vec::new()));
        };
        Ok(Some(semantic.nearest(vector, scope, kinds, limit)))
    }

    /// The tables and views nearest in meaning to `text` that `principal` may see, by the model
    /// alone (benchmarks compare it with the fused ranking); `None` without a model.
    pub async fn nearest_tables(
        &self,
        principal: &cairn_domain::Principal,
        text: &str,
        limit: usize,
    ) -> Result<Option<Vec<ResourceId>>> {
        let found = self
            .semantic_ids(
                &principal.scope(),
                text,
                &[ResourceKind::Table, ResourceKind::View],
                limit,
            )
            .await?;
        Ok(found.map(|found| found.into_iter().map(|(id, _)| id).collect()))
    }

    /// How many tables and views have a vector (for benchmarks and status).
    pub fn vector_count(&self) -> usize {
        self.inner
            .semantic
            .as_ref()
            .map_or(0, |semantic| semantic.vector_count())
    }
}

/// Reciprocal-rank fusion of the lexical ranking and the semantic one: each list gives a hit
/// 1/(K + rank), so a hit both agree on comes first, and neither list's raw scores (not
/// comparable) decide. Ties by id, so the order depends on the metadata only.
pub(crate) fn reciprocal_rank_fusion(
    lexical: &[ResourceId],
    semantic: &[(ResourceId, f32)],
) -> Vec<ResourceId> {
    const K: f64 = 60.0;
    let mut scores: HashMap<ResourceId, f64> = HashMap::new();
    for (rank, id) in lexical.iter().enumerate() {
        *scores.entry(*id).or_default() += 1.0 / (K + rank as f64 + 1.0);
    }
    for (rank, (id, _)) in semantic.iter().enumerate() {
        *scores.entry(*id).or_default() += 1.0 / (K + rank as f64 + 1.0);
    }
    let mut fused: Vec<(ResourceId, f64)> = scores.into_iter().collect();
    fused.sort_by(|(left_id, left), (right_id, right)| {
        right.total_cmp(left).then_with(|| left_id.cmp(right_id))
    });
    fused.into_iter().map(|(id, _)| id).collect()
}

fn write_vectors(
    path: &Path,
    dimension: usize,
    vectors: &HashMap<ResourceId, Entry>,
) -> std::io::Result<()> {
    let temporary = path.with_extension("bin.tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
    out.write_all(FILE_MAGIC)?;
    out.write_all(&FILE_VERSION.to_le_bytes())?;
    out.write_all(&(dimension as u32).to_le_bytes())?;
    out.write_all(&(vectors.len() as u64).to_le_bytes())?;
    for (id, entry) in vectors {
        out.write_all(&id.0.to_le_bytes())?;
        out.write_all(&entry.workspace.0.to_le_bytes())?;
        out.write_all(&[kind_code(entry.kind)])?;
        out.write_all(&entry.text_hash.to_le_bytes())?;
        out.write_all(&(entry.teams.len() as u32).to_le_bytes())?;
        for team in &entry.teams {
            out.write_all(&team.0.to_le_bytes())?;
        }
        for value in &entry.vector {
            out.write_all(&value.to_le_bytes())?;
        }
    }
    out.into_inner()?.sync_all()?;
    std::fs::rename(&temporary, path)
}

fn read_vectors(path: &Path, dimension: usize) -> std::io::Result<HashMap<ResourceId, Entry>> {
    let mut input = std::io::BufReader::new(std::fs::File::open(path)?);
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if &magic != FILE_MAGIC || read_u32(&mut input)? != FILE_VERSION {
        return Err(invalid("not a vector file of this version"));
    }
    if read_u32(&mut input)? as usize != dimension {
        return Err(invalid("vectors of another model"));
    }
    let count = read_u64(&mut input)?;
    let mut vectors = HashMap::new();
    for _ in 0..count {
        let id = ResourceId(read_u64(&mut input)? as i64);
        let workspace = WorkspaceId(read_u64(&mut input)? as i64);
        let mut kind = [0u8; 1];
        input.read_exact(&mut kind)?;
        let kind = kind_from_code(kind[0]).ok_or_else(|| invalid("unknown kind"))?;
        let text_hash = read_u64(&mut input)?;
        let team_count = read_u32(&mut input)? as usize;
        let mut teams = Vec::with_capacity(team_count.min(1024));
        for _ in 0..team_count {
            teams.push(TeamId(read_u64(&mut input)? as i64));
        }
        let mut vector = Vec::with_capacity(dimension);
        for _ in 0..dimension {
            let mut bytes = [0u8; 4];
            input.read_exact(&mut bytes)?;
            vector.push(f32::from_le_bytes(bytes));
        }
        vectors.insert(
            id,
            Entry {
                workspace,
                kind,
                teams,
                text_hash,
                vector,
            },
        );
    }
    Ok(vectors)
}

fn read_u32(input: &mut impl Read) -> std::io::Result<u32> {
    let mut bytes = [0u8; 4];
    input.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(input: &mut impl Read) -> std::io::Result<u64> {
    let mut bytes = [0u8; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn kind_code(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::View => 2,
        _ => 1,
    }
}

fn kind_from_code(code: u8) -> Option<ResourceKind> {
    match code {
        1 => Some(ResourceKind::Table),
        2 => Some(ResourceKind::View),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(workspace: i64, kind: ResourceKind, teams: &[i64], vector: [f32; 2]) -> Entry {
        Entry {
            workspace: WorkspaceId(workspace),
            kind,
            teams: teams.iter().map(|team| TeamId(*team)).collect(),
            text_hash: 7,
            vector: vector.to_vec(),
        }
    }

    fn world() -> HashMap<ResourceId, Entry> {
        HashMap::from([
            // The best match of all, in another workspace.
            (
                ResourceId(1),
                entry(2, ResourceKind::Table, &[1], [1.0, 0.0]),
            ),
            // In the workspace, of team 1 only.
            (
                ResourceId(2),
                entry(1, ResourceKind::Table, &[1], [0.9, 0.1]),
            ),
            // In the workspace, of team 2.
            (
                ResourceId(3),
                entry(1, ResourceKind::View, &[2], [0.5, 0.5]),
            ),
            // Of no team: only workspace-wide readers see it.
            (
                ResourceId(4),
                entry(1, ResourceKind::Table, &[], [0.1, 0.9]),
            ),
        ])
    }

    #[test]
    fn only_the_scope_is_ranked() {
        let vectors = world();
        let kinds = [ResourceKind::Table, ResourceKind::View];
        let ids = |scope: Scope| -> Vec<i64> {
            nearest(&vectors, &[1.0, 0.0], &scope, &kinds, 10)
                .into_iter()
                .map(|(id, _)| id.0)
                .collect()
        };
        assert_eq!(ids(Scope::Workspace(WorkspaceId(1))), vec![2, 3, 4]);
        assert_eq!(ids(Scope::Teams(WorkspaceId(1), vec![TeamId(2)])), vec![3]);
        assert_eq!(ids(Scope::Teams(WorkspaceId(1), vec![])), Vec::<i64>::new());
        assert_eq!(ids(Scope::Workspace(WorkspaceId(3))), Vec::<i64>::new());
        let views = nearest(
            &vectors,
            &[1.0, 0.0],
            &Scope::Workspace(WorkspaceId(1)),
            &[ResourceKind::View],
            10,
        );
        assert_eq!(views.len(), 1);
    }

    #[test]
    fn the_vector_file_round_trips_and_refuses_another_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vectors.bin");
        write_vectors(&path, 2, &world()).unwrap();
        let read = read_vectors(&path, 2).unwrap();
        assert_eq!(read.len(), 4);
        let two = &read[&ResourceId(2)];
        assert_eq!(two.workspace, WorkspaceId(1));
        assert_eq!(two.teams, vec![TeamId(1)]);
        assert_eq!(two.vector, vec![0.9, 0.1]);
        assert_eq!(read[&ResourceId(3)].kind, ResourceKind::View);
        assert!(read_vectors(&path, 384).is_err());
        std::fs::write(&path, b"CAIRNVEC").unwrap();
        assert!(read_vectors(&path, 2).is_err());
    }

    #[test]
    fn fusion_puts_agreement_first_and_keeps_both_lists() {
        let lexical = [ResourceId(10), ResourceId(20), ResourceId(30)];
        let semantic = [(ResourceId(20), 0.9), (ResourceId(40), 0.8)];
        let fused = reciprocal_rank_fusion(&lexical, &semantic);
        assert_eq!(fused[0], ResourceId(20));
        assert_eq!(fused.len(), 4);
        assert!(fused.contains(&ResourceId(40)) && fused.contains(&ResourceId(30)));
        // Without a semantic list, the lexical order stands.
        assert_eq!(reciprocal_rank_fusion(&lexical, &[]), lexical.to_vec());
    }
}
