//! The full-text index over catalog metadata, one per node, derived from the store's change feed.
//!
//! The index is never the authority on access: every query is filtered by the caller's
//! [`Scope`] here, and the catalog re-checks every hit against the store before returning it.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use cairn_domain::{ResourceId, ResourceKind, Scope, TeamId, WorkspaceId};
use tantivy::query::{
    AllQuery, Bm25Weight, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query,
    TermQuery,
};

mod collect;
mod vocabulary;

/// A scope holding fewer than one in this many of the index's documents drives a search
/// (see `SearchIndex::narrow_scope`).
const NARROW_SCOPE: u64 = 4;
/// How much a synonym's hit counts against the word's own.
const SYNONYM_WEIGHT: f32 = 0.6;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

const ANALYZER: &str = "cairn_en";

/// Words of a question that say nothing about what is asked for.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "any", "are", "as", "at", "be", "by", "can", "do", "does", "each", "for",
    "from", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or",
    "our", "show", "tell", "that", "the", "there", "this", "to", "we", "what", "where", "which",
    "who", "whom", "why", "with", "you", "your",
];
/// The writer's indexing memory, shared by its threads (tantivy needs at least 15 MB each). It
/// is held only while documents are staged: bigger in-memory segments mean fewer, larger
/// segments on disk and less merging when a sync or a rebuild stages a million resources.
const WRITER_MEMORY: usize = 128 * 1024 * 1024;
/// Ids tracked one bit each above the index's highest id at open (32 MB of bits at most);
/// beyond it every upsert deletes first.
const MAX_TRACKED_IDS: u64 = 1 << 28;

/// How deep a search may page: offset plus limit.
pub const MAX_RESULT_WINDOW: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(String),
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// What the index holds of a resource: metadata only.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedResource {
    pub id: ResourceId,
    pub workspace: WorkspaceId,
    pub kind: ResourceKind,
    pub name: String,
    pub path: String,
    pub description: String,
    pub tags: Vec<String>,
    pub owners: Vec<String>,
    pub teams: Vec<TeamId>,
    /// For a column: the table or view it belongs to, so that a search for tables counts the
    /// words of their columns.
    pub table: Option<ResourceId>,
}

/// One hit of [`SearchIndex::search_hits`]: a resource, its lexical score and, for a column,
/// its table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: ResourceId,
    pub score: f32,
    pub table: Option<ResourceId>,
}

/// A search: words to look for and exact filters.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub kind: Option<ResourceKind>,
    pub tag: Option<String>,
    pub owner: Option<String>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    workspace: Field,
    kind: Field,
    name: Field,
    path: Field,
    description: Field,
    keywords: Field,
    /// The whole name, lower-cased, for exact-name matches.
    name_exact: Field,
    tag: Field,
    owner: Field,
    team: Field,
    /// A column's table id; 0 for everything else.
    table: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            // Frequencies for ranking; no positions: searches are term queries, never phrases,
            // and positions would cost a third of the indexing time and space.
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: builder.add_u64_field("id", INDEXED | STORED | FAST),
        // Fast as well: a search filters its hits by workspace, team and kind from columns
        // (see `collect`), leaving the words a union tantivy can prune.
        workspace: builder.add_u64_field("workspace", INDEXED | FAST),
        kind: builder.add_text_field("kind", STRING | FAST),
        name: builder.add_text_field("name", text.clone()),
        path: builder.add_text_field("path", text.clone()),
        description: builder.add_text_field("description", text.clone()),
        keywords: builder.add_text_field("keywords", text),
        // With frequencies, like the words: a union of term queries that all read them is one
        // tantivy scores with block-max WAND.
        name_exact: builder.add_text_field(
            "name_exact",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        ),
        tag: builder.add_text_field("tag", STRING),
        owner: builder.add_text_field("owner", STRING),
        team: builder.add_u64_field("team", INDEXED | FAST),
        table: builder.add_u64_field("table", FAST),
    };
    (builder.build(), fields)
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Splits identifiers into words: `customerOrders` and `customer_orders` both give
/// `customer orders`, so people find names by the words in them.
pub fn split_identifier_words(text: &str) -> String {
    let mut words = String::with_capacity(text.len() + 8);
    let mut previous: Option<char> = None;
    for character in text.chars() {
        if let Some(before) = previous {
            let camel_break = character.is_uppercase() && before.is_lowercase();
            let digit_break = character.is_ascii_digit() != before.is_ascii_digit()
                && character.is_alphanumeric()
                && before.is_alphanumeric();
            if camel_break || digit_break {
                words.push(' ');
            }
        }
        words.push(if character == '_' { ' ' } else { character });
        previous = Some(character);
    }
    words
}

fn as_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The file whose lock marks an index open for writing: tantivy's writer lock, which a running
/// `cairn serve` holds on its data directory's index for as long as it runs.
const WRITER_LOCK_FILE: &str = ".tantivy-writer.lock";

