//! Property tests: for random layers (rendered to TOML and parsed), the
//! effective policy answers every query exactly as an independent model of
//! the rules does, and in particular never allows what a layer that
//! constrains the plugin forbids, and never sets a limit above any layer's.

use std::fmt::Write;
use std::path::Path;

use cordon_policy::{Capability, Effective, Layer, Provider, parse_layer};
use proptest::prelude::*;

const NAME_PATTERNS: &[&str] = &["a", "b", "ab", "a*", "*b", "?", "*", "a?b", "b*", "[ab]a"];
const NAMES: &[&str] = &["", "a", "b", "ab", "ba", "aab", "abb", "bab", "aa"];
const PATH_PATTERNS: &[&str] = &[
    "src/**", "src/*.rs", "*.rs", "docs", "**/x.md", "**", "src", "d?cs/*",
];
const PATHS: &[&str] = &[
    "src/a.rs",
    "src/b/c.rs",
    "docs/x.md",
    "x.md",
    "a.rs",
    "docs/y.txt",
    "src/x.md",
    "dacs/q",
];
const DIGESTS: &[&str] = &[
    "1111111111111111111111111111111111111111111111111111111111111111",
    "2222222222222222222222222222222222222222222222222222222222222222",
    "3333333333333333333333333333333333333333333333333333333333333333",
];
const PLUGINS: &[&str] = &["p", "q"];

#[derive(Debug, Clone)]
struct Rule {
    caps: Option<Vec<Capability>>,
    providers: Option<Vec<Provider>>,
    models: Option<Vec<&'static str>>,
    regions: Option<Vec<&'static str>>,
    read: Option<Vec<&'static str>>,
    memory_mib: Option<u64>,
    requests_per_minute: Option<u64>,
    pins: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
struct GenLayer {
    star: Option<Rule>,
    /// The table of plugin `p`.
    named: Option<Rule>,
}

fn subset<T: Clone + std::fmt::Debug + 'static>(
    items: &'static [T],
) -> impl Strategy<Value = Vec<T>> {
    proptest::collection::vec(any::<bool>(), items.len()).prop_map(move |mask| {
        items
            .iter()
            .zip(mask)
            .filter(|(_, m)| *m)
            .map(|(i, _)| i.clone())
            .collect()
    })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::of(subset(&Capability::ALL)),
        proptest::option::of(subset(&Provider::ALL)),
        proptest::option::of(subset(NAME_PATTERNS)),
        proptest::option::of(subset(NAME_PATTERNS)),
        proptest::option::of(subset(PATH_PATTERNS)),
        proptest::option::of(1u64..100),
        proptest::option::of(0u64..100),
        proptest::option::weighted(0.3, subset(DIGESTS)),
    )
        .prop_map(
            |(caps, providers, models, regions, read, memory_mib, requests_per_minute, pins)| {
                Rule {
                    caps,
                    providers,
                    models,
                    regions,
                    read,
                    memory_mib,
                    requests_per_minute,
                    pins,
                }
            },
        )
}

fn gen_layer() -> impl Strategy<Value = GenLayer> {
    (
        proptest::option::weighted(0.8, rule()),
        proptest::option::weighted(0.5, rule()),
    )
        .prop_map(|(star, named)| GenLayer { star, named })
}

fn list<T: AsRef<str>>(items: &[T]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{:?}", i.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

fn render_rule(out: &mut String, table: &str, r: &Rule) {
    writeln!(out, "[plugins.{table}]").unwrap();
    if let Some(c) = &r.caps {
        writeln!(
            out,
            "capabilities = {}",
            list(&c.iter().map(|c| c.as_str()).collect::<Vec<_>>())
        )
        .unwrap();
    }
    if let Some(p) = &r.providers {
        writeln!(
            out,
            "providers = {}",
            list(&p.iter().map(|p| p.as_str()).collect::<Vec<_>>())
        )
        .unwrap();
    }
    if let Some(m) = &r.models {
        writeln!(out, "models = {}", list(m)).unwrap();
    }
    if let Some(m) = &r.regions {
        writeln!(out, "regions = {}", list(m)).unwrap();
    }
    if let Some(m) = &r.read {
        writeln!(out, "workspace_read = {}", list(m)).unwrap();
    }
    if let Some(v) = r.memory_mib {
        writeln!(out, "memory_mib = {v}").unwrap();
    }
    if let Some(v) = r.requests_per_minute {
        writeln!(out, "requests_per_minute = {v}").unwrap();
    }
    if let Some(m) = &r.pins {
        writeln!(out, "sha256 = {}", list(m)).unwrap();
    }
}

fn render(l: &GenLayer) -> String {
    let mut out = String::new();
    if let Some(r) = &l.star {
        render_rule(&mut out, "\"*\"", r);
    }
    if let Some(r) = &l.named {
        render_rule(&mut out, "p", r);
    }
    out
}

// ---- The independent model of the rules. ----

/// `[plugins.p].key` if set, else `[plugins."*"].key`.
fn resolve<T: Clone>(l: &GenLayer, plugin: &str, key: impl Fn(&Rule) -> Option<T>) -> Option<T> {
    let named = if plugin == "p" {
        l.named.as_ref().and_then(&key)
    } else {
        None
    };
    named.or_else(|| l.star.as_ref().and_then(&key))
}

/// Every constraining layer's value, with its index.
fn sets<T: Clone>(
    layers: &[GenLayer],
    plugin: &str,
    key: impl Fn(&Rule) -> Option<T>,
) -> Vec<(usize, T)> {
    layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| resolve(l, plugin, &key).map(|v| (i, v)))
        .collect()
}

