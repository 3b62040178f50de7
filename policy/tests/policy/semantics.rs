//! How layers combine, and the gate's queries.

use cordon_policy::{Capability, Effective, Layer, Limits};

use crate::common::*;

const ORG: Layer = Layer::Organisation;
const WS: Layer = Layer::Workspace;
const USER: Layer = Layer::User;

#[test]
fn without_a_policy_the_host_decides() {
    let e = Effective::default();
    assert!(!e.is_configured());
    let d = e.allows_capability("completion", Capability::Model);
    assert!(!d.allowed);
    assert_eq!(d.layer, None);
    assert!(d.reason.contains("host's defaults"), "{d}");
    assert_eq!(e.is_excluded(".env"), None);
    assert!(e.redact_secrets(), "redaction is on by default");
    assert_eq!(e.limits("completion"), Limits::default());
    assert!(e.allows_digest("completion", DIGEST).allowed);
    assert!(e.audit_sinks().is_empty());
    assert!(e.warnings().is_empty());
}

#[test]
fn the_briefs_example() {
    let e = effective(&[(ORG, EXAMPLE)]);
    // Third-party plugin: model and log, no workspace.
    assert!(e.allows_capability("thirdparty", Capability::Model).allowed);
    assert!(e.allows_capability("thirdparty", Capability::Log).allowed);
    let d = e.allows_capability("thirdparty", Capability::WorkspaceRead);
    assert!(!d.allowed);
    assert_eq!(d.layer, Some(ORG));
    assert_eq!(
        d.reason,
        "denied by the organisation policy (/test/organisation/policy.toml) [plugins.\"*\"]: plugin `thirdparty` may not use capability `workspace.read` (it allows: model, log)"
    );
    assert!(!e.allows_read("thirdparty", "src/main.rs").allowed);

    // completion reads src/** only, never excluded content.
    assert!(e.allows_read("completion", "src/main.rs").allowed);
    let d = e.allows_read("completion", "docs/guide.md");
    assert!(!d.allowed);
    assert!(
        d.reason.contains("workspace_read") && d.reason.contains("src/**"),
        "{d}"
    );
    let d = e.allows_read("completion", "src/.env");
    assert!(!d.allowed);
    assert!(
        d.reason.starts_with("excluded by the organisation policy"),
        "{d}"
    );

    // Models: Claude on Bedrock in two US regions, or the local model.
    let ok = e.allows_model(
        "completion",
        "bedrock",
        "claude-bedrock",
        "anthropic.claude-3-haiku",
        Some("us-east-1"),
    );
    assert!(ok.allowed, "{ok}");
    assert_eq!(ok.layer, Some(ORG));
    assert!(
        e.allows_model("thirdparty", "local", "local", "local", None)
            .allowed
    );
    let cases = [
        (
            "openai",
            "claude-bedrock",
            "anthropic.claude-3",
            Some("us-east-1"),
            "provider `openai`",
        ),
        (
            "bedrock",
            "other-bedrock",
            "anthropic.claude-3",
            Some("us-east-1"),
            "backend `other-bedrock`",
        ),
        (
            "bedrock",
            "claude-bedrock",
            "meta.llama3",
            Some("us-east-1"),
            "model `meta.llama3`",
        ),
        (
            "bedrock",
            "claude-bedrock",
            "anthropic.claude-3",
            Some("eu-west-1"),
            "region `eu-west-1`",
        ),
        (
            "bedrock",
            "claude-bedrock",
            "anthropic.claude-3",
            None,
            "without a region",
        ),
        (
            "azure",
            "claude-bedrock",
            "anthropic.claude-3",
            Some("us-east-1"),
            "provider `azure`",
        ),
    ];
    for (provider, backend, model, region, what) in cases {
        let d = e.allows_model("completion", provider, backend, model, region);
        assert!(!d.allowed, "{provider} {backend} {model} {region:?}");
        assert!(d.reason.contains(what), "{d}");
    }
    let d = e.allows_model(
        "completion",
        "bedrock",
        "claude-bedrock",
        "meta.llama3",
        Some("us-east-1"),
    );
    assert_eq!(d.layer, Some(ORG));
    assert!(
        d.reason.contains("(it allows: anthropic.claude-*, local)"),
        "{d}"
    );

    // Limits: completion's own plus the default's, key by key.
    let l = e.limits("completion");
    assert_eq!(
        l,
        Limits {
            memory_mib: Some(64),
            cpu_ms: Some(100),
            output_kib: Some(256),
            max_output_tokens: Some(1024),
            requests_per_minute: Some(60),
            tokens_per_day: Some(200_000),
        }
    );
    assert_eq!(e.limits("thirdparty").memory_mib, None);

    // Pins apply to completion only.
    assert!(e.allows_digest("completion", DIGEST).allowed);
    let d = e.allows_digest("completion", OTHER_DIGEST);
    assert!(!d.allowed);
    assert!(
        d.reason.contains("is not pinned") && d.reason.contains("sha256:fedcba987654"),
        "{d}"
    );
    assert!(
        !d.reason.contains(OTHER_DIGEST),
        "digests are shortened in messages"
    );
    assert!(e.allows_digest("thirdparty", OTHER_DIGEST).allowed);

    let sinks = e.audit_sinks();
    assert_eq!(sinks.len(), 1);
    assert_eq!(
        sinks[0].path,
        std::path::PathBuf::from("/test/organisation/audit.jsonl")
    );
}