/// An index directory held for maintenance: while it lives, no process can open the index for
/// writing (a `cairn serve` starting on it fails to), and none had it open when it was taken.
#[derive(Debug)]
pub struct DirectoryLock {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl DirectoryLock {
    /// Takes the index directory `directory` (created when absent); `None` when a process has
    /// the index open for writing, e.g. a running server.
    pub fn take(directory: &Path) -> Result<Option<DirectoryLock>> {
        let failed = |error: std::io::Error| {
            SearchError::Directory(format!("{}: {error}", directory.display()))
        };
        std::fs::create_dir_all(directory).map_err(failed)?;
        let path = directory.join(WRITER_LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DirectoryLock { file, path })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(error)) => Err(failed(error)),
        }
    }

    /// Empties the index directory: the next server to open it rebuilds the index from the
    /// store's change feed.
    pub fn clear(&self) -> Result<()> {
        let directory = self.path.parent().unwrap_or_else(|| Path::new("."));
        let failed = |error: std::io::Error| {
            SearchError::Directory(format!("{}: {error}", directory.display()))
        };
        for entry in std::fs::read_dir(directory).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            if entry.file_name() == WRITER_LOCK_FILE {
                continue;
            }
            let path = entry.path();
            if entry.file_type().map_err(failed)?.is_dir() {
                std::fs::remove_dir_all(&path).map_err(failed)?;
            } else {
                std::fs::remove_file(&path).map_err(failed)?;
            }
        }
        Ok(())
    }
}