/// `*` any run, `?` one character, `[ab]` a class.
fn wild(pattern: &[u8], s: &[u8]) -> bool {
    match pattern.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wild(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && wild(rest, &s[1..]),
        Some((b'[', rest)) => {
            let close = rest.iter().position(|&b| b == b']').unwrap();
            !s.is_empty() && rest[..close].contains(&s[0]) && wild(&rest[close + 1..], &s[1..])
        }
        Some((c, rest)) => s.first() == Some(c) && wild(rest, &s[1..]),
    }
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| segments_match(rest, &path[i..])),
        Some((seg, rest)) => {
            !path.is_empty()
                && wild(seg.as_bytes(), path[0].as_bytes())
                && segments_match(rest, &path[1..])
        }
    }
}

/// Path pattern semantics: no `/` means any depth; a match on a folder
/// covers its content.
fn path_match(pattern: &str, path: &str) -> bool {
    let full = if pattern.contains('/') {
        pattern.to_owned()
    } else {
        format!("**/{pattern}")
    };
    let pat: Vec<&str> = full.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    (1..=segs.len()).any(|n| segments_match(&pat, &segs[..n]))
}

fn capability_allowed(layers: &[GenLayer], plugin: &str, cap: Capability) -> (bool, Option<usize>) {
    let s = sets(layers, plugin, |r| r.caps.clone());
    let forbidding = s
        .iter()
        .find(|(_, set)| !set.contains(&cap))
        .map(|(i, _)| *i);
    (!s.is_empty() && forbidding.is_none(), forbidding)
}

fn narrow_ok<T: Clone>(
    layers: &[GenLayer],
    plugin: &str,
    key: impl Fn(&Rule) -> Option<T>,
    ok: impl Fn(&T) -> bool,
) -> bool {
    sets(layers, plugin, key).iter().all(|(_, v)| ok(v))
}

fn model_allowed(
    layers: &[GenLayer],
    plugin: &str,
    provider: Provider,
    model: &str,
    region: Option<&str>,
) -> bool {
    capability_allowed(layers, plugin, Capability::Model).0
        && narrow_ok(
            layers,
            plugin,
            |r| r.providers.clone(),
            |set| set.contains(&provider),
        )
        && narrow_ok(
            layers,
            plugin,
            |r| r.models.clone(),
            |pats| pats.iter().any(|p| wild(p.as_bytes(), model.as_bytes())),
        )
        && (provider == Provider::Local
            || narrow_ok(
                layers,
                plugin,
                |r| r.regions.clone(),
                |pats| {
                    // Only Bedrock requests have regions; others are denied
                    // under any `regions` rule.
                    provider == Provider::Bedrock
                        && region.is_some_and(|reg| {
                            pats.iter().any(|p| wild(p.as_bytes(), reg.as_bytes()))
                        })
                },
            ))
}

fn read_allowed(layers: &[GenLayer], plugin: &str, path: &str) -> bool {
    capability_allowed(layers, plugin, Capability::WorkspaceRead).0
        && narrow_ok(
            layers,
            plugin,
            |r| r.read.clone(),
            |pats| pats.iter().any(|p| path_match(p, path)),
        )
}

