//! A small cache of completion answers, so that retyping the same text at
//! the same place does not call the plugin (and the model) again.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use crate::api::{CompletionItem, DocumentContext};

/// Answers kept, oldest evicted first.
const CAPACITY: usize = 128;

/// Completion answers by plugin and context.
#[derive(Default)]
pub struct Cache {
    entries: HashMap<u64, Vec<CompletionItem>>,
    order: VecDeque<u64>,
}

/// The key of an answer: which plugin build (a reloaded plugin's answers
/// are never served for the new build), under which policy, which document,
/// where, and exactly what text the plugin was shown.
pub fn key(plugin: &str, digest: &str, policy_generation: u64, ctx: &DocumentContext) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    plugin.hash(&mut hasher);
    digest.hash(&mut hasher);
    policy_generation.hash(&mut hasher);
    ctx.path.hash(&mut hasher);
    ctx.language_id.hash(&mut hasher);
    (ctx.cursor.line, ctx.cursor.character).hash(&mut hasher);
    ctx.prefix.hash(&mut hasher);
    ctx.suffix.hash(&mut hasher);
    hasher.finish()
}

impl Cache {
    /// The answer stored under `key`.
    pub fn get(&self, key: u64) -> Option<Vec<CompletionItem>> {
        self.entries.get(&key).cloned()
    }

    /// Store an answer.
    pub fn put(&mut self, key: u64, items: Vec<CompletionItem>) {
        if self.entries.insert(key, items).is_none() {
            self.order.push_back(key);
            if self.order.len() > CAPACITY
                && let Some(old) = self.order.pop_front()
            {
                self.entries.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_answers() {
        let mut cache = Cache::default();
        for k in 0..(CAPACITY as u64 + 1) {
            cache.put(k, Vec::new());
        }
        assert!(cache.get(0).is_none());
        assert!(cache.get(CAPACITY as u64).is_some());
        assert_eq!(cache.entries.len(), CAPACITY);
    }
}