impl Drop for DirectoryLock {
    fn drop(&mut self) {
        // As tantivy does when its writer closes: the lock file goes with the lock.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Which ids may have a document in the index, so that a resource the index cannot hold yet
/// is added without first deleting it (each delete is looked up in every segment at the next
/// commit, which, for a rebuild of a million resources, is most of the work): every id up to
/// `floor`, the highest in the index when it opened, and those above it added since.
#[derive(Debug, Default)]
struct KnownIds {
    floor: u64,
    /// Bit `id - floor - 1` is set once `id` is added.
    added: Vec<u64>,
    /// An id beyond what is tracked was added: every id may be held.
    untracked: bool,
}

impl KnownIds {
    fn starting_at(floor: u64) -> KnownIds {
        KnownIds {
            floor,
            ..KnownIds::default()
        }
    }

    fn may_hold(&self, id: u64) -> bool {
        if self.untracked || id <= self.floor {
            return true;
        }
        let bit = id - self.floor - 1;
        usize::try_from(bit / 64)
            .ok()
            .and_then(|word| self.added.get(word))
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    fn add(&mut self, id: u64) {
        if self.untracked || id <= self.floor {
            return;
        }
        let bit = id - self.floor - 1;
        let Some(word) = usize::try_from(bit / 64)
            .ok()
            .filter(|_| bit < MAX_TRACKED_IDS)
        else {
            self.untracked = true;
            self.added = Vec::new();
            return;
        };
        if word >= self.added.len() {
            self.added.resize(word + 1, 0);
        }
        self.added[word] |= 1 << (bit % 64);
    }
}

/// One node's index.
pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Guarded by the writer's lock in practice: only staging reads and changes it.
    known: Mutex<KnownIds>,
    fields: Fields,
    /// The last change-feed sequence number applied, as committed in the index's payload.
    applied: AtomicI64,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `directory`, creating it when absent. An index written with another
    /// schema is discarded and rebuilt from the change feed.
    pub fn open(directory: &Path) -> Result<SearchIndex> {
        std::fs::create_dir_all(directory)
            .map_err(|error| SearchError::Directory(format!("{}: {error}", directory.display())))?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(directory)
            .map_err(|error| SearchError::Directory(error.to_string()))?;
        let index = match Index::open_or_create(mmap, schema.clone()) {
            Ok(index) => index,
            Err(tantivy::TantivyError::SchemaError(_)) => {
                tracing::warn!(directory = %directory.display(), "search index schema changed, rebuilding");
                std::fs::remove_dir_all(directory)
                    .and_then(|()| std::fs::create_dir_all(directory))
                    .map_err(|error| SearchError::Directory(error.to_string()))?;
                let mmap = tantivy::directory::MmapDirectory::open(directory)
                    .map_err(|error| SearchError::Directory(error.to_string()))?;
                Index::create(mmap, schema, tantivy::IndexSettings::default())?
            }
            Err(error) => return Err(error.into()),
        };
        Self::from_index(index, fields)
    }

    /// An index held in memory, for tests and benchmarks.
    pub fn in_memory() -> Result<SearchIndex> {
        let (schema, fields) = schema();
        Self::from_index(Index::create_in_ram(schema), fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<SearchIndex> {
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = index.writer(WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let applied = index
            .load_metas()?
            .payload
            .and_then(|payload| payload.parse().ok())
            .unwrap_or(0);
        // The highest id any segment holds, deleted documents included.
        let mut floor = 0;
        for segment in reader.searcher().segment_readers() {
            if segment.max_doc() > 0 {
                floor = floor.max(segment.fast_fields().u64("id")?.max_value());
            }
        }
        Ok(SearchIndex {
            reader,
            writer: Mutex::new(writer),
            known: Mutex::new(KnownIds::starting_at(floor)),
            fields,
            applied: AtomicI64::new(applied),
        })
    }

    /// How many documents the index holds, as of its last commit.
    pub fn document_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The last change-feed sequence number this index has applied.
    pub fn applied_seq(&self) -> Result<i64> {
        Ok(self.applied.load(Ordering::SeqCst))
    }

    /// Applies a batch of the change feed in one commit: each id in `removed` or `upserted` is
    /// first dropped, then `upserted` resources are written. Records `seq` as applied.
    pub fn apply(
        &self,
        upserted: &[IndexedResource],
        removed: &[ResourceId],
        seq: i64,
    ) -> Result<()> {
        self.stage(upserted, removed)?;
        self.commit(seq)
    }

    /// Writes part of a batch without committing it: searches see none of it until
    /// [`SearchIndex::commit`]. The writer flushes to disk as its memory budget fills, so a
    /// batch of any size stays within that budget.
    pub fn stage(&self, upserted: &[IndexedResource], removed: &[ResourceId]) -> Result<()> {
        let fields = self.fields;
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for id in removed {
            if known.may_hold(as_u64(id.0)) {
                writer.delete_term(Term::from_field_u64(fields.id, as_u64(id.0)));
            }
        }
        // Each upsert deletes what the index may hold of it, then adds it: a delete reaches
        // only documents added before it.
        for resource in upserted {
            let id = as_u64(resource.id.0);
            if known.may_hold(id) {
                writer.delete_term(Term::from_field_u64(fields.id, id));
            }
            writer.add_document(self.document(resource))?;
            known.add(id);
        }
        Ok(())
    }

    /// Makes everything staged visible in one commit and records `seq` as applied.
    pub fn commit(&self, seq: i64) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&seq.to_string());
        commit.commit()?;
        self.applied.store(seq, Ordering::SeqCst);
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Drops everything staged since the last commit.
    pub fn rollback(&self) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writer.rollback()?;
        Ok(())
    }

    fn document(&self, resource: &IndexedResource) -> TantivyDocument {
        let fields = self.fields;
        let mut document = doc!(
            fields.id => as_u64(resource.id.0),
            fields.workspace => as_u64(resource.workspace.0),
            fields.kind => resource.kind.as_str(),
            fields.name => format!("{} {}", resource.name, split_identifier_words(&resource.name)),
            fields.path => split_identifier_words(&resource.path.replace('.', " ")),
            fields.description => resource.description.as_str(),
            fields.name_exact => resource.name.to_lowercase(),
            fields.table => resource.table.map_or(0, |table| as_u64(table.0)),
        );
        for tag in &resource.tags {
            document.add_text(fields.tag, tag);
            document.add_text(fields.keywords, split_identifier_words(tag));
        }
        for owner in &resource.owners {
            document.add_text(fields.owner, owner);
            document.add_text(fields.keywords, owner);
        }
        for team in &resource.teams {
            document.add_u64(fields.team, as_u64(team.0));
        }
        document
    }

    /// Drops every document, e.g. when the store behind this index was replaced.
    pub fn clear(&self) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writer.delete_all_documents()?;
        let mut commit = writer.prepare_commit()?;
        commit.set_payload("0");
        commit.commit()?;
        self.applied.store(0, Ordering::SeqCst);
        *self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = KnownIds::default();
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Ids of resources matching `query` within `scope`, best first. Hits past
    /// [`MAX_RESULT_WINDOW`] (offset plus limit) are never collected: the collector allocates
    /// room for all of them up front.
    pub fn search(
        &self,
        scope: &Scope,
        query: &SearchQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<ResourceId>> {
        let limit = limit.min(MAX_RESULT_WINDOW);
        if offset.saturating_add(limit) > MAX_RESULT_WINDOW {
            return Ok(Vec::new());
        }
        let hits = self.search_hits(scope, query, false, offset.saturating_add(limit))?;
        Ok(hits.into_iter().skip(offset).map(|hit| hit.id).collect())
    }

    /// The best `limit` hits for `query` within `scope`, with their lexical scores, best
    /// first. With `with_columns`, a search for tables or views also returns the columns the
    /// words match, each with its table, so that the caller can count a table's column words
    /// towards it (a column belongs to its table's document in spirit; kept apart here, a
    /// table with fifty columns is not diluted by them).
    pub fn search_hits(
        &self,
        scope: &Scope,
        query: &SearchQuery,
        with_columns: bool,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let limit = limit.min(MAX_RESULT_WINDOW);
        let Some(mut filter) = scope_filter(scope) else {
            return Ok(Vec::new());
        };
        filter.kinds = match query.kind {
            Some(kind @ (ResourceKind::Table | ResourceKind::View)) if with_columns => {
                vec![kind, ResourceKind::Column]
            }
            Some(kind) => vec![kind],
            None => Vec::new(),
        };
        let searcher = self.reader.searcher();
        let words = self.words(&query.text);
        // The words, and names equal to them, as one union of term queries; tags and owners
        // asked for as required terms beside it.
        let matching: Box<dyn Query> = if words.is_empty() {
            Box::new(AllQuery)
        } else {
            let mut any = self.word_query(&searcher, &words)?;
            any.extend(self.exact_name_boosts(&query.text));
            filter.boosts = self.kind_boosts(&searcher)?;
            Box::new(BooleanQuery::new(any))
        };
        let mut required = self.narrow_scope(&searcher, scope)?;
        for (field, value) in [
            (self.fields.tag, &query.tag),
            (self.fields.owner, &query.owner),
        ] {
            if let Some(value) = value {
                // Tags and owners only filter: the words alone score.
                let term = TermQuery::new(
                    Term::from_field_text(field, value),
                    IndexRecordOption::Basic,
                );
                required.push((
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(Box::new(term), 0.0)),
                ));
            }
        }
        let query: Box<dyn Query> = if required.is_empty() {
            matching
        } else {
            required.push((Occur::Must, matching));
            Box::new(BooleanQuery::new(required))
        };
        let collector = collect::ScopedTop {
            filter,
            limit: limit.max(1),
        };
        let hits = searcher.search(query.as_ref(), &collector)?;
        let mut scored = hits_with_ids(&searcher, hits)?;
        // Equal scores in id order: where a document sits in the index depends on when the
        // feed was applied, and an order that depends on timing (or on anything but the
        // metadata) must not decide what is retrieved.
        scored.sort_by(|left, right| {
            right
                .score
                .total_cmp(&left.score)
                .then_with(|| left.id.cmp(&right.id))
        });
        Ok(scored)
    }

    /// The scope as required clauses that do not score, when it holds few of the index's
    /// documents (a member of a few teams among many): the search then walks the scope's
    /// documents and scores only those, where pruning the words' union and filtering what
    /// it finds would score many documents the caller may not see before finding the best
    /// they may. Nothing for a broad scope: the collector filters by it (see `collect`).
    fn narrow_scope(
        &self,
        searcher: &tantivy::Searcher,
        scope: &Scope,
    ) -> Result<Vec<(Occur, Box<dyn Query>)>> {
        let workspace = Term::from_field_u64(self.fields.workspace, as_u64(scope.workspace().0));
        let mut terms = vec![workspace.clone()];
        let mut held = searcher.doc_freq(&workspace)?;
        if let Scope::Teams(_, teams) = scope {
            let teams: Vec<Term> = teams
                .iter()
                .map(|team| Term::from_field_u64(self.fields.team, as_u64(team.0)))
                .collect();
            let mut in_teams = 0;
            for team in &teams {
                in_teams += searcher.doc_freq(team)?;
            }
            if in_teams < held {
                held = in_teams;
                terms = teams;
            }
        }
        if held.saturating_mul(NARROW_SCOPE) >= searcher.num_docs() {
            return Ok(Vec::new());
        }
        let any: Vec<(Occur, Box<dyn Query>)> = terms
            .into_iter()
            .map(|term| {
                let query: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                (Occur::Should, query)
            })
            .collect();
        Ok(vec![(
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(any)), 0.0)),
        )])
    }

