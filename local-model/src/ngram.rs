//! Bounded n-gram table: for each context (the previous k tokens, 1 <= k < n)
//! the few most frequent next tokens.
//!
//! A context is stored as a 64-bit hash of its token ids, never as the ids
//! themselves (a collision, at 2^-64 per pair, only blurs a prediction), and
//! all orders share one map; the hash chain gives each order its own keys (see
//! [`context_keys`]). Each context keeps [`SLOTS`] successor slots updated
//! Space-Saving style, so a context costs a fixed 48 bytes no matter how many
//! distinct successors it has (16 while it has only one), and a hard cap on
//! the number of contexts bounds the whole table. Removal subtracts exactly
//! what was added unless a slot was recycled in between, in which case it is
//! approximate.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

/// Successors tracked per context. Four covers the useful choices after almost
/// every context in code and keeps an entry (with its key) at 48 bytes.
pub(crate) const SLOTS: usize = 4;

/// Longest context the table supports (the `order` option is clamped to
/// `MAX_ORDER + 1`).
pub(crate) const MAX_ORDER: usize = 7;

/// Successor counts of one context.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Successors {
    ids: [u32; SLOTS],
    counts: [u32; SLOTS],
    /// Every occurrence of the context, tracked or not.
    total: u32,
    /// Distinct successors seen (approximate: an evicted successor that comes
    /// back is counted again). Drives how much the context is trusted.
    distinct: u32,
}

impl Successors {
    /// Tracked successors with a non-zero count.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.ids
            .iter()
            .copied()
            .zip(self.counts.iter().copied())
            .filter(|&(_, c)| c > 0)
    }

    /// How often the context occurred.
    pub(crate) fn total(&self) -> u32 {
        self.total
    }

    /// Approximate number of distinct successors.
    pub(crate) fn distinct(&self) -> u32 {
        self.distinct
    }

    fn add(&mut self, id: u32) {
        self.total = self.total.saturating_add(1);
        if let Some(i) = self.slot_of(id) {
            self.counts[i] = self.counts[i].saturating_add(1);
            return;
        }
        self.distinct = self.distinct.saturating_add(1);
        // Space-Saving: the newcomer takes the least-counted slot and inherits
        // its count, so a frequent successor seen late still gets in.
        let min = (0..SLOTS).min_by_key(|&i| self.counts[i]).unwrap_or(0);
        self.ids[min] = id;
        self.counts[min] = self.counts[min].saturating_add(1);
    }

    fn remove(&mut self, id: u32) {
        self.total = self.total.saturating_sub(1);
        if let Some(i) = self.slot_of(id) {
            self.counts[i] -= 1;
            if self.counts[i] == 0 {
                self.distinct = self.distinct.saturating_sub(1);
            }
        }
        // An untracked (evicted) successor was removed: its occurrence was
        // inherited by whichever slot evicted it, most likely the smallest,
        // so take it from there to keep the slot counts summing to the total.
        let mut excess = self.counts.iter().sum::<u32>().saturating_sub(self.total);
        while excess > 0 {
            let Some(i) = (0..SLOTS)
                .filter(|&i| self.counts[i] > 0)
                .min_by_key(|&i| self.counts[i])
            else {
                break;
            };
            let cut = excess.min(self.counts[i]);
            self.counts[i] -= cut;
            excess -= cut;
        }
    }

    fn slot_of(&self, id: u32) -> Option<usize> {
        (0..SLOTS).find(|&i| self.counts[i] > 0 && self.ids[i] == id)
    }
}

/// Keys are already well-mixed hashes: hashing them again is wasted work.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A context with one distinct successor so far: most long contexts never
/// get a second one, and storing them in 16 bytes instead of 48 roughly
/// halves the table.
#[derive(Clone, Copy, Debug)]
struct Single {
    id: u32,
    count: u32,
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// The table; see the module documentation.
pub(crate) struct Table {
    singles: Map<Single>,
    many: Map<Successors>,
    max_contexts: usize,
    dropped: u64,
}

impl Table {
    /// Empty table holding at most `max_contexts` contexts.
    pub(crate) fn new(max_contexts: usize) -> Self {
        Table {
            singles: Map::default(),
            many: Map::default(),
            max_contexts,
            dropped: 0,
        }
    }

