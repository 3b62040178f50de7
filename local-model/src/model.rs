//! The model: per-file bookkeeping around the vocabulary and n-gram table.
//!
//! Each file's token ids are kept so that a changed or deleted file can take
//! back exactly what it added; that is what lets a watcher keep the model in
//! step with the workspace without ever re-indexing it.

use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::candidates::Candidate;
use crate::members::{Members, scan};
use crate::ngram::{MAX_ORDER, Table, context_keys};
use crate::predict::{Overlay, Predictor};
use crate::tokenize::{key, tokenize};
use crate::vocab::Vocab;
use crate::walk;
use crate::{Completion, CompletionRequest, IndexStats, LocalModelError, ModelConfig};

/// Smallest vocabulary cap, so that a tiny `max_contexts` still leaves room
/// for the words of a small project.
const MIN_VOCAB: usize = 4096;

/// What one indexed file contributed.
struct FileEntry {
    /// Its tokens' ids, to subtract exactly what was added.
    ids: Box<[u32]>,
    /// Hash of its text: editors and watchers report saves that change
    /// nothing, which then cost nothing.
    hash: u64,
}

/// The offline code model. Plain data (`Send + Sync`); share it as
/// `Arc<RwLock<LocalModel>>` to let [`watch()`](crate::watch()) update it while requests
/// read it.
pub struct LocalModel {
    config: ModelConfig,
    /// Longest context in tokens (`order - 1`, clamped).
    max_context: usize,
    vocab: Vocab,
    table: Table,
    files: FxHashMap<Box<str>, FileEntry>,
    tokens: usize,
    skipped_files: usize,
    /// Files the model must not learn from, asked at every update.
    excluded: Option<Exclusion>,
    /// Members of receivers and types, for completion lists.
    members: Members,
    /// Every file name seen, by index (an index is never reused).
    names: Vec<Box<str>>,
    name_ids: FxHashMap<Box<str>, u32>,
}

