//! A plugin's exports, whichever API version it was built against.
//!
//! Each export is found once, at load, in the latest version first; a
//! plugin built against an earlier version gets its context converted down
//! and its answers converted up here, so the runtime, the validation and
//! the front ends only ever see the latest types.

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use super::exports::cordon::plugin as latest;
use super::v0_1_0::Convert;
use super::v0_1_0::exports::cordon::plugin as v0_1;
use super::{Action, CompletionItem, DocumentContext, Info, PluginError, TextEdit};

/// What a call of an export gives: a trap, or the plugin's own answer.
pub type Answer<T> = wasmtime::Result<Result<T, PluginError>>;

macro_rules! export {
    ($(#[$doc:meta])* $name:ident, $interface:ident) => {
        $(#[$doc])*
        pub enum $name {
            V0_2(latest::$interface::GuestIndices),
            V0_1(v0_1::$interface::GuestIndices),
        }

        impl $name {
            /// The export in `pre`'s component, if it has it in any
            /// version this build runs.
            pub fn find<T: 'static>(pre: &InstancePre<T>) -> Option<Self> {
                latest::$interface::GuestIndices::new(pre)
                    .map(Self::V0_2)
                    .or_else(|_| v0_1::$interface::GuestIndices::new(pre).map(Self::V0_1))
                    .ok()
            }

            /// The API version it was built against.
            pub fn version(&self) -> &'static str {
                match self {
                    Self::V0_2(_) => super::LATEST,
                    Self::V0_1(_) => super::v0_1_0::VERSION,
                }
            }
        }
    };
}

export!(
    /// `describe`.
    Describe,
    describe
);
export!(
    /// `completion`.
    Completion,
    completion
);
export!(
    /// `refactor`.
    Refactor,
    refactor
);
export!(
    /// `explain`.
    Explain,
    explain
);

impl Describe {
    /// Who the plugin says it is.
    pub async fn describe<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
    ) -> wasmtime::Result<Info> {
        match self {
            Self::V0_2(i) => i.load(&mut *store, instance)?.call_describe(store).await,
            Self::V0_1(i) => Ok(i
                .load(&mut *store, instance)?
                .call_describe(store)
                .await?
                .convert()),
        }
    }
}

impl Completion {
    /// Completion items for `context`.
    pub async fn complete<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        context: &DocumentContext,
    ) -> Answer<Vec<CompletionItem>> {
        match self {
            Self::V0_2(i) => {
                i.load(&mut *store, instance)?
                    .call_complete(store, context)
                    .await
            }
            Self::V0_1(i) => Ok(i
                .load(&mut *store, instance)?
                .call_complete(store, &context.clone().convert())
                .await?
                .convert()),
        }
    }
}

impl Refactor {
    /// The actions offered for `context`.
    pub async fn actions<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        context: &DocumentContext,
    ) -> Answer<Vec<Action>> {
        match self {
            Self::V0_2(i) => {
                i.load(&mut *store, instance)?
                    .call_actions(store, context)
                    .await
            }
            Self::V0_1(i) => Ok(i
                .load(&mut *store, instance)?
                .call_actions(store, &context.clone().convert())
                .await?
                .convert()),
        }
    }

    /// The edits of action `id`.
    pub async fn apply<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        context: &DocumentContext,
        id: &str,
        instruction: Option<&str>,
    ) -> Answer<Vec<TextEdit>> {
        match self {
            Self::V0_2(i) => {
                i.load(&mut *store, instance)?
                    .call_apply(store, context, id, instruction)
                    .await
            }
            Self::V0_1(i) => Ok(i
                .load(&mut *store, instance)?
                .call_apply(store, &context.clone().convert(), id, instruction)
                .await?
                .convert()),
        }
    }
}

impl Explain {
    /// A markdown explanation of `context`.
    pub async fn explain<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        context: &DocumentContext,
    ) -> Answer<String> {
        match self {
            Self::V0_2(i) => {
                i.load(&mut *store, instance)?
                    .call_explain(store, context)
                    .await
            }
            Self::V0_1(i) => Ok(i
                .load(&mut *store, instance)?
                .call_explain(store, &context.clone().convert())
                .await?
                .map_err(Convert::convert)),
        }
    }
}
