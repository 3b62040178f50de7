//! Members: which names follow `x.` (or `x::`, `x->`) in the workspace, and
//! which names a type defines (`fn` in an `impl T` block, fields of
//! `struct T`, `def` and `self.name =` in a Python `class T`).
//!
//! The n-gram table keeps only the few most frequent successors of a
//! context, which is right for greedy generation and wrong for a completion
//! list: after `inventory.` the user wants every method seen there, and the
//! methods of `Inventory` even where `inventory.` was never followed by them.
//! This index keeps them all, counted, with the file each was last seen in
//! (for the list's detail column). Owners are keyed by a hash of their name,
//! members by vocabulary id; one [`scan`] over a file's token ids feeds
//! adding, removing (so a changed file takes back exactly what it added), and
//! the per-request corrections for the document being completed.

use std::hash::BuildHasher;

use rustc_hash::FxHashMap;

use crate::tokenize::{indent_width, newline_parts};

/// Whose member a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Owner {
    /// It followed `x.` (hash of `x`).
    Receiver(u64),
    /// Type `T` defines it (hash of `T`).
    Type(u64),
}

/// One member of an owner.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    /// Vocabulary id of the member's token (may carry a leading space).
    pub id: u32,
    /// Occurrences.
    pub count: u32,
    /// The file it was last added from (index into the model's file names).
    pub file: u32,
}

/// The index; see the module documentation.
#[derive(Default)]
pub(crate) struct Members {
    owners: FxHashMap<Owner, Vec<Member>>,
    entries: usize,
}

/// Hash of a name as an owner key (leading spaces ignored).
pub(crate) fn name_hash(name: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(name.trim_start())
}

impl Members {
    pub(crate) fn add(&mut self, owner: Owner, id: u32, file: u32) {
        let list = self.owners.entry(owner).or_default();
        match list.iter_mut().find(|m| m.id == id) {
            Some(m) => {
                m.count = m.count.saturating_add(1);
                m.file = file;
            }
            None => {
                list.push(Member { id, count: 1, file });
                self.entries += 1;
            }
        }
    }

    pub(crate) fn remove(&mut self, owner: Owner, id: u32) {
        let Some(list) = self.owners.get_mut(&owner) else {
            return;
        };
        if let Some(i) = list.iter().position(|m| m.id == id) {
            list[i].count -= 1;
            if list[i].count == 0 {
                list.swap_remove(i);
                self.entries -= 1;
            }
        }
        if list.is_empty() {
            self.owners.remove(&owner);
        }
    }

    /// Members of `owner`.
    pub(crate) fn of(&self, owner: Owner) -> &[Member] {
        self.owners.get(&owner).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn approx_bytes(&self) -> usize {
        self.owners.capacity() * (std::mem::size_of::<(Owner, Vec<Member>)>() + 1)
            + self.entries * std::mem::size_of::<Member>()
    }
}

/// Whether a key is a word (identifier or keyword), leading space allowed.
pub(crate) fn is_word_key(key: &str) -> bool {
    key.trim_start()
        .chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_alphabetic())
}

/// Keywords that are never a type's name nor a receiver worth indexing.
fn is_noise_word(core: &str) -> bool {
    matches!(
        core,
        "for" | "where" | "mut" | "dyn" | "impl" | "unsafe" | "const" | "pub" | "crate" | "return"
    )
}

/// What the scanner tracks of the enclosing Rust `impl`/`struct` or Python
/// `class`.
struct Scope {
    owner: u64,
    /// Rust: brace depth inside the body. Python: the class line's indentation.
    level: usize,
    python: bool,
    /// Rust `struct` body (fields are `name:`), not an `impl`.
    fields: bool,
    /// Python: the indentation of the class's methods (its first `def`);
    /// deeper ones are nested functions.
    inner: Option<usize>,
}

