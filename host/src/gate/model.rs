//! The `model` interface: chat, streamed chat and fill-in-the-middle,
//! each admitted by [`Gate::admit`] and recorded by the call's ledger when
//! it ends — a stream included, however the plugin ends it.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use wasmtime::component::Resource;

use super::admit::Admitted;
use super::fallback::backend_down;
use super::{Gate, Ledger, Refusal};
use crate::api::cordon::plugin::model;
use crate::backends::{CallMeta, Chunk, ChunkStream, estimate_tokens};
use crate::runtime::meter::CpuMeter;

/// A streamed model answer, as the plugin's `completion-stream` resource.
pub struct ModelStream {
    chunks: ChunkStream,
    usage: model::Usage,
    done: bool,
    pieces: usize,
    admitted: Admitted,
    reported: CallMeta,
    /// Where its record is written when it ends or is dropped.
    ledger: Arc<Ledger>,
}

impl Drop for ModelStream {
    fn drop(&mut self) {
        // Ended early (dropped, or never read to its end): still charged
        // and recorded.
        if !self.done {
            self.ledger.record_abandoned(
                &self.admitted,
                self.usage,
                self.pieces,
                self.reported.clone(),
            );
        }
    }
}

/// Most words a completion list may hold.
const MAX_CANDIDATES: u32 = 50;

/// Await `work` for an admitted request: waiting on a remote model is not
/// host work; the local model's answer is.
async fn wait<T>(meter: &Arc<CpuMeter>, admitted: &Admitted, work: impl Future<Output = T>) -> T {
    if admitted.is_remote() {
        let _waiting = meter.waiting();
        work.await
    } else {
        work.await
    }
}

impl model::Host for Gate {
    async fn chat(&mut self, mut request: model::ChatRequest) -> Result<model::Response, Refusal> {
        let admitted = self.admit_chat(&mut request)?;
        let sent = admitted.backend.chat(&request, &admitted.call);
        let result = wait(&self.meter, &admitted, sent).await;
        self.ledger
            .record_model_call(&admitted, &result, admitted.call.reported());
        Ok(result?)
    }

    async fn fim(&mut self, request: model::FimRequest) -> Result<model::Response, Refusal> {
        Ok(self.fill_in(request, None).await?.response)
    }

    async fn fim_ranked(
        &mut self,
        request: model::FimRequest,
        limit: u32,
    ) -> Result<model::RankedResponse, Refusal> {
        self.fill_in(request, Some(limit.min(MAX_CANDIDATES))).await
    }

    async fn chat_stream(
        &mut self,
        mut request: model::ChatRequest,
    ) -> Result<Resource<ModelStream>, Refusal> {
        let admitted = self.admit_chat(&mut request)?;
        let sent = admitted.backend.chat_stream(&request, &admitted.call);
        let chunks = match wait(&self.meter, &admitted, sent).await {
            Ok(chunks) => chunks,
            Err(e) => {
                let failed = Err(e.clone());
                self.ledger
                    .record_model_call(&admitted, &failed, admitted.call.reported());
                return Err(e.into());
            }
        };
        let stream = ModelStream {
            chunks,
            usage: model::Usage {
                input_tokens: 0,
                output_tokens: 0,
            },
            done: false,
            pieces: 0,
            reported: admitted.call.reported(),
            admitted,
            ledger: Arc::clone(&self.ledger),
        };
        Ok(self.table.push(stream)?)
    }
}

impl Gate {
    /// A fill-in-the-middle request (with a completion list of at most
    /// `ranked` words, if asked for). When the remote backend fails to
    /// answer, the request is admitted again for the local model, once,
    /// where the policy allows it (see [`fallback`](super::fallback)); both
    /// admissions are recorded.
    async fn fill_in(
        &mut self,
        mut request: model::FimRequest,
        ranked: Option<u32>,
    ) -> Result<model::RankedResponse, Refusal> {
        let mut fell_back = false;
        loop {
            let admitted = self.admit_fim(&mut request, fell_back)?;
            let sent = async {
                match ranked {
                    None => admitted
                        .backend
                        .fim(&request, &admitted.call)
                        .await
                        .map(|response| model::RankedResponse {
                            response,
                            candidates: Vec::new(),
                        }),
                    Some(limit) => {
                        admitted
                            .backend
                            .fim_ranked(&request, limit, &admitted.call)
                            .await
                    }
                }
            };
            let result = wait(&self.meter, &admitted, sent).await;
            let response = result
                .as_ref()
                .map(|r| r.response.clone())
                .map_err(Clone::clone);
            self.ledger
                .record_model_call(&admitted, &response, admitted.call.reported());
            if admitted.is_remote() {
                let services = self.services();
                match &result {
                    Ok(_) => services.fallbacks.answered(admitted.backend.name()),
                    Err(err)
                        if !fell_back
                            && backend_down(err)
                            && services.fall_back(
                                self.ledger.plugin(),
                                &*admitted.backend,
                                err.message(),
                            ) =>
                    {
                        fell_back = true;
                        continue;
                    }
                    Err(_) => {}
                }
            }
            return Ok(result?);
        }
    }
}

impl model::HostCompletionStream for Gate {
    async fn next(&mut self, handle: Resource<ModelStream>) -> Result<Option<String>, Refusal> {
        let meter = Arc::clone(&self.meter);
        let stream = self.table.get_mut(&handle)?;
        let mut ended = None;
        while !stream.done {
            let next = wait(&meter, &stream.admitted, stream.chunks.next()).await;
            match next {
                Some(Ok(Chunk::Text(text))) => {
                    stream.pieces += 1;
                    stream.usage.output_tokens = stream
                        .usage
                        .output_tokens
                        .saturating_add(estimate_tokens(&text));
                    if let Some(sink) = &self.stream_sink {
                        // A closed sink means nobody is watching any more.
                        let _ = sink.send(text.clone());
                    }
                    return Ok(Some(text));
                }
                Some(Ok(Chunk::Usage(usage))) => stream.usage = usage,
                Some(Ok(Chunk::Meta(meta))) => stream.reported = meta,
                Some(Err(e)) => {
                    stream.done = true;
                    ended = Some(Err(e));
                }
                None => {
                    stream.done = true;
                    ended = Some(Ok(()));
                }
            }
        }
        // The answer is complete (or failed): count its tokens against the
        // budget and write its audit record, once.
        let Some(outcome) = ended else {
            return Ok(None);
        };
        let result = outcome.clone().map(|()| model::Response {
            text: String::new(),
            usage: stream.usage,
            stop_reason: model::StopReason::End,
            backend: stream.admitted.backend.name().to_owned(),
            model: stream.admitted.backend.model().to_owned(),
        });
        self.ledger
            .record_model_call(&stream.admitted, &result, stream.reported.clone());
        outcome?;
        Ok(None)
    }

    async fn usage(&mut self, stream: Resource<ModelStream>) -> wasmtime::Result<model::Usage> {
        Ok(self.table.get(&stream)?.usage)
    }

    async fn drop(&mut self, stream: Resource<ModelStream>) -> wasmtime::Result<()> {
        // Dropping the chunk stream abandons the request to the backend;
        // `ModelStream`'s own drop charges and records it.
        self.table.delete(stream)?;
        Ok(())
    }
}