    /// A resource named exactly like a word of the query, or like the whole query, comes
    /// first. A name that is only a function word ("which") is no reason to come first.
    fn exact_name_boosts(&self, text: &str) -> Vec<(Occur, Box<dyn Query>)> {
        let lowered = text.trim().to_lowercase();
        let mut exact_names: Vec<String> = lowered
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
            .map(str::to_string)
            .collect();
        exact_names.extend(
            exact_names
                .clone()
                .into_iter()
                .filter_map(|word| word.strip_suffix('s').map(str::to_string)),
        );
        exact_names.push(lowered);
        exact_names.retain(|name| !name.is_empty() && !STOPWORDS.contains(&name.as_str()));
        exact_names.sort();
        exact_names.dedup();
        exact_names
            .into_iter()
            .map(|name| {
                let term = TermQuery::new(
                    Term::from_field_text(self.fields.name_exact, &name),
                    IndexRecordOption::WithFreqs,
                );
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(term), 4.0)) as Box<dyn Query>,
                )
            })
            .collect()
    }

    /// What a hit adds for its kind: tables, views and glossary terms before the columns
    /// and schemas that share their words. Each is its kind's BM25 weight, boosted, as a
    /// term query on the kind would score it.
    fn kind_boosts(&self, searcher: &tantivy::Searcher) -> Result<Vec<(ResourceKind, f32)>> {
        let mut boosts = Vec::new();
        for (kind, boost) in [
            (ResourceKind::Table, 1.5),
            (ResourceKind::View, 1.2),
            (ResourceKind::Term, 1.2),
        ] {
            let term = Term::from_field_text(self.fields.kind, kind.as_str());
            if searcher.doc_freq(&term)? == 0 {
                continue;
            }
            let weight = Bm25Weight::for_terms(searcher, &[term])?.boost_by(boost);
            // A kind is one token: a field norm of one, one occurrence.
            boosts.push((kind, weight.score(1, 1)));
        }
        Ok(boosts)
    }

    /// Any of the query's words in any text field: exact words first, then their synonyms
    /// from the built-in vocabulary, then, for a longer word the index does not hold at all,
    /// the indexed words within one or two edits of it (a typo), each weighted below the last.
    fn word_query(
        &self,
        searcher: &tantivy::Searcher,
        words: &[String],
    ) -> Result<Vec<(Occur, Box<dyn Query>)>> {
        let fields = self.fields;
        let weighted = [
            (fields.name, 3.0),
            (fields.path, 1.0),
            (fields.description, 1.0),
            (fields.keywords, 1.5),
        ];
        let mut any_word: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let add_terms = |word: &str, weight: f32, any_word: &mut Vec<(Occur, Box<dyn Query>)>| {
            for (field, boost) in weighted {
                let term = Term::from_field_text(field, word);
                let term_query = TermQuery::new(term, IndexRecordOption::WithFreqs);
                any_word.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(term_query), boost * weight)),
                ));
            }
        };
        for word in words {
            add_terms(word, 1.0, &mut any_word);
            for synonym in vocabulary::synonyms(word) {
                if !words.contains(synonym) {
                    add_terms(synonym, SYNONYM_WEIGHT, &mut any_word);
                }
            }
            let letters = word.chars().count();
            if letters < 5 || word.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let mut known = 0;
            for (field, _) in weighted {
                known += searcher.doc_freq(&Term::from_field_text(field, word))?;
            }
            if known > 0 {
                continue;
            }
            let distance = if letters >= 9 { 2 } else { 1 };
            for (field, boost) in [
                (fields.name, 2.0),
                (fields.keywords, 1.0),
                (fields.description, 0.5),
            ] {
                let fuzzy = FuzzyTermQuery::new(Term::from_field_text(field, word), distance, true);
                any_word.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(fuzzy), boost)),
                ));
            }
        }
        Ok(any_word)
    }

    /// The query's words, analysed exactly as indexed text is, without the function words of
    /// a question ("which", "of", "the"), which match nearly everything and rank nothing.
    fn words(&self, text: &str) -> Vec<String> {
        let mut analyzer = analyzer();
        let split: String = split_identifier_words(text)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !STOPWORDS.contains(&word.to_lowercase().as_str()))
            .collect::<Vec<_>>()
            .join(" ");
        let mut stream = analyzer.token_stream(&split);
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            if !words.contains(&token.text) {
                words.push(token.text.clone());
            }
        }
        words
    }
}

