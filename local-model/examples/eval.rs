// THROWAWAY: quality + speed evaluation on real code. Deleted before handing over.
use cordon_local_model::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out)
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let src = PathBuf::from(&args[1]);
    let order: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(4);
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut model = LocalModel::new(ModelConfig {
        order,
        ..ModelConfig::default()
    });
    let mut test = Vec::new();
    let t = Instant::now();
    let mut train_lines = 0;
    for (i, p) in all.iter().enumerate() {
        let text = std::fs::read_to_string(p).unwrap();
        if i % 10 == 3 {
            test.push(text);
            continue;
        }
        train_lines += text.lines().count();
        model.update_file(&p.to_string_lossy(), &text);
    }
    let idx = t.elapsed();
    let st = model.stats();
    eprintln!("order {order}: trained on {train_lines} lines in {idx:?}; {st:?}");
    // (a) end-of-typed-text positions: cursor after k tokens of a line, suffix = next lines.
    let mut n = 0;
    let mut nonempty = 0;
    let mut correct = 0;
    let mut acc_chars = 0;
    let mut wrong_chars = 0;
    let mut exact_line = 0;
    let mut blk_n = 0;
    let mut blk_ne = 0;
    let mut blk_ok = 0;
    let mut blk_chars = 0;
    let mut seed = 12345u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let t = Instant::now();
    let mut calls = 0;
    let mut stat = [[0usize; 5]; 2];
    for text in &test {
        let mut off = 0;
        for line in text.split_inclusive('\n') {
            let start = off;
            off += line.len();
            let body = line.trim_end();
            if body.trim().is_empty() || rnd() % 3 != 0 {
                continue;
            }
            let indent = body.len() - body.trim_start().len();
            let content = &body[indent..];
            // cut at a random char position within content (after at least 1 char)
            let chars: Vec<usize> = content.char_indices().map(|(i, _)| i).skip(1).collect();
            if chars.is_empty() {
                continue;
            }
            let cut = chars[(rnd() as usize) % chars.len()];
            let cursor = start + indent + cut;
            let prefix = &text[..cursor];
            let expected = &text[cursor..start + body.len()];
            let suffix = &text[start + body.len()..];
            let done = model.complete(&CompletionRequest {
                prefix,
                suffix,
                max_tokens: 48,
                stop: &[],
            });
            calls += 1;
            n += 1;
            let midword = prefix
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            let common = done
                .text
                .chars()
                .zip(expected.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len_utf8())
                .sum::<usize>();
            let k = if midword { 0 } else { 1 };
            stat[k][0] += 1;
            if !done.text.is_empty() {
                stat[k][1] += 1;
                if expected.starts_with(&done.text) {
                    stat[k][2] += 1
                }
            }
            stat[k][3] += common;
            stat[k][4] += done.text.len() - common;
            if std::env::var("LM_SHOW").is_ok() && midword && !done.text.is_empty() && !expected.starts_with(&done.text) && rnd() % 8 == 0 {
                eprintln!(
                    "{:?} => {:?} (want {:?})",
                    &prefix[prefix.len().saturating_sub(40)..],
                    done.text,
                    expected
                );
            }
            if !done.text.is_empty() {
                nonempty += 1;
                if expected.starts_with(&done.text) {
                    correct += 1;
                    acc_chars += done.text.len();
                    if done.text == expected {
                        exact_line += 1;
                    }
                } else {
                    wrong_chars += done.text.len();
                }
            }
            // (b) block: cursor at start of this line after indentation, prefix ends with indentation.
            if indent > 0 && rnd() % 2 == 0 {
                let cursor = start + indent;
                let prefix = &text[..cursor];
                let suffix = &text[start + body.len()..];
                let expected = &text[cursor..];
                let done = model.complete(&CompletionRequest {
                    prefix,
                    suffix,
                    max_tokens: 48,
                    stop: &[],
                });
                calls += 1;
                blk_n += 1;
                if !done.text.is_empty() {
                    blk_ne += 1;
                    if expected.starts_with(&done.text) {
                        blk_ok += 1;
                        blk_chars += done.text.len();
                    } else if std::env::var("LM_SHOWB").is_ok() && rnd() % 4 == 0 { eprintln!("BLOCK {:?} => {:?} (want {:?})", &prefix[prefix.len().saturating_sub(50)..], done.text, &expected[..expected.len().min(80)]); }
                }
            }
        }
    }
    let el = t.elapsed();
    println!(
        "order {order} line: n={n} coverage={:.1}% precision={:.1}% exact_line={:.1}% acc_chars/req={:.2} wrong_chars/req={:.2} | block: n={blk_n} cov={:.1}% prec={:.1}% chars/req={:.2} | {:.1}us/call",
        100.0 * nonempty as f64 / n as f64,
        100.0 * correct as f64 / nonempty.max(1) as f64,
        100.0 * exact_line as f64 / n as f64,
        acc_chars as f64 / n as f64,
        wrong_chars as f64 / n as f64,
        100.0 * blk_ne as f64 / blk_n as f64,
        100.0 * blk_ok as f64 / blk_ne.max(1) as f64,
        blk_chars as f64 / blk_n as f64,
        el.as_secs_f64() * 1e6 / calls as f64
    );
    for (k, name) in ["midword", "boundary"].iter().enumerate() {
        let [n, ne, ok, common, wrong] = stat[k];
        println!(
            "   {name}: n={n} cov={:.1}% prec={:.1}% common_chars/req={:.2} wrong_chars/req={:.2}",
            100.0 * ne as f64 / n as f64,
            100.0 * ok as f64 / ne.max(1) as f64,
            common as f64 / n as f64,
            wrong as f64 / n as f64
        );
    }
}