    /// Counts `next` after the context hashed to `key`. A new context past the
    /// bound is not stored; it is counted in [`Table::dropped`].
    pub(crate) fn add(&mut self, key: u64, next: u32) {
        if let Some(many) = self.many.get_mut(&key) {
            many.add(next);
            return;
        }
        let len = self.len();
        match self.singles.entry(key) {
            Entry::Occupied(mut e) if e.get().id == next => {
                let single = e.get_mut();
                single.count = single.count.saturating_add(1);
            }
            Entry::Occupied(e) => {
                // A second distinct successor: promote.
                let single = e.remove();
                let mut many = Successors {
                    total: single.count,
                    distinct: 1,
                    ..Successors::default()
                };
                many.ids[0] = single.id;
                many.counts[0] = single.count;
                many.add(next);
                self.many.insert(key, many);
            }
            Entry::Vacant(e) if len < self.max_contexts => {
                e.insert(Single { id: next, count: 1 });
            }
            Entry::Vacant(_) => self.dropped += 1,
        }
    }

    /// Uncounts `next` after the context hashed to `key`; forgets the context
    /// when nothing is left.
    pub(crate) fn remove(&mut self, key: u64, next: u32) {
        if let Entry::Occupied(mut e) = self.many.entry(key) {
            e.get_mut().remove(next);
            if e.get().total == 0 {
                e.remove();
            }
            return;
        }
        if let Entry::Occupied(mut e) = self.singles.entry(key)
            && e.get().id == next
        {
            e.get_mut().count -= 1;
            if e.get().count == 0 {
                e.remove();
            }
        }
    }

    /// Successors of the context hashed to `key`.
    pub(crate) fn get(&self, key: u64) -> Option<Successors> {
        if let Some(single) = self.singles.get(&key) {
            let mut s = Successors {
                total: single.count,
                distinct: 1,
                ..Successors::default()
            };
            s.ids[0] = single.id;
            s.counts[0] = single.count;
            return Some(s);
        }
        self.many.get(&key).copied()
    }

    /// Stored contexts.
    pub(crate) fn len(&self) -> usize {
        self.singles.len() + self.many.len()
    }

    /// Context occurrences that found the table full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Heap footprint of the maps (entries plus one control byte each).
    pub(crate) fn approx_bytes(&self) -> usize {
        self.singles.capacity() * (std::mem::size_of::<(u64, Single)>() + 1)
            + self.many.capacity() * (std::mem::size_of::<(u64, Successors)>() + 1)
    }
}

const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64 finaliser: cheap and mixes every input bit into every output bit.
fn mix(h: u64, id: u32) -> u64 {
    let mut z = h ^ u64::from(id).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Keys of the contexts ending just before `ids.len()`: element `k - 1` is
/// the key of the last `k` ids, for `k` up to `max_k` (fewer when `ids` is
/// shorter). Built from the nearest token outwards, so each order costs one
/// more mix and orders never share a key.
pub(crate) fn context_keys(ids: &[u32], max_k: usize) -> ([u64; MAX_ORDER], usize) {
    let mut keys = [0u64; MAX_ORDER];
    let k_max = max_k.min(ids.len()).min(MAX_ORDER);
    let mut h = SEED;
    for k in 1..=k_max {
        h = mix(h, ids[ids.len() - k]);
        keys[k - 1] = h;
    }
    (keys, k_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_remove_is_exact_without_eviction() {
        let mut t = Table::new(10);
        t.add(1, 7);
        t.add(1, 7);
        t.add(1, 8);
        let s = t.get(1).unwrap();
        assert_eq!(s.total(), 3);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(7, 2), (8, 1)]);
        t.remove(1, 7);
        t.remove(1, 7);
        t.remove(1, 8);
        assert!(t.get(1).is_none());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn frequent_late_successor_wins_a_slot() {
        let mut t = Table::new(10);
        for id in 0..SLOTS as u32 {
            t.add(1, id);
        }
        for _ in 0..5 {
            t.add(1, 99);
        }
        let best = t.get(1).unwrap().iter().max_by_key(|&(_, c)| c).unwrap();
        assert_eq!(best.0, 99);
    }

    #[test]
    fn bound_drops_new_contexts() {
        let mut t = Table::new(2);
        for key in 0..5 {
            t.add(key, 1);
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.dropped(), 3);
        t.add(0, 2);
        assert_eq!(
            t.get(0).unwrap().total(),
            2,
            "existing contexts still count"
        );
    }

    #[test]
    fn context_keys_differ_per_order() {
        let (a, n) = context_keys(&[1, 2, 3], 3);
        assert_eq!(n, 3);
        let (b, _) = context_keys(&[3], 3);
        assert_eq!(a[0], b[0], "order 1 depends only on the last id");
        assert_ne!(a[0], a[1]);
        assert_ne!(a[1], a[2]);
    }
}