#[test]
fn a_named_table_falls_back_to_the_default_key_by_key() {
    let e = effective(&[(ORG, EXAMPLE)]);
    // completion's table has no `providers`: the default's list applies.
    assert!(
        !e.allows_model(
            "completion",
            "openai",
            "claude-bedrock",
            "anthropic.claude-3",
            Some("us-east-1")
        )
        .allowed
    );
    // ...but its own capabilities replace the default's.
    assert!(
        e.allows_capability("completion", Capability::WorkspaceRead)
            .allowed
    );
}

#[test]
fn deny_by_default_once_any_layer_exists() {
    let e = effective(&[(USER, "[content]\nexclude = [\"x\"]\n")]);
    assert!(e.is_configured());
    for capability in Capability::ALL {
        let d = e.allows_capability("completion", capability);
        assert!(!d.allowed);
        assert_eq!(d.layer, None);
        assert!(d.reason.contains("deny by default"), "{d}");
        assert!(d.reason.contains("[plugins.completion]"), "{d}");
    }
    assert!(
        !e.allows_model("completion", "local", "local", "local", None)
            .allowed
    );
    assert!(
        e.warnings()[0].contains("no policy layer has a [plugins] table"),
        "{:?}",
        e.warnings()
    );

    // A layer that constrains only limits grants nothing either.
    let e = effective(&[(USER, "[plugins.\"*\"]\nmax_output_tokens = 10\n")]);
    assert!(!e.allows_capability("completion", Capability::Log).allowed);

    // An empty capability list grants nothing.
    let e = effective(&[(ORG, "[plugins.\"*\"]\ncapabilities = []\n")]);
    let d = e.allows_capability("completion", Capability::Log);
    assert!(!d.allowed);
    assert_eq!(d.layer, Some(ORG));
    assert!(d.reason.contains("(it allows: nothing)"), "{d}");
}

#[test]
fn a_lower_layer_narrows_but_never_widens() {
    let org = "[plugins.\"*\"]\ncapabilities = [\"model\", \"log\"]\nmodels = [\"anthropic.*\"]\nmemory_mib = 128\n";
    // The workspace grants more, the user takes some away.
    let ws = "[plugins.\"*\"]\ncapabilities = [\"model\", \"workspace.read\", \"log\"]\nmodels = [\"*\"]\nmemory_mib = 4096\n";
    let user = "[plugins.helper]\ncapabilities = [\"log\"]\nmemory_mib = 32\n";
    let e = effective(&[(USER, user), (ORG, org), (WS, ws)]);
    assert_eq!(
        e.layers().iter().map(|l| l.layer()).collect::<Vec<_>>(),
        [ORG, WS, USER]
    );

    let d = e.allows_capability("any", Capability::WorkspaceRead);
    assert!(!d.allowed, "the workspace cannot widen");
    assert_eq!(d.layer, Some(ORG));
    assert!(d.reason.contains("/test/organisation/policy.toml"), "{d}");
    assert!(
        !e.allows_model("any", "anthropic", "a", "gpt-4", None)
            .allowed,
        "models = [\"*\"] does not widen"
    );
    assert!(
        e.allows_model("any", "anthropic", "a", "anthropic.claude", None)
            .allowed
    );
    assert_eq!(e.limits("any").memory_mib, Some(128));

    let d = e.allows_capability("helper", Capability::Model);
    assert!(!d.allowed, "the user narrows");
    assert_eq!(d.layer, Some(USER));
    assert!(d.reason.contains("[plugins.helper]"), "{d}");
    assert_eq!(e.limits("helper").memory_mib, Some(32));
    let d = e.allows_capability("helper", Capability::Log);
    assert!(d.allowed);
    assert_eq!(d.layer, Some(ORG), "the highest granting layer is named");

    let warnings = e.warnings();
    assert!(
        warnings.iter().any(|w| w.contains("workspace policy")
            && w.contains("grants `workspace.read`")
            && w.contains("no effect")),
        "{warnings:?}"
    );
}

