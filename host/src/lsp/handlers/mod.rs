//! The request handlers, one module per LSP feature. Each takes the
//! server's state, cuts a [`Snapshot`](super::documents::Snapshot), calls
//! the plugins through the runtime and converts the answer (see
//! [`convert`](super::convert)); none sends an answer computed for an older
//! version of the document.

pub(crate) mod code_action;
pub(crate) mod command;
pub(crate) mod completion;
pub(crate) mod hover;
pub(crate) mod inline;
pub(crate) mod stats;
