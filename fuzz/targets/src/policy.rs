//! `policy`: policy files, through `cordon_policy::parse_layer`, and the
//! effective policy's queries on what parsed.
//!
//! Input: a flags byte, then two policy files and a line of query words,
//! separated by `%%\n` lines. The first file is the organisation's, the
//! second the workspace's or the user's. Checks: every error has a
//! message; a layer whose own rule denies something denies it in the
//! combination too (a layer only narrows); every limit of the
//! combination is at most each layer's.

use std::path::Path;

use cordon_policy::{Capability, Effective, Layer, LayerPolicy, LimitKind, parse_layer};

/// The fuzz target.
pub fn policy(data: &[u8]) {
    let [flags, rest @ ..] = data else {
        return;
    };
    let parts = crate::input::parts(rest, 3);
    let text = |i: usize| String::from_utf8_lossy(parts.get(i).copied().unwrap_or_default());
    let second = if flags & 1 == 0 {
        Layer::Workspace
    } else {
        Layer::User
    };
    let org = parse(Layer::Organisation, &text(0));
    let lower = parse(second, &text(1));
    let words = text(2);
    let mut words: Vec<&str> = words.split_whitespace().take(8).collect();
    words.extend([
        "completion",
        "*",
        "anthropic",
        "bedrock",
        "us-east-1",
        "src/a.rs",
    ]);

    let layers: Vec<LayerPolicy> = [org.clone(), lower.clone()].into_iter().flatten().collect();
    if layers.is_empty() {
        return;
    }
    let combined = Effective::from_layers(layers);
    let alone: Vec<Effective> = [org, lower]
        .into_iter()
        .flatten()
        .map(|l| Effective::from_layers(vec![l]))
        .collect();
    let _ = combined.warnings();
    let _ = combined.redact_secrets();
    for plugin in &words {
        let _ = combined.explain(plugin);
        let limits = combined.limits(plugin);
        for single in &alone {
            let theirs = single.limits(plugin);
            for kind in LimitKind::ALL {
                if let (Some(ours), Some(theirs)) = (limits.get(kind), theirs.get(kind)) {
                    assert!(ours <= theirs, "a layer's limit {kind:?} was raised");
                }
            }
        }
        for capability in Capability::ALL {
            narrows(&combined, &alone, |e| {
                e.allows_capability(plugin, capability)
            });
        }
        for path in &words {
            narrows(&combined, &alone, |e| e.allows_read(plugin, path));
            let _ = combined.is_excluded(path);
            narrows(&combined, &alone, |e| e.allows_digest(plugin, path));
        }
        for (provider, model, region) in [
            ("bedrock", words[0], Some("us-east-1")),
            (
                "bedrock",
                "global.anthropic.claude-sonnet-4-v1:0",
                Some(words[0]),
            ),
            ("anthropic", words[words.len() / 2], None),
            ("openai", words[0], None),
        ] {
            narrows(&combined, &alone, |e| {
                e.allows_model(plugin, provider, "b", model, region)
            });
        }
    }
}

fn parse(layer: Layer, text: &str) -> Option<LayerPolicy> {
    match parse_layer(layer, Path::new("/p/policy.toml"), text) {
        Ok(policy) => Some(policy),
        Err(errors) => {
            let message = errors.to_string();
            assert!(!message.is_empty(), "an error without a message");
            None
        }
    }
}

/// A denial by a layer's own rule holds in the combination.
fn narrows(
    combined: &Effective,
    alone: &[Effective],
    query: impl Fn(&Effective) -> cordon_policy::Decision,
) {
    let decision = query(combined);
    if !decision.allowed {
        return;
    }
    for single in alone {
        let own = query(single);
        assert!(
            own.allowed || own.layer.is_none(),
            "allowed in the combination ({}) but denied by a layer ({})",
            decision.reason,
            own.reason
        );
    }
}
