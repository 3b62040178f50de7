//! Tests of the cordon-policy crate, in one binary to keep linking cheap.

mod audit;
mod budget;
mod common;
mod exclusion;
mod explain;
mod export;
mod parse;
mod prop;
mod redact;
mod redaction_corpus;
mod residency;
mod semantics;
mod trust;