#[test]
fn qualifiers_not_set_anywhere_do_not_narrow() {
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"workspace.read\"]\n",
    )]);
    assert!(
        e.allows_model("x", "openai", "gpt", "gpt-4o", Some("anywhere"))
            .allowed
    );
    assert!(
        e.allows_model("x", "anthropic", "claude", "claude-sonnet", None)
            .allowed
    );
    assert!(e.allows_read("x", "any/file.txt").allowed);
    // A lower layer may set a qualifier the higher one left open.
    let e = effective(&[
        (ORG, "[plugins.\"*\"]\ncapabilities = [\"model\"]\n"),
        (USER, "[plugins.\"*\"]\nproviders = [\"local\"]\n"),
    ]);
    assert!(e.allows_model("x", "local", "local", "local", None).allowed);
    let d = e.allows_model("x", "openai", "gpt", "gpt-4o", None);
    assert_eq!(d.layer, Some(USER));
}

#[test]
fn regions_do_not_apply_to_the_local_provider() {
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\nregions = [\"us-*\"]\n",
    )]);
    assert!(e.allows_model("x", "local", "local", "local", None).allowed);
    assert!(
        e.allows_model("x", "bedrock", "b", "m", Some("us-west-2"))
            .allowed,
        "region globs"
    );
    assert!(
        !e.allows_model("x", "bedrock", "b", "m", Some("eu-west-1"))
            .allowed
    );
    assert!(!e.allows_model("x", "anthropic", "b", "m", None).allowed);
}

#[test]
fn model_requires_the_capability() {
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\nproviders = [\"local\"]\n",
    )]);
    let d = e.allows_model("x", "local", "local", "local", None);
    assert!(!d.allowed);
    assert!(d.reason.contains("capability `model`"), "{d}");
}

#[test]
fn limits_are_the_minimum_of_the_layers_that_set_them() {
    let e = effective(&[
        (
            ORG,
            "[plugins.\"*\"]\nrequests_per_minute = 60\ncpu_ms = 50\n",
        ),
        (
            WS,
            "[plugins.\"*\"]\nrequests_per_minute = 600\n[plugins.x]\ntokens_per_day = 10\n",
        ),
        (USER, "[plugins.x]\nrequests_per_minute = 6\ncpu_ms = 500\n"),
    ]);
    let l = e.limits("x");
    assert_eq!(l.requests_per_minute, Some(6));
    assert_eq!(l.cpu_ms, Some(50));
    assert_eq!(l.tokens_per_day, Some(10));
    assert_eq!(l.memory_mib, None);
    let l = e.limits("y");
    assert_eq!(l.requests_per_minute, Some(60));
    assert_eq!(l.tokens_per_day, None);
}

#[test]
fn pins_must_hold_in_every_layer_that_pins() {
    let e = effective(&[
        (
            ORG,
            &format!("[plugins.\"*\"]\nsha256 = [\"{DIGEST}\", \"{OTHER_DIGEST}\"]\n"),
        ),
        (
            USER,
            &format!("[plugins.x]\nsha256 = [\"{OTHER_DIGEST}\"]\n"),
        ),
    ]);
    assert!(e.allows_digest("y", DIGEST).allowed);
    assert!(e.allows_digest("y", OTHER_DIGEST).allowed);
    let d = e.allows_digest("x", DIGEST);
    assert!(!d.allowed);
    assert_eq!(d.layer, Some(USER));
    assert!(e.allows_digest("x", OTHER_DIGEST).allowed);
    let d = e.allows_digest("y", &"0".repeat(64));
    assert_eq!(d.layer, Some(ORG));
    // An empty pin list lets no build run.
    let e = effective(&[(ORG, "[plugins.x]\nsha256 = []\n")]);
    assert!(!e.allows_digest("x", DIGEST).allowed);
}

