//! The two error types: [`ConfigError`] when a backend cannot be built from
//! its configuration, and [`ProviderError`] when a request fails.
//!
//! Every message starts with "backend `NAME`:" and ends with what to do next.
//! No message ever contains an API key: keys live in [`crate::Secret`], and
//! any text a server sends back is scrubbed of the key before it is quoted.

use std::time::Duration;

/// A backend's configuration cannot be used.
///
/// Returned by [`crate::Provider::new`]; the message names the backend and
/// the key or environment variable to fix, e.g. "backend `claude`:
/// ANTHROPIC_API_KEY is not set — export it, or set api_key_env to the
/// variable that holds the key".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    backend: String,
    message: String,
}

impl ConfigError {
    /// An error for `backend`; `what` is the rest of the sentence after
    /// "backend `NAME`: ".
    pub(crate) fn new(backend: &str, what: impl std::fmt::Display) -> Self {
        ConfigError {
            backend: backend.to_owned(),
            message: format!("backend `{backend}`: {what}"),
        }
    }

    /// The name of the backend whose configuration is wrong.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The whole message, as `Display` prints it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A request to a provider failed.
///
/// Each variant carries the backend name and a complete, human message
/// (what `Display` prints) that says what happened and what to do next.
/// Cancellation has no variant: a request is cancelled by dropping its
/// future or its stream, which drops the HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider rejected the credentials (401, 403, AWS signature or
    /// access errors, no AWS credentials found). Not retried.
    #[error("{message}")]
    Auth {
        /// Backend name.
        backend: String,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// The provider is rate limiting (429, Bedrock `ThrottlingException`).
    /// Retried within `max_retries` when the wait it asks for is short;
    /// this error means the retries ran out or the wait was too long.
    #[error("{message}")]
    RateLimited {
        /// Backend name.
        backend: String,
        /// How long the provider asked to wait (`retry-after`), if it said.
        retry_after: Option<Duration>,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// No answer within `timeout_ms` (whole request; for streams, the first
    /// byte and every gap between chunks). Not retried.
    #[error("{message}")]
    Timeout {
        /// Backend name.
        backend: String,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// The provider could not be reached or failed: 5xx or 529, connection
    /// refused or reset, DNS failure, a stream that ended early. Retried
    /// within `max_retries` while no text has been delivered.
    #[error("{message}")]
    Unavailable {
        /// Backend name.
        backend: String,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// The provider rejected the request (4xx other than 401/403/429):
    /// unknown model, prompt too long, bad parameter. Not retried.
    #[error("{message}")]
    InvalidRequest {
        /// Backend name.
        backend: String,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// The reply could not be understood: not JSON, not the provider's
    /// shape, a broken event stream, or larger than the size cap.
    #[error("{message}")]
    Malformed {
        /// Backend name.
        backend: String,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// The backend is configured not to serve this kind of request (e.g.
    /// `fim = "none"`).
    #[error("{message}")]
    Unsupported {
        /// Backend name.
        backend: String,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// A Bedrock guardrail intervened (stop reason `guardrail_intervened`):
    /// the input or the answer was blocked, and the text Bedrock returned
    /// in its place (the guardrail's "blocked" message) is not an answer.
    /// For a stream, the text already delivered is followed by this error,
    /// never by [`crate::StreamEvent::Done`]. Not retried.
    #[error("{message}")]
    GuardrailIntervened {
        /// Backend name.
        backend: String,
        /// The identifier (or ARN) of the guardrail configured on the
        /// backend; `None` when none is configured, so a guardrail enforced
        /// on the account or the organization intervened.
        guardrail: Option<String>,
        /// Its version (`1`, `DRAFT`), with `guardrail`.
        version: Option<String>,
        /// Human message: "backend `NAME`: guardrail `ID` (version N)
        /// intervened; the answer was blocked".
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
    /// Bedrock refused the call because a guardrail is required and the
    /// request did not name it (an `AccessDeniedException` about the IAM
    /// condition `bedrock:GuardrailIdentifier`, or mentioning a guardrail).
    /// The fix is the backend's `guardrail` setting, not the credentials.
    /// Not retried.
    #[error("{message}")]
    GuardrailRequired {
        /// Backend name.
        backend: String,
        /// Human message.
        message: String,
        /// The provider's request id, if the reply carried one.
        request_id: Option<String>,
    },
}

/// Which [`ProviderError`] variant to build; used by the constructors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Auth,
    RateLimited(Option<Duration>),
    Timeout,
    Unavailable,
    InvalidRequest,
    Malformed,
    Unsupported,
    GuardrailRequired,
}

impl ProviderError {
    /// An error of `kind` for `backend`; `what` is the rest of the message
    /// after "backend `NAME`: ".
    pub(crate) fn new(kind: Kind, backend: &str, what: impl std::fmt::Display) -> Self {
        let backend = backend.to_owned();
        let message = format!("backend `{backend}`: {what}");
        let request_id = None;
        match kind {
            Kind::Auth => ProviderError::Auth {
                backend,
                message,
                request_id,
            },
            Kind::RateLimited(retry_after) => ProviderError::RateLimited {
                backend,
                retry_after,
                message,
                request_id,
            },
            Kind::Timeout => ProviderError::Timeout {
                backend,
                message,
                request_id,
            },
            Kind::Unavailable => ProviderError::Unavailable {
                backend,
                message,
                request_id,
            },
            Kind::InvalidRequest => ProviderError::InvalidRequest {
                backend,
                message,
                request_id,
            },
            Kind::Malformed => ProviderError::Malformed {
                backend,
                message,
                request_id,
            },
            Kind::Unsupported => ProviderError::Unsupported {
                backend,
                message,
                request_id,
            },
            Kind::GuardrailRequired => ProviderError::GuardrailRequired {
                backend,
                message,
                request_id,
            },
        }
    }

    /// The error for a guardrail intervention on `backend`, whose
    /// configured guardrail (if any) is `guardrail` at `version`.
    pub(crate) fn guardrail_intervened(
        backend: &str,
        guardrail: Option<(&str, &str)>,
        request_id: Option<String>,
    ) -> Self {
        let message = match guardrail {
            Some((id, version)) => format!(
                "backend `{backend}`: guardrail `{id}` (version {version}) intervened; the answer was blocked"
            ),
            None => format!(
                "backend `{backend}`: a guardrail enforced on the AWS account or organization intervened; the answer was blocked"
            ),
        };
        ProviderError::GuardrailIntervened {
            backend: backend.to_owned(),
            guardrail: guardrail.map(|(id, _)| id.to_owned()),
            version: guardrail.map(|(_, v)| v.to_owned()),
            message,
            request_id,
        }
    }

    /// This error, carrying the provider's request id `id` (when it is
    /// `Some` and not empty; an id already set is kept otherwise).
    pub(crate) fn with_request_id(mut self, id: Option<impl Into<String>>) -> Self {
        let Some(id) = id.map(Into::into).filter(|id| !id.is_empty()) else {
            return self;
        };
        match &mut self {
            ProviderError::Auth { request_id, .. }
            | ProviderError::RateLimited { request_id, .. }
            | ProviderError::Timeout { request_id, .. }
            | ProviderError::Unavailable { request_id, .. }
            | ProviderError::InvalidRequest { request_id, .. }
            | ProviderError::Malformed { request_id, .. }
            | ProviderError::Unsupported { request_id, .. }
            | ProviderError::GuardrailIntervened { request_id, .. }
            | ProviderError::GuardrailRequired { request_id, .. } => *request_id = Some(id),
        }
        self
    }

    /// The provider's id of the failed request (Bedrock `x-amzn-RequestId`,
    /// Anthropic `request-id`, OpenAI-compatible `x-request-id`), when the
    /// provider answered with one: joins a refused call to CloudTrail,
    /// CloudWatch invocation logs or a support ticket. `None` when no reply
    /// came (connection, timeout) or it carried no id.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ProviderError::Auth { request_id, .. }
            | ProviderError::RateLimited { request_id, .. }
            | ProviderError::Timeout { request_id, .. }
            | ProviderError::Unavailable { request_id, .. }
            | ProviderError::InvalidRequest { request_id, .. }
            | ProviderError::Malformed { request_id, .. }
            | ProviderError::Unsupported { request_id, .. }
            | ProviderError::GuardrailIntervened { request_id, .. }
            | ProviderError::GuardrailRequired { request_id, .. } => request_id.as_deref(),
        }
    }

    /// The name of the backend the request went to.
    pub fn backend(&self) -> &str {
        match self {
            ProviderError::Auth { backend, .. }
            | ProviderError::RateLimited { backend, .. }
            | ProviderError::Timeout { backend, .. }
            | ProviderError::Unavailable { backend, .. }
            | ProviderError::InvalidRequest { backend, .. }
            | ProviderError::Malformed { backend, .. }
            | ProviderError::Unsupported { backend, .. }
            | ProviderError::GuardrailIntervened { backend, .. }
            | ProviderError::GuardrailRequired { backend, .. } => backend,
        }
    }

    /// The whole message, as `Display` prints it.
    pub fn message(&self) -> &str {
        match self {
            ProviderError::Auth { message, .. }
            | ProviderError::RateLimited { message, .. }
            | ProviderError::Timeout { message, .. }
            | ProviderError::Unavailable { message, .. }
            | ProviderError::InvalidRequest { message, .. }
            | ProviderError::Malformed { message, .. }
            | ProviderError::Unsupported { message, .. }
            | ProviderError::GuardrailIntervened { message, .. }
            | ProviderError::GuardrailRequired { message, .. } => message,
        }
    }

    /// Whether this crate retries this error (rate limits and unavailable
    /// providers, while no text has been delivered).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. } | ProviderError::Unavailable { .. }
        )
    }

    /// How long the provider asked to wait, for [`ProviderError::RateLimited`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_backend() {
        let e = ProviderError::new(
            Kind::Auth,
            "claude",
            "401 from Anthropic — check ANTHROPIC_API_KEY",
        );
        assert_eq!(
            e.to_string(),
            "backend `claude`: 401 from Anthropic — check ANTHROPIC_API_KEY"
        );
        assert_eq!(e.backend(), "claude");
        assert!(!e.is_retryable());
        let e = ProviderError::new(
            Kind::RateLimited(Some(Duration::from_secs(3))),
            "gpt",
            "429",
        );
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let c = ConfigError::new("claude", "ANTHROPIC_API_KEY is not set");
        assert_eq!(
            c.to_string(),
            "backend `claude`: ANTHROPIC_API_KEY is not set"
        );
        assert_eq!(c.backend(), "claude");
    }

    #[test]
    fn request_ids_and_guardrail_messages() {
        let e = ProviderError::new(Kind::Unavailable, "b", "503").with_request_id(Some("req-1"));
        assert_eq!(e.request_id(), Some("req-1"));
        let e = e.with_request_id(None::<String>).with_request_id(Some(""));
        assert_eq!(e.request_id(), Some("req-1"));
        let e =
            ProviderError::guardrail_intervened("br", Some(("gr-abc123", "1")), Some("r".into()));
        assert_eq!(
            e.to_string(),
            "backend `br`: guardrail `gr-abc123` (version 1) intervened; the answer was blocked"
        );
        assert_eq!(e.request_id(), Some("r"));
        assert!(!e.is_retryable());
        let e = ProviderError::guardrail_intervened("br", None, None);
        assert!(matches!(
            e,
            ProviderError::GuardrailIntervened {
                guardrail: None,
                ..
            }
        ));
        assert!(e.to_string().contains("enforced on the AWS account"), "{e}");
    }
}
