//! Text that came from a plugin (or a model) made safe to show: bounded in
//! size and free of control characters, so that an error message, a log
//! line or an explanation can neither flood a log or an editor nor drive
//! the user's terminal (escape sequences, OSC 52 clipboard writes, bells).

/// Most bytes of an error message kept.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// `text` as one line of at most `max` bytes: control characters (C0, DEL
/// and C1, ESC included) become spaces, and a cut is marked with `…`.
pub fn one_line(text: &str, max: usize) -> String {
    clean(text, max, |_| false)
}

/// `text` for a terminal or an editor pane, at most `max` bytes: newlines
/// and tabs stay, every other control character is dropped.
pub fn for_terminal(text: &str, max: usize) -> String {
    clean(text, max, |c| c == '\n' || c == '\t')
}

fn clean(text: &str, max: usize, keep: impl Fn(char) -> bool) -> String {
    let multi_line = keep('\n');
    let mut out = String::with_capacity(text.len().min(max) + 4);
    for c in text.chars() {
        let c = match c {
            '\r' if multi_line => '\n',
            c if c.is_control() && !keep(c) => {
                if multi_line {
                    continue;
                }
                ' '
            }
            c => c,
        };
        out.push(c);
        // Stop reading as soon as the text is known not to fit.
        if out.len() > max {
            break;
        }
    }
    if out.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_never_reach_the_terminal() {
        let osc52 = "ok\x1b]52;c;ZXZpbA==\x07 done\x1b[2J\u{9b}31m";
        let shown = for_terminal(osc52, 1024);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert_eq!(shown, "ok]52;c;ZXZpbA== done[2J31m");
        assert_eq!(for_terminal("a\r\nb\tc", 100), "a\n\nb\tc");
        assert_eq!(one_line("two\nlines\x1b", 100), "two lines ");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(10_000);
        let cut = one_line(&long, 1024);
        assert!(cut.len() <= 1024, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert_eq!(one_line("short", 1024), "short");
        let exact = "x".repeat(1024);
        assert_eq!(one_line(&exact, 1024), exact, "text that fits is not cut");
    }
}