/// The workspace, and for a member their teams; `None` when a member has no team and so may
/// see nothing.
fn scope_filter(scope: &Scope) -> Option<collect::Filter> {
    let teams = match scope {
        Scope::Workspace(_) => None,
        Scope::Teams(_, teams) if teams.is_empty() => return None,
        Scope::Teams(_, teams) => Some(teams.iter().map(|team| as_u64(team.0)).collect()),
    };
    Some(collect::Filter {
        workspace: as_u64(scope.workspace().0),
        teams,
        kinds: Vec::new(),
        boosts: Vec::new(),
    })
}

/// The hits' ids (and their tables') from fast columns, not the stored document: no block of
/// stored fields is read and decompressed per hit.
fn hits_with_ids(
    searcher: &tantivy::Searcher,
    hits: Vec<(f32, tantivy::DocAddress)>,
) -> Result<Vec<Hit>> {
    type Columns = (
        tantivy::columnar::Column<u64>,
        Option<tantivy::columnar::Column<u64>>,
    );
    let mut columns: Vec<Option<Columns>> = vec![None; searcher.segment_readers().len()];
    let mut scored = Vec::with_capacity(hits.len());
    for (score, address) in hits {
        let slot = &mut columns[address.segment_ord as usize];
        if slot.is_none() {
            let fast = searcher.segment_reader(address.segment_ord).fast_fields();
            *slot = Some((fast.u64("id")?, fast.u64("table").ok()));
        }
        let Some((ids, tables)) = slot.as_ref() else {
            continue;
        };
        if let Some(id) = ids.first(address.doc_id) {
            let table = tables
                .as_ref()
                .and_then(|column| column.first(address.doc_id))
                .filter(|table| *table > 0)
                .map(|table| ResourceId(i64::try_from(table).unwrap_or(0)));
            scored.push(Hit {
                id: ResourceId(i64::try_from(id).unwrap_or(0)),
                score,
                table,
            });
        }
    }
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resource(id: i64, workspace: i64, name: &str, teams: &[i64]) -> IndexedResource {
        IndexedResource {
            id: ResourceId(id),
            workspace: WorkspaceId(workspace),
            kind: ResourceKind::Table,
            name: name.to_string(),
            path: format!("shop.public.{name}"),
            description: String::new(),
            tags: vec!["gold".to_string()],
            owners: vec![],
            teams: teams.iter().copied().map(TeamId).collect(),
            table: None,
        }
    }

    #[test]
    fn an_index_open_for_writing_cannot_be_taken_and_a_taken_one_cannot_be_opened() {
        let dir = tempfile::tempdir().unwrap();
        let directory = dir.path().join("index");
        let index = SearchIndex::open(&directory).unwrap();
        index
            .apply(&[resource(1, 1, "orders", &[1])], &[], 1)
            .unwrap();
        assert!(DirectoryLock::take(&directory).unwrap().is_none());
        drop(index);
        let lock = DirectoryLock::take(&directory)
            .unwrap()
            .expect("free once closed");
        assert!(
            SearchIndex::open(&directory).is_err(),
            "held for maintenance"
        );
        lock.clear().unwrap();
        drop(lock);
        let again = SearchIndex::open(&directory).unwrap();
        assert_eq!(
            again.applied_seq().unwrap(),
            0,
            "cleared: rebuilt from the feed"
        );
    }

    #[test]
    fn a_reopened_index_replaces_what_it_held_and_a_fresh_one_what_it_added() {
        let dir = tempfile::tempdir().unwrap();
        let directory = dir.path().join("index");
        let scope = Scope::Workspace(WorkspaceId(1));
        let find = |index: &SearchIndex, text: &str| {
            let query = SearchQuery {
                text: text.into(),
                ..SearchQuery::default()
            };
            index.search(&scope, &query, 0, 10).unwrap()
        };
        let index = SearchIndex::open(&directory).unwrap();
        // Twice in one batch and again in the next: the last one stays.
        index
            .apply(
                &[
                    resource(1, 1, "orders", &[1]),
                    resource(1, 1, "invoices", &[1]),
                    resource(2, 1, "payments", &[1]),
                ],
                &[],
                1,
            )
            .unwrap();
        assert!(find(&index, "orders").is_empty());
        index
            .apply(&[resource(2, 1, "refunds", &[1])], &[], 2)
            .unwrap();
        assert!(find(&index, "payments").is_empty());
        assert_eq!(find(&index, "invoices"), vec![ResourceId(1)]);
        drop(index);
        let index = SearchIndex::open(&directory).unwrap();
        index
            .apply(&[resource(1, 1, "ledgers", &[1])], &[ResourceId(2)], 3)
            .unwrap();
        assert!(find(&index, "invoices").is_empty());
        assert!(find(&index, "refunds").is_empty());
        assert_eq!(find(&index, "ledgers"), vec![ResourceId(1)]);
        // Ids far apart are tracked or, past what is tracked, deleted first anyway.
        let far = i64::try_from(MAX_TRACKED_IDS).unwrap() * 2;
        for round in ["alpha", "beta"] {
            index
                .apply(
                    &[resource(far, 1, round, &[1]), resource(5, 1, round, &[1])],
                    &[],
                    4,
                )
                .unwrap();
        }
        assert!(find(&index, "alpha").is_empty());
        assert_eq!(find(&index, "beta").len(), 2);
    }

    #[test]
    fn identifiers_split_into_words() {
        assert_eq!(split_identifier_words("customerOrders"), "customer Orders");
        assert_eq!(split_identifier_words("customer_orders"), "customer orders");
        assert_eq!(split_identifier_words("q3revenue"), "q 3 revenue");
    }

    #[test]
    fn finds_stemmed_words_within_scope_only() {
        let index = SearchIndex::in_memory().unwrap();
        index
            .apply(
                &[
                    resource(1, 1, "customer_refunds", &[10]),
                    resource(2, 1, "refund_reasons", &[20]),
                    resource(3, 2, "refunds", &[10]),
                ],
                &[],
                3,
            )
            .unwrap();
        assert_eq!(index.applied_seq().unwrap(), 3);
        let query = SearchQuery {
            text: "refund".into(),
            ..SearchQuery::default()
        };
        let admin = index
            .search(&Scope::Workspace(WorkspaceId(1)), &query, 0, 10)
            .unwrap();
        assert_eq!(admin.len(), 2);
        let team = index
            .search(
                &Scope::Teams(WorkspaceId(1), vec![TeamId(10)]),
                &query,
                0,
                10,
            )
            .unwrap();
        assert_eq!(team, vec![ResourceId(1)]);
        let nobody = index
            .search(&Scope::Teams(WorkspaceId(1), vec![]), &query, 0, 10)
            .unwrap();
        assert!(nobody.is_empty());
    }

    #[test]
    fn exact_names_and_tables_rank_first() {
        let index = SearchIndex::in_memory().unwrap();
        let mut column = resource(1, 1, "refunded_on", &[1]);
        column.kind = ResourceKind::Column;
        column.description = "when the refund was made".into();
        let table = resource(2, 1, "refunds", &[1]);
        let other = resource(3, 1, "refund_reasons", &[1]);
        index.apply(&[column, table, other], &[], 1).unwrap();
        let query = SearchQuery {
            text: "which table holds refunds?".into(),
            ..SearchQuery::default()
        };
        let found = index
            .search(&Scope::Workspace(WorkspaceId(1)), &query, 0, 10)
            .unwrap();
        assert_eq!(found[0], ResourceId(2), "{found:?}");
    }

    #[test]
    fn removed_and_replaced_documents_leave_the_index() {
        let index = SearchIndex::in_memory().unwrap();
        index
            .apply(&[resource(1, 1, "orders", &[1])], &[], 1)
            .unwrap();
        index
            .apply(&[resource(1, 1, "invoices", &[1])], &[], 2)
            .unwrap();
        let scope = Scope::Workspace(WorkspaceId(1));
        let orders = SearchQuery {
            text: "orders".into(),
            ..SearchQuery::default()
        };
        assert!(index.search(&scope, &orders, 0, 10).unwrap().is_empty());
        let invoices = SearchQuery {
            text: "invoice".into(),
            ..SearchQuery::default()
        };
        assert_eq!(
            index.search(&scope, &invoices, 0, 10).unwrap(),
            vec![ResourceId(1)]
        );
        index.apply(&[], &[ResourceId(1)], 3).unwrap();
        assert!(index.search(&scope, &invoices, 0, 10).unwrap().is_empty());
    }

    #[test]
    fn a_segment_without_teams_or_tags_is_searched_like_any_other() {
        let index = SearchIndex::in_memory().unwrap();
        // Each commit its own segment: one whose resources no team holds and none has a
        // tag, then one with both.
        let mut loose = resource(1, 1, "orders_archive", &[]);
        loose.tags.clear();
        index.apply(&[loose], &[], 1).unwrap();
        index
            .apply(&[resource(2, 1, "orders", &[7])], &[], 2)
            .unwrap();
        let query = SearchQuery {
            text: "orders".into(),
            ..SearchQuery::default()
        };
        let member = Scope::Teams(WorkspaceId(1), vec![TeamId(7)]);
        assert_eq!(
            index.search(&member, &query, 0, 10).unwrap(),
            vec![ResourceId(2)]
        );
        let admin = Scope::Workspace(WorkspaceId(1));
        assert_eq!(index.search(&admin, &query, 0, 10).unwrap().len(), 2);
        let gold = SearchQuery {
            tag: Some("gold".into()),
            ..query
        };
        assert_eq!(
            index.search(&admin, &gold, 0, 10).unwrap(),
            vec![ResourceId(2)]
        );
    }

    /// The same search as one exhaustive boolean query: scope, kinds, tags and owners as
    /// required clauses that do not score, the words required, exact names and kinds as
    /// optional boosts. Every document it matches is scored; nothing is pruned.
    fn exhaustive(
        index: &SearchIndex,
        scope: &Scope,
        query: &SearchQuery,
        kinds: &[ResourceKind],
    ) -> Vec<(ResourceId, f32)> {
        let fields = index.fields;
        let filter = |clause: Box<dyn Query>| -> (Occur, Box<dyn Query>) {
            (Occur::Must, Box::new(ConstScoreQuery::new(clause, 0.0)))
        };
        let any = |terms: Vec<Term>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                terms
                    .into_iter()
                    .map(|term| {
                        let query: Box<dyn Query> =
                            Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                        (Occur::Should, query)
                    })
                    .collect(),
            ))
        };
        let mut clauses = vec![filter(any(vec![Term::from_field_u64(
            fields.workspace,
            as_u64(scope.workspace().0),
        )]))];
        if let Scope::Teams(_, teams) = scope {
            let teams = teams
                .iter()
                .map(|team| Term::from_field_u64(fields.team, as_u64(team.0)))
                .collect();
            clauses.push(filter(any(teams)));
        }
        if !kinds.is_empty() {
            let kinds = kinds
                .iter()
                .map(|kind| Term::from_field_text(fields.kind, kind.as_str()))
                .collect();
            clauses.push(filter(any(kinds)));
        }
        for (field, value) in [(fields.tag, &query.tag), (fields.owner, &query.owner)] {
            if let Some(value) = value {
                clauses.push(filter(any(vec![Term::from_field_text(field, value)])));
            }
        }
        let searcher = index.reader.searcher();
        let words = index.words(&query.text);
        let words_query = index.word_query(&searcher, &words).unwrap();
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(words_query))));
        clauses.extend(index.exact_name_boosts(&query.text));
        for (kind, boost) in [
            (ResourceKind::Table, 1.5),
            (ResourceKind::View, 1.2),
            (ResourceKind::Term, 1.2),
        ] {
            let term = TermQuery::new(
                Term::from_field_text(fields.kind, kind.as_str()),
                IndexRecordOption::Basic,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(term), boost)),
            ));
        }
        let collector = tantivy::collector::TopDocs::with_limit(10_000).order_by_score();
        let hits = searcher
            .search(&BooleanQuery::new(clauses), &collector)
            .unwrap();
        hits_with_ids(&searcher, hits)
            .unwrap()
            .into_iter()
            .map(|hit| (hit.id, hit.score))
            .collect()
    }

    #[test]
    fn a_pruned_search_finds_and_scores_what_an_exhaustive_one_does() {
        let words = [
            "order", "customer", "invoice", "payment", "refund", "product", "ledger", "account",
        ];
        let kinds = [
            ResourceKind::Table,
            ResourceKind::Column,
            ResourceKind::Column,
            ResourceKind::View,
            ResourceKind::Term,
            ResourceKind::Schema,
        ];
        // A fixed pseudo-random catalog: words, kinds, workspaces, teams and tags drawn
        // independently of each other.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut draw = |below: usize| -> usize {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        };
        let mut resources = Vec::new();
        for id in 1..=3000_i64 {
            let name = match draw(3) {
                0 => words[draw(words.len())].to_string(),
                1 => format!("{}s", words[draw(words.len())]),
                _ => format!("{}_{}", words[draw(words.len())], words[draw(words.len())]),
            };
            let workspace = 1 + draw(2) as i64;
            let mut teams = vec![draw(5) as i64, 5 + draw(3) as i64];
            // A team few resources have, so that some scopes are narrow.
            if draw(20) == 0 {
                teams.push(9);
            }
            let mut resource = resource(id, workspace, &name, &teams);
            resource.kind = kinds[draw(kinds.len())];
            resource.description = format!(
                "the {} of each {} {}",
                words[draw(words.len())],
                words[draw(words.len())],
                words[draw(words.len())]
            );
            resource.tags = if draw(3) == 0 {
                vec!["gold".into()]
            } else {
                vec![]
            };
            resources.push(resource);
        }
        let index = SearchIndex::in_memory().unwrap();
        // Several segments, some with deleted documents.
        for (seq, batch) in resources.chunks(700).enumerate() {
            index.apply(batch, &[], seq as i64 + 1).unwrap();
        }
        let removed: Vec<ResourceId> = (1..=3000).step_by(13).map(ResourceId).collect();
        index.apply(&[], &removed, 10).unwrap();

        let scopes = [
            Scope::Workspace(WorkspaceId(1)),
            Scope::Workspace(WorkspaceId(2)),
            Scope::Teams(WorkspaceId(1), vec![TeamId(3)]),
            Scope::Teams(WorkspaceId(2), vec![TeamId(0), TeamId(6)]),
            Scope::Teams(WorkspaceId(1), vec![TeamId(9)]),
            Scope::Teams(WorkspaceId(2), vec![TeamId(9), TeamId(4)]),
        ];
        let texts = [
            "orders",
            "customer invoice",
            "which payment refunds",
            "account ledger product order",
            "Customer_Refunds",
            "the invoices of a customer",
            "purchase",
        ];
        let mut compared = 0;
        let mut found = 0;
        for scope in &scopes {
            for text in texts {
                for (kind, with_columns) in [
                    (None, false),
                    (Some(ResourceKind::Table), true),
                    (Some(ResourceKind::Column), false),
                ] {
                    for tag in [None, Some("gold".to_string())] {
                        let query = SearchQuery {
                            text: text.into(),
                            kind,
                            tag,
                            owner: None,
                        };
                        let kinds = match kind {
                            Some(ResourceKind::Table) if with_columns => {
                                vec![ResourceKind::Table, ResourceKind::Column]
                            }
                            Some(kind) => vec![kind],
                            None => vec![],
                        };
                        let expected = exhaustive(&index, scope, &query, &kinds);
                        found += usize::from(!expected.is_empty());
                        let all = index
                            .search_hits(scope, &query, with_columns, 10_000)
                            .unwrap();
                        assert_eq!(all.len(), expected.len(), "{text:?} in {scope:?}");
                        let expected_scores: HashMap<ResourceId, f32> =
                            expected.iter().copied().collect();
                        for hit in &all {
                            let score = expected_scores[&hit.id];
                            assert!(
                                (score - hit.score).abs() < 1e-4,
                                "{text:?}: {:?} scores {} not {score}",
                                hit.id,
                                hit.score
                            );
                        }
                        // The best few, pruned hardest, score what the best few should.
                        let top = index.search_hits(scope, &query, with_columns, 5).unwrap();
                        for (hit, (_, score)) in top.iter().zip(&expected) {
                            assert!((hit.score - score).abs() < 1e-4, "{text:?}: {top:?}");
                        }
                        assert_eq!(top.len(), expected.len().min(5));
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, scopes.len() * texts.len() * 6);
        assert!(
            found * 10 > compared * 9,
            "{found} of {compared} searches found something"
        );
    }
}
