pub mod logic {}
