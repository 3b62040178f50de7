//! Private key blocks.

use std::ops::Range;

/// Extends a `BEGIN … PRIVATE KEY` header at `header` over its block: up
/// to the `END` line when there is one before the next `BEGIN`, else (a
/// context window cut the block) over the following base64 and header
/// lines. Accepted only with a base64 body, so a PEM parser's constants are
/// left alone.
pub(super) fn private_key_block(header: Range<usize>, text: &str) -> Option<Range<usize>> {
    let after = header.end;
    let rest = &text[after..];
    let limit = rest.find("-----BEGIN").unwrap_or(rest.len());
    let end = match rest[..limit].find("-----END") {
        Some(i) => {
            let marker = i + "-----END".len();
            match rest[marker..limit].find("-----") {
                Some(j) if j <= 40 => after + marker + j + "-----".len(),
                _ => after + marker,
            }
        }
        None => {
            let mut end = 0;
            let mut offset = 0;
            let mut after_header = false;
            for line in rest[..limit].split_inclusive('\n') {
                let content = line.trim_end_matches(['\n', '\r']).trim();
                let unescaped = content.replace("\\n", "").replace("\\r", "");
                let base64 = !unescaped.is_empty()
                    && unescaped
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                let pem_header = content.split_once(": ").is_some_and(|(name, _)| {
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
                });
                let blank_after_header = content.is_empty() && after_header;
                if offset == 0 && content.is_empty() {
                    // The rest of the BEGIN line.
                } else if !(base64 || pem_header || blank_after_header) {
                    break;
                }
                after_header = pem_header;
                offset += line.len();
                if !content.is_empty() {
                    end = offset - (line.len() - line.trim_end().len());
                }
            }
            after + end
        }
    };
    let longest_run = text[after..end]
        .bytes()
        .fold((0usize, 0usize), |(run, best), b| {
            if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
                (run + 1, best.max(run + 1))
            } else {
                (0, best)
            }
        })
        .1;
    (longest_run >= 40).then_some(header.start..end)
}
