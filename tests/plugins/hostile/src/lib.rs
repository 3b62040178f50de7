//! A test-only Cordon plugin that misbehaves on demand.
//!
//! It exports `describe` (name `hostile`), `completion`, `refactor` and
//! `explain` (world `full-plugin`). `complete` looks for a marker
//! `cordon-test:<mode>` in the context's `prefix`, then its `suffix`, and
//! does what the mode says:
//!
//! | mode | behaviour |
//! | --- | --- |
//! | `loop` | spins forever (the optimiser cannot remove the loop) |
//! | `memory` | allocates and touches 1 MiB blocks without bound |
//! | `recurse` | recurses without bound on the wasm stack (not a tail call, no locals in linear memory) |
//! | `recurse-frames` | recurses without bound with 256-byte frames on Rust's shadow stack in linear memory |
//! | `huge-output` | one item whose `insert-text` is 32 MiB |
//! | `many-items` | 10 000 tiny items |
//! | `trap` | executes `unreachable` |
//! | `out-of-range` | one item replacing line 1 000 000 |
//! | `bad-range` | one item whose range starts after it ends |
//! | `log-flood` | 1 000 000 log calls of 1 KiB, 10 MiB to stdout and 10 MiB to stderr, then one item `flooded` |
//! | `model` | calls `model.fim`; one item labelled `model-ok` (detail: the answer), or labelled `<variant>: <message>` from the error, e.g. `denied: ...` (detail: the variant) |
//! | `workspace` | reads `../../etc/passwd` then `src/lib.rs`; one item each, labelled `<path>: <variant>` where variant is `ok`, `denied`, `invalid-request`, ... (detail: the error message, or the size read) |
//! | `stream` | reads a streamed chat answer; one item labelled `<n> pieces` whose insert text joins them |
//! | `deny-flood` | reads `../../etc/passwd` 100 000 times; one item `<n> denied` |
//! | `fim-loop` | calls `model.fim` ten million times (host work without end) |
//! | `stream-drop` | opens a streamed chat answer 20 times, dropping each unread; one item `<n> opened` (detail: the first refusal's variant) |
//! | `evil-error` | returns `invalid-request` with a 20 MiB message that starts with terminal escapes (OSC 52, clear screen) |
//! | `escapes` | logs a line with an OSC 52 escape; one item whose label, text and detail carry escapes |
//! | `sleep` | sleeps 30 s (a blocking WASI clock wait, no CPU), then one item `slept` |
//! | `ok`, or no marker | one item `hostile-ok` inserted at the cursor |
//!
//! An unknown mode returns `invalid-request`. The refactor and explain
//! exports know one mode, `sleep` (30 s, as above); otherwise `actions`
//! offers one action, id `hostile-ok` (kind `refactor.rewrite`), whose
//! `apply` edits nothing, and `explain` answers `hostile-ok`. Never ship
//! this plugin.

#[cfg(target_arch = "wasm32")]
mod component {
    use std::hint::black_box;
    use std::io::Write;

    wit_bindgen::generate!({
        path: "../../../wit/0.2.0",
        world: "full-plugin",
    });

    use cordon::plugin::log::{Level, log};
    use cordon::plugin::model::{
        ChatRequest, FimRequest, Message, Purpose, Role, chat_stream, fim,
    };
    use cordon::plugin::types::{DocumentContext, Error, Position, Range};
    use cordon::plugin::workspace::read_file;
    use exports::cordon::plugin::completion::{CompletionItem, Guest as Completion};
    use exports::cordon::plugin::describe::{CapabilityRequest, Guest as Describe, Info};
    use exports::cordon::plugin::explain::Guest as Explain;
    use exports::cordon::plugin::refactor::{Action, Guest as Refactor};
    use cordon::plugin::types::TextEdit;

    const MARKER: &str = "cordon-test:";
    const MIB: usize = 1 << 20;
    /// How long mode `sleep` sleeps.
    const SLEEP: std::time::Duration = std::time::Duration::from_secs(30);

    struct Plugin;

    impl Describe for Plugin {
        fn describe() -> Info {
            Info {
                name: "hostile".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                description: "TEST ONLY: misbehaves on demand to exercise the sandbox".to_owned(),
                requests: [
                    ("model", "modes `model`, `stream` and `fim-loop` call it"),
                    ("workspace.read", "mode `workspace` reads files"),
                    ("log", "modes `log-flood` and `escapes` log"),
                ]
                .map(|(capability, why)| CapabilityRequest {
                    capability: capability.to_owned(),
                    why: why.to_owned(),
                })
                .to_vec(),
            }
        }
    }

