//! A repository's policy is untrusted input: it narrows, never grants, until
//! the user trusts the workspace; the installed organisation policy cannot
//! be displaced; the built-in defaults are a layer of the policy.

use std::ffi::OsString;
use std::path::Path;

use cordon_policy::{Capability, Effective, Layer, Sources, load_sources};

const FIRST_PARTY: &[&str] = &["completion", "refactor", "explain"];

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The effective policy of a fixture: `system/` (the installation), `ws/`
/// (the workspace), `home/` (the user), with `vars` as the environment.
fn load(root: &Path, trusted: bool, vars: &[(&str, &str)]) -> Result<Effective, String> {
    let home = root.join("home");
    let env = |name: &str| -> Option<OsString> {
        if name == "HOME" {
            return Some(home.clone().into_os_string());
        }
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| OsString::from(v))
    };
    let sources = Sources::with(env, &root.join("system"), Some(&root.join("ws")), trusted);
    load_sources(&sources, FIRST_PARTY).map_err(|e| e.to_string())
}

const GREEDY: &str = r#"
[plugins.evil]
capabilities = ["model", "workspace.read", "log"]
[plugins.completion]
capabilities = ["model", "workspace.read", "log"]
[content]
redact_secrets = false
[audit]
path = "audit.jsonl"
"#;

#[test]
fn an_untrusted_workspace_grants_nothing_and_keeps_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ws/.cordon/policy.toml", GREEDY);
    let e = load(dir.path(), false, &[]).unwrap();
    assert!(e.uses_builtin_defaults());
    let d = e.allows_capability("evil", Capability::Model);
    assert!(!d.allowed, "{d}");
    assert!(
        !e.allows_capability("evil", Capability::WorkspaceRead)
            .allowed
    );
    assert!(e.allows_capability("evil", Capability::Log).allowed);
    // The built-in plugins keep their defaults, granted by the defaults.
    let d = e.allows_capability("completion", Capability::Model);
    assert!(d.allowed, "{d}");
    assert_eq!(d.layer, Some(Layer::Builtin));
    // Redaction stays on and the repository's audit log is not written.
    assert!(e.redact_secrets());
    assert!(e.audit_sinks().is_empty());
    assert!(
        e.warnings().iter().any(|w| w.contains("cordon trust")),
        "{:?}",
        e.warnings()
    );
}

#[test]
fn an_untrusted_workspace_may_still_narrow() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ws/.cordon/policy.toml",
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\n[content]\nexclude = [\"secret/**\"]\n",
    );
    let e = load(dir.path(), false, &[]).unwrap();
    let d = e.allows_capability("completion", Capability::Model);
    assert!(!d.allowed);
    assert_eq!(d.layer, Some(Layer::Workspace));
    assert!(e.is_excluded("secret/a.rs").is_some());
}

#[test]
fn a_trusted_workspace_grants_but_never_turns_redaction_off() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ws/.cordon/policy.toml", GREEDY);
    let e = load(dir.path(), true, &[]).unwrap();
    assert!(!e.uses_builtin_defaults());
    assert!(e.allows_capability("evil", Capability::Model).allowed);
    assert!(e.redact_secrets());
    // Its audit log stays inside its own state folder.
    let sinks = e.audit_sinks();
    assert_eq!(sinks.len(), 1);
    assert!(
        sinks[0].path.ends_with(".cordon/state/audit.jsonl"),
        "{:?}",
        sinks[0].path
    );
}

#[test]
fn a_workspace_audit_path_cannot_leave_its_state_folder() {
    let dir = tempfile::tempdir().unwrap();
    for path in [
        "/dev/stdout",
        "../../home/.config/cordon/cordon.toml",
        "../x.jsonl",
    ] {
        write(
            dir.path(),
            "ws/.cordon/policy.toml",
            &format!("[audit]\npath = \"{path}\"\n"),
        );
        let err = load(dir.path(), true, &[]).unwrap_err();
        assert!(err.contains(".cordon/state/"), "{path}: {err}");
    }
}

#[test]
fn the_installed_organisation_policy_is_not_displaced_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "system/policy.toml",
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\n",
    );
    let lax = dir.path().join("lax.toml");
    std::fs::write(
        &lax,
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"workspace.read\", \"log\"]\n[plugins.evil]\ncapabilities = [\"model\"]\n",
    )
    .unwrap();
    let e = load(
        dir.path(),
        false,
        &[("CORDON_ORG_POLICY", lax.to_str().unwrap())],
    )
    .unwrap();
    // The override only adds a narrowing layer: nothing it lists is granted.
    assert!(!e.allows_capability("evil", Capability::Model).allowed);
    assert!(!e.allows_capability("completion", Capability::Model).allowed);
    assert!(e.allows_capability("completion", Capability::Log).allowed);
    // Without a system file, the variable names the organisation layer.
    std::fs::remove_file(dir.path().join("system/policy.toml")).unwrap();
    let e = load(
        dir.path(),
        false,
        &[("CORDON_ORG_POLICY", lax.to_str().unwrap())],
    )
    .unwrap();
    assert!(e.allows_capability("completion", Capability::Model).allowed);
}

#[test]
fn a_required_organisation_policy_fails_closed_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "system/policy-required", "");
    let err = load(dir.path(), false, &[]).unwrap_err();
    assert!(
        err.contains("requires an organisation policy") && err.contains("system/policy.toml"),
        "{err}"
    );
    // Also when only the environment asks for it.
    std::fs::remove_file(dir.path().join("system/policy-required")).unwrap();
    let err = load(dir.path(), false, &[("CORDON_REQUIRE_ORG_POLICY", "1")]).unwrap_err();
    assert!(err.contains("CORDON_REQUIRE_ORG_POLICY"), "{err}");
    write(
        dir.path(),
        "system/policy.toml",
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\n",
    );
    assert!(load(dir.path(), false, &[("CORDON_REQUIRE_ORG_POLICY", "1")]).is_ok());
}

#[test]
fn the_organisation_can_forbid_trusting_workspaces_and_their_plugins() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "system/policy.toml",
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\n[workspaces]\nallow_trust = false\nallow_plugins = false\n",
    );
    let e = load(dir.path(), false, &[]).unwrap();
    let d = e.allows_workspace_trust();
    assert!(!d.allowed && d.reason.contains("organisation"), "{d}");
    assert!(!e.allows_workspace_plugins().allowed);
    std::fs::write(
        dir.path().join("system/policy.toml"),
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\n",
    )
    .unwrap();
    let e = load(dir.path(), false, &[]).unwrap();
    assert!(e.allows_workspace_trust().allowed);
}

#[test]
fn the_defaults_give_way_to_any_granting_layer() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path(), false, &[]).unwrap();
    assert!(e.uses_builtin_defaults());
    assert!(!e.is_configured());
    assert!(
        e.allows_capability("explain", Capability::WorkspaceRead)
            .allowed
    );
    assert!(!e.allows_capability("third", Capability::Model).allowed);
    write(
        dir.path(),
        "home/.config/cordon/policy.toml",
        "[plugins.third]\ncapabilities = [\"model\"]\n",
    );
    let e = load(dir.path(), false, &[]).unwrap();
    assert!(!e.uses_builtin_defaults());
    assert!(e.allows_capability("third", Capability::Model).allowed);
    // Deny by default once a policy exists.
    assert!(!e.allows_capability("explain", Capability::Model).allowed);
}
