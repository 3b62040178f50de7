//! Helpers that turn fuzz bytes into structured input (`arbitrary`'s
//! `Unstructured`), biased towards the values parsers care about.

use arbitrary::{Result, Unstructured};

/// A line or character number: mostly small, sometimes at the edges.
pub fn coordinate(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => u32::MAX,
        1 => u.arbitrary()?,
        2 => u.int_in_range(0..=300)?,
        n => u32::from(n) - 3,
    })
}

/// Text: mostly from an alphabet rich in line breaks and multi-unit
/// characters, sometimes any string.
pub fn text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    const ALPHABET: &[char] = &[
        'a', 'b', ' ', '\n', '\r', '\t', 'é', '\u{301}', '中', '🦀', '\u{2028}', '\u{85}', '{',
        '}', '"', '\0',
    ];
    if u.ratio(1u8, 8)? {
        let s: &str = u.arbitrary()?;
        return Ok(s.chars().take(max).collect());
    }
    let len = u.int_in_range(0..=max)?;
    let mut out = String::new();
    for _ in 0..len {
        if u.is_empty() {
            break;
        }
        out.push(*u.choose(ALPHABET)?);
    }
    Ok(out)
}

/// Split `data` at the separator line `%%\n` into at most `max` parts.
pub fn parts(data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() + 1 < max {
        match rest.windows(3).position(|w| w == b"%%\n") {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + 3..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
}

/// Run `future` to completion on this thread's current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(future))
}
