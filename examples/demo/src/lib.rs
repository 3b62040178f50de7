//! A small inventory, to try Cordon on.

/// Items in stock, by name.
pub struct Inventory {
    items: Vec<Item>,
}

impl Inventory {
    /// Names of the items that are sold out.
    pub fn sold_out(&self) -> Vec<String> {
        let mut names = Vec::new();
        for item in &self.items {
            if !item.in_stock() {
                names.push(item.name.clone());
            }
        }
        names
    }

    /// Names of the items with fewer than `threshold` units.
    pub fn low_stock(&self, threshold: u32) -> Vec<String> {
        let mut names = Vec::new();
        for item in &self.items {
            if item.quantity < threshold {
                names.push(item.name.clone());
            }
        }
        names
    }

    /// Names of the items whose name starts with `prefix`.
    pub fn starting_with(&self, prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        for item in &self.items {
            if item.name.starts_with(prefix) {
                names.push(item.name.clone());
            }
        }
        names
    }

    /// Names of every item.
    pub fn all_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for item in &self.items {
            names.push(item.name.clone());
        }
        names
    }

    /// Add `item` to the inventory.
    pub fn add(&mut self, item: Item) {
        self.items.push(item);
    }

    /// Total number of units in stock.
    pub fn units(&self) -> u32 {
        self.items.iter().map(|item| item.quantity).sum()
    }

    /// Names of the items that are in stock.
    pub fn in_stock(&self) -> Vec<String> {
        let mut names = Vec::new();
        
        names
    }
}

mod item;
pub use item::Item;
