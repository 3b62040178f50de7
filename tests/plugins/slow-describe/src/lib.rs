//! A test-only Cordon plugin whose `describe` sleeps for 30 s (a blocking
//! WASI clock wait: no CPU) before answering, name `slow-describe`. It
//! exports `completion` (one item, `slow-describe-ok`), which it never gets
//! to serve: `describe` has a bound of its own, well under 30 s, and runs
//! off the LSP `initialize` path. Never ship this plugin.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../../wit/0.2.0",
        world: "completion-plugin",
    });

    use cordon::plugin::types::{DocumentContext, Error, Range};
    use exports::cordon::plugin::completion::{CompletionItem, Guest as Completion};
    use exports::cordon::plugin::describe::{Guest as Describe, Info};

    struct Plugin;

    impl Describe for Plugin {
        fn describe() -> Info {
            std::thread::sleep(std::time::Duration::from_secs(30));
            Info {
                name: "slow-describe".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                description: "TEST ONLY: takes 30 s to describe itself".to_owned(),
                requests: Vec::new(),
            }
        }
    }

    impl Completion for Plugin {
        fn complete(ctx: DocumentContext) -> Result<Vec<CompletionItem>, Error> {
            let here = Range {
                start: ctx.cursor,
                end: ctx.cursor,
            };
            Ok(vec![CompletionItem {
                label: "slow-describe-ok".to_owned(),
                insert_text: "slow-describe-ok".to_owned(),
                replace: here,
                detail: None,
            }])
        }
    }

    export!(Plugin);
}
