//! The [`Model`] trait and [`HostModel`], the imported `model` interface.

use crate::wit::base::cordon::plugin::model as wit_model;
use crate::{ChatRequest, Error, FimRequest, RankedResponse, Response, StopReason, Usage};

/// A language model as plugin logic sees it: the imported `model` interface
/// inside a component ([`HostModel`]), a fake in tests, anything else in a
/// native benchmark.
pub trait Model {
    /// Send a chat request and wait for the whole answer.
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error>;
    /// Send a fill-in-the-middle request and wait for the whole answer.
    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error>;
    /// [`Model::fim`], and a completion list for the word at the cursor
    /// (at most `limit` words, best first), in one request. By default
    /// [`Model::fim`] with no list.
    fn fim_ranked(&mut self, req: &FimRequest, limit: u32) -> Result<RankedResponse, Error> {
        let _ = limit;
        Ok(RankedResponse {
            response: self.fim(req)?,
            candidates: Vec::new(),
        })
    }
    /// Send a chat request and read the answer as it is generated. The
    /// result is the same as [`Model::chat`]'s, but the host sees the text
    /// arrive and can show it to the user meanwhile (an explanation
    /// streaming into the editor). By default, [`Model::chat`].
    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        self.chat(req)
    }
}

impl<M: Model + ?Sized> Model for &mut M {
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat(req)
    }

    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error> {
        (**self).fim(req)
    }

    fn fim_ranked(&mut self, req: &FimRequest, limit: u32) -> Result<RankedResponse, Error> {
        (**self).fim_ranked(req, limit)
    }

    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat_stream(req)
    }
}

impl<M: Model + ?Sized> Model for Box<M> {
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat(req)
    }

    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error> {
        (**self).fim(req)
    }

    fn fim_ranked(&mut self, req: &FimRequest, limit: u32) -> Result<RankedResponse, Error> {
        (**self).fim_ranked(req, limit)
    }

    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat_stream(req)
    }
}

/// The model capability the host grants the plugin: the imported `model`
/// interface. Only usable inside a component (natively its calls panic).
#[derive(Debug, Clone, Copy, Default)]
pub struct HostModel;

impl Model for HostModel {
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        wit_model::chat(req)
    }

    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error> {
        wit_model::fim(req)
    }

    fn fim_ranked(&mut self, req: &FimRequest, limit: u32) -> Result<RankedResponse, Error> {
        wit_model::fim_ranked(req, limit)
    }

    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        let stream = wit_model::chat_stream(req)?;
        let mut text = String::new();
        while let Some(piece) = stream.next()? {
            text.push_str(&piece);
        }
        let usage: Usage = stream.usage();
        // The stream does not say why the answer ended or who wrote it; the
        // host's audit record does.
        Ok(Response {
            text,
            usage,
            stop_reason: StopReason::End,
            backend: String::new(),
            model: String::new(),
        })
    }
}
