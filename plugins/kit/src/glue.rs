//! The [`wit_glue!`](crate::wit_glue) macro.

/// Generates a module `glue` converting between this crate's types and the
/// types that `wit_bindgen::generate!` produced for a `cordon:plugin@0.1.0`
/// world, plus `glue::HostModel`, a [`Model`](crate::Model) that calls the
/// imported `model` interface.
///
/// Invoke it in the module that invoked `wit_bindgen::generate!` (the
/// generated `cordon::plugin::{types, model}` modules must be siblings of the
/// invocation). Every world of the package imports `model`, so the macro
/// works in any of them. It is plain Rust: this crate itself does not depend
/// on wit-bindgen.
///
/// ```text
/// wit_bindgen::generate!({ path: "../../wit", world: "explain-plugin" });
/// cordon_plugin_kit::wit_glue!();
/// let ctx: cordon_plugin_kit::DocumentContext = glue::context_to_kit(wit_ctx);
/// ```
#[macro_export]
macro_rules! wit_glue {
    () => {
        /// Conversions between the WIT-generated types and the kit's types.
        #[allow(dead_code)]
        mod glue {
            use super::cordon::plugin::model as wit_model;
            use super::cordon::plugin::types as wit_types;

            /// WIT position to kit position.
            pub fn position_to_kit(p: wit_types::Position) -> $crate::Position {
                $crate::Position {
                    line: p.line,
                    character: p.character,
                }
            }

            /// Kit position to WIT position.
            pub fn position_to_wit(p: $crate::Position) -> wit_types::Position {
                wit_types::Position {
                    line: p.line,
                    character: p.character,
                }
            }

            /// WIT range to kit range.
            pub fn range_to_kit(r: wit_types::Range) -> $crate::Range {
                $crate::Range {
                    start: position_to_kit(r.start),
                    end: position_to_kit(r.end),
                }
            }

            /// Kit range to WIT range.
            pub fn range_to_wit(r: $crate::Range) -> wit_types::Range {
                wit_types::Range {
                    start: position_to_wit(r.start),
                    end: position_to_wit(r.end),
                }
            }

            fn severity_to_kit(s: wit_types::Severity) -> $crate::Severity {
                match s {
                    wit_types::Severity::Error => $crate::Severity::Error,
                    wit_types::Severity::Warning => $crate::Severity::Warning,
                    wit_types::Severity::Information => $crate::Severity::Information,
                    wit_types::Severity::Hint => $crate::Severity::Hint,
                }
            }

            /// WIT document context to kit document context (moves the strings).
            pub fn context_to_kit(c: wit_types::DocumentContext) -> $crate::DocumentContext {
                $crate::DocumentContext {
                    language_id: c.language_id,
                    path: c.path,
                    cursor: position_to_kit(c.cursor),
                    prefix: c.prefix,
                    suffix: c.suffix,
                    prefix_truncated: c.prefix_truncated,
                    suffix_truncated: c.suffix_truncated,
                    selection: c.selection.map(range_to_kit),
                    selected_text: c.selected_text,
                    diagnostics: c
                        .diagnostics
                        .into_iter()
                        .map(|d| $crate::Diagnostic {
                            range: range_to_kit(d.range),
                            severity: severity_to_kit(d.severity),
                            message: d.message,
                        })
                        .collect(),
                }
            }

            /// Kit error to WIT error.
            pub fn error_to_wit(e: $crate::Error) -> wit_types::Error {
                match e {
                    $crate::Error::Denied(m) => wit_types::Error::Denied(m),
                    $crate::Error::BudgetExceeded(m) => wit_types::Error::BudgetExceeded(m),
                    $crate::Error::RateLimited(m) => wit_types::Error::RateLimited(m),
                    $crate::Error::Timeout(m) => wit_types::Error::Timeout(m),
                    $crate::Error::Unavailable(m) => wit_types::Error::Unavailable(m),
                    $crate::Error::InvalidRequest(m) => wit_types::Error::InvalidRequest(m),
                }
            }

            /// WIT error to kit error.
            pub fn error_to_kit(e: wit_types::Error) -> $crate::Error {
                match e {
                    wit_types::Error::Denied(m) => $crate::Error::Denied(m),
                    wit_types::Error::BudgetExceeded(m) => $crate::Error::BudgetExceeded(m),
                    wit_types::Error::RateLimited(m) => $crate::Error::RateLimited(m),
                    wit_types::Error::Timeout(m) => $crate::Error::Timeout(m),
                    wit_types::Error::Unavailable(m) => $crate::Error::Unavailable(m),
                    wit_types::Error::InvalidRequest(m) => $crate::Error::InvalidRequest(m),
                }
            }

            fn purpose_to_wit(p: $crate::Purpose) -> wit_model::Purpose {
                match p {
                    $crate::Purpose::Completion => wit_model::Purpose::Completion,
                    $crate::Purpose::Explain => wit_model::Purpose::Explain,
                    $crate::Purpose::Refactor => wit_model::Purpose::Refactor,
                    $crate::Purpose::Chat => wit_model::Purpose::Chat,
                }
            }

            /// Kit chat request to WIT chat request.
            pub fn chat_request_to_wit(r: &$crate::ChatRequest) -> wit_model::ChatRequest {
                wit_model::ChatRequest {
                    purpose: purpose_to_wit(r.purpose),
                    system: r.system.clone(),
                    messages: r
                        .messages
                        .iter()
                        .map(|m| wit_model::Message {
                            role: match m.role {
                                $crate::Role::User => wit_model::Role::User,
                                $crate::Role::Assistant => wit_model::Role::Assistant,
                            },
                            content: m.content.clone(),
                        })
                        .collect(),
                    max_tokens: r.max_tokens,
                    temperature: r.temperature,
                    stop: r.stop.clone(),
                }
            }

            /// Kit FIM request to WIT FIM request.
            pub fn fim_request_to_wit(r: &$crate::FimRequest) -> wit_model::FimRequest {
                wit_model::FimRequest {
                    prefix: r.prefix.clone(),
                    suffix: r.suffix.clone(),
                    language_id: r.language_id.clone(),
                    path: r.path.clone(),
                    max_tokens: r.max_tokens,
                    stop: r.stop.clone(),
                }
            }

            /// WIT response to kit response.
            pub fn response_to_kit(r: wit_model::Response) -> $crate::Response {
                $crate::Response {
                    text: r.text,
                    usage: $crate::Usage {
                        input_tokens: r.usage.input_tokens,
                        output_tokens: r.usage.output_tokens,
                    },
                    stop_reason: match r.stop_reason {
                        wit_model::StopReason::End => $crate::StopReason::End,
                        wit_model::StopReason::MaxTokens => $crate::StopReason::MaxTokens,
                        wit_model::StopReason::StopSequence => $crate::StopReason::StopSequence,
                    },
                    backend: r.backend,
                    model: r.model,
                }
            }

            /// The model capability the host grants this plugin.
            pub struct HostModel;

            impl $crate::Model for HostModel {
                fn chat(
                    &mut self,
                    req: &$crate::ChatRequest,
                ) -> Result<$crate::Response, $crate::Error> {
                    wit_model::chat(&chat_request_to_wit(req))
                        .map(response_to_kit)
                        .map_err(error_to_kit)
                }

                fn fim(
                    &mut self,
                    req: &$crate::FimRequest,
                ) -> Result<$crate::Response, $crate::Error> {
                    wit_model::fim(&fim_request_to_wit(req))
                        .map(response_to_kit)
                        .map_err(error_to_kit)
                }

                fn chat_stream(
                    &mut self,
                    req: &$crate::ChatRequest,
                ) -> Result<$crate::Response, $crate::Error> {
                    let stream =
                        wit_model::chat_stream(&chat_request_to_wit(req)).map_err(error_to_kit)?;
                    let mut text = String::new();
                    while let Some(piece) = stream.next().map_err(error_to_kit)? {
                        text.push_str(&piece);
                    }
                    let usage = stream.usage();
                    // The stream does not say why the answer ended or who
                    // wrote it; the host's audit record does.
                    Ok($crate::Response {
                        text,
                        usage: $crate::Usage {
                            input_tokens: usage.input_tokens,
                            output_tokens: usage.output_tokens,
                        },
                        stop_reason: $crate::StopReason::End,
                        backend: String::new(),
                        model: String::new(),
                    })
                }
            }
        }
    };
}
