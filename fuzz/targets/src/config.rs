//! `config`: `cordon.toml`, through `cordon::config::from_texts` (what
//! `config::load` runs on the files it read).
//!
//! Input: a flags byte (which layers, trusted or not), then up to three
//! files separated by `%%\n` lines. Checks: an untrusted workspace layer
//! never adds a backend or a route; a workspace layer never changes where
//! a user-configured backend sends data; every route of an accepted
//! configuration names a configured backend or `local`.

use std::path::PathBuf;

use cordon::config::{Source, from_texts};

/// The fuzz target.
pub fn config(data: &[u8]) {
    let [flags, rest @ ..] = data else {
        return;
    };
    let trusted = flags & 1 == 1;
    let texts: Vec<String> = crate::input::parts(rest, 3)
        .into_iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    let layers: &[Source] = match (flags >> 1) % 4 {
        0 => &[Source::Explicit],
        1 => &[Source::User],
        2 => &[Source::Workspace],
        _ => &[Source::User, Source::Workspace],
    };
    let files: Vec<(Source, PathBuf, String)> = layers
        .iter()
        .zip(&texts)
        .map(|(source, text)| {
            (
                *source,
                PathBuf::from(format!("{source:?}.toml")),
                text.clone(),
            )
        })
        .collect();
    let result = from_texts(files.clone(), trusted);
    let Ok(config) = result else {
        return;
    };
    for (from, to) in &config.routes {
        assert!(
            to == "local" || config.backends.contains_key(to),
            "route {from} -> {to} accepted without a backend"
        );
    }
    let workspace = files.iter().any(|(s, ..)| *s == Source::Workspace);
    if !workspace {
        return;
    }
    // What the layers above the workspace give on their own.
    let above: Vec<_> = files
        .iter()
        .filter(|(s, ..)| *s != Source::Workspace)
        .cloned()
        .collect();
    let Ok(base) = from_texts(above, trusted) else {
        return;
    };
    if !trusted {
        assert_eq!(
            format!("{:?}", config.backends),
            format!("{:?}", base.backends),
            "an untrusted workspace changed the backends"
        );
        assert_eq!(
            config.routes, base.routes,
            "an untrusted workspace changed the routes"
        );
    }
    for (name, backend) in &base.backends {
        let merged = &config.backends[name];
        assert_eq!(
            (
                &merged.provider,
                &merged.base_url,
                &merged.region,
                &merged.profile,
                &merged.api_key_env,
                &merged.use_fips,
                &merged.inference_geo,
            ),
            (
                &backend.provider,
                &backend.base_url,
                &backend.region,
                &backend.profile,
                &backend.api_key_env,
                &backend.use_fips,
                &backend.inference_geo,
            ),
            "the workspace redirected backend {name}"
        );
        assert_eq!(
            format!("{:?}", merged.guardrail),
            format!("{:?}", backend.guardrail),
            "the workspace changed backend {name}'s guardrail"
        );
    }
    for (name, backend) in &config.backends {
        if !base.backends.contains_key(name) {
            assert!(
                backend.base_url.is_none() && backend.api_key_env.is_none(),
                "the workspace's new backend {name} sends data elsewhere"
            );
        }
    }
}