/// Calls `f` for every member pair in `ids` (a file's tokens, or the live
/// text before the cursor), in order. `key` gives each id's text. Returns the
/// type whose body is still open at the end (where the cursor is, for the
/// live text).
pub(crate) fn scan<'k>(
    ids: &[u32],
    key: impl Fn(u32) -> &'k str,
    mut f: impl FnMut(Owner, u32),
) -> Option<u64> {
    let core = |i: usize| key(ids[i]).trim_start_matches([' ', '\t']);
    let mut depth = 0usize;
    let mut scopes: Vec<Scope> = Vec::new();
    // Indentation of the current line (Python scopes), and whether the
    // current token is the first of its line.
    let mut indent = 0usize;
    let mut line_start = true;
    let mut i = 0;
    while i < ids.len() {
        let k = key(ids[i]);
        if k.starts_with('\n') {
            indent = indent_width(newline_parts(k).1);
            line_start = true;
            // A Python class ends at the first line indented at or below it.
            while scopes
                .last()
                .is_some_and(|s| s.python && indent <= s.level && next_is_code(ids, i, &key))
            {
                scopes.pop();
            }
            i += 1;
            continue;
        }
        let c = k.trim_start_matches([' ', '\t']);
        match c {
            "{" => depth += 1,
            "}" => {
                while scopes.last().is_some_and(|s| !s.python && s.level >= depth) {
                    scopes.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "." | "::" | "->" | "?." if i > 0 && i + 1 < ids.len() => {
                let recv = core(i - 1);
                if is_word_key(recv) && is_word_key(key(ids[i + 1])) && !is_noise_word(recv) {
                    f(Owner::Receiver(name_hash(recv)), ids[i + 1]);
                    // `self.name = ...` in a Python class defines an attribute.
                    if recv == "self"
                        && let Some(s) = scopes.last().filter(|s| s.python)
                        && ids.get(i + 2).is_some_and(|&n| key(n).trim_start() == "=")
                    {
                        f(Owner::Type(s.owner), ids[i + 1]);
                    }
                }
            }
            "impl" => {
                if let Some((owner, open)) = impl_target(ids, i, &key) {
                    i = open;
                    depth += 1;
                    scopes.push(Scope {
                        owner,
                        level: depth,
                        python: false,
                        fields: false,
                        inner: None,
                    });
                    line_start = false;
                    i += 1;
                    continue;
                }
            }
            "struct" | "enum" | "trait" if i + 2 < ids.len() && is_word_key(key(ids[i + 1])) => {
                // Generics, then the body's brace on the same line.
                let name = core(i + 1);
                let open = (i + 2..ids.len().min(i + 24))
                    .take_while(|&j| !key(ids[j]).starts_with('\n'))
                    .take_while(|&j| !matches!(core(j), ";" | "("))
                    .find(|&j| core(j) == "{");
                if let Some(open) = open {
                    depth += 1;
                    scopes.push(Scope {
                        owner: name_hash(name),
                        level: depth,
                        python: false,
                        fields: c != "trait",
                        inner: None,
                    });
                    line_start = false;
                    i = open + 1;
                    continue;
                }
            }
            "class" if line_start && i + 1 < ids.len() && is_word_key(key(ids[i + 1])) => {
                scopes.push(Scope {
                    owner: name_hash(core(i + 1)),
                    level: indent,
                    python: true,
                    fields: false,
                    inner: None,
                });
            }
            "fn" | "def" if i + 1 < ids.len() && is_word_key(key(ids[i + 1])) => {
                if let Some(s) = scopes.last_mut()
                    && !s.fields
                {
                    let direct = if s.python {
                        indent > s.level && *s.inner.get_or_insert(indent) == indent
                    } else {
                        depth == s.level
                    };
                    if direct {
                        f(Owner::Type(s.owner), ids[i + 1]);
                    }
                }
            }
            ":" if i > 0 => {
                // `name: Type` directly in a struct body is a field.
                if let Some(s) = scopes.last()
                    && s.fields
                    && depth == s.level
                    && is_word_key(key(ids[i - 1]))
                    && (i < 2 || {
                        let before = key(ids[i - 2]);
                        before.starts_with('\n') || before.trim_start() == "pub" || before == "{"
                    })
                {
                    f(Owner::Type(s.owner), ids[i - 1]);
                }
            }
            _ => {}
        }
        line_start = false;
        i += 1;
    }
    scopes.last().filter(|s| !s.fields).map(|s| s.owner)
}

/// Whether the line after the line break at `i` has code (a comment or a
/// blank line does not end a Python class).
fn next_is_code<'k>(ids: &[u32], i: usize, key: &impl Fn(u32) -> &'k str) -> bool {
    ids.get(i + 1).is_some_and(|&n| {
        let k = key(n).trim_start();
        !k.starts_with('#') && !k.starts_with('\n')
    })
}

/// For `impl` at `i`: the implementing type's hash and the index of the
/// body's `{`. `impl<T> Trait for Foo<T> where … {` gives `Foo`.
fn impl_target<'k>(ids: &[u32], i: usize, key: &impl Fn(u32) -> &'k str) -> Option<(u64, usize)> {
    let mut angle = 0usize;
    let mut first: Option<&str> = None;
    let mut after_for: Option<&str> = None;
    let mut seen_for = false;
    let mut stop_names = false;
    for j in i + 1..ids.len().min(i + 48) {
        let k = key(ids[j]);
        let c = k.trim_start_matches([' ', '\t']);
        match c {
            "<" => angle += 1,
            ">" => angle = angle.saturating_sub(1),
            ">>" => angle = angle.saturating_sub(2),
            "{" if angle == 0 => {
                let name = after_for.or(first)?;
                return Some((name_hash(name), j));
            }
            ";" => return None,
            "for" if angle == 0 => seen_for = true,
            "where" => stop_names = true,
            _ if angle == 0 && !stop_names && is_word_key(c) && !is_noise_word(c) => {
                // A path (`fmt::Display`) names its last segment.
                let next_is_path = ids.get(j + 1).is_some_and(|&n| key(n) == "::");
                if next_is_path {
                    continue;
                }
                if seen_for {
                    after_for.get_or_insert(c);
                } else {
                    first.get_or_insert(c);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::{key, tokenize};

    fn pairs(src: &str) -> Vec<(Owner, String)> {
        let keys: Vec<String> = tokenize(src).map(|t| key(&t).into_owned()).collect();
        let ids: Vec<u32> = (0..keys.len() as u32).collect();
        let mut out = Vec::new();
        scan(
            &ids,
            |id| keys[id as usize].as_str(),
            |o, m| {
                out.push((o, keys[m as usize].trim_start().to_owned()));
            },
        );
        out
    }

    fn of(found: &[(Owner, String)], owner: Owner) -> Vec<&str> {
        found
            .iter()
            .filter(|(o, _)| *o == owner)
            .map(|(_, m)| m.as_str())
            .collect()
    }

    #[test]
    fn rust_methods_fields_and_receivers() {
        let src = "pub struct Inventory {\n    items: Vec<Item>,\n    pub count: usize,\n}\n\
                   impl<T> fmt::Display for Inventory {\n    fn fmt(&self) {}\n}\n\
                   impl Inventory {\n    pub fn remove_item(&mut self, x: u32) {\n        let f = |y: u32| y;\n        self.items.clear();\n    }\n    fn restock(&self) {}\n}\n\
                   fn free() { inventory.restock(); }\n";
        let found = pairs(src);
        let ty = of(&found, Owner::Type(name_hash("Inventory")));
        assert_eq!(ty, ["items", "count", "fmt", "remove_item", "restock"]);
        assert_eq!(
            of(&found, Owner::Receiver(name_hash("inventory"))),
            ["restock"]
        );
        assert_eq!(of(&found, Owner::Receiver(name_hash("self"))), ["items"]);
        assert!(of(&found, Owner::Type(name_hash("free"))).is_empty());
    }

    #[test]
    fn python_classes() {
        let src = "class Shelf:\n    def __init__(self):\n        self.slots = []\n\n    # note\n    def put(self, x):\n        def inner():\n            pass\n\ndef put_all(shelf):\n    shelf.put(1)\n";
        let found = pairs(src);
        assert_eq!(
            of(&found, Owner::Type(name_hash("Shelf"))),
            ["__init__", "slots", "put"]
        );
        assert_eq!(of(&found, Owner::Receiver(name_hash("shelf"))), ["put"]);
    }
}