    impl Completion for Plugin {
        fn complete(ctx: DocumentContext) -> Result<Vec<CompletionItem>, Error> {
            let mode = mode_in(&ctx.prefix)
                .or_else(|| mode_in(&ctx.suffix))
                .unwrap_or_else(|| "ok".to_owned());
            let here = Range {
                start: ctx.cursor,
                end: ctx.cursor,
            };
            match mode.as_str() {
                "ok" => Ok(vec![item("hostile-ok", "hostile-ok", here, None)]),
                "sleep" => {
                    std::thread::sleep(SLEEP);
                    Ok(vec![item("slept", "slept", here, None)])
                }
                "loop" => spin(),
                "memory" => hoard(),
                "recurse" => {
                    // An opaque bound: the compiler cannot prove the
                    // recursion endless and drop it.
                    let limit = black_box(u64::MAX);
                    let n = recurse_wasm_stack(0, limit);
                    Ok(vec![item(
                        "recursed",
                        "recursed",
                        here,
                        Some(n.to_string()),
                    )])
                }
                "recurse-frames" => {
                    let n = recurse(black_box(0));
                    Ok(vec![item(
                        "recursed",
                        "recursed",
                        here,
                        Some(n.to_string()),
                    )])
                }
                "huge-output" => Ok(vec![item("huge", &"x".repeat(32 * MIB), here, None)]),
                "many-items" => {
                    let mut items = Vec::with_capacity(10_000);
                    for _ in 0..10_000 {
                        items.push(item("i", "i", here, None));
                    }
                    Ok(items)
                }
                "trap" => core::arch::wasm32::unreachable(),
                "panic" => panic!("the hostile plugin panics on purpose"),
                "out-of-range" => {
                    let far = Position {
                        line: 1_000_000,
                        character: 0,
                    };
                    Ok(vec![item(
                        "out-of-range",
                        "x",
                        Range {
                            start: far,
                            end: far,
                        },
                        None,
                    )])
                }
                "bad-range" => Ok(vec![item("bad-range", "x", backwards(ctx.cursor), None)]),
                "log-flood" => {
                    flood();
                    Ok(vec![item("flooded", "flooded", here, None)])
                }
                "model" => Ok(vec![ask_model(&ctx, here)]),
                "stream" => Ok(vec![stream_model(here)]),
                "deny-flood" => {
                    let denied = (0..100_000)
                        .filter(|_| read_file("../../etc/passwd").is_err())
                        .count();
                    Ok(vec![item(&format!("{denied} denied"), "x", here, None)])
                }
                "fim-loop" => {
                    for _ in 0..10_000_000u64 {
                        let _ = ask_model(&ctx, here);
                    }
                    Ok(vec![item("fim-loop ended", "x", here, None)])
                }
                "stream-drop" => Ok(vec![drop_streams(here)]),
                "evil-error" => Err(Error::InvalidRequest(format!(
                    "\x1b]52;c;ZXZpbA==\x07\x1b[2J{}",
                    "e".repeat(20 * MIB)
                ))),
                "escapes" => {
                    log(Level::Info, "log \x1b]52;c;ZXZpbA==\x07 line");
                    let evil = "esc\x1b]52;c;ZXZpbA==\x07\x1b[31mred\u{9b}0m";
                    Ok(vec![item(evil, evil, here, Some(evil.to_owned()))])
                }
                "workspace" => Ok(["../../etc/passwd", "src/lib.rs"]
                    .iter()
                    .map(|path| read(path, here))
                    .collect()),
                other => Err(Error::InvalidRequest(format!(
                    "unknown cordon-test mode `{other}`"
                ))),
            }
        }
    }

    impl Refactor for Plugin {
        fn actions(ctx: DocumentContext) -> Result<Vec<Action>, Error> {
            sleep_if_asked(&ctx);
            let mut actions = vec![Action {
                id: "hostile-ok".to_owned(),
                title: "Hostile test action".to_owned(),
                kind: "refactor.rewrite".to_owned(),
                needs_instruction: false,
            }];
            if mode_in(&ctx.prefix).as_deref() == Some("instruction") {
                actions.push(Action {
                    id: "hostile-say".to_owned(),
                    title: "Say what you are told".to_owned(),
                    kind: "refactor.rewrite".to_owned(),
                    needs_instruction: true,
                });
            }
            Ok(actions)
        }

