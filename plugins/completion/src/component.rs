//! Export of [`crate::logic`] as a `completion-plugin` component.

use cordon_plugin_sdk::{
    CapabilityRequest, CompletionGuest, CompletionItem, DescribeGuest, DocumentContext, Error,
    HostModel, Info, Level, log,
};

struct Plugin;

impl DescribeGuest for Plugin {
    fn describe() -> Info {
        Info {
            name: "completion".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Completions at the cursor from a fill-in-the-middle model".to_owned(),
            requests: vec![
                CapabilityRequest::new("model", "fills in the code at the cursor"),
                CapabilityRequest::new("log", "says why a completion failed, at debug level"),
            ],
        }
    }
}

impl CompletionGuest for Plugin {
    fn complete(context: DocumentContext) -> Result<Vec<CompletionItem>, Error> {
        crate::logic::complete(&context, &mut HostModel).inspect_err(|e| {
            log(Level::Debug, &format!("completion failed: {}", e.summary()));
        })
    }
}

cordon_plugin_sdk::export_completion!(Plugin);
