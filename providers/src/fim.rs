//! Fill-in-the-middle for providers that only chat (Anthropic, Bedrock).
//!
//! Neither the Anthropic Messages API nor Bedrock Converse has a FIM
//! endpoint, so [`crate::Provider::fim`] sends them a chat request built
//! here: the code before and after the cursor in `<prefix>` and `<suffix>`
//! tags, and the instruction to answer with only the code that goes at the
//! cursor, inside `<completion>` tags. `</completion>` is a stop sequence,
//! so generation ends as soon as the model closes the tag; [`extract`]
//! keeps what is inside, and strips a Markdown fence if the model added one
//! anyway.

use crate::types::{ChatRequest, Completion, FimRequest, Message, StopReason};

/// The tag the answer is wrapped in.
pub(crate) const OPEN: &str = "<completion>";
/// Its end, sent as a stop sequence.
pub(crate) const CLOSE: &str = "</completion>";
/// Tokens allowed beyond `max_tokens` for the tags themselves.
const TAG_TOKENS: u32 = 8;

/// The chat request that asks a chat model to fill in the middle.
pub(crate) fn chat_request(req: &FimRequest) -> ChatRequest {
    let language = if req.language_id.trim().is_empty() {
        "source".to_owned()
    } else {
        req.language_id.trim().to_owned()
    };
    let system = format!(
        "You are a code completion engine inside a code editor. You are shown a {language} file cut at the cursor: \
the code before the cursor in <prefix> tags and the code after it in <suffix> tags. \
Answer with only the code that goes at the cursor, inside {OPEN}{CLOSE} tags: \
no explanation, no Markdown, and do not repeat code from the prefix or the suffix. \
Keep the file's indentation and style. If nothing should be inserted, answer {OPEN}{CLOSE}."
    );
    let user = format!(
        "<prefix>{}</prefix><suffix>{}</suffix>\n\nAnswer with only the code that goes at the cursor, between the prefix and the suffix, inside {OPEN}{CLOSE}.",
        req.prefix, req.suffix
    );
    let mut stop = vec![CLOSE.to_owned()];
    stop.extend(
        req.stop
            .iter()
            .filter(|s| !s.is_empty() && *s != CLOSE)
            .cloned(),
    );
    ChatRequest {
        system,
        messages: vec![Message::user(user)],
        max_tokens: req.max_tokens.saturating_add(TAG_TOKENS),
        temperature: Some(0.0),
        stop,
        metadata: req.metadata.clone(),
    }
}

/// The code inside the `<completion>` tag of a chat answer (or, when the
/// model left out the tags, the answer without a Markdown fence).
pub(crate) fn extract(answer: &str) -> String {
    let body = match answer.find(OPEN) {
        Some(at) => &answer[at + OPEN.len()..],
        None => answer,
    };
    let body = match body.find(CLOSE) {
        Some(at) => &body[..at],
        None => body,
    };
    strip_fence(body).to_owned()
}

/// Turn the chat answer to [`chat_request`] into the FIM completion. The
/// stop reason of our own `</completion>` stop sequence is `End`; with
/// caller stop sequences, a stop sequence stays `StopSequence`.
pub(crate) fn completion(req: &FimRequest, answer: Completion) -> Completion {
    let stop_reason = match answer.stop_reason {
        StopReason::StopSequence if req.stop.iter().all(|s| s.is_empty()) => StopReason::End,
        other => other,
    };
    Completion {
        text: extract(&answer.text),
        usage: answer.usage,
        stop_reason,
        meta: answer.meta,
    }
}

/// `text` without a surrounding ```` ``` ```` fence, if it has one.
fn strip_fence(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return text;
    };
    let Some(newline) = rest.find('\n') else {
        return text;
    };
    // The first line may name the language: ```rust
    if rest[..newline].contains(char::is_whitespace) {
        return text;
    }
    let inner = &rest[newline + 1..];
    match inner.trim_end().strip_suffix("```") {
        Some(code) => code.strip_suffix('\n').unwrap_or(code),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Role, Usage};

    fn request() -> FimRequest {
        FimRequest {
            prefix: "fn add(a: i32, b: i32) -> i32 {\n    ".into(),
            suffix: "\n}\n".into(),
            language_id: "rust".into(),
            max_tokens: 64,
            stop: vec!["\n\n".into()],
            metadata: [("feature".to_owned(), "complete".to_owned())].into(),
        }
    }

    #[test]
    fn prompt_puts_prefix_and_suffix_in_tags() {
        let chat = chat_request(&request());
        assert!(chat.system.contains("rust file"));
        assert!(
            chat.system
                .contains("Answer with only the code that goes at the cursor")
        );
        assert_eq!(chat.messages.len(), 1);
        assert_eq!(chat.messages[0].role, Role::User);
        assert!(chat.messages[0].content.starts_with(
            "<prefix>fn add(a: i32, b: i32) -> i32 {\n    </prefix><suffix>\n}\n</suffix>"
        ));
        assert_eq!(
            chat.stop,
            vec!["</completion>".to_owned(), "\n\n".to_owned()]
        );
        assert_eq!(chat.max_tokens, 72);
        assert_eq!(chat.temperature, Some(0.0));
        assert_eq!(chat.metadata, request().metadata);
        let mut no_lang = request();
        no_lang.language_id = String::new();
        assert!(chat_request(&no_lang).system.contains("a source file"));
    }

    #[test]
    fn extracts_the_code_at_the_cursor() {
        assert_eq!(extract("<completion>a + b"), "a + b");
        assert_eq!(extract("<completion>a + b</completion>"), "a + b");
        assert_eq!(extract("Sure:\n<completion>\n    a + b\n"), "\n    a + b\n");
        assert_eq!(extract("<completion></completion>"), "");
        assert_eq!(extract("a + b"), "a + b");
        assert_eq!(extract("```rust\na + b\n```"), "a + b");
        assert_eq!(extract("<completion>```\nx\ny\n```"), "x\ny");
        // Not a fence: keep as is.
        assert_eq!(extract("```not a fence```"), "```not a fence```");
    }

    #[test]
    fn our_stop_sequence_is_a_normal_end() {
        let answer = Completion {
            text: "<completion>a + b".into(),
            usage: Usage {
                input_tokens: 40,
                output_tokens: 6,
            },
            stop_reason: StopReason::StopSequence,
            meta: crate::types::CallMeta {
                request_id: Some("req-7".into()),
                ..Default::default()
            },
        };
        let mut req = request();
        req.stop.clear();
        let c = completion(&req, answer.clone());
        assert_eq!(c.text, "a + b");
        assert_eq!(c.stop_reason, StopReason::End);
        assert_eq!(c.usage.output_tokens, 6);
        assert_eq!(c.meta.request_id.as_deref(), Some("req-7"));
        assert_eq!(
            completion(&request(), answer).stop_reason,
            StopReason::StopSequence
        );
    }
}
