//! Token vocabulary: interned keys with exact occurrence counts.
//!
//! The counts double as reference counts: when a removed or edited file takes
//! a key's count to zero, the key is forgotten and its id reused, so a
//! long-running watcher over a workspace being edited does not grow the
//! vocabulary without bound. A hard cap still applies; past it, new keys map to
//! [`UNK`].

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use rustc_hash::FxHashMap;

/// Id of the "unknown" key that stands for every key once the vocabulary is
/// full. Never emitted, never freed.
pub(crate) const UNK: u32 = 0;
const UNK_KEY: &str = "\u{1}unk";

/// Interned keys; see the module documentation.
pub(crate) struct Vocab {
    ids: FxHashMap<Arc<str>, u32>,
    /// Id -> key; `None` for a freed id waiting in `free`.
    keys: Vec<Option<Arc<str>>>,
    /// Id -> occurrences in the indexed files.
    counts: Vec<u32>,
    /// Keys in order, for completing a partial identifier when no context
    /// matches. Maintained only when a key is created or freed, which is rare
    /// next to counting.
    sorted: BTreeMap<Arc<str>, u32>,
    free: Vec<u32>,
    max: usize,
    key_bytes: usize,
}

impl Vocab {
    /// Empty vocabulary holding at most `max` keys (at least the `UNK` one).
    pub(crate) fn new(max: usize) -> Self {
        let mut vocab = Vocab {
            ids: FxHashMap::default(),
            keys: Vec::new(),
            counts: Vec::new(),
            sorted: BTreeMap::new(),
            free: Vec::new(),
            max: max.max(1),
            key_bytes: 0,
        };
        let unk: Arc<str> = Arc::from(UNK_KEY);
        vocab.ids.insert(unk.clone(), UNK);
        vocab.keys.push(Some(unk));
        vocab.counts.push(0);
        vocab
    }

    /// Interns `key` and counts one occurrence of it; returns its id (`UNK`
    /// when the vocabulary is full).
    pub(crate) fn add(&mut self, key: &str) -> u32 {
        let id = match self.ids.get(key) {
            Some(&id) => id,
            None if self.ids.len() < self.max => self.create(key),
            None => UNK,
        };
        self.counts[id as usize] += 1;
        id
    }

    fn create(&mut self, key: &str) -> u32 {
        let key: Arc<str> = Arc::from(key);
        let id = match self.free.pop() {
            Some(id) => {
                self.keys[id as usize] = Some(key.clone());
                id
            }
            None => {
                // Ids are u32; the cap (far below 4 billion) keeps this exact.
                let id = u32::try_from(self.keys.len()).unwrap_or(UNK);
                self.keys.push(Some(key.clone()));
                self.counts.push(0);
                id
            }
        };
        self.key_bytes += key.len();
        self.ids.insert(key.clone(), id);
        self.sorted.insert(key, id);
        id
    }

    /// Uncounts one occurrence of `id`, forgetting the key at zero.
    pub(crate) fn remove(&mut self, id: u32) {
        let Some(count) = self.counts.get_mut(id as usize) else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count == 0
            && id != UNK
            && let Some(key) = self.keys[id as usize].take()
        {
            self.ids.remove(&key);
            self.sorted.remove(&key);
            self.key_bytes -= key.len();
            self.free.push(id);
        }
    }

    /// Id of `key`, if known.
    pub(crate) fn get(&self, key: &str) -> Option<u32> {
        self.ids.get(key).copied()
    }

    /// Key of `id` (empty for an unknown id).
    pub(crate) fn key(&self, id: u32) -> &str {
        self.keys
            .get(id as usize)
            .and_then(Option::as_deref)
            .unwrap_or("")
    }

    /// Occurrences of `id`.
    pub(crate) fn count(&self, id: u32) -> u32 {
        self.counts.get(id as usize).copied().unwrap_or(0)
    }

    /// Keys starting with `prefix`, in order, at most `limit` of them (a
    /// one-letter prefix can match thousands; the caller only wants a good one
    /// quickly).
    pub(crate) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        self.sorted
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, &id)| (&**k, id))
    }

    /// Rough heap footprint: key text once (shared by the three indexes), the
    /// hash map, the ordered map's nodes and the per-id vectors.
    pub(crate) fn approx_bytes(&self) -> usize {
        let arc = std::mem::size_of::<Arc<str>>();
        self.key_bytes
            + self.ids.len() * 16 // Arc header per key
            + self.ids.capacity() * (arc + 4 + 1)
            + self.sorted.len() * (arc + 4 + 16)
            + self.keys.capacity() * arc
            + self.counts.capacity() * 4
            + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_act_as_refcounts_and_ids_are_reused() {
        let mut v = Vocab::new(10);
        let a = v.add("alpha");
        assert_eq!(v.add("alpha"), a);
        let b = v.add("beta");
        v.remove(b);
        assert_eq!(v.get("beta"), None);
        assert_eq!(v.add("gamma"), b, "freed id is reused");
        v.remove(a);
        assert_eq!(v.get("alpha"), Some(a), "still one occurrence left");
        assert_eq!(v.key(a), "alpha");
    }

    #[test]
    fn full_vocabulary_maps_to_unk() {
        let mut v = Vocab::new(3);
        v.add("a");
        v.add("b");
        assert_eq!(v.add("c"), UNK);
        assert_eq!(v.get("c"), None);
    }

    #[test]
    fn prefix_search() {
        let mut v = Vocab::new(100);
        for k in ["item", "items", "iter", "ix", "jam"] {
            v.add(k);
        }
        let found: Vec<&str> = v.with_prefix("ite", 10).map(|(k, _)| k).collect();
        assert_eq!(found, ["item", "items", "iter"]);
    }
}
