//! A small inventory, to try Cordon on.

/// Items in stock, by name.
pub struct Inventory {
    items: Vec<Item>,
}

impl Inventory {
    /// Names of the items that are in stock.
    pub fn in_stock(&self) -> Vec<String> {
        let mut names = Vec::new();
        
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
}

mod item;
pub use item::Item;
