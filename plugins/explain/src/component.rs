//! Export of [`crate::logic`] as an `explain-plugin` component.

use cordon_plugin_sdk::{
    CapabilityRequest, DescribeGuest, DocumentContext, Error, ExplainGuest, HostModel, Info, Level,
    log,
};

struct Plugin;

impl DescribeGuest for Plugin {
    fn describe() -> Info {
        Info {
            name: "explain".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Markdown explanations of the selection or the item at the cursor"
                .to_owned(),
            requests: vec![
                CapabilityRequest::new("model", "asks the model to explain the code"),
                CapabilityRequest::new("log", "says why an explanation failed, at debug level"),
            ],
        }
    }
}

impl ExplainGuest for Plugin {
    fn explain(context: DocumentContext) -> Result<String, Error> {
        crate::logic::explain(&context, &mut HostModel).inspect_err(|e| {
            log(Level::Debug, &format!("explain failed: {}", e.summary()));
        })
    }
}

cordon_plugin_sdk::export_explain!(Plugin);
