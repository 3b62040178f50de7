//! Bounded retries with jittered exponential backoff, and `retry-after`.

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::error::ProviderError;

/// First backoff step.
const BASE_DELAY: Duration = Duration::from_millis(200);
/// Longest backoff step.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Longest `retry-after` this crate waits for; a provider asking for more
/// gets a [`ProviderError::RateLimited`] back at once, so the caller can
/// tell the user instead of hanging.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How long to wait before retry number `attempt` (0 for the first retry)
/// after `error`, or `None` when it must not be retried.
pub(crate) fn delay_before_retry(error: &ProviderError, attempt: u32) -> Option<Duration> {
    match error {
        ProviderError::RateLimited {
            retry_after: Some(wait),
            ..
        } => (*wait <= MAX_RETRY_AFTER).then_some(*wait),
        ProviderError::RateLimited { .. } | ProviderError::Unavailable { .. } => {
            Some(backoff(attempt))
        }
        _ => None,
    }
}

/// Exponential backoff with "equal jitter": a random delay between half and
/// all of `BASE_DELAY * 2^attempt`, capped at `MAX_DELAY`.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE_DELAY
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(MAX_DELAY);
    let half = ceiling / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Run `attempt` until it succeeds, fails with an error that is not
/// retried, or `max_retries` retries have been made; sleeping between
/// attempts as [`delay_before_retry`] says. `backend` names the backend in
/// log lines.
pub(crate) async fn with_retries<T, F, Fut>(
    backend: &str,
    max_retries: u32,
    mut attempt: F,
) -> Result<T, ProviderError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut n = 0;
    loop {
        match attempt(n).await {
            Ok(value) => return Ok(value),
            Err(error) => {
                if n >= max_retries {
                    return Err(error);
                }
                let Some(delay) = delay_before_retry(&error, n) else {
                    return Err(error);
                };
                tracing::debug!(
                    backend,
                    retry = n + 1,
                    max_retries,
                    delay_ms = delay.as_millis() as u64,
                    error = %error,
                    "retrying model request"
                );
                tokio::time::sleep(delay).await;
                n += 1;
            }
        }
    }
}

/// Parse a `retry-after` header: delay-seconds or an HTTP-date (RFC 9110
/// §10.2.3). A date in the past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(1e9)));
    }
    let date =
        aws_smithy_types::DateTime::from_str(value, aws_smithy_types::date_time::Format::HttpDate)
            .ok()?;
    let when = SystemTime::try_from(date).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait a reply asks for: `retry-after-ms` (sent by OpenAI and some
/// gateways) first, then `retry-after`.
pub(crate) fn retry_after_from_headers(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms.min(1e12) / 1000.0));
    }
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn parses_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn reads_retry_after_ms_first() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after_from_headers(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(
            retry_after_from_headers(&h),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for attempt in 0..40 {
            let ceiling = (BASE_DELAY * 2u32.pow(attempt.min(10))).min(MAX_DELAY);
            for _ in 0..50 {
                let d = backoff(attempt);
                assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn only_rate_limits_and_unavailable_are_retried() {
        let e = |k| ProviderError::new(k, "b", "x");
        assert!(delay_before_retry(&e(Kind::Unavailable), 0).is_some());
        assert!(delay_before_retry(&e(Kind::RateLimited(None)), 0).is_some());
        assert_eq!(
            delay_before_retry(&e(Kind::RateLimited(Some(Duration::from_secs(2)))), 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            delay_before_retry(&e(Kind::RateLimited(Some(Duration::from_secs(3600)))), 0),
            None
        );
        for k in [
            Kind::Auth,
            Kind::Timeout,
            Kind::InvalidRequest,
            Kind::Malformed,
            Kind::Unsupported,
        ] {
            assert_eq!(delay_before_retry(&e(k), 0), None);
        }
    }

    #[tokio::test]
    async fn with_retries_stops_after_max_retries() {
        let mut calls = 0;
        let r: Result<(), _> = with_retries("b", 2, |_| {
            calls += 1;
            async { Err(ProviderError::new(Kind::Unavailable, "b", "500")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: Result<(), _> = with_retries("b", 5, |_| {
            calls += 1;
            async { Err(ProviderError::new(Kind::InvalidRequest, "b", "400")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