        fn apply(
            ctx: DocumentContext,
            id: String,
            instruction: Option<String>,
        ) -> Result<Vec<TextEdit>, Error> {
            sleep_if_asked(&ctx);
            match (id.as_str(), instruction) {
                // Inserts the instruction at the cursor.
                ("hostile-say", Some(said)) => Ok(vec![TextEdit {
                    range: Range {
                        start: ctx.cursor,
                        end: ctx.cursor,
                    },
                    new_text: said,
                }]),
                ("hostile-say", None) => Err(Error::InvalidRequest(
                    "`hostile-say` needs an instruction".to_owned(),
                )),
                _ => Ok(Vec::new()),
            }
        }
    }

    impl Explain for Plugin {
        fn explain(ctx: DocumentContext) -> Result<String, Error> {
            sleep_if_asked(&ctx);
            Ok("hostile-ok".to_owned())
        }
    }

    export!(Plugin);

    /// Sleeps [`SLEEP`] when the context's marker says `sleep`.
    fn sleep_if_asked(ctx: &DocumentContext) {
        if mode_in(&ctx.prefix).or_else(|| mode_in(&ctx.suffix)).as_deref() == Some("sleep") {
            std::thread::sleep(SLEEP);
        }
    }

    /// The mode named after the first marker in `text`.
    fn mode_in(text: &str) -> Option<String> {
        let at = text.find(MARKER)? + MARKER.len();
        let mode: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        Some(mode)
    }

    fn item(
        label: &str,
        insert_text: &str,
        replace: Range,
        detail: Option<String>,
    ) -> CompletionItem {
        CompletionItem {
            label: label.to_owned(),
            insert_text: insert_text.to_owned(),
            replace,
            detail,
        }
    }

    /// A range near `cursor` whose start comes after its end.
    fn backwards(cursor: Position) -> Range {
        if cursor.character > 0 {
            Range {
                start: cursor,
                end: Position {
                    line: cursor.line,
                    character: cursor.character - 1,
                },
            }
        } else if cursor.line > 0 {
            Range {
                start: cursor,
                end: Position {
                    line: cursor.line - 1,
                    character: 0,
                },
            }
        } else {
            Range {
                start: Position {
                    line: 0,
                    character: 1,
                },
                end: Position {
                    line: 0,
                    character: 0,
                },
            }
        }
    }

    /// Loops forever; `black_box` keeps the optimiser from removing it.
    fn spin() -> ! {
        let mut counter = 0u64;
        loop {
            counter = black_box(counter.wrapping_add(1));
        }
    }

    /// Allocates 1 MiB blocks, writing to every page, until the allocator
    /// gives up (which aborts, a trap).
    fn hoard() -> ! {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        let mut round = 0u8;
        loop {
            let mut block = vec![0u8; MIB];
            round = round.wrapping_add(1);
            for i in (0..block.len()).step_by(4096) {
                block[i] = round;
            }
            hoard.push(black_box(block));
        }
    }

    /// Each level keeps its state in wasm locals only; `rotate_left` and `^`
    /// keep LLVM from turning the recursion into a loop.
    #[inline(never)]
    fn recurse_wasm_stack(depth: u64, limit: u64) -> u64 {
        if depth == limit {
            return 0;
        }
        recurse_wasm_stack(depth + 1, limit).rotate_left(3) ^ depth
    }