/// Tells, by workspace-relative path, which files the model must not learn
/// from (content a team's policy excludes).
pub type Exclusion = Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl LocalModel {
    /// An empty model; it proposes nothing until files are added.
    pub fn new(config: ModelConfig) -> Self {
        let max_context = config.order.clamp(1, MAX_ORDER + 1) - 1;
        let max_vocab = (config.max_contexts / 8).max(MIN_VOCAB);
        LocalModel {
            vocab: Vocab::new(max_vocab),
            table: Table::new(config.max_contexts),
            max_context,
            config,
            files: FxHashMap::default(),
            tokens: 0,
            skipped_files: 0,
            excluded: None,
            members: Members::default(),
            names: Vec::new(),
            name_ids: FxHashMap::default(),
        }
    }

    /// Builds a model from the source files under `root`: the walk respects
    /// `.gitignore` and `.ignore` files, skips hidden entries and build or
    /// dependency directories (`target`, `node_modules`, ...), and keeps only
    /// source-like text files (by extension) of at most
    /// [`ModelConfig::max_file_bytes`] that are valid UTF-8, up to
    /// [`ModelConfig::max_files`] of them. Files are keyed by their path
    /// relative to `root` with `/` separators.
    pub fn index_workspace(
        config: ModelConfig,
        root: &Path,
    ) -> Result<(Self, IndexStats), LocalModelError> {
        match std::fs::metadata(root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(LocalModelError::NotADirectory {
                    path: root.to_path_buf(),
                    source: std::io::Error::other("not a directory"),
                });
            }
            Err(source) => {
                return Err(LocalModelError::NotADirectory {
                    path: root.to_path_buf(),
                    source,
                });
            }
        }
        let mut model = LocalModel::new(config);
        let max_bytes = model.config.max_file_bytes;
        walk::walk(root, root, |found| {
            let walk::Found::File(rel, path) = found else {
                return;
            };
            match walk::read_source(path, max_bytes) {
                Some(text) if model.files.len() < model.config.max_files => {
                    model.update_file(rel, &text);
                }
                _ => model.skipped_files += 1,
            }
        });
        let stats = model.stats();
        Ok((model, stats))
    }

    /// Replaces the contribution of the file at `rel_path` with `text`
    /// (adding the file if it is new). A file over
    /// [`ModelConfig::max_file_bytes`] is removed instead, and a new file past
    /// [`ModelConfig::max_files`] is not added.
    pub fn update_file(&mut self, rel_path: &str, text: &str) {
        if self
            .excluded
            .as_ref()
            .is_some_and(|excluded| excluded(rel_path))
        {
            self.remove_file(rel_path);
            return;
        }
        if text.len() as u64 > self.config.max_file_bytes {
            self.remove_file(rel_path);
            self.skipped_files += 1;
            return;
        }
        let hash = rustc_hash::FxBuildHasher.hash_one(text);
        if self.files.get(rel_path).is_some_and(|f| f.hash == hash) {
            return;
        }
        // Take back the old contribution first: this frees vocabulary ids
        // whose last occurrence goes away, before the new text interns its own.
        match self.files.remove(rel_path) {
            Some(old) => self.uncount(&old.ids),
            None if self.files.len() >= self.config.max_files => {
                self.skipped_files += 1;
                return;
            }
            None => {}
        }
        let ids: Box<[u32]> = tokenize(text).map(|t| self.vocab.add(&key(&t))).collect();
        let name = match self.name_ids.get(rel_path) {
            Some(&n) => n,
            None => {
                let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
                self.names.push(rel_path.into());
                self.name_ids.insert(rel_path.into(), n);
                n
            }
        };
        self.count(&ids, name);
        self.files.insert(rel_path.into(), FileEntry { ids, hash });
    }

    /// Never learn from the files `excluded` names: those indexed are
    /// forgotten now (their count is returned) and later updates of them (a
    /// watcher, an editor) are refused. `excluded` is asked at every update,
    /// so it may follow a policy that changes.
    pub fn exclude(&mut self, excluded: Exclusion) -> usize {
        self.excluded = Some(excluded);
        self.apply_exclusion()
    }

    /// Forget the indexed files the exclusion names now (it may have
    /// changed, e.g. after a policy reload). Returns how many.
    pub fn apply_exclusion(&mut self) -> usize {
        match self.excluded.clone() {
            Some(excluded) => self.forget_where(|path| excluded(path)),
            None => 0,
        }
    }

    /// Forget every indexed file whose workspace-relative path matches
    /// `excluded` (e.g. content a team policy excludes). Returns how many.
    pub fn forget_where(&mut self, excluded: impl Fn(&str) -> bool) -> usize {
        let doomed: Vec<Box<str>> = self.files.keys().filter(|p| excluded(p)).cloned().collect();
        for path in &doomed {
            self.remove_file(path);
        }
        doomed.len()
    }

    /// Removes the contribution of the file at `rel_path`, if indexed.
    pub fn remove_file(&mut self, rel_path: &str) {
        if let Some(old) = self.files.remove(rel_path) {
            self.uncount(&old.ids);
        }
    }

    fn predictor<'m>(&'m self, prefix: &str, document: Option<&str>) -> Predictor<'m> {
        // The document being completed teaches only through its live text.
        let minus: &[u32] = document
            .and_then(|d| self.files.get(d))
            .map_or(&[], |f| &f.ids);
        Predictor {
            vocab: &self.vocab,
            table: &self.table,
            max_context: self.max_context,
            tokens: self.tokens,
            overlay: Overlay::new(&self.vocab, minus, prefix),
            members: &self.members,
            names: &self.names,
        }
    }

    /// Removes every indexed file under the directory `rel_dir` (a directory
    /// deleted or moved away reports only itself to a watcher).
    pub(crate) fn remove_dir(&mut self, rel_dir: &str) {
        let prefix = format!("{}/", rel_dir.trim_end_matches('/'));
        let gone: Vec<Box<str>> = self
            .files
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .cloned()
            .collect();
        for path in gone {
            self.remove_file(&path);
        }
    }

    /// Completes `req.prefix` (filling in before `req.suffix`); see
    /// [`CompletionRequest`] and [`Completion`]. Never fails: when the model
    /// has nothing confident to say the text is empty.
    ///
    /// Ghost text: one proposal, made only when the model is confident.
    pub fn complete(&self, req: &CompletionRequest<'_>) -> Completion {
        self.predictor(req.prefix, req.document).complete(req)
    }

    /// A completion list: up to `limit` whole words for the partial word at
    /// the end of `req.prefix` (or for the empty word after it), best first,
    /// each with a short note of where it comes from. Ranks members after
    /// `x.` (what followed `x.`, what `x`'s apparent type defines), then the
    /// n-gram probability, the live document and word frequency; empty only
    /// when no word the model knows starts with what was typed (or inside a
    /// string literal). `req.suffix`, `max_tokens` and `stop` are not used.
    pub fn candidates(&self, req: &CompletionRequest<'_>, limit: usize) -> Vec<Candidate> {
        self.predictor(req.prefix, req.document)
            .candidates(req.prefix, limit)
    }

    /// Ghost text and a completion list for one request, agreeing: when the
    /// proposal finishes a partially typed word differently from the list's
    /// first, the model's signals disagree and the ghost text says nothing
    /// (the list still has both words).
    pub fn complete_with_list(
        &self,
        req: &CompletionRequest<'_>,
        limit: usize,
    ) -> (Completion, Vec<Candidate>) {
        let predictor = self.predictor(req.prefix, req.document);
        let mut ghost = predictor.complete(req);
        let list = predictor.candidates(req.prefix, limit.max(1));
        let ident = |c: char| c == '_' || c.is_alphanumeric();
        let typed_at = req
            .prefix
            .char_indices()
            .rev()
            .take_while(|&(_, c)| ident(c))
            .last()
            .map_or(req.prefix.len(), |(i, _)| i);
        let more: String = ghost.text.chars().take_while(|&c| ident(c)).collect();
        // Only a partial word is the list's to judge: with nothing typed the
        // proposal starts a new construct (`for item in &self.items`), which
        // a ranking of single words does not weigh.
        let typed = typed_at < req.prefix.len();
        if typed && !more.is_empty() {
            let word = format!("{}{more}", &req.prefix[typed_at..]);
            if list.first().is_some_and(|top| top.text != word) {
                ghost.text.clear();
                ghost.tokens = 0;
            }
        }
        let mut list = list;
        list.truncate(limit);
        (ghost, list)
    }

    /// Current size of the model.
    pub fn stats(&self) -> IndexStats {
        let files_bytes: usize = self
            .files
            .iter()
            .map(|(path, f)| path.len() + f.ids.len() * 4 + 48)
            .sum();
        IndexStats {
            files: self.files.len(),
            tokens: self.tokens,
            contexts: self.table.len(),
            approx_bytes: self.table.approx_bytes()
                + self.vocab.approx_bytes()
                + self.members.approx_bytes()
                + files_bytes,
            dropped_contexts: usize::try_from(self.table.dropped()).unwrap_or(usize::MAX),
            skipped_files: self.skipped_files,
        }
    }

    /// Paths of the indexed files.
    pub(crate) fn file_paths(&self) -> Vec<String> {
        self.files.keys().map(|p| p.to_string()).collect()
    }

    /// The configuration the model was built with.
    pub(crate) fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn count(&mut self, ids: &[u32], name: u32) {
        for i in 0..ids.len() {
            let (keys, n) = context_keys(&ids[..i], self.max_context);
            for key in &keys[..n] {
                self.table.add(*key, ids[i]);
            }
        }
        let (vocab, members) = (&self.vocab, &mut self.members);
        scan(
            ids,
            |id| vocab.key(id),
            |owner, id| members.add(owner, id, name),
        );
        self.tokens += ids.len();
    }

    fn uncount(&mut self, ids: &[u32]) {
        for i in 0..ids.len() {
            let (keys, n) = context_keys(&ids[..i], self.max_context);
            for key in &keys[..n] {
                self.table.remove(*key, ids[i]);
            }
        }
        // Before the vocabulary forgets the keys the scan reads.
        let (vocab, members) = (&self.vocab, &mut self.members);
        scan(
            ids,
            |id| vocab.key(id),
            |owner, id| members.remove(owner, id),
        );
        for &id in ids {
            self.vocab.remove(id);
        }
        self.tokens -= ids.len();
    }
}
