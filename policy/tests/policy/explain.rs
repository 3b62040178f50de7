//! `cordon policy explain`.

use cordon_policy::{Effective, Layer};

use crate::common::*;

fn grant<'a>(x: &'a cordon_policy::Explanation, name: &str) -> &'a cordon_policy::Grant {
    x.grants
        .iter()
        .find(|g| g.grant == name)
        .unwrap_or_else(|| panic!("no grant {name}"))
}

#[test]
fn explain_names_the_deciding_layer() {
    let e = effective(&[
        (Layer::Organisation, EXAMPLE),
        (
            Layer::User,
            "[plugins.completion]\ncapabilities = [\"model\", \"log\"]\nmemory_mib = 32\nmodels = [\"anthropic.claude-3-*\"]\n",
        ),
    ]);
    let x = e.explain("completion");
    assert!(x.configured);
    assert_eq!(x.layers.len(), 2);
    assert_eq!(
        x.layers[0].rule.as_deref(),
        Some("[plugins.completion] + [plugins.\"*\"]")
    );
    assert_eq!(x.layers[1].rule.as_deref(), Some("[plugins.completion]"));

    let model = grant(&x, "capability model");
    assert_eq!(
        (model.allowed, model.decided_by),
        (Some(true), Some(Layer::Organisation))
    );
    assert_eq!(
        model.allowed_by.as_ref().unwrap().table,
        "[plugins.completion]"
    );

    let read = grant(&x, "capability workspace.read");
    assert_eq!(
        (read.allowed, read.decided_by),
        (Some(false), Some(Layer::User))
    );
    assert_eq!(read.allowed_by.as_ref().unwrap().layer, Layer::Organisation);
    assert_eq!(read.narrowed_by.len(), 1);
    assert_eq!(read.narrowed_by[0].layer, Layer::User);
    assert_eq!(read.narrowed_by[0].value, "model, log");

    let openai = grant(&x, "provider openai");
    assert_eq!(
        (openai.allowed, openai.decided_by),
        (Some(false), Some(Layer::Organisation))
    );
    assert_eq!(openai.narrowed_by[0].table, "[plugins.\"*\"]");

    let mem = grant(&x, "limit memory_mib");
    assert_eq!(mem.effective, "32");
    assert_eq!(mem.decided_by, Some(Layer::User));
    assert_eq!(mem.allowed_by.as_ref().unwrap().value, "64");
    let rpm = grant(&x, "limit requests_per_minute");
    assert_eq!(
        (rpm.effective.as_str(), rpm.decided_by),
        ("60", Some(Layer::Organisation))
    );

    let models = grant(&x, "models");
    assert_eq!(models.decided_by, Some(Layer::User));
    assert!(
        models.effective.contains("anthropic.claude-*")
            && models.effective.contains("anthropic.claude-3-*"),
        "{}",
        models.effective
    );

    let pins = grant(&x, "sha256");
    assert_eq!(pins.effective, format!("only: {DIGEST}"));
    assert_eq!(
        grant(&x, "regions").effective,
        "matching: us-east-1, us-west-2"
    );
    assert_eq!(grant(&x, "backends").decided_by, Some(Layer::Organisation));

    let table = x.to_string();
    for needle in [
        "Policy for plugin `completion`",
        "GRANT",
        "DECIDED BY",
        "NARROWED BY",
        "capability workspace.read",
        "user [plugins.completion] = model, log",
        "/test/organisation/policy.toml",
        "Content exclusion: **/.env (organisation)",
        "Secret redaction: on",
        "Audit log: /test/organisation/audit.jsonl (organisation)",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }

    let json = serde_json::to_value(&x).unwrap();
    assert_eq!(json["plugin"], "completion");
    let first = &json["grants"][1];
    assert_eq!(first["grant"], "capability workspace.read");
    assert_eq!(first["decided_by"], "user");
    assert_eq!(first["narrowed_by"][0]["layer"], "user");
}

#[test]
fn explain_deny_by_default_and_unconstrained() {
    let e = effective(&[(Layer::User, "[plugins.other]\ncapabilities = [\"log\"]\n")]);
    let x = e.explain("mine");
    assert_eq!(x.layers[0].rule, None);
    let log = grant(&x, "capability log");
    assert_eq!(log.allowed, Some(false));
    assert_eq!(log.decided_by, None);
    assert_eq!(log.effective, "denied (no layer grants it)");
    assert_eq!(
        grant(&x, "provider openai").effective,
        "allowed (not narrowed)"
    );
    assert_eq!(grant(&x, "models").effective, "any (not narrowed)");
    assert_eq!(grant(&x, "limit cpu_ms").effective, "not limited by policy");
    assert_eq!(grant(&x, "sha256").effective, "any build (not pinned)");
    assert!(x.to_string().contains("no rule for this plugin"));
}

#[test]
fn explain_without_policy() {
    let x = Effective::default().explain("completion");
    assert!(!x.configured);
    assert!(x.to_string().contains("host's defaults apply"), "{x}");
}

#[test]
fn explain_disjoint_pins() {
    let e = effective(&[
        (
            Layer::Organisation,
            &format!("[plugins.x]\nsha256 = [\"{DIGEST}\"]\n"),
        ),
        (
            Layer::User,
            &format!("[plugins.x]\nsha256 = [\"{OTHER_DIGEST}\"]\n"),
        ),
    ]);
    let x = e.explain("x");
    let pins = grant(&x, "sha256");
    assert!(pins.effective.starts_with("no build"), "{}", pins.effective);
    assert_eq!(pins.narrowed_by[0].layer, Layer::User);
}

/// `cordon policy explain` and the gate's decisions come from the same
/// query: for every capability, plugin and layering, they agree.
#[test]
fn explain_and_behaviour_agree_for_every_capability() {
    let tables: &[&[(Layer, &str, bool)]] = &[
        &[],
        &[(Layer::Organisation, EXAMPLE, false)],
        &[(
            Layer::Workspace,
            "[plugins.\"*\"]\ncapabilities = [\"model\", \"log\"]\n",
            true,
        )],
        &[(
            Layer::Workspace,
            "[plugins.\"*\"]\ncapabilities = [\"model\", \"log\"]\n",
            false,
        )],
        &[
            (
                Layer::Organisation,
                "[plugins.\"*\"]\ncapabilities = [\"log\", \"model\"]\n",
                false,
            ),
            (
                Layer::User,
                "[plugins.x]\ncapabilities = [\"log\"]\n",
                false,
            ),
        ],
        &[(Layer::User, "[plugins.x]\ncapabilities = []\n", false)],
    ];
    for layers in tables {
        let parsed = layers
            .iter()
            .map(|(l, t, narrow)| {
                let mut p = layer(*l, t);
                p.set_narrow_only(*narrow);
                p
            })
            .collect();
        let e = Effective::from_layers(parsed).with_builtin_defaults(&["completion"]);
        for plugin in ["completion", "x", "other"] {
            let x = e.explain(plugin);
            for capability in cordon_policy::Capability::ALL {
                let shown = grant(&x, &format!("capability {capability}")).allowed;
                let done = e.allows_capability(plugin, capability).allowed;
                assert_eq!(shown, Some(done), "{layers:?} {plugin} {capability}");
            }
        }
    }
}