    /// Recurses until the stack runs out; the frame is used after the call,
    /// so this is not a tail call.
    #[inline(never)]
    #[expect(
        unconditional_recursion,
        reason = "unbounded recursion is this mode's purpose"
    )]
    fn recurse(depth: u64) -> u64 {
        let mut frame = [0u8; 256];
        frame[(depth % 256) as usize] = depth as u8;
        let frame = black_box(frame);
        let below = recurse(black_box(depth + 1));
        below.wrapping_add(u64::from(frame[(below % 256) as usize]))
    }

    /// A million 1 KiB log messages, then 10 MiB to stdout and to stderr.
    fn flood() {
        let message = "f".repeat(1024);
        for _ in 0..1_000_000 {
            log(Level::Info, &message);
        }
        let chunk = vec![b'y'; 64 * 1024];
        let mut stdout = std::io::stdout().lock();
        for _ in 0..(10 * MIB / chunk.len()) {
            if stdout.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = stdout.flush();
        drop(stdout);
        let mut stderr = std::io::stderr().lock();
        for _ in 0..(10 * MIB / chunk.len()) {
            if stderr.write_all(&chunk).is_err() {
                break;
            }
        }
    }

    fn ask_model(ctx: &DocumentContext, here: Range) -> CompletionItem {
        let request = FimRequest {
            prefix: ctx.prefix.clone(),
            suffix: ctx.suffix.clone(),
            language_id: ctx.language_id.clone(),
            path: ctx.path.clone(),
            max_tokens: 16,
            stop: vec!["\n".to_owned()],
        };
        match fim(&request) {
            Ok(response) => {
                let text: String = response.text.chars().take(1024).collect();
                item("model-ok", "model-ok", here, Some(text))
            }
            Err(error) => {
                let (variant, message) = describe_error(error);
                item(
                    &format!("{variant}: {message}"),
                    "model-error",
                    here,
                    Some(variant.to_owned()),
                )
            }
        }
    }

    /// Reads a streamed chat answer piece by piece: the label counts the
    /// pieces, the insert text joins them.
    fn stream_model(here: Range) -> CompletionItem {
        let request = ChatRequest {
            purpose: Purpose::Chat,
            system: String::new(),
            messages: vec![Message {
                role: Role::User,
                content: "Say hello.".to_owned(),
            }],
            max_tokens: 16,
            temperature: None,
            stop: Vec::new(),
        };
        let stream = match chat_stream(&request) {
            Ok(stream) => stream,
            Err(error) => {
                let (variant, message) = describe_error(error);
                return item(&format!("{variant}: {message}"), "stream-error", here, None);
            }
        };
        let mut pieces = Vec::new();
        loop {
            match stream.next() {
                Ok(Some(piece)) => pieces.push(piece),
                Ok(None) => break,
                Err(error) => {
                    let (variant, message) = describe_error(error);
                    return item(&format!("{variant}: {message}"), "stream-error", here, None);
                }
            }
        }
        let usage = stream.usage();
        item(
            &format!("{} pieces", pieces.len()),
            &pieces.concat(),
            here,
            Some(format!("{} output tokens", usage.output_tokens)),
        )
    }

    /// Opens a streamed chat answer 20 times and drops each one unread:
    /// the label counts the streams opened, the detail the first refusal.
    fn drop_streams(here: Range) -> CompletionItem {
        let request = ChatRequest {
            purpose: Purpose::Chat,
            system: String::new(),
            messages: vec![Message {
                role: Role::User,
                content: "Say hello.".to_owned(),
            }],
            max_tokens: 16,
            temperature: None,
            stop: Vec::new(),
        };
        let mut opened = 0;
        let mut refused = None;
        for _ in 0..20 {
            match chat_stream(&request) {
                Ok(stream) => {
                    opened += 1;
                    drop(stream);
                }
                Err(error) => {
                    refused.get_or_insert_with(|| describe_error(error).0.to_owned());
                }
            }
        }
        item(&format!("{opened} opened"), "x", here, refused)
    }

    fn read(path: &str, here: Range) -> CompletionItem {
        match read_file(path) {
            Ok(contents) => item(
                &format!("{path}: ok"),
                "workspace",
                here,
                Some(format!("{} bytes", contents.len())),
            ),
            Err(error) => {
                let (variant, message) = describe_error(error);
                item(
                    &format!("{path}: {variant}"),
                    "workspace",
                    here,
                    Some(message),
                )
            }
        }
    }

    /// The WIT name of the error's variant, and its message.
    fn describe_error(error: Error) -> (&'static str, String) {
        match error {
            Error::Denied(m) => ("denied", m),
            Error::BudgetExceeded(m) => ("budget-exceeded", m),
            Error::RateLimited(m) => ("rate-limited", m),
            Error::Timeout(m) => ("timeout", m),
            Error::Unavailable(m) => ("unavailable", m),
            Error::InvalidRequest(m) => ("invalid-request", m),
        }
    }
}