#[test]
fn redaction_is_on_unless_only_false_is_said() {
    let cases: &[(&[(Layer, &str)], bool)] = &[
        (&[(ORG, "")], true),
        (&[(ORG, "[content]\nredact_secrets = false\n")], false),
        (
            &[
                (ORG, "[content]\nredact_secrets = false\n"),
                (USER, "[content]\nredact_secrets = true\n"),
            ],
            true,
        ),
        (
            &[
                (WS, "[content]\nredact_secrets = true\n"),
                (USER, "[content]\nredact_secrets = false\n"),
            ],
            true,
        ),
        // A repository's policy can never turn redaction off, trusted or not.
        (
            &[
                (WS, "[content]\nredact_secrets = false\n"),
                (USER, "[content]\nexclude = []\n"),
            ],
            true,
        ),
        (&[(WS, "[content]\nredact_secrets = false\n")], true),
    ];
    for (layers, on) in cases {
        let e = effective(layers);
        assert_eq!(e.redact_secrets(), *on, "{layers:?}");
        assert_eq!(
            e.warnings().iter().any(|w| w.contains("redaction off")),
            layers.iter().any(|(l, t)| t.contains("false") && *l != WS)
        );
        assert_eq!(
            e.warnings().iter().any(|w| w.contains("is ignored")),
            layers.iter().any(|(l, t)| t.contains("false") && *l == WS)
        );
    }
}

#[test]
fn every_layer_may_name_an_audit_log() {
    let e = effective(&[
        (ORG, "[audit]\npath = \"/var/log/cordon.jsonl\"\n"),
        (USER, "[audit]\npath = \"logs/me.jsonl\"\nprompts = true\n"),
    ]);
    let sinks = e.audit_sinks();
    assert_eq!(sinks.len(), 2);
    assert_eq!((sinks[0].layer, sinks[0].prompts), (ORG, false));
    assert_eq!(
        sinks[1].path,
        std::path::PathBuf::from("/test/user/logs/me.jsonl")
    );
    assert!(sinks[1].prompts);
    assert!(
        e.warnings()
            .iter()
            .any(|w| w.contains("writes prompt text"))
    );
}

#[test]
fn reads_need_resolved_relative_paths() {
    let e = effective(&[(
        ORG,
        "[plugins.\"*\"]\ncapabilities = [\"workspace.read\"]\n",
    )]);
    for path in ["../etc/passwd", "/etc/passwd", "src/../../x"] {
        let d = e.allows_read("x", path);
        assert!(!d.allowed, "{path}");
        assert!(d.reason.contains("resolve"), "{d}");
    }
    assert!(e.allows_read("x", "./src/./main.rs").allowed);
}

#[test]
fn workspace_read_globs_intersect_across_layers() {
    let e = effective(&[
        (
            ORG,
            "[plugins.\"*\"]\ncapabilities = [\"workspace.read\"]\nworkspace_read = [\"src/**\", \"docs/**\"]\n",
        ),
        (
            USER,
            "[plugins.\"*\"]\nworkspace_read = [\"**/*.rs\", \"docs/*.md\"]\n",
        ),
    ]);
    assert!(e.allows_read("x", "src/a/b.rs").allowed);
    assert!(e.allows_read("x", "docs/a.md").allowed);
    let d = e.allows_read("x", "src/a/b.py");
    assert_eq!((d.allowed, d.layer), (false, Some(USER)));
    let d = e.allows_read("x", "tests/a.rs");
    assert_eq!((d.allowed, d.layer), (false, Some(ORG)));
}

#[test]
fn effective_policies_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Effective>();
    shareable::<cordon_policy::Decision>();
    let d = effective(&[(ORG, EXAMPLE)]).allows_capability("x", Capability::Model);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["allowed"], true);
    assert_eq!(json["layer"], "organisation");
}
