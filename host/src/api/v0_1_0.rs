//! `cordon:plugin@0.1.0` (`wit/0.1.0/`), the first plugin API, kept for
//! the plugins built against it.
//!
//! The bindings, and [`Convert`] between them and the latest version's
//! types (generated from identical WIT, so every conversion is field by
//! field). Its imports are implemented in `gate::v0_1_0` as adapters over
//! the latest ones; [`super::guest`] calls its exports. 0.2.0 differs only
//! in `describe`'s `info`, which gained `requests`: a 0.1.0 plugin's
//! requests are not declared.

use crate::api::cordon::plugin as latest;
use crate::api::exports::cordon::plugin as latest_exports;

/// The API version of these bindings.
pub const VERSION: &str = "0.1.0";

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "full-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "cordon:plugin/model.completion-stream": crate::gate::ModelStream,
    },
    trappable_error_type: {
        "cordon:plugin/types.error" => crate::gate::Refusal,
    },
});

use cordon::plugin::{log, model, types};
use exports::cordon::plugin::{completion, describe, refactor};

/// A value of one version as the same value of another (the two types are
/// generated from identical WIT).
pub(crate) trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! as_is {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(self) -> $t {
                self
            }
        }
    )*};
}
as_is!(String, u32, bool, f32);

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B, E: Convert<F>, F> Convert<Result<B, F>> for Result<A, E> {
    fn convert(self) -> Result<B, F> {
        self.map(Convert::convert).map_err(Convert::convert)
    }
}

/// Records with the same fields, both ways.
macro_rules! same_record {
    ($($a:path, $b:path { $($field:ident),* $(,)? })*) => {$(
        impl Convert<$b> for $a {
            fn convert(self) -> $b {
                use $b as B;
                B { $($field: self.$field.convert()),* }
            }
        }
        impl Convert<$a> for $b {
            fn convert(self) -> $a {
                use $a as A;
                A { $($field: self.$field.convert()),* }
            }
        }
    )*};
}

/// Enums with the same cases, both ways.
macro_rules! same_enum {
    ($($a:path, $b:path { $($case:ident),* $(,)? })*) => {$(
        impl Convert<$b> for $a {
            fn convert(self) -> $b {
                use $a as A;
                use $b as B;
                match self { $(A::$case => B::$case),* }
            }
        }
        impl Convert<$a> for $b {
            fn convert(self) -> $a {
                use $a as A;
                use $b as B;
                match self { $(B::$case => A::$case),* }
            }
        }
    )*};
}

/// Variants whose cases each carry one value, both ways.
macro_rules! same_variant {
    ($($a:path, $b:path { $($case:ident),* $(,)? })*) => {$(
        impl Convert<$b> for $a {
            fn convert(self) -> $b {
                use $a as A;
                use $b as B;
                match self { $(A::$case(v) => B::$case(v.convert())),* }
            }
        }
        impl Convert<$a> for $b {
            fn convert(self) -> $a {
                use $a as A;
                use $b as B;
                match self { $(B::$case(v) => A::$case(v.convert())),* }
            }
        }
    )*};
}

same_record! {
    types::Position, latest::types::Position { line, character }
    types::Range, latest::types::Range { start, end }
    types::TextEdit, latest::types::TextEdit { range, new_text }
    types::Diagnostic, latest::types::Diagnostic { range, severity, message }
    types::DocumentContext, latest::types::DocumentContext {
        language_id, path, cursor, prefix, suffix, prefix_truncated, suffix_truncated,
        selection, selected_text, diagnostics,
    }
    model::Message, latest::model::Message { role, content }
    model::ChatRequest, latest::model::ChatRequest {
        purpose, system, messages, max_tokens, temperature, stop,
    }
    model::FimRequest, latest::model::FimRequest {
        prefix, suffix, language_id, path, max_tokens, stop,
    }
    model::Usage, latest::model::Usage { input_tokens, output_tokens }
    model::Response, latest::model::Response { text, usage, stop_reason, backend, model }
    model::Candidate, latest::model::Candidate { text, detail }
    model::RankedResponse, latest::model::RankedResponse { response, candidates }
    completion::CompletionItem, latest_exports::completion::CompletionItem {
        label, insert_text, replace, detail,
    }
    refactor::Action, latest_exports::refactor::Action { id, title, kind, needs_instruction }
}

same_enum! {
    types::Severity, latest::types::Severity { Error, Warning, Information, Hint }
    model::Purpose, latest::model::Purpose { Completion, Explain, Refactor, Chat }
    model::Role, latest::model::Role { User, Assistant }
    model::StopReason, latest::model::StopReason { End, MaxTokens, StopSequence }
    log::Level, latest::log::Level { Trace, Debug, Info, Warn, Error }
}

same_variant! {
    types::Error, latest::types::Error {
        Denied, BudgetExceeded, RateLimited, Timeout, Unavailable, InvalidRequest,
    }
}

/// 0.1.0's `info` has no `requests`: such a plugin asks for nothing.
impl Convert<latest_exports::describe::Info> for describe::Info {
    fn convert(self) -> latest_exports::describe::Info {
        latest_exports::describe::Info {
            name: self.name,
            version: self.version,
            description: self.description,
            requests: Vec::new(),
        }
    }
}
