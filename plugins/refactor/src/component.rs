//! Export of [`crate::logic`] as a `refactor-plugin` component.

use cordon_plugin_sdk::{
    Action, CapabilityRequest, DescribeGuest, DocumentContext, Error, HostModel, Info, Level,
    RefactorGuest, TextEdit, log,
};

struct Plugin;

impl DescribeGuest for Plugin {
    fn describe() -> Info {
        Info {
            name: "refactor".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Rewrite a selection, extract a function, add a doc comment".to_owned(),
            requests: vec![
                CapabilityRequest::new("model", "asks the model to rewrite the code"),
                CapabilityRequest::new("log", "says why a refactor failed, at debug level"),
            ],
        }
    }
}

impl RefactorGuest for Plugin {
    fn actions(context: DocumentContext) -> Result<Vec<Action>, Error> {
        Ok(crate::logic::actions(&context))
    }

    fn apply(
        context: DocumentContext,
        id: String,
        instruction: Option<String>,
    ) -> Result<Vec<TextEdit>, Error> {
        crate::logic::apply(&context, &id, instruction.as_deref(), &mut HostModel).inspect_err(
            |e| {
                log(
                    Level::Debug,
                    &format!("refactor `{id}` failed: {}", e.summary()),
                )
            },
        )
    }
}

cordon_plugin_sdk::export_refactor!(Plugin);
