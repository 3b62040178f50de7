//! The imports of `cordon:plugin@0.1.0` ([`crate::api::v0_1_0`]): adapters
//! that convert the plugin's values to the latest types and call the
//! latest interface's implementation on the same [`Gate`], so a plugin
//! built against 0.1.0 is admitted, metered and recorded exactly as a
//! current one. Nothing is decided here.

use wasmtime::component::Resource;

use super::{Gate, ModelStream, Refusal};
use crate::api::cordon::plugin as latest;
use crate::api::v0_1_0::Convert;
use crate::api::v0_1_0::cordon::plugin::{log, model, types, workspace};

impl types::Host for Gate {
    fn convert_error(&mut self, refusal: Refusal) -> wasmtime::Result<types::Error> {
        latest::types::Host::convert_error(self, refusal).map(Convert::convert)
    }
}

impl model::Host for Gate {
    async fn chat(&mut self, request: model::ChatRequest) -> Result<model::Response, Refusal> {
        latest::model::Host::chat(self, request.convert())
            .await
            .map(Convert::convert)
    }

    async fn fim(&mut self, request: model::FimRequest) -> Result<model::Response, Refusal> {
        latest::model::Host::fim(self, request.convert())
            .await
            .map(Convert::convert)
    }

    async fn fim_ranked(
        &mut self,
        request: model::FimRequest,
        limit: u32,
    ) -> Result<model::RankedResponse, Refusal> {
        latest::model::Host::fim_ranked(self, request.convert(), limit)
            .await
            .map(Convert::convert)
    }

    async fn chat_stream(
        &mut self,
        request: model::ChatRequest,
    ) -> Result<Resource<ModelStream>, Refusal> {
        latest::model::Host::chat_stream(self, request.convert()).await
    }
}

impl model::HostCompletionStream for Gate {
    async fn next(&mut self, stream: Resource<ModelStream>) -> Result<Option<String>, Refusal> {
        latest::model::HostCompletionStream::next(self, stream).await
    }

    async fn usage(&mut self, stream: Resource<ModelStream>) -> wasmtime::Result<model::Usage> {
        latest::model::HostCompletionStream::usage(self, stream)
            .await
            .map(Convert::convert)
    }

    async fn drop(&mut self, stream: Resource<ModelStream>) -> wasmtime::Result<()> {
        latest::model::HostCompletionStream::drop(self, stream).await
    }
}

impl workspace::Host for Gate {
    async fn read_file(&mut self, path: String) -> Result<String, Refusal> {
        latest::workspace::Host::read_file(self, path).await
    }

    async fn list_files(&mut self, glob: String, limit: u32) -> Result<Vec<String>, Refusal> {
        latest::workspace::Host::list_files(self, glob, limit).await
    }
}

impl log::Host for Gate {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        latest::log::Host::log(self, level.convert(), message).await
    }
}