fn effective(layers: &[GenLayer]) -> Effective {
    let parsed = layers
        .iter()
        .zip(Layer::ALL)
        .map(|(l, layer)| {
            let text = render(l);
            parse_layer(layer, Path::new("/policy.toml"), &text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"))
        })
        .collect();
    Effective::from_layers(parsed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn effective_policy_is_the_intersection_of_layers(layers in proptest::collection::vec(gen_layer(), 1..=3)) {
        let e = effective(&layers);
        for &plugin in PLUGINS {
            for cap in Capability::ALL {
                let d = e.allows_capability(plugin, cap);
                let (allowed, forbidding) = capability_allowed(&layers, plugin, cap);
                prop_assert_eq!(d.allowed, allowed, "{} {} {:?}", plugin, cap, d);
                // Never allowed if a constraining layer leaves it out.
                for (_, set) in sets(&layers, plugin, |r| r.caps.clone()) {
                    prop_assert!(!d.allowed || set.contains(&cap));
                }
                // A denial names the highest layer that forbids it.
                if !d.allowed {
                    prop_assert_eq!(d.layer, forbidding.map(|i| Layer::ALL[i]));
                }
            }
            for provider in Provider::ALL {
                for &model in NAMES {
                    for region in std::iter::once(None).chain(NAMES.iter().map(|n| Some(*n))) {
                        let d = e.allows_model(plugin, provider.as_str(), "b", model, region);
                        let expected = model_allowed(&layers, plugin, provider, model, region);
                        prop_assert_eq!(d.allowed, expected, "{} {} {} {:?}: {}", plugin, provider, model, region, d.reason);
                        if d.allowed {
                            for (_, pats) in sets(&layers, plugin, |r| r.models.clone()) {
                                prop_assert!(pats.iter().any(|p| wild(p.as_bytes(), model.as_bytes())));
                            }
                        }
                    }
                }
            }
            for &path in PATHS {
                let d = e.allows_read(plugin, path);
                prop_assert_eq!(d.allowed, read_allowed(&layers, plugin, path), "{} {}: {}", plugin, path, d.reason);
            }
            for &digest in DIGESTS {
                let d = e.allows_digest(plugin, digest);
                let expected = narrow_ok(&layers, plugin, |r| r.pins.clone(), |set| set.contains(&digest));
                prop_assert_eq!(d.allowed, expected);
            }
            let limits = e.limits(plugin);
            let mem: Vec<u64> = sets(&layers, plugin, |r| r.memory_mib).into_iter().map(|(_, v)| v).collect();
            let rpm: Vec<u64> = sets(&layers, plugin, |r| r.requests_per_minute).into_iter().map(|(_, v)| v).collect();
            prop_assert_eq!(limits.memory_mib, mem.iter().copied().min());
            prop_assert_eq!(limits.requests_per_minute, rpm.iter().copied().min());
            for v in mem {
                prop_assert!(limits.memory_mib.unwrap() <= v);
            }
            // explain agrees with the queries.
            let x = e.explain(plugin);
            for cap in Capability::ALL {
                let g = x.grants.iter().find(|g| g.grant == format!("capability {cap}")).unwrap();
                prop_assert_eq!(g.allowed, Some(e.allows_capability(plugin, cap).allowed));
            }
        }
    }

    #[test]
    fn adding_a_lower_layer_never_allows_what_a_constraining_layer_forbids(
        higher in gen_layer(),
        lower in gen_layer(),
    ) {
        let alone = effective(std::slice::from_ref(&higher));
        let both = effective(&[higher.clone(), lower]);
        for &plugin in PLUGINS {
            for cap in Capability::ALL {
                let constrains = resolve(&higher, plugin, |r| r.caps.clone()).is_some();
                if constrains && !alone.allows_capability(plugin, cap).allowed {
                    prop_assert!(!both.allows_capability(plugin, cap).allowed);
                }
            }
            for &path in PATHS {
                // The higher layer forbids the read if it withholds the
                // capability, or grants it with globs that miss the path.
                let forbids = match resolve(&higher, plugin, |r| r.caps.clone()) {
                    Some(caps) if !caps.contains(&Capability::WorkspaceRead) => true,
                    Some(_) => resolve(&higher, plugin, |r| r.read.clone()).is_some()
                        && !alone.allows_read(plugin, path).allowed,
                    None => resolve(&higher, plugin, |r| r.read.clone())
                        .is_some_and(|pats| !pats.iter().any(|p| path_match(p, path))),
                };
                if forbids {
                    prop_assert!(!both.allows_read(plugin, path).allowed, "{}", path);
                }
            }
            let (a, b) = (alone.limits(plugin), both.limits(plugin));
            if let Some(v) = a.memory_mib {
                prop_assert!(b.memory_mib.unwrap() <= v);
            }
        }
    }
}

#[test]
fn the_model_of_the_rules_matches_known_cases() {
    assert!(wild(b"a*", b"ab") && wild(b"*", b"") && !wild(b"?", b"") && wild(b"[ab]a", b"ba"));
    assert!(
        path_match("*.rs", "src/a.rs")
            && path_match("docs", "docs/x.md")
            && !path_match("src/*.rs", "src/b/c.rs")
    );
    assert!(path_match("**/x.md", "x.md") && path_match("d?cs/*", "dacs/q"));
}
