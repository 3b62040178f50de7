//! One kind of item.

/// A named item and how many units are in stock.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    pub quantity: u32,
}

impl Item {
    /// A new item.
    pub fn new(name: &str, quantity: u32) -> Self {
        Item {
            name: name.to_string(),
            quantity,
        }
    }

    /// True when at least one unit is in stock.
    pub fn in_stock(&self) -> bool {
        self.quantity > 0
    }
}
