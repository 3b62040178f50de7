//! Wire tests: each provider client against a loopback server that speaks
//! the provider's protocol byte for byte and records what it receives.
//!
//! One test binary (not one per provider) so the AWS SDK is linked once.

mod anthropic;
mod bedrock;
mod common;
mod openai;
mod support;
