//! Budgets with a deterministic clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cordon_policy::{BudgetError, Budgets, Limits};

fn at(secs: u64) -> SystemTime {
    // A fixed, minute-aligned start.
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_040 + secs)
}

fn rpm(n: u64) -> Limits {
    Limits {
        requests_per_minute: Some(n),
        ..Limits::default()
    }
}

fn tpd(n: u64) -> Limits {
    Limits {
        tokens_per_day: Some(n),
        ..Limits::default()
    }
}

#[test]
fn requests_per_minute_is_a_sliding_window() {
    let b = Budgets::new();
    let l = rpm(3);
    for t in [0, 10, 20] {
        b.try_acquire("p", &l, at(t)).unwrap();
    }
    let err = b.try_acquire("p", &l, at(30)).unwrap_err();
    assert_eq!(
        err,
        BudgetError::RequestsPerMinute {
            plugin: "p".into(),
            limit: 3,
            retry_after: Some(Duration::from_secs(30))
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("limit of 3 model requests per minute") && msg.contains("try again in 30 s"),
        "{msg}"
    );
    assert!(msg.contains("requests_per_minute"), "{msg}");
    // A refused request is not counted; the first leaves the window at 60 s.
    assert!(b.try_acquire("p", &l, at(59)).is_err());
    b.try_acquire("p", &l, at(60)).unwrap();
    assert_eq!(
        b.try_acquire("p", &l, at(61)).unwrap_err().retry_after(),
        Some(Duration::from_secs(9))
    );
    // Plugins have separate budgets.
    b.try_acquire("q", &l, at(61)).unwrap();
}

#[test]
fn no_limit_means_no_counting_and_zero_means_none() {
    let b = Budgets::new();
    for _ in 0..1000 {
        b.try_acquire("p", &Limits::default(), at(0)).unwrap();
    }
    let err = b.try_acquire("p", &rpm(0), at(0)).unwrap_err();
    assert_eq!(err.retry_after(), None);
    assert!(
        err.to_string().contains("`requests_per_minute` = 0"),
        "{err}"
    );
    let err = b.try_acquire("p", &tpd(0), at(0)).unwrap_err();
    assert!(
        matches!(
            err,
            BudgetError::TokensPerDay {
                used: 0,
                limit: 0,
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn tokens_per_day_is_a_sliding_day() {
    let b = Budgets::new();
    let l = tpd(1000);
    b.try_acquire("p", &l, at(0)).unwrap();
    b.record_tokens("p", 600, at(0));
    b.try_acquire("p", &l, at(3600)).unwrap();
    b.record_tokens("p", 500, at(3600));
    assert_eq!(b.tokens_used("p", at(3600)), 1100);
    assert_eq!(b.remaining_tokens("p", &l, at(3600)), Some(0));
    let err = b.try_acquire("p", &l, at(7200)).unwrap_err();
    assert_eq!(
        err,
        BudgetError::TokensPerDay {
            plugin: "p".into(),
            used: 1100,
            limit: 1000,
            retry_after: Some(Duration::from_secs(86_400 - 7200)),
        }
    );
    assert!(
        err.to_string()
            .contains("used 1100 of its 1000 model tokens"),
        "{err}"
    );
    // 24 hours after the first tokens, they leave the window.
    assert!(b.try_acquire("p", &l, at(86_399)).is_err());
    b.try_acquire("p", &l, at(86_400)).unwrap();
    assert_eq!(b.tokens_used("p", at(86_400)), 500);
    assert_eq!(b.remaining_tokens("p", &l, at(86_400)), Some(500));
    assert_eq!(
        b.remaining_tokens("p", &Limits::default(), at(86_400)),
        None
    );
    assert_eq!(b.tokens_used("p", at(86_400 + 3600)), 0);
}

#[test]
fn a_clock_stepping_back_does_not_reopen_the_window() {
    let b = Budgets::new();
    let l = rpm(1);
    b.try_acquire("p", &l, at(100)).unwrap();
    assert!(b.try_acquire("p", &l, at(0)).is_err());
    assert!(b.try_acquire("p", &l, at(150)).is_err());
    b.try_acquire("p", &l, at(160)).unwrap();
}

#[test]
fn budgets_are_shared_between_threads() {
    let b = Arc::new(Budgets::new());
    let l = rpm(50);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                (0..40)
                    .filter(|_| b.try_acquire("p", &l, at(0)).is_ok())
                    .count()
            })
        })
        .collect();
    let granted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(granted, 50);
}
