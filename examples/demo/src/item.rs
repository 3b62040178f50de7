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

/// Names of the items that are sold out.
pub fn sold_out(items: &[Item]) -> Vec<String> {
    let mut names = Vec::new();
    for item in items {
        if !item.in_stock() {
            names.push(item.name.clone());
        }
    }
    names
}

/// Names of every item.
pub fn all_names(items: &[Item]) -> Vec<String> {
    let mut names = Vec::new();
    for item in items {
        names.push(item.name.clone());
    }
    names
}
